"""Print the Python requirements from pyproject.toml, one per line.

Usage: ``python scripts/requirements.py [EXTRA ...]``; used by setup.sh so
that pyproject.toml stays the single list of dependencies.
"""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads(
    (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
)["project"]
requirements = list(project["dependencies"])
for extra in sys.argv[1:]:
    requirements += project["optional-dependencies"][extra]
sys.stdout.write("\n".join(requirements) + "\n")

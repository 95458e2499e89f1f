"""Regenerate the configuration reference from `server.config.SCHEMA`.

Writes ``config/jingdi.example.toml`` and the table between the markers in
README.md. Run ``python scripts/config_docs.py`` after changing a setting;
tests/test_config.py fails while either is out of date.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.config import SCHEMA, markdown_table  # noqa: E402 - needs the path

BEGIN, END = "<!-- config table -->", "<!-- end of config table -->"


def example_toml() -> str:
    lines = [
        "# Jingdi configuration example. Copy it, change what you need, and start",
        "# with `python run.py --config path/to/jingdi.toml`. Every setting can also",
        "# be given as an environment variable JINGDI_<SECTION>_<KEY> (which wins).",
        "# The values below are the built-in defaults.",
        "",
    ]
    for section, items in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, setting in items.items():
            lines.append(f"# {setting.doc}")
            lines.append(f"{key} = {_toml(setting.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def readme_with_table(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"


if __name__ == "__main__":
    (ROOT / "config" / "jingdi.example.toml").write_text(example_toml())
    readme = ROOT / "README.md"
    readme.write_text(readme_with_table(readme.read_text()))

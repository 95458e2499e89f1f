"""Schemathesis against /api/openapi.json: no 5xx, every answer as documented.

Each test serves the platform in-process (`live_server`) and runs the
Schemathesis command line against it as a child process with every check
(``--checks all``). The child is awaited without blocking the event loop that
serves its requests, and any error the server logs fails the test as
everywhere else in the suite. Exceptions, each with its reason, live in
tests/schemathesis.toml.

Three callers: a staff account holding both the commander and the agency
admin roles, which together reach the widest part of the API, through every
phase (the document's examples, coverage, fuzzing, and stateful sequences
along the links Schemathesis infers from the document, with most valid
bodies of its creates made realistic by the hooks so that the sequences get
past the create); nobody signed in; and a citizen's device session.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

# Test cases per operation and phase: with the staff run's coverage phase
# (which adds the edge cases of every schema) the three runs take about two
# and a half minutes on two cores, and every operation still sees valid and
# invalid input. Generation is deterministic (no seed, no example database),
# so CI sends the same requests every time and a failure reproduces.
MAX_EXAMPLES = 15
# Callers who reach few operations: fewer cases, and no coverage phase, whose
# edge cases the staff run already sends to the same handlers.
LIGHT = ("--max-examples", "8", "--phases", "fuzzing,stateful")
# The staff caller's stateful phase: sequences along the links, so that what
# a create returns is read, changed and acted on by the operations that take
# its id. Here that is about 500 scenarios walking some 76 of the 281 links
# the document yields (POST /api/tasks → PATCH, cancel, roster.csv ...) in
# about a minute; the other callers create little, so they keep the default.
STATEFUL_SCENARIOS = 600
STATEFUL_STEPS = 10
# The whole run of one caller; a hang must fail the test, not stall CI.
RUN_TIMEOUT_S = 300

ST = Path(sys.executable).with_name("st")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config(config):
    """The suite's configuration, without the lock-out of failed logins.

    Schemathesis reuses account names it has read (GET /api/users) in the
    logins it generates, and all of them come from one address: the lock-out
    (tested in tests/test_auth.py) would soon refuse the run's own sign-in.
    """
    unlimited = 1_000_000
    return config.replace(
        security={
            "login_max_failures": unlimited,
            "login_max_failures_per_address": unlimited,
        }
    )


async def run_schemathesis(
    live_server,
    tmp_path: Path,
    identity: dict[str, str],
    *options: str,
    stateful_scenarios: int | None = None,
) -> None:
    """Run every check and phase of Schemathesis as ``identity``.

    ``identity`` holds the ``JINGDI_ST_*`` variables `tests.schemathesis_hooks`
    signs in with; ``options`` replace the default number of cases, and
    ``stateful_scenarios`` asks the stateful phase for that many (each up to
    `STATEFUL_STEPS` calls along the links).
    """
    config = (ROOT / "tests" / "schemathesis.toml").read_text()
    if stateful_scenarios is not None:
        config += (
            f"\n[phases.stateful]\nmax-steps = {STATEFUL_STEPS}\n"
            f"\n[phases.stateful.generation]\nmax-examples = {stateful_scenarios}\n"
        )
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    args = [
        str(ST),
        "--config-file",
        str(config_file),
        "run",
        f"{live_server.url}/api/openapi.json",
        "--checks",
        "all",
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        *(options or ("--max-examples", str(MAX_EXAMPLES))),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINGDI_")}
    env.update(identity, SCHEMATHESIS_HOOKS="tests.schemathesis_hooks", NO_COLOR="1")
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail("schemathesis did not finish in time")
    text = output.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(text)
    assert process.returncode == 0, text


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
async def test_anonymous_caller(live_server, tmp_path):
    # Nobody signed in, but with the XSRF token a page would hold, so that
    # state-changing requests reach the handlers instead of stopping at 403.
    client = live_server.client()
    status, _ = await client.get("/api/terms")
    assert status == 200
    xsrf = client.cookies["_xsrf"]
    await run_schemathesis(
        live_server,
        tmp_path,
        {},
        *LIGHT,
        "--header",
        f"Cookie: _xsrf={xsrf}",
        "--header",
        f"X-XSRFToken: {xsrf}",
    )


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
async def test_citizen_session(live_server, tmp_path):
    identity = {"JINGDI_ST_IDENTITY": "citizen"}
    await run_schemathesis(live_server, tmp_path, identity, *LIGHT)


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
async def test_commander_and_admin(live_server, tmp_path):
    username, password = await live_server.create_user(("commander", "admin"))
    identity = {
        "JINGDI_ST_IDENTITY": "staff",
        "JINGDI_ST_USERNAME": username,
        "JINGDI_ST_PASSWORD": password,
    }
    await run_schemathesis(
        live_server, tmp_path, identity, stateful_scenarios=STATEFUL_SCENARIOS
    )

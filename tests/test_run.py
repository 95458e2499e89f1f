"""``python run.py`` as an operator runs it: options, signals, restarts, bad config.

Each test starts run.py as a subprocess with its data directory under
``tmp_path`` and a free port. Its SecantusDB child is found through
``/proc/*/cmdline``: a ``secantus`` process whose ``--storage-path`` lies under
that data directory. All waits poll with generous deadlines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pymongo import MongoClient

import run
from server import config as config_module
from server.config import ROOT
from server.embedded import free_port
from tests.test_embedded import DEADLINE_S, port_closed, process_gone, wait_until

# Without proxies: a proxy configured in the environment must not see loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_health(port: int) -> tuple[int, dict] | None:
    """(status, JSON body) of /healthz, or None while nothing listens."""
    try:
        with _opener.open(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _cmdline(pid: str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _ppid(pid: str) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])


def database_children(under: Path) -> dict[int, list[str]]:
    """Live SecantusDB processes storing their data under ``under``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        args = _cmdline(entry.name)  # Empty for zombies: they count as gone.
        if "secantus" not in args or "--storage-path" not in args:
            continue
        storage = Path(args[args.index("--storage-path") + 1])
        if storage.is_relative_to(under) and not process_gone(int(entry.name)):
            found[int(entry.name)] = args
    return found


def secantus_children_of(pid: int) -> list[int]:
    """Live SecantusDB processes whose parent is ``pid``."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and _ppid(entry.name) == pid
        and "secantus" in _cmdline(entry.name)
    ]


class RunPy:
    """One run.py process and what it left in its temporary directory."""

    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str]):
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        self.stdout = tmp_path / f"stdout-{self.port}.txt"
        self.stderr = tmp_path / f"stderr-{self.port}.txt"
        if "--port" in args:
            self.port = int(args[args.index("--port") + 1])
        else:
            args = [*args, "--port", str(self.port)]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("JINGDI_")}
        full_env.update({"JINGDI_SERVER_DATA_DIR": str(self.data_dir), **env})
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "run.py"), *args],
                cwd=ROOT,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        return self.stdout.read_text() + self.stderr.read_text()

    def wait_healthy(self) -> dict:
        def healthy():
            if self.process.poll() is not None:
                pytest.fail(f"run.py exited early:\n{self.output()}")
            answer = get_health(self.port)
            return answer if answer and answer[0] == 200 else None

        return wait_until(healthy, "run.py to answer /healthz with 200")[1]

    def database(self) -> tuple[int, int]:
        """(pid, port) of the one embedded database of this platform."""
        children = database_children(self.data_dir)
        assert len(children) == 1, children
        [(pid, args)] = children.items()
        return pid, int(args[args.index("--port") + 1])

    def wait_exit(self) -> int:
        return self.process.wait(DEADLINE_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE_S)


@pytest.fixture
def launch(tmp_path):
    """Start run.py; whatever a test leaves running is killed afterwards."""
    started: list[RunPy] = []

    def start(*args: str, **env: str) -> RunPy:
        platform = RunPy(tmp_path, list(args), env)
        started.append(platform)
        return platform

    yield start
    for platform in started:
        platform.kill()
    for pid in database_children(tmp_path):
        os.kill(pid, signal.SIGKILL)


def test_defaults_to_port_8888_when_neither_option_nor_setting_says_otherwise():
    assert run.parse_args([]).port is None
    assert config_module.load(env={}).server.port == 8888


def test_serves_healthz_on_the_port_option_over_the_configured_port(launch):
    configured = free_port()
    platform = launch(JINGDI_SERVER_PORT=str(configured))

    body = platform.wait_healthy()

    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert platform.port != configured
    assert port_closed(configured)
    assert f"http://127.0.0.1:{platform.port}/" in platform.stdout.read_text()


def test_starts_the_embedded_database_under_the_data_dir(launch):
    platform = launch()
    platform.wait_healthy()

    pid, _ = platform.database()

    assert _ppid(str(pid)) == platform.process.pid
    assert (platform.data_dir / "db").is_dir()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_stop_signal_exits_0_and_stops_the_database(launch, sig):
    platform = launch()
    platform.wait_healthy()
    db_pid, db_port = platform.database()

    platform.process.send_signal(sig)

    assert platform.wait_exit() == 0, platform.output()
    assert process_gone(db_pid)
    assert port_closed(db_port)
    assert database_children(platform.data_dir) == {}


def test_sigterm_during_start_up_exits_0_and_stops_the_database(launch):
    platform = launch()
    children = wait_until(
        lambda: database_children(platform.data_dir), "the database child to appear"
    )

    platform.process.send_signal(signal.SIGTERM)

    assert platform.wait_exit() == 0, platform.output()
    for pid in children:
        wait_until(lambda pid=pid: process_gone(pid), "the database to exit")


def test_sigkill_of_run_py_leaves_no_orphan_database(launch):
    platform = launch()
    platform.wait_healthy()
    db_pid, db_port = platform.database()

    platform.process.kill()
    platform.wait_exit()

    wait_until(lambda: process_gone(db_pid), "the orphaned database to exit")
    wait_until(lambda: port_closed(db_port), "the database port to close")


def test_data_survives_a_restart(launch):
    first = launch()
    first.wait_healthy()
    _, db_port = first.database()
    client = MongoClient(f"mongodb://127.0.0.1:{db_port}/?directConnection=true")
    try:
        client.jingdi.restart_probe.insert_one({"_id": "kept", "n": 7})
    finally:
        client.close()
    first.process.send_signal(signal.SIGTERM)
    assert first.wait_exit() == 0, first.output()

    second = launch()
    second.wait_healthy()
    _, db_port = second.database()
    client = MongoClient(f"mongodb://127.0.0.1:{db_port}/?directConnection=true")
    try:
        assert client.jingdi.restart_probe.find_one({"_id": "kept"}) == {
            "_id": "kept",
            "n": 7,
        }
    finally:
        client.close()


def test_a_crashed_database_is_logged_and_fails_healthz_with_503(launch):
    platform = launch()
    platform.wait_healthy()
    db_pid, _ = platform.database()

    os.kill(db_pid, signal.SIGKILL)

    def degraded():
        answer = get_health(platform.port)
        return answer if answer and answer[0] == 503 else None

    _, body = wait_until(degraded, "/healthz to answer 503")
    assert body["status"] == "degraded"
    assert body["database"] not in ("", "ok")
    assert get_health(platform.port)[0] == 503
    platform.process.send_signal(signal.SIGTERM)
    assert platform.wait_exit() == 0, platform.output()
    crash_lines = [
        line
        for line in platform.stderr.read_text().splitlines()
        if "exited unexpectedly" in line
    ]
    assert len(crash_lines) == 1, platform.output()
    assert "ERROR" in crash_lines[0]
    assert str(db_pid) in crash_lines[0]


def test_a_configured_database_uri_starts_no_embedded_database(launch, mongo_uri):
    platform = launch(
        JINGDI_DATABASE_URI=mongo_uri, JINGDI_DATABASE_NAME="jingdi_test_run_uri"
    )

    body = platform.wait_healthy()

    assert body["database"] == "ok"
    assert secantus_children_of(platform.process.pid) == []
    assert database_children(platform.data_dir) == {}
    assert not (platform.data_dir / "db").exists()
    platform.process.send_signal(signal.SIGTERM)
    assert platform.wait_exit() == 0, platform.output()
    client = MongoClient(mongo_uri)
    try:
        client.drop_database("jingdi_test_run_uri")
    finally:
        client.close()


def _unknown_section(tmp_path: Path) -> tuple[list[str], dict, list[str]]:
    path = tmp_path / "jingdi.toml"
    path.write_text('[serverr]\nport = 9000\n\n[database]\nname = "x"\n')
    return ["--config", str(path)], {}, [str(path), "unknown section [serverr]"]


def _missing_file(tmp_path: Path) -> tuple[list[str], dict, list[str]]:
    path = tmp_path / "nowhere.toml"
    return ["--config", str(path)], {}, [str(path), "does not exist"]


@pytest.mark.parametrize(
    "case",
    [
        lambda tmp: (
            [],
            {"JINGDI_SERVER_PORT": "abc"},
            ["JINGDI_SERVER_PORT", "[server] port", "'abc'"],
        ),
        lambda tmp: ([], {"JINGDI_FOO_BAR": "1"}, ["JINGDI_FOO_BAR", "unknown"]),
        _unknown_section,
        _missing_file,
    ],
    ids=["ill-typed-env", "unknown-env", "unknown-section", "missing-config-file"],
)
def test_a_bad_configuration_exits_2_naming_the_setting_without_a_database(
    launch, tmp_path, case
):
    args, env, fragments = case(tmp_path)
    platform = launch(*args, **env)

    assert platform.wait_exit() == 2, platform.output()

    stderr = platform.stderr.read_text()
    assert stderr.startswith("configuration error: "), stderr
    for fragment in fragments:
        assert fragment in stderr
    assert "Traceback" not in stderr
    assert database_children(tmp_path) == {}
    assert not (platform.data_dir / "db").exists()

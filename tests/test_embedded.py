"""The embedded SecantusDB child: start, stop, persistence, crash reports, no orphans.

Every wait is a bounded poll with a generous deadline, never a timing assertion.
The helpers at the top are shared with ``test_run.py``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pymongo import MongoClient

from server.config import ROOT
from server.embedded import EmbeddedServer

DEADLINE_S = 60.0
CRASH_MESSAGE = "exited unexpectedly"


def wait_until(
    condition: Callable[[], object], what: str, deadline_s: float = DEADLINE_S
):
    """Poll ``condition`` until it returns something true; fail after the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited: no such process, or a zombie nobody reaped.

    PID 1 of a container does not always reap orphans, so a database that
    died after its parent may linger as a zombie: dead all the same.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = stat.rpartition(")")[2].split()[0]
    return state in ("Z", "X")


def port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


def ping(uri: str) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        return client.admin.command("ping").get("ok") == 1
    finally:
        client.close()


def crash_logs(collector) -> list[logging.LogRecord]:
    return [r for r in collector.records if CRASH_MESSAGE in r.getMessage()]


@pytest.fixture
def server(tmp_path):
    server = EmbeddedServer(tmp_path / "db")
    try:
        yield server
    finally:
        server.stop()


def test_start_answers_ping_and_stop_ends_the_process_and_frees_the_port(server):
    server.start()
    pid = server.process.pid
    assert server.alive
    assert ping(server.uri)

    server.stop()

    assert not server.alive
    assert server.process.returncode is not None
    assert process_gone(pid)
    assert port_closed(server.port)


def test_data_written_survives_stop_and_start_on_the_same_storage_path(tmp_path):
    first = EmbeddedServer(tmp_path / "db")
    first.start()
    try:
        client = MongoClient(first.uri)
        try:
            client.jingdi.probe.insert_one({"_id": "kept", "value": 42})
        finally:
            client.close()
    finally:
        first.stop()

    second = EmbeddedServer(tmp_path / "db")
    second.start()
    try:
        client = MongoClient(second.uri)
        try:
            assert client.jingdi.probe.find_one({"_id": "kept"}) == {
                "_id": "kept",
                "value": 42,
            }
        finally:
            client.close()
    finally:
        second.stop()


def test_check_is_false_and_logs_one_error_after_the_child_is_sigkilled(
    server, expect_errors, fail_on_error_logs
):
    expect_errors(CRASH_MESSAGE)
    server.start()
    assert server.check()

    os.kill(server.process.pid, signal.SIGKILL)
    wait_until(lambda: not server.check(), "check() to notice the crash")
    for _ in range(3):
        assert not server.check()

    records = crash_logs(fail_on_error_logs)
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert str(server.process.pid) in records[0].getMessage()


def test_a_requested_stop_is_not_reported_as_a_crash(server, fail_on_error_logs):
    server.start()
    server.stop()

    assert not server.check()
    assert crash_logs(fail_on_error_logs) == []


def test_a_restarted_server_reports_its_next_crash_again(
    server, expect_errors, fail_on_error_logs
):
    expect_errors(CRASH_MESSAGE)
    server.start()
    port = server.port
    os.kill(server.process.pid, signal.SIGKILL)
    wait_until(lambda: not server.check(), "check() to notice the first crash")

    server.start()
    assert server.port == port
    assert server.check()
    assert ping(server.uri)
    os.kill(server.process.pid, signal.SIGKILL)
    wait_until(lambda: not server.check(), "check() to notice the second crash")

    assert len(crash_logs(fail_on_error_logs)) == 2


def test_start_refuses_to_start_a_second_child_while_one_runs(server):
    server.start()
    pid = server.process.pid
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    assert server.process.pid == pid
    assert server.alive


_PARENT_SCRIPT = """
import sys, time
from pathlib import Path
from server.embedded import EmbeddedServer

storage, pid_file = sys.argv[1], Path(sys.argv[2])
server = EmbeddedServer(storage)
server.start()
pid_file.write_text(str(server.process.pid))
time.sleep(600)
"""


def test_the_child_exits_by_itself_when_its_parent_is_sigkilled(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _PARENT_SCRIPT,
            str(tmp_path / "db"),
            str(pid_file),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    child = None
    try:
        wait_until(
            lambda: parent.poll() is not None or pid_file.exists(),
            "the parent to start its database",
        )
        assert parent.poll() is None, "the parent script failed"
        child = int(wait_until(lambda: pid_file.read_text().strip(), "the pid"))
        assert not process_gone(child)

        parent.kill()
        parent.wait(DEADLINE_S)

        wait_until(lambda: process_gone(child), "the orphaned database to exit")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(DEADLINE_S)
        if child is not None and not process_gone(child):
            os.kill(child, signal.SIGKILL)

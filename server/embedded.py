"""The embedded database: SecantusDB run as a child process.

When no MongoDB URI is configured, the platform starts SecantusDB (a
MongoDB-wire-compatible server) on a free loopback port, waits until it answers
``ping`` and stops it on exit. It is always launched as a separate process and
never imported, so the platform talks to it exactly as it would to MongoDB.

On Linux the child is asked to receive SIGTERM when its parent dies, so even a
SIGKILLed platform leaves no orphan database behind. The kernel sends that
signal when the *thread* that forked the child ends, not the process, so
`EmbeddedServer.start` must be called from a thread that lives as long as the
process: `run.py` and the tests call it from the main thread.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

# SecantusDB answers ping within a few seconds of start on these machines; a slow
# disk or a cold WiredTiger cache can take longer, so allow generous headroom.
START_TIMEOUT_S = 60.0
# Graceful shutdown flushes WiredTiger; past this we kill it.
STOP_TIMEOUT_S = 15.0

_PR_SET_PDEATHSIG = 1


def _load_libc():
    # Loaded here, in the parent: dlopen() between fork and exec can deadlock
    # when another thread held the loader lock at the moment of the fork.
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """The ``preexec_fn`` that makes the child get SIGTERM when we die."""

    def preexec() -> None:  # pragma: no cover - runs in the child
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # If the parent died between fork and prctl, no signal will ever come.
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


# Servers still running at interpreter exit are stopped then (normal exits on
# platforms without PR_SET_PDEATHSIG, and owners that forgot to call stop()).
_running: weakref.WeakSet[EmbeddedServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """One SecantusDB child process serving a storage directory."""

    def __init__(self, storage_path: str | Path, port: int = 0):
        self.storage_path = str(storage_path)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self._crash_reported = False

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the child and return once it answers ``ping``.

        A stopped (or crashed) server may be started again, on the same port.
        """
        if self.alive:
            raise RuntimeError("embedded database is already running")
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            self.storage_path,
            "--log-level",
            "WARNING",
        ]
        started = time.monotonic()
        preexec = _die_with_parent(os.getpid()) if _LIBC is not None else None

        def popen() -> subprocess.Popen:
            # A session of its own: Ctrl-C in the terminal reaches the platform,
            # which then stops the database in order, rather than both at once.
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=preexec,
            )

        self.process = popen()
        self._crash_reported = False
        _running.add(self)
        log.info(
            "starting embedded database pid=%d port=%d", self.process.pid, self.port
        )
        self._wait_ready(started)
        log.info("embedded database ready in %.2fs", time.monotonic() - started)

    def _wait_ready(self, started: float) -> None:
        client = MongoClient(self.uri, serverSelectionTimeoutMS=500)
        try:
            while True:
                if self.process.poll() is not None:
                    self._crash_reported = True  # Reported by raising.
                    raise RuntimeError(
                        "embedded database exited with code "
                        f"{self.process.returncode} during start-up"
                    )
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() - started > START_TIMEOUT_S:
                        self.stop()
                        raise RuntimeError(
                            f"embedded database did not answer ping within "
                            f"{START_TIMEOUT_S:.0f}s"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def check(self) -> bool:
        """True while the child runs; logs its death once."""
        if self.alive:
            return True
        if self.process is not None and not self._crash_reported:
            self._crash_reported = True
            log.error(
                "embedded database pid=%d exited unexpectedly with code %s",
                self.process.pid,
                self.process.returncode,
            )
        return False

    def stop(self) -> None:
        """Stop the child: SIGTERM, then SIGKILL if it does not exit in time."""
        _running.discard(self)
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        self._crash_reported = True  # An exit we asked for is not a crash.
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("embedded database pid=%d ignored SIGTERM; killing", proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.info(
            "embedded database pid=%d stopped in %.2fs",
            proc.pid,
            time.monotonic() - started,
        )

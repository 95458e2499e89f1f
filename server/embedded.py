"""The embedded database: SecantusDB run as a child process.

When no MongoDB URI is configured, the platform starts SecantusDB (a
MongoDB-wire-compatible server) on a free loopback port, waits until it answers
``ping`` and stops it on exit. It is always launched as a separate process and
never imported, so the platform talks to it exactly as it would to MongoDB.

On Linux the child is asked to receive SIGTERM when its parent dies, so even a
SIGKILLed platform leaves no orphan database behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """In the child, before exec: get SIGTERM when the parent process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # Not Linux: stop() and the atexit hook still cover normal exits.


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
        """Start the child and return once it answers ``ping``."""
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
        # A session of its own: Ctrl-C in the terminal reaches the platform,
        # which then stops the database in order, rather than both at once.
        self.process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
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

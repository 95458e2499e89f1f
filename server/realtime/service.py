"""Whether the database answers, as every open socket and request sees it.

A websocket outlives a database outage: it needs the database only for its
handshake and for what its messages do. So while MongoDB is unreachable the
sockets stay open, and each is told ``{"type": "service", "status":
"degraded", "retry_after": 5}`` once when the outage is noticed and
``{"type": "service", "status": "ok"}`` once it is over; the pages show it
and keep their state. A socket opened meanwhile hears the status in its
``welcome``.

The watch pings the database every `INTERVAL_S`. While it has seen the
database down, HTTP handlers refuse at once with 503 and ``Retry-After``
instead of each waiting for the driver's server-selection timeout: on a
phone, a fast "try again in a moment" beats a spinner. A request that races
the recovery is refused for at most one interval; the next ping lifts it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from server.jsonutil import dumps_text
from server.realtime.timers import Periodic

log = logging.getLogger(__name__)

OK, DEGRADED = "ok", "degraded"
# Two seconds: an outage is noticed (and its end) within a couple of
# seconds, for one ping per interval, far below any real load.
INTERVAL_S = 2.0
# What clients are told to wait before trying again.
RETRY_AFTER_S = 5


class ServiceWatch:
    """Pings the database and tells every socket when its reachability changes."""

    def __init__(self, client, hub, interval_s: float = INTERVAL_S):
        self.client = client
        self.hub = hub
        self.interval_s = interval_s
        self.status = OK
        self.error: str | None = None
        self.down_since: float | None = None
        self._pinger = Periodic(interval_s, self.check, "database ping")

    @property
    def down(self) -> bool:
        return self.status == DEGRADED

    def start(self) -> None:
        self._pinger.start()

    async def close(self) -> None:
        await self._pinger.stop()

    async def check(self) -> str:
        """Ping once and announce a change; returns the status."""
        try:
            await self.client.admin.command("ping")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Any failure means the database is not there.
            self._went_down(f"{type(exc).__name__}: {str(exc)[:200]}")
        else:
            self.answered()
        return self.status

    def failed(self, exc: BaseException) -> None:
        """A request found the database unreachable: no need to wait for a ping."""
        self._went_down(f"{type(exc).__name__}: {str(exc)[:200]}")

    def _went_down(self, error: str) -> None:
        self.error = error
        if self.status == DEGRADED:
            return
        self.status = DEGRADED
        self.down_since = time.monotonic()
        told = self._broadcast(
            {"type": "service", "status": DEGRADED, "retry_after": RETRY_AFTER_S}
        )
        log.warning("database unreachable (%s); told %d sockets", error, told)

    def answered(self) -> None:
        """The database answered: end the outage if there was one."""
        if self.status == OK:
            return
        outage = time.monotonic() - (self.down_since or time.monotonic())
        self.status, self.error, self.down_since = OK, None, None
        told = self._broadcast({"type": "service", "status": OK})
        log.warning("database back after %.1fs; told %d sockets", outage, told)

    def _broadcast(self, message: dict) -> int:
        frame = dumps_text(message)
        connections = list(self.hub.connections)
        for connection in connections:
            connection.send_frame(frame)
        return len(connections)

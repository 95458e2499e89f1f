"""Liveness and readiness: the process and its database, for load balancers.

The answer also carries the event loop's recent lag (`server.looplag`):
``?lag_s=N`` picks the window, 1 to 120 seconds (60 by default); anything
else is refused with 400, so that a typo in a probe is noticed.
"""

import math

from server import access
from server.errors import Invalid
from server.handlers.base import BaseHandler
from server.openapi import obj, op


class HealthHandler(BaseHandler):
    """``GET /healthz``: 200 when the database answers, 503 otherwise."""

    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "Process and database health",
            tag="operations",
            response=obj(
                ("status", "database"),
                status={"enum": ["ok", "degraded"]},
                database={"type": "string"},
                uptime_s={"type": "number"},
                loop_lag_ms={"type": "object"},
            ),
            query={"lag_s": {"type": "number", "minimum": 1, "maximum": 120}},
            errors=(400,),
        )
    }

    async def prepare(self) -> None:
        # Health must not depend on sessions: a dead database would make the
        # session lookup itself fail before we could report it.
        pass

    async def get(self) -> None:
        report = await self.platform.health()
        report["loop_lag_ms"] = self.platform.lag.summary(self._lag_window())
        self.send_json(report, 200 if report["status"] == "ok" else 503)

    def _lag_window(self) -> float:
        """The lag window asked for, in seconds (60 when not given)."""
        given = self.get_query_argument("lag_s", None)
        if given is None:
            return 60.0
        try:
            window = float(given)
        except ValueError:
            window = math.nan
        if not (math.isfinite(window) and 1 <= window <= 120):
            raise Invalid("lag_s is a number of seconds from 1 to 120.", "bad_lag_s")
        return window

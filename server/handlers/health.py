"""Liveness and readiness: the process and its database, for load balancers."""

from server import access
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
            ),
        )
    }

    async def prepare(self) -> None:
        # Health must not depend on sessions: a dead database would make the
        # session lookup itself fail before we could report it.
        pass

    async def get(self) -> None:
        report = await self.platform.health()
        self.send_json(report, 200 if report["status"] == "ok" else 503)

"""The assessment board API (考核): offers, claims and arrivals per officer."""

from __future__ import annotations

from server import kpi
from server.handlers.base import BaseHandler
from server.openapi import obj, op

ROW = obj(
    ("id", "name", "offers_received"),
    id={"type": ["string", "null"]},
    name={"type": ["string", "null"]},
    station_id={"type": ["string", "null"]},
    **{name: {"type": "integer"} for name in kpi.COUNTS},
    decline_reasons={"type": "object", "additionalProperties": {"type": "integer"}},
    median_claim_s={"type": ["number", "null"]},
    median_arrive_s={"type": ["number", "null"]},
    resolutions={"type": "integer"},
    avg_rating={"type": ["number", "null"]},
    ratings={"type": "integer"},
)
BOARD = obj(
    ("from", "to", "group", "rows"),
    **{"from": {"type": "string", "format": "date"}},
    to={"type": "string", "format": "date"},
    group={"enum": list(kpi.GROUPS)},
    rows={"type": "array", "items": ROW},
)


class KpiHandler(BaseHandler):
    """``GET /api/kpi?from=&to=&group=&sort=&order=`` (local calendar days)."""

    access = {"GET": "kpi.read"}
    api = {
        "get": op(
            "The assessment board: offers, claims, arrivals and ratings "
            "per officer or station over local days from..to (default: 7 days)",
            tag="command",
            response=BOARD,
            errors=(400, 401, 403),
        )
    }

    async def get(self) -> None:
        arg = self.get_query_argument
        board = await kpi.report(
            self.platform.db,
            self.principal.tenant_id,
            date_from=arg("from", None),
            date_to=arg("to", None),
            group=arg("group", None),
            sort=arg("sort", None),
            order=arg("order", None),
        )
        self.send_json(board)

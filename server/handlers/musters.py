"""The emergency-muster API: start, roll call, answer, widen, remind, end, CAP.

Thin handlers over `server.musters.MusterService`. The command room follows a
muster's roll call live on the websocket topic ``muster:<id>``; officers get
their alerts on ``user:<id>`` (see `server.musters`).
"""

from __future__ import annotations

from server import cap
from server.handlers import route
from server.handlers.base import BaseHandler, PageHandler
from server.musters import board_view, officer_view, summary_view
from server.openapi import GEOJSON_POINT, obj, op, optional_text, text

MUSTER_ID = ("muster_id",)
COUNTS = obj(
    ("alerted", "coming", "cannot", "pending", "needed", "short"),
    alerted={"type": "integer"},
    coming={"type": "integer"},
    cannot={"type": "integer"},
    pending={"type": "integer", "description": "Alerted and not answered yet"},
    needed={"type": "integer"},
    short={"type": "integer", "description": "needed minus coming, at least 0"},
)
SUMMARY_FIELDS = {
    "id": {"type": "string"},
    "status": {"enum": ["active", "ended"]},
    "place": GEOJSON_POINT,
    "address": {"type": "string"},
    "radius_m": {"type": "integer"},
    "message": {"type": "string"},
    "needed": {"type": "integer"},
    "off_duty_rule": {"enum": ["last_position", "home_station"]},
    "ends_at": {"type": "string", "format": "date-time"},
    "ended_at": {"type": ["string", "null"], "format": "date-time"},
    "end_reason": {"enum": ["ended", "expired", None]},
    "reminders": {"type": "integer"},
    "counts": COUNTS,
}
SUMMARY = obj(("id", "status", "place", "radius_m", "counts"), **SUMMARY_FIELDS)
ENTRY = obj(
    ("officer_id", "name", "answer"),
    officer_id={"type": "string"},
    name={"type": "string"},
    duty={"enum": ["on", "busy", "off"]},
    basis={
        "enum": ["position", "station"],
        "description": "Found by their (last shared) position or home station",
    },
    distance_m={"type": "integer"},
    answer={"enum": ["coming", "cannot", None]},
    eta_s={"type": ["integer", "null"]},
)
BOARD = obj(
    ("id", "status", "counts", "roll"),
    **SUMMARY_FIELDS,
    roll={"type": "array", "items": ENTRY},
)
OFFICER_VIEW = obj(
    ("id", "status", "message", "answer"),
    id={"type": "string"},
    status={"enum": ["active", "ended"]},
    message={"type": "string"},
    distance_m={"type": "integer"},
    answer={"enum": ["coming", "cannot", None]},
    eta_s={"type": ["integer", "null"]},
)
BOARD_ANSWER = obj(("muster",), muster=BOARD)


class MustersHandler(BaseHandler):
    access = {"POST": "muster.command", "GET": "muster.command"}
    api = {
        "post": op(
            "Start a muster: every officer of the agency within radius_m of the "
            "place (on duty, or off duty as the agency's muster_off_duty rule "
            "says) is alerted by websocket and web push",
            tag="musters",
            body=obj(
                ("lon", "lat", "radius_m", "message", "needed"),
                lon={"type": "number"},
                lat={"type": "number"},
                radius_m={"type": "integer", "minimum": 100, "maximum": 20000},
                message=text(500),
                needed={"type": "integer", "minimum": 1, "maximum": 1000},
                address=optional_text(200),
                ends_at={
                    "type": "string",
                    "format": "date-time",
                    "description": "Default: two hours after the start; 24 h at most",
                },
            ),
            response=BOARD_ANSWER,
            status=201,
            errors=(400, 401, 403),
        ),
        "get": op(
            "The agency's recent musters, running ones first (?status=active "
            "for running ones only)",
            tag="musters",
            response=obj(("musters",), musters={"type": "array", "items": SUMMARY}),
            errors=(401, 403),
        ),
    }

    async def post(self) -> None:
        muster = await self.platform.musters.start(self.principal, self.json_body())
        self.send_json({"muster": board_view(muster)}, 201)

    async def get(self) -> None:
        active = self.get_query_argument("status", "") == "active"
        found = await self.platform.musters.recent(self.principal, active)
        self.send_json({"musters": [summary_view(m) for m in found]})


class MusterHandler(BaseHandler):
    access = {"GET": "muster.read"}
    api = {
        "get": op(
            "One muster: the roll-call board for the command room, the call and "
            "one's own answer for an officer who was alerted",
            tag="musters",
            response=obj(("muster",), muster={"oneOf": [BOARD, OFFICER_VIEW]}),
            errors=(401, 403, 404),
            params=MUSTER_ID,
        )
    }

    async def get(self, muster_id: str) -> None:
        view = await self.platform.musters.view(self.principal, muster_id)
        self.send_json({"muster": view})


class OfficerMustersHandler(BaseHandler):
    access = {"GET": "muster.answer"}
    api = {
        "get": op(
            "Running musters the officer was alerted to, newest first",
            tag="musters",
            response=obj(
                ("musters",), musters={"type": "array", "items": OFFICER_VIEW}
            ),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        found = await self.platform.musters.of_officer(self.principal)
        views = [officer_view(m, self.principal.id) for m in found]
        self.send_json({"musters": views})


class AnswerHandler(BaseHandler):
    access = {"POST": "muster.answer"}
    api = {
        "post": op(
            "Answer coming or cannot (again to change it); lon/lat, if given, "
            "measure the distance and ETA from where the officer is",
            tag="musters",
            body=obj(
                ("answer",),
                answer={"enum": ["coming", "cannot"]},
                lon={"type": "number"},
                lat={"type": "number"},
            ),
            response=obj(("muster",), muster=OFFICER_VIEW),
            errors=(400, 401, 403, 404, 409),
            params=MUSTER_ID,
        )
    }

    async def post(self, muster_id: str) -> None:
        musters = self.platform.musters
        muster = await musters.answer(self.principal, muster_id, self.json_body())
        self.send_json({"muster": officer_view(muster, self.principal.id)})


def _action(summary: str, body: dict | None = None) -> tuple[dict, dict]:
    """The access and API tables of a command-room action on one muster."""
    return (
        {"POST": "muster.command"},
        {
            "post": op(
                summary,
                tag="musters",
                body=body,
                response=BOARD_ANSWER,
                errors=(400, 401, 403, 404, 409),
                params=MUSTER_ID,
            )
        },
    )


class WidenHandler(BaseHandler):
    access, api = _action(
        "Widen the radius; officers it newly takes in are alerted",
        obj(("radius_m",), radius_m={"type": "integer", "maximum": 20000}),
    )

    async def post(self, muster_id: str) -> None:
        radius = self.json_body().get("radius_m")
        muster = await self.platform.musters.widen(self.principal, muster_id, radius)
        self.send_json({"muster": board_view(muster)})


class RemindHandler(BaseHandler):
    access, api = _action(
        "Alert again every officer who has not answered (reminded: how many)"
    )

    async def post(self, muster_id: str) -> None:
        muster, count = await self.platform.musters.remind(self.principal, muster_id)
        self.send_json({"muster": board_view(muster), "reminded": count})


class EndHandler(BaseHandler):
    access, api = _action(
        "End the muster; every officer alerted is told",
        obj((), note=optional_text(500)),
    )

    async def post(self, muster_id: str) -> None:
        note = self.json_body().get("note")
        muster = await self.platform.musters.end(self.principal, muster_id, note)
        self.send_json({"muster": board_view(muster)})


class CapHandler(BaseHandler):
    access = {"GET": "muster.command"}
    api = {
        "get": op(
            "The muster as an OASIS CAP 1.2 alert (XML; a Cancel once ended); "
            "?lang=en for English wording",
            tag="musters",
            media_type="application/xml",
            errors=(401, 403, 404),
            params=MUSTER_ID,
        )
    }

    async def get(self, muster_id: str) -> None:
        muster = await self.platform.musters.for_command(self.principal, muster_id)
        tenant = await self.platform.db.tenants.find_one({"_id": muster["tenant_id"]})
        lang = "en" if self.get_query_argument("lang", "") == "en" else "zh"
        document = cap.muster_alert(
            muster, tenant or {"_id": muster["tenant_id"]}, lang
        )
        self.platform.audit.record(
            self.principal,
            "muster.export",
            tenant_id=muster["tenant_id"],
            target=("muster", muster["_id"]),
            detail={"format": "cap-1.2"},
        )
        self.set_header("Content-Type", "application/xml; charset=utf-8")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Cache-Control", "no-store")
        name = f"muster-{muster['_id']}.cap.xml"
        self.set_header("Content-Disposition", f"attachment; filename={name}")
        self.finish(document)


class MusterPage(PageHandler):
    """``/musters/{muster_id}``: the roll-call board; data comes by API."""

    access = {"GET": "muster.command"}

    def get(self, muster_id: str) -> None:
        self.render_page("muster.html", "muster", muster_id=muster_id)


def routes() -> list:
    return [
        route("/musters/{muster_id}", MusterPage),
        route("/api/musters", MustersHandler),
        route("/api/musters/{muster_id}", MusterHandler),
        route("/api/musters/{muster_id}/answer", AnswerHandler),
        route("/api/musters/{muster_id}/widen", WidenHandler),
        route("/api/musters/{muster_id}/remind", RemindHandler),
        route("/api/musters/{muster_id}/end", EndHandler),
        route("/api/musters/{muster_id}/cap", CapHandler),
        route("/api/officer/musters", OfficerMustersHandler),
    ]

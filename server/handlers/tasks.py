"""The task-board and specialties API: publish, sign up, roster, recommend.

Thin handlers over `server.tasks.TaskService` and
`server.specialties.SpecialtyService`. Officers see a task without its
roster (only their own sign-up); the agency's commanders and admins see the
roster, its messages, and can export it as CSV.
"""

from __future__ import annotations

from urllib.parse import quote

from server.handlers import route
from server.handlers.base import BaseHandler
from server.openapi import GEOJSON_POINT, changes, obj, op, optional_text, text
from server.tasks import task_view

TASK_ID = ("task_id",)
TIME = {"type": "string", "format": "date-time"}
PLACE = {
    "oneOf": [
        GEOJSON_POINT,
        obj(
            ("type", "coordinates"),
            type={"const": "Polygon"},
            coordinates={"type": "array", "items": {"type": "array"}},
        ),
    ]
}
SIGN_UP_STATE = {"enum": ["confirmed", "pending", "waiting", "withdrawn", "declined"]}
ENTRY = obj(
    ("officer_id", "name", "state", "signed_at"),
    officer_id={"type": "string"},
    name={"type": "string"},
    state=SIGN_UP_STATE,
    signed_at=TIME,
    decided_at={"type": ["string", "null"], "format": "date-time"},
    position={
        "type": ["integer", "null"],
        "description": "Place on the waiting list (1 is next)",
    },
)
TASK = obj(
    ("id", "title", "place", "starts_at", "ends_at", "needed", "held", "status"),
    id={"type": "string"},
    title={"type": "string"},
    description={"type": "string"},
    place=PLACE,
    place_name={"type": "string"},
    location=GEOJSON_POINT,
    starts_at=TIME,
    ends_at=TIME,
    signup_deadline=TIME,
    needed={"type": "integer"},
    held={"type": "integer", "description": "Places taken (confirmed or pending)"},
    waiting={"type": "integer"},
    skills={"type": "array", "items": {"type": "string"}},
    confirm={"enum": ["auto", "manual"]},
    status={"enum": ["open", "cancelled"]},
    shared={
        "type": "boolean",
        "description": "A task of another agency, seen through a tasks grant",
    },
    tenant=obj(("id",), id={"type": "string"}, name={"type": ["string", "null"]}),
    invited={"type": "boolean"},
    mine={"oneOf": [ENTRY, {"type": "null"}]},
    messages={"type": "array", "items": {"type": "object"}},
    roster={"type": "array", "items": ENTRY, "description": "Publishers only"},
    overlaps={
        "type": "array",
        "items": obj(("id", "title"), id={"type": "string"}, title={"type": "string"}),
        "description": "The caller's other confirmed tasks at the same time",
    },
)
TASK_ANSWER = obj(("task",), task=TASK)
TASK_FIELDS = {
    "title": text(120),
    "description": optional_text(4000),
    "place": PLACE,
    "place_name": optional_text(200),
    "starts_at": TIME,
    "ends_at": TIME,
    "signup_deadline": TIME,
    "needed": {"type": "integer", "minimum": 1},
    "skills": {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "Codes of the agency's vocabulary; null is none",
    },
    "confirm": {"enum": ["auto", "manual"]},
}
PERSON = obj(
    ("id", "name", "tags"),
    id={"type": "string"},
    name={"type": "string"},
    station={"type": ["string", "null"]},
    tags={"type": "array", "items": {"type": "string"}},
    note={"type": "string"},
    matched={"type": "array", "items": {"type": "string"}},
    distance_m={"type": ["integer", "null"]},
    distance_from={"enum": ["position", "station", None]},
    duty={"type": "string"},
)
PEOPLE = obj(("people",), people={"type": "array", "items": PERSON})
PROFILE = obj(
    ("tags", "note", "visible"),
    tags={"type": "array", "items": {"type": "string"}},
    note={"type": "string", "maxLength": 300},
    visible={"type": "boolean"},
    updated_at={"type": ["string", "null"], "format": "date-time"},
)


class TaskBase(BaseHandler):
    @property
    def tasks(self):
        return self.platform.tasks

    def manages(self, task: dict) -> bool:
        """Publishers see the roster of their own agency's tasks only."""
        own = task["tenant_id"] == self.principal.tenant_id
        return own and self.principal.has("tasks.publish")

    async def answer_task(self, task: dict, status: int = 200, **extra) -> None:
        await self.tasks.mark_shared(self.principal, [task])
        view = task_view(task, self.principal.id, self.manages(task))
        self.send_json({"task": {**view, **extra}}, status)


class TasksHandler(TaskBase):
    access = {"POST": "tasks.publish", "GET": "tasks.read"}
    api = {
        "post": op(
            "Publish a task",
            tag="tasks",
            body=obj(
                ("title", "place", "starts_at", "ends_at", "signup_deadline", "needed"),
                **TASK_FIELDS,
            ),
            response=TASK_ANSWER,
            status=201,
            errors=(400, 401, 403),
        ),
        "get": op(
            "The agency's tasks not yet over, soonest first; query: skill, from, "
            "to (ISO times), open=1 (still taking sign-ups), status=cancelled|all; "
            "boards: the agencies whose live boards (topic tasks:<id>) they are on",
            tag="tasks",
            response=obj(
                ("tasks", "boards"),
                tasks={"type": "array", "items": TASK},
                boards={"type": "array", "items": {"type": "string"}},
            ),
            errors=(400, 401, 403),
        ),
    }

    async def post(self) -> None:
        task = await self.tasks.publish(self.principal, self.json_body())
        await self.answer_task(task, 201)

    async def get(self) -> None:
        params = {
            name: self.get_query_argument(name, None)
            for name in ("skill", "from", "to", "open", "status")
        }
        found, boards = await self.tasks.board(self.principal, params)
        views = [task_view(t, self.principal.id, self.manages(t)) for t in found]
        self.send_json({"tasks": views, "boards": boards})


class ScheduleHandler(TaskBase):
    access = {"GET": "tasks.sign_up"}
    api = {
        "get": op(
            "The officer's own sign-ups not yet over; overlaps flagged",
            tag="tasks",
            response=obj(("tasks",), tasks={"type": "array", "items": TASK}),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        self.send_json({"tasks": await self.tasks.schedule(self.principal)})


class TaskHandler(TaskBase):
    access = {"GET": "tasks.read", "PATCH": "tasks.publish"}
    api = {
        "get": op(
            "One task (with its roster for publishers)",
            tag="tasks",
            response=TASK_ANSWER,
            errors=(401, 403, 404),
            params=TASK_ID,
        ),
        "patch": op(
            "Change a task; its roster is told",
            tag="tasks",
            body=changes(obj((), **TASK_FIELDS)),
            response=TASK_ANSWER,
            errors=(400, 401, 403, 404, 409),
            params=TASK_ID,
        ),
    }

    async def get(self, task_id: str) -> None:
        await self.answer_task(await self.tasks.get(self.principal, task_id))

    async def patch(self, task_id: str) -> None:
        task = await self.tasks.change(self.principal, task_id, self.json_body())
        await self.answer_task(task)


def _action(summary: str, permission: str, body: dict | None, errors=()):
    return (
        {"POST": permission},
        {
            "post": op(
                summary,
                tag="tasks",
                body=body,
                response=TASK_ANSWER,
                errors=(400, 401, 403, 404, 409, *errors),
                params=TASK_ID,
            )
        },
    )


class SignUpHandler(TaskBase):
    access, api = _action(
        "Sign up: a place if one is free, else the waiting list; idempotent",
        "tasks.sign_up",
        None,
    )

    async def post(self, task_id: str) -> None:
        task = await self.tasks.sign_up(self.principal, task_id)
        overlaps = await self.tasks.overlaps_for(self.principal, task)
        await self.answer_task(task, overlaps=overlaps)


class WithdrawHandler(TaskBase):
    access, api = _action(
        "Withdraw before the deadline; the place goes to the waiting list",
        "tasks.sign_up",
        None,
    )

    async def post(self, task_id: str) -> None:
        await self.answer_task(await self.tasks.withdraw(self.principal, task_id))


class DecideHandler(TaskBase):
    access, api = _action(
        "Confirm a pending sign-up, or decline one (its place is freed)",
        "tasks.publish",
        obj(
            ("officer_id", "confirm"),
            officer_id={"type": "string"},
            confirm={"type": "boolean"},
        ),
    )

    async def post(self, task_id: str) -> None:
        task = await self.tasks.decide(self.principal, task_id, self.json_body())
        await self.answer_task(task)


class MessageHandler(TaskBase):
    access, api = _action(
        "Message everyone signed up (waiting list included)",
        "tasks.publish",
        obj(("text",), text=text(1000)),
    )

    async def post(self, task_id: str) -> None:
        body = self.json_body()
        await self.answer_task(
            await self.tasks.message(self.principal, task_id, body.get("text"))
        )


class CancelHandler(TaskBase):
    access, api = _action(
        "Cancel the task; everyone signed up is told",
        "tasks.publish",
        obj((), reason=optional_text(1000)),
    )

    async def post(self, task_id: str) -> None:
        body = self.json_body()
        await self.answer_task(
            await self.tasks.cancel(self.principal, task_id, body.get("reason"))
        )


class InviteHandler(TaskBase):
    access, api = _action(
        "Point an officer at the task (they are told, and sign up themselves)",
        "tasks.publish",
        obj(("officer_id",), officer_id={"type": "string"}),
    )

    async def post(self, task_id: str) -> None:
        body = self.json_body()
        task = await self.tasks.invite(self.principal, task_id, body.get("officer_id"))
        await self.answer_task(task)


class RecommendedHandler(TaskBase):
    access = {"GET": "tasks.publish"}
    api = {
        "get": op(
            "Officers whose specialties match the task, nearest first, "
            "without those booked at that time",
            tag="tasks",
            response=PEOPLE,
            errors=(401, 403, 404),
            params=TASK_ID,
        )
    }

    async def get(self, task_id: str) -> None:
        people = await self.tasks.recommended(self.principal, task_id)
        self.send_json({"people": people})


class RosterCsvHandler(TaskBase):
    access = {"GET": "tasks.publish"}
    api = {
        "get": op(
            "The roster as a CSV download (UTF-8)",
            tag="tasks",
            media_type="text/csv",
            errors=(401, 403, 404),
            params=TASK_ID,
        )
    }

    async def get(self, task_id: str) -> None:
        lang = self.platform.i18n.pick_language(
            self.get_query_argument("lang", None),
            self.get_cookie("lang"),
            self.request.headers.get("Accept-Language"),
        )
        _, text = await self.tasks.roster_csv(self.principal, task_id, lang)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        name = quote(f"task-{task_id}-roster.csv")
        self.set_header("Content-Disposition", f"attachment; filename={name}")
        self.finish(text.encode("utf-8"))


class ProfileHandler(BaseHandler):
    access = {"GET": "officer.self", "PUT": "officer.self"}
    api = {
        "get": op(
            "The officer's own specialties profile",
            tag="specialties",
            response=obj(("profile",), profile=PROFILE),
            errors=(401, 403),
        ),
        "put": op(
            "Replace the officer's specialties profile",
            tag="specialties",
            body=obj(
                ("tags",),
                tags=PROFILE["properties"]["tags"],
                note=PROFILE["properties"]["note"],
                visible={"type": "boolean"},
            ),
            response=obj(("profile",), profile=PROFILE),
            errors=(400, 401, 403),
        ),
    }

    async def get(self) -> None:
        profile = await self.platform.specialties.profile(self.principal)
        self.send_json({"profile": profile})

    async def put(self) -> None:
        profile = await self.platform.specialties.save_profile(
            self.principal, self.json_body()
        )
        self.send_json({"profile": profile})


class SpecialtySearchHandler(BaseHandler):
    access = {"GET": "tasks.publish"}
    api = {
        "get": op(
            "Who can do X near Y: visible profiles with the tag (skill) or whose "
            "note mentions q, nearest to lon/lat first",
            tag="specialties",
            response=PEOPLE,
            errors=(400, 401, 403),
        )
    }

    async def get(self) -> None:
        params = {
            name: self.get_query_argument(name, None)
            for name in ("skill", "q", "lon", "lat")
        }
        people = await self.platform.specialties.search(self.principal, params)
        self.send_json({"people": people})


def routes() -> list:
    return [
        route("/api/tasks", TasksHandler),
        route("/api/tasks/mine", ScheduleHandler),
        route("/api/tasks/{task_id}", TaskHandler),
        route("/api/tasks/{task_id}/signup", SignUpHandler),
        route("/api/tasks/{task_id}/withdraw", WithdrawHandler),
        route("/api/tasks/{task_id}/decide", DecideHandler),
        route("/api/tasks/{task_id}/message", MessageHandler),
        route("/api/tasks/{task_id}/cancel", CancelHandler),
        route("/api/tasks/{task_id}/invite", InviteHandler),
        route("/api/tasks/{task_id}/recommended", RecommendedHandler),
        route("/api/tasks/{task_id}/roster.csv", RosterCsvHandler),
        route("/api/officer/profile", ProfileHandler),
        route("/api/specialties/search", SpecialtySearchHandler),
    ]

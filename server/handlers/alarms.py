"""The alarm API: citizens raise and follow, officers claim, the command room steers."""

from __future__ import annotations

from server import access, geo
from server.alarm_views import citizen_view, staff_view, tracking
from server.alarms import TRACKED
from server.errors import Invalid
from server.handlers.base import BaseHandler, WorkerCallable
from server.openapi import GEOJSON_POINT, obj, op, text

ALARM = obj(
    ("id", "status"),
    id={"type": "string"},
    status={
        "enum": [
            "offering",
            "escalated",
            "assigned",
            "en_route",
            "arrived",
            "resolved",
            "cancelled",
            "closed",
        ]
    },
    category={"type": "string"},
    address={"type": "string"},
    location=GEOJSON_POINT,
)
ALARM_ANSWER = obj(("alarm",), alarm=ALARM)
ID = ("alarm_id",)
RAISE_FIELDS = obj(
    ("category",),
    category={"type": "string"},
    lon={"type": "number"},
    lat={"type": "number"},
    plate={"type": "string"},
    address={"type": "string", "maxLength": 200},
    source={"enum": ["gps", "pin"]},
    description={"type": "string", "maxLength": 1000},
    idempotency_key={"type": "string", "maxLength": 64},
)


class AlarmHandler(BaseHandler):
    """Shared by the alarm endpoints: the alarm as the caller may see it."""

    async def view(self, alarm: dict) -> dict:
        if self.principal.kind == "citizen":
            return citizen_view(alarm, self._officer_position(alarm))
        return staff_view(alarm)

    def _officer_position(self, alarm: dict) -> dict | None:
        assignee = alarm.get("assignee")
        if not assignee or alarm["status"] not in TRACKED:
            return None
        state = self.platform.presence.officers.get(assignee["officer_id"])
        if state is None or state.lon is None:
            return None
        return tracking(alarm, state.lon, state.lat, state.at)


class ServiceHandler(BaseHandler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "Whether alarms are accepted at a place now, and its categories",
            tag="alarms",
            response=obj(("available",), available={"type": "boolean"}),
            errors=(400,),
            query={
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
            },
            required_query=("lon", "lat"),
        )
    }

    async def get(self) -> None:
        point = geo.point(
            _float(self.get_query_argument("lon", None)),
            _float(self.get_query_argument("lat", None)),
        )
        self.send_json(await self.platform.alarms.service_at(point))


class PlateHandler(BaseHandler):
    access = {"GET": access.PUBLIC}
    api = {
        "get": op(
            "Resolve a standard address plate code",
            tag="alarms",
            response=obj(("plate", "service"), plate={"type": "object"}),
            errors=(404,),
            params=("code",),
        )
    }

    async def get(self, code: str) -> None:
        plate = await self.platform.alarms.plate(code)
        service = await self.platform.alarms.service_at(plate["location"])
        self.send_json(
            {
                "plate": {
                    "code": plate["_id"],
                    "address": plate["address"],
                    "location": plate["location"],
                },
                "service": service,
            }
        )


class AlarmsHandler(AlarmHandler):
    access = {"POST": "alarm.raise", "GET": "alarm.raise"}
    api = {
        "post": op(
            "Raise an alarm (JSON, or multipart with up to 4 files named photos)",
            tag="alarms",
            body=RAISE_FIELDS,
            response=ALARM_ANSWER,
            status=201,
            errors=(400, 401, 403, 404, 413, 429, 507),
        ),
        "get": op(
            "The citizen's own alarms, newest first",
            tag="alarms",
            response=obj(("alarms",), alarms={"type": "array", "items": ALARM}),
            errors=(401, 403),
        ),
    }

    async def post(self) -> None:
        fields, photos = self._submission()
        alarm, created = await self.platform.alarms.raise_alarm(
            self.principal, fields, photos, self.request.remote_ip
        )
        self.send_json({"alarm": await self.view(alarm)}, 201 if created else 200)

    def _submission(self) -> tuple[dict, list]:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            fields = {
                k: v[0].decode("utf-8", "replace")
                for k, v in self.request.body_arguments.items()
            }
            for name in ("lon", "lat"):
                if name in fields:
                    fields[name] = _float(fields[name])
            unexpected = set(self.request.files) - {"photos"}
            if unexpected:
                raise Invalid("Attach photos in the field named photos.", "bad_field")
            return fields, self.request.files.get("photos", [])
        return self.json_body(), []

    async def get(self) -> None:
        alarms = await self.platform.alarms.of_citizen(self.principal)
        self.send_json({"alarms": [citizen_view(a) for a in alarms]})


class AlarmReadHandler(AlarmHandler):
    access = {"GET": access.SIGNED_IN}
    api = {
        "get": op(
            "One alarm, as the caller may see it",
            tag="alarms",
            response=ALARM_ANSWER,
            errors=(401, 404),
            params=ID,
        )
    }

    async def get(self, alarm_id: str) -> None:
        alarm = await self.platform.alarms.visible(self.principal, alarm_id)
        self.send_json({"alarm": await self.view(alarm)})


class ContactHandler(BaseHandler):
    access = {"GET": "alarm.contact"}
    api = {
        "get": op(
            "The citizen's phone number (null when none was given): for the "
            "assigned officer and the command room only, every read audited",
            tag="alarms",
            response=obj(("phone",), phone={"type": ["string", "null"]}),
            errors=(401, 403, 404),
            params=ID,
        )
    }

    async def get(self, alarm_id: str) -> None:
        contact = await self.platform.alarms.citizen_contact(self.principal, alarm_id)
        self.send_json(contact)


class PhotoHandler(BaseHandler):
    access = {"GET": access.SIGNED_IN}
    api = {
        "get": op(
            "A photo of an alarm (JPEG, EXIF removed)",
            tag="alarms",
            media_type="image/*",
            errors=(401, 404),
            params=("alarm_id", "photo_id"),
        )
    }

    async def get(self, alarm_id: str, photo_id: str) -> None:
        alarm = await self.platform.alarms.visible(self.principal, alarm_id)
        meta, data = await self.platform.media.open_photo(alarm, photo_id)
        self.set_header("Content-Type", meta.get("content_type", "image/jpeg"))
        self.set_header("Cache-Control", "private, max-age=3600")
        self.set_header("Content-Disposition", "inline")
        self.finish(data)


def _action(summary: str, permission: str, body: dict | None = None, errors=()):
    """The access and API tables of a POST action on one alarm."""
    return (
        {"POST": permission},
        {
            "post": op(
                summary,
                tag="alarms",
                body=body,
                response=ALARM_ANSWER,
                errors=(400, 401, 403, 404, 409, *errors),
                params=ID,
            )
        },
    )


class ClaimHandler(WorkerCallable, AlarmHandler):
    access, api = _action(
        "Claim an offered alarm (抢单); first claim wins", "alarm.claim"
    )

    async def post(self, alarm_id: str) -> None:
        alarm = await self.platform.alarms.claim(self.principal, alarm_id)
        self.send_json({"alarm": staff_view(alarm)})


class DeclineHandler(AlarmHandler):
    access, api = _action(
        "Let an offer pass, with a reason",
        "alarm.claim",
        obj(("reason",), reason={"type": "string", "maxLength": 200}),
    )

    async def post(self, alarm_id: str) -> None:
        body = self.json_body()
        await self.platform.alarms.decline(self.principal, alarm_id, body.get("reason"))
        alarm = await self.platform.alarms.visible(self.principal, alarm_id)
        self.send_json({"alarm": staff_view(alarm)})


class ProgressHandler(AlarmHandler):
    access, api = _action(
        "The assigned officer reports: en route, arrived, resolved",
        "alarm.claim",
        obj(
            ("status",),
            status={"enum": ["en_route", "arrived", "resolved"]},
            note={"type": "string", "maxLength": 500},
        ),
    )

    async def post(self, alarm_id: str) -> None:
        body = self.json_body()
        alarm = await self.platform.alarms.advance(
            self.principal, alarm_id, body.get("status"), body.get("note")
        )
        self.send_json({"alarm": staff_view(alarm)})


class CancelHandler(AlarmHandler):
    access, api = _action("The citizen cancels before arrival", "alarm.raise")

    async def post(self, alarm_id: str) -> None:
        alarm = await self.platform.alarms.cancel(self.principal, alarm_id)
        self.send_json({"alarm": await self.view(alarm)})


class RatingHandler(AlarmHandler):
    access, api = _action(
        "The citizen rates the service after resolution",
        "alarm.raise",
        obj(
            ("stars",),
            stars={"type": "integer", "minimum": 1, "maximum": 5},
            comment={"type": "string", "maxLength": 500},
        ),
    )

    async def post(self, alarm_id: str) -> None:
        body = self.json_body()
        alarm = await self.platform.alarms.rate(
            self.principal, alarm_id, body.get("stars"), body.get("comment")
        )
        self.send_json({"alarm": await self.view(alarm)})


class DispatchHandler(AlarmHandler):
    access, api = _action(
        "The command room assigns or reassigns an officer",
        "alarm.command",
        obj(("officer_id",), officer_id={"type": "string"}),
    )

    async def post(self, alarm_id: str) -> None:
        body = self.json_body()
        alarm = await self.platform.alarms.dispatch(
            self.principal, alarm_id, body.get("officer_id")
        )
        self.send_json({"alarm": staff_view(alarm)})


class CloseHandler(AlarmHandler):
    access, api = _action(
        "The command room closes an alarm with a note",
        "alarm.command",
        obj(("note",), note=text(500)),
    )

    async def post(self, alarm_id: str) -> None:
        body = self.json_body()
        alarm = await self.platform.alarms.close(
            self.principal, alarm_id, body.get("note")
        )
        self.send_json({"alarm": staff_view(alarm)})


def _float(value):
    if value is None:
        raise Invalid("Give lon and lat.", "bad_location")
    try:
        return float(value)
    except ValueError:
        raise Invalid("The location must be numbers.", "bad_location") from None

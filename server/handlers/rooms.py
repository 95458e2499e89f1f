"""The consultation-room API: open, invite, answer, chat, read marks, media, close.

Thin handlers over `server.rooms.RoomService`. Catch-up after a reconnect is
``GET /api/rooms/{room_id}/messages?after=<last seq held>``, page by page while
``more`` is true; the websocket topic ``room:<id>`` carries new messages live,
and a client keeps each ``seq`` once.
"""

from __future__ import annotations

from urllib.parse import quote

from server.errors import Invalid
from server.handlers import route
from server.handlers.base import BaseHandler
from server.openapi import GEOJSON_POINT, obj, op, text
from server.rooms import message_view, room_view

ROOM_ID = ("room_id",)
MEMBER = obj(
    ("user_id", "state"),
    user_id={"type": "string"},
    name={"type": "string"},
    role={"type": "string"},
    state={"enum": ["invited", "active", "declined", "removed"]},
    read_seq={"type": "integer"},
)
ROOM = obj(
    ("id", "title", "status", "seq", "members"),
    id={"type": "string"},
    title={"type": "string"},
    description={"type": "string"},
    location={"oneOf": [GEOJSON_POINT, {"type": "null"}]},
    alarm_id={"type": ["string", "null"]},
    status={"enum": ["open", "closed"]},
    summary={"type": "string"},
    seq={"type": "integer", "description": "Number of the room's last message"},
    members={"type": "array", "items": MEMBER},
    present={
        "type": "array",
        "items": {"type": "string"},
        "description": "Members following the room on a websocket now",
    },
)
ROOM_ANSWER = obj(("room",), room=ROOM)
MESSAGE = obj(
    ("id", "seq", "sender", "kind", "at"),
    id={"type": "string"},
    seq={"type": "integer"},
    client_id={"type": ["string", "null"]},
    sender=obj(("id", "name"), id={"type": "string"}, name={"type": "string"}),
    kind={"enum": ["text", "image", "audio", "video", "file", "system"]},
    text={"type": "string"},
    media=obj(
        ("id", "content_type", "bytes"),
        id={"type": "string"},
        content_type={"type": "string"},
        bytes={"type": "integer"},
        thumbnail_id={"type": "string"},
        seconds={
            "type": "number",
            "description": "How long a clip plays, where its container says",
        },
    ),
    at={"type": "string", "format": "date-time"},
)
MESSAGE_ANSWER = obj(("message",), message=MESSAGE)

# Accounts to invite by id (server.rooms.INVITE_MAX at most).
INVITEES = {"type": "array", "items": {"type": "string"}, "maxItems": 20}


class RoomBase(BaseHandler):
    @property
    def rooms(self):
        return self.platform.rooms

    def answer_room(self, room: dict, status: int = 200) -> None:
        present = self.rooms.present(room["_id"])
        self.send_json({"room": room_view(room, present)}, status)


class RoomsHandler(RoomBase):
    access = {"POST": "rooms.open", "GET": "rooms.take_part"}
    api = {
        "post": op(
            "Open a room, for an alarm (alarm_id) or a free-standing incident",
            tag="rooms",
            body={
                **obj(
                    ("title",),
                    title=text(120),
                    description={"type": ["string", "null"], "maxLength": 2000},
                    alarm_id={"type": ["string", "null"]},
                    lon={"type": "number", "minimum": -180, "maximum": 180},
                    lat={"type": "number", "minimum": -90, "maximum": 90},
                    invite={**INVITEES, "type": ["array", "null"]},
                ),
                # A place is both coordinates or none.
                "dependentRequired": {"lon": ["lat"], "lat": ["lon"]},
            },
            response=ROOM_ANSWER,
            status=201,
            errors=(400, 401, 403, 404),
        ),
        "get": op(
            "The caller's rooms and open invitations, newest first",
            tag="rooms",
            response=obj(("rooms",), rooms={"type": "array", "items": ROOM}),
            errors=(401, 403),
        ),
    }

    async def post(self) -> None:
        room = await self.rooms.open_room(self.principal, self.json_body())
        self.answer_room(room, 201)

    async def get(self) -> None:
        rooms = await self.rooms.mine(self.principal)
        views = [room_view(r, self.rooms.present(r["_id"])) for r in rooms]
        self.send_json({"rooms": views})


class RoomHandler(RoomBase):
    access = {"GET": "rooms.take_part"}
    api = {
        "get": op(
            "One room (members and invitees only)",
            tag="rooms",
            response=ROOM_ANSWER,
            errors=(401, 403, 404),
            params=ROOM_ID,
        )
    }

    async def get(self, room_id: str) -> None:
        self.answer_room(await self.rooms.visible(self.principal, room_id))


def _action(summary: str, permission: str, body: dict, errors=()):
    """The access and API tables of a POST action on one room."""
    return (
        {"POST": permission},
        {
            "post": op(
                summary,
                tag="rooms",
                body=body,
                response=ROOM_ANSWER,
                errors=(400, 401, 403, 404, 409, *errors),
                params=ROOM_ID,
            )
        },
    )


class InviteHandler(RoomBase):
    access, api = _action(
        "Invite experts, officers or commanders of the agency",
        "rooms.invite",
        obj(("user_ids",), user_ids={**INVITEES, "minItems": 1}),
    )

    async def post(self, room_id: str) -> None:
        body = self.json_body()
        room = await self.rooms.invite(self.principal, room_id, body.get("user_ids"))
        self.answer_room(room)


class RespondHandler(RoomBase):
    access, api = _action(
        "Accept or decline an invitation",
        "rooms.take_part",
        obj(("accept",), accept={"type": "boolean"}),
    )

    async def post(self, room_id: str) -> None:
        body = self.json_body()
        room = await self.rooms.respond(self.principal, room_id, body.get("accept"))
        self.answer_room(room)


class RemoveHandler(RoomBase):
    access, api = _action(
        "Remove a member; their access (and live socket) ends at once",
        "rooms.take_part",
        obj(("user_id",), user_id={"type": "string"}),
    )

    async def post(self, room_id: str) -> None:
        body = self.json_body()
        room = await self.rooms.remove(self.principal, room_id, body.get("user_id"))
        self.answer_room(room)


class CloseHandler(RoomBase):
    access, api = _action(
        "Close the room with a summary; it stays, read-only",
        "rooms.take_part",
        obj(("summary",), summary=text(4000)),
    )

    async def post(self, room_id: str) -> None:
        body = self.json_body()
        room = await self.rooms.close(self.principal, room_id, body.get("summary"))
        self.answer_room(room)


class MessagesHandler(RoomBase):
    access = {"POST": "rooms.take_part", "GET": "rooms.take_part"}
    api = {
        "post": op(
            "Send a message: JSON {client_id, text}, or multipart with fields "
            "client_id, text?, kind? (image|audio|video) and one file named file. "
            "The same client_id again returns the stored message (200)",
            tag="rooms",
            body=obj(
                ("client_id",),
                client_id=text(64),
                text={"type": "string", "maxLength": 4000},
            ),
            response=MESSAGE_ANSWER,
            status=201,
            also=(200,),
            errors=(400, 401, 403, 404, 409, 413, 507),
            params=ROOM_ID,
        ),
        "get": op(
            "Messages numbered above ?after= (default 0), in order, at most "
            "?limit= (100, max 500); catch up while more is true",
            tag="rooms",
            response=obj(
                ("messages", "seq", "more"),
                messages={"type": "array", "items": MESSAGE},
                seq={"type": "integer"},
                more={"type": "boolean"},
            ),
            errors=(400, 401, 403, 404),
            params=ROOM_ID,
        ),
    }

    async def post(self, room_id: str) -> None:
        fields, upload = self._submission()
        message, created = await self.rooms.post(
            self.principal,
            room_id,
            fields.get("client_id"),
            fields.get("text"),
            upload,
            fields.get("kind"),
        )
        self.send_json({"message": message_view(message)}, 201 if created else 200)

    def _submission(self) -> tuple[dict, bytes | None]:
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return self.json_body(), None
        fields = {
            k: v[0].decode("utf-8", "replace")
            for k, v in self.request.body_arguments.items()
        }
        files = self.request.files
        if set(files) != {"file"} or len(files["file"]) != 1:
            raise Invalid("Attach exactly one file, named file.", "bad_field")
        return fields, files["file"][0].body

    async def get(self, room_id: str) -> None:
        room, found = await self.rooms.messages(
            self.principal,
            room_id,
            self.get_query_argument("after", None),
            self.get_query_argument("limit", None),
        )
        last = found[-1]["seq"] if found else None
        self.send_json(
            {
                "messages": [message_view(m) for m in found],
                "seq": room["seq"],
                "more": last is not None and last < room["seq"],
            }
        )


class ReadHandler(RoomBase):
    access = {"POST": "rooms.take_part"}
    api = {
        "post": op(
            "Mark the room read up to seq (a mark never moves back)",
            tag="rooms",
            body=obj(("seq",), seq={"type": "integer", "minimum": 0}),
            response=obj(("read_seq",), read_seq={"type": "integer"}),
            errors=(400, 401, 403, 404),
            params=ROOM_ID,
        )
    }

    async def post(self, room_id: str) -> None:
        seq = self.json_body().get("seq")
        read = await self.rooms.mark_read(self.principal, room_id, seq)
        self.send_json({"read_seq": read})


class MediaHandler(RoomBase):
    access = {"GET": "rooms.take_part"}
    api = {
        "get": op(
            "A room's file (members only; ?thumbnail=1 for an image's preview). "
            "Sent with its detected type, nosniff, a sandbox CSP, and as an "
            "attachment unless it is an image",
            tag="rooms",
            media_type="*/*",
            errors=(401, 403, 404),
            params=("room_id", "media_id"),
        )
    }

    async def get(self, room_id: str, media_id: str) -> None:
        thumbnail = self.get_query_argument("thumbnail", "") in ("1", "true")
        meta, data = await self.rooms.open_media(
            self.principal, room_id, media_id, thumbnail
        )
        content_type = meta.get("content_type") or "application/octet-stream"
        self.set_header("Content-Type", content_type)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Cache-Control", "private, max-age=3600")
        if content_type.startswith("image/"):
            self.set_header("Content-Disposition", "inline")
        else:
            name = quote(f"room-{room_id}-{media_id}")
            self.set_header("Content-Disposition", f"attachment; filename={name}")
        self.finish(data)


class TranscriptHandler(RoomBase):
    access = {"GET": "rooms.take_part"}
    api = {
        "get": op(
            "The room's transcript as an HTML download, media linked by id",
            tag="rooms",
            media_type="text/html",
            errors=(401, 403, 404),
            params=ROOM_ID,
        )
    }

    async def get(self, room_id: str) -> None:
        page = await self.rooms.transcript(self.principal, room_id)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Cache-Control", "no-store")
        name = quote(f"room-{room_id}.html")
        self.set_header("Content-Disposition", f"attachment; filename={name}")
        self.finish(page)


def routes() -> list:
    return [
        route("/api/rooms", RoomsHandler),
        route("/api/rooms/{room_id}", RoomHandler),
        route("/api/rooms/{room_id}/invite", InviteHandler),
        route("/api/rooms/{room_id}/respond", RespondHandler),
        route("/api/rooms/{room_id}/remove", RemoveHandler),
        route("/api/rooms/{room_id}/close", CloseHandler),
        route("/api/rooms/{room_id}/messages", MessagesHandler),
        route("/api/rooms/{room_id}/read", ReadHandler),
        route("/api/rooms/{room_id}/media/{media_id}", MediaHandler),
        route("/api/rooms/{room_id}/transcript", TranscriptHandler),
    ]

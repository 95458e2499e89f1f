"""Consultation rooms: a group chat about an alarm or an incident, with experts.

An officer or commander opens a room and invites experts and colleagues; an
invitee accepts or declines. Only active members read the room, its messages
and its media; anyone else, removed members included, gets ``NotFound``.

Messages are durable and numbered per room (``seq``: the newest number plus
one, made unique by an index, so numbers have no gaps and n + 1 is never
stored before n, whichever processes write). ``GET messages?after=<seq>``
is the source of truth: a client that reconnects asks for what follows the
last number it holds and gets each message exactly once, in order. The
websocket topic ``room:<id>`` carries the same messages live (event
``room.message``, payload with ``seq``), so a client reconciles the two by
``seq`` and drops what it already has.

A retried upload carries the same ``client_id``: the first stored message is
returned and nothing is stored twice. A closed room keeps everything, refuses
new messages, and can be exported as an HTML transcript.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import math
import time

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from server import access, clips, geo, media
from server.access import Principal
from server.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from server.storage import object_id

log = logging.getLogger(__name__)

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
SUMMARY_MAX = 4000
# A chat message: a few paragraphs, not a document (attach a PDF for that).
TEXT_MAX = 4000
CLIENT_ID_MAX = 64
# One invitation names at most this many people: a consultation, not a crowd.
INVITE_MAX = 20
# Messages per page of history: a screenful or two on a phone; catch-up after
# a long disconnect takes several pages, each one cheap.
PAGE_DEFAULT = 100
PAGE_MAX = 500
_NOT_INVITABLE = (
    "Only experts, officers and commanders of this agency, and experts an "
    "agency grants it, can be invited."
)
# A message whose number is taken by another at the same instant takes the
# next; this many collisions in a row means something is wrong.
NUMBER_TRIES = 20
# Roles that can be invited (an expert, or a colleague from the field).
INVITABLE = (access.EXPERT, access.COMMANDER, access.OFFICER)
# Members who may remove others and close the room besides its opener.
MODERATORS = frozenset({access.COMMANDER})

OPEN, CLOSED = "open", "closed"
INVITED, ACTIVE, DECLINED, REMOVED = "invited", "active", "declined", "removed"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def topic(room_id) -> str:
    return f"room:{room_id}"


def _text(value, limit: int, what: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"The {what} must be text.", f"bad_{what}")
    value = value.strip()
    if required and not value:
        raise Invalid(f"Give a {what}.", f"bad_{what}")
    if len(value) > limit:
        raise Invalid(f"The {what} is longer than {limit} characters.", f"bad_{what}")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid(f"The {what} contains control characters.", f"bad_{what}")
    return value


def member_of(room: dict, user_id: str) -> dict | None:
    return next((m for m in room["members"] if m["user_id"] == user_id), None)


def is_active(room: dict, user_id: str) -> bool:
    member = member_of(room, user_id)
    return member is not None and member["state"] == ACTIVE


def _main_role(roles) -> str:
    return next((r for r in INVITABLE if r in roles), "")


def room_view(room: dict, present: list[str] | None = None) -> dict:
    """A room as its members see it."""
    return {
        "id": str(room["_id"]),
        "title": room["title"],
        "description": room.get("description", ""),
        "location": room.get("location"),
        "alarm_id": room.get("alarm_id"),
        "tenant_id": room["tenant_id"],
        "status": room["status"],
        "summary": room.get("summary", ""),
        "created_by": room["created_by"],
        "created_at": room["created_at"],
        "closed_at": room.get("closed_at"),
        "seq": room["seq"],
        "members": [
            {
                "user_id": m["user_id"],
                "name": m["name"],
                "role": m["role"],
                "state": m["state"],
                "read_seq": m.get("read_seq", 0),
                # An expert of another agency (through an experts grant).
                "tenant_id": m.get("tenant_id", room["tenant_id"]),
            }
            for m in room["members"]
        ],
        "present": present or [],
    }


def message_view(message: dict) -> dict:
    view = {
        "id": str(message["_id"]),
        "room_id": str(message["room_id"]),
        "seq": message["seq"],
        "client_id": message.get("client_id"),
        "sender": message["sender"],
        "kind": message["kind"],
        "text": message.get("text", ""),
        "at": message["at"],
    }
    if message.get("media"):
        view["media"] = message["media"]
    return view


def _minutes(seconds: float) -> str:
    whole = math.ceil(seconds)
    return f"{whole // 60} min {whole % 60:02d} s"


class RoomService:
    """Rooms and their messages over MongoDB; live events through the hub."""

    def __init__(self, db: AsyncDatabase, hub, media_store, alarms):
        self.db = db
        self.hub = hub
        self.media = media_store
        self.alarms = alarms
        # The web push service (set by the platform): invitations reach an
        # invitee whose app is closed.
        self.push = None
        # Grants between agencies and the platform's timers (set by the
        # platform): experts of an agency granting "experts" to the room's
        # agency take part while the grant is in force, and not a moment
        # longer.
        self.grants = None
        self.timers = None
        # Who follows each room on the other processes (several processes):
        # room id -> node -> the user ids it last said. Each node says so as
        # its followers change and every few seconds; a node found dead is
        # forgotten (`node_gone`).
        self._elsewhere: dict[str, dict[str, frozenset[str]]] = {}

    # -- reading -----------------------------------------------------------

    async def _room(self, principal: Principal, room_id) -> dict:
        room = await self.db.rooms.find_one({"_id": object_id(room_id)})
        if room is None:
            raise NotFound("No such room.")
        if room["tenant_id"] != principal.tenant_id:
            await self._shared_member(room, principal)
        return room

    async def _shared_member(self, room: dict, principal: Principal) -> None:
        """Let in a member from another agency only while its grant holds.

        Checked on every use, so a revoked or expired grant ends access at
        once; the member's open socket is cut by `grant_ended` (revocation)
        or by the timer armed here (expiry).
        """
        grant = None
        lent = access.EXPERT in principal.roles  # only experts are lent
        if self.grants is not None and lent and member_of(room, principal.id):
            grant = await self.grants.valid(
                principal.tenant_id, room["tenant_id"], "experts"
            )
        if grant is None:
            raise NotFound("No such room.")
        if self.timers is not None:
            room_id, user_id = str(room["_id"]), principal.id
            self.timers.arm(
                f"room-grant:{room_id}:{user_id}",
                grant["ends_at"],
                lambda: self._recheck_shared(room_id, user_id, principal.tenant_id),
            )

    async def _recheck_shared(self, room_id: str, user_id: str, tenant_id: str):
        """A grant ran out: cut the member off unless another grant holds."""
        room = await self.db.rooms.find_one({"_id": object_id(room_id)})
        if room is None:
            return
        if await self.grants.valid(tenant_id, room["tenant_id"], "experts"):
            return
        log.info("room %s: grant ended for member %s", room_id, user_id)
        self._cut_off(room, user_id)

    async def grant_ended(self, grantor: str, grantee: str) -> int:
        """Cut off, live, every member from ``grantor`` in ``grantee``'s rooms."""
        cut = 0
        cursor = self.db.rooms.find(
            {"tenant_id": grantee, "members.tenant_id": grantor}
        )
        async for room in cursor:
            for member in room["members"]:
                if member.get("tenant_id") == grantor:
                    self._cut_off(room, member["user_id"])
                    cut += 1
        log.info(
            "experts grant %s to %s ended: %d room memberships cut",
            grantor,
            grantee,
            cut,
        )
        return cut

    async def visible(self, principal: Principal, room_id) -> dict:
        """The room if ``principal`` is invited to it or in it; else NotFound."""
        room = await self._room(principal, room_id)
        member = member_of(room, principal.id)
        if member is None or member["state"] not in (INVITED, ACTIVE):
            raise NotFound("No such room.")
        return room

    async def joined(self, principal: Principal, room_id) -> dict:
        """The room if ``principal`` is an active member; else NotFound."""
        room = await self._room(principal, room_id)
        if not is_active(room, principal.id):
            raise NotFound("No such room.")
        return room

    async def mine(self, principal: Principal) -> list[dict]:
        """Rooms the principal is in or invited to, newest first."""
        tenants = [principal.tenant_id]
        if self.grants is not None and access.EXPERT in principal.roles:
            # Rooms of agencies this expert's agency lends its experts to.
            tenants += await self.grants.grantees_of(principal.tenant_id, "experts")
        cursor = self.db.rooms.find(
            {
                "tenant_id": {"$in": tenants},
                "members": {
                    "$elemMatch": {
                        "user_id": principal.id,
                        "state": {"$in": [INVITED, ACTIVE]},
                    }
                },
            }
        )
        return await cursor.sort("created_at", -1).limit(PAGE_MAX).to_list()

    def present(self, room_id) -> list[str]:
        """Ids of the members with a socket following the room now, on this
        process or, as they last said, on the others."""
        here = self._present_here(room_id)
        for ids in self._elsewhere.get(str(room_id), {}).values():
            here |= ids
        return sorted(here)

    def _present_here(self, room_id) -> set[str]:
        stream = self.hub.streams.get(topic(room_id))
        if stream is None:
            return set()
        return {s.principal.id for s in stream.subscribers}

    async def messages(
        self, principal: Principal, room_id, after=0, limit=PAGE_DEFAULT
    ) -> tuple[dict, list[dict]]:
        """Messages numbered above ``after``, in order, at most ``limit``."""
        after, limit = _int(after, "after", 0), _int(limit, "limit", PAGE_DEFAULT)
        limit = max(1, min(limit, PAGE_MAX))
        room = await self.joined(principal, room_id)
        cursor = self.db.room_messages.find(
            {"room_id": room["_id"], "seq": {"$gt": after}}
        )
        found = await cursor.sort("seq", 1).limit(limit).to_list()
        return room, found

    # -- the room's life ---------------------------------------------------

    async def open_room(self, principal: Principal, body: dict) -> dict:
        """Open a room with its opener as the first member; invite any named."""
        title = _text(body.get("title"), TITLE_MAX, "title", required=True)
        description = _text(body.get("description"), DESCRIPTION_MAX, "description")
        # Checked before the room exists: a wrong type is not "nobody".
        if not isinstance(body.get("invite"), list | None):
            raise Invalid("Invite a list of account ids.", "bad_invitees")
        location, alarm_id = None, None
        if body.get("alarm_id") is not None:
            alarm = await self.alarms.visible(principal, str(body["alarm_id"]))
            alarm_id, location = str(alarm["_id"]), alarm.get("location")
        if body.get("lon") is not None or body.get("lat") is not None:
            location = geo.point(body.get("lon"), body.get("lat"))
        at = now()
        room = {
            "tenant_id": principal.tenant_id,
            "title": title,
            "description": description,
            "location": location,
            "alarm_id": alarm_id,
            "status": OPEN,
            "summary": "",
            "created_by": {"id": principal.id, "name": principal.name},
            "created_at": at,
            "closed_at": None,
            "seq": 0,
            "members": [
                {
                    "user_id": principal.id,
                    "name": principal.name,
                    "role": _main_role(principal.roles),
                    "state": ACTIVE,
                    "invited_by": principal.id,
                    "invited_at": at,
                    "joined_at": at,
                    "read_seq": 0,
                }
            ],
        }
        result = await self.db.rooms.insert_one(room)
        log.info("room %s opened by %s", result.inserted_id, principal.id)
        self._audit(principal, room, "room.open")
        if body.get("invite"):
            return await self.invite(principal, str(result.inserted_id), body["invite"])
        return room

    async def invite(self, principal: Principal, room_id, user_ids) -> dict:
        """Invite accounts of the room's tenant; members already in are skipped."""
        room = await self._writable(principal, room_id)
        users = await self._invitable(room, user_ids)
        at = now()
        invited = []
        for user in users:
            uid = str(user["_id"])
            member = member_of(room, uid)
            if member is not None and member["state"] in (INVITED, ACTIVE):
                continue
            entry = {
                "user_id": uid,
                "name": user.get("name", ""),
                "role": _main_role(user.get("roles", ())),
                "tenant_id": user.get("tenant_id"),
                "state": INVITED,
                "invited_by": principal.id,
                "invited_at": at,
                "joined_at": None,
                "read_seq": 0,
            }
            if member is None:
                query = {"members.user_id": {"$ne": uid}}
                update = {"$push": {"members": entry}}
            else:  # declined or removed before: invited again
                query = {"members": {"$elemMatch": {"user_id": uid}}}
                update = {"$set": {"members.$": entry}}
            done = await self.db.rooms.update_one(
                {"_id": room["_id"], "status": OPEN, **query}, update
            )
            if done.modified_count:
                invited.append(entry)
        room = await self._room(principal, room_id)
        for entry in invited:
            self._member_event(room, entry["user_id"], INVITED, principal)
            self.hub.publish(
                f"user:{entry['user_id']}",
                "room.invited",
                {
                    "room_id": str(room["_id"]),
                    "title": room["title"],
                    "invited_by": {"id": principal.id, "name": principal.name},
                },
            )
        if invited and self.push is not None:
            invitees = {entry["user_id"]: entry["role"] for entry in invited}
            self.push.room_invitation(room, invitees, principal.name)
        log.info("room %s: %d invited by %s", room["_id"], len(invited), principal.id)
        for entry in invited:
            self._audit(principal, room, "room.invite", entry["user_id"])
        return room

    def _audit(self, principal, room: dict, action: str, user_id=None, **detail):
        if user_id is not None:
            detail["user_id"] = user_id
        self.audit.record(
            principal,
            action,
            tenant_id=room["tenant_id"],
            target=("room", room["_id"]),
            detail=detail,
        )

    async def _invitable(self, room: dict, user_ids) -> list[dict]:
        if (
            not isinstance(user_ids, list)
            or not user_ids
            or len(user_ids) > INVITE_MAX
            or not all(isinstance(u, str) for u in user_ids)
        ):
            raise Invalid(f"Name 1 to {INVITE_MAX} accounts to invite.", "bad_invitees")
        if not all(ObjectId.is_valid(u) for u in user_ids):
            # A malformed id names no account: the same answer as an unknown
            # one (not a 404, which would say the room is missing).
            raise Invalid(_NOT_INVITABLE, "bad_invitees")
        ids = [ObjectId(u) for u in dict.fromkeys(user_ids)]
        lenders = []
        if self.grants is not None:
            lenders = await self.grants.tenants_granting(room["tenant_id"], "experts")
        users = await self.db.users.find(
            {
                "_id": {"$in": ids},
                "$or": [
                    {
                        "tenant_id": room["tenant_id"],
                        "roles": {"$in": list(INVITABLE)},
                    },
                    # Experts lent by another agency through a grant.
                    {"tenant_id": {"$in": lenders}, "roles": access.EXPERT},
                ],
                "disabled": {"$ne": True},
            },
            {"name": 1, "roles": 1, "tenant_id": 1},
        ).to_list()
        if len(users) != len(ids):
            raise Invalid(_NOT_INVITABLE, "bad_invitees")
        return users

    async def respond(self, principal: Principal, room_id, accept) -> dict:
        """An invitee accepts (joins) or declines."""
        if not isinstance(accept, bool):
            raise Invalid("Say accept: true or false.", "bad_answer")
        room = await self.visible(principal, room_id)
        state = ACTIVE if accept else DECLINED
        fields = {"members.$.state": state}
        if accept:
            fields["members.$.joined_at"] = now()
        # update_one, not find_one_and_update: SecantusDB's findAndModify does
        # not resolve the positional ``$`` (MongoDB does); the update is as
        # atomic, the read after it only reports.
        done = await self.db.rooms.update_one(
            {
                "_id": room["_id"],
                "status": OPEN,
                "members": {"$elemMatch": {"user_id": principal.id, "state": INVITED}},
            },
            {"$set": fields},
        )
        if not done.modified_count:
            if room["status"] == CLOSED:
                raise _closed()
            raise Conflict("There is no open invitation to answer.", "not_invited")
        updated = await self._room(principal, room_id)
        self._member_event(updated, principal.id, state, principal)
        verb = "joined" if accept else "declined"
        await self._system(updated, f"{principal.name} {verb}.")
        self._audit(principal, updated, "room.join" if accept else "room.decline")
        return updated

    async def remove(self, principal: Principal, room_id, user_id) -> dict:
        """End a member's access now, live sockets included."""
        room = await self._writable(principal, room_id)
        if not isinstance(user_id, str) or member_of(room, user_id) is None:
            raise NotFound("No such member.", "no_member")
        if user_id == principal.id:
            # The same rule as disabling one's own account: a 409, not bad input.
            raise Conflict(
                "Leave a room by declining; you cannot remove yourself.", "self"
            )
        _require_moderator(room, principal)
        done = await self.db.rooms.update_one(
            {
                "_id": room["_id"],
                "members": {
                    "$elemMatch": {"user_id": user_id, "state": {"$ne": REMOVED}}
                },
            },
            {"$set": {"members.$.state": REMOVED}},
        )
        if not done.modified_count:
            return room
        updated = await self._room(principal, room_id)
        self._cut_off(updated, user_id)
        self._member_event(updated, user_id, REMOVED, principal)
        name = member_of(updated, user_id)["name"]
        await self._system(updated, f"{name} was removed by {principal.name}.")
        log.info("room %s: %s removed by %s", room["_id"], user_id, principal.id)
        self._audit(principal, room, "room.remove", user_id)
        return updated

    async def close(self, principal: Principal, room_id, summary) -> dict:
        """Close the room with a written summary; it stays, read-only."""
        summary = _text(summary, SUMMARY_MAX, "summary", required=True)
        room = await self._writable(principal, room_id)
        _require_moderator(room, principal)
        await self._system(room, f"Closed by {principal.name}.")
        closed = await self.db.rooms.find_one_and_update(
            {"_id": room["_id"], "status": OPEN},
            {"$set": {"status": CLOSED, "summary": summary, "closed_at": now()}},
            return_document=ReturnDocument.AFTER,
        )
        if closed is None:
            raise _closed()
        self.hub.publish(
            topic(room["_id"]),
            "room.closed",
            {"room_id": str(room["_id"]), "summary": summary, "by": principal.id},
        )
        log.info(
            "room %s closed by %s at seq %d", room["_id"], principal.id, closed["seq"]
        )
        self._audit(principal, closed, "room.close")
        return closed

    async def _writable(self, principal: Principal, room_id) -> dict:
        room = await self.joined(principal, room_id)
        if room["status"] != OPEN:
            raise _closed()
        return room

    # -- messages ----------------------------------------------------------

    async def post(
        self,
        principal: Principal,
        room_id,
        client_id,
        text=None,
        upload=None,
        wanted=None,
    ) -> tuple[dict, bool]:
        """Store and announce a message; a retry returns the stored one.

        Returns (message, created). ``upload`` is ``(body bytes)``; the file's
        name and declared type are never used.
        """
        client_id = _text(client_id, CLIENT_ID_MAX, "client_id", required=True)
        room = await self._writable(principal, room_id)
        earlier = await self._earlier(room, principal.id, client_id)
        if earlier is not None:
            return earlier, False
        if upload is None:
            kind, body, attached = "text", _text(text, TEXT_MAX, "text", True), None
        else:
            body = _text(text, TEXT_MAX, "text")
            kind, attached = await self._store_upload(room, upload, wanted)
        try:
            return await self._append_message(
                room, principal, client_id, kind, body, attached
            )
        except BaseException:
            await self._discard(attached)
            raise

    async def _discard(self, attached: dict | None) -> None:
        if attached:
            ids = [attached["id"], attached.get("thumbnail_id")]
            await self.media.delete([i for i in ids if i])

    async def _earlier(self, room, sender_id: str, client_id) -> dict | None:
        return await self.db.room_messages.find_one(
            {
                "room_id": room["_id"],
                "sender.id": sender_id,
                "client_id": client_id,
            }
        )

    async def _store_upload(self, room: dict, body: bytes, wanted) -> tuple[str, dict]:
        kind, content_type = media.sniff(body, wanted)
        if wanted == "image" and kind != "image":
            raise Invalid("This is not a JPEG, PNG or WebP image.", "not_an_image")
        limit = media.ROOM_LIMITS[kind]
        if len(body) > limit:
            log.info(
                "refused a %s of %d bytes in room %s", kind, len(body), room["_id"]
            )
            mib = limit // (1024 * 1024)
            raise TooLarge(f"A {kind} may be at most {mib} MB.", "file_too_large")
        length = None
        if kind in media.ROOM_MAX_SECONDS:
            length = await self._clip_seconds(room, body, kind, content_type)
        owner = {"room_id": room["_id"]}
        if kind == "image":
            cleaned, small = await media.clean_image(self.media, body)
            stored, thumb = await self.media.put_all(
                [cleaned, small], room["tenant_id"], owner, media.ROOM_MEDIA_KIND
            )
            stored["thumbnail_id"] = thumb["id"]
        else:
            blob = media.Blob(body, content_type)
            [stored] = await self.media.put_all(
                [blob], room["tenant_id"], owner, media.ROOM_MEDIA_KIND
            )
            if length is not None:
                stored["seconds"] = round(length, 1)
        return kind, stored

    async def _clip_seconds(self, room, body: bytes, kind: str, content_type: str):
        """The clip's duration (None if unreadable); refuses one that is too long."""
        loop = asyncio.get_running_loop()
        try:
            length = await loop.run_in_executor(None, clips.seconds, body, content_type)
        except clips.Unreadable as error:
            log.info(
                "refused an unreadable %s in room %s: %s", kind, room["_id"], error
            )
            raise Invalid(
                f"This {kind} clip cannot be read: the file is damaged or is not "
                "the kind of file it looks like.",
                "unreadable_clip",
            ) from error
        limit = media.ROOM_MAX_SECONDS[kind]
        if length is not None and length > limit:
            log.info(
                "refused a %s clip of %.0f s in room %s", kind, length, room["_id"]
            )
            raise TooLarge(
                f"A {kind} clip may play for at most {_minutes(limit)}; "
                f"this one plays for {_minutes(length)}.",
                "clip_too_long",
            )
        return length

    async def _append_message(
        self, room, principal, client_id, kind, text, attached
    ) -> tuple[dict, bool]:
        sender = {"id": principal.id, "name": principal.name}
        message, fresh = await self._insert(
            room,
            {"user_id": principal.id, "state": ACTIVE},
            sender,
            kind,
            text,
            attached,
            client_id,
        )
        if not fresh:
            # A retry raced the first attempt, and the first one was stored.
            await self._discard(attached)
            return message, False
        log.info(
            "room %s: message %d (%s) from %s",
            room["_id"],
            message["seq"],
            kind,
            principal.id,
        )
        return message, True

    async def _system(self, room: dict, text: str) -> None:
        """A line in the history about the room itself (joins, removals, close)."""
        await self._insert(room, None, {"id": "", "name": ""}, "system", text)

    async def _insert(
        self, room, member, sender, kind, text, attached=None, client_id=None
    ) -> tuple[dict, bool]:
        """Store the message under the room's next number (open room, sender
        still active): the message and True, or the one stored meanwhile
        under the same client id and False.

        The next number is the newest stored one plus one, and the unique
        (room, seq) index settles a race: whoever inserts second, in this
        process or another, takes the number after. So message n + 1 exists
        only once n does, and a reader holding n who asks for what follows
        never skips a message that lands a moment later.
        """
        query = {"_id": room["_id"], "status": OPEN}
        if member is not None:
            query["members"] = {"$elemMatch": member}
        for _ in range(NUMBER_TRIES):
            if await self.db.rooms.find_one(query, {"_id": 1}) is None:
                current = await self.db.rooms.find_one(
                    {"_id": room["_id"]}, {"status": 1}
                )
                if current and current["status"] == CLOSED:
                    raise _closed()
                raise NotFound("No such room.")
            newest = await self.db.room_messages.find_one(
                {"room_id": room["_id"]}, {"seq": 1}, sort=[("seq", -1)]
            )
            message = {
                "room_id": room["_id"],
                "tenant_id": room["tenant_id"],
                "seq": (newest["seq"] if newest else 0) + 1,
                "sender": sender,
                "kind": kind,
                "text": text,
                "at": now(),
            }
            if client_id is not None:
                message["client_id"] = client_id
            if attached:
                message["media"] = attached
            try:
                await self.db.room_messages.insert_one(message)
            except DuplicateKeyError:
                if client_id is not None:
                    earlier = await self._earlier(room, sender["id"], client_id)
                    if earlier is not None:
                        return earlier, False
                continue  # the number was taken: try the next
            # The room's own counter follows (for views and read marks); a
            # crash before this line leaves it behind until the next message.
            await self.db.rooms.update_one(
                {"_id": room["_id"]}, {"$max": {"seq": message["seq"]}}
            )
            self.hub.publish(topic(room["_id"]), "room.message", message_view(message))
            return message, True
        log.warning("room %s: no free number after %d tries", room["_id"], NUMBER_TRIES)
        raise Conflict("The room is very busy: send the message again.", "retry")

    async def mark_read(self, principal: Principal, room_id, seq) -> int:
        """Move the member's read mark forward (never back); announce it."""
        seq = _int(seq, "seq", None)
        room = await self.joined(principal, room_id)
        seq = min(seq, room["seq"])
        await self.db.rooms.update_one(
            {
                "_id": room["_id"],
                "members": {"$elemMatch": {"user_id": principal.id, "state": ACTIVE}},
            },
            {"$max": {"members.$.read_seq": seq}},
        )
        room = await self.joined(principal, room_id)
        read = member_of(room, principal.id).get("read_seq", 0)
        self.hub.publish(
            topic(room["_id"]), "room.read", {"user_id": principal.id, "seq": read}
        )
        return read

    # -- media and export --------------------------------------------------

    async def open_media(self, principal, room_id, media_id, thumbnail=False):
        """(metadata, bytes) of a room's file, for members only."""
        room = await self.joined(principal, room_id)
        if thumbnail:
            found = await self.db.room_messages.find_one(
                {"room_id": room["_id"], "media.id": media_id}, {"media": 1}
            )
            media_id = (found or {}).get("media", {}).get("thumbnail_id") or ""
        found = await self.media.open(
            media_id,
            room["tenant_id"],
            {"room_id": room["_id"]},
            media.ROOM_MEDIA_KIND,
        )
        self._audit(principal, room, "room.media", media=str(media_id)[:40])
        return found

    async def transcript(self, principal, room_id) -> str:
        """The whole room as one HTML page, every value escaped."""
        started = time.monotonic()
        room = await self.joined(principal, room_id)
        cursor = self.db.room_messages.find({"room_id": room["_id"]})
        messages = await cursor.sort("seq", 1).to_list()
        page = render_transcript(room, messages)
        log.info(
            "room %s transcript: %d messages in %.2fs",
            room["_id"],
            len(messages),
            time.monotonic() - started,
        )
        self._audit(principal, room, "room.export", messages=len(messages))
        return page

    # -- live --------------------------------------------------------------

    def _member_event(self, room, user_id, state, by: Principal) -> None:
        self.hub.publish(
            topic(room["_id"]),
            "room.member",
            {"user_id": user_id, "state": state, "by": by.id},
        )

    def _cut_off(self, room: dict, user_id: str) -> None:
        """Unsubscribe a removed member's sockets and tell them why."""
        payload = {"room_id": str(room["_id"])}
        # On every process: the member may follow the room from any of them.
        self.hub.drop(topic(room["_id"]), user_id, "room.removed", payload)
        self.hub.publish(f"user:{user_id}", "room.removed", payload)
        self.announce_presence(room["_id"])

    def announce_presence(self, room_id) -> None:
        """Tell the room's followers here who follows it now (everywhere),
        and tell the other processes who follows it here."""
        self._tell_followers(room_id)
        cluster = self.hub.cluster
        if cluster is not None:
            here = sorted(self._present_here(room_id))
            cluster.control("room.presence", {"room": str(room_id), "ids": here})

    def _tell_followers(self, room_id) -> None:
        # Here only: each process tells its own followers (see above).
        self.hub.publish_here(
            topic(room_id),
            "room.presence",
            {"room_id": str(room_id), "present": self.present(room_id)},
        )

    def presence_elsewhere(self, room_id: str, node: str, ids) -> None:
        """Another process says who follows ``room_id`` there."""
        rooms = self._elsewhere.setdefault(room_id, {})
        before = rooms.get(node, frozenset())
        now_there = frozenset(ids)
        if now_there:
            rooms[node] = now_there
        else:
            rooms.pop(node, None)
            if not rooms:
                del self._elsewhere[room_id]
        if now_there != before:
            self._tell_followers(room_id)

    def share_presence(self) -> None:
        """Say again, to the other processes, who follows each room here (a
        process started since, or one that missed a message, learns it)."""
        cluster = self.hub.cluster
        if cluster is None:
            return
        for name, stream in list(self.hub.streams.items()):
            if name.startswith("room:") and stream.subscribers:
                ids = sorted({s.principal.id for s in stream.subscribers})
                cluster.control("room.presence", {"room": name[5:], "ids": ids})

    def node_gone(self, node: str) -> None:
        """A process died: its followers follow no room any more."""
        for room_id in [r for r, nodes in self._elsewhere.items() if node in nodes]:
            self.presence_elsewhere(room_id, node, ())

    def socket_closed(self, socket) -> None:
        """A socket went away: rooms it followed announce who is left."""
        for name in getattr(socket, "topics", ()):
            if name.startswith("room:"):
                self.announce_presence(name.partition(":")[2])


def _require_moderator(room: dict, principal: Principal) -> None:
    if room["created_by"]["id"] == principal.id:
        return
    if not (MODERATORS & principal.roles):
        raise Forbidden("Only the room's opener or a commander may do this.", "role")


def _closed() -> Conflict:
    return Conflict("The room is closed; it is kept read-only.", "room_closed")


def _int(value, what: str, default):
    if value is None or value == "":
        if default is None:
            raise Invalid(f"Give {what}.", f"bad_{what}")
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{what} must be a whole number.", f"bad_{what}") from None
    # int() would cut 2.5 to 2: a fraction is refused, not rounded.
    fraction = isinstance(value, float) and not value.is_integer()
    if number < 0 or isinstance(value, bool) or fraction:
        raise Invalid(f"{what} must be a whole number.", f"bad_{what}")
    return number


def render_transcript(room: dict, messages: list[dict]) -> str:
    """HTML of the room and its history; media appear as links by id."""
    e = html.escape
    base = f"/api/rooms/{room['_id']}/media/"
    rows = []
    for m in messages:
        line = e(m.get("text", ""))
        if m.get("media"):
            ref = e(base + m["media"]["id"])
            line += (
                f' <a href="{ref}">[{e(m["kind"])}: {e(m["media"]["content_type"])}, '
                f"{m['media']['bytes']} bytes, {ref}]</a>"
            )
        who = e(m["sender"]["name"]) or "—"
        rows.append(
            f"<tr><td>{m['seq']}</td><td>{e(m['at'].isoformat())}</td>"
            f"<td>{who}</td><td>{e(m['kind'])}</td><td>{line}</td></tr>"
        )
    members = "".join(
        f"<li>{e(m['name'])} ({e(m['role'])}, {e(m['state'])})</li>"
        for m in room["members"]
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{e(room['title'])}</title></head><body>"
        f"<h1>{e(room['title'])}</h1><p>{e(room.get('description', ''))}</p>"
        f"<p>Status: {e(room['status'])}. Opened {e(room['created_at'].isoformat())}"
        f" by {e(room['created_by']['name'])}.</p>"
        f"<h2>Summary</h2><p>{e(room.get('summary', ''))}</p>"
        f"<h2>Members</h2><ul>{members}</ul>"
        "<h2>Messages</h2><table><tr><th>#</th><th>At</th><th>From</th>"
        f"<th>Kind</th><th>Message</th></tr>{''.join(rows)}</table></body></html>"
    )

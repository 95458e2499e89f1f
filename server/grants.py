"""Grants (授权): what one agency shares with another, for a period.

An agency's admin grants another agency one kind of access, from
``starts_at`` to ``ends_at`` (a year at most):

- ``experts``: the grantee's officers and commanders find the granting
  agency's experts in the directory and invite them into the grantee's
  consultation rooms;
- ``tasks``: the grantee's officers see the granting agency's open tasks and
  sign up for them (the granting agency keeps managing them);
- ``musters``: a muster of the granting agency alerts the grantee's officers
  inside its radius too, near the shared border (`MusterService` asks
  `grantees_of` as each muster starts or widens);
- ``border_alarms``: the grantee's command room sees, read-only, the granting
  agency's open alarms inside the border zone given with the grant.

Nothing is cached: every use asks the database whether a grant is valid at
that moment (not revoked, started, not yet ended), so a revoked or expired
grant stops working at once without any job. What cannot be asked on every
use, an open websocket following a room or a granting agency's task board, is
cut when the grant is revoked (`RoomService.grant_ended`,
`TaskService.shared_board_ended`) and when it runs out (a timer armed as the
socket joins: `RoomService._shared_member`, `TaskService.may_follow_board`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from server import territory
from server.access import Principal
from server.alarms import ACTIVE as OPEN_ALARM
from server.errors import Conflict, Invalid, NotFound
from server.storage import object_id
from server.tasks import parse_time

log = logging.getLogger(__name__)

EXPERTS, TASKS, MUSTERS, BORDER_ALARMS = "experts", "tasks", "musters", "border_alarms"
KINDS = (EXPERTS, TASKS, MUSTERS, BORDER_ALARMS)
# Agreements between agencies are renewed yearly; a grant longer than that is
# most likely a typo in the year, and an open-ended one is never reviewed.
LONGEST = dt.timedelta(days=366)
# A grant may be prepared ahead, but not years ahead.
FURTHEST_START = dt.timedelta(days=366)
NOTE_MAX = 500
# An agency has a handful of partners; this only bounds a runaway listing.
MAX_LIST = 500
# Open alarms shown per border zone: a border strip has a few at a time.
BORDER_ALARMS_MAX = 200


def now() -> dt.datetime:
    at = dt.datetime.now(dt.UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def valid_at(at: dt.datetime) -> dict:
    """The filter of grants in force at ``at``."""
    return {"revoked_at": None, "starts_at": {"$lte": at}, "ends_at": {"$gt": at}}


def grant_view(doc: dict, names: dict[str, str], at: dt.datetime) -> dict:
    """A grant as both sides see it, with both agencies named."""
    if doc.get("revoked_at") is not None:
        state = "revoked"
    elif doc["ends_at"] <= at:
        state = "expired"
    elif doc["starts_at"] > at:
        state = "scheduled"
    else:
        state = "active"
    return {
        "id": str(doc["_id"]),
        "kind": doc["kind"],
        "grantor": {"id": doc["tenant_id"], "name": names.get(doc["tenant_id"])},
        "grantee": {"id": doc["grantee_id"], "name": names.get(doc["grantee_id"])},
        "starts_at": doc["starts_at"],
        "ends_at": doc["ends_at"],
        "zone": doc.get("zone"),
        "note": doc.get("note", ""),
        "state": state,
        "created_by": doc["created_by"],
        "created_at": doc["created_at"],
        "revoked_at": doc.get("revoked_at"),
        "revoked_by": doc.get("revoked_by"),
    }


class GrantService:
    """Grants over MongoDB; other services ask it on every shared use."""

    def __init__(self, db: AsyncDatabase):
        self.db = db
        # Set by the platform: the audit log, and the rooms (to cut off
        # members whose access ends with a grant).
        self.audit = None
        self.rooms = None
        self.tasks = None
        # The realtime hub (set by the platform): command rooms watching a
        # border zone hear when its alarms change.
        self.hub = None

    # -- asking (every shared use) ---------------------------------------------

    async def valid(
        self, grantor: str | None, grantee: str | None, kind: str, at=None
    ) -> dict | None:
        """A grant in force from ``grantor`` to ``grantee`` of ``kind``, or None."""
        if not grantor or not grantee or grantor == grantee:
            return None
        query = {
            "tenant_id": grantor,
            "grantee_id": grantee,
            "kind": kind,
            **valid_at(at or now()),
        }
        # The one ending last: a socket kept open is cut when it ends.
        return await self.db.grants.find_one(query, sort=[("ends_at", -1)])

    async def tenants_granting(self, tenant_id: str, kind: str, at=None) -> list[str]:
        """Agencies that grant ``kind`` to ``tenant_id`` now (or at ``at``)."""
        if not tenant_id:
            return []
        query = {"grantee_id": tenant_id, "kind": kind, **valid_at(at or now())}
        return sorted(set(await self.db.grants.distinct("tenant_id", query)))

    async def grantees_of(self, tenant_id: str, kind: str, at=None) -> list[str]:
        """Agencies that ``tenant_id`` grants ``kind`` to now (or at ``at``)."""
        if not tenant_id:
            return []
        query = {"tenant_id": tenant_id, "kind": kind, **valid_at(at or now())}
        return sorted(set(await self.db.grants.distinct("grantee_id", query)))

    async def border_watchers(self, alarm: dict) -> list[str]:
        """Agencies whose command rooms see ``alarm``: those its agency grants
        border_alarms with a zone that holds its location."""
        location = alarm.get("location")
        if not location:
            return []
        query = {
            "tenant_id": alarm["tenant_id"],
            "kind": BORDER_ALARMS,
            **valid_at(now()),
            "zone": {"$geoIntersects": {"$geometry": location}},
        }
        return sorted(set(await self.db.grants.distinct("grantee_id", query)))

    def border_changed(self, grantee: str, alarm_id: str | None) -> None:
        """Tell ``grantee``'s command rooms to fetch the border alarms again
        (event ``border.changed`` on ``command:<grantee>``): one of them
        changed (``alarm_id``), or a grant opened or closed a zone (None)."""
        if self.hub is not None:
            self.hub.publish(
                f"command:{grantee}", "border.changed", {"alarm_id": alarm_id}
            )

    async def border_zones(self, grantee: str, at=None) -> list[dict]:
        """The border_alarms grants in force for ``grantee``: grantor and zone."""
        query = {"grantee_id": grantee, "kind": BORDER_ALARMS, **valid_at(at or now())}
        cursor = self.db.grants.find(query, {"tenant_id": 1, "zone": 1})
        return await cursor.limit(MAX_LIST).to_list()

    async def names(self, tenant_ids) -> dict[str, str]:
        """Agency names by id (for marking shared things with their owner)."""
        ids = sorted({t for t in tenant_ids if t})
        if not ids:
            return {}
        cursor = self.db.tenants.find({"_id": {"$in": ids}}, {"name": 1})
        return {d["_id"]: d.get("name") or d["_id"] async for d in cursor}

    # -- managing (the granting agency's admin) ------------------------------

    async def create(self, principal: Principal, body: Any) -> dict:
        """Grant another agency one kind of access for a period."""
        if not isinstance(body, dict):
            raise Invalid("Send the grant as a JSON object.", "bad_body")
        kind = body.get("kind")
        if kind not in KINDS:
            raise Invalid(
                "The kind is experts, tasks, musters or border_alarms.", "bad_kind"
            )
        grantee = body.get("grantee_id")
        if not isinstance(grantee, str) or grantee == principal.tenant_id:
            raise Invalid("Name another agency to grant to.", "bad_grantee")
        if await self.db.tenants.find_one({"_id": grantee}, {"_id": 1}) is None:
            raise NotFound("No such agency.", "unknown_tenant")
        at = now()
        starts = parse_time(body["starts_at"], "start") if body.get("starts_at") else at
        ends = parse_time(body.get("ends_at"), "end")
        if ends <= max(starts, at):
            raise Invalid(
                "The grant must end after it starts, in the future.", "bad_period"
            )
        if ends - starts > LONGEST:
            raise Invalid("A grant lasts a year at most; renew it then.", "bad_period")
        if starts - at > FURTHEST_START:
            raise Invalid("A grant starts within a year.", "bad_period")
        note = body.get("note") or ""
        if (
            not isinstance(note, str)
            or len(note) > NOTE_MAX
            or any(ord(c) < 32 and c not in "\n\t" for c in note)
        ):
            raise Invalid(
                f"The note is text of {NOTE_MAX} characters at most, without "
                "control characters.",
                "bad_note",
            )
        zone = None
        if kind == BORDER_ALARMS:
            zone = await self._border_zone(principal.tenant_id, body.get("zone"))
        doc = {
            "_id": ObjectId(),
            "tenant_id": principal.tenant_id,
            "grantee_id": grantee,
            "kind": kind,
            "starts_at": starts,
            "ends_at": ends,
            "zone": zone,
            "note": note.strip(),
            "created_by": {"id": principal.id, "name": principal.name},
            "created_at": at,
            "revoked_at": None,
            "revoked_by": None,
        }
        await self.db.grants.insert_one(doc)
        log.info(
            "grant %s: %s gives %s to %s until %s",
            doc["_id"],
            principal.tenant_id,
            kind,
            grantee,
            ends.isoformat(),
        )
        self._audit(principal, "grant.create", doc)
        if kind == TASKS and self.tasks is not None:
            self.tasks.shared_board_starts(principal.tenant_id, grantee, starts)
        if kind == BORDER_ALARMS and starts <= at:
            self.border_changed(grantee, None)
        return doc

    async def _border_zone(self, tenant_id: str, value) -> dict:
        if value is None:
            raise Invalid(
                "A border_alarms grant needs its border zone.", "zone_required"
            )
        zone = territory.parse_area(value, "border zone")
        inside = await self.db.tenants.find_one(
            {"_id": tenant_id, "territory": {"$geoIntersects": {"$geometry": zone}}},
            {"_id": 1},
        )
        if inside is None:
            raise Invalid(
                "The border zone lies outside this agency's territory.",
                "outside_territory",
            )
        return zone

    async def revoke(self, principal: Principal, grant_id) -> dict:
        """End a grant now; what it opened closes at once, open sockets too."""
        at = now()
        doc = await self.db.grants.find_one_and_update(
            {
                "_id": object_id(grant_id),
                "tenant_id": principal.tenant_id,
                "revoked_at": None,
            },
            {
                "$set": {
                    "revoked_at": at,
                    "revoked_by": {"id": principal.id, "name": principal.name},
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            found = await self.db.grants.find_one(
                {"_id": object_id(grant_id), "tenant_id": principal.tenant_id},
                {"_id": 1},
            )
            if found is None:
                raise NotFound("No such grant.")
            raise Conflict("This grant is revoked already.", "revoked")
        log.info("grant %s revoked by %s", doc["_id"], principal.id)
        self._audit(principal, "grant.revoke", doc)
        await self.ended(doc)
        return doc

    async def ended(self, doc: dict) -> None:
        """Close what a grant opened, unless another grant still opens it."""
        grantor, grantee, kind = doc["tenant_id"], doc["grantee_id"], doc["kind"]
        if kind == BORDER_ALARMS:
            self.border_changed(grantee, None)  # its zone's alarms go
        if kind not in (EXPERTS, TASKS) or await self.valid(grantor, grantee, kind):
            return
        if kind == EXPERTS and self.rooms is not None:
            await self.rooms.grant_ended(grantor, grantee)
        if kind == TASKS and self.tasks is not None:
            self.tasks.shared_board_ended(grantor, grantee)

    async def listing(self, principal: Principal) -> dict:
        """Grants the caller's agency gave and received, newest first."""
        at = now()
        given = await self._list({"tenant_id": principal.tenant_id})
        received = await self._list({"grantee_id": principal.tenant_id})
        names = await self.names(
            [d["tenant_id"] for d in given + received]
            + [d["grantee_id"] for d in given + received]
        )
        return {
            "given": [grant_view(d, names, at) for d in given],
            "received": [grant_view(d, names, at) for d in received],
        }

    async def _list(self, query: dict) -> list[dict]:
        cursor = self.db.grants.find(query).sort("created_at", -1)
        return await cursor.limit(MAX_LIST).to_list()

    async def view(self, doc: dict) -> dict:
        names = await self.names([doc["tenant_id"], doc["grantee_id"]])
        return grant_view(doc, names, now())

    def _audit(self, principal: Principal, action: str, doc: dict) -> None:
        if self.audit is None:
            return
        self.audit.record(
            principal,
            action,
            tenant_id=doc["tenant_id"],
            target=("grant", doc["_id"]),
            detail={
                "kind": doc["kind"],
                "grantee": doc["grantee_id"],
                "ends_at": doc["ends_at"].isoformat(),
            },
        )


async def border_alarms(grants: GrantService, grantee: str) -> list[tuple[dict, dict]]:
    """Open alarms of agencies granting ``grantee`` a border zone, inside it.

    Returns (alarm, owner) pairs; the caller shows them read-only.
    """
    zones = await grants.border_zones(grantee)
    if not zones:
        return []
    names = await grants.names(g["tenant_id"] for g in zones)
    found: dict = {}
    for grant in zones:
        cursor = grants.db.alarms.find(
            {
                "tenant_id": grant["tenant_id"],
                "status": {"$in": list(OPEN_ALARM)},
                "location": {"$geoWithin": {"$geometry": grant["zone"]}},
            }
        )
        async for alarm in cursor.sort("created_at", 1).limit(BORDER_ALARMS_MAX):
            owner = {"id": grant["tenant_id"], "name": names.get(grant["tenant_id"])}
            found.setdefault(alarm["_id"], (alarm, owner))
    return list(found.values())

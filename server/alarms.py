"""One-tap alarms (滴滴报警): raising, claiming, escalating, resolving.

An alarm has one status machine, enforced here and only here:

    offering ──claim──▶ assigned ──▶ en_route ──▶ arrived ──▶ resolved
        │                  ▲  │           │
        └─deadline─▶ escalated ─dispatch──┘  (reassign: assigned/en_route ▶ assigned)
    cancelled: by the citizen before arrival;  closed: by the command room

Every change is one atomic ``find_one_and_update`` whose filter names the
statuses it may leave, so of any number of concurrent claims exactly one
matches and the others find the alarm already taken. Each change appends a
history entry (status, time, actor, note): the audit trail of the case.

Deadlines (the next offer round, the escalation) are stored on the alarm and
re-armed from the database at start-up, so a restart never leaves an alarm
stuck in ``offering``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import zoneinfo
from collections import OrderedDict
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from server import access, geo
from server.access import Principal
from server.catalog import settings_of
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.storage import object_id

log = logging.getLogger(__name__)

OFFERING = "offering"
ESCALATED = "escalated"
ASSIGNED = "assigned"
EN_ROUTE = "en_route"
ARRIVED = "arrived"
RESOLVED = "resolved"
CANCELLED = "cancelled"
CLOSED = "closed"

ACTIVE = (OFFERING, ESCALATED, ASSIGNED, EN_ROUTE, ARRIVED)
# While these hold, the citizen sees the assigned officer's position.
TRACKED = (ASSIGNED, EN_ROUTE, ARRIVED)
# What the assigned officer may move the alarm to, from which statuses.
OFFICER_STEPS = {
    EN_ROUTE: (ASSIGNED,),
    ARRIVED: (ASSIGNED, EN_ROUTE),
    RESOLVED: (ARRIVED,),
}
CANCELLABLE = (OFFERING, ESCALATED, ASSIGNED, EN_ROUTE)
CLOSABLE = (ESCALATED, ASSIGNED, EN_ROUTE, ARRIVED)
REASSIGNABLE = (ESCALATED, ASSIGNED, EN_ROUTE)

MAX_DESCRIPTION = 1000  # a few paragraphs; longer belongs in a phone call
MAX_NOTE = 500
MAX_COMMENT = 500
MAX_IDEMPOTENCY_KEY = 64
RECENT = 10  # a citizen's page shows their latest few alarms
MAX_OPEN = 500  # far above a district's open alarms; bounds a runaway query
MAX_SUGGESTIONS = 20  # a commander picks from a short list
# Alarms whose offer is over that a process remembers for claim races: far
# more than are ever being claimed at once.
SETTLED_MAX = 5000
# Urban driving with lights off: about 25 km/h door to door.
ETA_SPEED_M_S = 7.0


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def in_service_hours(tenant: dict, at: dt.datetime) -> bool:
    """True when ``at`` falls inside the tenant's service hours, local time."""
    hours = settings_of(tenant)["service_hours"]
    local = at.astimezone(zoneinfo.ZoneInfo(tenant.get("timezone") or "UTC"))
    start, end = hours["start"], hours["end"]
    clock = local.strftime("%H:%M")
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end  # hours that run past midnight


def _text(value, limit: int, what: str, reason: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"The {what} must be text.", reason)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"The {what} is longer than {limit} characters.", reason)
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid(f"The {what} contains control characters.", reason)
    return value


def actor_of(principal: Principal | None) -> dict:
    if principal is None:
        return {"kind": "system"}
    return {"kind": principal.kind, "id": principal.id, "name": principal.name}


def history_entry(
    status: str, principal: Principal | None, note: str = "", officer: str = ""
) -> dict:
    """One step of the case: what, when, who did it, and to whom it went."""
    entry = {"status": status, "at": now(), "actor": actor_of(principal)}
    if note:
        entry["note"] = note
    if officer:
        entry["officer"] = officer  # the assignee, whoever made the assignment
    return entry


class SettledOffers:
    """Alarms whose offer is over, as this process last saw them, and a turn
    per alarm for the claims under way.

    When a hundred officers press 抢单 at once, the first claim goes to the
    database and the others wait their turn here; by then the alarm has left
    OFFERING, and each is refused from memory instead of queueing one more
    write on the alarm's document. The database stays the judge of who wins:
    what is remembered is only that the offer is over, and an alarm never
    returns to OFFERING, so a remembered refusal stays true. Another process
    may have moved the alarm on since (a claim there, then a dispatch): the
    refusal's reason can then lag, never its outcome.
    """

    def __init__(self, size: int = SETTLED_MAX):
        self.size = size
        # alarm id -> (tenant id, status, officers offered, assignee id)
        self._alarms: OrderedDict[str, tuple] = OrderedDict()
        self._turns: dict[str, list] = {}

    def note(self, alarm: dict) -> None:
        """Remember an alarm seen out of OFFERING (anything else is ignored)."""
        if alarm.get("status", OFFERING) == OFFERING:
            return
        key = str(alarm["_id"])
        assignee = (alarm.get("assignee") or {}).get("officer_id")
        self._alarms[key] = (
            alarm["tenant_id"],
            alarm["status"],
            frozenset(alarm.get("offered", ())),
            assignee,
        )
        self._alarms.move_to_end(key)
        while len(self._alarms) > self.size:
            self._alarms.popitem(last=False)

    def refusal(self, officer: Principal, alarm_id: str) -> DomainError | None:
        """The answer to this officer's claim if memory suffices, else None."""
        known = self._alarms.get(alarm_id)
        if known is None:
            return None
        tenant_id, status, offered, assignee = known
        if tenant_id != officer.tenant_id or officer.id == assignee:
            # Not found, or the winner's retry: the database answers those.
            return None
        if officer.id not in offered:
            return Forbidden("This alarm was not offered to you.", "not_offered")
        return _offer_over(status)

    @contextlib.asynccontextmanager
    async def turn(self, alarm_id: str):
        """One claim of ``alarm_id`` at a time in this process."""
        entry = self._turns.get(alarm_id)
        if entry is None:
            entry = self._turns[alarm_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._turns[alarm_id]


class AlarmService:
    """The alarm life cycle over MongoDB; notifications go through ``notify``."""

    def __init__(self, db: AsyncDatabase, config, notify, rates):
        self.db = db
        self.config = config
        self.notify = notify  # server.dispatch.Dispatcher
        self.rates = rates
        self.settled = SettledOffers()

    # -- where and when ----------------------------------------------------

    async def tenant_at(self, point: dict) -> dict | None:
        """The tenant whose territory contains ``point``."""
        return await self.db.tenants.find_one(
            {"territory": {"$geoIntersects": {"$geometry": point}}}
        )

    async def plate(self, code) -> dict:
        """A standard address plate by its code."""
        if not isinstance(code, str) or not 0 < len(code) <= 32:
            raise NotFound("Unknown address plate code.", "unknown_plate")
        plate = await self.db.plates.find_one({"_id": code.strip()})
        if plate is None:
            raise NotFound("Unknown address plate code.", "unknown_plate")
        return plate

    async def service_at(self, point: dict) -> dict:
        """Who serves this place and whether they accept alarms now."""
        tenant = await self.tenant_at(point)
        if tenant is None:
            return {"available": False, "reason": "outside_territory"}
        settings = settings_of(tenant)
        open_now = in_service_hours(tenant, now())
        return {
            "available": open_now,
            "reason": None if open_now else "outside_hours",
            "tenant": {"id": tenant["_id"], "name": tenant.get("name")},
            "service_hours": settings["service_hours"],
            "categories": settings["categories"],
        }

    # -- raising -----------------------------------------------------------

    async def raise_alarm(
        self, citizen: Principal, fields: dict, photos: list, client_ip: str
    ) -> tuple[dict, bool]:
        """Store a new alarm and start offering it; returns (alarm, created).

        A retry with the same idempotency key returns the first alarm.
        """
        key = _text(
            fields.get("idempotency_key"), MAX_IDEMPOTENCY_KEY, "key", "bad_key"
        )
        # Three independent reads at once (every millisecond before the
        # offers go out counts): a retry's first alarm, the place's tenant,
        # and the rate limits. A retry is answered whatever the others say.
        existing, built, limited = await asyncio.gather(
            self._first_of_retry(citizen, key),
            self._new_alarm(citizen, fields, client_ip),
            self.rates.check_alarm(citizen.id, client_ip),
            return_exceptions=True,
        )
        for outcome in (existing, built, limited):
            if isinstance(outcome, BaseException) and not isinstance(
                outcome, Exception
            ):
                raise outcome  # cancelled: nothing else matters
        if _value(existing) is not None:
            return existing, False
        alarm, tenant = _value(built)
        _value(limited)
        if key:
            alarm["idempotency_key"] = key
        alarm["photos"] = await self.notify.media.store_photos(alarm, photos)
        try:
            await self.db.alarms.insert_one(alarm)
        except DuplicateKeyError:
            # The same submission raced itself: the first one stands.
            await self.notify.media.discard(alarm["photos"])
            existing = await self.db.alarms.find_one(
                {"citizen_id": citizen.id, "idempotency_key": key}
            )
            return existing, False
        except BaseException:
            # Stored whole or not at all: no photos without their alarm.
            try:
                await self.notify.media.discard(alarm["photos"])
            except Exception:
                log.warning("could not remove %d orphan photos", len(alarm["photos"]))
            raise
        log.info(
            "alarm %s raised tenant=%s category=%s photos=%d",
            alarm["_id"],
            alarm["tenant_id"],
            alarm["category"],
            len(alarm["photos"]),
        )
        self.audit.record(
            citizen,
            f"alarm.{OFFERING}",
            tenant_id=alarm["tenant_id"],
            target=("alarm", alarm["_id"]),
            detail={"to": OFFERING, "category": alarm["category"]},
        )
        await self.notify.alarm_raised(alarm, tenant)
        # Read back: the first offer round has recorded whom it notified.
        return await self.db.alarms.find_one({"_id": alarm["_id"]}) or alarm, True

    async def _first_of_retry(self, citizen: Principal, key: str) -> dict | None:
        """The alarm this citizen already raised with this idempotency key."""
        if not key:
            return None
        return await self.db.alarms.find_one(
            {"citizen_id": citizen.id, "idempotency_key": key}
        )

    async def _new_alarm(
        self, citizen: Principal, fields: dict, ip: str
    ) -> tuple[dict, dict]:
        """The alarm to store, and the tenant whose territory it is in."""
        if fields.get("plate"):
            plate = await self.plate(fields["plate"])
            point, address, source = plate["location"], plate["address"], "plate"
            tenant = await self.db.tenants.find_one({"_id": plate["tenant_id"]})
        else:
            point = geo.point(_number(fields.get("lon")), _number(fields.get("lat")))
            address = _text(fields.get("address"), 200, "address", "bad_address")
            source = "pin" if fields.get("source") == "pin" else "gps"
            tenant = await self.tenant_at(point)
        if tenant is None:
            raise Invalid(
                "This place is outside the area served here. Call 110.",
                "outside_territory",
            )
        settings = settings_of(tenant)
        if not in_service_hours(tenant, now()):
            hours = settings["service_hours"]
            raise Invalid(
                f"Alarms are accepted here from {hours['start']} to {hours['end']}. "
                "Call 110 now.",
                "outside_hours",
            )
        codes = {c["code"] for c in settings["categories"]}
        if fields.get("category") not in codes:
            raise Invalid("Choose one of the listed categories.", "bad_category")
        created = now()
        alarm = {
            "_id": ObjectId(),
            "tenant_id": tenant["_id"],
            "citizen_id": citizen.id,
            "category": fields["category"],
            "description": _text(
                fields.get("description"), MAX_DESCRIPTION, "description", "bad_text"
            ),
            "location": point,
            "address": address,
            "location_source": source,
            "plate": fields.get("plate") if source == "plate" else None,
            "status": OFFERING,
            "offered": [],
            "offer": {"round": 0, "radius_m": 0},
            "deadline_at": created + dt.timedelta(seconds=settings["claim_window_s"]),
            "assignee": None,
            "rating": None,
            "created_at": created,
            "updated_at": created,
            "client_ip": ip,
            "history": [history_entry(OFFERING, citizen)],
        }
        return alarm, tenant

    # -- reading -----------------------------------------------------------

    async def get(self, alarm_id: str) -> dict:
        alarm = await self.db.alarms.find_one({"_id": object_id(alarm_id)})
        if alarm is None:
            raise NotFound("No such alarm.")
        return alarm

    async def visible(self, principal: Principal, alarm_id: str) -> dict:
        """The alarm, if ``principal`` may see it; else `NotFound`."""
        alarm = await self.get(alarm_id)
        if not may_see(principal, alarm):
            raise NotFound("No such alarm.")
        return alarm

    async def citizen_contact(self, principal: Principal, alarm_id: str) -> dict:
        """The citizen's phone number, for the assigned officer or the command
        room of the alarm's agency; `NotFound` for anyone else. Every read
        is audited, since the number is personal data."""
        alarm = await self.get(alarm_id)
        assignee = (alarm.get("assignee") or {}).get("officer_id")
        same_agency = principal.tenant_id == alarm["tenant_id"]
        allowed = same_agency and (
            principal.has("alarm.command")
            or (assignee == principal.id and alarm["status"] in TRACKED)
        )
        if not allowed:
            raise NotFound("No such alarm.")
        contact = await self.db.citizen_contacts.find_one(
            {"_id": alarm["citizen_id"]}, {"phone": 1}
        )
        phone = contact["phone"] if contact else None
        self.audit.record(
            principal,
            "alarm.contact",
            tenant_id=alarm["tenant_id"],
            target=("alarm", alarm_id),
            detail={"given": phone is not None},
        )
        return {"phone": phone}

    async def of_citizen(self, citizen: Principal) -> list[dict]:
        """A citizen's recent alarms, newest first (to restore the page)."""
        cursor = self.db.alarms.find({"citizen_id": citizen.id})
        return await cursor.sort("created_at", -1).limit(RECENT).to_list()

    async def open_alarms(self, tenant_id: str) -> list[dict]:
        """A tenant's active alarms, oldest first: the command room's queue."""
        cursor = self.db.alarms.find(
            {"tenant_id": tenant_id, "status": {"$in": list(ACTIVE)}}
        )
        return await cursor.sort("created_at", 1).limit(MAX_OPEN).to_list()

    async def suggestions(self, commander: Principal, alarm_id: str, presence):
        """Officers to dispatch to: on duty first, the zone's station first,
        then by distance (the freshest known position)."""
        alarm = await self.visible(commander, alarm_id)
        station = (alarm.get("suggested_station") or {}).get("id")
        lon, lat = alarm["location"]["coordinates"]
        cursor = self.db.users.find(
            {
                "tenant_id": alarm["tenant_id"],
                "roles": "officer",
                "disabled": {"$ne": True},
            },
            {"name": 1, "station_id": 1, "duty": 1, "position": 1, "position_at": 1},
        )
        ranked = []
        async for user in cursor:
            state = presence.officers.get(str(user["_id"]))
            duty = state.duty if state else user.get("duty", "off")
            coords = (
                (state.lon, state.lat)
                if state and state.lon is not None
                else (user.get("position") or {}).get("coordinates")
            )
            distance = geo.distance_m(lon, lat, *coords) if coords else None
            ranked.append(
                {
                    "id": str(user["_id"]),
                    "name": user.get("name"),
                    "station_id": user.get("station_id"),
                    "duty": duty,
                    "connected": state is not None,
                    "distance_m": None if distance is None else round(distance),
                    "in_zone": user.get("station_id") == station,
                }
            )
        ranked.sort(
            key=lambda o: (
                o["duty"] != "on",
                not o["in_zone"],
                o["distance_m"] is None,
                o["distance_m"] or 0,
            )
        )
        return ranked[:MAX_SUGGESTIONS]

    # -- the life cycle ----------------------------------------------------

    async def _move(
        self,
        alarm_id,
        from_statuses: tuple,
        to: str,
        principal: Principal | None,
        extra_filter: dict | None = None,
        set_fields: dict | None = None,
        unset: tuple = (),
        note: str = "",
    ) -> dict | None:
        """Atomically change status if it is one of ``from_statuses``."""
        update: dict[str, Any] = {
            "$set": {"status": to, "updated_at": now(), **(set_fields or {})},
            "$push": {
                "history": history_entry(
                    to,
                    principal,
                    note,
                    (set_fields or {}).get("assignee", {}).get("name", ""),
                )
            },
        }
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        alarm = await self.db.alarms.find_one_and_update(
            {
                "_id": alarm_id,
                "status": {"$in": list(from_statuses)},
                **(extra_filter or {}),
            },
            update,
            return_document=ReturnDocument.AFTER,
        )
        if alarm is not None:
            self.settled.note(alarm)
            # Every status change is recorded, whoever made it: staff, the
            # citizen (a cancellation) or the platform itself (an escalation).
            detail = {"to": to}
            if to == ASSIGNED:
                detail["officer_id"] = alarm["assignee"]["officer_id"]
                detail["via"] = alarm["assignee"]["via"]
            self.audit.record(
                principal,
                f"alarm.{to}",
                tenant_id=alarm["tenant_id"],
                target=("alarm", alarm_id),
                detail=detail,
            )
        return alarm

    async def claim(self, officer: Principal, alarm_id: str) -> dict:
        """First claim wins; every other claimant gets `Conflict`.

        A claim is keyed by (alarm, officer): the winner's retry (its answer
        lost to a dropped connection or a server restart) gets the same
        success again, not "taken", and nothing is recorded twice.

        Claims of one alarm take turns in this process (`SettledOffers`):
        the first goes to the database, and once the alarm has left
        OFFERING the others are refused from memory, without a write each.
        """
        oid = object_id(alarm_id)
        key = str(oid)
        alarm = None
        async with self.settled.turn(key):
            refusal = self.settled.refusal(officer, key)
            if refusal is None:
                assignee = await self._assignee(officer.id, officer.tenant_id, "claim")
                alarm = await self._move(
                    oid,
                    (OFFERING,),
                    ASSIGNED,
                    officer,
                    extra_filter={
                        "tenant_id": officer.tenant_id,
                        "offered": officer.id,
                    },
                    set_fields={"assignee": assignee},
                    unset=("deadline_at", "next_round_at"),
                )
            if alarm is None and refusal is None:
                won = await self.db.alarms.find_one(
                    {
                        "_id": oid,
                        "tenant_id": officer.tenant_id,
                        "status": {"$in": list(TRACKED)},
                        "assignee.officer_id": officer.id,
                        "assignee.via": "claim",
                    }
                )
                if won is not None:
                    log.info("alarm %s: claim by %s repeated", alarm_id, officer.id)
                    return won
                current = await self.db.alarms.find_one(
                    {"_id": oid},
                    {"status": 1, "tenant_id": 1, "offered": 1, "assignee": 1},
                )
                if current is not None:
                    self.settled.note(current)
                refusal = _claim_refusal(officer, current)
        if refusal is not None:
            self.audit.record(
                officer,
                "alarm.claim",
                tenant_id=officer.tenant_id,
                target=("alarm", alarm_id),
                outcome="refused",
                detail={"reason": refusal.reason},
            )
            raise refusal
        log.info("alarm %s claimed by officer %s", alarm_id, officer.id)
        await self.notify.alarm_assigned(alarm, previous=None)
        return alarm

    async def _assignee(self, officer_id: str, tenant_id: str, via: str) -> dict:
        user = await self.db.users.find_one(
            {"_id": object_id(officer_id), "tenant_id": tenant_id, "roles": "officer"},
            {"name": 1, "station_id": 1, "badge_no": 1, "disabled": 1},
        )
        if user is None or user.get("disabled"):
            raise NotFound("No such officer.")
        return {
            "officer_id": officer_id,
            "name": user.get("name", ""),
            "badge_no": user.get("badge_no"),
            "station_id": user.get("station_id"),
            "assigned_at": now(),
            "via": via,
        }

    async def decline(self, officer: Principal, alarm_id: str, reason) -> None:
        """Record that an officer let an offer pass, and why."""
        reason = _text(reason, 200, "reason", "bad_reason")
        if not reason:
            raise Invalid("Give a reason for declining.", "reason_required")
        alarm = await self.get(alarm_id)
        if (
            alarm["tenant_id"] != officer.tenant_id
            or officer.id not in alarm["offered"]
        ):
            raise NotFound("No such offer.")
        if alarm["status"] != OFFERING:
            # Too late to let it pass: recording a decline now would also
            # rewrite the offer's outcome (the assessment counts it).
            raise _offer_over(alarm["status"])
        await self.notify.offer_declined(alarm, officer, reason)

    async def advance(self, officer: Principal, alarm_id: str, status, note) -> dict:
        """The assigned officer reports progress: en route, arrived, resolved."""
        if status not in OFFICER_STEPS:
            raise Invalid("Unknown status.", "bad_status")
        note = _text(note, MAX_NOTE, "note", "bad_text")
        if status == RESOLVED and not note:
            raise Invalid("Add a short note on the outcome.", "note_required")
        oid = object_id(alarm_id)
        alarm = await self._move(
            oid,
            OFFICER_STEPS[status],
            status,
            officer,
            extra_filter={"assignee.officer_id": officer.id},
            set_fields={"outcome": note} if status == RESOLVED else None,
            note=note,
        )
        if alarm is None:
            current = await self.visible(officer, alarm_id)
            raise Conflict(
                f"The alarm is {current['status']}; it cannot become {status}.",
                "bad_transition",
            )
        await self.notify.alarm_changed(alarm)
        return alarm

    async def cancel(self, citizen: Principal, alarm_id: str) -> dict:
        """The citizen withdraws the alarm, possible until the officer arrives."""
        oid = object_id(alarm_id)
        alarm = await self._move(
            oid,
            CANCELLABLE,
            CANCELLED,
            citizen,
            extra_filter={"citizen_id": citizen.id},
            unset=("deadline_at", "next_round_at"),
        )
        if alarm is None:
            current = await self.visible(citizen, alarm_id)
            raise Conflict(
                "The officer has arrived; the alarm can no longer be cancelled."
                if current["status"] == ARRIVED
                else f"The alarm is already {current['status']}.",
                "bad_transition",
            )
        await self.notify.alarm_changed(alarm)
        return alarm

    async def rate(self, citizen: Principal, alarm_id: str, stars, comment) -> dict:
        """1-5 stars and a comment, once, after resolution."""
        if isinstance(stars, bool) or stars not in (1, 2, 3, 4, 5):
            raise Invalid("Give 1 to 5 stars.", "bad_rating")
        comment = _text(comment, MAX_COMMENT, "comment", "bad_text")
        rating = {"stars": stars, "comment": comment, "at": now()}
        alarm = await self.db.alarms.find_one_and_update(
            {
                "_id": object_id(alarm_id),
                "citizen_id": citizen.id,
                "status": RESOLVED,
                "rating": None,
            },
            {"$set": {"rating": rating, "updated_at": now()}},
            return_document=ReturnDocument.AFTER,
        )
        if alarm is None:
            current = await self.visible(citizen, alarm_id)
            reason = "already_rated" if current.get("rating") else "not_resolved"
            raise Conflict("This alarm cannot be rated now.", reason)
        await self.notify.alarm_changed(alarm)
        return alarm

    async def escalate(self, alarm_id) -> dict | None:
        """Pass an unclaimed alarm to the command room (its deadline passed)."""
        current = await self.db.alarms.find_one({"_id": alarm_id}, {"location": 1})
        if current is None:
            return None
        station = await self.db.stations.find_one(
            {"zone": {"$geoIntersects": {"$geometry": current["location"]}}},
            {"_id": 1, "name": 1},
        )
        alarm = await self._move(
            alarm_id,
            (OFFERING,),
            ESCALATED,
            None,
            extra_filter={"deadline_at": {"$lte": now()}},
            set_fields={
                "suggested_station": station
                and {
                    "id": station["_id"],
                    "name": station.get("name"),
                },
                "escalated_at": now(),
            },
            unset=("deadline_at", "next_round_at"),
            note="unclaimed within the claim window",
        )
        if alarm is not None:
            log.info(
                "alarm %s escalated; suggested station %s",
                alarm_id,
                station and station["_id"],
            )
            await self.notify.alarm_escalated(alarm)
        return alarm

    async def dispatch(self, commander: Principal, alarm_id: str, officer_id) -> dict:
        """The command room assigns (or reassigns) an officer."""
        if not isinstance(officer_id, str):
            raise Invalid("Choose an officer.", "officer_required")
        oid = object_id(alarm_id)
        before = await self.visible(commander, alarm_id)
        assignee = await self._assignee(officer_id, commander.tenant_id, "dispatch")
        alarm = await self._move(
            oid,
            REASSIGNABLE,
            ASSIGNED,
            commander,
            extra_filter={"tenant_id": commander.tenant_id},
            set_fields={"assignee": assignee},
            note=f"dispatched to {assignee['name']}",
        )
        if alarm is None:
            raise Conflict(
                f"The alarm is {before['status']}; it cannot be dispatched.",
                "bad_transition",
            )
        log.info("alarm %s dispatched to officer %s", alarm_id, officer_id)
        await self.notify.alarm_assigned(alarm, previous=before.get("assignee"))
        return alarm

    async def close(self, commander: Principal, alarm_id: str, note) -> dict:
        """The command room closes an alarm with a note."""
        note = _text(note, MAX_NOTE, "note", "bad_text")
        if not note:
            raise Invalid("Add a note on why the alarm is closed.", "note_required")
        await self.visible(commander, alarm_id)
        alarm = await self._move(
            object_id(alarm_id),
            CLOSABLE,
            CLOSED,
            commander,
            extra_filter={"tenant_id": commander.tenant_id},
            set_fields={"outcome": note},
            note=note,
        )
        if alarm is None:
            raise Conflict("This alarm cannot be closed now.", "bad_transition")
        await self.notify.alarm_changed(alarm)
        return alarm


def _value(outcome):
    """An outcome gathered with ``return_exceptions``: its value, or raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _claim_refusal(officer: Principal, current: dict | None) -> DomainError:
    """Why a claim of the alarm as it is now (``current``) does not succeed."""
    if current is None or current["tenant_id"] != officer.tenant_id:
        return NotFound("No such alarm.")
    if officer.id not in current.get("offered", []):
        return Forbidden("This alarm was not offered to you.", "not_offered")
    return _offer_over(current["status"])


def _offer_over(status: str) -> Conflict:
    """Why an offer can no longer be claimed or declined, by the alarm's status."""
    if status in (ASSIGNED, EN_ROUTE, ARRIVED, RESOLVED, CLOSED):
        return Conflict("Another officer has already taken this alarm.", "taken")
    if status == ESCALATED:
        return Conflict("The offer has expired; the command room has it.", "expired")
    return Conflict("The citizen has cancelled this alarm.", "cancelled")


def may_see(principal: Principal, alarm: dict) -> bool:
    """The citizen who raised it, its officer, and its tenant's command room."""
    if principal.kind == "citizen":
        return alarm.get("citizen_id") == principal.id
    if principal.tenant_id != alarm.get("tenant_id"):
        return access.PLATFORM_ADMIN in principal.roles
    if principal.has("command.watch"):
        return True
    assignee = alarm.get("assignee") or {}
    return assignee.get("officer_id") == principal.id or (
        principal.id in alarm.get("offered", [])
    )


def _number(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise Invalid("The location must be numbers.", "bad_location") from None
    return value

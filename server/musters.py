"""Emergency musters (紧急集结): every officer near a scene alerted at once.

A commander starts a muster for a place and a radius, with a message, how
many people are needed and until when it runs. Every officer of the tenant
whose whereabouts fall inside the radius is alerted at once, on duty or off:

- on duty (or busy): by their live position, else the last one they shared,
  else their home station;
- off duty: only as the tenant's ``muster_off_duty`` setting allows, by the
  last position shared while on duty (``last_position``, the default) or by
  their home station (``home_station``). Off-duty officers are never tracked:
  positions are only ever written while on duty (`server.officers`), and an
  officer who never shared one and has no station is not alerted.

Agencies that the muster's agency grants ``musters`` (`server.grants`) have
their officers inside the radius alerted too, each by their own agency's
off-duty rule; their roll entries and their view of the muster name the
agency that called it. An officer keeps the muster they were alerted to
(answering, seeing it end) even if the grant ends meanwhile: the call went
out while it was in force.

The alert goes to ``user:<id>`` (event ``muster.alert``) and by web push
(urgent, `server.push`). Each officer answers ``coming`` (with an ETA from
the straight-line distance) or ``cannot``, and may change the answer while
the muster runs. The command room follows the roll call on ``muster:<id>``
(event ``muster.updated``: the muster's counts and the roll entries that
changed) and the list of musters on ``command:<tenant>``. It can widen the
radius (newcomers are alerted), remind those who have not answered (alerted
again), and end the muster; so does the clock at ``ends_at``. Everyone
alerted is told it ended (``muster.ended``, and a push replacing the alert).

Every change is one atomic update whose filter requires the muster to be
active, so an answer racing the end is refused with ``muster_ended``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from server import access, geo
from server.access import Principal
from server.catalog import settings_of
from server.errors import Conflict, Invalid, NotFound
from server.storage import object_id

log = logging.getLogger(__name__)

ACTIVE, ENDED = "active", "ended"
COMING, CANNOT = "coming", "cannot"
ANSWERS = (COMING, CANNOT)
OFF_DUTY_RULES = ("last_position", "home_station")

# A muster point is a place, not a building: under 100 m every officer
# already at the scene is "in the radius" and nobody else.
RADIUS_MIN_M = 100
# 20 km covers a whole city district and its neighbours; an officer farther
# away needs most of an hour through city traffic, and calling up a city's
# whole force is a mobilisation order, not a muster.
RADIUS_MAX_M = 20_000
# More than a district's whole force; a bigger number is a typing error.
NEEDED_MAX = 1000
MESSAGE_MAX = 500
ADDRESS_MAX = 200
NOTE_MAX = 500
# A muster ends by itself if nobody ends it: two hours covers the build-up of
# a large incident, a day bounds a forgotten one (and its push TTL).
DEFAULT_DURATION = dt.timedelta(hours=2)
MAX_DURATION = dt.timedelta(hours=24)
# The ETA is the straight-line distance at an assumed urban speed (about
# 25 km/h door to door, as for alarms): roads are longer than the line and
# lights cost time, so it is a rough guide for the board, not a promise.
ETA_SPEED_M_S = 7.0
# A second reminder within this long is refused: a double click must not ring
# every phone twice, and officers need a moment to answer the first.
REMIND_GAP_S = 30
# The command room lists this many recent musters; far more than run at once.
LIST_MAX = 50
# Officers of one tenant considered per muster: the roster is read whole (a
# district has hundreds) and matched in memory, which beats a geo query on the
# embedded store (it scans every document anyway) and needs two queries in
# all, positions and stations together. This bound only stops a runaway.
ROSTER_MAX = 5000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def topic(muster_id) -> str:
    """The command room's topic of one muster's roll call."""
    return f"muster:{muster_id}"


# -- input ---------------------------------------------------------------------


def _text(value, limit: int, what: str, reason: str, required=False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"The {what} must be text.", reason)
    value = value.strip()
    if required and not value:
        raise Invalid(f"Write the {what}.", f"{what}_required")
    if len(value) > limit:
        raise Invalid(f"The {what} is longer than {limit} characters.", reason)
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid(f"The {what} contains control characters.", reason)
    return value


def _whole(value, what: str, reason: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(f"The {what} must be a number.", reason)
    if value != int(value):
        raise Invalid(f"The {what} must be a whole number.", reason)
    return int(value)


def radius_of(value) -> int:
    """A radius in metres within the bounds, or `Invalid` saying which."""
    radius = _whole(value, "radius", "bad_radius")
    if radius < RADIUS_MIN_M:
        raise Invalid(f"The radius must be at least {RADIUS_MIN_M} m.", "bad_radius")
    if radius > RADIUS_MAX_M:
        raise Invalid(
            f"The radius may be at most {RADIUS_MAX_M // 1000} km.", "radius_too_large"
        )
    return radius


def needed_of(value) -> int:
    needed = _whole(value, "headcount", "bad_needed")
    if needed < 1:
        raise Invalid("Ask for at least one person.", "bad_needed")
    if needed > NEEDED_MAX:
        raise Invalid(f"Ask for at most {NEEDED_MAX} people.", "bad_needed")
    return needed


def ends_at_of(value, start: dt.datetime) -> dt.datetime:
    """When the muster ends: after its start, within `MAX_DURATION`."""
    if value is None:
        return start + DEFAULT_DURATION
    if not isinstance(value, str):
        raise Invalid("The end must be a date and time.", "bad_ends_at")
    try:
        ends = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("The end must be an ISO 8601 time.", "bad_ends_at") from None
    if ends.tzinfo is None:
        raise Invalid("The end must say its time zone.", "bad_ends_at")
    ends = ends.astimezone(dt.UTC)
    if ends <= start:
        raise Invalid("The muster must end after it starts.", "ends_before_start")
    if ends - start > MAX_DURATION:
        raise Invalid("A muster lasts at most 24 hours.", "muster_too_long")
    return ends


def _coordinates(body: dict) -> dict:
    return geo.point(body.get("lon"), body.get("lat"))


# -- views ---------------------------------------------------------------------


def counts(muster: dict) -> dict:
    roll = muster["alerted"]
    coming = sum(1 for e in roll if e["answer"] == COMING)
    cannot = sum(1 for e in roll if e["answer"] == CANNOT)
    return {
        "alerted": len(roll),
        "coming": coming,
        "cannot": cannot,
        "pending": len(roll) - coming - cannot,
        "needed": muster["needed"],
        "short": max(0, muster["needed"] - coming),
    }


def summary_view(muster: dict) -> dict:
    """A muster without its roll: the command room's list, a board's header."""
    return {
        "id": str(muster["_id"]),
        "status": muster["status"],
        "place": muster["place"],
        "address": muster.get("address", ""),
        "radius_m": muster["radius_m"],
        "message": muster["message"],
        "needed": muster["needed"],
        "off_duty_rule": muster["off_duty_rule"],
        "created_by": muster["created_by"],
        "created_at": muster["created_at"],
        "ends_at": muster["ends_at"],
        "ended_at": muster.get("ended_at"),
        "end_reason": muster.get("end_reason"),
        "end_note": muster.get("end_note", ""),
        "reminders": muster.get("reminders", 0),
        "reminded_at": muster.get("reminded_at"),
        "counts": counts(muster),
    }


def entry_view(entry: dict) -> dict:
    """One line of the roll call."""
    return {
        k: entry.get(k)
        for k in (
            "officer_id",
            "tenant_id",
            "agency",
            "name",
            "badge_no",
            "station_id",
            "duty",
            "basis",
            "connected",
            "distance_m",
            "alerted_at",
            "answer",
            "answered_at",
            "eta_s",
        )
    }


def _roll_order(entry: dict) -> tuple:
    # Coming first, soonest there first; then those yet to answer, nearest
    # first (the ones to call); then those who cannot.
    rank = {COMING: 0, None: 1, CANNOT: 2}[entry["answer"]]
    key = entry["eta_s"] if entry["answer"] == COMING else entry["distance_m"]
    return rank, key or 0, entry["name"]


def board_view(muster: dict) -> dict:
    """The command room's roll-call board: the muster and every line."""
    roll = sorted(muster["alerted"], key=_roll_order)
    return {**summary_view(muster), "roll": [entry_view(e) for e in roll]}


def officer_view(muster: dict, officer_id: str) -> dict:
    """A muster as one alerted officer sees it: the call and their answer."""
    entry = entry_of(muster, officer_id) or {}
    return {
        "id": str(muster["_id"]),
        # Whose call it is: another agency's, for an officer it was granted.
        "agency": {
            "id": muster["tenant_id"],
            "name": muster.get("tenant_name") or muster["tenant_id"],
        },
        "status": muster["status"],
        "place": muster["place"],
        "address": muster.get("address", ""),
        "radius_m": muster["radius_m"],
        "message": muster["message"],
        "needed": muster["needed"],
        "coming": counts(muster)["coming"],
        "created_by": muster["created_by"]["name"],
        "created_at": muster["created_at"],
        "ends_at": muster["ends_at"],
        "ended_at": muster.get("ended_at"),
        "end_note": muster.get("end_note", ""),
        "distance_m": entry.get("distance_m"),
        "alerted_at": entry.get("alerted_at"),
        "answer": entry.get("answer"),
        "answered_at": entry.get("answered_at"),
        "eta_s": entry.get("eta_s"),
    }


def entry_of(muster: dict, officer_id: str) -> dict | None:
    return next((e for e in muster["alerted"] if e["officer_id"] == officer_id), None)


def eta_s(distance_m: float) -> int:
    """Seconds to cover ``distance_m`` at the assumed urban speed."""
    return round(distance_m / ETA_SPEED_M_S)


def whereabouts(
    user: dict, live, stations: dict[str, dict], rule: str
) -> tuple[list[float] | None, str | None, str]:
    """Where a muster looks for an officer: (lon/lat, basis, duty).

    ``live`` is the officer's presence state when connected. The basis is
    ``position`` (live or last shared) or ``station`` (the home station).
    """
    duty = live.duty if live is not None else user.get("duty", "off")
    station = stations.get(user.get("station_id") or "")
    home = (station or {}).get("location") or {}
    stored = (user.get("position") or {}).get("coordinates")
    if duty != "off":
        if live is not None and live.lon is not None:
            return [live.lon, live.lat], "position", duty
        if stored:
            return stored, "position", duty
        if home.get("coordinates"):
            return home["coordinates"], "station", duty
        return None, None, duty
    # Off duty: only what the agency allows, and never a live position (an
    # off-duty officer's socket reports none; the stored one predates it).
    if rule == "home_station":
        coords = home.get("coordinates")
        return (coords, "station", duty) if coords else (None, None, duty)
    return (stored, "position", duty) if stored else (None, None, duty)


class MusterService:
    """Musters over MongoDB; alerts through the hub and web push."""

    def __init__(self, db: AsyncDatabase, hub, presence, timers):
        self.db = db
        self.hub = hub
        self.presence = presence
        self.timers = timers
        self.push = None  # server.push.PushService, set by the platform
        self.audit = None  # server.audit.AuditLog, set by the platform
        # server.grants.GrantService, set by the platform: agencies whose
        # officers the muster's agency may call up near their shared border.
        self.grants = None

    # -- reading ---------------------------------------------------------------

    async def _get(self, principal: Principal, muster_id) -> dict:
        muster = await self.db.musters.find_one({"_id": object_id(muster_id)})
        if muster is None:
            raise NotFound("No such muster.")
        access.require_tenant(principal, muster["tenant_id"])
        return muster

    async def for_command(self, principal: Principal, muster_id) -> dict:
        """A muster of the commander's own tenant; else `NotFound`."""
        return await self._get(principal, muster_id)

    async def for_officer(self, principal: Principal, muster_id) -> dict:
        """A muster this officer was alerted to; else `NotFound`.

        Being on the roll is the whole test: an officer of another agency is
        on it only through a ``musters`` grant in force when alerted.
        """
        muster = await self.db.musters.find_one({"_id": object_id(muster_id)})
        if muster is None or entry_of(muster, principal.id) is None:
            raise NotFound("No such muster.")
        return muster

    async def view(self, principal: Principal, muster_id) -> dict:
        """The board for the command room, the officer's own view for officers."""
        if principal.has("muster.command"):
            return board_view(await self.for_command(principal, muster_id))
        muster = await self.for_officer(principal, muster_id)
        return officer_view(muster, principal.id)

    async def recent(self, principal: Principal, active_only: bool) -> list[dict]:
        """The tenant's musters, running ones first, then the newest."""
        query: dict[str, Any] = {"tenant_id": principal.tenant_id}
        if active_only:
            query["status"] = ACTIVE
        cursor = self.db.musters.find(query, {"history": 0})
        found = await cursor.sort("created_at", -1).limit(LIST_MAX).to_list()
        found.sort(key=lambda m: m["status"] != ACTIVE)
        return found

    async def of_officer(self, principal: Principal) -> list[dict]:
        """Running musters the officer was alerted to, newest first."""
        # Not by tenant: a granted agency's muster has this officer on its roll.
        cursor = self.db.musters.find(
            {"status": ACTIVE, "alerted.officer_id": principal.id}
        )
        return await cursor.sort("created_at", -1).limit(LIST_MAX).to_list()

    # -- starting --------------------------------------------------------------

    async def start(self, commander: Principal, body: dict) -> dict:
        """Validate, find every officer in the radius, store, alert them all."""
        at = now()
        place = _coordinates(body)
        radius = radius_of(body.get("radius_m"))
        message = _text(
            body.get("message"), MESSAGE_MAX, "message", "bad_message", True
        )
        needed = needed_of(body.get("needed"))
        ends_at = ends_at_of(body.get("ends_at"), at)
        address = _text(body.get("address"), ADDRESS_MAX, "address", "bad_address")
        tenant = await self._tenant_at(commander, place)
        rule = settings_of(tenant).get("muster_off_duty")
        if rule not in OFF_DUTY_RULES:
            log.warning("tenant %s: unknown muster_off_duty %r", tenant["_id"], rule)
            rule = OFF_DUTY_RULES[0]  # the rule that reveals the least
        muster = {
            "_id": ObjectId(),
            "tenant_id": tenant["_id"],
            # Shown to officers of granted agencies: whose call this is.
            "tenant_name": tenant.get("name") or tenant["_id"],
            "status": ACTIVE,
            "place": place,
            "address": address,
            "radius_m": radius,
            "message": message,
            "needed": needed,
            "off_duty_rule": rule,
            "created_by": {"id": commander.id, "name": commander.name},
            "created_at": at,
            "updated_at": at,
            "ends_at": ends_at,
            "reminders": 0,
            "reminded_at": None,
            "alerted": [],
            "history": [_step("started", commander, radius_m=radius)],
        }
        muster["alerted"] = await self._newly_in_radius(muster, radius)
        await self.db.musters.insert_one(muster)
        log.info(
            "muster %s started by %s: radius %dm, %d officers alerted, %d needed",
            muster["_id"],
            commander.id,
            radius,
            len(muster["alerted"]),
            needed,
        )
        self._arm(muster)
        self._alert(muster, muster["alerted"], reminder=False)
        self._announce(muster, "muster.started", muster["alerted"])
        self._audit(
            commander,
            muster,
            "muster.start",
            radius_m=radius,
            alerted=len(muster["alerted"]),
        )
        return muster

    def _audit(self, principal, muster: dict, action: str, **detail) -> None:
        self.audit.record(
            principal,
            action,
            tenant_id=muster["tenant_id"],
            target=("muster", muster["_id"]),
            detail=detail,
        )

    async def _tenant_at(self, commander: Principal, place: dict) -> dict:
        """The commander's tenant, if its territory contains the place."""
        tenant = await self.db.tenants.find_one(
            {
                "_id": commander.tenant_id,
                "territory": {"$geoIntersects": {"$geometry": place}},
            }
        )
        if tenant is None:
            raise Invalid(
                "The place is outside your agency's territory.",
                "place_outside_territory",
            )
        return tenant

    async def _called_agencies(self, muster: dict) -> dict[str, tuple[str, str]]:
        """Agencies whose officers this muster calls: (off-duty rule, name).

        The muster's own, and those it grants ``musters`` to now; each
        agency's officers are found by its own rule, since how much of an
        off-duty officer may be used is that agency's decision.
        """
        tenant_id = muster["tenant_id"]
        called = {tenant_id: (muster["off_duty_rule"], muster.get("tenant_name"))}
        if self.grants is None:
            return called
        granted = await self.grants.grantees_of(tenant_id, "musters")
        if granted:
            cursor = self.db.tenants.find(
                {"_id": {"$in": granted}}, {"settings": 1, "name": 1}
            )
            async for other in cursor:
                rule = settings_of(other).get("muster_off_duty")
                if rule not in OFF_DUTY_RULES:
                    rule = OFF_DUTY_RULES[0]  # the rule that reveals the least
                called[other["_id"]] = (rule, other.get("name") or other["_id"])
        return called

    async def _newly_in_radius(
        self, muster: dict, radius: float, already: set[str] = frozenset()
    ) -> list[dict]:
        """Roll entries for the officers inside ``radius`` not yet alerted."""
        called = await self._called_agencies(muster)
        agencies = sorted(called)
        lon, lat = muster["place"]["coordinates"]
        stations = {
            s["_id"]: s
            async for s in self.db.stations.find(
                {"tenant_id": {"$in": agencies}}, {"location": 1}
            )
        }
        cursor = self.db.users.find(
            {
                "tenant_id": {"$in": agencies},
                "roles": access.OFFICER,
                "disabled": {"$ne": True},
            },
            {
                "tenant_id": 1,
                "name": 1,
                "badge_no": 1,
                "station_id": 1,
                "duty": 1,
                "position": 1,
            },
        ).limit(ROSTER_MAX)
        at = now()
        found = []
        async for user in cursor:
            officer_id = str(user["_id"])
            if officer_id in already:
                continue
            live = self.presence.officers.get(officer_id)
            rule, agency = called[user["tenant_id"]]
            coords, basis, duty = whereabouts(user, live, stations, rule)
            if coords is None:
                continue
            distance = geo.distance_m(lon, lat, *coords)
            if distance > radius:
                continue
            found.append(
                {
                    "officer_id": officer_id,
                    "tenant_id": user["tenant_id"],
                    # Named on the board when another agency lent the officer.
                    "agency": None
                    if user["tenant_id"] == muster["tenant_id"]
                    else agency,
                    "name": user.get("name", ""),
                    "badge_no": user.get("badge_no"),
                    "station_id": user.get("station_id"),
                    "duty": duty,
                    "basis": basis,
                    "connected": live is not None,
                    "distance_m": round(distance),
                    "alerted_at": at,
                    "answer": None,
                    "answered_at": None,
                    "eta_s": None,
                }
            )
        return found

    # -- the command room's actions --------------------------------------------

    async def _active(self, commander: Principal, muster_id) -> dict:
        muster = await self.for_command(commander, muster_id)
        if muster["status"] != ACTIVE:
            raise _ended()
        return muster

    async def widen(self, commander: Principal, muster_id, radius_m) -> dict:
        """A larger radius; officers it newly takes in are alerted."""
        muster = await self._active(commander, muster_id)
        radius = radius_of(radius_m)
        if radius <= muster["radius_m"]:
            raise Invalid(
                f"The new radius must exceed {muster['radius_m']} m.", "not_wider"
            )
        already = {e["officer_id"] for e in muster["alerted"]}
        added = await self._newly_in_radius(muster, radius, already)
        done = await self.db.musters.update_one(
            {"_id": muster["_id"], "status": ACTIVE, "radius_m": muster["radius_m"]},
            {
                "$set": {"radius_m": radius, "updated_at": now()},
                "$push": {
                    "alerted": {"$each": added},
                    "history": _step("widened", commander, radius_m=radius),
                },
            },
        )
        if not done.modified_count:
            await self._refused_change(commander, muster_id)
        muster = await self.for_command(commander, muster_id)
        log.info(
            "muster %s widened to %dm by %s: %d more alerted",
            muster_id,
            radius,
            commander.id,
            len(added),
        )
        self._alert(muster, added, reminder=False)
        self._announce(muster, "muster.updated", added)
        self._audit(
            commander, muster, "muster.widen", radius_m=radius, added=len(added)
        )
        return muster

    async def remind(self, commander: Principal, muster_id) -> tuple[dict, int]:
        """Alert again everyone who has not answered; returns (muster, how many)."""
        muster = await self._active(commander, muster_id)
        at = now()
        last = muster.get("reminded_at")
        if last is not None and (at - last).total_seconds() < REMIND_GAP_S:
            raise Conflict(
                f"A reminder went out less than {REMIND_GAP_S} s ago.",
                "remind_too_soon",
            )
        silent = [e for e in muster["alerted"] if e["answer"] is None]
        done = await self.db.musters.update_one(
            {"_id": muster["_id"], "status": ACTIVE},
            {
                "$set": {"reminded_at": at, "updated_at": at},
                "$inc": {"reminders": 1},
                "$push": {"history": _step("reminded", commander, count=len(silent))},
            },
        )
        if not done.modified_count:
            raise _ended()
        muster = await self.for_command(commander, muster_id)
        log.info(
            "muster %s: %d non-responders reminded by %s",
            muster_id,
            len(silent),
            commander.id,
        )
        self._alert(muster, silent, reminder=True)
        self._announce(muster, "muster.updated", [])
        self._audit(commander, muster, "muster.remind", reminded=len(silent))
        return muster, len(silent)

    async def end(self, commander: Principal, muster_id, note) -> dict:
        """End the muster now; everyone alerted is told."""
        note = _text(note, NOTE_MAX, "note", "bad_note")
        await self.for_command(commander, muster_id)
        muster = await self._finish(object_id(muster_id), "ended", commander, note)
        if muster is None:
            raise _ended()
        return muster

    async def expire(self, muster_id) -> dict | None:
        """The clock reached ``ends_at``: end the muster if still running."""
        return await self._finish(muster_id, "expired", None, "", due=True)

    async def _finish(self, oid, reason, principal, note, due=False) -> dict | None:
        at = now()
        query: dict[str, Any] = {"_id": oid, "status": ACTIVE}
        if due:
            query["ends_at"] = {"$lte": at}
        done = await self.db.musters.update_one(
            query,
            {
                "$set": {
                    "status": ENDED,
                    "ended_at": at,
                    "end_reason": reason,
                    "end_note": note,
                    "updated_at": at,
                },
                "$push": {"history": _step(reason, principal, note=note)},
            },
        )
        if not done.modified_count:
            return None
        self.timers.cancel(f"muster:{oid}")
        muster = await self.db.musters.find_one({"_id": oid})
        log.info(
            "muster %s %s (%s): %d alerted told",
            oid,
            reason,
            principal.id if principal else "clock",
            len(muster["alerted"]),
        )
        ended = {"muster_id": str(oid), "end_note": note, "end_reason": reason}
        for entry in muster["alerted"]:
            self.hub.publish(f"user:{entry['officer_id']}", "muster.ended", ended)
        if self.push is not None:
            self.push.muster_ended(muster)
        self._announce(muster, "muster.ended", [])
        self._audit(principal, muster, f"muster.{reason}")
        return muster

    # -- the officer's answer --------------------------------------------------

    async def answer(self, officer: Principal, muster_id, body: dict) -> dict:
        """``coming`` (with an ETA) or ``cannot``; a second answer replaces it."""
        answer = body.get("answer")
        if answer not in ANSWERS:
            raise Invalid("Answer coming or cannot.", "bad_muster_answer")
        muster = await self.for_officer(officer, muster_id)
        entry = entry_of(muster, officer.id)
        distance = entry["distance_m"]
        if body.get("lon") is not None or body.get("lat") is not None:
            here = _coordinates(body)["coordinates"]
            distance = round(geo.distance_m(*muster["place"]["coordinates"], *here))
        at = now()
        done = await self.db.musters.update_one(
            {
                "_id": muster["_id"],
                "status": ACTIVE,
                "ends_at": {"$gt": at},
                "alerted": {"$elemMatch": {"officer_id": officer.id}},
            },
            {
                "$set": {
                    "alerted.$.answer": answer,
                    "alerted.$.answered_at": at,
                    "alerted.$.distance_m": distance,
                    "alerted.$.eta_s": eta_s(distance) if answer == COMING else None,
                    "updated_at": at,
                }
            },
        )
        if not done.modified_count:
            if muster["status"] == ACTIVE:
                # Past its end, with the clock's timer not yet run: end it now.
                await self.expire(muster["_id"])
            raise _ended()
        muster = await self.for_officer(officer, muster_id)
        log.info("muster %s: officer %s answered %s", muster_id, officer.id, answer)
        view = officer_view(muster, officer.id)
        # The officer's other devices close their alert too.
        self.hub.publish(f"user:{officer.id}", "muster.answered", view)
        self._announce(muster, "muster.updated", [entry_of(muster, officer.id)])
        return muster

    async def _refused_change(self, principal: Principal, muster_id) -> None:
        current = await self.for_command(principal, muster_id)
        if current["status"] != ACTIVE:
            raise _ended()
        raise Conflict("The muster changed meanwhile; try again.", "muster_changed")

    # -- notifying -------------------------------------------------------------

    def _alert(self, muster: dict, entries: list[dict], reminder: bool) -> None:
        """The alert on each officer's topic, and by push to their devices."""
        for entry in entries:
            view = officer_view(muster, entry["officer_id"])
            self.hub.publish(
                f"user:{entry['officer_id']}",
                "muster.alert",
                {**view, "reminder": reminder},
            )
        # TODO(push records): push outcomes are only counted in the log, not
        # kept per officer as offers' are, so the board cannot yet tell an
        # alert that never reached a phone from one that was ignored.
        if entries and self.push is not None:
            self.push.muster_alert(muster, entries, reminder)

    def _announce(self, muster: dict, event: str, changed: list[dict]) -> None:
        """The board's roll-call update, and the command room's muster list."""
        summary = summary_view(muster)
        self.hub.publish(
            topic(muster["_id"]),
            "muster.updated",
            {"muster": summary, "changed": [entry_view(e) for e in changed]},
        )
        self.hub.publish(f"command:{muster['tenant_id']}", event, summary)

    # -- the clock -------------------------------------------------------------

    def _arm(self, muster: dict) -> None:
        muster_id = muster["_id"]
        self.timers.arm(
            f"muster:{muster_id}",
            muster["ends_at"],
            lambda: self.expire(muster_id),
        )

    async def rearm(self) -> int:
        """Arm the end of every running muster (after a start)."""
        count = 0
        cursor = self.db.musters.find({"status": ACTIVE}, {"ends_at": 1})
        async for muster in cursor:
            self._arm(muster)
            count += 1
        log.info("re-armed the ends of %d running musters", count)
        return count


def _step(what: str, principal: Principal | None, **details) -> dict:
    actor = (
        {"kind": "system"}
        if principal is None
        else {"kind": principal.kind, "id": principal.id, "name": principal.name}
    )
    return {"what": what, "at": now(), "actor": actor, **details}


def _ended() -> Conflict:
    return Conflict("This muster has ended.", "muster_ended")

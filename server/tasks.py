"""The task board (任务发布): non-urgent work matched to officers who want it.

A commander or admin publishes a task (a place, a time, how many people,
skills wanted, a sign-up deadline); officers of the agency sign up or
withdraw before the deadline. Sign-ups are confirmed at once (``auto``) or
by the publisher (``manual``).

Capacity is exact. A task document holds its whole roster and ``held``, the
number of places taken (confirmed or awaiting the publisher), and every
change of a place is one conditional update of that one document: taking a
place requires ``held < needed``, so however many officers press at once,
the last place goes to exactly one of them; the others join the waiting
list. A freed place (a withdrawal, a declined sign-up, a larger headcount)
goes to the longest-waiting officer by the same kind of update.

Officers hear of confirmation, promotion from the waiting list, changes,
messages and cancellation on their websocket topic ``user:<id>`` (event
``task.updated``) and by web push where they turned notifications on. The
board itself (topic ``tasks:<tenant>``, event ``task.changed``) tells every
open task page which task to fetch again.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from typing import Any

import geojson
from pymongo.asynchronous.database import AsyncDatabase

from server import access, geo, i18n, specialties
from server.access import Principal
from server.errors import Conflict, Invalid, NotFound
from server.storage import object_id

log = logging.getLogger(__name__)

TITLE_MAX = 120
DESCRIPTION_MAX = 4000
PLACE_NAME_MAX = 200
MESSAGE_MAX = 1000
# A task is a shift's work or an event's: a fortnight covers the longest.
LONGEST = dt.timedelta(days=14)
# Planned up to a year ahead, not beyond (a typo in the year, most likely).
FURTHEST = dt.timedelta(days=366)
NEEDED_MAX = 500
SKILLS_MAX = 10
# The vertices of a drawn area; a street block needs a handful.
AREA_VERTICES_MAX = 200
# Messages kept on a task for the roster to read back.
MESSAGES_KEPT = 100
# Sign-ups changed by one update at most this many times in a row before the
# caller is told to try again: each retry means another request won a race.
RETRIES = 8

OPEN, CANCELLED = "open", "cancelled"
AUTO, MANUAL = "auto", "manual"
CONFIRMED, PENDING, WAITING = "confirmed", "pending", "waiting"
WITHDRAWN, DECLINED = "withdrawn", "declined"
HOLDING = (CONFIRMED, PENDING)  # states that take one of the places
ACTIVE = (*HOLDING, WAITING)
ENDED = (WITHDRAWN, DECLINED)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- input -----------------------------------------------------------------


def _text(value, limit: int, what: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid(f"The {what} must be text.", f"bad_{what}")
    value = value.strip()
    if required and not value:
        raise Invalid(f"Give the {what}.", f"bad_{what}")
    if len(value) > limit:
        raise Invalid(f"The {what} is longer than {limit} characters.", f"bad_{what}")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid(f"The {what} contains control characters.", f"bad_{what}")
    return value


def parse_time(value, what: str) -> dt.datetime:
    """An ISO 8601 time with its offset (``2026-12-04T09:00:00+08:00``), in UTC."""
    if not isinstance(value, str):
        raise Invalid(f"Give the {what} as an ISO 8601 time.", "bad_time")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"The {what} is not an ISO 8601 time.", "bad_time") from None
    if when.tzinfo is None:
        raise Invalid(f"The {what} needs its UTC offset.", "bad_time")
    # MongoDB keeps milliseconds: compare what is stored with what is stored.
    when = when.astimezone(dt.UTC)
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def parse_place(value) -> tuple[dict, dict]:
    """A GeoJSON Point or Polygon; returns it and the point to measure from."""
    if not isinstance(value, dict) or value.get("type") not in ("Point", "Polygon"):
        raise Invalid("The place is a GeoJSON Point or Polygon.", "bad_place")
    if value["type"] == "Point":
        coordinates = value.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) != 2:
            raise Invalid("A point is [longitude, latitude].", "bad_place")
        point = geo.point(*coordinates)
        return point, point
    rings = value.get("coordinates")
    if (
        not isinstance(rings, list)
        or len(rings) != 1
        or not isinstance(rings[0], list)
        or not 4 <= len(rings[0]) <= AREA_VERTICES_MAX
    ):
        raise Invalid(
            f"An area is one closed ring of 4 to {AREA_VERTICES_MAX} positions.",
            "bad_place",
        )
    ring = []
    for position in rings[0]:
        if not isinstance(position, list) or len(position) != 2:
            raise Invalid("Each position is [longitude, latitude].", "bad_place")
        ring.append(geo.point(*position)["coordinates"])
    polygon = geojson.Polygon([ring])
    if ring[0] != ring[-1] or not polygon.is_valid:
        raise Invalid("The area's ring must be closed and valid.", "bad_place")
    # The mean of the vertices stands for the area when measuring distance:
    # close enough for the compact areas tasks cover.
    corners = ring[:-1]
    centre = geo.point(
        sum(p[0] for p in corners) / len(corners),
        sum(p[1] for p in corners) / len(corners),
    )
    return {"type": "Polygon", "coordinates": [ring]}, centre


# -- views -----------------------------------------------------------------


def member_of(task: dict, officer_id: str) -> dict | None:
    return next((e for e in task["roster"] if e["officer_id"] == officer_id), None)


def _order(entry: dict) -> tuple:
    rank = {CONFIRMED: 0, PENDING: 0, WAITING: 1}.get(entry["state"], 2)
    return rank, entry["queued_at"]


def entry_view(entry: dict) -> dict:
    return {
        "officer_id": entry["officer_id"],
        "name": entry["name"],
        "state": entry["state"],
        "signed_at": entry["signed_at"],
        "decided_at": entry.get("decided_at"),
    }


def waiting_position(task: dict, entry: dict) -> int | None:
    if entry["state"] != WAITING:
        return None
    ahead = [
        e
        for e in task["roster"]
        if e["state"] == WAITING and e["queued_at"] < entry["queued_at"]
    ]
    return len(ahead) + 1


def task_view(task: dict, viewer_id: str, manager: bool) -> dict[str, Any]:
    """A task as an officer sees it, or (``manager``) with roster and messages."""
    roster = task["roster"]
    mine = member_of(task, viewer_id)
    owner = task.get("shared_from")
    view = {
        "id": str(task["_id"]),
        # A task of another agency (through a tasks grant) says whose it is.
        "shared": owner is not None,
        "tenant": owner or {"id": task["tenant_id"]},
        "title": task["title"],
        "description": task["description"],
        "place": task["place"],
        "place_name": task["place_name"],
        "location": task["location"],
        "starts_at": task["starts_at"],
        "ends_at": task["ends_at"],
        "signup_deadline": task["signup_deadline"],
        "needed": task["needed"],
        "held": task["held"],
        "waiting": sum(1 for e in roster if e["state"] == WAITING),
        "skills": task["skills"],
        "confirm": task["confirm"],
        "status": task["status"],
        "created_by": task["created_by"],
        "created_at": task["created_at"],
        "updated_at": task["updated_at"],
        "invited": any(i["officer_id"] == viewer_id for i in task["invited"]),
        "mine": None,
        "messages": task["messages"] if (manager or mine) else [],
    }
    if mine is not None:
        view["mine"] = {**entry_view(mine), "position": waiting_position(task, mine)}
    if manager:
        view["roster"] = [entry_view(e) for e in sorted(roster, key=_order)]
    return view


def overlapping(a: dict, b: dict) -> bool:
    return a["starts_at"] < b["ends_at"] and b["starts_at"] < a["ends_at"]


# -- the service ------------------------------------------------------------


class TaskService:
    """Tasks and their rosters over MongoDB; news through the hub and push."""

    def __init__(self, db: AsyncDatabase, hub, specialty_service):
        self.db = db
        self.hub = hub
        self.specialties = specialty_service
        # The web push service (set by the platform): news for officers
        # whose app is closed.
        self.push = None
        # Grants between agencies (set by the platform): officers also see,
        # and sign up for, tasks of agencies granting "tasks" to theirs.
        self.grants = None
        # The platform's timers (set by the platform): a shared board
        # followed live stops when its grant runs out.
        self.timers = None

    async def _update(self, query: dict, update: dict) -> dict | None:
        """Apply ``update`` if ``query`` matches; the task as it is after, or None.

        The decision is the conditional ``update_one``; the read after it may
        already include a later change, which callers treat as current. (Not
        ``find_one_and_update``: SecantusDB, the embedded development server,
        rejects the positional ``roster.$`` in findAndModify.)
        """
        result = await self.db.tasks.update_one(query, update)
        if result.matched_count == 0:
            return None
        return await self.db.tasks.find_one({"_id": query["_id"]})

    # -- reading -----------------------------------------------------------

    async def _task(self, principal: Principal, task_id) -> dict:
        task = await self.db.tasks.find_one(
            {"_id": object_id(task_id), "tenant_id": principal.tenant_id}
        )
        if task is None:
            raise NotFound("No such task.")
        return task

    async def _tenants_for(self, principal: Principal) -> list[str]:
        """The agencies whose tasks ``principal`` may see and sign up for.

        Its own, and for officers those granting it "tasks" now (asked on
        every use: a revoked or expired grant stops at once). Managing a
        task always stays with its own agency (`_task`).
        """
        tenants = [principal.tenant_id]
        if self.grants is not None and principal.has("tasks.sign_up"):
            tenants += await self.grants.tenants_granting(principal.tenant_id, "tasks")
        return tenants

    async def may_follow_board(self, principal: Principal, tenant_id: str) -> bool:
        """Whether ``principal`` may follow the live board ``tasks:<tenant_id>``.

        Its own agency's, or for an officer one granting it "tasks" now. A
        socket following a granting agency's board is cut when the grant is
        revoked (`shared_board_ended`) or runs out (the timer armed here).
        """
        if principal.tenant_id == tenant_id:
            return principal.has("tasks.read")
        if self.grants is None or not principal.has("tasks.sign_up"):
            return False
        grantee = principal.tenant_id
        grant = await self.grants.valid(tenant_id, grantee, "tasks")
        if grant is None:
            return False
        if self.timers is not None:
            self.timers.arm(
                f"tasks-grant:{tenant_id}:{grantee}",
                grant["ends_at"],
                lambda: self._recheck_shared_board(tenant_id, grantee),
            )
        return True

    def shared_board_starts(
        self, grantor: str, grantee: str, starts: dt.datetime
    ) -> None:
        """A tasks grant was given: the grantee's open boards load again when
        it starts (event ``tasks.shared_started`` on their own board), and
        from then on follow the grantor's board too.

        A grant starting later is announced by a timer of this process; if
        the process restarts first, the boards pick it up at their next load.
        """

        def announce() -> None:
            self.hub.publish(
                f"tasks:{grantee}", "tasks.shared_started", {"tenant_id": grantor}
            )

        async def announce_later() -> None:
            announce()

        if starts <= now() or self.timers is None:
            announce()
        else:
            key = f"tasks-grant-start:{grantor}:{grantee}"
            self.timers.arm(key, starts, announce_later)

    async def _recheck_shared_board(self, grantor: str, grantee: str) -> None:
        """A tasks grant ran out: unless another holds, cut the board off."""
        if await self.grants.valid(grantor, grantee, "tasks") is None:
            self.shared_board_ended(grantor, grantee)

    def shared_board_ended(self, grantor: str, grantee: str) -> int:
        """Stop the grantee's open boards following the grantor's, live (in
        every process): each socket is told ``tasks.shared_ended``."""
        dropped = self.hub.drop(
            f"tasks:{grantor}",
            None,
            "tasks.shared_ended",
            {"tenant_id": grantor},
            tenant_id=grantee,
        )
        log.info(
            "tasks grant %s to %s ended: %d sockets here stop following",
            grantor,
            grantee,
            dropped,
        )
        return dropped

    async def _task_shared(self, principal: Principal, task_id) -> dict:
        """A task of the caller's agency or of one granting it "tasks"."""
        tenants = await self._tenants_for(principal)
        task = await self.db.tasks.find_one(
            {"_id": object_id(task_id), "tenant_id": {"$in": tenants}}
        )
        if task is None:
            raise NotFound("No such task.")
        (marked,) = await self.mark_shared(principal, [task])
        return marked

    async def mark_shared(self, principal: Principal, tasks: list[dict]) -> list:
        """Tag tasks of other agencies with their owner (id and name)."""
        foreign = {t["tenant_id"] for t in tasks} - {principal.tenant_id}
        if not foreign or self.grants is None:
            return tasks
        names = await self.grants.names(foreign)
        for task in tasks:
            if task["tenant_id"] in foreign:
                task["shared_from"] = {
                    "id": task["tenant_id"],
                    "name": names.get(task["tenant_id"]),
                }
        return tasks

    async def get(self, principal: Principal, task_id) -> dict:
        return await self._task_shared(principal, task_id)

    async def board(
        self, principal: Principal, params: dict
    ) -> tuple[list[dict], list[str]]:
        """Tasks of the agency not yet over, soonest first (filters optional),
        and the agencies whose boards they come from (to follow live).

        ``skill``: tasks asking for it; ``from``/``to``: tasks overlapping that
        time; ``open``: only tasks still taking sign-ups; ``status``
        (managers): ``cancelled`` or ``all`` besides the default ``open``.
        """
        boards = await self._tenants_for(principal)
        query: dict[str, Any] = {
            "tenant_id": {"$in": boards},
            "ends_at": {"$gt": now()},
            "status": OPEN,
        }
        status = params.get("status")
        if status in ("cancelled", "all") and principal.has("tasks.publish"):
            if status == "all":
                del query["status"]
            else:
                query["status"] = CANCELLED
        if params.get("skill"):
            query["skills"] = str(params["skill"])[:40]
        if params.get("from"):
            query["ends_at"] = {"$gt": parse_time(params["from"], "start of the range")}
        if params.get("to"):
            query["starts_at"] = {"$lt": parse_time(params["to"], "end of the range")}
        if params.get("open") in ("1", "true"):
            query["signup_deadline"] = {"$gt": now()}
        cursor = self.db.tasks.find(query).sort("starts_at", 1).limit(200)
        return await self.mark_shared(principal, await cursor.to_list()), boards

    async def schedule(self, principal: Principal) -> list[dict]:
        """The officer's own sign-ups not yet over, each flagged if it overlaps.

        A sign-up overlaps when another of the officer's confirmed tasks
        shares some of its time: the officer cannot be in both places.
        """
        tasks = (
            await self.db.tasks.find(
                {
                    "tenant_id": {"$in": await self._tenants_for(principal)},
                    "roster": {
                        "$elemMatch": {
                            "officer_id": principal.id,
                            "state": {"$in": ACTIVE},
                        }
                    },
                    "ends_at": {"$gt": now()},
                }
            )
            .sort("starts_at", 1)
            .to_list()
        )
        await self.mark_shared(principal, tasks)
        confirmed = [
            t
            for t in tasks
            if t["status"] == OPEN and member_of(t, principal.id)["state"] == CONFIRMED
        ]
        entries = []
        for task in tasks:
            view = task_view(task, principal.id, manager=False)
            view["overlaps"] = [
                {"id": str(o["_id"]), "title": o["title"]}
                for o in confirmed
                if o["_id"] != task["_id"] and overlapping(o, task)
            ]
            entries.append(view)
        return entries

    async def overlaps_for(self, principal: Principal, task: dict) -> list[dict]:
        """The officer's other confirmed tasks that overlap ``task``."""
        cursor = self.db.tasks.find(
            {
                "_id": {"$ne": task["_id"]},
                "tenant_id": {"$in": await self._tenants_for(principal)},
                "status": OPEN,
                "roster": {
                    "$elemMatch": {"officer_id": principal.id, "state": CONFIRMED}
                },
                "starts_at": {"$lt": task["ends_at"]},
                "ends_at": {"$gt": task["starts_at"]},
            },
            {"title": 1},
        )
        return [{"id": str(t["_id"]), "title": t["title"]} async for t in cursor]

    # -- publishing ----------------------------------------------------------

    async def _fields(self, principal: Principal, body: dict, current=None) -> dict:
        """Validated task fields from ``body``; with ``current``, only those given."""
        given = (lambda name: name in body) if current else (lambda name: True)
        fields: dict[str, Any] = {}
        if given("title"):
            fields["title"] = _text(body.get("title"), TITLE_MAX, "title", True)
        if given("description"):
            fields["description"] = _text(
                body.get("description"), DESCRIPTION_MAX, "description"
            )
        if given("place_name"):
            fields["place_name"] = _text(
                body.get("place_name"), PLACE_NAME_MAX, "place_name"
            )
        if given("place"):
            place, centre = parse_place(body.get("place"))
            inside = await self.db.tenants.find_one(
                {
                    "_id": principal.tenant_id,
                    "territory": {"$geoIntersects": {"$geometry": place}},
                },
                {"_id": 1},
            )
            if inside is None:
                raise Invalid(
                    "The place is outside this agency's territory.",
                    "outside_territory",
                )
            fields["place"], fields["location"] = place, centre
        for name, what in (
            ("starts_at", "start"),
            ("ends_at", "end"),
            ("signup_deadline", "sign-up deadline"),
        ):
            if given(name):
                fields[name] = parse_time(body.get(name), what)
        if given("needed"):
            needed = body.get("needed")
            if (
                isinstance(needed, bool)
                or not isinstance(needed, int)
                or not 1 <= needed <= NEEDED_MAX
            ):
                raise Invalid(
                    f"The number of people needed is 1 to {NEEDED_MAX}.", "bad_needed"
                )
            fields["needed"] = needed
        if given("skills"):
            tenant = await self.specialties.tenant(principal.tenant_id)
            codes = {t["code"] for t in specialties.vocabulary(tenant)}
            skills = specialties.tags_of(body.get("skills"), codes, "skills")
            if len(skills) > SKILLS_MAX:
                raise Invalid(f"Ask for {SKILLS_MAX} skills at most.", "bad_skills")
            fields["skills"] = skills
        if given("confirm"):
            if body.get("confirm", AUTO) not in (AUTO, MANUAL):
                raise Invalid("Sign-ups are confirmed auto or manual.", "bad_confirm")
            fields["confirm"] = body.get("confirm", AUTO)
        self._check_times({**(current or {}), **fields}, changed=fields)
        return fields

    def _check_times(self, task: dict, changed: dict) -> None:
        starts, ends = task["starts_at"], task["ends_at"]
        deadline = task["signup_deadline"]
        at = now()
        if ends <= starts:
            raise Invalid("The task must end after it starts.", "bad_period")
        if ends - starts > LONGEST:
            raise Invalid("A task lasts 14 days at most.", "bad_period")
        if starts - at > FURTHEST:
            raise Invalid("A task starts within a year.", "bad_period")
        if "ends_at" in changed and ends <= at:
            raise Invalid("The task would be over already.", "bad_period")
        if deadline > starts:
            raise Invalid("Sign-ups must close by the start.", "bad_deadline")
        if "signup_deadline" in changed and deadline <= at:
            raise Invalid("The sign-up deadline has passed already.", "bad_deadline")

    async def publish(self, principal: Principal, body: dict) -> dict:
        if not isinstance(body, dict):
            raise Invalid("Send the task as a JSON object.", "bad_body")
        fields = await self._fields(principal, body)
        at = now()
        task = {
            "tenant_id": principal.tenant_id,
            **fields,
            "status": OPEN,
            "held": 0,
            "roster": [],
            "invited": [],
            "messages": [],
            "created_by": {"id": principal.id, "name": principal.name},
            "created_at": at,
            "updated_at": at,
        }
        result = await self.db.tasks.insert_one(task)
        log.info(
            "task %s published by %s: %d needed, %s confirmation",
            result.inserted_id,
            principal.id,
            task["needed"],
            task["confirm"],
        )
        self._board_changed(task)
        self._audit(principal, task, "task.publish", needed=task["needed"])
        return task

    async def change(self, principal: Principal, task_id, body: dict) -> dict:
        """The publisher changes a task; everyone on its roster is told."""
        if not isinstance(body, dict) or not body:
            raise Invalid("Send the fields to change.", "bad_body")
        task = await self._task(principal, task_id)
        if task["status"] != OPEN:
            raise Conflict("A cancelled task cannot change.", "cancelled")
        fields = await self._fields(principal, body, current=task)
        if fields.get("needed", task["needed"]) < task["held"]:
            raise Conflict(
                f"{task['held']} places are taken: decline sign-ups before "
                "asking for fewer people.",
                "needed_below_held",
            )
        fields["updated_at"] = now()
        done = await self._update(
            # The same headcount and places as read: a sign-up between the
            # read and now makes the caller try again with fresh figures.
            {
                "_id": task["_id"],
                "status": OPEN,
                "held": task["held"],
                "needed": task["needed"],
            },
            {"$set": fields},
        )
        if done is None:
            raise Conflict("The task changed meanwhile: try again.", "changed")
        done = await self._promote(done)
        changed = sorted(k for k in fields if k not in ("updated_at", "location"))
        log.info("task %s changed by %s: %s", done["_id"], principal.id, changed)
        self._audit(principal, done, "task.change", fields=changed)
        self._tell(done, _active(done), "changed")
        return done

    async def cancel(self, principal: Principal, task_id, reason) -> dict:
        reason = _text(reason, MESSAGE_MAX, "reason")
        task = await self._task(principal, task_id)
        done = await self._update(
            {"_id": task["_id"], "status": OPEN},
            {
                "$set": {
                    "status": CANCELLED,
                    "cancel_reason": reason,
                    "updated_at": now(),
                }
            },
        )
        if done is None:
            raise Conflict("The task is cancelled already.", "cancelled")
        log.info("task %s cancelled by %s", done["_id"], principal.id)
        self._audit(principal, done, "task.cancel")
        self._board_changed(done)
        self._tell(done, _active(done), "cancelled", reason)
        return done

    # -- signing up -----------------------------------------------------------

    def _taking_sign_ups(self, task: dict) -> None:
        if task["status"] != OPEN:
            raise Conflict("The task was cancelled.", "cancelled")
        if task["signup_deadline"] <= now():
            raise Conflict("Sign-ups for this task have closed.", "deadline_passed")

    async def sign_up(self, principal: Principal, task_id) -> dict:
        """Take a place if one is free, else join the waiting list.

        Pressing twice changes nothing. An officer who withdrew (or was
        declined) may sign up again, at the end of the queue.
        """
        task = await self._task_shared(principal, task_id)
        for _ in range(RETRIES):
            self._taking_sign_ups(task)
            earlier = member_of(task, principal.id)
            if earlier is not None and earlier["state"] in ACTIVE:
                return task
            at = now()
            auto = task["confirm"] == AUTO
            entry = {
                "officer_id": principal.id,
                "name": principal.name,
                "state": CONFIRMED if auto else PENDING,
                "signed_at": at,
                "queued_at": at,
                "decided_at": at if auto else None,
                "decided_by": None,
            }
            waiting = {**entry, "state": WAITING, "decided_at": None}
            if earlier is None:
                where = {"roster.officer_id": {"$ne": principal.id}}
                take = {"$push": {"roster": entry}, "$inc": {"held": 1}}
                wait = {"$push": {"roster": waiting}}
            else:
                where = {
                    "roster": {
                        "$elemMatch": {
                            "officer_id": principal.id,
                            "state": earlier["state"],
                        }
                    }
                }
                take = {"$set": {"roster.$": entry}, "$inc": {"held": 1}}
                wait = {"$set": {"roster.$": waiting}}
            base = {
                "_id": task["_id"],
                "status": OPEN,
                "signup_deadline": {"$gt": at},
                "needed": task["needed"],
                **where,
            }
            done = await self._update(
                {**base, "held": {"$lt": task["needed"]}},
                take,
            )
            if done is not None:
                log.info("task %s: officer %s has a place", task["_id"], principal.id)
                self._board_changed(done)
                return done
            done = await self._update(
                {**base, "held": {"$gte": task["needed"]}},
                wait,
            )
            if done is not None:
                log.info("task %s: officer %s is waiting", task["_id"], principal.id)
                # A place may have been freed between the two updates.
                return await self._promote(done)
            task = await self._task_shared(principal, task_id)
        raise Conflict("Too many sign-ups at once: try again.", "busy")

    async def withdraw(self, principal: Principal, task_id) -> dict:
        task = await self._task_shared(principal, task_id)
        for _ in range(RETRIES):
            entry = member_of(task, principal.id)
            if entry is None or entry["state"] not in ACTIVE:
                raise Conflict("You are not signed up for this task.", "not_signed_up")
            self._taking_sign_ups(task)
            done = await self._end_entry(task, entry, WITHDRAWN, None)
            if done is not None:
                log.info("task %s: officer %s withdrew", task["_id"], principal.id)
                return await self._promote(done)
            task = await self._task_shared(principal, task_id)
        raise Conflict("The task changed meanwhile: try again.", "changed")

    async def _end_entry(self, task, entry, state, by: str | None) -> dict | None:
        """Move one sign-up to ``state``; frees its place if it held one."""
        held = entry["state"] in HOLDING
        return await self._update(
            {
                "_id": task["_id"],
                "roster": {
                    "$elemMatch": {
                        "officer_id": entry["officer_id"],
                        "state": entry["state"],
                    }
                },
            },
            {
                "$set": {
                    "roster.$.state": state,
                    "roster.$.decided_at": now(),
                    "roster.$.decided_by": by,
                },
                "$inc": {"held": -1 if held else 0},
            },
        )

    async def _promote(self, task: dict) -> dict:
        """Give free places to the longest-waiting officers, one update each."""
        promoted = []
        for _ in range(NEEDED_MAX):
            queue = sorted(
                (e for e in task["roster"] if e["state"] == WAITING),
                key=lambda e: e["queued_at"],
            )
            if task["status"] != OPEN or task["held"] >= task["needed"] or not queue:
                break
            first = queue[0]
            auto = task["confirm"] == AUTO
            at = now()
            done = await self._update(
                {
                    "_id": task["_id"],
                    "status": OPEN,
                    "needed": task["needed"],
                    "held": {"$lt": task["needed"]},
                    "roster": {
                        "$elemMatch": {
                            "officer_id": first["officer_id"],
                            "state": WAITING,
                        }
                    },
                },
                {
                    "$set": {
                        "roster.$.state": CONFIRMED if auto else PENDING,
                        "roster.$.decided_at": at if auto else None,
                        "roster.$.promoted_at": at,
                    },
                    "$inc": {"held": 1},
                },
            )
            if done is None:  # someone else changed the task: look again
                task = await self.db.tasks.find_one({"_id": task["_id"]})
                continue
            task = done
            promoted.append(first["officer_id"])
        if promoted:
            log.info(
                "task %s: %d moved up from the waiting list", task["_id"], len(promoted)
            )
            self._tell(task, promoted, "promoted")
        self._board_changed(task)
        return task

    # -- the publisher's roster -------------------------------------------------

    async def decide(self, principal: Principal, task_id, body: dict) -> dict:
        """Confirm a pending sign-up, or decline any sign-up (its place is freed)."""
        officer_id, confirm = body.get("officer_id"), body.get("confirm")
        if not isinstance(officer_id, str) or not isinstance(confirm, bool):
            raise Invalid(
                "Give officer_id and confirm (true or false).", "bad_decision"
            )
        task = await self._task(principal, task_id)
        if task["status"] != OPEN:
            raise Conflict("The task was cancelled.", "cancelled")
        entry = member_of(task, officer_id)
        if entry is None or entry["state"] not in ACTIVE:
            raise NotFound("This officer has no sign-up to decide on.", "not_signed_up")
        if confirm:
            if entry["state"] != PENDING:
                raise Conflict(
                    "Only a sign-up awaiting confirmation can be confirmed.",
                    "not_pending",
                )
            done = await self._update(
                {
                    "_id": task["_id"],
                    "roster": {
                        "$elemMatch": {"officer_id": officer_id, "state": PENDING}
                    },
                },
                {
                    "$set": {
                        "roster.$.state": CONFIRMED,
                        "roster.$.decided_at": now(),
                        "roster.$.decided_by": principal.id,
                    }
                },
            )
        else:
            done = await self._end_entry(task, entry, DECLINED, principal.id)
        if done is None:
            raise Conflict("The sign-up changed meanwhile: look again.", "changed")
        log.info(
            "task %s: %s %s officer %s",
            task["_id"],
            principal.id,
            "confirmed" if confirm else "declined",
            officer_id,
        )
        self._tell(done, [officer_id], "confirmed" if confirm else "declined")
        self._audit(
            principal,
            done,
            "task.confirm" if confirm else "task.decline",
            officer_id=officer_id,
        )
        if confirm:
            self._board_changed(done)
            return done
        return await self._promote(done)

    async def message(self, principal: Principal, task_id, text) -> dict:
        """A message to everyone signed up (waiting list included)."""
        text = _text(text, MESSAGE_MAX, "text", required=True)
        task = await self._task(principal, task_id)
        note = {
            "at": now(),
            "by": {"id": principal.id, "name": principal.name},
            "text": text,
        }
        done = await self._update(
            {"_id": task["_id"]},
            {"$push": {"messages": {"$each": [note], "$slice": -MESSAGES_KEPT}}},
        )
        recipients = _active(done)
        log.info("task %s: message to %d officers", task["_id"], len(recipients))
        self._tell(done, recipients, "message", text)
        return done

    async def invite(self, principal: Principal, task_id, officer_id) -> dict:
        """Point an officer (found by specialty, say) at the task."""
        task = await self._task(principal, task_id)
        self._taking_sign_ups(task)
        if not isinstance(officer_id, str):
            raise Invalid("Give the officer_id to invite.", "bad_officer")
        officer = await self.db.users.find_one(
            {
                "_id": object_id(officer_id),
                "tenant_id": principal.tenant_id,
                "roles": access.OFFICER,
                "disabled": {"$ne": True},
            },
            {"_id": 1},
        )
        if officer is None:
            raise NotFound("No such officer in this agency.", "unknown_officer")
        invitation = {"officer_id": officer_id, "by": principal.id, "at": now()}
        done = await self._update(
            {"_id": task["_id"], "invited.officer_id": {"$ne": officer_id}},
            {"$push": {"invited": invitation}},
        )
        if done is None:
            return task  # invited before: once is enough
        log.info(
            "task %s: officer %s invited by %s", task["_id"], officer_id, principal.id
        )
        self._tell(done, [officer_id], "invited")
        return done

    async def recommended(self, principal: Principal, task_id) -> list[dict]:
        """Officers whose specialties match the task, nearest first.

        Those on the roster already, and those confirmed (or holding a
        place) on another task at an overlapping time, are left out.
        """
        task = await self._task(principal, task_id)
        exclude = {e["officer_id"] for e in task["roster"] if e["state"] in ACTIVE}
        busy = self.db.tasks.find(
            {
                "_id": {"$ne": task["_id"]},
                "tenant_id": principal.tenant_id,
                "status": OPEN,
                "starts_at": {"$lt": task["ends_at"]},
                "ends_at": {"$gt": task["starts_at"]},
            },
            {"roster": 1},
        )
        async for other in busy:
            exclude.update(
                e["officer_id"] for e in other["roster"] if e["state"] in HOLDING
            )
        users = await self.specialties.candidates(
            principal.tenant_id, task["skills"], exclude=exclude
        )
        stations = await self.specialties.stations(principal.tenant_id)
        return self.specialties.ranked(
            users, task["location"], task["skills"], stations
        )

    async def roster_csv(
        self, principal: Principal, task_id, lang: str
    ) -> tuple[dict, str]:
        """The roster as CSV (UTF-8 with BOM, which spreadsheet programs expect)."""
        task = await self._task(principal, task_id)
        ids = [object_id(e["officer_id"]) for e in task["roster"]]
        users = {
            str(u["_id"]): u
            async for u in self.db.users.find(
                {"_id": {"$in": ids}}, {"username": 1, "station_id": 1}
            )
        }
        stations = await self.specialties.stations(principal.tenant_id)
        words = i18n.MESSAGES[lang]
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow([words[f"tasks.csv.{c}"] for c in CSV_COLUMNS])
        for entry in sorted(task["roster"], key=_order):
            user = users.get(entry["officer_id"], {})
            station = stations.get(user.get("station_id") or "", {})
            writer.writerow(
                _cell(value)
                for value in (
                    entry["name"],
                    user.get("username", ""),
                    station.get("name", ""),
                    words[f"tasks.state.{entry['state']}"],
                    _iso(entry["signed_at"]),
                    _iso(entry.get("decided_at")),
                )
            )
        log.info("task %s: roster exported by %s", task["_id"], principal.id)
        self._audit(principal, task, "task.export", rows=len(task["roster"]))
        return task, out.getvalue()

    # -- news -------------------------------------------------------------------

    def _audit(self, principal, task: dict, action: str, **detail) -> None:
        self.audit.record(
            principal,
            action,
            tenant_id=task["tenant_id"],
            target=("task", task["_id"]),
            detail=detail,
        )

    def _board_changed(self, task: dict) -> None:
        """The agency's board refreshes the task (its roster, its figures)."""
        self.hub.publish(
            f"tasks:{task['tenant_id']}",
            "task.changed",
            {
                "id": str(task["_id"]),
                "status": task["status"],
                "held": task["held"],
                "waiting": sum(1 for e in task["roster"] if e["state"] == WAITING),
            },
        )

    def _tell(self, task: dict, officer_ids, change: str, text: str = "") -> None:
        """Each officer's own view of the task, live, and by push where enabled."""
        for officer_id in officer_ids:
            self.hub.publish(
                f"user:{officer_id}",
                "task.updated",
                {
                    "change": change,
                    "text": text,
                    "task": task_view(task, officer_id, manager=False),
                },
            )
        if self.push is not None and officer_ids:
            self.push.task_news(task, list(officer_ids), change, text)


CSV_COLUMNS = ("name", "username", "station", "state", "signed_at", "decided_at")


def _active(task: dict) -> list[str]:
    return [e["officer_id"] for e in task["roster"] if e["state"] in ACTIVE]


def _iso(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text

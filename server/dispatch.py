"""Dispatch: offering alarms to nearby officers and telling everyone what changed.

`Dispatcher` is the alarm service's notifier. On a new alarm it runs offer
rounds: connected on-duty officers with a fresh position within the round's
radius are found in memory (`Presence`), recorded on the alarm (so that only
they may claim), and sent the offer over their websocket at once; then, off
the hot path, officers who are not connected are found in the database by
their last known position and get a stored offer they see when they open the
app, and a web push (`server.push`) that reaches the phone with the app
closed; connected officers whose page does not acknowledge the offer within a
few seconds are pushed too. When the offer ends, pushed officers get a push
that replaces it ("taken", "expired", "cancelled"). Each round widens the
radius until the tenant's maximum; the alarm's escalation deadline is armed
as a timer and re-armed from the database after a restart.

Every offer is recorded in ``offers`` with when it was sent, delivered, seen,
declined and how it ended, and its push outcome per device, so that the
assessment board can tell an offer that never reached the officer from one
that was seen and let pass. The open app's acknowledgements are written in
batches (`server.realtime.acks`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from pymongo import InsertOne, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from server import alarm_views, alarms
from server.alarms import settings_of
from server.geo import distance_m
from server.realtime.acks import OfferAcks, ack_update
from server.realtime.hub import Hub
from server.realtime.presence import Presence
from server.realtime.timers import Timers
from server.storage import object_id

log = logging.getLogger(__name__)

# Each round gives the offered officers this long before the search widens:
# ride-hailing apps give a driver 10-15 s to accept an order.
ROUND_S = 15
# Officers away but on duty with a fresh position, read per offer round: a
# district has a few dozen at a time; this bounds a pathological tenant.
MAX_ABSENT = 2000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _summary(alarm: dict) -> dict:
    """An alarm as the command room's live map shows it."""
    return alarm_views.staff_view(alarm)


class Dispatcher:
    """Offers, deadlines and notifications around the alarm life cycle."""

    def __init__(
        self,
        db: AsyncDatabase,
        hub: Hub,
        presence: Presence,
        timers: Timers,
        media,
    ):
        self.db = db
        self.hub = hub
        self.presence = presence
        self.timers = timers
        self.media = media
        self.acks = OfferAcks(db)
        self.alarms: alarms.AlarmService | None = None  # set by the platform
        self.push = None  # server.push.PushService, set by the platform
        # Notes a change for the command room's officer feed (OfficerService.note).
        self.feed = None
        # The grants (set by the platform): an alarm in a border zone that its
        # agency grants is announced to the neighbour's command rooms too.
        self.grants = None
        self._border_tasks: set[asyncio.Task] = set()

    # -- offers ------------------------------------------------------------

    async def alarm_raised(self, alarm: dict, tenant: dict | None = None) -> None:
        """A new alarm, just stored: the first offer round starts at once."""
        self._publish_status(alarm)
        self.hub.publish(f"command:{alarm['tenant_id']}", "alarm.new", _summary(alarm))
        self._tell_border(alarm)
        await self.offer_round(alarm["_id"], alarm, tenant)
        self._arm_escalation(alarm["_id"], alarm["deadline_at"])

    async def offer_round(self, alarm_id, fresh=None, tenant=None) -> int:
        """Offer the alarm to officers in the next radius; returns how many.

        The first round gets the alarm just stored (``fresh``) and its
        tenant instead of reading them again; later rounds read both.
        """
        started = time.monotonic()
        alarm = fresh or await self.db.alarms.find_one({"_id": alarm_id})
        if alarm is None or alarm["status"] != alarms.OFFERING:
            return 0
        if tenant is None:
            tenant = await self.db.tenants.find_one({"_id": alarm["tenant_id"]})
        settings = settings_of(tenant or {})
        lon, lat = alarm["location"]["coordinates"]
        already = set(alarm.get("offered", []))
        round_no, radius, found = alarm["offer"]["round"], 0, []
        while not found:
            round_no += 1
            radius = min(
                settings["offer_radius_m"]
                + settings["offer_radius_step_m"] * (round_no - 1),
                settings["offer_radius_max_m"],
            )
            found = [
                (distance, state)
                for distance, state in self.presence.nearby(
                    alarm["tenant_id"],
                    lon,
                    lat,
                    radius,
                    settings["position_max_age_s"],
                    now(),
                )
                if state.id not in already
            ]
            if radius >= settings["offer_radius_max_m"]:
                break
        more = radius < settings["offer_radius_max_m"]
        next_at = now() + dt.timedelta(seconds=ROUND_S) if more else None
        ids = [state.id for _, state in found]
        alarm = await self._record_round(alarm, ids, round_no, radius, next_at)
        if alarm is None:
            return 0  # claimed or cancelled meanwhile
        for distance, state in found:
            self.hub.publish(
                f"user:{state.id}", "offer.new", alarm_views.offer_view(alarm, distance)
            )
        log.info(
            "alarm %s round %d radius %dm: offered to %d connected officers in %.1fms",
            alarm_id,
            round_no,
            radius,
            len(found),
            1000 * (time.monotonic() - started),
        )
        stored = await self._offer_to_absent(
            alarm, radius, settings, already | set(ids)
        )
        await self._store_offers(alarm, found, "websocket", round_no)
        await self._store_offers(alarm, stored, "stored", round_no)
        if self.push is not None:
            # Only now, in the background: the websocket offers are out and
            # recorded, and push outcomes are written onto those records.
            self.push.offer_round(alarm, found, stored)
        self._publish_status(alarm)
        if next_at is not None:
            self.timers.arm(
                f"round:{alarm_id}", next_at, lambda: self.offer_round(alarm_id)
            )
        return len(found) + len(stored)

    async def _record_round(self, alarm, ids, round_no, radius, next_at):
        """Add this round's officers to the alarm, if it is still offering
        and no other round got there first.

        ``ids`` exclude everyone offered before, so a plain ``$push`` keeps
        ``offered`` free of repeats; ``$addToSet`` would compare each new id
        with every one there (four times slower for a hundred on the
        embedded store). The round number read with the alarm guards
        against two rounds at once (a timer here, a sweep elsewhere): the
        later one matches nothing and sends nothing.
        """
        update = {
            "$push": {"offered": {"$each": ids}},
            "$set": {"offer": {"round": round_no, "radius_m": radius}},
        }
        if next_at is not None:
            update["$set"]["next_round_at"] = next_at
        else:
            # The last round: nothing left for a timer (or another process's
            # sweep, server.realtime.cluster) to run.
            update["$unset"] = {"next_round_at": ""}
        return await self.db.alarms.find_one_and_update(
            {
                "_id": alarm["_id"],
                "status": alarms.OFFERING,
                "offer.round": alarm["offer"]["round"],
            },
            update,
            return_document=ReturnDocument.AFTER,
        )

    async def _offer_to_absent(self, alarm, radius, settings, exclude: set) -> list:
        """Officers not connected, found by their last known position.

        Only officers marked away (``away_at``: their last socket closed, or
        they report over HTTP) are read, through the (tenant_id, away_at)
        index, and the distance is computed here. A geo query over every
        officer would read all of them on the embedded store, connected
        ones included, for each alarm: half a second at 5,000 officers.
        """
        lon, lat = alarm["location"]["coordinates"]
        fresh = now() - dt.timedelta(seconds=settings["position_max_age_s"])
        cursor = self.db.users.find(
            {
                "tenant_id": alarm["tenant_id"],
                "away_at": {"$gte": fresh},
                "roles": "officer",
                "duty": "on",
                "disabled": {"$ne": True},
                "position_at": {"$gte": fresh},
            },
            {"position": 1, "station_id": 1},
        )
        absent = []
        async for user in cursor.limit(MAX_ABSENT):
            officer_id = str(user["_id"])
            if officer_id in exclude or self.presence.is_connected(officer_id):
                continue
            coordinates = (user.get("position") or {}).get("coordinates")
            if not coordinates:
                continue
            distance = distance_m(lon, lat, *coordinates)
            if distance <= radius:
                absent.append((distance, _Absent(officer_id, user)))
        if absent:
            await self.db.alarms.update_one(
                {"_id": alarm["_id"], "status": alarms.OFFERING},
                {"$addToSet": {"offered": {"$each": [a.id for _, a in absent]}}},
            )
        return absent

    async def _store_offers(self, alarm, offered: list, channel: str, round_no) -> None:
        if not offered:
            return
        sent = now()
        await self.db.offers.bulk_write(
            [
                InsertOne(
                    {
                        "_id": f"{alarm['_id']}:{state.id}",
                        "tenant_id": alarm["tenant_id"],
                        "alarm_id": alarm["_id"],
                        "officer_id": state.id,
                        "station_id": state.station_id,
                        "round": round_no,
                        "distance_m": round(distance),
                        "channel": channel,
                        "sent_at": sent,
                        "delivered_at": None,
                        "seen_at": None,
                        "outcome": "open",
                    }
                )
                for distance, state in offered
            ],
            ordered=False,
        )

    def offer_acknowledged(self, officer_id: str, alarm_id: str, seen: bool) -> None:
        """The open app got (``seen``: and showed) an offer; written in the
        next batch of acknowledgements (`server.realtime.acks`)."""
        self.acks.note(f"{object_id(alarm_id)}:{officer_id}", seen, now())

    async def offer_seen(self, officer_id: str, alarm_id: str, seen: bool) -> None:
        """The officer's device confirms it received (and showed) an offer,
        written at once: the service worker's report, or a decline."""
        at = now()
        update = ack_update(
            f"{object_id(alarm_id)}:{officer_id}", at, at if seen else None
        )
        await self.db.offers.bulk_write([update])

    async def offer_declined(self, alarm: dict, officer, reason: str) -> None:
        key = f"{alarm['_id']}:{officer.id}"
        at = now()
        # Declining proves the offer reached the device and was seen.
        await self.offer_seen(officer.id, str(alarm["_id"]), seen=True)
        await self.db.offers.update_one(
            {"_id": key},
            {
                "$set": {
                    "declined_at": at,
                    "decline_reason": reason,
                    "outcome": "declined",
                }
            },
        )
        log.info("offer of alarm %s declined by officer %s", alarm["_id"], officer.id)

    # -- deadlines -----------------------------------------------------------

    def _arm_escalation(self, alarm_id, deadline: dt.datetime) -> None:
        async def escalate() -> None:
            await self.alarms.escalate(alarm_id)

        self.timers.arm(f"escalate:{alarm_id}", deadline, escalate)

    def _disarm(self, alarm_id) -> None:
        self.timers.cancel(f"escalate:{alarm_id}")
        self.timers.cancel(f"round:{alarm_id}")

    async def rearm(self) -> int:
        """Arm the deadlines of every alarm still offering (after a start)."""
        count = 0
        cursor = self.db.alarms.find(
            {"status": alarms.OFFERING},
            {"deadline_at": 1, "next_round_at": 1},
        )
        async for alarm in cursor:
            alarm_id = alarm["_id"]
            self._arm_escalation(alarm_id, alarm["deadline_at"])
            if alarm.get("next_round_at"):
                self.timers.arm(
                    f"round:{alarm_id}",
                    alarm["next_round_at"],
                    lambda alarm_id=alarm_id: self.offer_round(alarm_id),
                )
            count += 1
        log.info("re-armed deadlines of %d offering alarms", count)
        return count

    # -- changes -------------------------------------------------------------

    async def alarm_assigned(self, alarm: dict, previous: dict | None) -> None:
        """A claim or a dispatch gave the alarm an officer."""
        self._disarm(alarm["_id"])
        winner = alarm["assignee"]["officer_id"]
        for officer_id in alarm.get("offered", []):
            if officer_id != winner:
                self.hub.publish(
                    f"user:{officer_id}",
                    "offer.taken",
                    {"alarm_id": str(alarm["_id"])},
                )
        if previous and previous.get("officer_id") != winner:
            await self._release(previous["officer_id"], alarm)
        await self._set_duty(winner, "busy", alarm)
        self.hub.publish(
            f"user:{winner}", "alarm.assigned", alarm_views.staff_view(alarm)
        )
        await self._settle_offers(alarm, winner)
        self._push_closed(alarm, "taken", winner)
        self._changed(alarm)

    async def alarm_escalated(self, alarm: dict) -> None:
        self._disarm(alarm["_id"])
        for officer_id in alarm.get("offered", []):
            self.hub.publish(
                f"user:{officer_id}", "offer.expired", {"alarm_id": str(alarm["_id"])}
            )
        await self._settle_offers(alarm, None)
        self._push_closed(alarm, "expired")
        self.hub.publish(
            f"command:{alarm['tenant_id']}", "alarm.escalated", _summary(alarm)
        )
        self._tell_border(alarm)
        self._publish_status(alarm)

    async def alarm_changed(self, alarm: dict) -> None:
        """Progress, cancellation, closing or rating."""
        status = alarm["status"]
        if status not in alarms.ACTIVE:
            self._disarm(alarm["_id"])
            assignee = alarm.get("assignee")
            if assignee:
                await self._release(assignee["officer_id"], alarm)
            if status == alarms.CANCELLED and not assignee:
                for officer_id in alarm.get("offered", []):
                    self.hub.publish(
                        f"user:{officer_id}",
                        "offer.cancelled",
                        {"alarm_id": str(alarm["_id"])},
                    )
                await self._settle_offers(alarm, None, outcome="cancelled")
                self._push_closed(alarm, "cancelled")
        self._changed(alarm)

    def _changed(self, alarm: dict) -> None:
        self._publish_status(alarm)
        self.hub.publish(
            f"command:{alarm['tenant_id']}", "alarm.updated", _summary(alarm)
        )
        self._tell_border(alarm)
        assignee = alarm.get("assignee")
        if assignee:
            self.hub.publish(
                f"user:{assignee['officer_id']}",
                "alarm.updated",
                alarm_views.staff_view(alarm),
            )

    def _tell_border(self, alarm: dict) -> None:
        """Nudge the command rooms of neighbours granted a border zone holding
        the alarm; in the background, so that dispatch never waits on it."""
        if self.grants is None:
            return
        task = asyncio.get_running_loop().create_task(self._border_nudge(alarm))
        self._border_tasks.add(task)
        task.add_done_callback(self._border_tasks.discard)

    async def _border_nudge(self, alarm: dict) -> None:
        try:
            watchers = await self.grants.border_watchers(alarm)
        except PyMongoError as error:
            # The page still polls now and then; this nudge is only news.
            log.warning("border watchers of alarm %s unknown: %s", alarm["_id"], error)
            return
        for grantee in watchers:
            self.grants.border_changed(grantee, str(alarm["_id"]))

    async def close(self) -> None:
        """Let the border nudges under way finish, then the acks flush."""
        if self._border_tasks:
            await asyncio.wait(set(self._border_tasks), timeout=5.0)
        await self.acks.close()

    def _publish_status(self, alarm: dict) -> None:
        position = None
        assignee = alarm.get("assignee")
        if assignee and alarm["status"] in alarms.TRACKED:
            state = self.presence.officers.get(assignee["officer_id"])
            if state is not None and state.lon is not None:
                position = alarm_views.tracking(alarm, state.lon, state.lat, state.at)
        self.hub.publish(
            f"alarm:{alarm['_id']}",
            "alarm.status",
            alarm_views.citizen_view(alarm, position),
        )

    def _push_closed(self, alarm: dict, kind: str, winner: str | None = None) -> None:
        if self.push is not None:
            self.push.offer_closed(alarm, kind, winner)

    async def _settle_offers(self, alarm, winner, outcome="expired") -> None:
        alarm_id = alarm["_id"]
        # The acknowledgements still waiting go first: the record is whole.
        await self.acks.flush_alarm(alarm_id)
        if winner is not None:
            await self.db.offers.update_one(
                {"_id": f"{alarm_id}:{winner}"}, {"$set": {"outcome": "claimed"}}
            )
            outcome = "lost"
        await self.db.offers.update_many(
            {"alarm_id": alarm_id, "outcome": "open"}, {"$set": {"outcome": outcome}}
        )

    async def _set_duty(self, officer_id: str, duty: str, alarm: dict) -> None:
        await self.db.users.update_one(
            {"_id": object_id(officer_id)}, {"$set": {"duty": duty}}
        )
        self.presence.set_duty(officer_id, duty)
        self.presence.assign(officer_id, str(alarm["_id"]), alarm["location"])
        self._announce_duty(alarm["tenant_id"], officer_id, duty)

    async def _release(self, officer_id: str, alarm: dict) -> None:
        """The officer is free again (resolved, cancelled, reassigned)."""
        result = await self.db.users.update_one(
            {"_id": object_id(officer_id), "duty": "busy"}, {"$set": {"duty": "on"}}
        )
        state = self.presence.officers.get(officer_id)
        if state is not None and state.alarm_id == str(alarm["_id"]):
            self.presence.assign(officer_id, None, None)
            if state.duty == "busy":
                state.duty = "on"
        if result.modified_count:
            self._announce_duty(alarm["tenant_id"], officer_id, "on")
        if alarm.get("assignee", {}).get("officer_id") != officer_id:
            self.hub.publish(
                f"user:{officer_id}",
                "alarm.unassigned",
                {"alarm_id": str(alarm["_id"])},
            )

    def _announce_duty(self, tenant_id: str, officer_id: str, duty: str) -> None:
        """Tell the officer's devices and the command room's map."""
        self.hub.publish(f"user:{officer_id}", "duty.changed", {"duty": duty})
        if self.feed is not None:
            self.feed(tenant_id, officer_id, {"duty": duty})

    # -- positions -----------------------------------------------------------

    def officer_moved(self, state) -> None:
        """Forward an assigned officer's position to the citizen's map."""
        if state.alarm_id is None or state.scene is None:
            return
        self.hub.publish(
            f"alarm:{state.alarm_id}",
            "officer.position",
            alarm_views.tracking(
                {"location": state.scene}, state.lon, state.lat, state.at
            ),
        )


class _Absent:
    """An officer found in the database rather than in presence."""

    __slots__ = ("id", "station_id")

    def __init__(self, officer_id: str, user: dict):
        self.id = officer_id
        self.station_id = user.get("station_id")

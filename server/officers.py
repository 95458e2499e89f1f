"""Officers in the field: duty status, positions, and what is waiting for them.

Positions arrive over the websocket (or HTTP when it is unavailable) every few
seconds while the officer's app is open; a PWA cannot send them from the
background, so the last position and its age are what dispatch judges by.
Each position updates presence at once, is forwarded to the citizen whose
alarm the officer handles, and is stored in batches. The command room gets
the moves of its officers as one event every `FEED_S` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from pymongo.asynchronous.database import AsyncDatabase

from server import alarm_views, alarms, geo
from server.access import Principal
from server.errors import Invalid
from server.realtime.presence import DUTIES, OfficerState, PositionWriter, Presence
from server.storage import object_id

log = logging.getLogger(__name__)

# The command room's map is refreshed with officers' moves this often: a
# screen does not need every 4-second update of every officer, and one event
# per tenant per interval keeps the feed cheap however many officers move.
FEED_S = 2.0
# Phones report accuracy in metres; worse than this is a cell-tower guess.
MAX_ACCURACY_M = 5000
# More open offers than this at once means a flood; the newest matter most.
MAX_OPEN_OFFERS = 20


def _checked_position(message: dict) -> tuple[dict, float | None]:
    """The point and accuracy of a position report, or `Invalid`."""
    point = geo.point(message.get("lon"), message.get("lat"))
    accuracy = message.get("accuracy")
    if accuracy is not None and (
        isinstance(accuracy, bool)
        or not isinstance(accuracy, int | float)
        or not math.isfinite(accuracy)
        or not 0 <= accuracy <= MAX_ACCURACY_M
    ):
        raise Invalid("The accuracy must be metres.", "bad_accuracy")
    return point, accuracy


class OfficerService:
    """Duty, positions and the officer's own view of open work."""

    def __init__(self, db: AsyncDatabase, hub, presence: Presence, dispatcher):
        self.db = db
        self.hub = hub
        self.presence = presence
        self.dispatcher = dispatcher
        self.positions = PositionWriter(db)
        self._moved: dict[str, dict[str, dict]] = {}

    async def mark_all_away(self) -> int:
        """At start-up nobody is connected yet: every officer on duty is away
        (found by their stored position) until a socket of theirs opens."""
        result = await self.db.users.update_many(
            {"roles": "officer", "duty": {"$ne": "off"}, "away_at": None},
            {"$set": {"away_at": dt.datetime.now(dt.UTC)}},
        )
        return result.modified_count

    async def connected(self, principal: Principal, user: dict | None = None) -> bool:
        """An officer's socket opened: join presence with stored state.

        ``user`` is the account as just read for the socket's session, if
        the caller has it. Returns whether the socket was counted (and must
        be uncounted later).
        """
        if user is None:
            user = await self.db.users.find_one({"_id": object_id(principal.id)})
        if user is None:
            return False
        state = self.presence.connect(user)
        if state.sockets == 1:
            self.positions.back(state.id)
            active = await self.db.alarms.find_one(
                {
                    "assignee.officer_id": principal.id,
                    "status": {"$in": alarms.TRACKED},
                },
                {"location": 1},
            )
            if active is not None:
                self.presence.assign(state.id, str(active["_id"]), active["location"])
        return True

    def disconnected(self, principal: Principal) -> None:
        self.presence.disconnect(principal.id)
        if not self.presence.is_connected(principal.id):
            self.positions.left(principal.id)

    async def set_duty(self, principal: Principal, duty) -> str:
        """On duty, busy or off duty; off duty also stops position sharing."""
        if duty not in DUTIES:
            raise Invalid("Duty is one of on, busy, off.", "bad_duty")
        await self.db.users.update_one(
            {"_id": object_id(principal.id)}, {"$set": {"duty": duty}}
        )
        self.presence.set_duty(principal.id, duty)
        self.note(principal.tenant_id, principal.id, {"duty": duty})
        log.info("officer %s duty %s", principal.id, duty)
        return duty

    async def report_position(self, principal: Principal, message: dict) -> None:
        """One position report from the officer's device."""
        point, accuracy = _checked_position(message)
        if not self._move(principal, point, accuracy):
            # Reported over HTTP without an open socket: store it directly.
            await self._store_directly(principal, point, accuracy)

    def move_now(self, principal: Principal, message: dict) -> bool:
        """`report_position` when it needs no database (the officer is in
        presence here): done, True; else False and nothing changed."""
        return self._move(principal, *_checked_position(message))

    def _move(self, principal: Principal, point: dict, accuracy) -> bool:
        state = self.presence.officers.get(principal.id)
        if state is None:
            return False
        if state.duty == "off":
            raise Invalid("Positions are shared only on duty.", "off_duty")
        lon, lat = point["coordinates"]
        at = dt.datetime.now(dt.UTC)
        self.presence.move(principal.id, lon, lat, at)
        self.positions.add(state, accuracy)
        self.dispatcher.officer_moved(state)
        self.note(state.tenant_id, state.id, {"position": point, "at": at})
        return True

    async def _store_directly(self, principal, point, accuracy) -> None:
        at = dt.datetime.now(dt.UTC)
        result = await self.db.users.update_one(
            {"_id": object_id(principal.id), "duty": {"$ne": "off"}},
            # Reporting without a socket: away, findable by dispatch.
            {"$set": {"position": point, "position_at": at, "away_at": at}},
        )
        if result.matched_count == 0:
            raise Invalid("Positions are shared only on duty.", "off_duty")
        await self.db.position_history.insert_one(
            {
                "tenant_id": principal.tenant_id,
                "user_id": principal.id,
                "position": point,
                "accuracy_m": accuracy,
                "at": at,
            }
        )

    def note(self, tenant_id: str, officer_id: str, change: dict) -> None:
        """Queue a change of an officer for the command room's next feed event."""
        self._moved.setdefault(tenant_id, {}).setdefault(officer_id, {}).update(change)

    def publish_feed(self) -> int:
        """Send each tenant's command room the officers changed since last time."""
        moved, self._moved = self._moved, {}
        for tenant_id, officers in moved.items():
            self.hub.publish(
                f"command:{tenant_id}",
                "officers.moved",
                {"officers": [{"id": k, **v} for k, v in officers.items()]},
            )
        return len(moved)

    async def workload(self, principal: Principal) -> dict:
        """The officer's duty, open offers and the alarm they are handling."""
        user = await self.db.users.find_one(
            {"_id": object_id(principal.id)}, {"duty": 1, "position_at": 1}
        )
        offers = []
        declined = await self.db.offers.distinct(
            "alarm_id", {"officer_id": principal.id, "outcome": "declined"}
        )
        cursor = self.db.alarms.find(
            {
                "tenant_id": principal.tenant_id,
                "status": alarms.OFFERING,
                "offered": principal.id,
                "_id": {"$nin": declined},
            }
        ).limit(MAX_OPEN_OFFERS)
        state = self.presence.officers.get(principal.id)
        async for alarm in cursor:
            offers.append(alarm_views.offer_view(alarm, _distance(state, alarm)))
        active = await self.db.alarms.find_one(
            {"assignee.officer_id": principal.id, "status": {"$in": alarms.TRACKED}}
        )
        return {
            "duty": (user or {}).get("duty", "off"),
            "offers": offers,
            "active": alarm_views.staff_view(active) if active else None,
        }


def _distance(state: OfficerState | None, alarm: dict) -> float:
    if state is None or state.lon is None:
        return 0.0
    lon, lat = alarm["location"]["coordinates"]
    return geo.distance_m(state.lon, state.lat, lon, lat)

"""Presence: which officers are connected, their duty and last position.

This is the hot path of dispatch. Matching an alarm to nearby officers must
not be a database query over every officer (the embedded store scans every
document for a geo query), so connected officers are kept here in a grid of
cells about a kilometre wide, and `nearby` only looks at the cells a search
circle touches. The database stays the durable record: positions are written
to it in batches by `PositionWriter`, and officers who are not connected are
found there by their last known position.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time

from pymongo import InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from server.geo import distance_m
from server.realtime.timers import Periodic
from server.storage import object_id

log = logging.getLogger(__name__)

# 0.01 degree of latitude is 1.1 km: a 2 km search touches about 5 x 5 cells,
# few enough to walk and small enough that each holds a handful of officers.
CELL_DEG = 0.01
DUTIES = ("on", "busy", "off")


class OfficerState:
    """One connected officer as dispatch sees them."""

    __slots__ = (
        "alarm_id",
        "at",
        "cell",
        "duty",
        "id",
        "lat",
        "lon",
        "name",
        "node",
        "scene",
        "sockets",
        "station_id",
        "tenant_id",
    )

    def __init__(self, user: dict):
        self.id = str(user["_id"])
        self.tenant_id = user.get("tenant_id")
        self.name = user.get("name", "")
        self.station_id = user.get("station_id")
        self.duty = user.get("duty", "off")
        coords = (user.get("position") or {}).get("coordinates")
        self.lon, self.lat = coords if coords else (None, None)
        self.at: dt.datetime | None = user.get("position_at") if coords else None
        self.cell: tuple | None = None
        self.sockets = 0
        # The alarm this officer is assigned to, whose citizen sees them move.
        self.alarm_id: str | None = None
        self.scene: dict | None = None
        # None when connected to this process; else the process holding the
        # officer's socket (`server.realtime.cluster`).
        self.node: str | None = None

    def snapshot(self) -> dict:
        """What other processes need to match and follow this officer."""
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "station_id": self.station_id,
            "duty": self.duty,
            "lon": self.lon,
            "lat": self.lat,
            "at": self.at,
            "alarm_id": self.alarm_id,
            "scene": self.scene,
        }

    def age_s(self, now: dt.datetime) -> float | None:
        return None if self.at is None else (now - self.at).total_seconds()


def _cell(tenant_id: str, lon: float, lat: float) -> tuple[str, int, int]:
    return (tenant_id, math.floor(lon / CELL_DEG), math.floor(lat / CELL_DEG))


def _cells_between(low: float, high: float) -> range:
    return range(math.floor(low / CELL_DEG), math.floor(high / CELL_DEG) + 1)


class Presence:
    """Connected officers, indexed by tenant and grid cell."""

    def __init__(self):
        self.officers: dict[str, OfficerState] = {}
        self.cells: dict[tuple, set[str]] = {}
        # Ids of this process's officers changed since the cluster last
        # looked (only kept when there is a cluster to tell).
        self.changed: set[str] | None = None

    def _touch(self, state: OfficerState) -> None:
        if self.changed is not None:
            self.changed.add(state.id)

    # -- officers connected to other processes ---------------------------------

    def apply_remote(self, node: str, snapshot: dict) -> None:
        """Another process's officer, as it last described them."""
        state = self.officers.get(snapshot["id"])
        if state is not None and state.node is None:
            return  # connected here too: this process's view wins
        if state is None:
            state = OfficerState({"_id": snapshot["id"]})
            state.sockets = 1
            self.officers[state.id] = state
        self._unplace(state)
        state.node = node
        state.tenant_id = snapshot["tenant_id"]
        state.name = snapshot.get("name", "")
        state.station_id = snapshot.get("station_id")
        state.duty = snapshot.get("duty", "off")
        state.lon, state.lat = snapshot.get("lon"), snapshot.get("lat")
        state.at = snapshot.get("at")
        state.alarm_id, state.scene = snapshot.get("alarm_id"), snapshot.get("scene")
        self._place(state)

    def remove_remote(self, officer_id: str, node: str) -> bool:
        """Another process says the officer left it (or that process died)."""
        state = self.officers.get(officer_id)
        if state is None or state.node != node:
            return False
        self._unplace(state)
        del self.officers[officer_id]
        return True

    def remote_ids(self, node: str) -> list[str]:
        return [s.id for s in self.officers.values() if s.node == node]

    def connect(self, user: dict) -> OfficerState:
        """Count one more socket of this officer; returns their state."""
        state = self.officers.get(str(user["_id"]))
        if state is not None and state.node is not None:
            # Moved here from another process: this socket is the one now.
            self._unplace(state)
            del self.officers[state.id]
            state = None
        if state is None:
            state = OfficerState(user)
            self.officers[state.id] = state
            self._place(state)
        state.sockets += 1
        self._touch(state)
        return state

    def disconnect(self, officer_id: str) -> None:
        """One socket fewer; the officer leaves presence with their last one."""
        state = self.officers.get(officer_id)
        if state is None or state.node is not None:
            return
        state.sockets -= 1
        if state.sockets <= 0:
            self._unplace(state)
            del self.officers[officer_id]
            self._touch(state)

    def is_connected(self, officer_id: str) -> bool:
        return officer_id in self.officers

    def move(self, officer_id: str, lon: float, lat: float, at: dt.datetime) -> None:
        state = self.officers.get(officer_id)
        if state is None:
            return
        state.lon, state.lat, state.at = lon, lat, at
        cell = _cell(state.tenant_id, lon, lat)
        if cell != state.cell:
            self._unplace(state)
            self._place(state)
        self._touch(state)

    def set_duty(self, officer_id: str, duty: str) -> None:
        state = self.officers.get(officer_id)
        if state is not None:
            state.duty = duty
            self._touch(state)

    def assign(self, officer_id: str, alarm_id: str | None, scene: dict | None):
        """Note the alarm (and its location) an officer is handling, or none."""
        state = self.officers.get(officer_id)
        if state is not None:
            state.alarm_id, state.scene = alarm_id, scene
            self._touch(state)

    def _place(self, state: OfficerState) -> None:
        if state.lon is None or state.tenant_id is None:
            return
        state.cell = _cell(state.tenant_id, state.lon, state.lat)
        self.cells.setdefault(state.cell, set()).add(state.id)

    def _unplace(self, state: OfficerState) -> None:
        if state.cell is None:
            return
        members = self.cells.get(state.cell)
        if members is not None:
            members.discard(state.id)
            if not members:
                del self.cells[state.cell]
        state.cell = None

    def nearby(
        self,
        tenant_id: str,
        lon: float,
        lat: float,
        radius_m: float,
        max_age_s: float,
        now: dt.datetime,
        duty: str = "on",
    ) -> list[tuple[float, OfficerState]]:
        """Connected officers with ``duty`` and a fresh position, nearest first."""
        dlat = radius_m / 111_000 + CELL_DEG
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        x0, x1 = (
            math.floor((lon - dlon) / CELL_DEG),
            math.floor((lon + dlon) / CELL_DEG),
        )
        y0, y1 = (
            math.floor((lat - dlat) / CELL_DEG),
            math.floor((lat + dlat) / CELL_DEG),
        )
        found = []
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                for officer_id in self.cells.get((tenant_id, x, y), ()):
                    state = self.officers[officer_id]
                    if state.duty != duty:
                        continue
                    age = state.age_s(now)
                    if age is None or age > max_age_s:
                        continue
                    distance = distance_m(lon, lat, state.lon, state.lat)
                    if distance <= radius_m:
                        found.append((distance, state))
        found.sort(key=lambda pair: pair[0])
        return found


class PositionWriter:
    """Writes officers' positions to MongoDB in batches, not one per message.

    Every received position goes to ``position_history`` (kept for the
    retention period) every `FLUSH_S`. Only the latest position per officer
    goes to ``users``, and less often (`LATEST_S`): while an officer is
    connected dispatch reads their position from presence, so the stored
    one matters once they leave, and `left` writes it at the next flush.
    """

    # Positions arrive every few seconds per officer; flushing every 2 s
    # turns thousands of messages into a few bulk writes.
    FLUSH_S = 2.0
    # Updating a user's GeoJSON point costs the embedded store about 1.5 ms
    # (its geo index); 5,000 officers every 2 s would take more than a core.
    # Half a minute bounds what a crash loses of the last known positions.
    LATEST_S = 30.0
    # Requests per bulk write: the database serves one command at a time,
    # so a batch of thousands would hold every other query for seconds.
    CHUNK = 200
    # While the database is down, history waits in memory up to this many
    # positions (about ten minutes of 1,000 officers at one every 4 s); older
    # ones are dropped first, since the latest position matters most.
    MAX_BACKLOG = 150_000

    def __init__(self, db: AsyncDatabase):
        self.db = db
        self.latest: dict[str, tuple] = {}
        self.leaving: set[str] = set()
        # ``away_at`` changes waiting for the next flush: a time when the
        # officer's last socket closed, None when one opened again.
        self.away: dict[str, dt.datetime | None] = {}
        self.history: list[dict] = []
        self._flusher = Periodic(self.FLUSH_S, self.flush, "position flush")
        self._latest_at = time.monotonic()

    def add(self, state: OfficerState, accuracy: float | None) -> None:
        point = {"type": "Point", "coordinates": [state.lon, state.lat]}
        self.latest[state.id] = (point, state.at)
        self.history.append(
            {
                "tenant_id": state.tenant_id,
                "user_id": state.id,
                "position": point,
                "accuracy_m": accuracy,
                "at": state.at,
            }
        )

    def left(self, officer_id: str) -> None:
        """The officer's last socket closed: store their position soon, and
        mark them away, so that dispatch finds them in the database."""
        if officer_id in self.latest:
            self.leaving.add(officer_id)
        self.away[officer_id] = dt.datetime.now(dt.UTC)

    def back(self, officer_id: str) -> None:
        """A socket of the officer opened: no longer away."""
        self.away[officer_id] = None

    def start(self) -> None:
        self._flusher.start()

    async def flush(self, everything: bool = False) -> int:
        """Write what has accumulated; returns the number of positions.

        Latest positions are written every `LATEST_S` (always with
        ``everything``), or sooner for officers who left.
        """
        due = everything or time.monotonic() - self._latest_at >= self.LATEST_S
        if due:
            latest, self.latest, self._latest_at = self.latest, {}, time.monotonic()
        else:
            latest = {uid: self.latest.pop(uid) for uid in self.leaving}
        self.leaving = set()
        history, self.history = self.history, []
        away, self.away = self.away, {}
        if not latest and not history and not away:
            return 0
        started = time.monotonic()
        updates = [
            UpdateOne(
                {"_id": object_id(uid)},
                {"$set": {"position": point, "position_at": at}},
            )
            for uid, (point, at) in latest.items()
        ]
        updates += [
            UpdateOne(
                {"_id": object_id(uid)},
                {"$set": {"away_at": at}} if at else {"$unset": {"away_at": ""}},
            )
            for uid, at in away.items()
        ]
        try:
            await self._write(self.db.users, updates)
            await self._write(
                self.db.position_history, [InsertOne(doc) for doc in history]
            )
        except Exception:
            # Keep what failed for the next attempt, newest positions winning.
            for uid, value in latest.items():
                self.latest.setdefault(uid, value)
            for uid, value in away.items():
                self.away.setdefault(uid, value)
            self.history = (history + self.history)[-self.MAX_BACKLOG :]
            raise
        log.debug(
            "stored %d positions and %d last positions in %.3fs",
            len(history),
            len(latest),
            time.monotonic() - started,
        )
        return len(history)

    async def _write(self, collection, requests: list) -> None:
        for start in range(0, len(requests), self.CHUNK):
            chunk = requests[start : start + self.CHUNK]
            await collection.bulk_write(chunk, ordered=False)

    async def close(self) -> None:
        await self._flusher.stop()
        try:
            await self.flush(everything=True)
        except Exception:
            log.warning("could not store the last positions at shutdown")

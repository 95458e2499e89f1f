"""Several platform processes on one MongoDB, as one platform.

With ``[realtime] cluster = true`` each process (a *node*, named by
``[realtime] node``, by default host:port) keeps its own websockets and hub,
and shares through the database what the others need:

- **Events.** Everything a node publishes on its hub is also written to the
  ``cluster_events`` collection, one document per batch (a batch is what
  one turn of the event loop published); every other node follows that
  collection with a change stream and publishes the events to its own
  subscribers. An offer raised on node A reaches an officer connected to B,
  an officer's position on B reaches the citizen watching on A. Sequence
  numbers stay per node: a client that moves to another node resumes as
  after a restart (it reloads), which sticky load balancing makes rare.
- **Resume tokens.** Each node stores the change stream's resume token in
  ``cluster_nodes`` as it goes; a node that restarts under the same name
  carries on from where it stopped (batches are kept ten minutes, by a TTL
  index).
- **Presence.** Every `PRESENCE_S` a node sends what changed among its
  connected officers (and everything every `FULL_S`); the others keep them
  in their `Presence` marked with the node, so that matching an alarm on
  any node sees every connected officer, nearest first. A change made on one
  node to an officer connected to another (a claim, a duty change over
  HTTP) is sent to that node as a patch.
- **Liveness.** Every batch is also a heartbeat. A node not heard from for
  `DEAD_S` is dead: its officers leave presence everywhere and are marked
  away, so that dispatch finds them by their stored position.
- **Deadlines.** Every node sweeps the database every `SWEEP_S` for claim
  windows, offer rounds and musters overdue by `GRACE_S`. Each one is taken
  by an atomic update (the alarm's move out of ``offering``, the round's
  ``next_round_at``, the muster's end), so it happens exactly once however
  many nodes see it, and a node that dies leaves its deadlines to the rest.
- **Revocations.** A session ended on one node closes its sockets on all,
  and a member removed from a room (or whose grant ended) is unsubscribed
  from it on every node (`Hub.drop`).

- **Room presence.** Each node tells the others who follows each room on
  it (as that changes, and again with every full presence), so that a
  room's presence list names its followers on every node
  (`RoomService.presence_elsewhere`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

import orjson
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from server.realtime.timers import every
from server.storage import object_id

log = logging.getLogger(__name__)

# Presence deltas once a second: positions arrive every few seconds anyway,
# and one small write a second per node costs the database nothing.
PRESENCE_S = 1.0
# Everything again every 10 s, so that a node that starts (or missed a
# batch) knows every connected officer within that long.
FULL_S = 10.0
# Three missed heartbeats and a bit: long enough for a busy loop, short
# enough that a crashed node's officers are found another way within seconds.
DEAD_S = 5.0
SWEEP_S = 2.0
# A deadline is left to the node that armed it for this long; then anyone
# takes it.
GRACE_S = 1.0
OFFERING = "offering"
# Events and controls whose write failed (the database away) are kept, in
# order, and sent with the next batch that gets through, for this long and
# up to this many; older news is dropped (counted in the log): by then the
# pages have reloaded their state from the database anyway.
HOLD_S = 120.0
HOLD_MAX = 50_000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Cluster:
    """This node's link to the others, through MongoDB."""

    def __init__(self, db: AsyncDatabase, node: str, platform):
        self.db = db
        self.node = node
        self.platform = platform
        self.hub = platform.hub
        self.presence = platform.presence
        # Events and controls in the order they happened here: a member
        # dropped from a room must not get the room's next event elsewhere.
        self._items: list[dict] = []
        self._flush_scheduled = False
        # One write at a time, so that batches arrive in the order they were
        # made; when the first failed write happened (None: none failing).
        self._sending = asyncio.Lock()
        self._failing_since: float | None = None
        self.dropped = 0
        self.heard: dict[str, float] = {}
        self._tasks: list[asyncio.Task] = []
        self._last_full = 0.0
        self._token = None
        self._token_dirty = False
        # How many batches came in, and how many of them were written while
        # this node was away (replayed from the resume token).
        self.received = 0
        self.replayed = 0
        self._reported = False
        self.started_at = now()

    # -- starting and stopping ---------------------------------------------------

    async def start(self) -> None:
        saved = await self.db.cluster_nodes.find_one({"_id": self.node})
        self._token = (saved or {}).get("resume_token")
        self._token_was_saved = self._token is not None
        self.presence.changed = set()
        self.hub.cluster = self
        await self.db.cluster_nodes.update_one(
            {"_id": self.node},
            {"$set": {"started_at": now(), "seen_at": now()}},
            upsert=True,
        )
        # The stream is open before anything is published, so nothing sent
        # by the others from now on is missed.
        stream = await self._open_stream()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._follow(stream)),
            loop.create_task(every(PRESENCE_S, self._presence_tick, "cluster beat")),
            loop.create_task(every(SWEEP_S, self._sweep, "cluster sweep")),
        ]
        log.info(
            "cluster node %s started (%s)",
            self.node,
            "resuming" if self._token else "from now",
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, PyMongoError):
                await task
        self._tasks = []
        with contextlib.suppress(PyMongoError):
            async with self._sending:
                pass  # a write in flight ends first; then what it left
            await self._flush()
            await self._save_token()
        self.hub.cluster = None

    # -- sending -----------------------------------------------------------------

    def forward(self, topic: str, event: str, payload: bytes) -> None:
        """An event published here (its payload as JSON): send it to the others."""
        self._items.append({"t": topic, "e": event, "p": payload.decode()})
        self._schedule()

    def control(self, kind: str, data, to: str | None = None) -> None:
        """A message for the other nodes (or one of them) to act on."""
        self._items.append({"k": kind, "d": data, "to": to})
        self._schedule()

    def _schedule(self) -> None:
        # Everything published in this turn of the loop goes in one write.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        task = asyncio.get_running_loop().create_task(self._flush())
        task.add_done_callback(_log_failure)

    async def _flush(self, presence: list | None = None, gone=()) -> None:
        """Write what is queued (and ``presence``) as one batch.

        One write is in flight at a time: an event queued meanwhile waits for
        it (and is sent right after), so batches keep their order. A failed
        write puts its items back at the head of the queue for the next
        batch (the heartbeat's, every `PRESENCE_S`), within `HOLD_S` and
        `HOLD_MAX`.
        """
        if self._sending.locked() and presence is None:
            return  # the write in flight sends these next
        async with self._sending:
            items, self._items = self._items, []
            if not items and presence is None:
                return
            doc = {"origin": self.node, "at": now(), "items": items}
            if presence is not None:
                doc["presence"] = presence
                doc["gone"] = list(gone)
            try:
                await self.db.cluster_events.insert_one(doc)
            except PyMongoError:
                self._hold(items)
                raise
            if self._failing_since is not None:
                log.info(
                    "cluster events flowing again after %.1f s (%d items in the batch)",
                    time.monotonic() - self._failing_since,
                    len(items),
                )
                self._failing_since = None
        if self._items:
            self._schedule()

    def _hold(self, items: list[dict]) -> None:
        """Keep the items of a failed write for the next one, oldest first."""
        at = time.monotonic()
        if self._failing_since is None:
            self._failing_since = at
        if at - self._failing_since > HOLD_S:
            dropped = len(items) + len(self._items)
            self._items = []
            self.dropped += dropped
            log.warning(
                "cluster events failing for %.0f s: %d dropped (%d in all)",
                at - self._failing_since,
                dropped,
                self.dropped,
            )
            return
        self._items[:0] = items
        excess = len(self._items) - HOLD_MAX
        if excess > 0:
            del self._items[:excess]
            self.dropped += excess
            log.warning("cluster events held beyond %d: %d dropped", HOLD_MAX, excess)

    # -- presence and heartbeats -------------------------------------------------

    async def _presence_tick(self) -> None:
        changed, self.presence.changed = self.presence.changed, set()
        full = time.monotonic() - self._last_full >= FULL_S
        if full:
            self._last_full = time.monotonic()
        here, gone, patches = [], [], []
        ids = [s.id for s in self.presence.officers.values()] if full else changed
        for officer_id in set(ids) | changed:
            state = self.presence.officers.get(officer_id)
            if state is None:
                gone.append(officer_id)
            elif state.node is None:
                here.append(state.snapshot())
            elif officer_id in changed:
                # Changed here while connected elsewhere: tell its node.
                patches.append(
                    {
                        "id": officer_id,
                        "duty": state.duty,
                        "alarm_id": state.alarm_id,
                        "scene": state.scene,
                        "to": state.node,
                    }
                )
        for patch in patches:
            self.control("patch", patch, to=patch.pop("to"))
        rooms = getattr(self.platform, "rooms", None)
        if full and rooms is not None:
            rooms.share_presence()
        # Always written: it is also this node's heartbeat.
        await self._flush(presence=here, gone=gone)
        if not self._reported and self._token_was_saved:
            self._reported = True
            log.info(
                "cluster node %s resumed: %d batches written while it was away",
                self.node,
                self.replayed,
            )
        await self._bury_the_dead()
        if self._token_dirty:
            await self._save_token()

    async def _bury_the_dead(self) -> None:
        cutoff = time.monotonic() - DEAD_S
        for node, heard in list(self.heard.items()):
            if heard >= cutoff:
                continue
            del self.heard[node]
            rooms = getattr(self.platform, "rooms", None)
            if rooms is not None:
                rooms.node_gone(node)
            states = [self.presence.officers[i] for i in self.presence.remote_ids(node)]
            for state in states:
                self.presence.remove_remote(state.id, node)
            log.warning(
                "cluster node %s silent for %.0fs: %d of its officers now away",
                node,
                DEAD_S,
                len(states),
            )
            # Away, at the position this node last heard: the dead node may
            # not have stored it (it writes last positions every 30 s).
            at = now()
            updates = [
                UpdateOne(
                    {"_id": object_id(state.id)},
                    {"$set": {"away_at": at, **_position(state)}},
                )
                for state in states
            ]
            if updates:
                await self.db.users.bulk_write(updates, ordered=False)

    # -- receiving ---------------------------------------------------------------

    async def _open_stream(self):
        pipeline = [
            {
                "$match": {
                    "operationType": "insert",
                    "fullDocument.origin": {"$ne": self.node},
                }
            }
        ]
        options = {"resume_after": self._token} if self._token else {}
        return await self.db.cluster_events.watch(pipeline, **options)

    async def _follow(self, stream) -> None:
        while True:
            try:
                async with stream:
                    async for change in stream:
                        self._received(change["fullDocument"])
                        self._token = stream.resume_token
                        self._token_dirty = True
            except asyncio.CancelledError:
                raise
            except PyMongoError as exc:
                log.warning("cluster stream interrupted (%s); reopening", exc)
                await asyncio.sleep(1.0)
            stream = await self._reopen()

    async def _reopen(self):
        while True:
            try:
                return await self._open_stream()
            except PyMongoError as exc:
                log.warning("cluster stream cannot reopen yet (%s)", exc)
                await asyncio.sleep(1.0)

    def _received(self, batch: dict) -> None:
        origin = batch["origin"]
        self.heard[origin] = time.monotonic()
        self.received += 1
        written = batch["at"]
        if written.tzinfo is None:
            written = written.replace(tzinfo=dt.UTC)
        if written < self.started_at:
            self.replayed += 1
        for item in batch.get("items", ()):
            if "t" in item:
                self.hub.publish_here(item["t"], item["e"], orjson.Fragment(item["p"]))
            elif item.get("to") in (None, self.node):
                self._act(item["k"], item["d"], origin)
        for snapshot in batch.get("presence", ()):
            self.presence.apply_remote(origin, snapshot)
        for officer_id in batch.get("gone", ()):
            self.presence.remove_remote(officer_id, origin)

    def _act(self, kind: str, data, origin: str) -> None:
        if kind == "room.presence":
            rooms = getattr(self.platform, "rooms", None)
            if rooms is not None:
                rooms.presence_elsewhere(data["room"], origin, data["ids"])
        elif kind == "revoke":
            self.hub.revoke_sessions(set(data), forward=False)
        elif kind == "drop":
            self.hub.drop(
                data["topic"],
                data["user"],
                data["e"],
                data["p"],
                False,
                tenant_id=data.get("tenant"),
            )
        elif kind == "patch":
            state = self.presence.officers.get(data["id"])
            if state is not None and state.node is None:
                self.presence.set_duty(data["id"], data["duty"])
                self.presence.assign(data["id"], data["alarm_id"], data["scene"])
        else:
            log.warning("cluster: unknown control %r from another node", kind)

    async def _save_token(self) -> None:
        self._token_dirty = False
        await self.db.cluster_nodes.update_one(
            {"_id": self.node},
            {"$set": {"resume_token": self._token, "seen_at": now()}},
            upsert=True,
        )

    # -- deadlines ---------------------------------------------------------------

    async def _sweep(self) -> None:
        """Take the deadlines nobody took in time, each atomically."""
        due = now() - dt.timedelta(seconds=GRACE_S)
        alarms = self.platform.alarms
        overdue = self.db.alarms.find(
            {"status": OFFERING, "deadline_at": {"$lte": due}}, {"_id": 1}
        )
        async for alarm in overdue.limit(100):
            # escalate moves the alarm out of offering atomically: one wins.
            await alarms.escalate(alarm["_id"])
        rounds = self.db.alarms.find(
            {"status": OFFERING, "next_round_at": {"$lte": due}}, {"_id": 1}
        )
        async for alarm in rounds.limit(100):
            taken = await self.db.alarms.find_one_and_update(
                {"_id": alarm["_id"], "next_round_at": {"$lte": due}},
                {"$unset": {"next_round_at": ""}},
                return_document=ReturnDocument.BEFORE,
            )
            if taken is not None:
                await self.platform.dispatcher.offer_round(alarm["_id"])
        musters = self.db.musters.find(
            {"status": "active", "ends_at": {"$lte": due}}, {"_id": 1}
        )
        async for muster in musters.limit(100):
            await self.platform.musters.expire(muster["_id"])


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("cluster events not sent: %s", task.exception())


def _position(state) -> dict:
    """The fields that store an officer's last heard position, if any."""
    if state.lon is None or state.at is None:
        return {}
    point = {"type": "Point", "coordinates": [state.lon, state.lat]}
    return {"position": point, "position_at": state.at}

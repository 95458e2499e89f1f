"""The load generator: simulated officers and citizens, in a process of its own.

Run by `bench.run` as ``python -m bench.load PLAN.json``. One event loop
holds every simulated client: officers connected over websockets, each
on duty at a random point of the demo district, sending a position every
4 s, acknowledging offers as the officer app does, and claiming them over
the same socket (the app's first way in) after a human delay; citizens
raising alarms at a set rate, some watching their officer on the map. The
same code drives the platform and the floor (`bench.floor`); against the
floor it replays what the platform did in the same run (who was offered
each alarm, the sizes of the frames), so both send the same frames to the
same clients.

Phases, in order (durations and rates come from the plan's settings):

1. ``connect``: every officer connects and subscribes, idle; the server's
   resident memory is read before and after (figure 4).
2. ``steady``: positions every 4 s, alarms at the set rate (figures 1, 2, 5).
3. ``ingest``: positions twice as often, the server's CPU time read over
   the phase (figure 2).
4. ``race``: for each K, alarms that K offered officers claim within a
   short window; one may win, the rest must be refused (figure 3).
5. ``storm``: every officer drops at once and reconnects within 10 s,
   resuming its topic, while alarms keep coming (figure 6).

Against several platform processes (``bench.run --processes N``, the
plan's ``ports`` and ``nodes``), officer i connects and makes its HTTP calls
on ``ports[i % N]`` while citizens raise alarms on the first, so that an
offer reaches half the officers only through the cluster's shared events.

It writes its figures (and, against the platform, the record the floor
replays) to the plan's ``out`` path.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path

import orjson
from bson import ObjectId
from pymongo import AsyncMongoClient
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClosedError, websocket_connect

from bench import prepare
from bench.common import (
    HttpPool,
    cpu_seconds,
    inside,
    raise_file_limit,
    random_point,
    rss_bytes,
    summary,
)
from server.demo import XUANWU

log = logging.getLogger("bench.load")

# Handshakes in flight at once while connecting everybody: a phone fleet
# does not arrive in one instant either, and the server's accept queue
# (128 by default) must not overflow.
CONNECT_CONCURRENCY = 100
# How long an alarm waits for its offers to arrive before giving up.
OFFER_WAIT_S = 3.0
# A simulated officer moves up to this much per report (degrees, ~30 m).
STEP_DEG = 0.0003
# Officers glance at an offer, then claim: ride-hailing drivers take
# seconds, and the first two who want it race for it.
CLAIM_DELAY_S = (2.0, 6.0)
CLAIMERS = 2
# The app reports that an offer is on screen this long after it arrived.
SEEN_DELAY_S = (0.3, 1.5)
# A claim not answered within this long is counted as an error.
CLAIM_ANSWER_S = 30.0
# The winner reports "on the way" after this long, then the citizen watches
# the officer come closer (settings["watch_s"]) before cancelling, which
# frees the officer for the next alarm.
EN_ROUTE_AFTER_S = 1.0
# With several processes, each tells the others about its connected officers
# once a second (server.realtime.cluster.PRESENCE_S): wait two of those after
# everyone connected, or the first alarms would miss the other's officers.
PRESENCE_WAIT_S = 2.0


def now() -> float:
    return time.perf_counter()


class Officer:
    __slots__ = (
        "answers",
        "back_at",
        "conn",
        "epoch",
        "id",
        "index",
        "lat",
        "lon",
        "ready",
        "seq",
        "token",
        "wanted_seq",
        "watched",
    )

    def __init__(self, index: int, entry: dict):
        self.index = index
        self.id = entry["id"]
        self.token = entry["token"]
        self.lon, self.lat = entry["lon"], entry["lat"]
        self.conn = None
        self.epoch = None
        self.seq = 0
        self.wanted_seq = 0
        self.back_at = None
        self.ready: asyncio.Future | None = None
        self.watched = False
        # request id -> future of (answer type, raw frame), for claims
        self.answers: dict[int, asyncio.Future] = {}


class Track:
    """One alarm as the load sees it."""

    def __init__(self, phase: str, number: int, citizen: dict):
        self.phase, self.number, self.citizen = phase, number, citizen
        self.id = ""
        self.sent_at = 0.0
        self.notified = 0
        self.winner: Officer | None = None


class Platform:
    """Requests as the PWA makes them."""

    XSRF = "bench-xsrf"

    def __init__(self, plan: dict):
        self.host, self.port = plan["host"], plan["port"]
        # One process unless the plan lists several; the first takes the
        # citizens (and /healthz), officer i goes to ports[i % N].
        self.ports = plan.get("ports") or [self.port]
        self.nodes = plan.get("nodes") or ["A"]
        self.pools = [HttpPool(self.host, port) for port in self.ports]
        self.http = self.pools[0]
        self.db = None
        if plan.get("db_uri"):
            self.db = AsyncMongoClient(plan["db_uri"])[plan["db_name"]]

    def headers(self, token: str, ip: str | None = None) -> dict:
        headers = {
            "Cookie": f"jingdi_session={token}; _xsrf={self.XSRF}",
            "X-XSRFToken": self.XSRF,
            "Content-Type": "application/json",
        }
        if ip:
            headers["X-Real-IP"] = ip
        return headers

    def node_of(self, officer: Officer) -> int:
        return officer.index % len(self.ports)

    def socket_request(self, token: str, index: int, kind: str) -> HTTPRequest:
        port = self.ports[index % len(self.ports) if kind == "officer" else 0]
        # The server accepts only its own origin, as a browser would send it.
        origin = f"http://{self.host}:{port}"
        return HTTPRequest(
            f"ws://{self.host}:{port}/ws",
            headers={"Cookie": f"jingdi_session={token}", "Origin": origin},
        )

    def user_topic(self, officer: Officer) -> str:
        return f"user:{officer.id}"

    async def raise_alarm(self, track: Track, point, replay) -> tuple[int, dict]:
        lon, lat = point
        body = {"category": "noise", "lon": lon, "lat": lat, "source": "gps"}
        citizen = track.citizen
        status, raw = await self.http.request(
            "POST",
            "/api/alarms",
            orjson.dumps(body),
            self.headers(citizen["token"], citizen["ip"]),
        )
        return status, orjson.loads(raw) if raw else {}

    async def claim_http(self, officer: Officer, alarm_id: str) -> tuple[int, bytes]:
        return await self.pools[self.node_of(officer)].request(
            "POST", f"/api/alarms/{alarm_id}/claim", b"", self.headers(officer.token)
        )

    async def progress(self, officer: Officer, alarm_id: str) -> int:
        body = orjson.dumps({"status": "en_route"})
        status, _ = await self.pools[self.node_of(officer)].request(
            "POST",
            f"/api/alarms/{alarm_id}/progress",
            body,
            self.headers(officer.token),
        )
        return status

    async def cancel(self, track: Track) -> int:
        citizen = track.citizen
        status, _ = await self.http.request(
            "POST",
            f"/api/alarms/{track.id}/cancel",
            b"",
            self.headers(citizen["token"], citizen["ip"]),
        )
        return status

    async def set_offered(self, officers: int, wanted: int) -> None:
        """Make offers reach about ``wanted`` officers (tenant setting)."""
        await self.db.tenants.update_one(
            {"_id": XUANWU}, {"$set": prepare.tenant_settings(officers, wanted)}
        )

    async def lag(self, window_s: float, node: int = 0) -> dict:
        # /healthz keeps two minutes of samples and refuses other windows.
        window_s = min(120.0, max(1.0, window_s))
        _, raw = await self.pools[node].request("GET", f"/healthz?lag_s={window_s:.0f}")
        return orjson.loads(raw).get("loop_lag_ms", {})

    async def recorded_offers(self, alarm_ids: list[str]) -> dict[str, set[str]]:
        """Whom the platform itself says it offered each alarm over websocket.

        The `offers` collection holds one record per (alarm, officer) sent,
        written by the offer round before the raise request is answered;
        only the first round counts, as figure 1 waits for that round only.
        """
        ids = [ObjectId(i) for i in alarm_ids]
        rounds: dict[str, dict[int, set[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(set)
        )
        cursor = self.db.offers.find(
            {"alarm_id": {"$in": ids}, "channel": "websocket"},
            {"alarm_id": 1, "officer_id": 1, "round": 1},
        )
        async for offer in cursor:
            rounds[str(offer["alarm_id"])][offer["round"]].add(offer["officer_id"])
        return {a: by_round[min(by_round)] for a, by_round in rounds.items()}

    async def sizes(self, sizes: dict) -> None:
        pass


class Floor(Platform):
    """The same requests to the floor, with the platform's answers replayed."""

    def socket_request(self, token: str, index: int, kind: str) -> HTTPRequest:
        number = index if kind == "officer" else 1_000_000 + index
        return HTTPRequest(f"ws://{self.host}:{self.port}/ws?i={number}")

    def user_topic(self, officer: Officer) -> str:
        return f"user:{officer.index}"

    async def raise_alarm(self, track: Track, point, replay) -> tuple[int, dict]:
        order = {
            "id": f"{track.phase}-{track.number}",
            "to": replay["to"],
            "size": replay["size"],
        }
        status, raw = await self.http.request("POST", "/alarm", orjson.dumps(order))
        return status, orjson.loads(raw)

    async def claim_http(self, officer: Officer, alarm_id: str) -> tuple[int, bytes]:
        headers = {"X-Client": str(officer.index)}
        return await self.http.request("POST", f"/claim/{alarm_id}", b"", headers)

    async def progress(self, officer: Officer, alarm_id: str) -> int:
        status, _ = await self.http.request("POST", f"/progress/{alarm_id}")
        return status

    async def cancel(self, track: Track) -> int:
        status, _ = await self.http.request("POST", f"/cancel/{track.id}")
        return status

    async def set_offered(self, officers: int, wanted: int) -> None:
        pass  # Who is offered comes from the platform's record.

    def node_of(self, officer: Officer) -> int:
        return 0

    async def sizes(self, sizes: dict) -> None:
        await self.http.request("POST", "/sizes", orjson.dumps(sizes))


class Simulation:
    """Every simulated client and what they measured."""

    def __init__(self, plan: dict):
        self.plan = plan
        self.settings = plan["settings"]
        self.floor_mode = plan["mode"] == "floor"
        self.target = Floor(plan) if self.floor_mode else Platform(plan)
        self.rng = random.Random(self.settings["seed"])
        self.officers = [
            Officer(i, e) for i, e in enumerate(plan["roster"]["officers"])
        ]
        self.by_id = {o.id: o for o in self.officers}
        self.citizens = collections.deque(plan["roster"]["citizens"])
        self.record = plan.get("record") or {}
        self.out: dict = {"errors": collections.Counter()}
        self.new_record: dict = {"sizes": collections.defaultdict(list)}
        # alarm id -> officer index -> (arrival time, frame size)
        self.offers: dict[str, dict[int, tuple[float, int]]] = collections.defaultdict(
            dict
        )
        self.offer_waiters: dict[str, asyncio.Event] = {}
        self.position_sent: dict[tuple[float, float], float] = {}
        self.position_latency: list[float] = []
        self.interval = 4.0
        self.positions_sent = 0
        self.acks = True
        self.claim_ids = 0
        self.running = True
        self.tasks: set[asyncio.Task] = set()
        # (seconds since the load started, node) of each officer the server
        # dropped, to tell a steady leak from one bad moment.
        self.drops: list[tuple[float, str]] = []
        self.started = now()

    # -- helpers -----------------------------------------------------------

    def spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.out["errors"][f"task: {type(exc).__name__}: {exc}"[:120]] += 1

    def size(self, kind: str, raw) -> None:
        sizes = self.new_record["sizes"][kind]
        if len(sizes) < 200:
            sizes.append(len(raw))

    def server_pids(self) -> list[int]:
        """Every platform process, the first (with the database) first."""
        return self.plan.get("server_pids") or [self.plan["server_pid"]]

    def cpu(self) -> dict[str, float]:
        pids = {"server": self.plan["server_pid"], "db": self.plan.get("db_pid")}
        # The other processes by node name ("server B"), beside the first.
        for name, pid in zip(
            self.target.nodes[1:], self.server_pids()[1:], strict=True
        ):
            pids[f"server {name}"] = pid
        return {k: cpu_seconds(p) for k, p in pids.items() if p}

    # -- officers ------------------------------------------------------------

    async def connect(self, officer: Officer, resume: bool = False) -> None:
        request = self.target.socket_request(officer.token, officer.index, "officer")
        conn = await websocket_connect(request, ping_interval=None)
        welcome = await conn.read_message()
        if welcome is None:
            self.out["errors"]["officer refused"] += 1
            return
        self.size("welcome", welcome)
        officer.conn = conn
        officer.ready = asyncio.get_running_loop().create_future()
        topic = self.target.user_topic(officer)
        message = {"type": "subscribe", "id": 1, "topic": topic}
        if resume and officer.epoch is not None:
            message["resume"] = {"epoch": officer.epoch, "seq": officer.seq}
        await conn.write_message(orjson.dumps(message).decode())
        self.spawn(self.read_officer(officer, conn, resume))
        await officer.ready

    async def read_officer(self, officer: Officer, conn, resume: bool) -> None:
        while True:
            raw = await conn.read_message()
            if raw is None:
                break
            at = now()
            message = orjson.loads(raw)
            kind = message["type"]
            if kind == "event":
                self.on_event(officer, message, raw, at)
            elif kind == "subscribed":
                self.size("subscribed", raw)
                self.on_subscribed(officer, message, resume, at)
            elif kind == "reload":
                self.out["errors"]["reload on resume"] += 1
            elif message.get("id") in officer.answers:
                officer.answers[message["id"]].set_result((kind, raw))
            elif kind == "error":
                self.out["errors"][f"socket error {message.get('reason')}"] += 1
        if officer.conn is conn:
            # Not closed by the load itself (the storm and the end clear
            # officer.conn first): the server dropped the officer, which would
            # otherwise only show as fewer offers.
            if self.running:
                reason = f"{conn.close_code} {conn.close_reason}"
                self.out["errors"][f"officer dropped by the server: {reason}"] += 1
                node = self.target.nodes[self.target.node_of(officer)]
                self.drops.append((round(now() - self.started, 1), node))
            officer.conn = None

    def on_subscribed(self, officer: Officer, message, resume: bool, at) -> None:
        officer.epoch = message["epoch"]
        officer.wanted_seq = message["seq"]
        if not resume:
            officer.seq = message["seq"]
        if officer.seq >= officer.wanted_seq:
            officer.back_at = at
        if not officer.ready.done():
            officer.ready.set_result(None)

    def on_event(self, officer: Officer, message: dict, raw, at: float) -> None:
        seq = message["seq"]
        if seq != officer.seq + 1:
            self.out["errors"]["event out of order"] += 1
        # A replayed offer (while catching up after a reconnect) was not
        # delivered live; the alarm's latency counts only live ones.
        live = officer.back_at is not None
        officer.seq = max(officer.seq, seq)
        if not live and officer.seq >= officer.wanted_seq:
            officer.back_at = at
        event = message["event"]
        if event == "offer.new" and live:
            alarm_id = message["payload"]["alarm_id"]
            self.offers[alarm_id].setdefault(officer.index, (at, len(raw)))
            self.size("offer.new", raw)
            waiter = self.offer_waiters.get(alarm_id)
            if waiter is not None:
                waiter.set()
            if self.acks:
                self.spawn(self.acknowledge(officer, alarm_id))
        elif event in ("offer.taken", "alarm.assigned"):
            self.size(event, raw)

    async def acknowledge(self, officer: Officer, alarm_id: str) -> None:
        """As the officer app does: delivered at once, seen a moment later."""
        for seen in (False, True):
            if seen:
                await asyncio.sleep(self.rng.uniform(*SEEN_DELAY_S))
            message = {"type": "offer.ack", "alarm_id": alarm_id, "seen": seen}
            if officer.conn is not None:
                await officer.conn.write_message(orjson.dumps(message).decode())

    async def report_positions(self, officer: Officer) -> None:
        await asyncio.sleep(self.rng.uniform(0, self.interval))
        while self.running:
            if officer.conn is not None:
                self.move(officer)
                message = {
                    "type": "position",
                    "lon": officer.lon,
                    "lat": officer.lat,
                    "accuracy": 10,
                }
                if officer.watched:
                    self.position_sent[(officer.lon, officer.lat)] = now()
                try:
                    await officer.conn.write_message(orjson.dumps(message).decode())
                    self.positions_sent += 1
                except Exception:
                    self.out["errors"]["position on a closed socket"] += 1
            await asyncio.sleep(self.interval * self.rng.uniform(0.95, 1.05))

    def move(self, officer: Officer) -> None:
        lon = round(officer.lon + self.rng.uniform(-STEP_DEG, STEP_DEG), 6)
        lat = round(officer.lat + self.rng.uniform(-STEP_DEG, STEP_DEG), 6)
        if inside(lon, lat):
            officer.lon, officer.lat = lon, lat

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(officer: Officer) -> None:
            async with gate:
                await self.connect(officer)

        await asyncio.gather(*(one(o) for o in self.officers))

    # -- citizens ------------------------------------------------------------

    async def watch(self, track: Track, number: int) -> None:
        """The citizen's page follows the alarm and the officer's moves."""
        citizen = track.citizen
        request = self.target.socket_request(citizen["token"], number, "citizen")
        conn = await websocket_connect(request, ping_interval=None)
        await conn.read_message()
        topic = f"alarm:{track.id}"
        message = {"type": "subscribe", "id": 1, "topic": topic}
        await conn.write_message(orjson.dumps(message).decode())
        deadline = now() + self.settings["watch_s"] + 15
        while now() < deadline:
            raw = await conn.read_message()
            if raw is None:
                return
            message = orjson.loads(raw)
            if message.get("event") == "officer.position":
                self.size("officer.position", raw)
                where = message["payload"]["position"]["coordinates"]
                sent = self.position_sent.pop((where[0], where[1]), None)
                if sent is not None:
                    self.position_latency.append(1000 * (now() - sent))
            elif message.get("event") == "alarm.status" and message["payload"].get(
                "status"
            ) in ("cancelled", "resolved"):
                break
        conn.close()

    # -- alarms --------------------------------------------------------------

    def replay_of(self, phase: str, number: int) -> dict | None:
        if not self.floor_mode:
            return None
        alarms = self.record.get(phase, [])
        return alarms[number] if number < len(alarms) else None

    async def raise_and_wait(self, track: Track, point) -> bool:
        """Raise the alarm and wait for its offers; False when refused."""
        replay = self.replay_of(track.phase, track.number)
        if self.floor_mode and replay is None:
            return False
        track.sent_at = now()
        status, body = await self.target.raise_alarm(track, point, replay)
        if status not in (200, 201):
            self.out["errors"][f"raise {status} {body.get('reason')}"] += 1
            return False
        self.size("alarm", orjson.dumps(body))
        track.id = body["alarm"]["id"]
        track.notified = body["alarm"]["officers_notified"]
        waiter = self.offer_waiters[track.id] = asyncio.Event()
        deadline = now() + OFFER_WAIT_S
        while len(self.offers[track.id]) < track.notified and now() < deadline:
            waiter.clear()
            try:
                await asyncio.wait_for(waiter.wait(), deadline - now())
            except TimeoutError:
                break
        del self.offer_waiters[track.id]
        return True

    def offer_figures(self, track: Track, figures: dict) -> list:
        """Latency to the last offer; records who got it for the floor."""
        received = self.offers.pop(track.id, {})
        if not received:
            figures["no offers"] += 1
            return []
        last = max(at for at, _ in received.values())
        figures["latency"].append(1000 * (last - track.sent_at))
        figures["offered"].append(len(received))
        figures["missing"] += max(0, track.notified - len(received))
        # Kept for the check against the platform's record (offer_summary).
        figures["received"][track.id] = {self.officers[i].id for i in received}
        for i in received:
            figures["by_node"][
                self.target.nodes[self.target.node_of(self.officers[i])]
            ] += 1
        order = sorted(received, key=lambda i: received[i][0])
        if not self.floor_mode:
            sizes = [size for _, size in received.values()]
            replay = {"to": sorted(received), "size": int(statistics.median(sizes))}
            self.new_record.setdefault(track.phase, []).append(replay)
        return order

    async def alarm_cycle(self, track: Track, point, figures: dict) -> None:
        """Raise, get offered, claim after a human delay, watch, cancel."""
        watching = self.rng.random() < self.settings["watch_fraction"]
        if not await self.raise_and_wait(track, point):
            return
        figures["raised"].append(track.id)
        figures["sent_at"][track.id] = track.sent_at
        if watching:
            self.spawn(self.watch(track, track.number))
        order = self.offer_figures(track, figures)
        claims = [
            self.claim_later(track, self.officers[i], self.rng.uniform(*CLAIM_DELAY_S))
            for i in order[:CLAIMERS]
        ]
        await asyncio.gather(*claims)
        if track.winner is not None:
            await asyncio.sleep(EN_ROUTE_AFTER_S)
            await self.target.progress(track.winner, track.id)
            track.winner.watched = watching
            await asyncio.sleep(self.settings["watch_s"])
            track.winner.watched = False
        await self.target.cancel(track)

    async def claim_later(self, track: Track, officer: Officer, delay: float):
        await asyncio.sleep(delay)
        started = now()
        status, raw = await self.claim(officer, track.id)
        elapsed = 1000 * (now() - started)
        if status == 200:
            self.size("claimed", raw)
            if track.winner is not None:
                self.out["errors"]["double assignment"] += 1
            track.winner = officer
        else:
            self.size("refused", raw)
        return status, elapsed, raw

    async def claim(self, officer: Officer, alarm_id: str) -> tuple[int, bytes]:
        """抢单 over the officer's socket, as the open app does, or over HTTP
        while it has none (dropped in the storm); the answer as an HTTP-like
        status (200 claimed, 409 or 403 refused) and the frame."""
        if officer.conn is None:
            return await self.target.claim_http(officer, alarm_id)
        self.claim_ids += 1
        request_id = self.claim_ids
        answer = asyncio.get_running_loop().create_future()
        officer.answers[request_id] = answer
        message = {"type": "claim", "id": request_id, "alarm_id": alarm_id}
        try:
            await officer.conn.write_message(orjson.dumps(message).decode())
            async with asyncio.timeout(CLAIM_ANSWER_S):
                kind, raw = await answer
        except (TimeoutError, WebSocketClosedError):
            self.out["errors"]["claim unanswered"] += 1
            return 0, b""
        finally:
            officer.answers.pop(request_id, None)
        if kind == "claimed":
            return 200, raw
        reason = orjson.loads(raw).get("reason")
        return (403 if reason == "not_offered" else 409), raw

    def next_citizen(self) -> dict:
        citizen = self.citizens.popleft()
        self.citizens.append(citizen)
        return citizen

    async def alarms_at_rate(self, phase: str, seconds: float, figures) -> None:
        """Raise alarms at the set rate for ``seconds``; wait for them all."""
        rate = self.settings["alarm_rate"]
        started = now()
        cycles = []
        number = 0
        while now() - started < seconds:
            track = Track(phase, number, self.next_citizen())
            point = random_point(self.rng)
            cycles.append(self.spawn(self.alarm_cycle(track, point, figures)))
            number += 1
            await asyncio.sleep(max(0.0, started + number / rate - now()))
        await asyncio.gather(*cycles, return_exceptions=True)

    # -- phases ----------------------------------------------------------------

    async def phase_connect(self) -> None:
        pids = self.server_pids()
        await asyncio.sleep(1.0)
        # With several processes, what they all grew by, over every officer.
        before = sum(rss_bytes(pid) for pid in pids)
        started = now()
        await self.connect_all()
        connect_s = now() - started
        # Let allocations settle (handshake buffers freed, pings started).
        await asyncio.sleep(3.0)
        after = sum(rss_bytes(pid) for pid in pids)
        if len(pids) > 1:
            await asyncio.sleep(PRESENCE_WAIT_S)
        self.out["memory"] = {
            "rss_before": before,
            "rss_after": after,
            "officers": len(self.officers),
            "per_officer_bytes": round((after - before) / len(self.officers)),
            "connect_s": round(connect_s, 2),
        }
        for officer in self.officers:
            self.spawn(self.report_positions(officer))

    def new_figures(self) -> dict:
        return {
            "latency": [],
            "offered": [],
            "missing": 0,
            "no offers": 0,
            "raised": [],
            "sent_at": {},
            "received": {},
            "by_node": collections.Counter(),
        }

    async def offer_summary(self, figures: dict) -> dict:
        out = {
            "alarm_to_offers_ms": summary(figures["latency"]),
            "offered": summary(figures["offered"]),
            "missing_offers": figures["missing"],
            "alarms_without_offers": figures["no offers"],
            "offers_by_node": dict(figures["by_node"]),
        }
        if self.floor_mode or self.target.db is None:
            return out
        # The platform's count of whom it notified (officers_notified) could
        # itself be wrong, e.g. if it counted an officer on another process
        # that the event never reached. So missing offers are what its own
        # record says it sent over websocket that no officer received
        # within the wait, however many it claimed to have notified.
        expected = await self.target.recorded_offers(figures["raised"])
        unexpected = 0
        missing_by_node: collections.Counter = collections.Counter()
        late_ms = []
        for alarm_id in figures["raised"]:
            sent = expected.get(alarm_id, set())
            got = figures["received"].get(alarm_id, set())
            unexpected += len(got - sent)
            # Frames that came after the wait are still collected under the
            # alarm (on_event); telling late from lost says where to look.
            after = self.offers.pop(alarm_id, {})
            for officer_id in sent - got:
                officer = self.by_id.get(officer_id)
                if officer is None:  # Not one of ours: no simulated client.
                    missing_by_node["not simulated"] += 1
                    continue
                missing_by_node[self.target.nodes[self.target.node_of(officer)]] += 1
                if officer.index in after:
                    at = after[officer.index][0]
                    late_ms.append(1000 * (at - figures["sent_at"][alarm_id]))
        out["missing_vs_notified"] = figures["missing"]
        out["missing_offers"] = sum(missing_by_node.values())
        out["missing_by_node"] = dict(missing_by_node)
        # Of the missing, those that did arrive, after OFFER_WAIT_S.
        out["missing_late_ms"] = summary(late_ms)
        out["offers_recorded"] = sum(len(v) for v in expected.values())
        # Offers received that the record does not hold: none should be.
        out["offers_not_recorded"] = unexpected
        return out

    async def phase_steady(self) -> None:
        seconds = self.settings["steady_s"]
        cpu, sent, started = self.cpu(), self.positions_sent, now()
        self.position_latency = []
        figures = self.new_figures()
        await self.alarms_at_rate("steady", seconds, figures)
        elapsed = now() - started
        self.out["steady"] = {
            **await self.offer_summary(figures),
            "position_to_citizen_ms": summary(self.position_latency),
            "positions_per_s": round((self.positions_sent - sent) / elapsed),
            "cpu_pct": self.cpu_pct(cpu, elapsed),
            "loop_lag_ms": await self.target.lag(elapsed),
            "seconds": round(elapsed, 1),
        }
        if len(self.target.pools) > 1:
            self.out["steady"]["loop_lag_ms_by_node"] = {
                name: await self.target.lag(elapsed, node)
                for node, name in enumerate(self.target.nodes)
            }

    def cpu_pct(self, before: dict, elapsed: float) -> dict:
        after = self.cpu()
        return {k: round(100 * (after[k] - before[k]) / elapsed, 1) for k in after}

    async def phase_ingest(self) -> None:
        seconds = self.settings["ingest_s"]
        self.interval = self.settings["ingest_interval_s"]
        self.position_latency = []
        # Some alarms in progress, so that citizens watch officers move.
        figures = self.new_figures()
        await asyncio.sleep(self.interval)  # Every officer on the new rhythm.
        cpu, sent, started = self.cpu(), self.positions_sent, now()
        self.acks = True
        alarms = self.spawn(self.alarms_at_rate("ingest", seconds, figures))
        await asyncio.sleep(seconds)
        elapsed = now() - started
        positions = self.positions_sent - sent
        self.out["ingest"] = {
            "positions_per_s": round(positions / elapsed),
            "cpu_pct": self.cpu_pct(cpu, elapsed),
            "position_to_citizen_ms": summary(self.position_latency),
            "loop_lag_ms": await self.target.lag(elapsed),
            "seconds": round(elapsed, 1),
        }
        self.interval = 4.0
        await alarms
        self.out["ingest"].update(await self.offer_summary(figures))

    async def phase_race(self) -> None:
        self.acks = False  # See bench/README.md: claims only, to fit the run.
        self.out["race"] = {}
        for k_text, count in self.settings["race"].items():
            k = int(k_text)
            await self.target.set_offered(len(self.officers), max(2 * k, 20))
            self.out["race"][k_text] = await self.race(k, count)
        await self.target.set_offered(len(self.officers), 100)
        self.acks = True

    async def race(self, k: int, count: int) -> dict:
        figures = {
            "losers_ms": [],
            "winners": collections.Counter(),
            "refusals": collections.Counter(),
            "short": 0,
            "alarms": [],
        }
        gate = asyncio.Semaphore(self.settings["race_parallel"])
        started = now()

        async def one(number: int) -> None:
            async with gate:
                await self.race_one(k, number, figures)

        await asyncio.gather(*(one(n) for n in range(count)))
        winners = figures["winners"]
        return {
            "alarms": sum(winners.values()),
            "claimants": k,
            "double_assignments": sum(n for w, n in winners.items() if w > 1),
            "no_winner": winners.get(0, 0),
            "fewer_offered_than_k": figures["short"],
            "loser_answer_ms": summary(figures["losers_ms"]),
            "refusals": dict(figures["refusals"]),
            "seconds": round(now() - started, 1),
            "alarm_ids": figures["alarms"] if not self.floor_mode else [],
        }

    async def race_one(self, k: int, number: int, figures: dict) -> None:
        track = Track(f"race{k}", number, self.next_citizen())
        if not await self.raise_and_wait(track, random_point(self.rng)):
            return
        scratch = self.new_figures()
        order = self.offer_figures(track, scratch)
        if len(order) < k:
            figures["short"] += 1
        window = self.settings["race_window_s"]
        results = await asyncio.gather(
            *(
                self.claim_later(track, self.officers[i], self.rng.uniform(0, window))
                for i in order[:k]
            )
        )
        wins = 0
        for status, elapsed, raw in results:
            if status == 200:
                wins += 1
            else:
                figures["losers_ms"].append(elapsed)
                reason = orjson.loads(raw).get("reason") if raw else None
                figures["refusals"][f"{status} {reason}"] += 1
        figures["winners"][wins] += 1
        figures["alarms"].append(track.id)
        await self.target.cancel(track)

    async def phase_storm(self) -> None:
        spread = self.settings["storm_spread_s"]
        figures = self.new_figures()
        alarms = self.spawn(self.alarms_at_rate("storm", spread + 5, figures))
        await asyncio.sleep(2.0)
        dropped_at = now()
        for officer in self.officers:
            conn, officer.conn = officer.conn, None
            officer.back_at = None
            if conn is not None:
                conn.close(1001, "network lost")

        async def back(officer: Officer) -> None:
            await asyncio.sleep(self.rng.uniform(0, spread))
            try:
                await self.connect(officer, resume=True)
            except Exception as exc:
                self.out["errors"][f"reconnect: {type(exc).__name__}"] += 1

        await asyncio.gather(*(back(o) for o in self.officers))
        # Replays may still be arriving for the last ones back.
        deadline = dropped_at + self.settings["storm_limit_s"] + 10
        while now() < deadline:
            if all(o.back_at is not None for o in self.officers):
                break
            await asyncio.sleep(0.1)
        returns = [o.back_at - dropped_at for o in self.officers if o.back_at]
        await alarms
        elapsed = now() - dropped_at
        self.out["storm"] = {
            **await self.offer_summary(figures),
            "all_back_s": round(max(returns), 2) if returns else None,
            "back_s": summary([1000 * r for r in returns]),
            "not_back": sum(1 for o in self.officers if o.back_at is None),
            "loop_lag_ms": await self.target.lag(elapsed),
        }

    async def run(self) -> dict:
        if self.floor_mode:
            await self.target.sizes(self.record.get("sizes", {}))
        load_cpu = os.times()
        started = now()
        for name in self.settings["phases"]:
            phase_started = now()
            await getattr(self, f"phase_{name}")()
            log.warning("phase %s done in %.1fs", name, now() - phase_started)
        self.running = False
        for officer in self.officers:
            if officer.conn is not None:
                officer.conn.close()
        times = os.times()
        used = times.user + times.system - load_cpu.user - load_cpu.system
        self.out["load_cpu_pct"] = round(100 * used / (now() - started), 1)
        self.out["errors"] = dict(self.out["errors"])
        self.out["officers_dropped"] = self.drops
        sizes = self.new_record.pop("sizes")
        self.new_record["sizes"] = {
            k: int(statistics.median(v)) for k, v in sizes.items() if v
        }
        self.out["record"] = self.new_record
        return self.out


async def simulate(plan: dict) -> dict:
    return await Simulation(plan).run()


def main(path: str) -> None:
    plan = orjson.loads(Path(path).read_bytes())
    raise_file_limit()
    out = asyncio.run(simulate(plan))
    Path(plan["out"]).write_bytes(orjson.dumps(out))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="load: %(message)s")
    main(sys.argv[1])

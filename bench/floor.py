"""The floor: a minimal Tornado websocket server with no platform logic.

It answers the load generator's requests with frames of the sizes the
platform sent in the same run, to the same clients, and nothing else: no
database, no sessions, no authorization, no matching. Whatever the platform
takes beyond the floor's figures is the platform's own cost, so figures are
read as ratios to the floor, which hold across machines.

Protocol (all JSON, every frame padded to the size the load asks for):

- ``/ws?i=N`` opens client N; it is sent ``welcome`` and answers
  ``subscribe`` with ``subscribed`` and any frames after ``resume.seq``;
- ``position`` from an officer on an alarm is forwarded to the citizen
  watching that alarm; ``claim`` ``{id, alarm_id}`` lets the first claimant
  win (``claimed``), tells the other officers offered, and refuses the rest
  (``error``, reason ``taken``); other messages are parsed and dropped;
- ``POST /alarm`` ``{id, to, size}`` sends an offer to each officer in ``to``;
  ``POST /claim/<id>`` (header ``X-Client``) is the same claim over HTTP, for
  an officer whose socket is down; ``POST /progress/<id>`` and
  ``/cancel/<id>`` tell the watcher; ``GET /healthz`` reports loop lag.

Run as ``python -m bench.floor --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import logging

import orjson
import tornado.httpserver
import tornado.web
import tornado.websocket

from server.looplag import LagMonitor

log = logging.getLogger("bench.floor")

# Frames kept per client for a resume, like the platform's retention.
KEEP_FRAMES = 1000


class Floor:
    """What the floor remembers: clients, their frames, alarms and watchers."""

    def __init__(self, sizes: dict[str, int]):
        self.sizes = sizes
        self.sockets: dict[int, FloorSocket] = {}
        self.seq: dict[int, int] = collections.defaultdict(int)
        self.kept: dict[int, collections.deque] = {}
        self.offered: dict[str, list[int]] = {}
        self.winner: dict[str, int] = {}
        self.watcher: dict[str, int] = {}
        self.tracking: dict[int, str] = {}
        self.lag = LagMonitor()

    def frame(self, kind: str, body: dict, size: int | None = None) -> str:
        text = orjson.dumps(body).decode()
        pad = (size or self.sizes.get(kind, 0)) - len(text) - 10
        if pad > 0:
            text = orjson.dumps({**body, "pad": "x" * pad}).decode()
        return text

    def claim(self, client: int, alarm_id: str) -> bool:
        """The first claimant wins and the other officers offered are told."""
        if alarm_id in self.winner:
            return False
        self.winner[alarm_id] = client
        self.tracking[client] = alarm_id
        for other in self.offered.get(alarm_id, ()):
            if other != client:
                self.event(other, "offer.taken", {"alarm_id": alarm_id})
        self.event(client, "alarm.assigned", {"id": alarm_id})
        return True

    def event(self, client: int, kind: str, payload: dict, size=None) -> None:
        """Number, keep and send one event to a client, if connected."""
        self.seq[client] += 1
        seq = self.seq[client]
        body = {"type": "event", "seq": seq, "event": kind, "payload": payload}
        text = self.frame(kind, body, size)
        kept = self.kept.setdefault(client, collections.deque(maxlen=KEEP_FRAMES))
        kept.append((seq, text))
        socket = self.sockets.get(client)
        if socket is not None:
            socket.send(text)


class FloorSocket(tornado.websocket.WebSocketHandler):
    def initialize(self, floor: Floor):
        self.floor = floor
        self.client = -1

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self) -> None:
        self.client = int(self.get_query_argument("i"))
        self.floor.sockets[self.client] = self
        self.send(self.floor.frame("welcome", {"type": "welcome"}))

    def send(self, text: str) -> None:
        with contextlib.suppress(tornado.websocket.WebSocketClosedError):
            self.write_message(text)

    def on_message(self, raw) -> None:
        message = orjson.loads(raw)
        kind = message.get("type")
        if kind == "position":
            alarm_id = self.floor.tracking.get(self.client)
            watcher = self.floor.watcher.get(alarm_id) if alarm_id else None
            if watcher is not None:
                self.floor.event(
                    watcher,
                    "officer.position",
                    {"position": {"coordinates": [message["lon"], message["lat"]]}},
                )
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "claim":
            self._claim(message)

    def _claim(self, message: dict) -> None:
        floor, alarm_id = self.floor, message["alarm_id"]
        answer = {"id": message.get("id")}
        if floor.claim(self.client, alarm_id):
            won = {"type": "claimed", **answer, "alarm": {"id": alarm_id}}
            self.send(floor.frame("claimed", won))
        else:
            refusal = {"type": "error", **answer, "reason": "taken"}
            self.send(floor.frame("refused", {**refusal, "message": "taken"}))

    def _subscribe(self, message: dict) -> None:
        topic = message.get("topic", "")
        if topic.startswith("alarm:"):
            self.floor.watcher[topic[6:]] = self.client
        seq = self.floor.seq[self.client]
        answer = {"type": "subscribed", "id": message.get("id"), "topic": topic}
        self.send(self.floor.frame("subscribed", {**answer, "epoch": "f", "seq": seq}))
        after = (message.get("resume") or {}).get("seq", seq)
        for number, text in self.floor.kept.get(self.client, ()):
            if number > after:
                self.send(text)

    def on_close(self) -> None:
        if self.floor.sockets.get(self.client) is self:
            del self.floor.sockets[self.client]


class Handler(tornado.web.RequestHandler):
    def initialize(self, floor: Floor):
        self.floor = floor

    def answer(self, status: int, kind: str, body: dict) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(self.floor.frame(kind, body))


class AlarmHandler(Handler):
    def post(self) -> None:
        order = orjson.loads(self.request.body)
        alarm_id, offered = order["id"], order["to"]
        self.floor.offered[alarm_id] = offered
        for client in offered:
            self.floor.event(client, "offer.new", {"alarm_id": alarm_id}, order["size"])
        alarm = {"id": alarm_id, "officers_notified": len(offered)}
        self.answer(201, "alarm", {"alarm": alarm})


class ClaimHandler(Handler):
    def post(self, alarm_id: str) -> None:
        if self.floor.claim(int(self.request.headers["X-Client"]), alarm_id):
            self.answer(200, "claimed", {"alarm": {"id": alarm_id}})
        else:
            self.answer(409, "refused", {"message": "taken", "reason": "taken"})


class ChangeHandler(Handler):
    """Progress and cancellation: the watcher (and the officer) are told."""

    def post(self, action: str, alarm_id: str) -> None:
        watcher = self.floor.watcher.get(alarm_id)
        if watcher is not None:
            status = "cancelled" if action == "cancel" else "en_route"
            self.floor.event(watcher, "alarm.status", {"status": status})
        winner = self.floor.winner.get(alarm_id)
        if action == "cancel" and winner is not None:
            self.floor.tracking.pop(winner, None)
            self.floor.event(winner, "alarm.updated", {"id": alarm_id})
        self.answer(200, "changed", {"alarm": {"id": alarm_id}})


class HealthHandler(Handler):
    def get(self) -> None:
        window = float(self.get_query_argument("lag_s", "60"))
        self.answer(200, "health", {"loop_lag_ms": self.floor.lag.summary(window)})


class SizesHandler(Handler):
    def post(self) -> None:
        self.floor.sizes.update(orjson.loads(self.request.body))
        self.answer(200, "sizes", {})


def make_app(floor: Floor) -> tornado.web.Application:
    args = {"floor": floor}
    return tornado.web.Application(
        [
            (r"/ws", FloorSocket, args),
            (r"/alarm", AlarmHandler, args),
            (r"/claim/([^/]+)", ClaimHandler, args),
            (r"/(progress|cancel)/([^/]+)", ChangeHandler, args),
            (r"/healthz", HealthHandler, args),
            (r"/sizes", SizesHandler, args),
        ],
        log_function=lambda handler: None,  # The platform logs to a file.
        # The platform's own ping settings, so that the floor pays for them too.
        websocket_ping_interval=5.0,
        websocket_ping_timeout=5.0,
    )


async def serve(port: int) -> None:
    floor = Floor({})
    server = tornado.httpserver.HTTPServer(make_app(floor))
    server.listen(port, "127.0.0.1")
    floor.lag.start()
    gc.freeze()  # As run.py does once started.
    print(f"floor listening on {port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="The benchmark's floor server.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()

"""The one websocket endpoint (``/ws``) every client uses.

The handshake is authenticated from the session cookie (no session: 403) and
Tornado's origin check refuses foreign pages. Then every message is checked
on its own: its type must be declared in `MESSAGE_TYPES` with a permission,
and every topic subscription is authorized by `server.realtime.topics`.

Envelope (JSON text frames):

- client to server: ``{"type", "id"?, ...}``; ``subscribe`` takes ``topic``
  and optionally ``resume: {"epoch", "seq"}``; ``unsubscribe`` takes
  ``topic``; ``ping`` nothing.
- server to client: ``welcome`` on connect; ``subscribed`` with the topic's
  ``epoch`` and ``seq``, followed by any replayed events; ``event`` with
  ``topic``, ``seq``, ``event`` and ``payload``; ``reload`` when a resume
  point is too old; ``error`` with ``reason`` and ``message``; ``pong``;
  ``service`` with ``status`` (``degraded`` or ``ok``) when the database
  becomes unreachable or answers again (`server.realtime.service`).

A client that stops reading is closed (1013) once `max_pending_frames` frames
are waiting for it, so it cannot make everyone else wait.

Messages are handled one at a time, in order, by a worker task of the socket
(`on_message` returns at once, so pongs are read while a handler waits). The
frequent ones that usually need no database (a position, an offer receipt)
are first tried at once when nothing waits before them (`quick_message`), so
thousands a second cost no task each.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

import tornado.websocket

from server import access
from server.auth import public_user
from server.errors import DomainError, Invalid
from server.handlers.base import SESSION_COOKIE, SecurityHeadersMixin, database_down
from server.jsonutil import JSONDecodeError, dumps_text, loads
from server.realtime import topics

log = logging.getLogger(__name__)

# Messages waiting for one socket's worker: a phone sends a position every
# few seconds and an ack per offer, so hundreds waiting means it is flooding.
MAX_INBOX = 256

MessageHandler = Callable[["RealtimeSocket", dict], Awaitable[None]]
# type -> (permission, handler). Feature modules add theirs with `message_type`.
MESSAGE_TYPES: dict[str, tuple[str, MessageHandler]] = {}
# Frequent messages that can often be acted on at once, without a task: the
# handler returns True when it did everything, False to leave the message to
# the full path (which then does it all, errors and their audit included),
# so it must change nothing before it is sure.
QUICK_TYPES: dict[str, tuple[str, Callable[[RealtimeSocket, dict], bool]]] = {}


def message_type(name: str, permission: str):
    """Declare a client message type and the permission it needs."""

    def register(handler: MessageHandler) -> MessageHandler:
        MESSAGE_TYPES[name] = (permission, handler)
        return handler

    return register


def quick_message(name: str, permission: str):
    """Declare a synchronous first try for a message type (see `QUICK_TYPES`);
    the type is still declared with `message_type` for the full path."""

    def register(handler):
        QUICK_TYPES[name] = (permission, handler)
        return handler

    return register


class RealtimeSocket(SecurityHeadersMixin, tornado.websocket.WebSocketHandler):
    """One client's connection: its principal, its topics, its send queue."""

    principal: access.Principal | None = None
    account: dict | None = None
    worker: asyncio.Task | None = None

    def initialize(self) -> None:
        # Messages received and not yet handled (see on_message); there only
        # while some are, to keep an idle connection small.
        self.inbox: collections.deque[str | bytes] | None = None

    @property
    def platform(self):
        return self.settings["platform"]

    @property
    def session_id(self) -> str:
        return self.principal.session_id if self.principal else ""

    async def prepare(self) -> None:
        # Revocations from now until open() must still close this socket.
        self.revocation_mark = self.platform.hub.revocations
        token = self.get_cookie(SESSION_COOKIE)
        # The account as read for the session, handed to open() (and then
        # let go): an officer joining presence needs it too.
        self.principal, self.account = await self.platform.auth.identify(token)
        if self.principal is None:
            log.info("websocket refused: no session")
            raise tornado.web.HTTPError(403, "no session")

    def check_origin(self, origin: str) -> bool:
        allowed = self.platform.config.server.allowed_origins
        if origin in allowed:
            return True
        same = urlparse(origin).netloc.lower() == self.request.host.lower()
        if not same:
            log.info("websocket refused: foreign origin")
        return same

    async def open(self) -> None:
        hub = self.platform.hub
        if hub.revoked_since(self.revocation_mark, self.session_id):
            # Before anything is registered, so on_close has nothing to undo.
            log.info("websocket closed: session ended during the handshake")
            self.close_for(4001, "session ended")
            return
        self.topics: set[str] = set()
        # Frames handed to Tornado, and how many of them reached the kernel.
        self.queued = 0
        self.flushed = 0
        self.opened_at = time.monotonic()
        hub.attach(self)
        # Messages wait until open() returns, so an officer is in presence
        # before their first position arrives.
        await self.platform.socket_opened(self)
        self.send(
            {
                "type": "welcome",
                "user": public_user(self.principal),
                # "degraded" while the database is unreachable (see service.py).
                "service": self.platform.service.status,
            }
        )
        log.debug("socket open %s=%s", self.principal.kind, self.principal.id)

    # -- sending -----------------------------------------------------------

    def send(self, message: dict) -> None:
        self.send_frame(dumps_text(message))

    @property
    def pending(self) -> int:
        """Frames still waiting in this process for the client to take them."""
        return self.queued - self.flushed

    def send_frame(self, frame: str) -> None:
        """Queue one frame; a client too far behind is disconnected."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        if self.pending >= self.platform.config.realtime.max_pending_frames:
            log.warning(
                "closing slow socket of %s=%s: %d frames pending",
                self.principal.kind,
                self.principal.id,
                self.pending,
            )
            self.close_for(1013, "too slow")
            return
        try:
            written = self.write_message(frame)
        except tornado.websocket.WebSocketClosedError:
            return
        self.queued += 1
        number = self.queued
        if not connection.stream.writing():
            # Tornado wrote it (and everything before it) to the kernel at
            # once; its future only says so a loop iteration later. Counting
            # it as pending until then would close a healthy client that is
            # sent a burst (a replay, many events from one request).
            self.flushed = number
        written.add_done_callback(lambda future: self._written(future, number))

    def _written(self, future, number: int) -> None:
        # Writes complete in order: frame ``number`` and all before it are out.
        self.flushed = max(self.flushed, number)
        if not future.cancelled():
            future.exception()  # A write to a closed socket is expected here.

    def close_for(self, code: int, reason: str) -> None:
        self.close(code, reason)

    # -- receiving ---------------------------------------------------------

    def on_message(self, raw: str | bytes) -> None:
        """Act on a quick message at once, or queue it for this socket's
        worker; return at once either way.

        Tornado reads no further frame (pongs included) until on_message
        returns, so a handler waiting for a busy database must not hold the
        read loop: past the ping timeout the connection would be dropped as
        dead. Messages are handled one at a time, in order, by `_work`.
        """
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if self.worker is None and self._quick(raw):
            return
        if self.inbox is None:
            self.inbox = collections.deque()
        if len(self.inbox) >= MAX_INBOX:
            log.warning(
                "closing socket of %s=%s: %d messages waiting",
                self.principal.kind,
                self.principal.id,
                len(self.inbox),
            )
            self.close_for(1008, "too many messages")
            return
        self.inbox.append(raw)
        if self.worker is None:
            self.worker = asyncio.get_running_loop().create_task(self._work())

    def _quick(self, raw: str | bytes) -> bool:
        """Act on a frequent message at once when nothing is waiting before
        it (a position every few seconds from every officer): no task, no
        queue. Anything unusual (a malformed message, a refusal, a case the
        quick handler leaves) goes the full way instead."""
        if not isinstance(raw, str):
            return False
        try:
            message = loads(raw)
        except JSONDecodeError:
            return False
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str):
            return False
        entry = QUICK_TYPES.get(kind)
        if entry is None or not self.principal.has(entry[0]):
            return False
        try:
            return entry[1](self, message)
        except DomainError:
            return False

    async def _work(self) -> None:
        try:
            while self.inbox:
                await self.handle(self.inbox.popleft())
        finally:
            self.worker = None
            if not self.inbox:
                self.inbox = None

    async def handle(self, raw: str | bytes) -> None:
        """Parse, authorize and act on one client message."""
        if self.ws_connection is None or self.ws_connection.is_closing():
            # Closing (say the session ended): what crosses the close frame on
            # the wire is not acted on.
            return
        request_id, message = None, None
        try:
            message = self._parse(raw)
            request_id = message.get("id")
            entry = MESSAGE_TYPES.get(message["type"])
            permission, handler = entry if entry else (None, None)
            access.require(self.principal, permission)
            await handler(self, message)
        except DomainError as exc:
            if exc.status in (403, 404):
                # Refused access over the socket is audited like over HTTP.
                self.platform.audit.record(
                    self.principal,
                    "access.refused",
                    tenant_id=self.principal.tenant_id,
                    target=(
                        "message",
                        str(message.get("type"))[:40] if message else None,
                    ),
                    outcome="refused",
                    detail={
                        "status": exc.status,
                        "reason": exc.reason,
                        "topic": _topic_of(message),
                    },
                )
            self.send(
                {
                    "type": "error",
                    "id": request_id,
                    "reason": exc.reason,
                    "message": exc.message,
                }
            )
        except Exception as exc:
            if not database_down(exc):
                raise
            self.send(
                {
                    "type": "error",
                    "id": request_id,
                    "reason": "database",
                    "message": "The service is briefly unavailable; try again.",
                }
            )

    def _parse(self, raw: str | bytes) -> dict:
        if isinstance(raw, bytes):
            raise Invalid("Messages must be JSON text frames.", "bad_frame")
        try:
            message = loads(raw)
        except JSONDecodeError:
            raise Invalid("The message is not valid JSON.", "bad_json") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise Invalid("A message is a JSON object with a type.", "bad_message")
        request_id = message.get("id")
        if request_id is not None and not isinstance(request_id, str | int):
            raise Invalid("A message id is a string or a number.", "bad_message")
        return message

    def on_close(self) -> None:
        if self.inbox:
            self.inbox.clear()  # nothing more is acted on
        self.platform.hub.detach(self, getattr(self, "topics", ()))
        if hasattr(self, "topics"):  # open() ran: undo what it registered
            self.platform.socket_closed(self)
        if self.principal is not None:
            log.debug(
                "socket closed %s=%s after %.1fs code=%s",
                self.principal.kind,
                self.principal.id,
                time.monotonic() - getattr(self, "opened_at", time.monotonic()),
                self.close_code,
            )


@message_type("ping", access.SIGNED_IN)
async def _ping(socket: RealtimeSocket, message: dict) -> None:
    socket.send({"type": "pong", "id": message.get("id")})


@message_type("subscribe", access.SIGNED_IN)
async def _subscribe(socket: RealtimeSocket, message: dict) -> None:
    topic = await topics.authorize(
        socket.platform, socket.principal, message.get("topic")
    )
    resume = message.get("resume")
    if resume is not None and not isinstance(resume, dict):
        raise Invalid("resume is {epoch, seq}.", "bad_message")
    outcome = socket.platform.hub.subscribe(socket, topic, resume)
    socket.topics.add(topic)
    if outcome.reload:
        socket.send({"type": "reload", "topic": topic})
    socket.send(
        {
            "type": "subscribed",
            "id": message.get("id"),
            "topic": topic,
            "epoch": outcome.epoch,
            "seq": outcome.seq,
        }
    )
    for frame in outcome.frames:
        socket.send_frame(frame)


@message_type("unsubscribe", access.SIGNED_IN)
async def _unsubscribe(socket: RealtimeSocket, message: dict) -> None:
    topic = message.get("topic")
    if not isinstance(topic, str):
        raise Invalid("A topic must be a short text.", "bad_topic")
    if topic in socket.topics:
        socket.topics.discard(topic)
        socket.platform.hub.unsubscribe(socket, topic)
    socket.send({"type": "unsubscribed", "id": message.get("id"), "topic": topic})


def _topic_of(message: dict | None) -> str:
    topic = (message or {}).get("topic")
    return topic[:128] if isinstance(topic, str) else ""

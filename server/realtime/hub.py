"""The fan-out hub: ordered, resumable event streams per topic.

A topic (``alarm:<id>``, ``command:<tenant>``, ``user:<id>``, ...) is a stream
of events numbered 1, 2, 3, ... Each event is encoded to a JSON frame once and
the same text is written to every subscriber. The last events of each topic
are kept for a retention window so that a client that reconnects with
``{epoch, seq}`` gets exactly the events it missed, in order; a client whose
resume point is older than the window, or from before a restart (another
``epoch``), is told to reload its state over HTTP instead.

The hub is in memory and per process. Durable state lives in MongoDB; these
events are notifications about it, which is why a client that falls outside
the window can always recover by reloading.
"""

from __future__ import annotations

import collections
import logging
import secrets
import time
from typing import Any, Protocol

import orjson

from server.jsonutil import dumps, dumps_text

log = logging.getLogger(__name__)

# Revocations remembered for sockets whose handshake is in flight; a
# handshake spans a couple of database reads, so this is plenty.
REVOCATION_HISTORY = 256


class Subscriber(Protocol):
    """What the hub needs of a connection."""

    session_id: str

    def send_frame(self, frame: str) -> None: ...

    def close_for(self, code: int, reason: str) -> None: ...


class Stream:
    """One topic: its last sequence number, retained frames and subscribers."""

    __slots__ = ("epoch", "events", "last_at", "retention", "seq", "subscribers")

    def __init__(self, epoch: str, retention_events: int):
        # Sequence numbers are only comparable within one epoch: a topic that
        # was swept and created again starts a new one.
        self.epoch = epoch
        self.seq = 0
        self.retention = retention_events
        # Created with the first event: most topics (an idle officer's own)
        # have none, and an empty deque is 760 bytes per connected officer.
        self.events: collections.deque[tuple[int, float, str]] | None = None
        self.subscribers: set[Subscriber] = set()
        self.last_at = time.monotonic()

    def keep(self, event: tuple[int, float, str]) -> None:
        if self.events is None:
            self.events = collections.deque(maxlen=self.retention)
        self.events.append(event)


class Resume:
    """The outcome of a subscription: frames to replay, or a reload."""

    __slots__ = ("epoch", "frames", "reload", "seq")

    def __init__(self, stream: Stream, frames: list[str], reload: bool):
        self.epoch = stream.epoch
        self.seq = stream.seq
        self.frames = frames
        self.reload = reload


class Hub:
    """Topics, their subscribers, and the events they have seen recently."""

    def __init__(self, retention_events: int = 1000, retention_seconds: float = 600):
        # A new epoch per process start: sequence numbers of an older process
        # mean nothing here, and a client holding them must reload.
        self.epoch = secrets.token_hex(6)
        self.retention_events = retention_events
        self.retention_seconds = retention_seconds
        self.streams: dict[str, Stream] = {}
        self._created = 0
        self.connections: set[Subscriber] = set()
        # server.realtime.cluster.Cluster when several processes share the
        # database; None for one process.
        self.cluster = None
        # Recent revocations, numbered, so that a socket whose handshake was
        # in flight when its session ended can tell (see `revoked_since`).
        self.revocations = 0
        self._revoked: collections.deque[tuple[int, frozenset[str]]] = (
            collections.deque(maxlen=REVOCATION_HISTORY)
        )

    def _stream(self, topic: str) -> Stream:
        stream = self.streams.get(topic)
        if stream is None:
            self._created += 1
            stream = Stream(f"{self.epoch}.{self._created}", self.retention_events)
            self.streams[topic] = stream
        return stream

    def publish(self, topic: str, event: str, payload: Any) -> int:
        """Number, retain and send one event to every subscriber of ``topic``.

        With several processes (`server.realtime.cluster`), the event also
        goes to the others, whose subscribers get it from their own hub.
        """
        if self.cluster is not None:
            # Encoded once, for this process's frame and the others'.
            encoded = dumps(payload)
            self.cluster.forward(topic, event, encoded)
            payload = orjson.Fragment(encoded)
        return self.publish_here(topic, event, payload)

    def publish_here(self, topic: str, event: str, payload: Any) -> int:
        """`publish` to this process's subscribers only (events from others)."""
        stream = self._stream(topic)
        stream.seq += 1
        stream.last_at = time.monotonic()
        frame = dumps_text(
            {
                "type": "event",
                "topic": topic,
                "seq": stream.seq,
                "event": event,
                "payload": payload,
            }
        )
        stream.keep((stream.seq, stream.last_at, frame))
        for subscriber in list(stream.subscribers):
            subscriber.send_frame(frame)
        return stream.seq

    def subscribe(
        self, subscriber: Subscriber, topic: str, resume: dict | None = None
    ) -> Resume:
        """Add a subscriber; with ``resume``, also return the frames it missed.

        The caller sends the confirmation and the frames before any later
        event can interleave, because nothing here awaits.
        """
        stream = self._stream(topic)
        outcome = Resume(stream, [], False)
        if resume is not None:
            outcome = self._missed(stream, resume)
        stream.subscribers.add(subscriber)
        return outcome

    def _missed(self, stream: Stream, resume: dict) -> Resume:
        epoch, seq = resume.get("epoch"), resume.get("seq")
        # bool is an int subclass, but ``true`` is no sequence number.
        valid = isinstance(seq, int) and not isinstance(seq, bool)
        if epoch != stream.epoch or not valid or seq > stream.seq:
            return Resume(stream, [], True)
        if seq == stream.seq:
            return Resume(stream, [], False)
        horizon = time.monotonic() - self.retention_seconds
        retained = [e for e in stream.events or () if e[1] >= horizon]
        if not retained or retained[0][0] > seq + 1:
            return Resume(stream, [], True)
        frames = [frame for number, _, frame in retained if number > seq]
        return Resume(stream, frames, False)

    def unsubscribe(self, subscriber: Subscriber, topic: str) -> None:
        stream = self.streams.get(topic)
        if stream is not None:
            stream.subscribers.discard(subscriber)

    def drop(
        self,
        topic: str,
        user_id: str | None,
        event: str,
        payload: Any,
        forward: bool = True,
        tenant_id: str | None = None,
    ) -> int:
        """Unsubscribe a user's sockets from ``topic`` (or, with ``tenant_id``
        and no user, every socket of that agency's people), telling each
        ``event`` (say a member removed from a room, or a grant that ended),
        in every process unless ``forward`` is false. Returns how many
        sockets here were dropped."""
        if forward and self.cluster is not None:
            self.cluster.control(
                "drop",
                {
                    "topic": topic,
                    "user": user_id,
                    "tenant": tenant_id,
                    "e": event,
                    "p": payload,
                },
            )
        stream = self.streams.get(topic)
        frame = dumps_text(
            {"type": "event", "topic": topic, "event": event, "payload": payload}
        )
        dropped = 0
        for subscriber in list(stream.subscribers if stream else ()):
            principal = getattr(subscriber, "principal", None)
            if principal is None:
                continue
            if user_id is not None:
                chosen = principal.id == user_id
            else:
                chosen = tenant_id is not None and principal.tenant_id == tenant_id
            if chosen:
                subscriber.send_frame(frame)
                stream.subscribers.discard(subscriber)
                getattr(subscriber, "topics", set()).discard(topic)
                dropped += 1
        return dropped

    def attach(self, subscriber: Subscriber) -> None:
        self.connections.add(subscriber)

    def detach(self, subscriber: Subscriber, topics) -> None:
        """Forget a closed connection everywhere."""
        self.connections.discard(subscriber)
        for topic in topics:
            self.unsubscribe(subscriber, topic)

    def revoke_sessions(self, session_ids: set[str], forward: bool = True) -> int:
        """Close every connection opened with one of these sessions (in every
        process, unless ``forward`` is false: the revocation came from one)."""
        if forward and self.cluster is not None and session_ids:
            self.cluster.control("revoke", sorted(session_ids))
        self.revocations += 1
        self._revoked.append((self.revocations, frozenset(session_ids)))
        doomed = [c for c in self.connections if c.session_id in session_ids]
        for connection in doomed:
            # 4001: an application code (4000-4999); the client must sign in.
            connection.close_for(4001, "session ended")
        if doomed:
            log.info(
                "closed %d sockets of %d ended sessions", len(doomed), len(session_ids)
            )
        return len(doomed)

    def revoked_since(self, mark: int, session_id: str) -> bool:
        """Whether ``session_id`` was revoked after revocation number ``mark``.

        A socket takes the mark before it checks its session and asks in
        ``open``: a revocation in between found no connection to close.
        """
        if self.revocations - mark > len(self._revoked):
            return True  # Too many to tell: safer to make the client retry.
        return any(n > mark and session_id in ids for n, ids in self._revoked)

    def sweep(self) -> int:
        """Drop expired events and idle topics; returns how many topics went."""
        started = time.monotonic()
        horizon = started - self.retention_seconds
        idle = []
        for topic, stream in self.streams.items():
            while stream.events and stream.events[0][1] < horizon:
                stream.events.popleft()
            if stream.events is not None and not stream.events:
                stream.events = None
            if not stream.subscribers and stream.last_at < horizon:
                idle.append(topic)
        for topic in idle:
            del self.streams[topic]
        if idle:
            log.info(
                "swept %d idle topics in %.3fs; %d remain",
                len(idle),
                time.monotonic() - started,
                len(self.streams),
            )
        return len(idle)

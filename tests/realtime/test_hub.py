"""The hub on its own: numbering, fan-out, resume windows, sweeping, revocation."""

from __future__ import annotations

import types

import orjson
import pytest

from server.realtime import hub as hub_module
from server.realtime.hub import Hub


class FakeSubscriber:
    """Records the frames it is sent and how it was closed."""

    def __init__(self, session_id: str = "s1"):
        self.session_id = session_id
        self.frames: list[str] = []
        self.closed: tuple[int, str] | None = None

    def send_frame(self, frame: str) -> None:
        self.frames.append(frame)

    def close_for(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class Clock:
    """A settable stand-in for `time.monotonic`, seen only by the hub."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    fake_time = types.SimpleNamespace(monotonic=clock.monotonic)
    monkeypatch.setattr(hub_module, "time", fake_time)
    return clock


def seqs(frames: list[str]) -> list[int]:
    return [orjson.loads(frame)["seq"] for frame in frames]


def test_publish_numbers_events_per_topic_from_one():
    """Each topic counts its own events 1, 2, 3, ... in the JSON envelope."""
    hub = Hub()
    assert [hub.publish("a:1", "x", {}) for _ in range(3)] == [1, 2, 3]
    assert hub.publish("b:1", "x", {}) == 1
    assert hub.publish("a:1", "x", {}) == 4

    sub = FakeSubscriber()
    hub.subscribe(sub, "b:1")
    hub.publish("b:1", "changed", {"k": "v"})
    assert orjson.loads(sub.frames[0]) == {
        "type": "event",
        "topic": "b:1",
        "seq": 2,
        "event": "changed",
        "payload": {"k": "v"},
    }


def test_every_subscriber_gets_the_same_frame_text_once():
    """A frame is encoded once; all subscribers get that very string."""
    hub = Hub()
    subs = [FakeSubscriber() for _ in range(3)]
    for sub in subs:
        hub.subscribe(sub, "a:1")
    hub.subscribe(subs[0], "a:1")  # Subscribing twice does not double events.
    hub.publish("a:1", "x", {"n": 1})
    assert all(len(sub.frames) == 1 for sub in subs)
    assert subs[0].frames[0] is subs[1].frames[0] is subs[2].frames[0]


def test_subscribers_of_other_topics_and_unsubscribed_get_nothing():
    """Events go only to the topic's current subscribers."""
    hub = Hub()
    stays, leaves, other = FakeSubscriber(), FakeSubscriber(), FakeSubscriber()
    hub.subscribe(stays, "a:1")
    hub.subscribe(leaves, "a:1")
    hub.subscribe(other, "b:1")
    hub.unsubscribe(leaves, "a:1")
    hub.publish("a:1", "x", {})
    assert len(stays.frames) == 1
    assert leaves.frames == [] and other.frames == []


def test_detach_forgets_a_connection_on_every_topic():
    """A closed connection is dropped from the hub and all its topics."""
    hub = Hub()
    sub = FakeSubscriber()
    hub.attach(sub)
    hub.subscribe(sub, "a:1")
    hub.subscribe(sub, "b:1")
    hub.detach(sub, {"a:1", "b:1"})
    hub.publish("a:1", "x", {})
    hub.publish("b:1", "x", {})
    assert sub not in hub.connections
    assert sub.frames == []


def test_resume_returns_exactly_the_missed_frames_in_order():
    """A resume point inside the window replays what came after it, in order."""
    hub = Hub()
    live = FakeSubscriber()
    first = hub.subscribe(live, "a:1")
    assert (first.seq, first.frames, first.reload) == (0, [], False)
    for n in range(5):
        hub.publish("a:1", "x", {"n": n})

    outcome = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": first.epoch, "seq": 2})
    assert not outcome.reload
    assert (outcome.epoch, outcome.seq) == (first.epoch, 5)
    assert seqs(outcome.frames) == [3, 4, 5]
    # The very frames live subscribers got: nothing re-encoded.
    assert all(a is b for a, b in zip(outcome.frames, live.frames[2:], strict=True))


def test_resume_from_zero_replays_the_whole_stream():
    """A client that subscribed before the first event gets all of them."""
    hub = Hub()
    epoch = hub.subscribe(FakeSubscriber(), "a:1").epoch
    hub.publish("a:1", "x", {})
    hub.publish("a:1", "x", {})
    outcome = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 0})
    assert not outcome.reload and seqs(outcome.frames) == [1, 2]


def test_resume_at_the_current_seq_replays_nothing():
    """A client that missed nothing gets no frames and no reload."""
    hub = Hub()
    epoch = hub.subscribe(FakeSubscriber(), "a:1").epoch
    assert not hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 0}).reload
    hub.publish("a:1", "x", {})
    hub.publish("a:1", "x", {})
    outcome = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 2})
    assert (outcome.frames, outcome.reload, outcome.seq) == ([], False, 2)


@pytest.mark.parametrize(
    "resume",
    [
        {"epoch": "someone-else", "seq": 1},
        {"seq": 1},
        {"epoch": "{epoch}", "seq": 4},
        {"epoch": "{epoch}", "seq": "1"},
        {"epoch": "{epoch}", "seq": None},
        {"epoch": "{epoch}", "seq": 1.0},
        {"epoch": "{epoch}", "seq": True},
        {"epoch": "{epoch}", "seq": -1},
        {"epoch": "{epoch}"},
        {},
    ],
    ids=[
        "other-epoch",
        "no-epoch",
        "beyond-stream",
        "text-seq",
        "null-seq",
        "float-seq",
        "bool-seq",
        "negative-seq",
        "no-seq",
        "empty",
    ],
)
def test_unusable_resume_point_means_reload(resume):
    """Another epoch, a seq beyond the stream or a malformed point: reload."""
    hub = Hub()
    epoch = hub.subscribe(FakeSubscriber(), "a:1").epoch
    for _ in range(3):
        hub.publish("a:1", "x", {})
    point = {k: epoch if v == "{epoch}" else v for k, v in resume.items()}
    outcome = hub.subscribe(FakeSubscriber(), "a:1", point)
    assert outcome.reload and outcome.frames == []
    assert (outcome.epoch, outcome.seq) == (epoch, 3)


def test_a_restarted_hub_reloads_resume_points_of_the_old_one():
    """After a restart (a new Hub) the same topic has a different epoch."""
    old, new = Hub(), Hub()
    epoch = old.subscribe(FakeSubscriber(), "a:1").epoch
    old.publish("a:1", "x", {})
    new.publish("a:1", "x", {})
    outcome = new.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 1})
    assert outcome.reload and outcome.epoch != epoch


def test_resume_older_than_the_retained_count_means_reload():
    """Only the last ``retention_events`` can be replayed; older points reload."""
    hub = Hub(retention_events=3)
    epoch = hub.subscribe(FakeSubscriber(), "a:1").epoch
    for _ in range(5):
        hub.publish("a:1", "x", {})
    # Events 3, 4 and 5 are kept: seq 2 is the oldest point that can resume.
    edge = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 2})
    assert not edge.reload and seqs(edge.frames) == [3, 4, 5]
    too_old = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 1})
    assert too_old.reload and too_old.frames == []


def test_resume_older_than_the_retention_time_means_reload(clock):
    """Events older than ``retention_seconds`` are not replayed: reload."""
    hub = Hub(retention_seconds=10)
    epoch = hub.subscribe(FakeSubscriber(), "a:1").epoch
    hub.publish("a:1", "x", {})  # t = 1000
    clock.now += 5
    hub.publish("a:1", "x", {})  # t = 1005
    clock.now += 7  # t = 1012: event 1 is past the window, event 2 is not.

    assert hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 0}).reload
    kept = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 1})
    assert not kept.reload and seqs(kept.frames) == [2]

    clock.now += 10  # Both events expired.
    assert hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 1}).reload
    current = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": epoch, "seq": 2})
    assert (current.reload, current.frames) == (False, [])


def test_sweep_drops_idle_topics_and_expired_events(clock):
    """Idle unsubscribed topics go; followed ones stay but lose old events."""
    hub = Hub(retention_seconds=10)
    hub.publish("idle:1", "x", {})
    follower = FakeSubscriber()
    hub.subscribe(follower, "followed:1")
    hub.publish("followed:1", "x", {})
    clock.now += 8
    hub.publish("recent:1", "x", {})
    assert hub.sweep() == 0

    clock.now += 3  # idle:1 and followed:1 are 11 s old, recent:1 is 3 s old.
    assert hub.sweep() == 1
    assert set(hub.streams) == {"followed:1", "recent:1"}
    # An emptied buffer is released (an idle officer's topic keeps none).
    assert hub.streams["followed:1"].events is None
    assert len(hub.streams["recent:1"].events) == 1


def test_a_swept_topic_comes_back_with_a_new_epoch(clock):
    """A recreated topic restarts at 1 in a new epoch: old resume points reload."""
    hub = Hub(retention_seconds=10)
    sub = FakeSubscriber()
    old = hub.subscribe(sub, "a:1")
    hub.publish("a:1", "x", {})
    hub.publish("a:1", "x", {})
    hub.unsubscribe(sub, "a:1")
    clock.now += 11
    assert hub.sweep() == 1

    assert hub.publish("a:1", "x", {}) == 1
    outcome = hub.subscribe(FakeSubscriber(), "a:1", {"epoch": old.epoch, "seq": 1})
    assert outcome.reload and outcome.frames == []
    assert outcome.epoch != old.epoch and outcome.seq == 1


def test_revoke_sessions_closes_only_connections_of_those_sessions():
    """Revocation closes (4001) every socket of the ended sessions, no others."""
    hub = Hub()
    doomed = [FakeSubscriber("s1"), FakeSubscriber("s1"), FakeSubscriber("s3")]
    spared = [FakeSubscriber("s2"), FakeSubscriber("")]
    for connection in doomed + spared:
        hub.attach(connection)
    assert hub.revoke_sessions({"s1", "s3", "unknown"}) == 3
    assert all(c.closed is not None and c.closed[0] == 4001 for c in doomed)
    assert all(c.closed is None for c in spared)
    assert hub.revoke_sessions({"nobody"}) == 0


def test_revoked_since_reports_revocations_after_the_mark_only():
    """A handshake in flight learns whether its session ended meanwhile."""
    hub = Hub()
    hub.revoke_sessions({"old"})
    mark = hub.revocations
    assert not hub.revoked_since(mark, "old")
    hub.revoke_sessions({"s1", "s2"})
    assert hub.revoked_since(mark, "s1") and hub.revoked_since(mark, "s2")
    assert not hub.revoked_since(mark, "s3")
    assert not hub.revoked_since(hub.revocations, "s1")


def test_revoked_since_errs_on_the_safe_side_when_history_is_lost():
    """Past the remembered history every in-flight handshake counts as revoked."""
    hub = Hub()
    mark = hub.revocations
    for n in range(hub_module.REVOCATION_HISTORY + 1):
        hub.revoke_sessions({f"s{n}"})
    assert hub.revoked_since(mark, "never-revoked")

"""Bounded per-client queues and dead-client detection, with a raw socket.

The server here keeps at most 16 frames for a client and (unless a test says
otherwise) never pings, so a client can only be dropped by its queue.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.realtime.support import TIMEOUT, until

MAX_PENDING = 16


@pytest.fixture
def config(config, request):
    """The suite's config with a tiny queue bound; tests may add settings."""
    realtime = {
        "max_pending_frames": MAX_PENDING,
        "ping_interval_s": 600,
        "ping_timeout_s": 600,
    }
    realtime.update(getattr(request, "param", {}))
    return config.replace(realtime=realtime)


async def open_raw_subscriber(live_server, connect_raw, topic: str):
    """A raw client subscribed to ``topic``; returns it and its server side."""
    hub = live_server.platform.hub
    before = set(hub.connections)
    raw = await connect_raw(await live_server.signed_in(("commander",), "t1"))
    await until(lambda: len(hub.connections) == len(before) + 1)
    [server_side] = hub.connections - before
    await raw.send({"type": "subscribe", "topic": topic})
    await until(lambda: server_side in hub.streams[topic].subscribers)
    return raw, server_side


async def test_a_client_that_stops_reading_is_dropped_while_others_get_everything(
    live_server, connect, connect_raw, caplog
):
    """The stalled client is closed at the queue bound; the healthy one gets all."""
    caplog.set_level(logging.WARNING, logger="server.realtime.socket")
    hub = live_server.platform.hub
    healthy = await connect(await live_server.signed_in(("commander",), "t1"))
    await healthy.subscribe("command:t1")
    _, stalled = await open_raw_subscriber(live_server, connect_raw, "command:t1")

    received: list[dict] = []
    progress = asyncio.Event()

    total, window = 2000, MAX_PENDING // 2

    async def read_all() -> None:
        while len(received) < total:
            received.append(await healthy.receive())
            progress.set()

    reader = asyncio.create_task(read_all())
    try:
        for n in range(1, total + 1):
            # Keep the healthy client within half the bound: only the stalled
            # one can fall behind, whatever the speed of this machine.
            while len(received) < n - window:
                progress.clear()
                await asyncio.wait_for(progress.wait(), TIMEOUT)
            hub.publish("command:t1", "tick", {"n": n, "pad": "x" * 8000})
        await asyncio.wait_for(reader, TIMEOUT)
    finally:
        reader.cancel()

    assert [m["seq"] for m in received] == list(range(1, total + 1))
    assert [m["payload"]["n"] for m in received] == list(range(1, total + 1))
    assert all(m["type"] == "event" for m in received)
    await until(lambda: stalled not in hub.connections)
    assert stalled not in hub.streams["command:t1"].subscribers
    assert len(hub.connections) == 1  # The healthy client is still there.
    slow = [r for r in caplog.records if "closing slow socket" in r.getMessage()]
    assert len(slow) == 1 and slow[0].levelno == logging.WARNING
    await healthy.assert_quiet_and_usable()


async def test_a_burst_larger_than_the_bound_does_not_drop_a_reading_client(
    live_server, connect
):
    """Many events published at once reach a client that reads: no false alarm."""
    hub = live_server.platform.hub
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.subscribe("command:t1")
    burst = MAX_PENDING * 10
    for n in range(1, burst + 1):
        hub.publish("command:t1", "tick", {"n": n})
    assert [e["seq"] for e in await socket.events(burst)] == list(range(1, burst + 1))
    await socket.assert_quiet_and_usable()


async def test_a_replay_larger_than_the_bound_reaches_a_resuming_client(
    live_server, connect
):
    """A resume replaying more frames than the bound gets all of them."""
    hub = live_server.platform.hub
    client = await live_server.signed_in(("commander",), "t1")
    first = await connect(client)
    epoch = (await first.subscribe("command:t1"))["epoch"]
    await first.shut()
    await until(lambda: not hub.connections)
    missed = MAX_PENDING * 10
    for n in range(1, missed + 1):
        hub.publish("command:t1", "tick", {"n": n})

    again = await connect(client)
    await again.subscribe("command:t1", {"epoch": epoch, "seq": 0})
    assert [e["seq"] for e in await again.events(missed)] == list(range(1, missed + 1))
    await again.assert_quiet_and_usable()


@pytest.mark.parametrize(
    "config", [{"ping_interval_s": 0.3, "ping_timeout_s": 0.3}], indirect=True
)
async def test_a_client_that_never_answers_pings_is_dropped(
    live_server, connect, connect_raw
):
    """A dead phone (no pong) is closed and forgotten; a live client stays."""
    hub = live_server.platform.hub
    alive = await connect(await live_server.signed_in(("commander",), "t1"))
    await alive.subscribe("command:t1")
    _, dead = await open_raw_subscriber(live_server, connect_raw, "command:t1")
    await until(lambda: dead not in hub.connections)
    assert dead not in hub.streams["command:t1"].subscribers
    # The live client went through the same pings and answered them.
    assert len(hub.connections) == 1
    await alive.assert_quiet_and_usable()

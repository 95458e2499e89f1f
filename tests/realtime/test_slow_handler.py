"""A message whose handler waits long (a busy database) does not kill the socket.

Tornado reads no frame, pongs included, while ``on_message`` runs; so the
socket queues messages for a worker and returns at once. Here the pings come
every 0.3 s with a 0.3 s timeout, and one handler takes 2 s: the socket must
stay open, and the messages behind the slow one are still handled, in order.
"""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId

from server.realtime import socket as socket_module

PING = {"ping_interval_s": 0.3, "ping_timeout_s": 0.3}


@pytest.fixture
def config(config):
    return config.replace(realtime=PING)


async def test_a_slow_handler_does_not_stop_pongs_or_reorder_messages(
    live_server, connect, monkeypatch
):
    permission, ping = socket_module.MESSAGE_TYPES["ping"]

    async def slow_ping(socket, message):
        if message.get("id") == "slow":
            await asyncio.sleep(2.0)
        await ping(socket, message)

    monkeypatch.setitem(socket_module.MESSAGE_TYPES, "ping", (permission, slow_ping))
    client = await connect(await live_server.signed_in(("officer",), "t1"))
    for request_id in ("slow", "after-1", "after-2"):
        await client.send({"type": "ping", "id": request_id})
    answers = [(await client.receive())["id"] for _ in range(3)]
    assert answers == ["slow", "after-1", "after-2"]
    assert not client.ended
    hub = live_server.platform.hub
    assert len(hub.connections) == 1
    await client.assert_quiet_and_usable()


async def test_a_flood_of_messages_closes_the_socket_with_1008(
    live_server, connect, monkeypatch
):
    """Messages arriving far faster than they are handled are not queued
    without end: past MAX_INBOX waiting, the socket is closed."""
    permission, ping = socket_module.MESSAGE_TYPES["ping"]

    async def slow_ping(socket, message):
        await asyncio.sleep(0.05)
        await ping(socket, message)

    monkeypatch.setitem(socket_module.MESSAGE_TYPES, "ping", (permission, slow_ping))
    client = await connect(await live_server.signed_in(("officer",), "t1"))
    for n in range(socket_module.MAX_INBOX + 20):
        await client.send({"type": "ping", "id": n})
    assert await client.closed_with() == 1008


async def test_a_position_behind_a_slow_message_waits_its_turn(
    live_server, connect, monkeypatch
):
    """Positions are acted on at once when nothing waits before them (no
    task for each), but never ahead of a message still being handled; a bad
    one still gets its error, the same as on the full path."""
    permission, ping = socket_module.MESSAGE_TYPES["ping"]

    async def slow_ping(socket, message):
        await asyncio.sleep(2.0)
        await ping(socket, message)

    monkeypatch.setitem(socket_module.MESSAGE_TYPES, "ping", (permission, slow_ping))
    officer = await live_server.signed_in(("officer",), "t1")
    status, _ = await officer.post("/api/officer/duty", {"duty": "on"})
    assert status == 200
    client = await connect(officer)
    presence = live_server.platform.presence
    state = presence.officers[officer.user["id"]]

    await client.send({"type": "position", "lon": 118.79, "lat": 32.07})
    await client.send({"type": "position", "id": "bad", "lon": 500, "lat": 0})
    error = await client.receive()
    assert (error["type"], error["id"], error["reason"]) == (
        "error",
        "bad",
        "bad_location",
    )
    assert (state.lon, state.lat) == (118.79, 32.07)

    await client.send({"type": "ping", "id": "slow"})
    await client.send({"type": "position", "lon": 118.791, "lat": 32.071})
    await asyncio.sleep(0.5)  # well within the slow ping's 2 s
    assert (state.lon, state.lat) == (118.79, 32.07)  # still waiting its turn
    assert (await client.receive())["id"] == "slow"
    await client.send({"type": "ping", "id": "after"})
    assert (await client.receive())["id"] == "after"
    assert (state.lon, state.lat) == (118.791, 32.071)


async def test_a_position_with_nothing_waiting_is_applied_without_the_queue(
    live_server, connect, monkeypatch
):
    """The quick path is the one taken: the full handler (a task and a
    queue per message) never runs for a plain position or offer receipt."""
    full = []
    handle = socket_module.RealtimeSocket.handle

    async def counted(socket, raw):
        full.append(raw)
        await handle(socket, raw)

    monkeypatch.setattr(socket_module.RealtimeSocket, "handle", counted)
    officer = await live_server.signed_in(("officer",), "t1")
    assert (await officer.post("/api/officer/duty", {"duty": "on"}))[0] == 200
    client = await connect(officer)
    state = live_server.platform.presence.officers[officer.user["id"]]
    await client.send({"type": "position", "lon": 118.792, "lat": 32.072})
    alarm_id = str(ObjectId())
    await client.send({"type": "offer.ack", "alarm_id": alarm_id, "seen": True})
    await client.send({"type": "ping", "id": "p"})
    assert (await client.receive())["id"] == "p"
    assert (state.lon, state.lat) == (118.792, 32.072)
    acks = live_server.platform.dispatcher.acks
    assert acks.pending(f"{alarm_id}:{officer.user['id']}")
    assert [m for m in full if "ping" not in m] == []

"""A message whose handler waits long (a busy database) does not kill the socket.

Tornado reads no frame, pongs included, while ``on_message`` runs; so the
socket queues messages for a worker and returns at once. Here the pings come
every 0.3 s with a 0.3 s timeout, and one handler takes 2 s: the socket must
stay open, and the messages behind the slow one are still handled, in order.
"""

from __future__ import annotations

import asyncio

import pytest

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

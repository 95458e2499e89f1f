"""Fixtures for the realtime tests: websockets that are always cleaned up."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import ApiClient
from tests.realtime.support import TIMEOUT, Client, RawSocket


@pytest.fixture
async def connect(live_server):
    """Open a websocket for a client, check its welcome, close it afterwards."""
    opened: list[Client] = []

    async def connect(client: ApiClient, origin: str | None = None) -> Client:
        socket = await asyncio.wait_for(client.websocket(origin), TIMEOUT)
        opened.append(Client(socket.connection))
        welcome = await opened[-1].receive()
        assert welcome is not None and welcome["type"] == "welcome", welcome
        opened[-1].welcome = welcome
        return opened[-1]

    yield connect
    for socket in opened:
        await socket.shut()


@pytest.fixture
async def connect_raw(live_server):
    """Open a hand-made websocket that never reads; closed afterwards."""
    opened: list[RawSocket] = []

    async def connect_raw(client: ApiClient) -> RawSocket:
        opened.append(await RawSocket.open(live_server.port, client))
        return opened[-1]

    yield connect_raw
    for raw in opened:
        raw.close()

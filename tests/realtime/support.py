"""Helpers for the realtime tests: a tracked client socket and a raw one."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct

import orjson
import pytest

from tests.helpers import ApiClient, Socket

# Generous: only there so that a broken server fails a test instead of hanging.
TIMEOUT = 20
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def until(predicate) -> None:
    """Wait until ``predicate()`` holds; fail after `TIMEOUT` seconds."""
    step = 0.01
    for _ in range(int(TIMEOUT / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    pytest.fail(f"still false after {TIMEOUT} s: {predicate}")


class Client(Socket):
    """A `Socket` whose reads time out and which remembers that it ended."""

    ended = False
    welcome: dict | None = None

    async def receive(self) -> dict | None:
        message = await asyncio.wait_for(super().receive(), TIMEOUT)
        if message is None:
            self.ended = True
        return message

    async def send_raw(self, data: str | bytes, binary: bool = False) -> None:
        await self.connection.write_message(data, binary=binary)

    async def closed_with(self) -> int | None:
        """Read until the server closes; return the close code."""
        while not self.ended:
            await self.receive()
        return self.connection.close_code

    async def shut(self) -> None:
        """Close from this side and wait until the connection is gone."""
        self.connection.close()
        while not self.ended:
            await self.receive()

    async def subscribe(self, topic: str, resume: dict | None = None) -> dict:
        """Subscribe and return the ``subscribed`` answer (after any reload)."""
        message: dict = {"type": "subscribe", "id": f"sub {topic}", "topic": topic}
        if resume is not None:
            message["resume"] = resume
        await self.send(message)
        answer = await self.receive()
        assert answer is not None and answer["type"] == "subscribed", answer
        assert answer["topic"] == topic and answer["id"] == message["id"]
        return answer

    async def events(self, count: int) -> list[dict]:
        """The next ``count`` messages, each of which must be an event."""
        received = []
        for _ in range(count):
            message = await self.receive()
            assert message is not None and message["type"] == "event", message
            received.append(message)
        return received

    async def error(self) -> dict:
        message = await self.receive()
        assert message is not None and message["type"] == "error", message
        return message

    async def assert_quiet_and_usable(self) -> None:
        """A ping's pong is the very next message: nothing else was queued."""
        await self.send({"type": "ping", "id": "check"})
        message = await self.receive()
        assert message == {"type": "pong", "id": "check"}, message


class RawSocket:
    """A websocket client written by hand that reads nothing after the 101.

    Tornado's client keeps reading on its own; this one lets the server's
    frames pile up in the kernel, like a phone that stopped reading.
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock

    @classmethod
    async def open(cls, port: int, client: ApiClient, rcvbuf: int = 4096):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        raw = cls(sock)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 5)
            await raw._handshake(port, client)
        except BaseException:
            sock.close()
            raise
        return raw

    async def _handshake(self, port: int, client: ApiClient) -> None:
        loop = asyncio.get_running_loop()
        key = base64.b64encode(os.urandom(16)).decode()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        request = (
            "GET /ws HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Origin: {client.base_url}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        await loop.sock_sendall(self.sock, request.encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            # One byte at a time: nothing after the response head is read.
            byte = await asyncio.wait_for(loop.sock_recv(self.sock, 1), TIMEOUT)
            assert byte, f"connection closed during the handshake: {head!r}"
            head += byte
        status, *fields = head.decode("latin-1").strip().split("\r\n")
        assert status.startswith("HTTP/1.1 101"), status
        headers = {}
        for field in fields:
            name, _, value = field.partition(":")
            headers[name.strip().lower()] = value.strip()
        digest = hashlib.sha1((key + WS_GUID).encode()).digest()
        assert headers["sec-websocket-accept"] == base64.b64encode(digest).decode()

    async def send(self, message: dict) -> None:
        """Send one masked text frame, as a client must."""
        payload = orjson.dumps(message)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size <= 0xFFFF:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, header + mask + masked)

    def close(self) -> None:
        self.sock.close()

"""Test helpers: an HTTP client that behaves like a browser, and geometry."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import orjson
from pymongo.asynchronous.collection import AsyncCollection
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


def square(lon: float, lat: float, size: float) -> dict:
    """A GeoJSON MultiPolygon: the square of ``size`` degrees at (lon, lat)."""
    ring = [
        [lon, lat],
        [lon + size, lat],
        [lon + size, lat + size],
        [lon, lat + size],
        [lon, lat],
    ]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


class ApiClient:
    """Keeps cookies and sends the XSRF header, as the PWA's api.js does."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies: dict[str, str] = {}
        self.user: dict | None = None
        self.http = AsyncHTTPClient()
        self.sockets: list[Socket] = []

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _keep_cookies(self, response) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["expires"] and "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(self, method: str, path: str, body=None, headers=None, raw=None):
        """Returns (status, parsed JSON or text, response)."""
        if "_xsrf" not in self.cookies and method not in ("GET", "HEAD"):
            await self.request("GET", "/api/terms")
        all_headers = {"Cookie": self._cookie_header(), **(headers or {})}
        if method not in ("GET", "HEAD") and "X-XSRFToken" not in all_headers:
            all_headers["X-XSRFToken"] = self.cookies.get("_xsrf", "")
        if body is not None:
            raw = orjson.dumps(body)
            all_headers["Content-Type"] = "application/json"
        if raw is None and method in ("POST", "PUT", "PATCH"):
            raw = b""
        response = await self.http.fetch(
            HTTPRequest(
                self.base_url + path,
                method=method,
                headers=all_headers,
                body=raw,
                follow_redirects=False,
            ),
            raise_error=False,
        )
        self._keep_cookies(response)
        return response.code, _decode(response), response

    async def get(self, path: str, **kwargs):
        status, data, _ = await self.request("GET", path, **kwargs)
        return status, data

    async def post(self, path: str, body=None, **kwargs):
        status, data, _ = await self.request("POST", path, body=body, **kwargs)
        return status, data

    async def websocket(self, origin: str | None = None):
        """A websocket to /ws carrying this client's cookies."""
        url = self.base_url.replace("http://", "ws://") + "/ws"
        request = HTTPRequest(
            url,
            headers={
                "Cookie": self._cookie_header(),
                "Origin": origin or self.base_url,
            },
        )
        socket = Socket(await websocket_connect(request))
        self.sockets.append(socket)
        return socket

    def close_sockets(self) -> None:
        for socket in self.sockets:
            socket.close()


class Socket:
    """A websocket connection speaking the platform's JSON envelope."""

    def __init__(self, connection):
        self.connection = connection

    async def send(self, message: dict) -> None:
        await self.connection.write_message(orjson.dumps(message).decode())

    async def receive(self) -> dict | None:
        raw = await self.connection.read_message()
        return None if raw is None else orjson.loads(raw)

    async def receive_type(self, kind: str) -> dict:
        """The next message of type ``kind``, skipping others."""
        while True:
            message = await self.receive()
            assert message is not None, f"socket closed while waiting for {kind}"
            if message["type"] == kind:
                return message

    def close(self) -> None:
        self.connection.close()


def _decode(response):
    content_type = response.headers.get("Content-Type", "")
    if response.body and content_type.startswith("application/json"):
        return orjson.loads(response.body)
    return response.body.decode("utf-8", "replace") if response.body else None


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]):
    """A multipart/form-data body; returns (headers, body)."""
    boundary = "jingdi-test-boundary-7d1c"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, filename, data in files:
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"; filename="{filename}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def hold_inserts(monkeypatch, collection: str, matches) -> tuple:
    """Hold every ``insert_one`` into ``collection`` of a document that
    ``matches`` until released, as a slow write (or another process) would.

    Returns (held, release): ``held`` is set once one insert waits;
    setting ``release`` lets them go on.
    """
    held, release = asyncio.Event(), asyncio.Event()
    insert = AsyncCollection.insert_one

    async def slow_insert(target, document, *args, **kwargs):
        if target.name == collection and matches(document):
            held.set()
            await release.wait()
        return await insert(target, document, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, "insert_one", slow_insert)
    return held, release

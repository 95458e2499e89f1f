"""The HTTP server in front of the application: proxy headers and the body limit.

`make_server` is what `run.py` and the tests serve with. It trusts
``X-Forwarded-Proto``/``-For`` only when ``[server] xheaders`` says a proxy
sits in front, and refuses a request whose declared ``Content-Length`` is over
``[server] max_body_bytes`` with a JSON 413 as soon as its headers arrive,
before a byte of the body is read. (Tornado alone would answer such a request
with a bare 400 and no headers.) A chunked body that grows past the limit is
still cut off by Tornado while it is read.
"""

from __future__ import annotations

import logging

import tornado.httpserver
import tornado.web
from tornado import httputil
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from server.handlers.base import security_headers
from server.jsonutil import dumps

access_log = logging.getLogger("tornado.access")


def make_server(app: tornado.web.Application, config) -> tornado.httpserver.HTTPServer:
    """An HTTP server for ``app`` with the configured proxy trust and body limit."""
    limit = config.server.max_body_bytes
    return tornado.httpserver.HTTPServer(
        BodyLimit(app, limit),
        xheaders=config.server.xheaders,
        max_body_size=limit,
    )


class BodyLimit(httputil.HTTPServerConnectionDelegate):
    """The application, behind a check of each request's declared body size."""

    def __init__(self, app: tornado.web.Application, limit: int):
        self.app = app
        self.limit = limit

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        inner = self.app.start_request(server_conn, request_conn)
        return _Checked(inner, request_conn, self)

    def on_close(self, server_conn) -> None:
        self.app.on_close(server_conn)


class _Checked(httputil.HTTPMessageDelegate):
    """Passes one request on to the application unless its body is too large."""

    def __init__(self, inner, connection: HTTP1Connection, limit: BodyLimit):
        self.inner = inner
        self.connection = connection
        self.owner = limit

    def headers_received(self, start_line, headers):
        declared = _declared_length(headers)
        if declared is not None and declared > self.owner.limit:
            self._refuse(start_line, declared)
            return None
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes):
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()

    def _refuse(self, start_line, declared: int) -> None:
        """Answer 413 and close; the body is never read.

        The connection is taken over from Tornado (as a websocket would be),
        so that it neither reads the body nor answers a second time.
        """
        https = getattr(self.connection.context, "protocol", "http") == "https"
        csp = self.owner.app.settings["platform"].csp
        mib = self.owner.limit // (1024 * 1024)
        body = dumps(
            {
                "message": f"The request is larger than {mib} MB.",
                "reason": "too_large",
            }
        )
        lines = [
            "HTTP/1.1 413 Content Too Large",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",
            "Connection: close",
            *(f"{name}: {value}" for name, value in security_headers(csp, https)),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        stream = self.connection.detach()
        try:
            written = stream.write(head + body)
        except StreamClosedError:
            return  # the client has gone already

        def close(future) -> None:
            future.exception()  # a client that left meanwhile is no error
            stream.close()

        written.add_done_callback(close)
        path = start_line.path.split("?", 1)[0]
        access_log.warning(
            "413 %s %s - declared %d bytes, limit %d",
            start_line.method,
            path,
            declared,
            self.owner.limit,
        )


def _declared_length(headers: httputil.HTTPHeaders) -> int | None:
    """The Content-Length as a number; None when absent or malformed.

    A malformed or duplicated length is left to Tornado, which refuses it.
    """
    value = headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)

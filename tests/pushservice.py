"""A push service for the tests: the receiving side of web push, done for real.

It plays a browser vendor's push service on ``http://127.0.0.1:<port>``:
`TestPushService.subscription` makes a subscription the way a browser does
(a fresh P-256 key pair and a 16-byte auth secret); its `browser_json` is
what ``PushSubscription.toJSON()`` gives the page. Each POST to
``/push/<id>`` is checked as a real service would check it:

- RFC 8292: ``Authorization: vapid t=<JWT>, k=<key>``; the JWT's header says
  ES256, ``aud`` is this service's origin, ``exp`` is in the future and at
  most 24 hours away, ``sub`` is a contact, and the raw r||s signature
  verifies with ``k`` (which must be the server's key when one is given);
- RFC 8030: ``TTL`` is a whole number, ``Urgency`` and ``Topic`` are valid;
- RFC 8291: ``Content-Encoding: aes128gcm``, and the body decrypts with the
  subscription's private key and auth secret.

The service runs on a thread of its own, as a real one runs elsewhere. A
request that fails a check is answered 400/401 and its problem recorded in
`problems`; otherwise the service answers what the test asked for (201 by
default; 404, 410, 413, 429 with Retry-After, 500...). Every request is kept
in `attempts` with its headers and decrypted payload.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import dataclasses
import json
import re
import secrets
import threading
import time

import http_ece
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_TOKEN_LIFETIME_S = 24 * 3600


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Rejected(Exception):
    """A request a real push service would refuse; ``status`` says how."""

    def __init__(self, status: int, problem: str):
        super().__init__(problem)
        self.status = status
        self.problem = problem


@dataclasses.dataclass
class Attempt:
    """One request the service received, and what it answered."""

    subscription: str
    status: int
    headers: tornado.httputil.HTTPHeaders  # names are case-insensitive
    payload: dict | None
    at: float  # time.monotonic()


class Subscription:
    """A browser's side of a subscription: its keys and its endpoint."""

    def __init__(self, service: TestPushService, sub_id: str):
        self.id = sub_id
        self.endpoint = f"{service.origin}/push/{sub_id}"
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.answers: list[int] = [201]
        self.retry_after: str | None = None

    def browser_json(self) -> dict:
        """What ``PushSubscription.toJSON()`` gives the page."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def next_answer(self) -> int:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class TestPushService:
    """The fake push service; `start` it, use it, `stop` it."""

    __test__ = False  # not a test class, whatever its name says

    def __init__(self, server_key: str | None = None):
        self.server_key = server_key  # the VAPID public key to insist on
        self.subscriptions: dict[str, Subscription] = {}
        self.attempts: list[Attempt] = []
        self.problems: list[str] = []
        self.latency = 0.0  # seconds before each answer, as across a network
        self.port = 0
        self._thread: threading.Thread | None = None
        self._arrived = asyncio.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TestPushService:
        """Serve from a thread of its own, as a push service runs elsewhere.

        Its decryption and checks then do not run on the event loop of the
        platform under test, whose responsiveness a test measures.
        """
        self._main_loop = asyncio.get_running_loop()
        ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name="test-push-service"
        )
        self._thread.start()
        self.port = await asyncio.wrap_future(ready)
        return self

    async def _serve(self, ready: concurrent.futures.Future) -> None:
        app = tornado.web.Application(
            [(r"/push/([A-Za-z0-9_-]+)", _PushHandler, {"service": self})],
            # Its 5xx answers are on purpose: keep them out of the error log.
            log_function=lambda handler: None,
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        self._service_loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        ready.set_result(sockets[0].getsockname()[1])
        await self._stopping.wait()
        server.stop()
        await server.close_all_connections()

    async def stop(self) -> None:
        if self._thread is not None:
            self._service_loop.call_soon_threadsafe(self._stopping.set)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _record(self, attempt: Attempt) -> None:
        """Called on the service's thread: keep the request, wake any waiter."""
        self.attempts.append(attempt)
        self._main_loop.call_soon_threadsafe(self._arrived.set)

    def subscription(self) -> Subscription:
        sub = Subscription(self, secrets.token_hex(8))
        self.subscriptions[sub.id] = sub
        return sub

    def answer(self, sub: Subscription, *statuses: int, retry_after=None) -> None:
        """Answer these statuses in turn; the last one from then on."""
        sub.answers = list(statuses)
        sub.retry_after = None if retry_after is None else str(retry_after)

    def received(self, sub: Subscription, status: int | None = None) -> list:
        """Requests for ``sub`` (answered with ``status``, if given)."""
        return [
            a
            for a in self.attempts
            if a.subscription == sub.id and (status is None or a.status == status)
        ]

    async def wait_for(self, condition, within: float = 10.0) -> None:
        """Until ``condition()`` holds for the requests received so far."""
        async with asyncio.timeout(within):
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()

    # -- checks ------------------------------------------------------------

    def check(self, sub: Subscription, headers, body: bytes) -> dict:
        """Verify one request; returns its decrypted payload or raises."""
        self._check_vapid(headers.get("Authorization", ""))
        ttl = headers.get("TTL", "")
        if not ttl.isdigit():
            raise Rejected(400, f"TTL is not a whole number: {ttl!r}")
        urgency = headers.get("Urgency")
        if urgency is not None and urgency not in URGENCIES:
            raise Rejected(400, f"bad Urgency {urgency!r}")
        topic = headers.get("Topic")
        if topic is not None and not TOPIC.match(topic):
            raise Rejected(400, f"bad Topic {topic!r}")
        if headers.get("Content-Encoding") != "aes128gcm":
            raise Rejected(415, "Content-Encoding is not aes128gcm")
        try:
            plain = http_ece.decrypt(
                body,
                private_key=sub.private_key,
                auth_secret=sub.auth,
                version="aes128gcm",
            )
        except http_ece.ECEException as exc:
            raise Rejected(400, f"cannot decrypt: {exc.message}") from None
        return json.loads(plain)

    def _check_vapid(self, authorization: str) -> None:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Rejected(401, "Authorization is not vapid")
        params = dict(
            part.strip().split("=", 1) for part in rest.split(",") if "=" in part
        )
        token, key = params.get("t", ""), params.get("k", "")
        if self.server_key is not None and key != self.server_key:
            raise Rejected(403, "k is not the server's public key")
        try:
            head, claims, signature = token.split(".")
            header = json.loads(b64url_decode(head))
            claims_data = json.loads(b64url_decode(claims))
            raw = b64url_decode(signature)
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(key)
            )
        except (ValueError, binascii.Error):
            raise Rejected(401, "malformed VAPID token or key") from None
        if header.get("alg") != "ES256" or len(raw) != 64:
            raise Rejected(401, "the token is not ES256")
        der = utils.encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        try:
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Rejected(401, "bad VAPID signature") from None
        self._check_claims(claims_data)

    def _check_claims(self, claims: dict) -> None:
        if claims.get("aud") != self.origin:
            raise Rejected(401, f"aud {claims.get('aud')!r} is not {self.origin}")
        expires = claims.get("exp")
        left = (expires or 0) - time.time()
        if not isinstance(expires, int) or not 0 < left <= MAX_TOKEN_LIFETIME_S:
            raise Rejected(401, f"exp {expires!r} is not within 24 hours")
        sub = claims.get("sub", "")
        if not sub.startswith(("mailto:", "https:")):
            raise Rejected(401, f"sub {sub!r} is not a contact")


class _PushHandler(tornado.web.RequestHandler):
    def initialize(self, service: TestPushService) -> None:
        self.service = service

    async def post(self, sub_id: str) -> None:
        service = self.service
        if service.latency:
            await asyncio.sleep(service.latency)
        sub = service.subscriptions.get(sub_id)
        payload, status = None, 404
        if sub is not None:
            try:
                payload = service.check(sub, self.request.headers, self.request.body)
                status = sub.next_answer()
            except Rejected as rejected:
                service.problems.append(rejected.problem)
                status = rejected.status
        service._record(
            Attempt(
                sub_id,
                status,
                tornado.httputil.HTTPHeaders(self.request.headers),
                payload,
                time.monotonic(),
            )
        )
        self.set_status(status)
        if status == 201:
            self.set_header("Location", f"/message/{len(service.attempts)}")
        if status == 429 and sub.retry_after is not None:
            self.set_header("Retry-After", sub.retry_after)
        self.finish()

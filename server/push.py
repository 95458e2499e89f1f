"""Web push: the channel that reaches an officer whose app is closed.

The open app's websocket, with its sound, stays the first channel for offers:
push services are unreliable in mainland China and absent in WeChat's browser.
Push goes through the browser vendor's push service to officers who are not
connected, and to connected officers whose page has not acknowledged an offer
after a few seconds (a socket that looks open on a phone that went to sleep).

- RFC 8030 (protocol): one POST per message, with ``TTL``, ``Urgency`` and a
  ``Topic`` per alarm, so that "taken" replaces an undelivered offer;
- RFC 8291 (encryption): ``aes128gcm`` bodies, built by pywebpush's
  `WebPusher.encode`;
- RFC 8292 (VAPID): an ES256 token per push service origin, signed with a key
  pair generated on first start and kept in the data directory.

`VapidKeys` holds the key pair; `validate_subscription` and
`SubscriptionService` decide which devices can be reached; `PushSender`
delivers one message to one device (retries, back-off, a bound on concurrent
sends, never blocking the loop); `PushService` is what the dispatcher calls,
and it records every outcome on the offer in ``offers``.

Push endpoints are capability URLs: they are never logged, only a short hash
(`endpoint_tag`). Keys and payloads are never logged either.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import dataclasses
import datetime as dt
import email.utils
import functools
import hashlib
import ipaddress
import logging
import os
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

import tornado.netutil
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException
from pymongo import DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pywebpush import WebPusher
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from server import i18n
from server.access import Principal
from server.config import Config, ConfigError
from server.errors import Invalid, NotFound
from server.jsonutil import dumps

log = logging.getLogger(__name__)

KEY_FILE = "vapid-private.pem"
# RFC 8291: the browser's p256dh is an uncompressed P-256 point, its auth
# secret 16 bytes.
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16
# Endpoints of FCM, Mozilla, Apple and Windows are 150-500 characters; this is
# generous for them and still refuses junk cheaply.
MAX_ENDPOINT_CHARS = 2048
# RFC 8030 section 8.4 obliges push services to take 4096-byte bodies.
MAX_BODY_BYTES = 4096
# RFC 8030 section 5.4: a Topic is at most 32 base64url characters.
TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# Endpoints are ASCII URLs: no spaces, control or non-ASCII characters.
URL_CHARS_RE = re.compile(r"^[\x21-\x7e]+$")
# RFC 8292 section 2 allows tokens up to 24 hours ahead; 12 hours leaves room
# for clock skew, and a token is renewed when less than an hour is left.
VAPID_TOKEN_S = 12 * 3600
VAPID_RENEW_S = 3600
# Encrypting a message costs about half a millisecond of CPU (an ephemeral
# P-256 key, ECDH, HKDF): a few per turn of the event loop keep a burst of
# hundreds from holding it for tens of milliseconds.
ENCRYPTIONS_PER_TURN = 4
# A name lookup while an officer subscribes: a slow resolver must not hold
# the request for long.
RESOLVE_TIMEOUT_S = 5.0
# One attempt at a push service: it answers in well under a second when it is
# healthy; longer means it is not, and the retry loop takes over.
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 10.0
# Retries of 5xx and network failures: exponential from half a second with
# jitter (so that many offers do not retry in step), capped at 8 s because an
# offer lasts a minute; never past the message's TTL, and never past a minute
# for messages that live longer (follow-ups).
RETRY_BASE_S = 0.5
RETRY_MAX_S = 8.0
MAX_RETRY_WINDOW_S = 60.0
# A 429 without a usable Retry-After waits this long; an absurd one is capped
# so that a device is not silenced for days by one answer.
DEFAULT_RETRY_AFTER_S = 30.0
MAX_RETRY_AFTER_S = 3600.0
# A live page acknowledges an offer within a round trip (well under a second
# even on 3G); after this long without an acknowledgement the socket is
# presumed asleep and the offer is pushed as well.
ACK_GRACE_S = 4.0
# "Taken", "expired" and "cancelled" replace the offer's notification. A phone
# that comes back within the hour learns the offer is gone; after that a
# notification that old speaks for itself.
FOLLOW_UP_TTL_S = 3600
# Devices kept per officer: a work phone, perhaps a tablet and a desk
# browser. More are stale subscriptions; the least recently renewed go.
MAX_DEVICES = 5

# Offers and musters must wake a phone at once; the follow-ups are "normal"
# rather than "low" because a stale offer left on screen until the phone next
# charges would send an officer to an alarm someone else took.
URGENCY = {
    "offer": "high",
    "muster": "high",
    "muster.ended": "normal",
    "taken": "normal",
    "expired": "normal",
    "cancelled": "normal",
    "room.invited": "high",
    "notice": "normal",
}
# An invitation to a consultation is about a live incident: one that waits at
# the push service (the phone off) longer than this is no longer worth a ring.
INVITATION_TTL_S = 3600


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as browsers write push keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def endpoint_tag(endpoint: str) -> str:
    """A short, stable name for an endpoint, safe to log."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:12]


def topic_for(alarm_id) -> str:
    """The RFC 8030 Topic of an alarm's messages (22 base64url characters).

    A hash of the alarm id rather than the id: the Topic travels in clear to
    the browser vendor's push service, which needs only to tell topics apart.
    """
    return b64url(hashlib.sha256(f"jingdi-alarm:{alarm_id}".encode()).digest())[:22]


def room_topic(room_id) -> str:
    """The Topic of a room's invitations: a second one replaces the first."""
    return b64url(hashlib.sha256(f"jingdi-room:{room_id}".encode()).digest())[:22]


def task_topic(task_id) -> str:
    """The Topic of a task's news: the latest replaces an undelivered one."""
    return b64url(hashlib.sha256(f"jingdi-task:{task_id}".encode()).digest())[:22]


def room_tag(room_id) -> str:
    """The notification tag of a room's invitation (pages close it by tag)."""
    return f"room-{room_id}"


def tag_for(alarm_id) -> str:
    """The notification tag of an alarm: later messages replace earlier ones."""
    return f"alarm-{alarm_id}"


# -- VAPID keys ----------------------------------------------------------------


class VapidKeys:
    """The server's VAPID key pair and the tokens it signs (RFC 8292)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, subject: str):
        self._vapid = Vapid02(private_key)
        self.subject = subject
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # What the PWA passes to pushManager.subscribe as applicationServerKey.
        self.public_key = b64url(point)
        self._tokens: dict[str, tuple[int, dict[str, str]]] = {}
        try:
            self._vapid.sign({"aud": "https://push.invalid", "sub": subject})
        except VapidException:
            raise ConfigError(
                "[push] subject must be a mailto: address or an https: URL"
            ) from None

    def __repr__(self) -> str:
        return f"<VapidKeys public={self.public_key[:12]}...>"

    @classmethod
    def load(cls, config: Config, subject: str) -> VapidKeys:
        """The configured key, or the one in data_dir (created on first start)."""
        configured = config.push.vapid_private_key.strip()
        if configured:
            return cls(parse_private_key(configured), subject)
        return cls(_key_from_file(config.data_path / KEY_FILE), subject)

    def headers(self, audience: str) -> dict[str, str]:
        """The Authorization header for a push service origin, reused while valid."""
        cached = self._tokens.get(audience)
        if cached and cached[0] - time.time() > VAPID_RENEW_S:
            return cached[1]
        expires = int(time.time()) + VAPID_TOKEN_S
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        headers = self._vapid.sign(claims)
        self._tokens[audience] = (expires, headers)
        return headers


def parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM, base64url DER, or a base64url raw scalar."""
    text = text.replace("\\n", "\n").strip()
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError, binascii.Error):
        # The message never quotes the key.
        raise ConfigError(
            "[push] vapid_private_key is not a readable private key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise ConfigError("[push] vapid_private_key must be a P-256 (ES256) key")
    return key


def _key_from_file(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        if path.stat().st_mode & 0o077:
            log.warning("%s is readable by other users; make it 0600", path)
        return parse_private_key(path.read_text())
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the first byte: the key is never readable by others,
    # not even between creating the file and changing its mode.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(pem)
    log.info("generated a VAPID key pair in %s", path)
    return key


# -- subscriptions -------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (not private, loopback...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address a host name resolves to, off the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


Resolve = Callable[[str, int], Awaitable[list[str]]]


def _decode_key(value, length: int, reason: str, what: str) -> bytes:
    if not isinstance(value, str) or not B64URL_RE.match(value):
        raise Invalid(f"The subscription's {what} is not base64url text.", reason)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise Invalid(f"The subscription's {what} is not base64url.", reason) from None
    if len(raw) != length:
        raise Invalid(
            f"The subscription's {what} must be {length} bytes, not {len(raw)}.",
            reason,
        )
    return raw


async def validate_subscription(
    data, *, allow_private: bool, resolve: Resolve = resolve_host
) -> dict:
    """A browser's ``PushSubscription.toJSON()`` checked and normalised.

    Refusals are `Invalid` with a reason: ``bad_subscription``,
    ``bad_endpoint``, ``endpoint_not_https``, ``endpoint_private_address``,
    ``endpoint_unresolvable``, ``bad_p256dh``, ``bad_auth``. Unless
    ``allow_private`` (for tests only), every address the endpoint's host
    resolves to must be public, or the server could be made to call internal
    hosts; `PushSender` checks again when it connects.
    """
    if not isinstance(data, dict):
        raise Invalid("Send the browser's push subscription.", "bad_subscription")
    endpoint, host, port = _check_endpoint(data.get("endpoint"), allow_private)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise Invalid("The subscription has no keys.", "bad_subscription")
    p256dh = _decode_key(keys.get("p256dh"), P256_POINT_BYTES, "bad_p256dh", "p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise Invalid(
            "The subscription's p256dh is not a P-256 point.", "bad_p256dh"
        ) from None
    auth = _decode_key(keys.get("auth"), AUTH_SECRET_BYTES, "bad_auth", "auth")
    expires_at = _expiration(data.get("expirationTime"))
    if not allow_private:
        await _check_host(host, port, resolve)
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": b64url(p256dh), "auth": b64url(auth)},
        "expires_at": expires_at,
    }


def _check_endpoint(endpoint, allow_private: bool) -> tuple[str, str, int]:
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= MAX_ENDPOINT_CHARS:
        raise Invalid("The subscription's endpoint is missing.", "bad_endpoint")
    if not URL_CHARS_RE.match(endpoint):
        raise Invalid("The endpoint has characters a URL cannot.", "bad_endpoint")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise Invalid("The endpoint is not a URL.", "bad_endpoint") from None
    scheme = parts.scheme.lower()
    # Plain http only for the test push service, which runs on 127.0.0.1.
    if scheme != "https" and not (allow_private and scheme == "http"):
        raise Invalid("A push endpoint must be an https URL.", "endpoint_not_https")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise Invalid("The endpoint is not a plain URL.", "bad_endpoint")
    return endpoint, parts.hostname, port or (443 if scheme == "https" else 80)


def _expiration(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("expirationTime must be a number or null.", "bad_subscription")
    try:
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise Invalid("expirationTime is out of range.", "bad_subscription") from None


async def _check_host(host: str, port: int, resolve: Resolve) -> None:
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                addresses = await resolve(host, port)
        except (OSError, TimeoutError):
            addresses = []
        if not addresses:
            raise Invalid(
                "The endpoint's host name does not resolve.", "endpoint_unresolvable"
            ) from None
    if not all(is_public_address(a) for a in addresses):
        raise Invalid(
            "The endpoint is on a private, loopback or link-local address.",
            "endpoint_private_address",
        )


class SubscriptionService:
    """Users' push subscriptions, one document per browser endpoint.

    A device is a session: the browser that holds the session cookie holds
    the subscription. Subscribing again from the same session (the browser
    renewed its subscription) replaces the old endpoint; logging out removes
    the session's subscriptions.
    """

    def __init__(self, db: AsyncDatabase, allow_private: bool):
        self.collection = db.push_subscriptions
        self.allow_private = allow_private
        self.resolve: Resolve = resolve_host

    async def save(
        self, user: Principal, data, user_agent: str = ""
    ) -> tuple[dict, bool]:
        """Validate and store a subscription; returns (document, created)."""
        sub = await validate_subscription(
            data, allow_private=self.allow_private, resolve=self.resolve
        )
        at = now()
        fields = {
            **sub,
            "user_id": user.id,
            "tenant_id": user.tenant_id,
            "session_id": user.session_id,
            "user_agent": (user_agent or "")[:200],
            "renewed_at": at,
        }
        before = await self._upsert(sub["endpoint"], fields, at)
        replaced = await self._forget_others(user, sub["endpoint"], data)
        log.info(
            "push subscription %s %s for user %s (%d replaced)",
            endpoint_tag(sub["endpoint"]),
            "renewed" if before else "added",
            user.id,
            replaced,
        )
        return fields, before is None

    async def _upsert(self, endpoint: str, fields: dict, at: dt.datetime):
        for attempt in (1, 2):
            try:
                return await self.collection.find_one_and_update(
                    {"endpoint": endpoint},
                    {"$set": fields, "$setOnInsert": {"created_at": at}},
                    upsert=True,
                    return_document=ReturnDocument.BEFORE,
                )
            except DuplicateKeyError:
                # Two requests inserted the same endpoint at once; the second
                # attempt finds the first one's document and updates it.
                if attempt == 2:
                    raise
        return None  # not reached

    async def _forget_others(self, user: Principal, endpoint: str, data) -> int:
        """Drop the device's earlier endpoints and the user's oldest devices."""
        query: dict = {
            "user_id": user.id,
            "endpoint": {"$ne": endpoint},
            "$or": [{"session_id": user.session_id}],
        }
        old = data.get("old_endpoint")
        if isinstance(old, str) and old:
            query["$or"].append({"endpoint": old})
        removed = (await self.collection.delete_many(query)).deleted_count
        cursor = self.collection.find(
            {"user_id": user.id}, {"_id": 1}, sort=[("renewed_at", DESCENDING)]
        ).skip(MAX_DEVICES)
        stale = [doc["_id"] async for doc in cursor]
        if stale:
            result = await self.collection.delete_many({"_id": {"$in": stale}})
            removed += result.deleted_count
        return removed

    async def remove(self, user: Principal, endpoint) -> bool:
        """A user unsubscribes one of their devices."""
        if not isinstance(endpoint, str) or not endpoint:
            raise Invalid("Give the endpoint to remove.", "bad_endpoint")
        result = await self.collection.delete_one(
            {"endpoint": endpoint, "user_id": user.id}
        )
        return result.deleted_count == 1

    async def remove_endpoint(self, endpoint: str) -> None:
        """The push service says the subscription no longer exists."""
        await self.collection.delete_one({"endpoint": endpoint})

    async def remove_sessions(self, session_ids: Iterable[str]) -> int:
        """Sessions ended (logout, disabled account): their devices go too."""
        result = await self.collection.delete_many(
            {"session_id": {"$in": list(session_ids)}}
        )
        if result.deleted_count:
            log.info(
                "removed %d push subscriptions of ended sessions", result.deleted_count
            )
        return result.deleted_count

    async def for_users(self, user_ids: list[str]) -> dict[str, list[dict]]:
        """Each user's current (unexpired) subscriptions."""
        found: dict[str, list[dict]] = collections.defaultdict(list)
        cursor = self.collection.find(
            {
                "user_id": {"$in": user_ids},
                "$or": [{"expires_at": None}, {"expires_at": {"$gt": now()}}],
            },
            {"endpoint": 1, "keys": 1, "user_id": 1},
        )
        async for sub in cursor:
            found[sub["user_id"]].append(sub)
        return found


# -- sending -------------------------------------------------------------------


class PrivateEndpoint(Exception):
    """The endpoint's host resolved to an address the server must not call."""


class _PublicOnlyResolver(tornado.netutil.Resolver):
    """Resolves like the default resolver, and refuses any non-public address.

    The HTTP client connects to the addresses returned here, so the check and
    the connection use the same resolution: a host name that resolved to a
    public address when the officer subscribed and to an internal one now
    (DNS rebinding) is refused at the moment of sending.
    """

    def initialize(self) -> None:
        self._inner = tornado.netutil.DefaultLoopResolver()

    def close(self) -> None:
        self._inner.close()

    async def resolve(self, host: str, port: int, family=socket.AF_UNSPEC):
        addresses = await self._inner.resolve(host, port, family)
        if not addresses or not all(
            is_public_address(address[0]) for _, address in addresses
        ):
            raise PrivateEndpoint("endpoint_private_address")
        return addresses


@dataclasses.dataclass
class _Message:
    """One encrypted message on its way to one device."""

    endpoint: str
    body: bytes
    expires: float  # monotonic time at which its TTL runs out
    give_up: float  # monotonic time after which no attempt starts
    urgency: str
    topic: str | None


@dataclasses.dataclass
class Delivery:
    """What became of one message to one device."""

    device: str  # `endpoint_tag` of the endpoint
    status: str = "failed"  # accepted, failed, gone or deferred
    attempts: int = 0
    http_status: int | None = None
    failure: str | None = None
    accepted_at: dt.datetime | None = None

    def end(self, status: str, failure: str | None = None) -> Delivery:
        self.status = status
        self.failure = failure
        return self


class PushSender:
    """Delivers one message to one device through its push service.

    Encryption (about half a millisecond each) runs on the loop, a few per
    turn; the HTTP exchange is Tornado's non-blocking client, so nothing here
    holds the event loop for long. At most ``max_concurrent`` requests are in
    flight, so that a large muster neither exhausts file descriptors nor looks
    like a flood to the push service; waits between retries hold no slot.
    """

    def __init__(self, keys: VapidKeys, max_concurrent: int, allow_private: bool):
        self.keys = keys
        self.max_concurrent = max_concurrent
        self.allow_private = allow_private
        self._slots = asyncio.Semaphore(max_concurrent)
        self._crypto = asyncio.Semaphore(ENCRYPTIONS_PER_TURN)
        self._blocked: dict[str, float] = {}  # device -> monotonic time
        self._http: AsyncHTTPClient | None = None
        self._resolver: tornado.netutil.Resolver | None = None

    @property
    def http(self) -> AsyncHTTPClient:
        if self._http is None:
            if not self.allow_private:
                self._resolver = _PublicOnlyResolver()
            self._http = AsyncHTTPClient(
                force_instance=True,
                max_clients=self.max_concurrent,
                resolver=self._resolver,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._resolver is not None:
            self._resolver.close()
            self._resolver = None

    def blocked_for(self, device: str) -> float:
        """Seconds before a rate-limited device may be sent to again."""
        until = self._blocked.get(device)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[device]
            return 0.0
        return left

    async def send(
        self,
        subscription: dict,
        payload: dict,
        *,
        expires: float,
        urgency: str,
        topic: str | None = None,
    ) -> Delivery:
        """Send until accepted, refused, or ``expires`` (a monotonic time) nears."""
        delivery = Delivery(endpoint_tag(subscription["endpoint"]))
        give_up = min(expires, time.monotonic() + MAX_RETRY_WINDOW_S)
        message = None
        while await self._sit_out_429(delivery, give_up):
            async with self._slots:
                message = message or _Message(
                    subscription["endpoint"],
                    await self._encrypt(subscription, payload),
                    expires,
                    give_up,
                    urgency,
                    topic,
                )
                verdict = await self._attempt(message, delivery)
            if verdict == "done":
                break
            if verdict == "retry" and not await self._back_off(delivery, give_up):
                break
        return delivery

    async def _encrypt(self, subscription: dict, payload: dict) -> bytes:
        """The RFC 8291 body, a few encryptions per turn of the event loop."""
        info = {"endpoint": subscription["endpoint"], "keys": subscription["keys"]}
        async with self._crypto:
            body = WebPusher(info).encode(dumps(payload), "aes128gcm")["body"]
            await asyncio.sleep(0)  # the next encryptions wait for the next turn
        return body

    async def _sit_out_429(self, delivery: Delivery, give_up: float) -> bool:
        """Wait out the device's Retry-After; False if it outlasts the message."""
        wait = self.blocked_for(delivery.device)
        if wait <= 0:
            return True
        if time.monotonic() + wait >= give_up:
            delivery.end("deferred", "rate_limited")
            return False
        await asyncio.sleep(wait)
        return True

    async def _back_off(self, delivery: Delivery, give_up: float) -> bool:
        """Sleep before retrying a 5xx or network failure; False if out of time."""
        delay = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (delivery.attempts - 1))
        delay *= random.uniform(0.5, 1.0)
        if time.monotonic() + delay >= give_up:
            log.warning(
                "push to device %s given up after %d attempts: %s",
                delivery.device,
                delivery.attempts,
                delivery.failure,
            )
            delivery.end("failed", delivery.failure)
            return False
        await asyncio.sleep(delay)
        return True

    async def _attempt(self, message: _Message, delivery: Delivery) -> str:
        """One POST; returns "done", "retry" (5xx, network) or "again" (429)."""
        started = time.monotonic()
        ttl = int(message.expires - started)
        if ttl <= 0:
            delivery.end("failed", delivery.failure or "expired")
            return "done"
        if len(message.body) > MAX_BODY_BYTES:
            delivery.end("failed", "too_large")
            return "done"
        try:
            request = self._request(message, ttl)
        except VapidException:
            # py_vapid takes only host[:port] audiences (no IPv6 literals).
            delivery.end("failed", "vapid_audience")
            return "done"
        delivery.attempts += 1
        try:
            response = await self.http.fetch(request, raise_error=False)
        except PrivateEndpoint:
            delivery.end("failed", "endpoint_private_address")
            log.warning("push to device %s refused: private address", delivery.device)
            return "done"
        except (OSError, HTTPClientError) as exc:
            delivery.failure = f"network: {type(exc).__name__}"
            return "retry"
        log.debug(
            "push to device %s: %d in %.1fms (attempt %d)",
            delivery.device,
            response.code,
            1000 * (time.monotonic() - started),
            delivery.attempts,
        )
        return self._judge(response, delivery)

    def _request(self, message: _Message, ttl: int) -> HTTPRequest:
        parts = urlsplit(message.endpoint)
        headers = {
            "TTL": str(ttl),
            "Urgency": message.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            **self.keys.headers(f"{parts.scheme}://{parts.netloc}"),
        }
        if message.topic and TOPIC_RE.match(message.topic):
            headers["Topic"] = message.topic
        left = max(1.0, message.give_up - time.monotonic())
        return HTTPRequest(
            message.endpoint,
            method="POST",
            headers=headers,
            body=message.body,
            connect_timeout=min(CONNECT_TIMEOUT_S, left),
            request_timeout=min(REQUEST_TIMEOUT_S, left),
            follow_redirects=False,
        )

    def _judge(self, response, delivery: Delivery) -> str:
        code = delivery.http_status = response.code
        if code in (200, 201, 202):
            delivery.accepted_at = now()
            delivery.end("accepted")
            return "done"
        if code in (404, 410):
            delivery.end("gone", f"http_{code}")
            return "done"
        if code == 429:
            wait = retry_after_s(response.headers.get("Retry-After"))
            self._blocked[delivery.device] = time.monotonic() + wait
            delivery.failure = "rate_limited"
            log.warning(
                "push service rate-limits device %s for %.0fs", delivery.device, wait
            )
            return "again"
        if code >= 500:
            delivery.failure = f"http_{code}"
            return "retry"
        if code == 413:
            log.warning(
                "push service refused a message to %s as too large", delivery.device
            )
            delivery.end("failed", "too_large")
            return "done"
        # 400 (bad encryption), 401/403 (VAPID) and the rest: retrying the
        # same request cannot help.
        log.warning("push service answered %d for device %s", code, delivery.device)
        delivery.end("failed", f"http_{code}")
        return "done"


def retry_after_s(value: str | None, at: dt.datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header: seconds or an HTTP date."""
    if not value:
        return DEFAULT_RETRY_AFTER_S
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_S
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (at or now())).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


# -- the platform's push channel -----------------------------------------------


# The page where an invitee answers an invitation, by their role in the room;
# a tap on the notification opens it.
INVITATION_DESKS = {"expert": "/expert", "officer": "/officer"}


def invitation_payload(room: dict, invited_by: str, role: str) -> dict:
    """What the service worker needs to show an invitation to a room."""
    return {
        "type": "room.invited",
        "room_id": str(room["_id"]),
        "tag": room_tag(room["_id"]),
        "title": room["title"][:120],
        "invited_by": invited_by[:80],
        "desk": INVITATION_DESKS.get(role, "/expert"),
        "sent_at": now(),
    }


# News of a task is worth showing until the task starts, a day at most, and
# at least this long (a change announced minutes before the start).
NOTICE_TTL_MIN_S = 600
NOTICE_TTL_MAX_S = 24 * 3600


def task_payload(task: dict, change: str, text: str) -> dict:
    """News about a task in every language: the worker picks the officer's.

    The worker has no page to ask for words, and the server does not know
    which language a closed app will be in; both go, each a few dozen bytes.
    """
    title = task["title"][:80]
    return {
        "type": "notice",
        "tag": f"task-{task['_id']}",
        "url": f"/tasks#task={task['_id']}",
        "title": {
            lang: i18n.MESSAGES[lang][f"push.task.{change}"].format(title=title)
            for lang in i18n.LANGUAGES
        },
        "body": {
            lang: text[:200] or i18n.MESSAGES[lang]["push.task.body"]
            for lang in i18n.LANGUAGES
        },
        "sent_at": now(),
    }


def offer_payload(alarm: dict, kind: str, distance_m: float | None) -> dict:
    """What the service worker needs to show an offer or what became of it."""
    return {
        "type": kind,
        "alarm_id": str(alarm["_id"]),
        "tag": tag_for(alarm["_id"]),
        "category": alarm["category"],
        "address": alarm.get("address", "")[:200],
        "distance_m": None if distance_m is None else round(distance_m),
        "expires_at": alarm.get("deadline_at") if kind == "offer" else None,
        "sent_at": now(),
    }


def _summary(deliveries: list[Delivery]) -> dict:
    """One officer's push outcome over their devices: the best one wins."""
    for status in ("accepted", "deferred", "failed", "gone"):
        matching = [d for d in deliveries if d.status == status]
        if matching:
            break
    accepted = [d.accepted_at for d in deliveries if d.accepted_at]
    return {
        "status": status,
        "accepted_at": min(accepted) if accepted else None,
        "failure": None if status == "accepted" else matching[0].failure,
        "devices": [dataclasses.asdict(d) for d in deliveries],
    }


# -- musters -------------------------------------------------------------------

# A muster's alert is worth ringing until the muster ends, whenever the phone
# comes back; at least this long, so that one about to end still arrives.
MUSTER_TTL_MIN_S = 60
# What a muster's push carries of its message and place: the body must stay
# under 4096 bytes after encryption, and Chinese takes 3 bytes a character.
MUSTER_TEXT_MAX = 300


def muster_topic(muster_id) -> str:
    """The Topic of a muster's pushes: its end replaces an undelivered alert."""
    return b64url(hashlib.sha256(f"jingdi-muster:{muster_id}".encode()).digest())[:22]


def muster_tag(muster_id) -> str:
    """The notification tag of a muster (pages close it by tag)."""
    return f"muster-{muster_id}"


def muster_payload(muster: dict, kind: str, entry: dict, reminder=False) -> dict:
    """What the service worker needs to show a muster's alert or its end."""
    return {
        "type": kind,
        "muster_id": str(muster["_id"]),
        "tag": muster_tag(muster["_id"]),
        "message": muster["message"][:MUSTER_TEXT_MAX],
        "address": muster.get("address", "")[:MUSTER_TEXT_MAX],
        "distance_m": entry.get("distance_m"),
        "needed": muster["needed"],
        "ends_at": muster["ends_at"],
        "reminder": reminder,
        "sent_at": now(),
    }


class PushService:
    """Web push for the platform: subscriptions, offers, follow-ups, records.

    Every send runs in a background task: the dispatcher's websocket offers
    are never delayed by it. The tasks of an alarm are cancelled when its
    offer ends, so an offer still being retried cannot arrive after the
    message saying it was taken.
    """

    def __init__(self, db: AsyncDatabase, config: Config):
        settings = config.push
        self.db = db
        self.subscriptions = SubscriptionService(db, settings.allow_private_endpoints)
        self.keys: VapidKeys | None = None
        self.sender: PushSender | None = None
        self.ack_grace_s = ACK_GRACE_S
        # Whether the open app acknowledged an offer that is not written yet
        # (set by the platform: `OfferAcks.pending`).
        self.acknowledged: Callable[[str], bool] = lambda offer_id: False
        self._tasks: set[asyncio.Task] = set()
        self._by_alarm: dict[str, set[asyncio.Task]] = collections.defaultdict(set)
        subject = settings.subject or _https_contact(config.server.public_url)
        if not settings.enabled:
            return
        if not subject:
            log.warning(
                "web push is off: set [push] subject to a mailto: or https: "
                "contact (RFC 8292), or an https [server] public_url"
            )
            return
        self.keys = VapidKeys.load(config, subject)
        self.sender = PushSender(
            self.keys, settings.max_concurrent_sends, settings.allow_private_endpoints
        )
        if settings.allow_private_endpoints:
            log.warning("push endpoints on private addresses are allowed (tests only)")

    @property
    def active(self) -> bool:
        return self.sender is not None

    def public_key(self) -> str:
        """The applicationServerKey for the browser, or `NotFound` when off."""
        if self.keys is None:
            raise NotFound("Web push is not enabled on this server.", "push_disabled")
        return self.keys.public_key

    async def subscribe(self, user: Principal, data, user_agent: str) -> bool:
        """Store a user's subscription (an officer or an expert); True when new."""
        self.public_key()  # refuses when push is off
        _, created = await self.subscriptions.save(user, data, user_agent)
        return created

    def sessions_revoked(self, session_ids: set[str]) -> None:
        """`AuthService` listener: ended sessions lose their subscriptions."""
        self._spawn(None, self.subscriptions.remove_sessions(session_ids))

    # -- offers --------------------------------------------------------------

    def offer_round(self, alarm: dict, connected: list, absent: list) -> None:
        """Push a round's offer: now to absent officers, later to silent sockets.

        ``connected`` and ``absent`` are the round's ``(distance, officer)``
        pairs. Connected officers are pushed only if their page has not
        acknowledged the websocket offer after `ack_grace_s`: a healthy page
        already rang, and a second alert would only cost push quota.
        """
        if not self.active:
            return
        alarm_id = str(alarm["_id"])
        if absent:
            targets = [(o.id, d) for d, o in absent]
            self._spawn(alarm_id, self._push_offers(alarm, targets, "absent"))
        if connected:
            targets = [(o.id, d) for d, o in connected]
            self._spawn(alarm_id, self._push_unacknowledged(alarm, targets))

    async def _push_unacknowledged(self, alarm: dict, targets: list) -> None:
        await asyncio.sleep(self.ack_grace_s)
        keys = [f"{alarm['_id']}:{officer_id}" for officer_id, _ in targets]
        cursor = self.db.offers.find(
            {"_id": {"$in": keys}, "delivered_at": None, "outcome": "open"},
            {"officer_id": 1},
        )
        silent = {
            offer["officer_id"]
            async for offer in cursor
            if not self.acknowledged(offer["_id"])
        }
        targets = [t for t in targets if t[0] in silent]
        if targets:
            await self._push_offers(alarm, targets, "no_ack")

    async def _push_offers(self, alarm: dict, targets: list, reason: str) -> None:
        started = time.monotonic()
        left = (alarm["deadline_at"] - now()).total_seconds()
        if left < 1:
            return
        devices = await self.subscriptions.for_users([o for o, _ in targets])
        await self._mark(alarm, [o for o, _ in targets if o not in devices], reason)
        targets = [t for t in targets if t[0] in devices]
        if not targets:
            return
        await self._mark(alarm, [o for o, _ in targets], reason, sent_at=now())
        tally = await self._deliver_offers(
            alarm, targets, devices, time.monotonic() + left
        )
        log.info(
            "alarm %s: offer pushed to %d officers (%s, %s) in %.2fs",
            alarm["_id"],
            len(targets),
            reason,
            ", ".join(f"{n} {s}" for s, n in sorted(tally.items())),
            time.monotonic() - started,
        )

    async def _mark(self, alarm, officer_ids, reason, sent_at=None) -> None:
        """Start the push record: "sending", or "no_subscription" to reach."""
        if not officer_ids:
            return
        status = "no_subscription" if sent_at is None else "sending"
        record = {"status": status, "reason": reason, "sent_at": sent_at}
        await self.db.offers.update_many(
            {"_id": {"$in": [f"{alarm['_id']}:{o}" for o in officer_ids]}},
            {"$set": {"push": record}},
        )

    async def _deliver_offers(self, alarm, targets, devices, expires) -> Counter:
        """Send to every officer's devices; record outcomes as they come in.

        Outcomes that arrive while the previous batch is being written go in
        the next batch: one database round trip per batch rather than per
        officer, so a large round does not load the database in a burst.
        """
        pending = {
            asyncio.ensure_future(
                self._push_offer(alarm, officer, distance, devices[officer], expires)
            )
            for officer, distance in targets
        }
        tally: Counter = Counter()
        try:
            while pending:
                done, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED
                )
                results = [task.result() for task in done]
                await self.db.offers.bulk_write(
                    [UpdateOne(*update) for update, _ in results], ordered=False
                )
                tally.update(d.status for _, deliveries in results for d in deliveries)
        finally:
            for task in pending:
                task.cancel()
        return tally

    async def _push_offer(self, alarm, officer_id, distance, subs, expires):
        """One officer's devices; returns (the offer's update, the deliveries)."""
        payload = offer_payload(alarm, "offer", distance)
        deliveries = await self._to_devices(
            subs, payload, expires, URGENCY["offer"], topic_for(alarm["_id"])
        )
        summary = _summary(deliveries)
        update = (
            {"_id": f"{alarm['_id']}:{officer_id}"},
            {"$set": {f"push.{k}": v for k, v in summary.items()}},
        )
        return update, deliveries

    async def _to_devices(
        self, subs: list, payload: dict, expires: float, urgency: str, topic: str
    ) -> list[Delivery]:
        deliveries = await asyncio.gather(
            *(
                self.sender.send(
                    sub, payload, expires=expires, urgency=urgency, topic=topic
                )
                for sub in subs
            )
        )
        for sub, delivery in zip(subs, deliveries, strict=True):
            if delivery.status == "gone":
                await self.subscriptions.remove_endpoint(sub["endpoint"])
                log.info(
                    "push subscription %s is gone (%s); removed",
                    delivery.device,
                    delivery.http_status,
                )
        return list(deliveries)

    # -- when the offer ends ---------------------------------------------------

    def offer_closed(self, alarm: dict, kind: str, winner: str | None = None) -> None:
        """The alarm was taken, expired or cancelled: replace pushed offers.

        Sends still under way for the alarm are cancelled first. The winner
        claimed in the app, whose page closes its own notification.
        """
        if not self.active:
            return
        for task in self._by_alarm.pop(str(alarm["_id"]), set()):
            task.cancel()
        self._spawn(None, self._push_follow_ups(alarm, kind, winner))

    async def _push_follow_ups(self, alarm: dict, kind: str, winner) -> None:
        started = time.monotonic()
        query = {
            "alarm_id": alarm["_id"],
            "push.status": {"$in": ["sending", "accepted"]},
            "push.follow_up": {"$exists": False},
            "officer_id": {"$ne": winner},
        }
        offers = await self.db.offers.find(
            query, {"officer_id": 1, "distance_m": 1, "push.status": 1}
        ).to_list(None)
        if not offers:
            return
        # An offer interrupted while sending may or may not have reached the
        # push service: it is told the offer ended all the same.
        await self.db.offers.update_many(
            {"alarm_id": alarm["_id"], "push.status": "sending"},
            {"$set": {"push.status": "interrupted", "push.failure": "offer_closed"}},
        )
        devices = await self.subscriptions.for_users([o["officer_id"] for o in offers])
        expires = time.monotonic() + FOLLOW_UP_TTL_S
        outcomes = await asyncio.gather(
            *(
                self._follow_up(
                    alarm, kind, offer, devices.get(offer["officer_id"], []), expires
                )
                for offer in offers
            )
        )
        log.info(
            "alarm %s: %s pushed to %d officers (%d accepted) in %.2fs",
            alarm["_id"],
            kind,
            len(offers),
            sum(1 for status in outcomes if status == "accepted"),
            time.monotonic() - started,
        )

    async def _follow_up(self, alarm, kind, offer, subs, expires) -> str:
        payload = offer_payload(alarm, kind, offer.get("distance_m"))
        deliveries = await self._to_devices(
            subs, payload, expires, URGENCY[kind], topic_for(alarm["_id"])
        )
        summary = _summary(deliveries) if deliveries else {"status": "no_subscription"}
        await self.db.offers.update_one(
            {"_id": offer["_id"]},
            {
                "$set": {
                    "push.follow_up": {
                        "type": kind,
                        "at": now(),
                        "status": summary["status"],
                        "failure": summary.get("failure"),
                    }
                }
            },
        )
        return summary["status"]

    # -- tasks -----------------------------------------------------------------

    # -- consultation rooms ----------------------------------------------------

    def room_invitation(self, room: dict, invitees: dict[str, str], invited_by: str):
        """Push an invitation to every device of each invitee (id: role).

        Every device, even when the invitee's page heard the invitation on its
        websocket: that page may be on a desk while the phone is in a pocket.
        The notification's tag is the room's, so a repeat replaces it.
        """
        if not self.active or not invitees:
            return
        self._spawn(None, self._push_invitation(room, invitees, invited_by))

    async def _push_invitation(self, room: dict, invitees, invited_by: str) -> None:
        started = time.monotonic()
        devices = await self.subscriptions.for_users(list(invitees))
        if not devices:
            return
        expires = time.monotonic() + INVITATION_TTL_S
        topic = room_topic(room["_id"])
        urgency = URGENCY["room.invited"]
        results = await asyncio.gather(
            *(
                self._to_devices(
                    subs,
                    invitation_payload(room, invited_by, invitees[user_id]),
                    expires,
                    urgency,
                    topic,
                )
                for user_id, subs in devices.items()
            )
        )
        tally = Counter(d.status for deliveries in results for d in deliveries)
        log.info(
            "room %s: invitation pushed to %d of %d invitees (%s) in %.2fs",
            room["_id"],
            len(devices),
            len(invitees),
            ", ".join(f"{n} {s}" for s, n in sorted(tally.items())),
            time.monotonic() - started,
        )

    # -- tasks -----------------------------------------------------------------

    def task_news(self, task: dict, officer_ids: list[str], change: str, text: str):
        """Push news of a task (confirmed, moved up, changed...) to officers."""
        if not self.active or not officer_ids:
            return
        self._spawn(None, self._push_task_news(task, officer_ids, change, text))

    async def _push_task_news(self, task, officer_ids, change, text) -> None:
        started = time.monotonic()
        devices = await self.subscriptions.for_users(officer_ids)
        if not devices:
            return
        left = (task["starts_at"] - now()).total_seconds()
        ttl = min(max(left, NOTICE_TTL_MIN_S), NOTICE_TTL_MAX_S)
        payload = task_payload(task, change, text)
        results = await asyncio.gather(
            *(
                self._to_devices(
                    subs,
                    payload,
                    time.monotonic() + ttl,
                    URGENCY["notice"],
                    task_topic(task["_id"]),
                )
                for subs in devices.values()
            )
        )
        tally = Counter(d.status for deliveries in results for d in deliveries)
        log.info(
            "task %s: %s pushed to %d officers (%s) in %.2fs",
            task["_id"],
            change,
            len(devices),
            ", ".join(f"{n} {s}" for s, n in sorted(tally.items())),
            time.monotonic() - started,
        )

    # -- musters ---------------------------------------------------------------

    def muster_alert(self, muster: dict, entries: list[dict], reminder: bool):
        """Push a muster's alert (or a reminder) to every device of each officer.

        Every device, on duty or off, connected or not: a muster is rare and
        urgent, and the page on a desk may not be the phone in a pocket.
        """
        if not self.active or not entries:
            return
        key = f"muster:{muster['_id']}"
        self._spawn(key, self._push_muster(muster, entries, "muster", reminder))

    def muster_ended(self, muster: dict) -> None:
        """Replace the alert on every alerted officer's devices with its end.

        Alerts still being sent are cancelled first, so that none arrives
        after the news that the muster is over.
        """
        if not self.active:
            return
        for task in self._by_alarm.pop(f"muster:{muster['_id']}", set()):
            task.cancel()
        entries = muster["alerted"]
        self._spawn(None, self._push_muster(muster, entries, "muster.ended", False))

    async def _push_muster(self, muster, entries, kind: str, reminder) -> None:
        started = time.monotonic()
        devices = await self.subscriptions.for_users([e["officer_id"] for e in entries])
        if not devices:
            return
        if kind == "muster":
            left = (muster["ends_at"] - now()).total_seconds()
            ttl = max(left, MUSTER_TTL_MIN_S)
        else:
            ttl = FOLLOW_UP_TTL_S
        expires = time.monotonic() + ttl
        topic = muster_topic(muster["_id"])
        results = await asyncio.gather(
            *(
                self._to_devices(
                    devices[e["officer_id"]],
                    muster_payload(muster, kind, e, reminder),
                    expires,
                    URGENCY[kind],
                    topic,
                )
                for e in entries
                if e["officer_id"] in devices
            )
        )
        tally = Counter(d.status for deliveries in results for d in deliveries)
        log.info(
            "muster %s: %s pushed to %d of %d officers (%s) in %.2fs",
            muster["_id"],
            "reminder" if reminder else kind,
            len(results),
            len(entries),
            ", ".join(f"{n} {s}" for s, n in sorted(tally.items())),
            time.monotonic() - started,
        )

    def _spawn(self, alarm_id: str | None, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        if alarm_id is not None:
            self._by_alarm[alarm_id].add(task)
        task.add_done_callback(functools.partial(self._finished, alarm_id))

    def _finished(self, alarm_id: str | None, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        group = self._by_alarm.get(alarm_id) if alarm_id else None
        if group is not None:
            group.discard(task)
            if not group:
                del self._by_alarm[alarm_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("push task failed", exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until every send started so far has finished (for tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.sender is not None:
            self.sender.close()


def _https_contact(public_url: str) -> str:
    """The platform's https URL, a valid VAPID contact (RFC 8292 section 2.1)."""
    parts = urlsplit(public_url or "")
    if parts.scheme == "https" and parts.hostname:
        return f"https://{parts.hostname}"
    return ""

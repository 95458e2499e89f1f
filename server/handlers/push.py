"""Web push endpoints: the server's key, an officer's devices, offer receipts.

The service worker calls the subscription and receipt endpoints too (when the
browser renews a subscription, when an offer arrives with the app closed). A
worker cannot read the ``_xsrf`` cookie, so these endpoints also accept a
request the browser itself marks as same-origin (``Sec-Fetch-Site``, which
scripts cannot set); a cross-site request still needs the token.
"""

from __future__ import annotations

from server.errors import Invalid
from server.handlers import route
from server.handlers.base import BaseHandler, WorkerCallable
from server.openapi import obj, op

SUBSCRIPTION = obj(
    ("endpoint", "keys"),
    endpoint={"type": "string", "maxLength": 2048},
    expirationTime={"type": ["number", "null"]},
    keys=obj(
        ("p256dh", "auth"),
        p256dh={"type": "string", "description": "65-byte P-256 point, base64url"},
        auth={"type": "string", "description": "16 bytes, base64url"},
    ),
    old_endpoint={
        "type": "string",
        "description": "The endpoint this one replaces (pushsubscriptionchange)",
    },
)


class PushKeyHandler(BaseHandler):
    access = {"GET": "push.key"}
    api = {
        "get": op(
            "The server's VAPID public key (the browser's applicationServerKey)",
            tag="push",
            response=obj(("public_key",), public_key={"type": "string"}),
            errors=(401, 403, 404),
        )
    }

    async def get(self) -> None:
        self.send_json({"public_key": self.platform.push.public_key()})


class SubscriptionsHandler(WorkerCallable, BaseHandler):
    access = {"POST": "push.subscribe", "DELETE": "push.subscribe"}
    api = {
        "post": op(
            "Store this device's push subscription (PushSubscription.toJSON())",
            tag="push",
            body=SUBSCRIPTION,
            response=obj(("created",), created={"type": "boolean"}),
            status=201,
            errors=(400, 401, 403, 404),
        ),
        "delete": op(
            "Remove one of the signed-in user's push subscriptions",
            tag="push",
            body=obj(("endpoint",), endpoint={"type": "string"}),
            response=obj(("removed",), removed={"type": "boolean"}),
            errors=(400, 401, 403),
        ),
    }

    async def post(self) -> None:
        created = await self.platform.push.subscribe(
            self.principal,
            self.json_body(),
            self.request.headers.get("User-Agent", ""),
        )
        self.send_json({"created": created}, 201 if created else 200)

    async def delete(self) -> None:
        removed = await self.platform.push.subscriptions.remove(
            self.principal, self.json_body().get("endpoint")
        )
        self.send_json({"removed": removed})


class OfferAckHandler(WorkerCallable, BaseHandler):
    access = {"POST": "alarm.claim"}
    api = {
        "post": op(
            "The device received an offer (seen: false) or showed it (seen: true)",
            tag="push",
            body=obj(("seen",), seen={"type": "boolean"}),
            response=obj(("alarm_id", "seen"), alarm_id={"type": "string"}),
            errors=(400, 401, 403, 404),
            params=("alarm_id",),
        )
    }

    async def post(self, alarm_id: str) -> None:
        seen = self.json_body().get("seen")
        if not isinstance(seen, bool):
            raise Invalid("Say whether the offer was seen.", "bad_seen")
        await self.platform.dispatcher.offer_seen(self.principal.id, alarm_id, seen)
        self.send_json({"alarm_id": alarm_id, "seen": seen})


def routes() -> list:
    """The URL rules of this module, for `server.app.routes`."""
    return [
        route("/api/push/key", PushKeyHandler),
        route("/api/push/subscriptions", SubscriptionsHandler),
        route("/api/offers/{alarm_id}/ack", OfferAckHandler),
    ]

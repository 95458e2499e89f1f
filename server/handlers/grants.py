"""Grants (授权) between agencies over HTTP: give, list, revoke."""

from __future__ import annotations

from server.handlers import route
from server.handlers.base import BaseHandler
from server.openapi import obj, op, optional_text

TIME = {"type": "string", "format": "date-time"}
SIDE = obj(("id",), id={"type": "string"}, name={"type": ["string", "null"]})
GRANT = obj(
    ("id", "kind", "grantor", "grantee", "starts_at", "ends_at", "state"),
    id={"type": "string"},
    kind={"enum": ["experts", "tasks", "musters", "border_alarms"]},
    grantor=SIDE,
    grantee=SIDE,
    starts_at=TIME,
    ends_at=TIME,
    zone={"type": ["object", "null"], "description": "border_alarms only"},
    note={"type": "string"},
    state={"enum": ["scheduled", "active", "expired", "revoked"]},
    revoked_at={"type": ["string", "null"], "format": "date-time"},
)


class GrantsHandler(BaseHandler):
    access = {"GET": "grants.manage", "POST": "grants.manage"}
    api = {
        "get": op(
            "Grants the caller's agency gave and received",
            tag="grants",
            response=obj(
                ("given", "received"),
                given={"type": "array", "items": GRANT},
                received={"type": "array", "items": GRANT},
            ),
            errors=(401, 403),
        ),
        "post": op(
            "Grant another agency one kind of access for a period (a year at "
            "most); border_alarms needs the border zone",
            tag="grants",
            body=obj(
                ("grantee_id", "kind", "ends_at"),
                grantee_id={"type": "string"},
                kind=GRANT["properties"]["kind"],
                starts_at=TIME,
                ends_at=TIME,
                zone={"type": "object", "description": "GeoJSON Polygon"},
                note=optional_text(500),
            ),
            response=obj(("grant",), grant=GRANT),
            status=201,
            errors=(400, 401, 403, 404),
        ),
    }

    async def get(self) -> None:
        self.send_json(await self.platform.grants.listing(self.principal))

    async def post(self) -> None:
        grants = self.platform.grants
        doc = await grants.create(self.principal, self.json_body())
        self.send_json({"grant": await grants.view(doc)}, 201)


class RevokeHandler(BaseHandler):
    access = {"POST": "grants.manage"}
    api = {
        "post": op(
            "Revoke a grant the caller's agency gave; it ends at once, live "
            "connections included",
            tag="grants",
            response=obj(("grant",), grant=GRANT),
            errors=(401, 403, 404, 409),
            params=("grant_id",),
        )
    }

    async def post(self, grant_id: str) -> None:
        grants = self.platform.grants
        doc = await grants.revoke(self.principal, grant_id)
        self.send_json({"grant": await grants.view(doc)})


def routes() -> list:
    return [
        route("/api/grants", GrantsHandler),
        route("/api/grants/{grant_id}/revoke", RevokeHandler),
    ]

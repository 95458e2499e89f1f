"""An agency's own organisation: its settings, stations, officers and accounts."""

from server.errors import Conflict
from server.handlers.base import BaseHandler
from server.openapi import GEOJSON_POINT, obj, op

STATION = obj(
    ("id", "name"),
    id={"type": "string"},
    name={"type": "string"},
    name_en={"type": ["string", "null"]},
    address={"type": ["string", "null"]},
    phone={"type": ["string", "null"]},
    location=GEOJSON_POINT,
    zone={"type": "object"},
)
OFFICER = obj(
    ("id", "duty"),
    id={"type": "string"},
    name={"type": "string"},
    station_id={"type": ["string", "null"]},
    duty={"enum": ["on", "busy", "off"]},
    position={"oneOf": [GEOJSON_POINT, {"type": "null"}]},
    position_age_s={"type": ["number", "null"]},
)
USER = obj(
    ("id", "username", "roles", "disabled"),
    id={"type": "string"},
    username={"type": "string"},
    roles={"type": "array", "items": {"type": "string"}},
    disabled={"type": "boolean"},
)


def _list(key: str, item: dict) -> dict:
    return obj((key,), **{key: {"type": "array", "items": item}})


class TenantHandler(BaseHandler):
    access = {"GET": "tenant.read"}
    api = {
        "get": op(
            "The caller's agency and its settings",
            tag="organisation",
            response=obj(("tenant",), tenant={"type": "object"}),
            errors=(401, 403, 404),
        )
    }

    async def get(self) -> None:
        tenant = await self.platform.tenants.tenant(self.principal.tenant_id)
        self.send_json({"tenant": tenant})


class StationsHandler(BaseHandler):
    access = {"GET": "tenant.read"}
    api = {
        "get": op(
            "Stations of the caller's agency with their zones",
            tag="organisation",
            response=_list("stations", STATION),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        stations = await self.platform.tenants.stations(self.principal.tenant_id)
        self.send_json({"stations": stations})


class StationHandler(BaseHandler):
    access = {"GET": "tenant.read"}
    api = {
        "get": op(
            "One station",
            tag="organisation",
            response=obj(("station",), station=STATION),
            errors=(401, 403, 404),
            params=("station_id",),
        )
    }

    async def get(self, station_id: str) -> None:
        station = await self.platform.tenants.station(
            self.principal.tenant_id, station_id
        )
        self.send_json({"station": station})


class OfficersHandler(BaseHandler):
    access = {"GET": "officers.read"}
    api = {
        "get": op(
            "Officers with duty status and last known position",
            tag="organisation",
            response=_list("officers", OFFICER),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        officers = await self.platform.tenants.officers(self.principal.tenant_id)
        self.send_json({"officers": officers})


class OfficerHandler(BaseHandler):
    access = {"GET": "officers.read"}
    api = {
        "get": op(
            "One officer",
            tag="organisation",
            response=obj(("officer",), officer=OFFICER),
            errors=(401, 403, 404),
            params=("user_id",),
        )
    }

    async def get(self, user_id: str) -> None:
        officer = await self.platform.tenants.officer(self.principal.tenant_id, user_id)
        self.send_json({"officer": officer})


class UsersHandler(BaseHandler):
    access = {"GET": "users.manage"}
    api = {
        "get": op(
            "Accounts of the caller's agency",
            tag="organisation",
            response=_list("users", USER),
            errors=(401, 403),
        )
    }

    async def get(self) -> None:
        users = await self.platform.tenants.users(self.principal.tenant_id)
        self.send_json({"users": users})


class UserDisableHandler(BaseHandler):
    access = {"POST": "users.manage"}
    api = {
        "post": op(
            "Disable an account; its sessions and sockets end at once",
            tag="organisation",
            errors=(401, 403, 404, 409),
            params=("user_id",),
        )
    }

    async def post(self, user_id: str) -> None:
        if user_id == self.principal.id:
            raise Conflict("You cannot disable your own account.", "self")
        await self.platform.auth.set_disabled(
            self.principal.tenant_id, user_id, disabled=True
        )
        self.send_json({"ok": True})

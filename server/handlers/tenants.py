"""An agency's own organisation: its settings, stations, officers and accounts;
and the platform admins' onboarding of agencies."""

from server.handlers.base import BaseHandler
from server.openapi import GEOJSON_POINT, changes, obj, op, text

AREA = {
    "type": "object",
    "description": "GeoJSON Polygon or MultiPolygon (or a Feature or "
    "FeatureCollection of them), WGS-84",
}
STATION_FIELDS = {
    "name": text(80, one_line=True),
    "name_en": {"type": ["string", "null"], "maxLength": 120},
    "address": {"type": ["string", "null"], "maxLength": 200},
    "phone": {"type": ["string", "null"]},
    "location": GEOJSON_POINT,
    "zone": AREA,
}
ROLES = {
    "type": "array",
    "items": {"enum": ["officer", "commander", "expert", "admin"]},
    "minItems": 1,
}
ACCOUNT_FIELDS = {
    "username": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{2,63}$"},
    "name": text(80, one_line=True),
    "roles": ROLES,
    "station_id": {"type": ["string", "null"]},
    "badge_no": {"type": ["string", "null"], "maxLength": 20},
    "phone": {"type": ["string", "null"]},
    "email": {"type": ["string", "null"]},
}
CONTACT = obj(
    ("name",),
    name={"type": "string"},
    phone={"type": ["string", "null"]},
    email={"type": ["string", "null"]},
)
TENANT_FIELDS = {
    "name": text(80, one_line=True),
    "name_en": {"type": ["string", "null"], "maxLength": 120},
    "kind": {"enum": ["police_district", "department"]},
    "timezone": {"type": "string", "description": "IANA, e.g. Asia/Shanghai"},
    "territory": AREA,
    "contact": CONTACT,
}


def vocabulary(most: int) -> dict:
    """A settings vocabulary: codes with their zh and en labels (codes unique)."""
    entry = obj(
        ("code", "zh", "en"),
        code={"type": "string", "pattern": "^[a-z0-9_]{1,40}$"},
        zh=text(40, one_line=True),
        en=text(40, one_line=True),
    )
    return {"type": "array", "items": entry, "minItems": 1, "maxItems": most}


# HH:MM on the agency's clock.
CLOCK = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
SETTINGS = obj(
    (),
    # 00:00-24:00 is around the clock; an end before the start runs past
    # midnight; start and end differ.
    service_hours=obj(
        ("start", "end"),
        start=CLOCK,
        end={"anyOf": [CLOCK, {"const": "24:00"}]},
    ),
    claim_window_s={"type": "integer", "minimum": 15, "maximum": 600},
    offer_radius_m={"type": "integer", "minimum": 200, "maximum": 20000},
    offer_radius_step_m={"type": "integer", "minimum": 0, "maximum": 10000},
    offer_radius_max_m={"type": "integer", "minimum": 200, "maximum": 50000},
    position_max_age_s={"type": "integer", "minimum": 15, "maximum": 3600},
    muster_off_duty={"enum": ["last_position", "home_station"]},
    categories=vocabulary(30),
    expert_categories=vocabulary(30),
    specialties=vocabulary(100),
)

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
ACCOUNT = obj(
    ("user", "username", "password"),
    user=USER,
    username={"type": "string"},
    password={"type": "string", "description": "Shown this once; never stored"},
)
TENANT = obj(("id", "name"), id={"type": "string"}, name={"type": "string"})


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


class SettingsHandler(BaseHandler):
    access = {"PATCH": "tenant.admin"}
    api = {
        "patch": op(
            "Change the agency's settings (only those given); they apply to "
            "the next alarm",
            tag="organisation",
            body=changes(SETTINGS),
            response=obj(("tenant",), tenant={"type": "object"}),
            errors=(400, 401, 403, 404),
        )
    }

    async def patch(self) -> None:
        tenant = await self.platform.tenants.update_settings(
            self.principal, self.json_body()
        )
        self.send_json({"tenant": tenant})


class StationsHandler(BaseHandler):
    access = {"GET": "tenant.read", "POST": "tenant.admin"}
    api = {
        "get": op(
            "Stations of the caller's agency with their zones",
            tag="organisation",
            response=_list("stations", STATION),
            errors=(401, 403),
        ),
        "post": op(
            "Add a station with its zone (drawn or imported GeoJSON)",
            tag="organisation",
            body=obj(("name", "location", "zone"), **STATION_FIELDS),
            response=obj(("station",), station=STATION),
            status=201,
            errors=(400, 401, 403, 409),
        ),
    }

    async def get(self) -> None:
        stations = await self.platform.tenants.stations(self.principal.tenant_id)
        self.send_json({"stations": stations})

    async def post(self) -> None:
        station = await self.platform.tenants.create_station(
            self.principal, self.json_body()
        )
        self.send_json({"station": station}, 201)


class StationHandler(BaseHandler):
    access = {"GET": "tenant.read", "PATCH": "tenant.admin"}
    api = {
        "get": op(
            "One station",
            tag="organisation",
            response=obj(("station",), station=STATION),
            errors=(401, 403, 404),
            params=("station_id",),
        ),
        "patch": op(
            "Change a station (only the fields given), its zone included",
            tag="organisation",
            body=changes(obj((), **STATION_FIELDS)),
            response=obj(("station",), station=STATION),
            errors=(400, 401, 403, 404, 409),
            params=("station_id",),
        ),
    }

    async def patch(self, station_id: str) -> None:
        station = await self.platform.tenants.update_station(
            self.principal, station_id, self.json_body()
        )
        self.send_json({"station": station})

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
    access = {"GET": "users.manage", "POST": "users.manage"}
    api = {
        "get": op(
            "Accounts of the caller's agency",
            tag="organisation",
            response=_list("users", USER),
            errors=(401, 403),
        ),
        "post": op(
            "Create an account; its first password is in this answer only",
            tag="organisation",
            body=obj(("username", "name", "roles"), **ACCOUNT_FIELDS),
            response=obj(("account",), account=ACCOUNT),
            status=201,
            errors=(400, 401, 403, 404, 409),
        ),
    }

    async def get(self) -> None:
        users = await self.platform.tenants.users(self.principal.tenant_id)
        self.send_json({"users": users})

    async def post(self) -> None:
        account = await self.platform.tenants.create_user(
            self.principal, self.json_body()
        )
        self.send_json({"account": account}, 201)


class UserHandler(BaseHandler):
    access = {"PATCH": "users.manage"}
    api = {
        "patch": op(
            "Change an account's roles (its sessions end: it signs in again "
            "with the new roles), station or name",
            tag="organisation",
            body=changes(
                obj(
                    (),
                    roles=ROLES,
                    station_id={"type": ["string", "null"]},
                    name=text(80, one_line=True),
                )
            ),
            response=obj(("user",), user=USER),
            errors=(400, 401, 403, 404, 409),
            params=("user_id",),
        )
    }

    async def patch(self, user_id: str) -> None:
        user = await self.platform.tenants.update_user(
            self.principal, user_id, self.json_body()
        )
        self.send_json({"user": user})


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
        await self.platform.tenants.disable_user(self.principal, user_id)
        self.send_json({"ok": True})


class PlatformTenantsHandler(BaseHandler):
    access = {"GET": "tenants.onboard", "POST": "tenants.onboard"}
    api = {
        "get": op(
            "Every agency on the platform, with its contact",
            tag="platform",
            response=_list("tenants", TENANT),
            errors=(401, 403),
        ),
        "post": op(
            "Onboard an agency; its territory may share borders but not overlap "
            "another's (409 territory_overlap). With admin {username, name}, "
            "its first admin account is created and its password shown once",
            tag="platform",
            body=obj(
                ("id", "name", "kind", "timezone", "territory", "contact"),
                id={"type": "string", "pattern": "^[a-z][a-z0-9-]{1,31}$"},
                admin=obj(
                    ("username", "name"),
                    username=ACCOUNT_FIELDS["username"],
                    name=ACCOUNT_FIELDS["name"],
                ),
                **TENANT_FIELDS,
            ),
            response=obj(
                ("tenant", "account"),
                tenant=TENANT,
                account={"oneOf": [ACCOUNT, {"type": "null"}]},
            ),
            status=201,
            errors=(400, 401, 403, 409),
        ),
    }

    async def get(self) -> None:
        self.send_json({"tenants": await self.platform.tenants.all_tenants()})

    async def post(self) -> None:
        answer = await self.platform.tenants.onboard(self.principal, self.json_body())
        self.send_json(answer, 201)


class PlatformTenantHandler(BaseHandler):
    access = {"PATCH": "tenants.onboard"}
    api = {
        "patch": op(
            "Correct an agency's names, kind, time zone, contact or territory "
            "(checked for overlap again)",
            tag="platform",
            body=changes(obj((), **TENANT_FIELDS)),
            response=obj(("tenant",), tenant=TENANT),
            errors=(400, 401, 403, 404, 409),
            params=("tenant_id",),
        )
    }

    async def patch(self, tenant_id: str) -> None:
        tenant = await self.platform.tenants.update_tenant(
            self.principal, tenant_id, self.json_body()
        )
        self.send_json({"tenant": tenant})

"""Tenants (agencies) and what belongs to them: stations, zones, staff.

Every read and write of an agency's own data goes through `TenantCollection`,
so it is scoped by the caller's tenant: another tenant's station or account
is simply not found, and an agency's admin never changes another agency.

A platform admin onboards an agency (name, kind, time zone, territory,
contact, and optionally its first admin account). Territories may share a
border but not overlap (see `server.territory`). The agency's admin then
manages its stations and their zones, its accounts and their roles, and its
settings; settings are read from the database on every use (alarms,
dispatch), so a change applies to the next alarm without a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import secrets
import zoneinfo
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from server import access, geo, leases, territory
from server.access import Principal
from server.auth import PHONE_RE
from server.catalog import default_tenant_settings, settings_of
from server.errors import Conflict, Invalid, NotFound
from server.passwords import hash_password
from server.storage import TenantCollection, object_id

log = logging.getLogger(__name__)

# Rosters are small (a district has hundreds of officers); this bound only
# protects the server from a runaway tenant.
MAX_LIST = 5000
# Tenant ids appear in topics and URLs: short lowercase slugs.
TENANT_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
KINDS = ("police_district", "department")
# Held while a territory is checked against the others and written.
TERRITORIES_LEASE = "territories"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
# Roles an agency's admin hands out; platform_admin is the platform's own.
ASSIGNABLE_ROLES = (access.OFFICER, access.COMMANDER, access.EXPERT, access.ADMIN)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
NAME_MAX = 80
NAME_EN_MAX = 120
ADDRESS_MAX = 200
BADGE_MAX = 20
# First passwords are typed by hand once: no look-alike characters, 12 of
# them (about 68 bits); the person should change it.
PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ"
PASSWORD_LENGTH = 12
CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Bounds of the numeric dispatch settings, each (lowest, highest):
NUMBER_SETTINGS = {
    # An officer needs a quarter minute to glance and accept; beyond ten
    # minutes a citizen waits too long before the command room steps in.
    "claim_window_s": (15, 600),
    # From a city block to the far side of a large district.
    "offer_radius_m": (200, 20_000),
    # 0 keeps the radius fixed; 10 km at once skips every nearer officer.
    "offer_radius_step_m": (0, 10_000),
    "offer_radius_max_m": (200, 50_000),
    # Positions come every few seconds while on duty; an hour-old one is
    # no position at all.
    "position_max_age_s": (15, 3600),
}
VOCABULARIES = {
    # setting: how many entries at most
    "categories": 30,
    "expert_categories": 30,
    "specialties": 100,
}
CODE_RE = re.compile(r"^[a-z0-9_]{1,40}$")
LABEL_MAX = 40
MUSTER_OFF_DUTY = ("last_position", "home_station")


def _text(value: Any, limit: int, what: str, required: bool = False) -> str | None:
    """Stripped text within ``limit`` (None when empty and not required)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(f"Give the {what}.", f"bad_{what.replace(' ', '_')}")
        return None
    if not isinstance(value, str):
        raise Invalid(f"The {what} must be text.", f"bad_{what.replace(' ', '_')}")
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise Invalid(
            f"The {what} is one line of {limit} characters at most.",
            f"bad_{what.replace(' ', '_')}",
        )
    return value


def _phone(value: Any) -> str | None:
    """A phone number with its spaces, dashes and brackets taken out."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid("The phone number is not valid.", "phone_invalid")
    digits = re.sub(r"[\s()-]", "", value)
    if not PHONE_RE.match(digits):
        raise Invalid("The phone number is not valid.", "phone_invalid")
    return digits


def _email(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if (
        not isinstance(value, str)
        or len(value) > 254
        or not EMAIL_RE.match(value.strip())
    ):
        raise Invalid("The e-mail address is not valid.", "email_invalid")
    return value.strip().lower()


def _contact(value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid("Give the agency's contact person.", "contact_required")
    contact = {
        "name": _text(value.get("name"), NAME_MAX, "contact name", required=True),
        "phone": _phone(value.get("phone")),
        "email": _email(value.get("email")),
    }
    if contact["phone"] is None and contact["email"] is None:
        raise Invalid("Give the contact's phone or e-mail.", "contact_required")
    return contact


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise Invalid("Give the time zone, such as Asia/Shanghai.", "bad_timezone")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"Unknown time zone {value!r}; use an IANA name like Asia/Shanghai.",
            "bad_timezone",
        ) from None
    return value


def _point(value: Any) -> dict:
    if not isinstance(value, dict) or value.get("type") != "Point":
        raise Invalid("The location is a GeoJSON Point.", "bad_location")
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) != 2:
        raise Invalid("A point is [longitude, latitude].", "bad_location")
    return geo.point(*coordinates)


def _vocabulary(value: Any, name: str) -> list[dict]:
    most = VOCABULARIES[name]
    if not isinstance(value, list) or not 0 < len(value) <= most:
        raise Invalid(f"{name} is a list of 1 to {most} entries.", f"bad_{name}")
    entries, codes = [], set()
    for item in value:
        code = item.get("code") if isinstance(item, dict) else None
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise Invalid(
                f"Each entry of {name} has a code of lowercase letters, digits "
                "and _, and its zh and en labels.",
                f"bad_{name}",
            )
        if item["code"] in codes:
            raise Invalid(f"The code {item['code']} is listed twice.", f"bad_{name}")
        codes.add(item["code"])
        entries.append(
            {
                "code": item["code"],
                "zh": _text(item.get("zh"), LABEL_MAX, "label", required=True),
                "en": _text(item.get("en"), LABEL_MAX, "label", required=True),
            }
        )
    return entries


def validate_settings(current: dict, changes: Any) -> dict:
    """The tenant's settings with ``changes`` applied, every value checked."""
    if not isinstance(changes, dict) or not changes:
        raise Invalid("Send the settings to change.", "bad_settings")
    known = default_tenant_settings()
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise Invalid(f"Unknown settings: {', '.join(unknown)}.", "bad_settings")
    merged = {**current}
    for name, value in changes.items():
        if name in NUMBER_SETTINGS:
            low, high = NUMBER_SETTINGS[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not low <= value <= high
            ):
                raise Invalid(
                    f"{name} is a whole number from {low} to {high}.", f"bad_{name}"
                )
        elif name == "service_hours":
            if (
                not isinstance(value, dict)
                or not CLOCK_RE.match(str(value.get("start")))
                # 24:00 ends the day: 00:00-24:00 is around the clock.
                or not (
                    value.get("end") == "24:00" or CLOCK_RE.match(str(value.get("end")))
                )
                or value["start"] == value["end"]
            ):
                raise Invalid(
                    "Service hours are a start and an end, HH:MM, not equal "
                    "(an end before the start runs past midnight).",
                    "bad_service_hours",
                )
            value = {"start": value["start"], "end": value["end"]}
        elif name == "muster_off_duty":
            if value not in MUSTER_OFF_DUTY:
                raise Invalid(
                    "muster_off_duty is last_position or home_station.",
                    "bad_muster_off_duty",
                )
        else:
            value = _vocabulary(value, name)
        merged[name] = value
    if merged["offer_radius_max_m"] < merged["offer_radius_m"]:
        raise Invalid(
            "The largest offer radius cannot be below the first one.",
            "bad_offer_radius_max_m",
        )
    return merged


def _password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _age_s(at: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


def station_view(doc: dict) -> dict:
    return {
        "id": doc["_id"],
        "name": doc.get("name"),
        "name_en": doc.get("name_en"),
        "address": doc.get("address"),
        "phone": doc.get("phone"),
        "location": doc.get("location"),
        "zone": doc.get("zone"),
    }


def officer_view(doc: dict, now: dt.datetime) -> dict:
    """An officer as commanders see them: duty, last position and its age."""
    return {
        "id": str(doc["_id"]),
        "name": doc.get("name"),
        "badge_no": doc.get("badge_no"),
        "station_id": doc.get("station_id"),
        "duty": doc.get("duty", "off"),
        "position": doc.get("position"),
        "position_age_s": _age_s(doc.get("position_at"), now),
        "specialties": doc.get("specialties", []),
    }


def user_view(doc: dict) -> dict:
    """An account as its agency admin sees it (never the password hash)."""
    return {
        "id": str(doc["_id"]),
        "username": doc["username"],
        "name": doc.get("name"),
        "roles": doc.get("roles", []),
        "disabled": bool(doc.get("disabled")),
        "station_id": doc.get("station_id"),
    }


def platform_tenant_view(doc: dict) -> dict:
    """A tenant as platform admins see it: with its contact."""
    return {**tenant_view(doc), "contact": doc.get("contact")}


def tenant_view(doc: dict) -> dict:
    return {
        "id": doc["_id"],
        "name": doc.get("name"),
        "name_en": doc.get("name_en"),
        "kind": doc.get("kind"),
        "timezone": doc.get("timezone"),
        "territory": doc.get("territory"),
        # The effective settings: the tenant's own over the platform defaults.
        "settings": settings_of(doc),
    }


class TenantService:
    """One tenant's organisation; onboarding tenants for platform admins."""

    def __init__(self, db: AsyncDatabase, auth=None):
        self.db = db
        # Sessions end through the auth service (a role change, disabling);
        # the platform sets the audit log.
        self.auth = auth
        self.audit = None

    def _in(self, name: str, tenant_id: str) -> TenantCollection:
        return TenantCollection(self.db[name], tenant_id)

    async def tenant(self, tenant_id: str) -> dict:
        doc = await self.db.tenants.find_one({"_id": tenant_id})
        if doc is None:
            raise NotFound("No such agency.")
        return tenant_view(doc)

    async def stations(self, tenant_id: str) -> list[dict]:
        cursor = self._in("stations", tenant_id).find().sort("name")
        return [station_view(d) async for d in cursor.limit(MAX_LIST)]

    async def station(self, tenant_id: str, station_id: str) -> dict:
        if not isinstance(station_id, str):
            # From a JSON body it could be an operator ({"$ne": null}) that
            # would match any station of the agency.
            raise Invalid("Name the station by its id.", "bad_station")
        doc = await self._in("stations", tenant_id).find_one({"_id": station_id})
        if doc is None:
            raise NotFound("No such station.")
        return station_view(doc)

    async def officers(self, tenant_id: str) -> list[dict]:
        now = dt.datetime.now(dt.UTC)
        cursor = self._in("users", tenant_id).find({"roles": "officer"})
        return [officer_view(d, now) async for d in cursor.limit(MAX_LIST)]

    async def officer(self, tenant_id: str, user_id: str) -> dict:
        query = {"_id": object_id(user_id), "roles": "officer"}
        doc = await self._in("users", tenant_id).find_one(query)
        if doc is None:
            raise NotFound("No such officer.")
        return officer_view(doc, dt.datetime.now(dt.UTC))

    async def users(self, tenant_id: str) -> list[dict]:
        cursor = self._in("users", tenant_id).find().sort("username")
        return [user_view(d) async for d in cursor.limit(MAX_LIST)]

    # -- onboarding (platform admins) -------------------------------------------

    async def all_tenants(self) -> list[dict]:
        cursor = self.db.tenants.find().sort("_id")
        return [platform_tenant_view(d) async for d in cursor.limit(MAX_LIST)]

    async def onboard(self, principal: Principal, body: Any) -> dict:
        """Add an agency; with ``admin``, also its first admin account.

        Returns ``{"tenant": ..., "account": ...}``; the account's password
        is shown here once and stored only as a hash.
        """
        if not isinstance(body, dict):
            raise Invalid("Send the agency as a JSON object.", "bad_body")
        tenant_id = body.get("id")
        if not isinstance(tenant_id, str) or not TENANT_ID_RE.match(tenant_id):
            raise Invalid(
                "The agency id is 2 to 32 lowercase letters, digits or dashes, "
                "starting with a letter.",
                "bad_tenant_id",
            )
        doc = {"_id": tenant_id, **self._tenant_fields(body, creating=True)}
        area = territory.parse_area(body.get("territory"), "territory")
        doc.update(settings=default_tenant_settings(), created_at=_now())
        admin = body.get("admin")
        if admin is not None:
            # Checked before anything is stored: a bad account leaves no agency.
            if not isinstance(admin, dict):
                raise Invalid("The first admin is a JSON object.", "bad_body")
            admin = {**admin, "roles": [access.ADMIN]}
            username = self._account_fields(admin)["username"]
            if await self.db.users.find_one({"username": username}, {"_id": 1}):
                raise Conflict(
                    "This account name is taken; choose another.", "username_taken"
                )
        async with leases.lease(self.db, TERRITORIES_LEASE):
            doc["territory"] = await self._free_territory(tenant_id, area)
            try:
                await self.db.tenants.insert_one(doc)
            except DuplicateKeyError:
                raise Conflict(
                    "An agency with this id exists.", "tenant_exists"
                ) from None
        log.info("tenant %s onboarded by %s", tenant_id, principal.id)
        self._audit(principal, "tenant.onboard", None, ("tenant", tenant_id))
        answer = {"tenant": platform_tenant_view(doc), "account": None}
        if admin is not None:
            answer["account"] = await self._new_account(principal, tenant_id, admin)
        return answer

    def _tenant_fields(self, body: dict, creating: bool) -> dict:
        given = (lambda name: True) if creating else (lambda name: name in body)
        fields: dict[str, Any] = {}
        if given("name"):
            fields["name"] = _text(body.get("name"), NAME_MAX, "name", required=True)
        if given("name_en"):
            fields["name_en"] = _text(body.get("name_en"), NAME_EN_MAX, "name_en")
        if given("kind"):
            if body.get("kind") not in KINDS:
                raise Invalid("The kind is police_district or department.", "bad_kind")
            fields["kind"] = body["kind"]
        if given("timezone"):
            fields["timezone"] = _timezone(body.get("timezone"))
        if given("contact"):
            fields["contact"] = _contact(body.get("contact"))
        return fields

    async def _free_territory(self, tenant_id: str, area: dict) -> dict:
        """The parsed ``area`` if it overlaps no other agency's territory
        (borders may touch); called holding the territories lease, with the
        write that follows, so that two agencies drawn at the same instant,
        in any processes, are checked one after the other.

        ``$geoIntersects`` finds every neighbour through the 2dsphere index,
        touching ones included; `territory.interiors_overlap` then refuses
        only those whose land is shared.
        """
        cursor = self.db.tenants.find(
            {
                "_id": {"$ne": tenant_id},
                "territory": {"$geoIntersects": {"$geometry": area}},
            },
            {"name": 1, "territory": 1},
        )
        async for other in cursor:
            if territory.interiors_overlap(area, other["territory"]):
                raise Conflict(
                    f"The territory overlaps that of {other.get('name')} "
                    f"({other['_id']}); neighbours may share a border, not land.",
                    "territory_overlap",
                    tenant=other["_id"],
                )
        return area

    async def update_tenant(self, principal: Principal, tenant_id, body: Any) -> dict:
        """A platform admin corrects an agency's names, kind, zone, contact or
        territory (checked for overlap again)."""
        if not isinstance(body, dict) or not body:
            raise Invalid("Send the fields to change.", "bad_body")
        if await self.db.tenants.find_one({"_id": tenant_id}, {"_id": 1}) is None:
            raise NotFound("No such agency.")
        fields = self._tenant_fields(body, creating=False)
        if "territory" in body:
            area = territory.parse_area(body["territory"], "territory")
            async with leases.lease(self.db, TERRITORIES_LEASE):
                fields["territory"] = await self._free_territory(tenant_id, area)
                await self.db.tenants.update_one({"_id": tenant_id}, {"$set": fields})
        elif fields:
            await self.db.tenants.update_one({"_id": tenant_id}, {"$set": fields})
        else:
            raise Invalid("Nothing to change.", "bad_body")
        self._audit(
            principal,
            "tenant.update",
            None,
            ("tenant", tenant_id),
            fields=sorted(fields),
        )
        doc = await self.db.tenants.find_one({"_id": tenant_id})
        return platform_tenant_view(doc)

    # -- the agency's own settings ------------------------------------------------

    async def update_settings(self, principal: Principal, changes: Any) -> dict:
        """Change dispatch settings, service hours or vocabularies at once."""
        doc = await self.db.tenants.find_one({"_id": principal.tenant_id})
        if doc is None:
            raise NotFound("No such agency.")
        merged = validate_settings(settings_of(doc), changes)
        await self.db.tenants.update_one(
            {"_id": principal.tenant_id}, {"$set": {"settings": merged}}
        )
        log.info("tenant %s settings changed: %s", principal.tenant_id, sorted(changes))
        self._audit(
            principal,
            "tenant.settings",
            principal.tenant_id,
            ("tenant", principal.tenant_id),
            fields=sorted(changes),
        )
        return tenant_view({**doc, "settings": merged})

    # -- stations and their zones -------------------------------------------------

    async def create_station(self, principal: Principal, body: Any) -> dict:
        if not isinstance(body, dict):
            raise Invalid("Send the station as a JSON object.", "bad_body")
        fields = await self._station_fields(principal.tenant_id, body, creating=True)
        station_id = f"{principal.tenant_id}-{secrets.token_hex(4)}"
        stations = self._in("stations", principal.tenant_id)
        try:
            await stations.insert_one({"_id": station_id, **fields})
        except DuplicateKeyError:
            raise Conflict(
                "A station with this name exists.", "station_exists"
            ) from None
        log.info("station %s created by %s", station_id, principal.id)
        self._audit(
            principal, "station.create", principal.tenant_id, ("station", station_id)
        )
        return await self.station(principal.tenant_id, station_id)

    async def update_station(self, principal: Principal, station_id, body) -> dict:
        if not isinstance(body, dict) or not body:
            raise Invalid("Send the fields to change.", "bad_body")
        await self.station(principal.tenant_id, station_id)  # 404 if not ours
        fields = await self._station_fields(principal.tenant_id, body, creating=False)
        if not fields:
            raise Invalid("Nothing to change.", "bad_body")
        try:
            await self._in("stations", principal.tenant_id).update_one(
                {"_id": station_id}, {"$set": fields}
            )
        except DuplicateKeyError:
            raise Conflict(
                "A station with this name exists.", "station_exists"
            ) from None
        self._audit(
            principal,
            "station.update",
            principal.tenant_id,
            ("station", station_id),
            fields=sorted(fields),
        )
        return await self.station(principal.tenant_id, station_id)

    async def _station_fields(self, tenant_id: str, body: dict, creating: bool):
        given = (lambda name: True) if creating else (lambda name: name in body)
        fields: dict[str, Any] = {}
        if given("name"):
            fields["name"] = _text(body.get("name"), NAME_MAX, "name", required=True)
        if given("name_en"):
            fields["name_en"] = _text(body.get("name_en"), NAME_EN_MAX, "name_en")
        if given("address"):
            fields["address"] = _text(body.get("address"), ADDRESS_MAX, "address")
        if given("phone"):
            fields["phone"] = _phone(body.get("phone"))
        if given("location"):
            fields["location"] = await self._inside(
                tenant_id, _point(body.get("location")), "location"
            )
        if given("zone"):
            zone = territory.parse_area(body.get("zone"), "zone")
            fields["zone"] = await self._inside(tenant_id, zone, "zone")
        return fields

    async def _inside(self, tenant_id: str, geometry: dict, what: str) -> dict:
        inside = await self.db.tenants.find_one(
            {
                "_id": tenant_id,
                "territory": {"$geoIntersects": {"$geometry": geometry}},
            },
            {"_id": 1},
        )
        if inside is None:
            raise Invalid(
                f"The {what} lies outside this agency's territory.",
                "outside_territory",
            )
        return geometry

    # -- accounts and roles -------------------------------------------------------

    async def create_user(self, principal: Principal, body: Any) -> dict:
        """A new account of the admin's agency; its first password shown once."""
        return await self._new_account(principal, principal.tenant_id, body)

    def _account_fields(self, body: Any, allowed: set[str] | None = None) -> dict:
        if not isinstance(body, dict):
            raise Invalid("Send the account as a JSON object.", "bad_body")
        username = body.get("username")
        if not isinstance(username, str) or not USERNAME_RE.match(
            username.strip().lower()
        ):
            raise Invalid(
                "The account name is 3 to 64 lowercase letters, digits, '.', "
                "'_' or '-'.",
                "bad_username",
            )
        return {
            "username": username.strip().lower(),
            "name": _text(body.get("name"), NAME_MAX, "name", required=True),
            "roles": _roles(body.get("roles"), allowed),
            "badge_no": _text(body.get("badge_no"), BADGE_MAX, "badge number"),
            "phone": _phone(body.get("phone")),
            "email": _email(body.get("email")),
        }

    async def _new_account(self, principal, tenant_id: str, body: Any) -> dict:
        fields = self._account_fields(body)
        station_id = body.get("station_id") or None
        if station_id is not None:
            await self.station(tenant_id, station_id)  # 404 if not the agency's
        password = _password()
        loop = asyncio.get_running_loop()
        encoded = await loop.run_in_executor(None, hash_password, password)
        user = {
            **fields,
            "tenant_id": tenant_id,
            "station_id": station_id,
            "password_hash": encoded,
            "disabled": False,
            "created_at": _now(),
            "created_by": principal.id,
            "specialties": [],
        }
        try:
            result = await self.db.users.insert_one(user)
        except DuplicateKeyError:
            raise Conflict(
                "This account name is taken; choose another.", "username_taken"
            ) from None
        user_id = str(result.inserted_id)
        log.info("account %s created in %s by %s", user_id, tenant_id, principal.id)
        self._audit(
            principal,
            "user.create",
            tenant_id,
            ("user", user_id),
            roles=fields["roles"],
        )
        return {
            "user": user_view({**user, "_id": result.inserted_id}),
            "username": fields["username"],
            "password": password,
        }

    async def update_user(self, principal: Principal, user_id, body: Any) -> dict:
        """Change roles (ending the account's sessions), station or name."""
        if not isinstance(body, dict) or not body:
            raise Invalid("Send the fields to change.", "bad_body")
        users = self._in("users", principal.tenant_id)
        current = await users.find_one({"_id": object_id(user_id)})
        if current is None:
            raise NotFound("No such account.")
        fields: dict[str, Any] = {}
        if "name" in body:
            fields["name"] = _text(body.get("name"), NAME_MAX, "name", required=True)
        if "station_id" in body:
            station_id = body.get("station_id")
            if not isinstance(station_id, str | None):
                raise Invalid("The station is given by its id.", "bad_station")
            station_id = station_id or None  # "" takes the account off a station
            if station_id is not None:
                await self.station(principal.tenant_id, station_id)
            fields["station_id"] = station_id
        roles_changed = False
        if "roles" in body:
            roles = _roles(body.get("roles"), set(ASSIGNABLE_ROLES))
            roles_changed = set(roles) != set(current.get("roles", []))
            if roles_changed and user_id == principal.id and access.ADMIN not in roles:
                raise Conflict("You cannot take away your own admin role.", "self")
            fields["roles"] = roles
        if not fields:
            raise Invalid("Nothing to change.", "bad_body")
        await users.update_one({"_id": current["_id"]}, {"$set": fields})
        if roles_changed:
            ended = await self._end_sessions(user_id)
            log.info(
                "account %s roles changed by %s; %d sessions ended",
                user_id,
                principal.id,
                ended,
            )
            self._audit(
                principal,
                "user.roles",
                principal.tenant_id,
                ("user", user_id),
                before=sorted(current.get("roles", [])),
                after=fields["roles"],
            )
        return user_view(await users.find_one({"_id": current["_id"]}))

    async def disable_user(self, principal: Principal, user_id) -> None:
        """Disable an account of the agency; its sessions and sockets end."""
        if user_id == principal.id:
            raise Conflict("You cannot disable your own account.", "self")
        await self.auth.set_disabled(principal.tenant_id, user_id, disabled=True)
        self._audit(principal, "user.disable", principal.tenant_id, ("user", user_id))

    async def _end_sessions(self, user_id: str) -> int:
        """End every session of an account: it signs in again, with new roles.

        Roles are read afresh from the account at each request, but an open
        websocket keeps the principal it was opened with; ending the
        sessions closes those sockets (code 4001) too.
        """
        cursor = self.db.sessions.find({"user_id": user_id}, {"_id": 1})
        keys = {s["_id"] async for s in cursor}
        await self.auth.revoke(keys)
        return len(keys)

    def _audit(self, principal, action, tenant_id, target, **detail) -> None:
        if self.audit is not None:
            self.audit.record(
                principal, action, tenant_id=tenant_id, target=target, detail=detail
            )


def _roles(value: Any, allowed: set[str] | None = None) -> list[str]:
    allowed = allowed or set(ASSIGNABLE_ROLES)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(r, str) and r in allowed for r in value)
    ):
        raise Invalid(
            "Roles are one or more of: " + ", ".join(sorted(allowed)) + ".",
            "bad_roles",
        )
    return sorted(set(value))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)

"""Tenants (agencies) and what belongs to them: stations, zones, staff.

Every read goes through `TenantCollection`, so it is scoped by the caller's
tenant: another tenant's station or officer is simply not found.
"""

from __future__ import annotations

import datetime as dt

from pymongo.asynchronous.database import AsyncDatabase

from server.catalog import settings_of
from server.errors import NotFound
from server.storage import TenantCollection, object_id

# Rosters are small (a district has hundreds of officers); this bound only
# protects the server from a runaway tenant.
MAX_LIST = 5000


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
    """Read access to one tenant's organisation."""

    def __init__(self, db: AsyncDatabase):
        self.db = db

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

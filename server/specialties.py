"""Officers' specialties (发布专长): what each can do, and who can do X near Y.

An officer keeps a profile of tags from the agency's vocabulary (languages,
first aid, drone piloting, negotiation...) plus a line of free text, and
decides whether colleagues who plan work may see it. Only visible profiles
are ever found by a search or recommended for a task.

The profile lives on the officer's account (``users.specialties``). Distance
is judged by the officer's last position shared on duty, else the home
station's location: never by tracking anyone off duty.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from server import access, catalog, geo
from server.access import Principal
from server.errors import Invalid
from server.storage import object_id

log = logging.getLogger(__name__)

TAGS_MAX = 12
NOTE_MAX = 300
# A search answers this many people at most: a commander picks from the top.
RESULTS_MAX = 50


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def vocabulary(tenant: dict | None) -> list[dict[str, str]]:
    """The agency's specialty tags ({code, zh, en})."""
    return catalog.settings_of(tenant or {})["specialties"]


def profile_view(user: dict) -> dict[str, Any]:
    profile = user.get("specialties") or {}
    return {
        "tags": list(profile.get("tags", [])),
        "note": profile.get("note", ""),
        "visible": bool(profile.get("visible", False)),
        "updated_at": profile.get("updated_at"),
    }


def tags_of(value, codes: set[str], what: str = "tags") -> list[str]:
    """A list of known tag codes, each once, in the order given."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > TAGS_MAX:
        raise Invalid(f"Give up to {TAGS_MAX} {what} as a list.", f"bad_{what}")
    unknown = [t for t in value if not isinstance(t, str) or t not in codes]
    if unknown:
        raise Invalid(
            f"Unknown {what}: {', '.join(map(str, unknown))[:200]}.", f"bad_{what}"
        )
    return list(dict.fromkeys(value))


def where_is(user: dict, stations: dict[str, dict]) -> tuple[dict | None, str]:
    """An officer's reference point and what it is (position or station)."""
    if user.get("position"):
        return user["position"], "position"
    station = stations.get(user.get("station_id") or "")
    if station and station.get("location"):
        return station["location"], "station"
    return None, ""


def distance_between(a: dict | None, b: dict | None) -> float | None:
    if not a or not b:
        return None
    (lon1, lat1), (lon2, lat2) = a["coordinates"], b["coordinates"]
    return geo.distance_m(lon1, lat1, lon2, lat2)


class SpecialtyService:
    """Profiles and searches over the officers of one agency."""

    def __init__(self, db: AsyncDatabase):
        self.db = db

    async def tenant(self, tenant_id: str) -> dict | None:
        return await self.db.tenants.find_one({"_id": tenant_id})

    async def profile(self, principal: Principal) -> dict:
        user = await self.db.users.find_one(
            {"_id": object_id(principal.id)}, {"specialties": 1}
        )
        return profile_view(user or {})

    async def save_profile(self, principal: Principal, body: dict) -> dict:
        """Replace the officer's own profile (tags, note, visible)."""
        tenant = await self.tenant(principal.tenant_id)
        codes = {tag["code"] for tag in vocabulary(tenant)}
        tags = tags_of(body.get("tags"), codes)
        note = body.get("note") or ""
        if not isinstance(note, str) or len(note.strip()) > NOTE_MAX:
            raise Invalid(
                f"The note is text of {NOTE_MAX} characters at most.", "bad_note"
            )
        visible = body.get("visible", False)
        if not isinstance(visible, bool):
            raise Invalid(
                "Say whether the profile is visible (true or false).", "bad_visible"
            )
        profile = {
            "tags": tags,
            "note": note.strip(),
            "visible": visible,
            "updated_at": now(),
        }
        await self.db.users.update_one(
            {"_id": object_id(principal.id)}, {"$set": {"specialties": profile}}
        )
        log.info(
            "officer %s specialties: %d tags, visible=%s",
            principal.id,
            len(tags),
            visible,
        )
        return profile_view({"specialties": profile})

    async def stations(self, tenant_id: str) -> dict[str, dict]:
        cursor = self.db.stations.find(
            {"tenant_id": tenant_id}, {"name": 1, "location": 1}
        )
        return {str(s["_id"]): s async for s in cursor}

    async def candidates(
        self,
        tenant_id: str,
        tags: list[str],
        text: str = "",
        exclude: set[str] = frozenset(),
    ) -> list[dict]:
        """Officers with a visible profile holding any of ``tags`` (or the text)."""
        query: dict[str, Any] = {
            "tenant_id": tenant_id,
            "roles": access.OFFICER,
            "disabled": {"$ne": True},
            "specialties.visible": True,
        }
        either = []
        if tags:
            either.append({"specialties.tags": {"$in": tags}})
        if text:
            either.append(
                {"specialties.note": {"$regex": re.escape(text), "$options": "i"}}
            )
        if either:
            query["$or"] = either
        cursor = self.db.users.find(
            query,
            {
                "name": 1,
                "specialties": 1,
                "position": 1,
                "position_at": 1,
                "station_id": 1,
                "duty": 1,
            },
        )
        return [u async for u in cursor if str(u["_id"]) not in exclude]

    async def search(self, principal: Principal, params: dict) -> list[dict]:
        """Who can do ``skill`` (or whose note mentions ``q``) nearest ``near``."""
        tenant = await self.tenant(principal.tenant_id)
        codes = {tag["code"] for tag in vocabulary(tenant)}
        skill = params.get("skill") or ""
        tags = tags_of([skill], codes, "skill") if skill else []
        text = (params.get("q") or "").strip()[:60]
        near = None
        if params.get("lon") is not None or params.get("lat") is not None:
            near = geo.point(_number(params.get("lon")), _number(params.get("lat")))
        users = await self.candidates(principal.tenant_id, tags, text)
        return self.ranked(users, near, tags, await self.stations(principal.tenant_id))

    def ranked(
        self, users: list[dict], near: dict | None, tags: list[str], stations
    ) -> list[dict]:
        """People as search results: the matching tags, nearest first."""
        found = []
        for user in users:
            point, basis = where_is(user, stations)
            distance = distance_between(point, near)
            station = stations.get(user.get("station_id") or "") or {}
            profile = profile_view(user)
            found.append(
                {
                    "id": str(user["_id"]),
                    "name": user.get("name", ""),
                    "station": station.get("name"),
                    "tags": profile["tags"],
                    "note": profile["note"],
                    "matched": [t for t in profile["tags"] if t in tags],
                    "distance_m": None if distance is None else round(distance),
                    "distance_from": basis or None,
                    "duty": user.get("duty", "off"),
                }
            )
        # Nearest first; people whose whereabouts are unknown come last.
        found.sort(
            key=lambda p: (p["distance_m"] is None, p["distance_m"] or 0, p["name"])
        )
        return found[:RESULTS_MAX]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid(
            "Give the place as numbers lon and lat.", "bad_location"
        ) from None

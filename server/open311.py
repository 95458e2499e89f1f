"""Open311 GeoReport v2: the platform's alarms as a standard 311 service.

Third-party apps that already speak GeoReport v2 (http://wiki.open311.org/
GeoReport_v2) can list the alarm categories as *services*, file a *service
request* (an alarm) and follow its status. A filed request goes through
exactly the citizen's path, `AlarmService.raise_alarm`, so service hours,
territory, categories, coordinates and rate limits hold as for the web page.

Filing needs an API key; keys live hashed in ``open311_clients``
(``{_id: sha256 of the key, name, tenant_id or None, created_at}``) and are
issued with `issue_api_key`. Reading is public, as the spec requires, so the
request view below carries no personal data: no citizen or device id, no
contact details, no officer names, no internal notes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import zoneinfo
from typing import Any
from xml.etree import ElementTree

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from server import access, alarms, geo
from server.access import Principal
from server.alarms import settings_of
from server.catalog import ALARM_CATEGORIES
from server.errors import DomainError, Forbidden, Invalid, NotFound, RateLimited

log = logging.getLogger(__name__)

FORMATS = ("json", "xml")
# The spec's default and maximum: "a span of 90 days or first 1000 requests".
WINDOW = dt.timedelta(days=90)
MAX_RESULTS = 1000
MAX_ID_TEXT = 64  # device ids and jurisdiction ids are short tokens
CLIENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
CLOSED = (alarms.RESOLVED, alarms.CANCELLED, alarms.CLOSED)
# What a list in the XML form calls each of its items.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
}

TEXT = {
    "zh": {
        "group": "非紧急警情",
        "describe": "非紧急警情：{name}。附近民警接单后赶赴现场；紧急情况请拨打110。",
        "notice": "已受理。附近民警将接单并赶赴现场；如遇紧急情况请立即拨打110。",
    },
    "en": {
        "group": "Non-emergency police",
        "describe": (
            "Non-emergency police matter: {name}. A nearby officer takes it and "
            "comes to the place; in an emergency call 110."
        ),
        "notice": (
            "Received. A nearby officer will take it and come to the place; "
            "in an emergency call 110 at once."
        ),
    },
}
STATUS_NOTES = {
    "zh": {
        alarms.OFFERING: "正在通知附近民警。",
        alarms.ESCALATED: "已转指挥室派警。",
        alarms.ASSIGNED: "民警已接单。",
        alarms.EN_ROUTE: "民警正在赶往现场。",
        alarms.ARRIVED: "民警已到达现场。",
        alarms.RESOLVED: "已处置完毕。",
        alarms.CANCELLED: "报警人已撤销。",
        alarms.CLOSED: "指挥室已结案。",
    },
    "en": {
        alarms.OFFERING: "Nearby officers are being notified.",
        alarms.ESCALATED: "Passed to the command room for dispatch.",
        alarms.ASSIGNED: "An officer has taken the request.",
        alarms.EN_ROUTE: "An officer is on the way.",
        alarms.ARRIVED: "An officer is at the place.",
        alarms.RESOLVED: "Resolved.",
        alarms.CANCELLED: "Withdrawn by the reporter.",
        alarms.CLOSED: "Closed by the command room.",
    },
}
# raise_alarm's refusals, told in the spec's terms: the field at fault, and
# 404 for a service_code that does not exist (the spec's "not found").
FIELD_OF_REASON = {
    "bad_location": ("lat/long", Invalid),
    "outside_territory": ("lat/long", Invalid),
    "bad_category": ("service_code", NotFound),
    "bad_text": ("description", Invalid),
    "bad_address": ("address_string", Invalid),
    "unknown_plate": ("address_id", Invalid),
}
# Only what a public answer may show of an alarm (no citizen, IP, history).
PUBLIC_FIELDS = {
    "tenant_id": 1,
    "category": 1,
    "description": 1,
    "status": 1,
    "address": 1,
    "plate": 1,
    "location": 1,
    "created_at": 1,
    "updated_at": 1,
}


# Open311 reads are public by the spec's design. Only requests filed through
# Open311 are listed: a citizen who raised an alarm on the platform's own page
# was never told that its place and description would be published.
FILED_HERE = {"citizen_id": {"$regex": "^open311:"}}


def language(locale: str | None) -> str:
    """``en`` for an English locale (``en``, ``en-US``), else Chinese."""
    return "en" if (locale or "").lower().startswith("en") else "zh"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


async def issue_api_key(
    db: AsyncDatabase, name: str, tenant_id: str | None = None
) -> str:
    """A new API key for the client ``name``; only its hash is stored.

    A key with a ``tenant_id`` may file requests in that jurisdiction only.
    """
    if not CLIENT_NAME.match(name or ""):
        raise Invalid("A client name is 1-40 letters, digits, '.', '_' or '-'.")
    api_key = secrets.token_urlsafe(32)
    await db.open311_clients.insert_one(
        {
            "_id": hash_key(api_key),
            "name": name,
            "tenant_id": tenant_id,
            "created_at": dt.datetime.now(dt.UTC),
        }
    )
    log.info("open311 api key issued to client %s tenant=%s", name, tenant_id)
    return api_key


def to_xml(value: Any, root: str) -> bytes:
    """The spec's XML form of an answer: lists of items under ``root``."""
    element = ElementTree.Element(root)
    _fill(element, value)
    body = ElementTree.tostring(element, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}'.encode()


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, XML_ITEMS[element.tag]), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def w3c(at: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    """A time in the spec's W3C form with the jurisdiction's UTC offset."""
    return None if at is None else at.astimezone(zone).isoformat(timespec="seconds")


def parse_w3c(value: str | None, name: str) -> dt.datetime | None:
    """A W3C date-time from a query; a time without offset is taken as UTC."""
    if not value:
        return None
    # An unencoded "+08:00" in a query string arrives as " 08:00".
    value = re.sub(r"(T[\d:.]+) (\d\d:?\d\d)$", r"\1+\2", value.strip())
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{name} must be a W3C date-time such as 2026-01-31T08:00:00+08:00.",
            "bad_date",
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _short_text(value: str | None, name: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_ID_TEXT or not value.isprintable():
        raise Invalid(f"{name} must be printable text of at most {MAX_ID_TEXT}.")
    return value


def _coordinate(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise Invalid(f"{name} must be a number.", "bad_coordinate") from None


def _categories(tenant: dict | None) -> list[dict]:
    """The jurisdiction's categories, or the platform's when none is named."""
    return settings_of(tenant)["categories"] if tenant else ALARM_CATEGORIES


class Open311:
    """GeoReport v2 over the alarm service; one per request, cheap to build."""

    def __init__(self, db: AsyncDatabase, alarm_service: alarms.AlarmService):
        self.db = db
        self.alarms = alarm_service

    async def jurisdiction(self, jurisdiction_id: str | None) -> dict | None:
        """The tenant named by ``jurisdiction_id``; None when none is named."""
        jurisdiction_id = _short_text(jurisdiction_id, "jurisdiction_id")
        if not jurisdiction_id:
            return None  # the spec: an empty parameter is an absent one
        tenant = await self.db.tenants.find_one({"_id": jurisdiction_id})
        if tenant is None:
            raise NotFound(f"jurisdiction_id not found: {jurisdiction_id}.")
        return tenant

    # -- services ------------------------------------------------------------

    async def services(self, jurisdiction_id: str | None, locale: str | None):
        """The alarm categories as GeoReport services."""
        tenant = await self.jurisdiction(jurisdiction_id)
        lang = language(locale)
        return [_service(c, lang) for c in _categories(tenant)]

    async def definition(self, code: str, jurisdiction_id: str | None) -> dict:
        """No service asks for extra fields: a known code has no attributes."""
        tenant = await self.jurisdiction(jurisdiction_id)
        if code not in {c["code"] for c in _categories(tenant)}:
            raise NotFound(f"service_code not found: {code[:MAX_ID_TEXT]}.")
        return {"service_code": code, "attributes": []}

    # -- filing ----------------------------------------------------------------

    async def file_request(self, form: dict[str, str | None], client_ip: str):
        """File a service request as an alarm; the spec's one-item answer."""
        client = await self._client(form.get("api_key"))
        tenant = await self.jurisdiction(form.get("jurisdiction_id"))
        if client.get("tenant_id"):
            if tenant is not None and tenant["_id"] != client["tenant_id"]:
                raise Forbidden("api_key is not valid for this jurisdiction_id.")
            tenant = await self.db.tenants.find_one({"_id": client["tenant_id"]})
        fields = _alarm_fields(form)
        device = _short_text(form.get("device_id"), "device_id")
        citizen = Principal(
            kind="citizen",
            id=f"open311:{client['name']}:{device or client_ip}",
            roles=frozenset({access.CITIZEN}),
            session_id="",
        )
        try:
            await self._check_place(fields, tenant)
            alarm, _ = await self.alarms.raise_alarm(citizen, fields, [], client_ip)
        except DomainError as exc:
            raise _in_spec_terms(exc) from None
        log.info("open311 request %s filed by client %s", alarm["_id"], client["name"])
        notice = TEXT[language(form.get("locale"))]["notice"]
        return [
            {
                "service_request_id": str(alarm["_id"]),
                "service_notice": notice,
                "account_id": None,
            }
        ]

    async def _client(self, api_key: str | None) -> dict:
        client = None
        if api_key:
            client = await self.db.open311_clients.find_one({"_id": hash_key(api_key)})
        if client is None or client.get("disabled"):
            raise Forbidden("api_key was not provided or is invalid.", "api_key")
        return client

    async def _check_place(self, fields: dict, tenant: dict | None) -> None:
        """A named jurisdiction must contain the place and offer the service."""
        if tenant is None:
            return  # routed by location, checked by raise_alarm
        if "plate" in fields:
            here = (await self.alarms.plate(fields["plate"]))["tenant_id"]
        else:
            point = geo.point(fields["lon"], fields["lat"])
            found = await self.alarms.tenant_at(point)
            here = found and found["_id"]
        if here != tenant["_id"]:
            raise Invalid(
                f"lat/long: the place lies outside jurisdiction_id {tenant['_id']}.",
                "outside_jurisdiction",
            )
        if fields["category"] not in {c["code"] for c in _categories(tenant)}:
            shown = fields["category"][:MAX_ID_TEXT]
            raise NotFound(f"service_code not found: {shown}.")

    # -- reading ---------------------------------------------------------------

    async def requests(self, query: dict[str, str | None]) -> list[dict]:
        """Service requests matching the spec's query, newest first."""
        tenant = await self.jurisdiction(query.get("jurisdiction_id"))
        criteria: dict[str, Any] = dict(FILED_HERE)
        if tenant is not None:
            criteria["tenant_id"] = tenant["_id"]
        ids = _ids(query.get("service_request_id"))
        if ids is not None:
            criteria["_id"] = {"$in": ids}  # the spec: overrides the rest
        else:
            criteria.update(_filters(query))
        cursor = self.db.alarms.find(criteria, PUBLIC_FIELDS)
        found = await cursor.sort("created_at", -1).limit(MAX_RESULTS).to_list()
        return await self._views(found, language(query.get("locale")))

    async def request(self, request_id: str, query: dict[str, str | None]):
        """One service request, as a one-item list (the spec's shape)."""
        tenant = await self.jurisdiction(query.get("jurisdiction_id"))
        alarm = None
        if ObjectId.is_valid(request_id):
            criteria: dict[str, Any] = {"_id": ObjectId(request_id), **FILED_HERE}
            if tenant is not None:
                criteria["tenant_id"] = tenant["_id"]
            alarm = await self.db.alarms.find_one(criteria, PUBLIC_FIELDS)
        if alarm is None:
            shown = request_id[:MAX_ID_TEXT]
            raise NotFound(f"service_request_id not found: {shown}.")
        return await self._views([alarm], language(query.get("locale")))

    async def _views(self, found: list[dict], lang: str) -> list[dict]:
        tenant_ids = list({a["tenant_id"] for a in found})
        tenants = {
            t["_id"]: t
            async for t in self.db.tenants.find(
                {"_id": {"$in": tenant_ids}},
                {"name": 1, "name_en": 1, "timezone": 1, "settings": 1},
            )
        }
        return [request_view(a, tenants.get(a["tenant_id"]) or {}, lang) for a in found]


def _service(category: dict, lang: str) -> dict:
    text = TEXT[lang]
    name = category.get(lang) or category.get("zh") or category["code"]
    return {
        "service_code": category["code"],
        "service_name": name,
        "description": text["describe"].format(name=name),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(
            dict.fromkeys(k for k in (category.get("zh"), category.get("en")) if k)
        ),
        "group": text["group"],
    }


def _alarm_fields(form: dict[str, str | None]) -> dict[str, Any]:
    """The alarm's fields from the spec's form fields (location rules first)."""
    code = form.get("service_code")
    if not code:
        raise Invalid("service_code was not provided.", "bad_category")
    # Form encoding sends line breaks as CRLF; alarms store plain newlines.
    text = (form.get("description") or "").replace("\r\n", "\n").replace("\r", "\n")
    fields: dict[str, Any] = {"category": code, "description": text}
    lat, lon = form.get("lat"), form.get("long")
    if lat or lon:
        if not (lat and lon):
            raise Invalid("lat and long must both be sent.", "location_required")
        fields["lat"] = _coordinate(lat, "lat")
        fields["lon"] = _coordinate(lon, "long")
        fields["address"] = form.get("address_string") or ""
        fields["source"] = "gps"
    elif form.get("address_id"):
        fields["plate"] = form["address_id"]
    elif form.get("address_string"):
        raise Invalid(
            "address_string alone cannot be located here; "
            "send lat and long, or the address_id of a standard address plate.",
            "location_required",
        )
    else:
        raise Invalid(
            "A location is required: lat and long, or address_id.",
            "location_required",
        )
    # media_url is ignored on purpose: the platform never fetches remote
    # media (it could point anywhere, inside our network included).
    return fields


def _in_spec_terms(exc: DomainError) -> DomainError:
    """raise_alarm's refusal, naming the spec's field and status."""
    if isinstance(exc, RateLimited) or exc.reason not in FIELD_OF_REASON:
        return exc
    field, kind = FIELD_OF_REASON[exc.reason]
    return kind(f"{field}: {exc.message}", exc.reason)


def _ids(value: str | None) -> list | None:
    """The comma list of request ids; malformed ones match nothing."""
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")][:MAX_RESULTS]
    return [ObjectId(p) for p in parts if ObjectId.is_valid(p)]


def _filters(query: dict[str, str | None]) -> dict[str, Any]:
    """service_code, status and the date window (90 days at most)."""
    criteria: dict[str, Any] = {}
    codes = [c.strip() for c in (query.get("service_code") or "").split(",")]
    if any(codes):
        criteria["category"] = {"$in": [c for c in codes if c]}
    statuses = {s.strip() for s in (query.get("status") or "").split(",")} - {""}
    if statuses - {"open", "closed"}:
        raise Invalid("status must be open or closed (comma delimited).")
    if len(statuses) == 1:
        chosen = alarms.ACTIVE if "open" in statuses else CLOSED
        criteria["status"] = {"$in": list(chosen)}
    start, end = _window(query)
    criteria["created_at"] = {"$gte": start, "$lte": end}
    return criteria


def _window(query: dict[str, str | None]) -> tuple[dt.datetime, dt.datetime]:
    start = parse_w3c(query.get("start_date"), "start_date")
    end = parse_w3c(query.get("end_date"), "end_date")
    if start is None and end is None:
        end = dt.datetime.now(dt.UTC)
    if start is None:
        start = end - WINDOW
    if end is None:
        end = start + WINDOW
    if end < start:
        raise Invalid("end_date is before start_date.", "bad_date")
    if end - start > WINDOW:
        raise Invalid("start_date to end_date may not span more than 90 days.")
    return start, end


def request_view(alarm: dict, tenant: dict, lang: str) -> dict:
    """A service request as the public sees it: no personal data.

    ``description`` is the reporter's own text; the spec publishes it, so it
    is public here too.
    """
    zone = zoneinfo.ZoneInfo(tenant.get("timezone") or "UTC")
    names = {c["code"]: c for c in _categories(tenant or None)}
    category = names.get(alarm["category"], {})
    lon, lat = alarm["location"]["coordinates"]
    agency = (tenant.get("name_en") if lang == "en" else None) or tenant.get("name")
    return {
        "service_request_id": str(alarm["_id"]),
        "status": "closed" if alarm["status"] in CLOSED else "open",
        "status_notes": STATUS_NOTES[lang].get(alarm["status"]),
        "service_name": category.get(lang) or category.get("zh") or alarm["category"],
        "service_code": alarm["category"],
        "description": alarm.get("description") or None,
        "agency_responsible": agency,
        "service_notice": TEXT[lang]["notice"],
        "requested_datetime": w3c(alarm["created_at"], zone),
        "updated_datetime": w3c(alarm.get("updated_at"), zone),
        "expected_datetime": None,
        "address": alarm.get("address") or None,
        "address_id": alarm.get("plate"),
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": None,  # photos are shown to the citizen and staff only
    }

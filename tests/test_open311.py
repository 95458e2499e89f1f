"""Open311 GeoReport v2: a standard client lists, files and follows requests.

The client here is what any Open311 client is: form-encoded POSTs with an
api_key, plain GETs, no cookies, no XSRF token.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from xml.etree import ElementTree

import orjson
import pytest
from bson import ObjectId
from tornado.httpclient import AsyncHTTPClient

from server import app as app_module
from server.access import Principal
from server.handlers import open311 as open311_handlers
from server.open311 import issue_api_key, parse_w3c
from tests.test_alarms import SCENE, open_all_day

CODES = {
    "taxi_dispute",
    "missing_person",
    "animal_nuisance",
    "lost_item",
    "neighbour_dispute",
    "noise",
}


@pytest.fixture(autouse=True)
def open311_routes(monkeypatch):
    """Serve the Open311 routes until the lead adds them to `server.app`."""
    original = app_module.routes

    def routes(config):
        rules = original(config)
        served = {getattr(r, "template", None) for r in rules}
        extra = [r for r in open311_handlers.routes() if r.template not in served]
        return extra + rules

    monkeypatch.setattr(app_module, "routes", routes)


class Open311Client:
    """What an Open311 client does: GETs and form POSTs, nothing else."""

    def __init__(self, live_server):
        self.base = f"{live_server.url}/open311/v2"
        self.http = AsyncHTTPClient()

    async def get(self, path: str, **query):
        url = f"{self.base}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        response = await self.http.fetch(url, raise_error=False)
        return response.code, _decode(response)

    async def post(self, path: str, **form):
        response = await self.http.fetch(
            f"{self.base}/{path}",
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"
            },
            body=urllib.parse.urlencode(form),
            raise_error=False,
        )
        return response.code, _decode(response)


def _decode(response):
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        return orjson.loads(response.body)
    return response.body


@pytest.fixture
async def client(live_server):
    return Open311Client(live_server)


@pytest.fixture
async def api_key(live_server):
    return await issue_api_key(live_server.platform.db, "fixmystreet-test")


def report(api_key: str, **fields) -> dict:
    """The fields of the spec's example request, at a place in tenant t1."""
    return {
        "api_key": api_key,
        "service_code": "noise",
        "lat": str(SCENE[1]),
        "long": str(SCENE[0]),
        "address_string": "北京东路41号",
        "email": "reporter@example.com",
        "device_id": "tt222111",
        "first_name": "Xiaoming",
        "last_name": "Wang",
        "phone": "13800138000",
        "description": "Loud music\r\nall night",
        "media_url": "http://example.com/photo.jpg",
        **fields,
    }


async def file(client, api_key, **fields) -> str:
    status, body = await client.post("requests.json", **report(api_key, **fields))
    assert status == 200, body
    return body[0]["service_request_id"]


async def test_services_are_the_six_alarm_categories(live_server, client):
    status, services = await client.get("services.json")
    assert status == 200
    assert {s["service_code"] for s in services} == CODES
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["service_name"] == "噪音扰民"
    assert (noise["metadata"], noise["type"]) == (False, "realtime")
    assert noise["group"] and "110" in noise["description"]
    _, english = await client.get("services.json", jurisdiction_id="t1", locale="en")
    assert {s["service_name"] for s in english} >= {"Noise nuisance"}


async def test_services_in_the_spec_xml(live_server, client):
    status, body = await client.get("services.xml")
    assert status == 200 and body.startswith(b"<?xml")
    root = ElementTree.fromstring(body)
    assert root.tag == "services"
    codes = {s.findtext("service_code") for s in root.findall("service")}
    assert codes == CODES
    assert root.find("service/metadata").text == "false"


async def test_a_service_definition_has_no_attributes(live_server, client):
    status, body = await client.get("services/noise.json")
    assert (status, body) == (200, {"service_code": "noise", "attributes": []})
    status, body = await client.get("services/murder.json")
    assert status == 404 and "service_code" in body[0]["description"]


async def test_a_spec_request_raises_an_alarm_and_is_followed(
    live_server, client, api_key
):
    await open_all_day(live_server)
    status, body = await client.post("requests.json", **report(api_key))
    assert status == 200
    assert isinstance(body, list) and len(body) == 1
    (filed,) = body
    assert filed["account_id"] is None and "110" in filed["service_notice"]
    alarm = await live_server.platform.db.alarms.find_one(
        {"_id": ObjectId(filed["service_request_id"])}
    )
    assert alarm["status"] == "offering" and alarm["category"] == "noise"
    assert alarm["description"] == "Loud music\nall night"
    assert alarm["citizen_id"] == "open311:fixmystreet-test:tt222111"
    assert alarm["location"]["coordinates"] == list(SCENE)

    request_id = filed["service_request_id"]
    status, (seen,) = await client.get(f"requests/{request_id}.json")
    assert status == 200
    assert (seen["service_request_id"], seen["status"]) == (request_id, "open")
    assert (seen["lat"], seen["long"]) == (SCENE[1], SCENE[0])
    assert seen["service_code"] == "noise" and seen["service_name"] == "噪音扰民"
    assert seen["requested_datetime"].endswith("+08:00")  # Asia/Shanghai
    assert parse_w3c(seen["requested_datetime"], "t") <= dt.datetime.now(dt.UTC)

    citizen = Principal("citizen", alarm["citizen_id"], frozenset({"citizen"}), "")
    await live_server.platform.alarms.cancel(citizen, request_id)
    _, (seen,) = await client.get(f"requests/{request_id}.json", locale="en")
    assert seen["status"] == "closed"
    assert seen["status_notes"] == "Withdrawn by the reporter."


async def test_a_request_by_address_plate(live_server, client, api_key):
    await open_all_day(live_server)
    await live_server.platform.db.plates.insert_one(
        {
            "_id": "3201020000001",
            "tenant_id": "t1",
            "address": "南京市玄武区北京东路41号",
            "location": {"type": "Point", "coordinates": [118.791, 32.066]},
        }
    )
    request_id = await file(
        client, api_key, lat="", long="", address_id="3201020000001"
    )
    _, (seen,) = await client.get(f"requests/{request_id}.json")
    assert seen["address_id"] == "3201020000001"
    assert seen["address"] == "南京市玄武区北京东路41号"
    status, body = await client.post(
        "requests.json", **report(api_key, lat="", long="", address_id="nope")
    )
    assert status == 400 and body[0]["description"].startswith("address_id")


async def test_requests_filter_by_id_list_and_status(live_server, client, api_key):
    await open_all_day(live_server)
    ids = [await file(client, api_key, device_id=f"d{i}") for i in range(3)]
    citizen = Principal("citizen", "open311:fixmystreet-test:d0", frozenset(), "")
    await live_server.platform.alarms.cancel(citizen, ids[0])

    _, found = await client.get(
        "requests.json", service_request_id=f"{ids[0]},{ids[2]},bogus"
    )
    assert {r["service_request_id"] for r in found} == {ids[0], ids[2]}
    _, found = await client.get("requests.json", status="open")
    assert {r["service_request_id"] for r in found} == {ids[1], ids[2]}
    _, found = await client.get("requests.json", status="closed")
    assert [r["service_request_id"] for r in found] == [ids[0]]
    _, found = await client.get("requests.json", status="open,closed")
    assert [r["service_request_id"] for r in found] == ids[::-1]  # newest first
    _, found = await client.get("requests.json", service_code="lost_item")
    assert found == []
    _, found = await client.get("requests.json", jurisdiction_id="t2")
    assert found == []


async def test_requests_in_a_date_window(live_server, client, api_key):
    await open_all_day(live_server)
    request_id = await file(client, api_key)
    now = dt.datetime.now(dt.UTC)
    hour = dt.timedelta(hours=1)
    _, found = await client.get(
        "requests.json",
        start_date=(now - hour).isoformat(),
        end_date=(now + hour).isoformat(),
    )
    assert [r["service_request_id"] for r in found] == [request_id]
    _, found = await client.get(
        "requests.json", end_date=(now - hour).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    assert found == []
    status, body = await client.get(
        "requests.json",
        start_date="2026-01-01T00:00:00Z",
        end_date="2026-06-01T00:00:00Z",
    )
    assert status == 400 and "90 days" in body[0]["description"]
    status, body = await client.get("requests.json", start_date="yesterday")
    assert (status, body[0]["code"]) == (400, 400)


async def test_public_answers_carry_no_personal_data(live_server, client, api_key):
    await open_all_day(live_server)
    request_id = await file(client, api_key)
    # An officer takes it: their name must not reach the public either.
    await live_server.platform.db.alarms.update_one(
        {"_id": ObjectId(request_id)},
        {
            "$set": {
                "status": "assigned",
                "assignee": {"officer_id": "x", "name": "Officer Zhang Wei"},
            }
        },
    )
    answers = [
        await client.get(f"requests/{request_id}.json"),
        await client.get("requests.json"),
        await client.get(f"requests/{request_id}.xml"),
    ]
    for status, body in answers:
        assert status == 200
        text = body if isinstance(body, bytes) else orjson.dumps(body)
        text = text.decode()
        assert "Loud music" in text  # the reporter's text is public per spec
        for private in (
            "reporter@example.com",
            "13800138000",
            "Xiaoming",
            "tt222111",
            "open311:",
            "127.0.0.1",
            "Zhang Wei",
            "example.com/photo",
        ):
            assert private not in text, private


async def test_filing_needs_a_valid_api_key(live_server, client, api_key):
    await open_all_day(live_server)
    for key in ("", "not-a-key"):
        status, body = await client.post("requests.json", **report(key))
        assert status == 403
        assert body == [
            {"code": 403, "description": "api_key was not provided or is invalid."}
        ]
    status, body = await client.post("requests.xml", **report(""))
    assert status == 403
    error = ElementTree.fromstring(body).find("error")
    assert (error.findtext("code"), "api_key" in error.findtext("description")) == (
        "403",
        True,
    )
    assert await live_server.platform.db.alarms.count_documents({}) == 0


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"service_code": "murder"}, 404, "service_code"),
        ({"service_code": ""}, 400, "service_code"),
        ({"lat": "north"}, 400, "lat"),
        ({"lat": "95"}, 400, "lat/long"),
        ({"lat": "nan"}, 400, "lat/long"),
        ({"long": ""}, 400, "lat and long"),
        ({"lat": "", "long": ""}, 400, "address_string"),
        ({"lat": "10", "long": "10"}, 400, "lat/long"),
        ({"description": "x" * 1001}, 400, "description"),
        ({"device_id": "d" * 65}, 400, "device_id"),
    ],
)
async def test_bad_requests_are_refused_in_spec_form_and_nothing_is_stored(
    live_server, client, api_key, fields, status, field
):
    await open_all_day(live_server)
    answer_status, body = await client.post(
        "requests.json", **report(api_key, **fields)
    )
    assert answer_status == status
    (error,) = body
    assert error["code"] == status and field in error["description"]
    assert await live_server.platform.db.alarms.count_documents({}) == 0


async def test_outside_service_hours_is_refused_with_110(live_server, client, api_key):
    await live_server.platform.db.tenants.update_one(
        {"_id": "t1"},
        {"$set": {"settings": {"service_hours": {"start": "00:00", "end": "00:00"}}}},
    )
    status, body = await client.post("requests.json", **report(api_key))
    assert status == 400 and "110" in body[0]["description"]
    assert await live_server.platform.db.alarms.count_documents({}) == 0


async def test_jurisdictions(live_server, client, api_key):
    await open_all_day(live_server)
    status, body = await client.get("services.json", jurisdiction_id="nowhere")
    assert status == 404 and "jurisdiction_id" in body[0]["description"]
    status, _ = await client.get("requests.json", jurisdiction_id="nowhere")
    assert status == 404
    status, _ = await client.post(
        "requests.json", **report(api_key, jurisdiction_id="nowhere")
    )
    assert status == 404
    # The place lies in t1, not in the jurisdiction named.
    status, body = await client.post(
        "requests.json", **report(api_key, jurisdiction_id="t2")
    )
    assert status == 400 and "jurisdiction_id" in body[0]["description"]
    assert await live_server.platform.db.alarms.count_documents({}) == 0
    await file(client, api_key, jurisdiction_id="t1")


async def test_a_key_bound_to_a_tenant_files_only_there(live_server, client):
    await open_all_day(live_server, "t2")
    key = await issue_api_key(live_server.platform.db, "t2-app", tenant_id="t2")
    status, body = await client.post("requests.json", **report(key))
    assert status == 400 and "jurisdiction_id t2" in body[0]["description"]
    status, _ = await client.post("requests.json", **report(key, jurisdiction_id="t1"))
    assert status == 403
    await file(client, key, lat="32.07", long="118.83")


async def test_unknown_formats_and_methods(live_server, client):
    status, body = await client.get("services.csv")
    assert status == 404 and "json" in body[0]["description"]
    status, body = await client.get("requests/nope.json")
    assert status == 404 and "service_request_id" in body[0]["description"]
    status, body = await client.post("services.json")
    assert status == 405 and body[0]["code"] == 405


async def test_the_open311_routes_are_documented(live_server):
    status, doc = await live_server.client().get("/api/openapi.json")
    assert status == 200
    assert set(doc["paths"]) >= {
        "/open311/v2/services.{format}",
        "/open311/v2/services/{service_code}.{format}",
        "/open311/v2/requests.{format}",
        "/open311/v2/requests/{service_request_id}.{format}",
    }
    post = doc["paths"]["/open311/v2/requests.{format}"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]

"""The alarm life cycle over HTTP and the websocket: raise, offer, claim, finish."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest
from bson import ObjectId
from PIL import Image

from tests.helpers import ApiClient, Socket, multipart
from tests.realtime.support import until

# Inside tenant t1's territory (see conftest: the square from 118.78, 32.06).
SCENE = (118.79, 32.07)
ALL_DAY = {"start": "00:00", "end": "24:00"}


async def open_all_day(live_server, tenant_id="t1", **settings) -> None:
    await live_server.platform.db.tenants.update_one(
        {"_id": tenant_id},
        {"$set": {"settings": {"service_hours": ALL_DAY, **settings}}},
    )


async def citizen(live_server) -> ApiClient:
    client = live_server.client()
    _, terms = await client.get("/api/terms")
    status, body = await client.post(
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"]},
    )
    assert status == 200, body
    client.user = body["user"]
    return client


async def officer_online(live_server, lon, lat, tenant_id="t1"):
    """An on-duty officer with an open socket and a fresh position."""
    client = await live_server.signed_in(["officer"], tenant_id)
    await client.post("/api/officer/duty", {"duty": "on"})
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send(
        {"type": "subscribe", "id": 1, "topic": f"user:{client.user['id']}"}
    )
    await socket.receive_type("subscribed")
    await socket.send({"type": "position", "lon": lon, "lat": lat, "accuracy": 10})
    # A ping round trip proves the position message was handled before it.
    await socket.send({"type": "ping", "id": "p"})
    await socket.receive_type("pong")
    return client, socket


async def raise_alarm(client: ApiClient, **fields) -> tuple[int, dict]:
    body = {"category": "noise", "lon": SCENE[0], "lat": SCENE[1], **fields}
    return await client.post("/api/alarms", body)


async def next_event(socket: Socket, event: str) -> dict:
    """The payload of the next event named ``event`` (10 s at most)."""
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive_type("event")
            if message["event"] == event:
                return message["payload"]


async def test_nearby_officers_get_the_offer_and_the_first_claim_wins(live_server):
    await open_all_day(live_server)
    (near, near_ws), (far, far_ws) = [
        await officer_online(live_server, 118.791, 32.071),
        await officer_online(live_server, 118.795, 32.072),
    ]
    (outside, outside_ws) = await officer_online(live_server, 118.60, 32.07)
    person = await citizen(live_server)
    status, body = await raise_alarm(person, description="Loud music all night")
    assert status == 201, body
    alarm_id = body["alarm"]["id"]
    offer = await next_event(near_ws, "offer.new")
    assert offer["alarm_id"] == alarm_id and 0 < offer["distance_m"] < 300
    assert (await next_event(far_ws, "offer.new"))["alarm_id"] == alarm_id
    status, won = await near.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200 and won["alarm"]["assignee"]["officer_id"] == near.user["id"]
    status, lost = await far.post(f"/api/alarms/{alarm_id}/claim")
    assert (status, lost["reason"]) == (409, "taken")
    assert (await next_event(far_ws, "offer.taken"))["alarm_id"] == alarm_id
    # The winner's retry (its answer lost) is the same success, recorded once.
    status, again = await near.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200 and again["alarm"]["assignee"] == won["alarm"]["assignee"]
    stored = await live_server.platform.db.alarms.find_one({})
    assert [h["status"] for h in stored["history"]].count("assigned") == 1
    # The officer 18 km away was never offered it and may not claim it.
    status, body = await outside.post(f"/api/alarms/{alarm_id}/claim")
    assert (status, body["reason"]) == (403, "not_offered")
    _, seen = await person.get(f"/api/alarms/{alarm_id}")
    assert seen["alarm"]["status"] == "assigned"
    assert seen["alarm"]["officer"]["name"] == won["alarm"]["assignee"]["name"]
    for socket in (near_ws, far_ws, outside_ws):
        socket.close()


async def test_fifty_concurrent_claims_have_exactly_one_winner(live_server):
    await open_all_day(live_server)
    officers = [
        await officer_online(live_server, 118.79 + i * 0.0002, 32.071)
        for i in range(50)
    ]
    status, body = await raise_alarm(await citizen(live_server))
    assert status == 201
    alarm_id = body["alarm"]["id"]
    stored = await live_server.platform.db.alarms.find_one({})
    assert len(stored["offered"]) == 50
    writes = live_server.platform.db_timer.totals
    before = writes.get(("findAndModify", "alarms"), [0])[0]
    answers = await asyncio.gather(
        *(c.post(f"/api/alarms/{alarm_id}/claim") for c, _ in officers)
    )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 49
    assert {b["reason"] for s, b in answers if s == 409} == {"taken"}
    # The claims took turns: one write on the alarm decided the race, and the
    # 49 others were refused from memory instead of queueing a write each.
    assert writes[("findAndModify", "alarms")][0] - before == 1
    await live_server.platform.audit.flush()
    refused = await live_server.platform.db.audit.count_documents(
        {"action": "alarm.claim", "outcome": "refused", "detail.reason": "taken"}
    )
    assert refused == 49
    stored = await live_server.platform.db.alarms.find_one({})
    assigned = [h for h in stored["history"] if h["status"] == "assigned"]
    assert len(assigned) == 1
    winner = next(b for s, b in answers if s == 200)["alarm"]["assignee"]
    assert stored["assignee"]["officer_id"] == winner["officer_id"]
    for _, socket in officers:
        socket.close()


async def answer_to(socket: Socket, request_id) -> dict:
    """The server's answer (a result or an error) to the request ``request_id``."""
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive()
            assert message is not None, "socket closed while waiting for an answer"
            if message.get("id") == request_id and message["type"] != "event":
                return message


async def test_an_officer_claims_over_the_open_socket(live_server):
    await open_all_day(live_server)
    (first, first_ws), (second, second_ws) = [
        await officer_online(live_server, 118.791, 32.071),
        await officer_online(live_server, 118.792, 32.071),
    ]
    (_, outside_ws) = await officer_online(live_server, 118.60, 32.07)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    await next_event(second_ws, "offer.new")
    await first_ws.send({"type": "claim", "id": 7, "alarm_id": alarm_id})
    won = await answer_to(first_ws, 7)
    assert won["type"] == "claimed"
    assert won["alarm"]["assignee"]["officer_id"] == first.user["id"]
    await second_ws.send({"type": "claim", "id": 8, "alarm_id": alarm_id})
    lost = await answer_to(second_ws, 8)
    assert (lost["type"], lost["reason"]) == ("error", "taken")
    status, body = await second.post(f"/api/alarms/{alarm_id}/claim")
    assert (status, body["reason"]) == (409, "taken")
    await outside_ws.send({"type": "claim", "id": 9, "alarm_id": alarm_id})
    assert (await answer_to(outside_ws, 9))["reason"] == "not_offered"
    # The winner's repeated claim (its answer lost) is the same success.
    await first_ws.send({"type": "claim", "id": 10, "alarm_id": alarm_id})
    again = await answer_to(first_ws, 10)
    assert again["type"] == "claimed"
    assert again["alarm"]["assignee"] == won["alarm"]["assignee"]
    stored = await live_server.platform.db.alarms.find_one({})
    assert stored["assignee"]["officer_id"] == first.user["id"]
    assert [h["status"] for h in stored["history"]].count("assigned") == 1
    await first_ws.send({"type": "claim", "id": 11})
    assert (await answer_to(first_ws, 11))["reason"] == "bad_message"
    for socket in (first_ws, second_ws, outside_ws):
        socket.close()


async def test_the_citizen_follows_the_officer_to_the_scene(live_server):
    await open_all_day(live_server)
    officer, officer_ws = await officer_online(live_server, 118.80, 32.075)
    person = await citizen(live_server)
    _, body = await raise_alarm(person)
    alarm_id = body["alarm"]["id"]
    watch = await person.websocket()
    await watch.send({"type": "subscribe", "id": 1, "topic": f"alarm:{alarm_id}"})
    await watch.receive_type("subscribed")
    await officer.post(f"/api/alarms/{alarm_id}/claim")
    status = await next_event(watch, "alarm.status")
    while status["status"] != "assigned":
        status = await next_event(watch, "alarm.status")
    first = status["officer"]["distance_m"]
    await officer.post(f"/api/alarms/{alarm_id}/progress", {"status": "en_route"})
    await officer_ws.send({"type": "position", "lon": 118.795, "lat": 32.072})
    moved = await next_event(watch, "officer.position")
    assert moved["distance_m"] < first and moved["eta_s"] > 0
    await officer.post(f"/api/alarms/{alarm_id}/progress", {"status": "arrived"})
    status, body = await person.post(f"/api/alarms/{alarm_id}/cancel")
    assert (status, body["reason"]) == (409, "bad_transition")
    status, body = await officer.post(
        f"/api/alarms/{alarm_id}/progress", {"status": "resolved"}
    )
    assert (status, body["reason"]) == (400, "note_required")
    status, _ = await officer.post(
        f"/api/alarms/{alarm_id}/progress",
        {"status": "resolved", "note": "Asked the neighbour to turn it down"},
    )
    assert status == 200
    status, body = await person.post(
        f"/api/alarms/{alarm_id}/rating", {"stars": 5, "comment": "Fast"}
    )
    assert status == 200 and body["alarm"]["rating"]["stars"] == 5
    status, body = await person.post(f"/api/alarms/{alarm_id}/rating", {"stars": 1})
    assert (status, body["reason"]) == (409, "already_rated")
    _, body = await person.get(f"/api/alarms/{alarm_id}")
    events = [e["event"] for e in body["alarm"]["timeline"]]
    assert events == ["sent", "claimed", "on_the_way", "arrived", "resolved"]
    duty = (await officer.get("/api/officer/state"))[1]["duty"]
    assert duty == "on"  # free again after resolving
    watch.close()
    officer_ws.close()


async def test_an_unclaimed_alarm_goes_to_the_command_room_with_its_station(
    live_server,
):
    await open_all_day(live_server, claim_window_s=1)
    db = live_server.platform.db
    await db.stations.insert_one(
        {
            "_id": "t1-lake",
            "tenant_id": "t1",
            "name": "Lake station",
            "zone": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [118.78, 32.06],
                        [118.80, 32.06],
                        [118.80, 32.08],
                        [118.78, 32.08],
                        [118.78, 32.06],
                    ]
                ],
            },
        }
    )
    commander = await live_server.signed_in(["commander"], "t1")
    feed = await commander.websocket()
    await feed.send({"type": "subscribe", "id": 1, "topic": "command:t1"})
    await feed.receive_type("subscribed")
    _, body = await raise_alarm(await citizen(live_server))
    escalated = await next_event(feed, "alarm.escalated")
    assert escalated["id"] == body["alarm"]["id"]
    assert escalated["suggested_station"] == {"id": "t1-lake", "name": "Lake station"}
    officer, officer_ws = await officer_online(live_server, 118.79, 32.07)
    _, suggested = await commander.get(f"/api/alarms/{escalated['id']}/suggestions")
    assert suggested["officers"][0]["id"] == officer.user["id"]
    status, _ = await commander.post(
        f"/api/alarms/{escalated['id']}/dispatch", {"officer_id": officer.user["id"]}
    )
    assert status == 200
    told = await next_event(officer_ws, "alarm.assigned")
    assert told["id"] == escalated["id"] and told["assignee"]["via"] == "dispatch"
    feed.close()
    officer_ws.close()


async def test_escalation_deadlines_survive_a_restart(live_server, config):
    from server.app import Platform

    await open_all_day(live_server, claim_window_s=2)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    # The platform goes down during the claim window ...
    await live_server.platform.timers.close()
    # ... and a new one starts on the same database.
    restarted = await Platform.start(config, config.database.uri)
    try:
        from bson import ObjectId

        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
        while dt.datetime.now(dt.UTC) < deadline:
            alarm = await restarted.db.alarms.find_one({"_id": ObjectId(alarm_id)})
            if alarm["status"] == "escalated":
                break
            await asyncio.sleep(0.1)
        assert alarm["status"] == "escalated"
        assert [h["status"] for h in alarm["history"]] == ["offering", "escalated"]
    finally:
        await restarted.close()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"lon": 200}, "bad_location"),
        ({"lat": -91}, "bad_location"),
        ({"lon": "east"}, "bad_location"),
        ({"category": "murder"}, "bad_category"),
        ({"description": "x" * 1001}, "bad_text"),
        ({"description": "bell\x07"}, "bad_text"),
        ({"lon": 10.0, "lat": 10.0}, "outside_territory"),
        ({"plate": "320102999999999"}, "unknown_plate"),
    ],
)
async def test_bad_alarms_are_refused_and_nothing_is_stored(
    live_server, fields, reason
):
    await open_all_day(live_server)
    status, body = await raise_alarm(await citizen(live_server), **fields)
    assert body["reason"] == reason and status in (400, 404)
    assert await live_server.platform.db.alarms.count_documents({}) == 0


async def test_nan_coordinates_are_refused(live_server):
    await open_all_day(live_server)
    person = await citizen(live_server)
    status, body, _ = await person.request(
        "POST",
        "/api/alarms",
        raw=b'{"category":"noise","lon":NaN,"lat":32.07}',
        headers={"Content-Type": "application/json"},
    )
    assert (status, body["reason"]) == (400, "bad_json")


async def test_alarms_outside_service_hours_point_to_110(live_server):
    await live_server.platform.db.tenants.update_one(
        {"_id": "t1"},
        {"$set": {"settings": {"service_hours": {"start": "00:00", "end": "00:00"}}}},
    )
    status, body = await raise_alarm(await citizen(live_server))
    assert (status, body["reason"]) == (400, "outside_hours")
    assert "110" in body["message"]
    _, service = await live_server.client().get(
        f"/api/service?lon={SCENE[0]}&lat={SCENE[1]}"
    )
    assert service["available"] is False and service["reason"] == "outside_hours"


async def test_a_retried_submission_creates_one_alarm(live_server):
    await open_all_day(live_server)
    person = await citizen(live_server)
    first = await raise_alarm(person, idempotency_key="k-123")
    again = await raise_alarm(person, idempotency_key="k-123")
    assert (first[0], again[0]) == (201, 200)
    assert first[1]["alarm"]["id"] == again[1]["alarm"]["id"]
    assert await live_server.platform.db.alarms.count_documents({}) == 1


async def test_too_many_alarms_from_one_device_are_refused(live_server):
    await open_all_day(live_server)
    person = await citizen(live_server)
    limit = live_server.platform.config.security.alarms_per_device_hour
    for _ in range(limit):
        assert (await raise_alarm(person))[0] == 201
    status, body = await raise_alarm(person)
    assert (status, body["reason"]) == (429, "too_many_alarms")


async def test_a_plate_code_gives_the_standard_address(live_server):
    await open_all_day(live_server)
    await live_server.platform.db.plates.insert_one(
        {
            "_id": "3201020000001",
            "tenant_id": "t1",
            "address": "南京市玄武区北京东路41号",
            "location": {"type": "Point", "coordinates": [118.791, 32.066]},
        }
    )
    client = live_server.client()
    status, body = await client.get("/api/plates/3201020000001")
    assert status == 200 and body["plate"]["address"] == "南京市玄武区北京东路41号"
    assert body["service"]["available"] is True
    assert (await client.get("/api/plates/nope"))[0] == 404
    status, body = await raise_alarm(
        await citizen(live_server), plate="3201020000001", lon=None, lat=None
    )
    assert status == 201
    assert body["alarm"]["address"] == "南京市玄武区北京东路41号"
    assert body["alarm"]["location"]["coordinates"] == [118.791, 32.066]


async def test_others_cannot_see_or_follow_an_alarm(live_server):
    await open_all_day(live_server)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    stranger = await citizen(live_server)
    assert (await stranger.get(f"/api/alarms/{alarm_id}"))[0] == 404
    other_tenant = await live_server.signed_in(["commander"], "t2")
    assert (await other_tenant.get(f"/api/alarms/{alarm_id}"))[0] == 404
    socket = await stranger.websocket()
    await socket.send({"type": "subscribe", "id": 1, "topic": f"alarm:{alarm_id}"})
    refused = await socket.receive_type("error")
    assert refused["reason"] == "topic_refused"
    socket.close()
    own_commander = await live_server.signed_in(["commander"], "t1")
    assert (await own_commander.get(f"/api/alarms/{alarm_id}"))[0] == 200


async def test_open_alarms_as_geojson(live_server):
    await open_all_day(live_server)
    _, body = await raise_alarm(await citizen(live_server))
    staff = await live_server.signed_in(["commander"], "t1")
    status, collection = await staff.get("/api/alarms.geojson")
    assert status == 200 and collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["id"] == body["alarm"]["id"]
    assert feature["geometry"]["coordinates"] == list(SCENE)
    citizen_client = await citizen(live_server)
    assert (await citizen_client.get("/api/alarms.geojson"))[0] == 403


async def test_the_search_widens_when_nobody_is_near(live_server):
    await open_all_day(live_server)
    # About 2.8 km east of the scene: outside the first 2 km round.
    _, socket = await officer_online(live_server, 118.82, 32.07)
    _, body = await raise_alarm(await citizen(live_server))
    offer = await next_event(socket, "offer.new")
    assert offer["alarm_id"] == body["alarm"]["id"]
    assert 2000 < offer["distance_m"] <= 3000
    stored = await live_server.platform.db.alarms.find_one({})
    assert stored["offer"] == {"round": 2, "radius_m": 3000}
    socket.close()


async def test_two_rounds_at_once_offer_each_officer_once(live_server):
    await open_all_day(live_server)
    _, first_ws = await officer_online(live_server, 118.791, 32.071)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = ObjectId(body["alarm"]["id"])
    await next_event(first_ws, "offer.new")
    # A second officer arrives; two next rounds start at once (a timer here,
    # another process's sweep there): only one of them offers.
    _, late_ws = await officer_online(live_server, 118.792, 32.071)
    dispatcher = live_server.platform.dispatcher
    counts = await asyncio.gather(
        dispatcher.offer_round(alarm_id), dispatcher.offer_round(alarm_id)
    )
    assert sorted(counts) == [0, 1]
    stored = await live_server.platform.db.alarms.find_one({"_id": alarm_id})
    assert len(stored["offered"]) == len(set(stored["offered"])) == 2
    assert stored["offer"]["round"] == 2
    await next_event(late_ws, "offer.new")
    first_ws.close()
    late_ws.close()


async def test_offers_are_recorded_for_the_assessment(live_server):
    await open_all_day(live_server)
    seen_by, seen_ws = await officer_online(live_server, 118.791, 32.071)
    passing, passing_ws = await officer_online(live_server, 118.792, 32.071)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    for socket in (seen_ws, passing_ws):
        await next_event(socket, "offer.new")
    await seen_ws.send({"type": "offer.ack", "alarm_id": alarm_id, "seen": True})
    await seen_ws.send({"type": "ping", "id": 1})
    await seen_ws.receive_type("pong")
    status, _ = await passing.post(
        f"/api/alarms/{alarm_id}/decline", {"reason": "already at another scene"}
    )
    assert status == 200
    await seen_by.post(f"/api/alarms/{alarm_id}/claim")
    offers = {o["officer_id"]: o async for o in live_server.platform.db.offers.find({})}
    won = offers[seen_by.user["id"]]
    assert won["outcome"] == "claimed" and won["seen_at"] and won["delivered_at"]
    declined = offers[passing.user["id"]]
    assert declined["outcome"] == "declined"
    assert declined["decline_reason"] == "already at another scene"
    seen_ws.close()
    passing_ws.close()


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "TattleCam"  # camera make
    exif[0x8825] = {1: "N", 2: (32.0, 4.0, 12.0)}  # a GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


async def test_photos_are_stored_without_exif_and_shown_only_to_those_allowed(
    live_server,
):
    await open_all_day(live_server)
    person = await citizen(live_server)
    original = _jpeg_with_gps()
    assert b"TattleCam" in original
    headers, body = multipart(
        {"category": "lost_item", "lon": "118.79", "lat": "32.07"},
        [("photos", "wallet.jpg", original)],
    )
    status, answer, _ = await person.request(
        "POST", "/api/alarms", headers=headers, raw=body
    )
    assert status == 201, answer
    (url,) = answer["alarm"]["photos"]
    status, _, response = await person.request("GET", url)
    assert status == 200 and response.headers["Content-Type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(response.body))
    assert stored.size == (64, 48)
    assert b"TattleCam" not in response.body and not stored.getexif()
    commander = await live_server.signed_in(["commander"], "t1")
    assert (await commander.request("GET", url))[0] == 200
    stranger = await citizen(live_server)
    assert (await stranger.request("GET", url))[0] == 404
    outsider = await live_server.signed_in(["commander"], "t2")
    assert (await outsider.request("GET", url))[0] == 404


async def test_a_non_image_is_refused_and_nothing_is_stored(live_server):
    await open_all_day(live_server)
    headers, body = multipart(
        {"category": "lost_item", "lon": "118.79", "lat": "32.07"},
        [("photos", "wallet.jpg", b"#!/bin/sh\necho not a photo\n")],
    )
    status, answer, _ = await (await citizen(live_server)).request(
        "POST", "/api/alarms", headers=headers, raw=body
    )
    assert (status, answer["reason"]) == (400, "not_an_image")
    db = live_server.platform.db
    assert await db.alarms.count_documents({}) == 0
    assert await db["media.files"].count_documents({}) == 0


async def test_a_declined_offer_is_not_offered_again_after_a_reload(live_server):
    await open_all_day(live_server)
    officer, socket = await officer_online(live_server, 118.791, 32.071)
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    assert body["alarm"]["officers_notified"] == 1
    (offer,) = (await officer.get("/api/officer/state"))[1]["offers"]
    assert offer["alarm_id"] == alarm_id
    await officer.post(f"/api/alarms/{alarm_id}/decline", {"reason": "off shift"})
    assert (await officer.get("/api/officer/state"))[1]["offers"] == []
    socket.close()


async def test_the_timeline_names_the_dispatched_officer_not_the_commander(
    live_server,
):
    await open_all_day(live_server, claim_window_s=1)
    person = await citizen(live_server)
    _, body = await raise_alarm(person)
    alarm_id = body["alarm"]["id"]
    commander = await live_server.signed_in(["commander"], "t1")
    officer, socket = await officer_online(live_server, 118.79, 32.07)
    for _ in range(100):
        if (await person.get(f"/api/alarms/{alarm_id}"))[1]["alarm"][
            "status"
        ] == "escalated":
            break
        await asyncio.sleep(0.1)
    status, _ = await commander.post(
        f"/api/alarms/{alarm_id}/dispatch", {"officer_id": officer.user["id"]}
    )
    assert status == 200
    _, body = await person.get(f"/api/alarms/{alarm_id}")
    claimed = [e for e in body["alarm"]["timeline"] if e["event"] == "claimed"]
    assert [e["officer"] for e in claimed] == [officer.user["name"]]
    socket.close()


async def test_duty_changes_reach_the_officer_and_the_command_room(live_server):
    await open_all_day(live_server)
    officer, socket = await officer_online(live_server, 118.791, 32.071)
    commander = await live_server.signed_in(["commander"], "t1")
    feed = await commander.websocket()
    await feed.send({"type": "subscribe", "id": 1, "topic": "command:t1"})
    await feed.receive_type("subscribed")
    _, body = await raise_alarm(await citizen(live_server))
    await next_event(socket, "offer.new")
    await officer.post(f"/api/alarms/{body['alarm']['id']}/claim")
    assert (await next_event(socket, "duty.changed")) == {"duty": "busy"}
    while True:
        moved = await next_event(feed, "officers.moved")
        mine = [o for o in moved["officers"] if o["id"] == officer.user["id"]]
        if mine and mine[0].get("duty") == "busy":
            break


async def test_an_officer_whose_app_closed_is_found_by_the_stored_position(
    live_server,
):
    """Closing the app marks the officer away (at the next batch write), so
    the next alarm finds them in the database; reopening it clears the mark
    and presence finds them again."""
    await open_all_day(live_server)
    platform = live_server.platform
    officer, socket = await officer_online(live_server, SCENE[0], SCENE[1])
    officer_id = ObjectId(officer.user["id"])
    await platform.officers.positions.flush(everything=True)
    assert "away_at" not in await platform.db.users.find_one({"_id": officer_id})

    socket.close()
    await until(lambda: not platform.presence.is_connected(officer.user["id"]))
    await platform.officers.positions.flush()
    stored = await platform.db.users.find_one({"_id": officer_id})
    assert stored["away_at"] is not None
    assert stored["position"]["coordinates"] == list(SCENE)
    status, body = await raise_alarm(await citizen(live_server))
    assert status == 201, body
    offer = await platform.db.offers.find_one({"officer_id": officer.user["id"]})
    assert offer is not None and offer["channel"] == "stored"

    again = await officer.websocket()
    await again.receive_type("welcome")
    await platform.officers.positions.flush()
    assert "away_at" not in await platform.db.users.find_one({"_id": officer_id})
    again.close()

"""Emergency musters over HTTP, the websocket and web push (server/musters.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
import xmlschema
from bson import ObjectId

from server import musters, push
from tests.helpers import Socket
from tests.pushservice import TestPushService
from tests.test_alarms import citizen, next_event, officer_online

SCHEMA = Path(__file__).parent / "data" / "cap" / "CAP-v1.2.xsd"
SUBJECT = "mailto:ops@example.org"
# The muster point, inside tenant t1's territory (tests/conftest.py).
PLACE = (118.79, 32.07)
NEAR = (118.791, 32.071)  # about 140 m from PLACE
FAR = (118.79, 32.09)  # about 2.2 km north of PLACE
WIDER = (118.79, 32.082)  # about 1.3 km north of PLACE
IN_T2 = (118.83, 32.07)  # inside tenant t2's territory
NOWHERE = (118.5, 32.5)  # inside no tenant's territory


@pytest.fixture
def config(config):
    # The test push service listens on http://127.0.0.1: allowed here only.
    return config.replace(push={"subject": SUBJECT, "allow_private_endpoints": True})


@pytest.fixture
async def push_service(platform):
    service = await TestPushService(platform.push.keys.public_key).start()
    yield service
    await service.stop()


def point(lon_lat) -> dict:
    return {"type": "Point", "coordinates": list(lon_lat)}


async def add_station(live_server, station_id, lon_lat, tenant_id="t1") -> None:
    await live_server.platform.db.stations.insert_one(
        {
            "_id": station_id,
            "tenant_id": tenant_id,
            "name": f"Station {station_id}",
            "location": point(lon_lat),
        }
    )


async def officer_account(live_server, tenant_id="t1", **fields):
    """An officer who is not signed in anywhere; returns (client, user id).

    ``position`` stands for the last position shared while on duty (the only
    time the platform stores one).
    """
    client = await live_server.signed_in(["officer"], tenant_id, **fields)
    return client, client.user["id"]


async def officer_record(live_server, tenant_id="t1", **fields) -> str:
    """An officer account nobody signs in to (a disabled one, say); its id."""
    username, _ = await live_server.create_user(["officer"], tenant_id, **fields)
    user = await live_server.platform.db.users.find_one({"username": username})
    return str(user["_id"])


async def listening(client) -> Socket:
    """A socket following the client's own topic."""
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send(
        {"type": "subscribe", "id": 1, "topic": f"user:{client.user['id']}"}
    )
    await socket.receive_type("subscribed")
    return socket


async def events_until_pong(socket: Socket) -> list[str]:
    """Names of the events queued before a ping's answer (what has arrived)."""
    await socket.send({"type": "ping", "id": "sync"})
    names = []
    async with asyncio.timeout(10):
        while True:
            message = await socket.receive()
            if message["type"] == "pong":
                return names
            if message["type"] == "event":
                names.append(message["event"])


async def start(commander, place=PLACE, **fields):
    body = {
        "lon": place[0],
        "lat": place[1],
        "radius_m": 1000,
        "message": "Crowd crush at the east gate: come to the lake gate now",
        "needed": 4,
        **fields,
    }
    return await commander.post("/api/musters", body)


async def started(commander, **fields) -> dict:
    status, body = await start(commander, **fields)
    assert status == 201, body
    return body["muster"]


def roll_ids(muster: dict) -> set[str]:
    return {entry["officer_id"] for entry in muster["roll"]}


async def board_socket(commander, muster_id) -> Socket:
    socket = await commander.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": 1, "topic": f"muster:{muster_id}"})
    answer = await socket.receive_type("subscribed")
    assert answer["topic"] == f"muster:{muster_id}"
    return socket


# -- who is alerted ------------------------------------------------------------


async def test_a_muster_alerts_everyone_in_the_radius_on_or_off_duty_and_no_one_else(
    live_server,
):
    await add_station(live_server, "near-station", NEAR)
    await add_station(live_server, "far-station", FAR)
    on_near, on_near_ws = await officer_online(live_server, *NEAR)
    on_far, on_far_ws = await officer_online(live_server, *FAR)
    # Off duty, last seen nearby while on duty: included by that position.
    off_seen, off_seen_id = await officer_account(
        live_server, duty="off", position=point(NEAR), station_id="far-station"
    )
    off_seen_ws = await listening(off_seen)
    # Off duty, never shared a position, home station nearby: not by default.
    _, off_station_id = await officer_account(
        live_server, duty="off", station_id="near-station"
    )
    # Never shared a position and has no station: nothing to go by.
    _, nowhere_id = await officer_account(live_server, duty="off")
    # On duty but not connected: the last shared position counts.
    _, absent_id = await officer_account(live_server, duty="on", position=point(NEAR))
    # Another agency's officer at the very spot, and a disabled account.
    _, foreign_id = await officer_account(
        live_server, "t2", duty="on", position=point(NEAR)
    )
    disabled_id = await officer_record(
        live_server, duty="on", position=point(NEAR), disabled=True
    )
    commander = await live_server.signed_in(["commander"], name="Commander Zhao")

    muster = await started(commander, address="玄武门")
    assert roll_ids(muster) == {on_near.user["id"], off_seen_id, absent_id}
    assert not roll_ids(muster) & {
        on_far.user["id"],
        off_station_id,
        nowhere_id,
        foreign_id,
        disabled_id,
    }
    assert muster["off_duty_rule"] == "last_position"
    assert muster["counts"] == {
        "alerted": 3,
        "coming": 0,
        "cannot": 0,
        "pending": 3,
        "needed": 4,
        "short": 4,
    }
    by_id = {e["officer_id"]: e for e in muster["roll"]}
    assert by_id[off_seen_id]["duty"] == "off"
    assert by_id[off_seen_id]["basis"] == "position"
    assert by_id[on_near.user["id"]]["connected"] is True
    assert by_id[absent_id]["connected"] is False
    assert 100 < by_id[off_seen_id]["distance_m"] < 200

    # Connected officers hear it at once, on duty or off.
    for socket in (on_near_ws, off_seen_ws):
        alert = await next_event(socket, "muster.alert")
        assert alert["id"] == muster["id"]
        assert alert["message"].startswith("Crowd crush")
        assert alert["address"] == "玄武门"
        assert alert["needed"] == 4 and alert["reminder"] is False
        assert alert["answer"] is None and 100 < alert["distance_m"] < 200
    assert "muster.alert" not in await events_until_pong(on_far_ws)

    # The officer's desk lists it; an officer who was not alerted sees nothing.
    status, body = await on_near.get("/api/officer/musters")
    assert status == 200 and [m["id"] for m in body["musters"]] == [muster["id"]]
    status, body = await on_far.get("/api/officer/musters")
    assert (status, body) == (200, {"musters": []})
    status, body = await on_far.get(f"/api/musters/{muster['id']}")
    assert status == 404 and body["reason"] == "not_found"


async def test_with_the_home_station_rule_off_duty_officers_count_by_their_station(
    live_server,
):
    db = live_server.platform.db
    await db.tenants.update_one(
        {"_id": "t1"}, {"$set": {"settings.muster_off_duty": "home_station"}}
    )
    await add_station(live_server, "near-station", NEAR)
    await add_station(live_server, "far-station", FAR)
    _, by_station = await officer_account(
        live_server, duty="off", station_id="near-station"
    )
    # Last seen nearby, but the agency goes by stations: not included.
    _, seen_near = await officer_account(
        live_server, duty="off", position=point(NEAR), station_id="far-station"
    )
    _, nothing = await officer_account(live_server, duty="off")
    # On duty officers still count by where they are.
    _, on_duty = await officer_account(
        live_server, duty="on", position=point(NEAR), station_id="far-station"
    )
    commander = await live_server.signed_in(["commander"])

    muster = await started(commander)
    assert muster["off_duty_rule"] == "home_station"
    assert roll_ids(muster) == {by_station, on_duty}
    entry = next(e for e in muster["roll"] if e["officer_id"] == by_station)
    assert (entry["basis"], entry["duty"]) == ("station", "off")
    assert seen_near not in roll_ids(muster) and nothing not in roll_ids(muster)


# -- bad input -----------------------------------------------------------------


def _in(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"message": None}, "message_required"),
        ({"message": "   "}, "message_required"),
        ({"message": "x" * 501}, "bad_message"),
        ({"message": 42}, "bad_message"),
        ({"needed": 0}, "bad_needed"),
        ({"needed": -3}, "bad_needed"),
        ({"needed": 2.5}, "bad_needed"),
        ({"needed": "4"}, "bad_needed"),
        ({"needed": None}, "bad_needed"),
        ({"needed": 1001}, "bad_needed"),
        ({"radius_m": 0}, "bad_radius"),
        ({"radius_m": -500}, "bad_radius"),
        ({"radius_m": 20001}, "radius_too_large"),
        ({"radius_m": True}, "bad_radius"),
        ({"lon": None}, "bad_location"),
        ({"lat": 95}, "bad_location"),
        ({"ends_at": _in(-5)}, "ends_before_start"),
        ({"ends_at": "2020-01-01T00:00:00+08:00"}, "ends_before_start"),
        ({"ends_at": _in(25 * 60)}, "muster_too_long"),
        ({"ends_at": "2099-01-01T10:00:00"}, "bad_ends_at"),  # no time zone
        ({"ends_at": "tomorrow"}, "bad_ends_at"),
    ],
)
async def test_bad_input_is_refused_with_a_reason_and_nothing_is_stored(
    live_server, fields, reason
):
    commander = await live_server.signed_in(["commander"])
    status, body = await start(commander, **fields)
    assert (status, body["reason"]) == (400, reason), body
    assert body["message"]
    assert await live_server.platform.db.musters.count_documents({}) == 0


@pytest.mark.parametrize("place", [IN_T2, NOWHERE])
async def test_a_place_outside_the_agency_territory_is_refused(live_server, place):
    commander = await live_server.signed_in(["commander"])
    status, body = await start(commander, place=place)
    assert (status, body["reason"]) == (400, "place_outside_territory")
    assert await live_server.platform.db.musters.count_documents({}) == 0


# -- access --------------------------------------------------------------------


async def test_only_the_command_room_starts_musters_and_other_agencies_see_nothing(
    live_server,
):
    officer, officer_id = await officer_account(
        live_server, duty="on", position=point(NEAR)
    )
    status, body = await start(officer)
    assert (status, body["reason"]) == (403, "role")
    status, body = await start(await citizen(live_server))
    assert status == 403
    status, body = await live_server.client().post("/api/musters", {})
    assert status == 401
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    path = f"/api/musters/{muster['id']}"

    other = await live_server.signed_in(["commander"], "t2")
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/cap", None),
        ("POST", "/widen", {"radius_m": 5000}),
        ("POST", "/remind", {}),
        ("POST", "/end", {}),
    ]:
        status, answer, _ = await other.request(method, path + suffix, body=body)
        assert (status, answer["reason"]) == (404, "not_found"), suffix
    status, answer = await other.get("/api/musters")
    assert (status, answer) == (200, {"musters": []})
    # Nor can they follow its roll call.
    socket = await other.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": 1, "topic": f"muster:{muster['id']}"})
    refused = await socket.receive_type("error")
    assert refused["reason"] == "topic_refused"

    # An officer answers, but commands nothing and sees no board.
    for suffix in ("/widen", "/remind", "/end"):
        status, answer = await officer.post(path + suffix, {"radius_m": 5000})
        assert (status, answer["reason"]) == (403, "role"), suffix
    status, answer = await officer.get(path + "/cap")
    assert status == 403
    status, answer = await officer.get(path)
    assert status == 200 and "roll" not in answer["muster"]
    assert answer["muster"]["id"] == muster["id"]
    status, answer = await officer.get("/api/musters")
    assert status == 403
    # Officers of another agency, and malformed ids, find nothing to answer.
    stranger, _ = await officer_account(live_server, "t2", duty="on")
    status, answer = await stranger.post(path + "/answer", {"answer": "coming"})
    assert (status, answer["reason"]) == (404, "not_found")
    status, answer = await officer.post(
        "/api/musters/nonsense/answer", {"answer": "coming"}
    )
    assert status == 404
    assert officer_id in roll_ids(muster)


# -- answers, widening, reminders, the end -------------------------------------


async def test_answers_reach_the_board_live_and_a_second_answer_replaces_the_first(
    live_server,
):
    officer, officer_ws = await officer_online(live_server, *NEAR)
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    board = await board_socket(commander, muster["id"])
    path = f"/api/musters/{muster['id']}/answer"

    status, body = await officer.post(path, {"answer": "maybe"})
    assert (status, body["reason"]) == (400, "bad_muster_answer")
    status, body = await officer.post(path, {"answer": "coming"})
    assert status == 200, body
    mine = body["muster"]
    assert mine["answer"] == "coming"
    # ETA: the straight line at the assumed urban speed.
    assert mine["eta_s"] == round(mine["distance_m"] / musters.ETA_SPEED_M_S)
    update = await next_event(board, "muster.updated")
    assert update["muster"]["counts"]["coming"] == 1
    [changed] = update["changed"]
    assert changed["officer_id"] == officer.user["id"]
    assert changed["answer"] == "coming" and changed["eta_s"] == mine["eta_s"]
    # The officer's other devices hear the answer too.
    assert (await next_event(officer_ws, "muster.answered"))["answer"] == "coming"

    # From farther away (given with the answer), then changing their mind.
    status, body = await officer.post(
        path, {"answer": "coming", "lon": FAR[0], "lat": FAR[1]}
    )
    assert status == 200 and 2000 < body["muster"]["distance_m"] < 2400
    status, body = await officer.post(path, {"answer": "cannot"})
    assert status == 200
    assert body["muster"]["answer"] == "cannot" and body["muster"]["eta_s"] is None
    status, body = await commander.get(f"/api/musters/{muster['id']}")
    counts = body["muster"]["counts"]
    assert (counts["coming"], counts["cannot"], counts["pending"]) == (0, 1, 0)
    [entry] = body["muster"]["roll"]
    assert entry["answer"] == "cannot"


async def test_widening_alerts_only_the_officers_newly_inside(live_server):
    near, near_ws = await officer_online(live_server, *NEAR)
    wider, wider_ws = await officer_online(live_server, *WIDER)
    _, far_ws = await officer_online(live_server, *FAR)
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    assert roll_ids(muster) == {near.user["id"]}
    await next_event(near_ws, "muster.alert")
    path = f"/api/musters/{muster['id']}/widen"

    status, body = await commander.post(path, {"radius_m": 1000})
    assert (status, body["reason"]) == (400, "not_wider")
    status, body = await commander.post(path, {"radius_m": 25000})
    assert (status, body["reason"]) == (400, "radius_too_large")
    status, body = await commander.post(path, {"radius_m": 1500})
    assert status == 200, body
    assert body["muster"]["radius_m"] == 1500
    assert roll_ids(body["muster"]) == {near.user["id"], wider.user["id"]}
    alert = await next_event(wider_ws, "muster.alert")
    assert alert["id"] == muster["id"] and 1200 < alert["distance_m"] < 1500
    assert "muster.alert" not in await events_until_pong(near_ws)
    assert "muster.alert" not in await events_until_pong(far_ws)


async def test_a_reminder_rings_again_only_for_those_who_have_not_answered(
    live_server,
):
    answered, answered_ws = await officer_online(live_server, *NEAR)
    _, silent_ws = await officer_online(live_server, *NEAR)
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    for socket in (answered_ws, silent_ws):
        await next_event(socket, "muster.alert")
    await answered.post(f"/api/musters/{muster['id']}/answer", {"answer": "coming"})

    status, body = await commander.post(f"/api/musters/{muster['id']}/remind")
    assert status == 200, body
    assert body["reminded"] == 1 and body["muster"]["reminders"] == 1
    again = await next_event(silent_ws, "muster.alert")
    assert again["reminder"] is True and again["id"] == muster["id"]
    assert "muster.alert" not in await events_until_pong(answered_ws)
    # A second click straight after is refused rather than ringing twice.
    status, body = await commander.post(f"/api/musters/{muster['id']}/remind")
    assert (status, body["reason"]) == (409, "remind_too_soon")


async def test_ending_tells_everyone_alerted_and_refuses_later_answers(live_server):
    coming, coming_ws = await officer_online(live_server, *NEAR)
    silent, silent_ws = await officer_online(live_server, *NEAR)
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    path = f"/api/musters/{muster['id']}"
    await coming.post(path + "/answer", {"answer": "coming"})

    status, body = await commander.post(path + "/end", {"note": "Situation contained"})
    assert status == 200, body
    assert body["muster"]["status"] == "ended"
    assert body["muster"]["end_reason"] == "ended"
    for socket in (coming_ws, silent_ws):
        ended = await next_event(socket, "muster.ended")
        assert ended == {
            "muster_id": muster["id"],
            "end_note": "Situation contained",
            "end_reason": "ended",
        }
    for officer in (coming, silent):
        status, body = await officer.post(path + "/answer", {"answer": "coming"})
        assert (status, body["reason"]) == (409, "muster_ended")
        assert body["message"] == "This muster has ended."
        status, body = await officer.get("/api/officer/musters")
        assert body == {"musters": []}
    for suffix, body in [("/end", {}), ("/widen", {"radius_m": 5000}), ("/remind", {})]:
        status, answer = await commander.post(path + suffix, body)
        assert (status, answer["reason"]) == (409, "muster_ended"), suffix
    _, body = await commander.get(path)
    assert body["muster"]["counts"]["coming"] == 1  # the roll call stays


async def test_a_muster_ends_by_itself_at_its_end_time_and_after_a_restart(
    live_server,
):
    officer, officer_ws = await officer_online(live_server, *NEAR)
    commander = await live_server.signed_in(["commander"])
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)).isoformat()
    muster = await started(commander, ends_at=soon)
    ended = await next_event(officer_ws, "muster.ended")
    assert ended["end_reason"] == "expired"
    status, body = await officer.post(
        f"/api/musters/{muster['id']}/answer", {"answer": "coming"}
    )
    assert (status, body["reason"]) == (409, "muster_ended")

    # A muster whose timer was lost (a restart) is ended by the re-armed clock.
    platform = live_server.platform
    lost = await started(commander)
    platform.timers.cancel(f"muster:{lost['id']}")
    await platform.db.musters.update_one(
        {"_id": ObjectId(lost["id"])},
        {"$set": {"ends_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}},
    )
    assert await platform.musters.rearm() == 1
    ended = await next_event(officer_ws, "muster.ended")
    assert ended["muster_id"] == lost["id"]
    _, body = await commander.get(f"/api/musters/{lost['id']}")
    assert body["muster"]["status"] == "ended"


async def test_the_command_room_list_and_feed_carry_running_musters(live_server):
    commander = await live_server.signed_in(["commander"])
    feed = await commander.websocket()
    await feed.receive_type("welcome")
    await feed.send({"type": "subscribe", "id": 1, "topic": "command:t1"})
    await feed.receive_type("subscribed")
    first = await started(commander, message="First")
    assert (await next_event(feed, "muster.started"))["id"] == first["id"]
    second = await started(commander, message="Second")
    await commander.post(f"/api/musters/{first['id']}/end", {})
    assert (await next_event(feed, "muster.ended"))["id"] == first["id"]
    _, body = await commander.get("/api/musters")
    assert [m["id"] for m in body["musters"]] == [second["id"], first["id"]]
    _, body = await commander.get("/api/musters?status=active")
    assert [m["id"] for m in body["musters"]] == [second["id"]]


# -- web push ------------------------------------------------------------------


async def test_the_alert_and_its_end_reach_an_off_duty_officer_by_push(
    live_server, push_service, caplog
):
    caplog.set_level(logging.INFO, logger="server")
    officer, _ = await officer_account(live_server, duty="off", position=point(NEAR))
    sub = push_service.subscription()
    status, _ = await officer.post("/api/push/subscriptions", sub.browser_json())
    assert status == 201
    commander = await live_server.signed_in(["commander"])
    muster = await started(commander, address="玄武门")
    await push_service.wait_for(lambda: push_service.received(sub, 201))
    [alert] = push_service.received(sub)
    assert alert.payload["type"] == "muster"
    assert alert.payload["muster_id"] == muster["id"]
    assert alert.payload["tag"] == f"muster-{muster['id']}"
    assert alert.payload["message"].startswith("Crowd crush")
    assert alert.payload["address"] == "玄武门"
    assert 100 < alert.payload["distance_m"] < 200
    assert alert.payload["needed"] == 4
    assert alert.headers["Urgency"] == "high"
    assert alert.headers["Topic"] == push.muster_topic(muster["id"])
    # Until the muster's end, two hours away by default.
    assert 7100 <= int(alert.headers["TTL"]) <= 7200

    await commander.post(f"/api/musters/{muster['id']}/remind")
    await push_service.wait_for(lambda: len(push_service.received(sub, 201)) == 2)
    assert push_service.received(sub)[1].payload["reminder"] is True

    await commander.post(f"/api/musters/{muster['id']}/end", {})
    await push_service.wait_for(lambda: len(push_service.received(sub, 201)) == 3)
    ended = push_service.received(sub)[2]
    assert ended.payload["type"] == "muster.ended"
    assert ended.payload["tag"] == alert.payload["tag"]  # replaces the alert
    assert ended.headers["Topic"] == alert.headers["Topic"]
    assert ended.headers["Urgency"] == "normal"
    assert push_service.problems == []
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"muster {muster['id']}: muster pushed to 1 of 1 officers" in logged
    assert sub.endpoint not in logged


# -- CAP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cap_schema():
    return xmlschema.XMLSchema(str(SCHEMA))


async def test_the_cap_export_is_valid_cap_1_2_while_running_and_once_ended(
    live_server, cap_schema
):
    officer, _ = await officer_account(live_server, duty="on", position=point(NEAR))
    commander = await live_server.signed_in(["commander"], name="Commander <Zhao> & Co")
    message = 'Gate "B" & <east> stand: all units\nbring shields'
    muster = await started(commander, message=message, address="玄武门 & 湖")
    await officer.post(f"/api/musters/{muster['id']}/answer", {"answer": "coming"})
    status, _, response = await commander.request(
        "GET", f"/api/musters/{muster['id']}/cap"
    )
    assert status == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    document = response.body
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    cap_schema.validate(document)  # raises with the reason if invalid
    alert = cap_schema.to_dict(document)
    assert alert["msgType"] == "Alert" and alert["scope"] == "Restricted"
    assert alert["identifier"] == f"jingdi-muster-{muster['id']}"
    assert alert["sent"].endswith("+08:00")  # the agency's time zone
    [info] = alert["info"]
    assert info["description"] == message  # escaped on the way, intact after
    assert info["language"] == "zh-CN" and info["urgency"] == "Immediate"
    assert info["senderName"] == "Tenant t1"
    params = {p["valueName"]: p["value"] for p in info["parameter"]}
    assert (params["NEEDED"], params["COMING"], params["ALERTED"]) == ("4", "1", "1")
    [area] = info["area"]
    assert area["areaDesc"] == "玄武门 & 湖"
    assert area["circle"] == ["32.070000,118.790000 1"]
    assert alert["source"] == "Commander <Zhao> & Co"

    await commander.post(f"/api/musters/{muster['id']}/end", {"note": "Over & done"})
    _, _, response = await commander.request(
        "GET", f"/api/musters/{muster['id']}/cap?lang=en"
    )
    cap_schema.validate(response.body)
    cancel = cap_schema.to_dict(response.body)
    assert cancel["msgType"] == "Cancel" and cancel["note"] == "Over & done"
    assert cancel["references"] == (
        f"jingdi:t1,jingdi-muster-{muster['id']},{alert['sent']}"
    )
    assert cancel["info"][0]["language"] == "en-US"
    assert cancel["info"][0]["responseType"] == ["AllClear"]


def test_the_schema_refuses_what_cap_forbids(cap_schema):
    """The test's schema is strict: a Z time or an unknown status fails."""
    good = (
        "<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'>"
        "<identifier>x</identifier><sender>s</sender>"
        "<sent>2026-01-02T10:00:00+08:00</sent><status>Actual</status>"
        "<msgType>Alert</msgType><scope>Public</scope></alert>"
    )
    cap_schema.validate(good)
    for bad in (
        good.replace("+08:00", "Z"),
        good.replace("Actual", "Real"),
        good.replace("<scope>Public</scope>", ""),
    ):
        assert not cap_schema.is_valid(bad)

"""The task board and specialties over HTTP: capacity, waiting list, roster."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io

import pytest

from tests.helpers import ApiClient

PLACE = {"type": "Point", "coordinates": [118.79, 32.07]}  # inside tenant t1
TIMEOUT = 10


def iso(delta: dt.timedelta) -> str:
    at = dt.datetime.now(dt.UTC) + delta
    return at.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def task_body(**changes) -> dict:
    body = {
        "title": "Marathon crowd control",
        "description": "Keep the route clear between km 10 and 15",
        "place": PLACE,
        "place_name": "Xuanwu Lake gate",
        "starts_at": iso(dt.timedelta(days=2)),
        "ends_at": iso(dt.timedelta(days=2, hours=6)),
        "signup_deadline": iso(dt.timedelta(days=1)),
        "needed": 3,
        "skills": ["crowd_control"],
        "confirm": "auto",
    }
    body.update(changes)
    return body


async def publish(client: ApiClient, **changes) -> dict:
    status, body = await client.post("/api/tasks", task_body(**changes))
    assert status == 201, body
    return body["task"]


async def officers(live_server, count: int, **fields) -> list[ApiClient]:
    return [await live_server.signed_in(["officer"], **fields) for _ in range(count)]


async def sign_up(officer: ApiClient, task_id: str) -> dict:
    status, body = await officer.post(f"/api/tasks/{task_id}/signup")
    assert status == 200, body
    return body["task"]


async def test_a_task_fills_up_then_the_waiting_list_moves_up(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander)
    assert (task["needed"], task["held"], task["roster"]) == (3, 0, [])
    crew = await officers(live_server, 4)
    states = [(await sign_up(o, task["id"]))["mine"]["state"] for o in crew]
    assert states == ["confirmed", "confirmed", "confirmed", "waiting"]
    last = await sign_up(crew[3], task["id"])  # pressing again changes nothing
    assert (last["held"], last["waiting"], last["mine"]["position"]) == (3, 1, 1)
    # Officers see figures and their own sign-up, never the roster.
    assert "roster" not in last
    # One withdraws: the waiting officer takes the place, and hears of it.
    socket = await crew[3].websocket()
    await socket.send({"type": "subscribe", "topic": f"user:{crew[3].user['id']}"})
    status, body = await crew[0].post(f"/api/tasks/{task['id']}/withdraw")
    assert status == 200, body
    assert body["task"]["mine"]["state"] == "withdrawn"
    news = await _event(socket, "task.updated")
    assert news["payload"]["change"] == "promoted"
    assert news["payload"]["task"]["mine"]["state"] == "confirmed"
    status, body = await commander.get(f"/api/tasks/{task['id']}")
    roster = body["task"]["roster"]
    assert [e["state"] for e in roster] == [
        "confirmed",
        "confirmed",
        "confirmed",
        "withdrawn",
    ]
    assert body["task"]["held"] == 3
    assert roster[2]["officer_id"] == crew[3].user["id"]
    # Withdrawing twice is refused plainly.
    status, body = await crew[0].post(f"/api/tasks/{task['id']}/withdraw")
    assert (status, body["reason"]) == (409, "not_signed_up")


async def test_a_hundred_officers_press_at_once_for_the_last_place(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, needed=1)
    crew = await officers(live_server, 100)
    answers = await asyncio.gather(
        *(o.post(f"/api/tasks/{task['id']}/signup") for o in crew)
    )
    assert all(status == 200 for status, _ in answers), answers
    states = [body["task"]["mine"]["state"] for _, body in answers]
    assert states.count("confirmed") == 1
    assert states.count("waiting") == 99
    stored = await live_server.platform.db.tasks.find_one({})
    holders = [e for e in stored["roster"] if e["state"] == "confirmed"]
    assert (stored["held"], len(holders), len(stored["roster"])) == (1, 1, 100)
    # The queue keeps its order: the next place goes to the first who waited.
    waiting = sorted(
        (e for e in stored["roster"] if e["state"] == "waiting"),
        key=lambda e: e["queued_at"],
    )
    winner = next(o for o in crew if o.user["id"] == holders[0]["officer_id"])
    status, _ = await winner.post(f"/api/tasks/{task['id']}/withdraw")
    assert status == 200
    stored = await live_server.platform.db.tasks.find_one({})
    [now_holding] = [e for e in stored["roster"] if e["state"] == "confirmed"]
    assert now_holding["officer_id"] == waiting[0]["officer_id"]
    assert stored["held"] == 1


async def test_the_publisher_confirms_declines_messages_and_cancels(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, needed=1, confirm="manual")
    first, second = await officers(live_server, 2)
    assert (await sign_up(first, task["id"]))["mine"]["state"] == "pending"
    assert (await sign_up(second, task["id"]))["mine"]["state"] == "waiting"
    path = f"/api/tasks/{task['id']}"
    status, body = await first.post(
        f"{path}/decide", {"officer_id": "x", "confirm": True}
    )
    assert (status, body["reason"]) == (403, "role")
    decision = {"officer_id": second.user["id"], "confirm": True}
    status, body = await commander.post(f"{path}/decide", decision)
    assert (status, body["reason"]) == (409, "not_pending")
    # Declining the pending officer frees the place for the waiting one, who
    # then awaits confirmation in turn.
    decision = {"officer_id": first.user["id"], "confirm": False}
    status, body = await commander.post(f"{path}/decide", decision)
    assert status == 200, body
    states = {e["officer_id"]: e["state"] for e in body["task"]["roster"]}
    assert states == {first.user["id"]: "declined", second.user["id"]: "pending"}
    decision = {"officer_id": second.user["id"], "confirm": True}
    status, body = await commander.post(f"{path}/decide", decision)
    assert status == 200
    status, body = await second.get(path)
    assert body["task"]["mine"]["state"] == "confirmed"

    socket = await second.websocket()
    await socket.send({"type": "subscribe", "topic": f"user:{second.user['id']}"})
    status, body = await commander.post(f"{path}/message", {"text": "Bring a vest"})
    assert status == 200, body
    news = await _event(socket, "task.updated")
    assert (news["payload"]["change"], news["payload"]["text"]) == (
        "message",
        "Bring a vest",
    )
    status, body = await second.get(path)
    assert [m["text"] for m in body["task"]["messages"]] == ["Bring a vest"]
    status, body = await commander.post(f"{path}/message", {"text": "  "})
    assert (status, body["reason"]) == (400, "bad_text")

    status, body = await commander.post(f"{path}/cancel", {"reason": "Race moved"})
    assert (status, body["task"]["status"]) == (200, "cancelled")
    news = await _event(socket, "task.updated")
    assert (news["payload"]["change"], news["payload"]["text"]) == (
        "cancelled",
        "Race moved",
    )
    status, body = await first.post(f"{path}/signup")
    assert (status, body["reason"]) == (409, "cancelled")


async def test_changes_reach_the_roster_and_a_larger_headcount_promotes(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, needed=1)
    first, second = await officers(live_server, 2)
    await sign_up(first, task["id"])
    await sign_up(second, task["id"])
    path = f"/api/tasks/{task['id']}"
    status, body, _ = await commander.request("PATCH", path, {"needed": 2})
    assert status == 200, body
    assert body["task"]["held"] == 2
    assert {e["state"] for e in body["task"]["roster"]} == {"confirmed"}
    status, body, _ = await commander.request("PATCH", path, {"needed": 1})
    assert (status, body["reason"]) == (409, "needed_below_held")
    status, body, _ = await commander.request(
        "PATCH", path, {"ends_at": task["starts_at"]}
    )
    assert (status, body["reason"]) == (400, "bad_period")
    status, body, _ = await commander.request("PATCH", path, {"title": "Half marathon"})
    assert (status, body["task"]["title"]) == (200, "Half marathon")
    status, body = await first.get("/api/tasks/mine")
    assert [t["title"] for t in body["tasks"]] == ["Half marathon"]


async def test_overlapping_sign_ups_are_flagged_and_the_schedule_shows_them(
    live_server,
):
    commander = await live_server.signed_in(["commander"])
    morning = await publish(
        commander,
        title="Morning patrol",
        starts_at=iso(dt.timedelta(days=3)),
        ends_at=iso(dt.timedelta(days=3, hours=4)),
    )
    noon = await publish(
        commander,
        title="School fair",
        starts_at=iso(dt.timedelta(days=3, hours=3)),
        ends_at=iso(dt.timedelta(days=3, hours=5)),
    )
    later = await publish(
        commander,
        title="Evening concert",
        starts_at=iso(dt.timedelta(days=3, hours=8)),
        ends_at=iso(dt.timedelta(days=3, hours=10)),
    )
    (officer,) = await officers(live_server, 1)
    for task, expected in (
        (morning, []),
        (noon, [{"id": morning["id"], "title": "Morning patrol"}]),
        (later, []),
    ):
        status, body = await officer.post(f"/api/tasks/{task['id']}/signup")
        assert (status, body["task"]["overlaps"]) == (200, expected)
    status, body = await officer.get("/api/tasks/mine")
    assert status == 200
    flags = {t["title"]: [o["title"] for o in t["overlaps"]] for t in body["tasks"]}
    assert flags == {
        "Morning patrol": ["School fair"],
        "School fair": ["Morning patrol"],
        "Evening concert": [],
    }


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ends_at": iso(dt.timedelta(days=1, hours=23))}, "bad_period"),
        ({"needed": -1}, "bad_needed"),
        ({"needed": 0}, "bad_needed"),
        ({"needed": True}, "bad_needed"),
        ({"signup_deadline": iso(dt.timedelta(days=3))}, "bad_deadline"),
        ({"signup_deadline": iso(dt.timedelta(hours=-1))}, "bad_deadline"),
        ({"starts_at": "tomorrow"}, "bad_time"),
        ({"starts_at": "2026-12-10T09:00:00"}, "bad_time"),
        (
            {"place": {"type": "Point", "coordinates": [118.83, 32.07]}},
            "outside_territory",
        ),
        ({"place": {"type": "LineString", "coordinates": []}}, "bad_place"),
        (
            {"place": {"type": "Polygon", "coordinates": [[[118.79, 32.07]]]}},
            "bad_place",
        ),
        ({"skills": ["juggling"]}, "bad_skills"),
        ({"title": ""}, "bad_title"),
        ({"confirm": "sometimes"}, "bad_confirm"),
    ],
)
async def test_bad_tasks_are_refused_with_a_reason(live_server, changes, reason):
    commander = await live_server.signed_in(["commander"])
    status, body = await commander.post("/api/tasks", task_body(**changes))
    assert (status, body["reason"]) == (400, reason), body
    assert await live_server.platform.db.tasks.count_documents({}) == 0


async def test_an_area_is_accepted_and_measured_from_its_middle(live_server):
    commander = await live_server.signed_in(["commander"])
    ring = [
        [118.785, 32.065],
        [118.795, 32.065],
        [118.795, 32.075],
        [118.785, 32.075],
        [118.785, 32.065],
    ]
    task = await publish(commander, place={"type": "Polygon", "coordinates": [ring]})
    assert task["place"]["type"] == "Polygon"
    assert task["location"]["coordinates"] == pytest.approx([118.79, 32.07])


async def test_only_the_agency_sees_its_tasks_and_only_publishers_manage(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander)
    path = f"/api/tasks/{task['id']}"
    outsider = await live_server.signed_in(["officer"], tenant_id="t2")
    for method, url in (
        ("GET", path),
        ("POST", f"{path}/signup"),
        ("GET", f"{path}/roster.csv"),
    ):
        status, body, _ = await outsider.request(method, url)
        assert status in (403, 404), (url, status)
    status, body = await outsider.get("/api/tasks")
    assert (status, body["tasks"]) == (200, [])
    other_commander = await live_server.signed_in(["commander"], tenant_id="t2")
    status, body = await other_commander.post(f"{path}/cancel", {})
    assert status == 404
    (officer,) = await officers(live_server, 1)
    status, body = await officer.post("/api/tasks", task_body())
    assert (status, body["reason"]) == (403, "role")
    status, body = await officer.get(f"{path}/recommended")
    assert status == 403
    citizen_like = await live_server.signed_in(["expert"])
    status, body = await citizen_like.get("/api/tasks")
    assert status == 403


async def test_the_roster_exports_as_csv_safe_for_spreadsheets(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, needed=1)
    first = await live_server.signed_in(["officer"], name="=HYPERLINK(1)")
    second = await live_server.signed_in(["officer"], name="李四")
    await sign_up(first, task["id"])
    await sign_up(second, task["id"])
    status, _, response = await commander.request(
        "GET",
        f"/api/tasks/{task['id']}/roster.csv",
        headers={"Accept-Language": "zh-CN"},
    )
    assert status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = response.body.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["姓名", "账号", "所属单位", "状态", "报名时间", "处理时间"]
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("'=HYPERLINK(1)", "已确认"),
        ("李四", "候补"),
    ]
    account = await live_server.platform.db.users.find_one({"name": "=HYPERLINK(1)"})
    assert rows[1][1] == account["username"]


async def test_specialties_find_people_near_a_place_and_recommend_the_free(live_server):
    commander = await live_server.signed_in(["commander"])
    near = {"type": "Point", "coordinates": [118.791, 32.071]}
    far = {"type": "Point", "coordinates": [118.799, 32.079]}
    close_medic = await live_server.signed_in(["officer"], name="Near", position=near)
    far_medic = await live_server.signed_in(["officer"], name="Far", position=far)
    hidden = await live_server.signed_in(["officer"], name="Hidden", position=near)
    for officer, visible in ((close_medic, True), (far_medic, True), (hidden, False)):
        status, body, _ = await officer.request(
            "PUT",
            "/api/officer/profile",
            {
                "tags": ["first_aid", "english"],
                "note": "Red Cross trainer",
                "visible": visible,
            },
        )
        assert (status, body["profile"]["visible"]) == (200, visible), body
    status, body, _ = await close_medic.request(
        "PUT", "/api/officer/profile", {"tags": ["juggling"]}
    )
    assert (status, body["reason"]) == (400, "bad_tags")
    status, body = await close_medic.get("/api/officer/profile")
    assert body["profile"]["tags"] == ["first_aid", "english"]

    status, body = await commander.get(
        "/api/specialties/search?skill=first_aid&lon=118.79&lat=32.07"
    )
    assert status == 200, body
    assert [p["name"] for p in body["people"]] == ["Near", "Far"]
    assert body["people"][0]["distance_m"] < body["people"][1]["distance_m"]
    assert body["people"][0]["matched"] == ["first_aid"]
    status, body = await commander.get("/api/specialties/search?q=red%20cross")
    assert {p["name"] for p in body["people"]} == {"Near", "Far"}
    status, body = await close_medic.get("/api/specialties/search?skill=first_aid")
    assert status == 403

    # The near medic is booked on an overlapping task: the far one is
    # recommended, and can be invited.
    task = await publish(commander, skills=["first_aid"])
    busy = await publish(commander, title="Overlapping", skills=[])
    await sign_up(close_medic, busy["id"])
    status, body = await commander.get(f"/api/tasks/{task['id']}/recommended")
    assert [p["name"] for p in body["people"]] == ["Far"]
    socket = await far_medic.websocket()
    await socket.send({"type": "subscribe", "topic": f"user:{far_medic.user['id']}"})
    status, body = await commander.post(
        f"/api/tasks/{task['id']}/invite", {"officer_id": far_medic.user["id"]}
    )
    assert status == 200, body
    news = await _event(socket, "task.updated")
    assert news["payload"]["change"] == "invited"
    assert news["payload"]["task"]["invited"] is True


async def _event(socket, name: str) -> dict:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await socket.receive()
            assert message is not None, "socket closed"
            if message.get("type") == "event" and message.get("event") == name:
                return message


async def test_the_board_topic_is_the_agencys_own_and_tells_of_sign_ups(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander)
    officer = (await officers(live_server, 1))[0]
    outsider = await live_server.signed_in(["officer"], tenant_id="t2")
    refused = await outsider.websocket()
    await refused.send({"type": "subscribe", "topic": "tasks:t1", "id": "s1"})
    answer = await refused.receive_type("error")
    assert answer["reason"] == "topic_refused"
    watcher = await commander.websocket()
    await watcher.send({"type": "subscribe", "topic": "tasks:t1"})
    await watcher.receive_type("subscribed")
    await sign_up(officer, task["id"])
    event = await _event(watcher, "task.changed")
    assert event["payload"] == {
        "id": task["id"],
        "status": "open",
        "held": 1,
        "waiting": 0,
    }

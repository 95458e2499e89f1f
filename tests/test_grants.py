"""Grants (授权) between agencies: experts and rooms, tasks, border alarms.

Tenant t1 ("A") grants tenant t2 ("B"). Every shared use is checked against
the grant at that moment: revoking (or the grant running out) ends access at
once, over HTTP and on open websockets.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.helpers import ApiClient, Socket, square
from tests.test_alarms import SCENE, citizen, open_all_day, raise_alarm
from tests.test_rooms import joined_socket, next_event, send
from tests.test_tasks import iso, publish

TIMEOUT = 10


async def grant(admin: ApiClient, kind: str, grantee="t2", **fields) -> dict:
    body = {"grantee_id": grantee, "kind": kind, "ends_at": iso(dt.timedelta(days=30))}
    status, answer = await admin.post("/api/grants", {**body, **fields})
    assert status == 201, answer
    return answer["grant"]


async def revoke(admin: ApiClient, grant_id: str) -> dict:
    status, answer = await admin.post(f"/api/grants/{grant_id}/revoke")
    assert status == 200, answer
    return answer["grant"]


async def directory_ids(client: ApiClient) -> dict[str, dict]:
    status, body = await client.get("/api/experts")
    assert status == 200, body
    return {e["id"]: e for e in body["experts"]}


async def open_room(commander: ApiClient, invite: list[str]):
    return await commander.post(
        "/api/rooms",
        {"title": "Bridge collapse", "lon": 118.83, "lat": 32.07, "invite": invite},
    )


async def test_an_experts_grant_lets_b_invite_a_expert_and_revoking_ends_it(
    live_server,
):
    """B's commander finds and invites A's expert; revoking the grant ends the
    expert's access to B's room (HTTP and the open socket) and B's view of
    A's pool at once."""
    admin_a = await live_server.signed_in(["admin"], "t1")
    expert_a = await live_server.signed_in(
        ["expert"], "t1", expert={"category": "legal", "skills": ["bridges"]}
    )
    commander_b = await live_server.signed_in(["commander"], "t2")
    expert_id = expert_a.user["id"]
    # Without a grant: not in B's directory, and not invitable.
    assert expert_id not in await directory_ids(commander_b)
    status, body = await open_room(commander_b, [expert_id])
    assert (status, body["reason"]) == (400, "bad_invitees")

    given = await grant(admin_a, "experts")
    assert given["state"] == "active"
    assert given["grantor"] == {"id": "t1", "name": "Tenant t1"}
    found = (await directory_ids(commander_b))[expert_id]
    assert found["shared"] is True
    assert found["tenant"] == {"id": "t1", "name": "Tenant t1"}
    status, body = await open_room(commander_b, [expert_id])
    assert status == 201, body
    room_id = body["room"]["id"]
    assert body["room"]["tenant_id"] == "t2"
    status, body = await expert_a.post(
        f"/api/rooms/{room_id}/respond", {"accept": True}
    )
    assert status == 200, body
    status, body = await expert_a.get("/api/rooms")
    assert [r["id"] for r in body["rooms"]] == [room_id]
    socket = await joined_socket(expert_a, room_id)
    status, body = await send(expert_a, room_id, "e1", "Check the pier first")
    assert status == 201, body
    # B's admin sees both sides of the grant.
    admin_b = await live_server.signed_in(["admin"], "t2")
    status, body = await admin_b.get("/api/grants")
    assert [g["id"] for g in body["received"]] == [given["id"]]
    assert body["given"] == []

    revoked = await revoke(admin_a, given["id"])
    assert revoked["state"] == "revoked"
    assert await next_event(socket, "room.removed") == {"room_id": room_id}
    for path in (f"/api/rooms/{room_id}", f"/api/rooms/{room_id}/messages"):
        status, _ = await expert_a.get(path)
        assert status == 404, path
    status, _ = await send(expert_a, room_id, "e2", "still here?")
    assert status == 404
    status, body = await expert_a.get("/api/rooms")
    assert body["rooms"] == []
    # The socket gets nothing more of the room and cannot rejoin.
    await send(commander_b, room_id, "c1", "not for A any more")
    await socket.send({"type": "room.join", "id": "again", "room_id": room_id})
    refused = await socket.receive_type("error")
    assert refused["reason"] == "not_found"
    await socket.send({"type": "ping", "id": "p"})
    async with asyncio.timeout(TIMEOUT):
        while (message := await socket.receive())["type"] != "pong":
            assert message.get("event") != "room.message", message
    assert expert_id not in await directory_ids(commander_b)
    status, body = await open_room(commander_b, [expert_id])
    assert (status, body["reason"]) == (400, "bad_invitees")
    # Revoking twice is a clear conflict; B cannot revoke A's grant.
    status, body = await admin_a.post(f"/api/grants/{given['id']}/revoke")
    assert (status, body["reason"]) == (409, "revoked")
    status, body = await admin_b.post(f"/api/grants/{given['id']}/revoke")
    assert status == 404


async def test_an_expired_grant_stops_working_without_any_job(live_server):
    """Access is checked against the time on every use; an open socket on the
    room is cut when the grant runs out."""
    admin_a = await live_server.signed_in(["admin"], "t1")
    expert_a = await live_server.signed_in(["expert"], "t1")
    commander_b = await live_server.signed_in(["commander"], "t2")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    given = await grant(admin_a, "experts", ends_at=soon.isoformat())
    status, body = await open_room(commander_b, [expert_a.user["id"]])
    assert status == 201, body
    room_id = body["room"]["id"]
    status, _ = await expert_a.post(f"/api/rooms/{room_id}/respond", {"accept": True})
    assert status == 200
    socket = await joined_socket(expert_a, room_id)
    # Nobody revokes: the grant's end alone cuts the socket off.
    assert await next_event(socket, "room.removed") == {"room_id": room_id}
    assert dt.datetime.now(dt.UTC) >= soon
    status, _ = await expert_a.get(f"/api/rooms/{room_id}")
    assert status == 404
    assert expert_a.user["id"] not in await directory_ids(commander_b)
    status, body = await admin_a.get("/api/grants")
    assert body["given"][0]["id"] == given["id"]
    assert body["given"][0]["state"] == "expired"


async def test_a_tasks_grant_shares_the_board_until_revoked(live_server):
    """B's officer sees A's task marked as A's and signs up; after revocation
    the task is gone for them and signing up is refused."""
    admin_a = await live_server.signed_in(["admin"], "t1")
    commander_a = await live_server.signed_in(["commander"], "t1")
    officer_b = await live_server.signed_in(["officer"], "t2")
    commander_b = await live_server.signed_in(["commander"], "t2")
    task = await publish(commander_a)
    status, body = await officer_b.get("/api/tasks")
    assert body["tasks"] == []
    status, body = await officer_b.post(f"/api/tasks/{task['id']}/signup")
    assert status == 404

    given = await grant(admin_a, "tasks")
    status, body = await officer_b.get("/api/tasks")
    [seen] = body["tasks"]
    assert seen["id"] == task["id"]
    assert seen["shared"] is True
    assert seen["tenant"] == {"id": "t1", "name": "Tenant t1"}
    status, body = await officer_b.post(f"/api/tasks/{task['id']}/signup")
    assert status == 200, body
    assert body["task"]["mine"]["state"] == "confirmed"
    assert body["task"]["shared"] is True
    status, body = await officer_b.get("/api/tasks/mine")
    assert [t["id"] for t in body["tasks"]] == [task["id"]]
    # A keeps managing its task and sees B's officer on the roster; B's
    # commander neither sees A's task nor manages it.
    status, body = await commander_a.get(f"/api/tasks/{task['id']}")
    assert [e["officer_id"] for e in body["task"]["roster"]] == [officer_b.user["id"]]
    status, body = await commander_b.get("/api/tasks")
    assert body["tasks"] == []
    status, body = await commander_b.post(
        f"/api/tasks/{task['id']}/cancel", {"reason": "not yours"}
    )
    assert status == 404

    await revoke(admin_a, given["id"])
    status, body = await officer_b.get("/api/tasks")
    assert body["tasks"] == []
    status, body = await officer_b.get(f"/api/tasks/{task['id']}")
    assert status == 404
    status, body = await officer_b.post(f"/api/tasks/{task['id']}/withdraw")
    assert status == 404
    other = await live_server.signed_in(["officer"], "t2")
    status, body = await other.post(f"/api/tasks/{task['id']}/signup")
    assert status == 404


async def board_socket(client: ApiClient, tenant_id: str) -> Socket:
    """A socket following ``tasks:<tenant_id>`` (asserted accepted)."""
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": "b", "topic": f"tasks:{tenant_id}"})
    answer = await socket.receive()
    assert answer["type"] == "subscribed", answer
    return socket


async def refused_board(client: ApiClient, tenant_id: str) -> dict:
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": "r", "topic": f"tasks:{tenant_id}"})
    answer = await socket.receive_type("error")
    socket.close()
    return answer


async def test_a_tasks_grant_puts_the_granting_board_live_on_the_grantees_socket(
    live_server,
):
    """B's officer follows A's board while the grant holds: A's new task
    reaches the open socket; revoking tells the socket and stops it."""
    admin_a = await live_server.signed_in(["admin"], "t1")
    commander_a = await live_server.signed_in(["commander"], "t1")
    officer_b = await live_server.signed_in(["officer"], "t2")
    commander_b = await live_server.signed_in(["commander"], "t2")
    assert (await refused_board(officer_b, "t1"))["reason"] == "topic_refused"

    given = await grant(admin_a, "tasks")
    status, body = await officer_b.get("/api/tasks")
    assert status == 200, body
    assert body["boards"] == ["t2", "t1"]
    _, body = await commander_b.get("/api/tasks")
    assert body["boards"] == ["t2"]  # commanders manage their own board only
    assert (await refused_board(commander_b, "t1"))["reason"] == "topic_refused"
    socket = await board_socket(officer_b, "t1")
    task = await publish(commander_a)
    async with asyncio.timeout(TIMEOUT):
        while True:
            event = await socket.receive_type("event")
            if event["event"] == "task.changed":
                break
    assert (event["topic"], event["payload"]["id"]) == ("tasks:t1", task["id"])

    await revoke(admin_a, given["id"])
    async with asyncio.timeout(TIMEOUT):
        event = await socket.receive_type("event")
    assert event["event"] == "tasks.shared_ended", event
    assert event["payload"] == {"tenant_id": "t1"}
    await publish(commander_a, title="After the grant")
    await socket.send({"type": "ping", "id": "p"})
    # Nothing more of A's board arrives: the next message is the pong.
    assert (await socket.receive())["type"] == "pong"
    assert (await refused_board(officer_b, "t1"))["reason"] == "topic_refused"
    _, body = await officer_b.get("/api/tasks")
    assert body["boards"] == ["t2"]


async def test_a_shared_board_stops_on_the_socket_when_the_grant_runs_out(
    live_server,
):
    admin_a = await live_server.signed_in(["admin"], "t1")
    officer_b = await live_server.signed_in(["officer"], "t2")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    await grant(admin_a, "tasks", ends_at=soon.isoformat())
    socket = await board_socket(officer_b, "t1")
    # Nobody revokes: the grant's end alone stops the topic.
    async with asyncio.timeout(TIMEOUT):
        event = await socket.receive_type("event")
    assert event["event"] == "tasks.shared_ended"
    assert dt.datetime.now(dt.UTC) >= soon
    assert (await refused_board(officer_b, "t1"))["reason"] == "topic_refused"


async def command_events(socket: Socket, wanted: str, count: int) -> list[dict]:
    """The payloads of the next ``count`` ``wanted`` events on the socket."""
    found = []
    async with asyncio.timeout(TIMEOUT):
        while len(found) < count:
            event = await socket.receive_type("event")
            if event["event"] == wanted:
                found.append(event["payload"])
    return found


async def test_border_alarm_changes_are_announced_to_the_granted_command_room(
    live_server,
):
    """A's alarm inside the zone granted to B nudges B's command topic as it
    is raised and as it changes; one outside the zone does not; granting and
    revoking the zone nudge it too."""
    await open_all_day(live_server, "t1")
    admin_a = await live_server.signed_in(["admin"], "t1")
    commander_b = await live_server.signed_in(["commander"], "t2")
    socket = await commander_b.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": "c", "topic": "command:t2"})
    assert (await socket.receive_type("subscribed"))["topic"] == "command:t2"
    zone = square(118.795, 32.06, 0.005)["coordinates"][0]
    given = await grant(
        admin_a, "border_alarms", zone={"type": "Polygon", "coordinates": zone}
    )
    assert await command_events(socket, "border.changed", 1) == [{"alarm_id": None}]

    person = await citizen(live_server)
    _, outside = await raise_alarm(person, lon=SCENE[0], lat=SCENE[1])
    _, inside = await raise_alarm(person, lon=118.797, lat=32.063)
    inside_id = inside["alarm"]["id"]
    [raised] = await command_events(socket, "border.changed", 1)
    assert raised == {"alarm_id": inside_id}
    status, _ = await person.post(f"/api/alarms/{inside_id}/cancel")
    assert status == 200
    status, _ = await person.post(f"/api/alarms/{outside['alarm']['id']}/cancel")
    assert status == 200
    [cancelled] = await command_events(socket, "border.changed", 1)
    assert cancelled == {"alarm_id": inside_id}
    await revoke(admin_a, given["id"])
    # Only the revocation's nudge follows: nothing about the outside alarm.
    assert await command_events(socket, "border.changed", 1) == [{"alarm_id": None}]
    await socket.send({"type": "ping", "id": "p"})
    assert (await socket.receive_type("pong"))["id"] == "p"
    socket.close()


async def test_border_alarms_are_read_only_and_only_inside_the_zone(live_server):
    """B's commander sees A's alarm inside the border zone, marked as A's,
    and cannot dispatch or close it; an alarm outside the zone stays hidden."""
    await open_all_day(live_server, "t1")
    admin_a = await live_server.signed_in(["admin"], "t1")
    commander_b = await live_server.signed_in(["commander"], "t2")
    officer_b = await live_server.signed_in(["officer"], "t2")
    # The eastern strip of t1 (t1 spans 118.78-118.80): SCENE is outside it.
    zone = square(118.795, 32.06, 0.005)["coordinates"][0]
    person = await citizen(live_server)
    status, inside = await raise_alarm(person, lon=118.797, lat=32.063)
    assert status == 201, inside
    status, outside = await raise_alarm(person, lon=SCENE[0], lat=SCENE[1])
    assert status == 201, outside
    status, body = await commander_b.get("/api/command/alarms")
    assert body["border_alarms"] == []

    given = await grant(
        admin_a, "border_alarms", zone={"type": "Polygon", "coordinates": zone}
    )
    assert given["zone"]["type"] == "Polygon"
    status, body = await commander_b.get("/api/command/alarms")
    assert status == 200, body
    assert body["alarms"] == []
    [shared] = body["border_alarms"]
    assert shared["id"] == inside["alarm"]["id"]
    assert shared["tenant"] == {"id": "t1", "name": "Tenant t1"}
    assert (shared["shared"], shared["read_only"]) == (True, True)
    alarm_id = shared["id"]
    status, _ = await commander_b.post(
        f"/api/alarms/{alarm_id}/dispatch", {"officer_id": officer_b.user["id"]}
    )
    assert status == 404
    status, _ = await commander_b.post(f"/api/alarms/{alarm_id}/close", {"note": "x"})
    assert status == 404
    status, _ = await officer_b.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 404

    await revoke(admin_a, given["id"])
    status, body = await commander_b.get("/api/command/alarms")
    assert body["border_alarms"] == []


async def test_grants_are_validated_and_only_admins_give_them(live_server):
    admin_a = await live_server.signed_in(["admin"], "t1")
    commander_a = await live_server.signed_in(["commander"], "t1")
    later = iso(dt.timedelta(days=30))
    cases = [
        ({"grantee_id": "t2", "kind": "everything", "ends_at": later}, "bad_kind"),
        ({"grantee_id": "t1", "kind": "tasks", "ends_at": later}, "bad_grantee"),
        (
            {
                "grantee_id": "t2",
                "kind": "tasks",
                "ends_at": iso(dt.timedelta(days=400)),
            },
            "bad_period",
        ),
        (
            {
                "grantee_id": "t2",
                "kind": "tasks",
                "ends_at": iso(-dt.timedelta(hours=1)),
            },
            "bad_period",
        ),
        (
            {"grantee_id": "t2", "kind": "border_alarms", "ends_at": later},
            "zone_required",
        ),
        (
            {
                "grantee_id": "t2",
                "kind": "border_alarms",
                "ends_at": later,
                "zone": square(119.5, 32.0, 0.01),
            },
            "outside_territory",
        ),
    ]
    for body, reason in cases:
        status, answer = await admin_a.post("/api/grants", body)
        assert (status, answer["reason"]) == (400, reason), body
    status, answer = await admin_a.post(
        "/api/grants", {"grantee_id": "nowhere", "kind": "tasks", "ends_at": later}
    )
    assert status == 404
    status, answer = await commander_a.post(
        "/api/grants", {"grantee_id": "t2", "kind": "tasks", "ends_at": later}
    )
    assert (status, answer["reason"]) == (403, "role")


async def test_the_muster_hook_lists_granting_and_granted_agencies(live_server):
    """`tenants_granting` and `grantees_of` answer for the moment asked."""
    grants = live_server.platform.grants
    admin_a = await live_server.signed_in(["admin"], "t1")
    given = await grant(admin_a, "musters")
    assert await grants.tenants_granting("t2", "musters") == ["t1"]
    assert await grants.grantees_of("t1", "musters") == ["t2"]
    assert await grants.tenants_granting("t2", "experts") == []
    after = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert await grants.grantees_of("t1", "musters", after) == []
    await revoke(admin_a, given["id"])
    assert await grants.grantees_of("t1", "musters") == []


async def test_a_musters_grant_calls_the_grantees_officers_near_the_border(
    live_server,
):
    """A's muster near the border alerts B's officers inside its radius while
    A grants B "musters"; they see whose call it is and answer it; after the
    grant is revoked, A's next muster leaves them alone."""
    from tests.test_musters import listening, officer_account, point, started

    place = (118.799, 32.07)  # t1's eastern edge
    across = (118.821, 32.07)  # just inside t2, about 2.1 km east of the place
    lent, lent_id = await officer_account(
        live_server, "t2", duty="on", position=point(across)
    )
    lent_ws = await listening(lent)
    # Beyond the radius, granted or not.
    _, far_id = await officer_account(
        live_server, "t2", duty="on", position=point((118.839, 32.07))
    )
    commander = await live_server.signed_in(["commander"], "t1")
    admin_a = await live_server.signed_in(["admin"], "t1")

    # Without a grant, another agency's officers are not called.
    before = await started(commander, place=place, radius_m=3000)
    assert lent_id not in {e["officer_id"] for e in before["roll"]}

    given = await grant(admin_a, "musters")
    muster = await started(commander, place=place, radius_m=3000)
    roll = {e["officer_id"]: e for e in muster["roll"]}
    assert lent_id in roll and far_id not in roll
    assert roll[lent_id]["tenant_id"] == "t2"
    assert roll[lent_id]["agency"] == "Tenant t2"
    assert 2000 < roll[lent_id]["distance_m"] < 2300

    alert = await next_event(lent_ws, "muster.alert")
    assert alert["id"] == muster["id"]
    assert alert["agency"]["id"] == "t1"
    status, body = await lent.get("/api/officer/musters")
    assert status == 200 and [m["id"] for m in body["musters"]] == [muster["id"]]
    status, body = await lent.post(
        f"/api/musters/{muster['id']}/answer", {"answer": "coming"}
    )
    assert status == 200, body
    assert body["muster"]["answer"] == "coming"
    # B's own commander gets no board of A's muster.
    commander_b = await live_server.signed_in(["commander"], "t2")
    status, body = await commander_b.get(f"/api/musters/{muster['id']}")
    assert status == 404

    await revoke(admin_a, given["id"])
    after = await started(commander, place=place, radius_m=3000)
    assert lent_id not in {e["officer_id"] for e in after["roll"]}
    # The call made under the grant still stands for the officer it reached.
    status, body = await lent.get(f"/api/musters/{muster['id']}")
    assert status == 200 and body["muster"]["answer"] == "coming"

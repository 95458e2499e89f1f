"""Two platform processes on one database (``[realtime] cluster = true``).

Each test runs two ``run.py`` processes, nodes A and B, on the run's database
server. A citizen on A raises alarms; officers are connected to A and to B.
Offers reach officers on both nodes, a claim race across them has one
winner, the citizen on A follows an officer connected to B, and when A is
killed during a claim window, B escalates the alarm on time, once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import signal

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from tests.helpers import ApiClient
from tests.outside import add_account, citizen, raise_at_scene, seed_tenant, signed_in
from tests.test_alarms import SCENE
from tests.test_embedded import DEADLINE_S
from tests.test_run import launch  # noqa: F401 - the fixture

TIMEOUT = 15


class Nodes:
    """Two run.py processes sharing one database, and its seed data."""

    def __init__(self, start_process, uri: str, name: str):
        self.start_process = start_process
        self.uri, self.name = uri, name
        self.client = AsyncMongoClient(uri)
        self.db = self.client[name]
        self.passwords: dict[str, str] = {}
        self.processes = {}

    def start(self, node: str, **env: str):
        process = self.start_process(
            JINGDI_DATABASE_URI=self.uri,
            JINGDI_DATABASE_NAME=self.name,
            JINGDI_REALTIME_CLUSTER="true",
            JINGDI_REALTIME_NODE=node,
            **env,
        )
        self.processes[node] = process
        return process

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.processes[node].port}"

    async def seed(self, claim_window_s: int, officers: int) -> list[str]:
        """Tenant t1 and ``officers`` officer accounts (off duty); their names."""
        await seed_tenant(self.db, claim_window_s)
        names = [f"cluster-officer-{n}" for n in range(officers)]
        for username in names:
            _, self.passwords[username] = await add_account(
                self.db, username, ["officer"], duty="off"
            )
        return names

    async def officer(self, node: str, username: str, lon: float, lat: float):
        """Signed in on ``node``, on duty, connected there, at (lon, lat)."""
        client = await signed_in(self.url(node), username, self.passwords[username])
        assert (await client.post("/api/officer/duty", {"duty": "on"}))[0] == 200
        socket = await client.websocket()
        await socket.receive_type("welcome")
        await socket.send(
            {"type": "subscribe", "id": 1, "topic": f"user:{client.user['id']}"}
        )
        await socket.receive_type("subscribed")
        await socket.send({"type": "position", "lon": lon, "lat": lat, "accuracy": 5})
        return client, socket

    async def staff(self, node: str, role: str) -> ApiClient:
        """A new account with ``role``, signed in on ``node``."""
        username = f"cluster-{role}-{secrets.token_hex(3)}"
        _, password = await add_account(self.db, username, [role])
        return await signed_in(self.url(node), username, password)

    async def citizen(self, node: str) -> ApiClient:
        return await citizen(self.url(node))

    async def known_to_others(self, node: str, officer_ids: list[str]) -> None:
        """Wait until ``node`` has sent presence naming these officers (the
        other node applies a batch within milliseconds of its insert)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                batches = self.db.cluster_events.find(
                    {"origin": node, "presence": {"$ne": []}}, {"presence.id": 1}
                )
                sent = {o["id"] async for b in batches for o in b.get("presence", [])}
                if set(officer_ids) <= set(sent):
                    await asyncio.sleep(0.5)
                    return
                await asyncio.sleep(0.2)

    async def alarm(self, alarm_id: str) -> dict:
        return await self.db.alarms.find_one({"_id": ObjectId(alarm_id)})


@pytest.fixture
async def nodes(launch, mongo_uri):  # noqa: F811 - the fixture imported above
    name = f"jingdi_test_cluster_{secrets.token_hex(6)}"
    pair = Nodes(launch, mongo_uri, name)
    try:
        yield pair
    finally:
        await pair.client.drop_database(name)
        await pair.client.close()


async def logged(process, text: str) -> None:
    """Wait until the process has logged ``text``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if text in process.output():
                return
            await asyncio.sleep(0.2)


async def next_event(socket, name: str) -> dict:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await socket.receive_type("event")
            if message["event"] == name:
                return message["payload"]


async def test_offers_claims_and_positions_cross_the_two_processes(nodes):
    names = await nodes.seed(claim_window_s=120, officers=3)
    for node in ("A", "B"):
        nodes.start(node)
    for process in nodes.processes.values():
        process.wait_healthy()
    near = (SCENE[0] + 0.001, SCENE[1])
    on_a, on_a_ws = await nodes.officer("A", names[0], *near)
    first_b, first_b_ws = await nodes.officer("B", names[1], *near)
    second_b, second_b_ws = await nodes.officer("B", names[2], *near)
    await nodes.known_to_others("B", [first_b.user["id"], second_b.user["id"]])
    await nodes.known_to_others("A", [on_a.user["id"]])
    person = await nodes.citizen("A")

    # The offer reaches all three, wherever they are connected.
    alarm_id = await raise_at_scene(person)
    for socket in (on_a_ws, first_b_ws, second_b_ws):
        assert (await next_event(socket, "offer.new"))["alarm_id"] == alarm_id
    # The citizen on A follows the officer on B who claims it.
    watch = await person.websocket()
    await watch.receive_type("welcome")
    await watch.send({"type": "subscribe", "id": 1, "topic": f"alarm:{alarm_id}"})
    await watch.receive_type("subscribed")
    status, body = await first_b.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200, body
    await first_b.post(f"/api/alarms/{alarm_id}/progress", {"status": "en_route"})
    moved = (SCENE[0] + 0.0005, SCENE[1])
    await first_b_ws.send(
        {"type": "position", "lon": moved[0], "lat": moved[1], "accuracy": 5}
    )
    seen = await next_event(watch, "officer.position")
    assert seen["position"]["coordinates"] == list(moved)

    # A second alarm: the officer on A and the free one on B race for it.
    second = await raise_at_scene(person)
    for socket in (on_a_ws, second_b_ws):
        assert (await next_event(socket, "offer.new"))["alarm_id"] == second
    answers = await asyncio.gather(
        on_a.post(f"/api/alarms/{second}/claim"),
        second_b.post(f"/api/alarms/{second}/claim"),
    )
    assert sorted(status for status, _ in answers) == [200, 409]
    stored = await nodes.alarm(second)
    assert [h["status"] for h in stored["history"]].count("assigned") == 1
    winner = next(body for status, body in answers if status == 200)
    assert stored["assignee"]["officer_id"] == winner["alarm"]["assignee"]["officer_id"]
    for client in (on_a, first_b, second_b, person):
        client.close_sockets()


async def test_a_killed_process_leaves_its_claim_window_to_the_other(nodes):
    """A dies with an alarm in its claim window and an officer connected:
    B escalates the alarm on time, once, and within seconds counts the
    officer as away, offering B's next alarm to them by stored position."""
    [name] = await nodes.seed(claim_window_s=3, officers=1)
    a, b = nodes.start("A"), nodes.start("B")
    a.wait_healthy()
    b.wait_healthy()
    officer, _ = await nodes.officer("A", name, SCENE[0], SCENE[1] + 0.001)
    officer_id = officer.user["id"]
    await nodes.known_to_others("A", [officer_id])
    person = await nodes.citizen("A")
    # Offered to the officer, who lets it ring.
    alarm_id = await raise_at_scene(person)
    a.process.send_signal(signal.SIGKILL)
    a.process.wait(DEADLINE_S)
    killed_at = dt.datetime.now(dt.UTC)

    stored = await nodes.alarm(alarm_id)
    deadline = stored["deadline_at"].replace(tzinfo=dt.UTC)
    async with asyncio.timeout(TIMEOUT):
        while True:
            escalated = await nodes.alarm(alarm_id)
            if escalated["status"] != "offering":
                break
            await asyncio.sleep(0.2)
    assert escalated["status"] == "escalated"
    assert [h["status"] for h in escalated["history"]] == ["offering", "escalated"]
    late = escalated["escalated_at"].replace(tzinfo=dt.UTC) - deadline
    # On time: within B's sweep interval and grace of the deadline (the
    # bound is generous for a busy machine; it is what "on time" means here).
    assert dt.timedelta(0) <= late < dt.timedelta(seconds=10)
    # B keeps serving, and nothing escalates twice.
    await asyncio.sleep(3)
    again = await nodes.alarm(alarm_id)
    assert [h["status"] for h in again["history"]] == ["offering", "escalated"]

    # The officer who was on A is away now, and found by B's dispatch.
    async with asyncio.timeout(TIMEOUT):
        while True:
            user = await nodes.db.users.find_one({"_id": ObjectId(officer_id)})
            if user.get("away_at"):
                break
            await asyncio.sleep(0.2)
    assert user["away_at"].replace(tzinfo=dt.UTC) - killed_at < dt.timedelta(seconds=10)
    on_b = await nodes.citizen("B")
    later = await raise_at_scene(on_b)
    offer = await nodes.db.offers.find_one(
        {"alarm_id": ObjectId(later), "officer_id": officer_id}
    )
    assert offer is not None and offer["channel"] == "stored"
    officer.close_sockets()


async def room_across(nodes, title: str):
    """Both nodes up; a commander on A opens a room, an expert on B joins it.

    Returns (commander, expert, room id)."""
    await nodes.seed(claim_window_s=60, officers=0)
    for node in ("A", "B"):
        nodes.start(node)
    for process in nodes.processes.values():
        process.wait_healthy()
    commander = await nodes.staff("A", "commander")
    expert = await nodes.staff("B", "expert")
    status, body = await commander.post(
        "/api/rooms",
        {
            "title": title,
            "lon": SCENE[0],
            "lat": SCENE[1],
            "invite": [expert.user["id"]],
        },
    )
    assert status == 201, body
    room_id = body["room"]["id"]
    status, _ = await expert.post(f"/api/rooms/{room_id}/respond", {"accept": True})
    assert status == 200
    return commander, expert, room_id


async def test_a_room_chats_across_processes_and_a_removal_cuts_off_everywhere(nodes):
    """The commander on A opens a room; the expert follows it from B, gets
    A's messages live, and on removal is unsubscribed on B at once."""
    commander, expert, room_id = await room_across(nodes, "Gas leak")
    follower = await expert.websocket()
    await follower.receive_type("welcome")
    await follower.send({"type": "room.join", "id": "j", "room_id": room_id})
    await follower.receive_type("subscribed")
    personal = f"user:{expert.user['id']}"
    await follower.send({"type": "subscribe", "id": "u", "topic": personal})
    await follower.receive_type("subscribed")

    status, _ = await commander.post(
        f"/api/rooms/{room_id}/messages", {"client_id": "m1", "text": "Evacuate?"}
    )
    assert status == 201
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await next_event(follower, "room.message")
            if message.get("kind") != "system":
                break
    assert message["text"] == "Evacuate?"

    status, _ = await commander.post(
        f"/api/rooms/{room_id}/remove", {"user_id": expert.user["id"]}
    )
    assert status == 200
    removed = await next_event(follower, "room.removed")
    assert removed["room_id"] == room_id
    status, _ = await commander.post(
        f"/api/rooms/{room_id}/messages", {"client_id": "m2", "text": "Not for you"}
    )
    assert status == 201
    # Invited again after that message: A's events reach B in order, so when
    # the invitation arrives the message would have arrived before it.
    status, _ = await commander.post(
        f"/api/rooms/{room_id}/invite", {"user_ids": [expert.user["id"]]}
    )
    assert status == 200
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = await follower.receive()
            assert frame.get("topic") != f"room:{room_id}", frame
            if frame.get("topic") == personal and frame.get("event") == "room.invited":
                break
    for client in (commander, expert):
        client.close_sockets()


async def presence_of(socket, wanted: set[str]) -> list[str]:
    """The room.presence lists seen on ``socket`` until one is ``wanted``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            present = (await next_event(socket, "room.presence"))["present"]
            if set(present) == wanted:
                return present


async def test_a_rooms_presence_names_its_followers_on_both_processes(nodes):
    """The commander follows the room on A, the expert on B: each sees both
    present; the expert leaves and A's list drops them; B stopping for good
    (killed) takes its followers off the list once it is found dead."""
    commander, expert, room_id = await room_across(nodes, "Flood")
    b = nodes.processes["B"]
    sockets = {}
    for name, client in (("commander", commander), ("expert", expert)):
        socket = sockets[name] = await client.websocket()
        await socket.receive_type("welcome")
        await socket.send({"type": "room.join", "id": "j", "room_id": room_id})
        await socket.receive_type("subscribed")
    both = {commander.user["id"], expert.user["id"]}
    await presence_of(sockets["commander"], both)
    await presence_of(sockets["expert"], both)
    status, body = await commander.get(f"/api/rooms/{room_id}")
    assert status == 200 and set(body["room"]["present"]) == both, body

    await sockets["expert"].send({"type": "room.leave", "id": "l", "room_id": room_id})
    await presence_of(sockets["commander"], {commander.user["id"]})
    await sockets["expert"].send({"type": "room.join", "id": "k", "room_id": room_id})
    await presence_of(sockets["commander"], both)
    b.process.kill()
    await presence_of(sockets["commander"], {commander.user["id"]})
    for client in (commander, expert):
        client.close_sockets()


async def test_a_restarted_node_resumes_its_change_stream_where_it_stopped(nodes):
    """B keeps its resume token; started again under its name, it resumes
    from it, and what A published while B was down reaches B's hub."""
    await nodes.seed(claim_window_s=60, officers=0)
    a, b = nodes.start("A"), nodes.start("B")
    a.wait_healthy()
    b.wait_healthy()
    person = await nodes.citizen("A")
    await raise_at_scene(person)  # events from A that B follows
    async with asyncio.timeout(TIMEOUT):
        while True:
            saved = await nodes.db.cluster_nodes.find_one({"_id": "B"})
            if saved and saved.get("resume_token"):
                break
            await asyncio.sleep(0.2)
    b.process.send_signal(signal.SIGTERM)
    assert b.wait_exit() == 0, b.output()
    missed = await raise_at_scene(person)  # published while B is down

    again = nodes.start("B")
    again.wait_healthy()
    assert "cluster node B started (resuming)" in again.output()
    # The batches A wrote while B was down (the alarm raised meanwhile among
    # them) were replayed to B from its token, not skipped.
    async with asyncio.timeout(TIMEOUT):
        while True:
            lines = [t for t in again.output().splitlines() if "resumed:" in t]
            if lines:
                break
            await asyncio.sleep(0.2)
    [line] = lines
    assert int(line.split("resumed: ")[1].split()[0]) >= 1, line
    commander = await nodes.staff("B", "commander")
    status, body = await commander.get("/api/command/alarms")
    assert status == 200 and missed in [alarm["id"] for alarm in body["alarms"]]


async def test_events_whose_write_failed_reach_the_other_process_once_it_works(
    nodes,
):
    """A's batches are refused by the database for a while (a validator on
    cluster_events, as a write to a database away would fail): the offer to
    the officer on B is held, in order, and reaches B with the next batch
    that gets through."""
    names = await nodes.seed(claim_window_s=120, officers=1)
    a, b = nodes.start("A"), nodes.start("B")
    a.wait_healthy()
    b.wait_healthy()
    near = (SCENE[0] + 0.001, SCENE[1])
    officer, socket = await nodes.officer("B", names[0], *near)
    await nodes.known_to_others("B", [officer.user["id"]])
    person = await nodes.citizen("A")

    refuse = {"origin": {"$ne": "A"}}
    await nodes.db.command("collMod", "cluster_events", validator=refuse)
    try:
        alarm_id = await raise_at_scene(person)
        await logged(a, "cluster events not sent")
        # Nothing of A's got through meanwhile.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(next_event(socket, "offer.new"), 1.0)
    finally:
        await nodes.db.command("collMod", "cluster_events", validator={})
    offer = await next_event(socket, "offer.new")
    assert offer["alarm_id"] == alarm_id
    await logged(a, "cluster events flowing again")
    officer.close_sockets()
    person.close_sockets()

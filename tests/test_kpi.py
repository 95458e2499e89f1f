"""The assessment board: what each officer and station did with their offers."""

from __future__ import annotations

import datetime as dt

import pytest
from bson import ObjectId

from server import access, kpi
from server import app as app_module
from server.handlers import route
from server.handlers.kpi import KpiHandler
from tests.test_alarms import citizen, open_all_day, raise_alarm

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def kpi_served(monkeypatch):
    """Serve /api/kpi and its permission until the lead adds them."""
    if "kpi.read" not in access.PERMISSIONS:
        monkeypatch.setitem(
            access.PERMISSIONS, "kpi.read", frozenset({access.COMMANDER, access.ADMIN})
        )
    original = app_module.routes

    def routes(config):
        rules = original(config)
        if any(getattr(r, "template", None) == "/api/kpi" for r in rules):
            return rules
        return [route("/api/kpi", KpiHandler), *rules]

    monkeypatch.setattr(app_module, "routes", routes)


async def stations(live_server) -> None:
    await live_server.platform.db.stations.insert_many(
        [
            {"_id": "s-north", "tenant_id": "t1", "name": "North station"},
            {"_id": "s-south", "tenant_id": "t1", "name": "South station"},
            {"_id": "s-quiet", "tenant_id": "t1", "name": "Quiet station"},
        ]
    )


async def officer_online(live_server, station_id: str, lon: float, lat: float):
    """An on-duty officer of ``station_id`` with an open socket near the scene."""
    username, password = await live_server.create_user(
        ["officer"], "t1", station_id=station_id
    )
    client = live_server.client()
    status, body = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    client.user = body["user"]
    await client.post("/api/officer/duty", {"duty": "on"})
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "position", "lon": lon, "lat": lat, "accuracy": 10})
    await settled(socket)
    return client, socket


async def settled(socket) -> None:
    """A ping round trip: every message sent before it has been handled."""
    await socket.send({"type": "ping", "id": "p"})
    await socket.receive_type("pong")


async def ack(socket, alarm_id: str, seen: bool) -> None:
    """What the officer app sends when an offer arrives (and is on screen)."""
    await socket.send({"type": "offer.ack", "alarm_id": alarm_id, "seen": seen})
    await settled(socket)


def by_id(board: dict) -> dict[str, dict]:
    return {row["id"]: row for row in board["rows"]}


async def test_the_board_tells_a_bad_connection_from_a_pass(live_server):
    await open_all_day(live_server)
    await stations(live_server)
    a, a_ws = await officer_online(live_server, "s-north", 118.791, 32.071)
    b, b_ws = await officer_online(live_server, "s-north", 118.792, 32.071)
    c, c_ws = await officer_online(live_server, "s-south", 118.793, 32.071)
    person = await citizen(live_server)

    # First alarm: A sees it and claims; B declines; C's phone never confirms.
    _, body = await raise_alarm(person)
    first = body["alarm"]["id"]
    await ack(a_ws, first, seen=True)
    await ack(b_ws, first, seen=False)
    status, _ = await b.post(f"/api/alarms/{first}/decline", {"reason": "off sick"})
    assert status == 200
    assert (await a.post(f"/api/alarms/{first}/claim"))[0] == 200
    for step in ("en_route", "arrived"):
        await a.post(f"/api/alarms/{first}/progress", {"status": step})
    await a.post(
        f"/api/alarms/{first}/progress", {"status": "resolved", "note": "Settled"}
    )
    assert (await person.post(f"/api/alarms/{first}/rating", {"stars": 4}))[0] == 200

    # Second alarm: C claims without acknowledging; A saw it and let it pass;
    # B's phone got it but B never looked.
    _, body = await raise_alarm(await citizen(live_server))
    second = body["alarm"]["id"]
    await ack(a_ws, second, seen=True)
    await ack(b_ws, second, seen=False)
    assert (await c.post(f"/api/alarms/{second}/claim"))[0] == 200

    commander = await live_server.signed_in(["commander"], "t1")
    status, board = await commander.get("/api/kpi")
    assert status == 200 and board["group"] == "officer"
    rows = by_id(board)
    ra, rb, rc = rows[a.user["id"]], rows[b.user["id"]], rows[c.user["id"]]
    assert ra["name"] == a.user["name"] and ra["station_id"] == "s-north"
    assert _counts(ra) == (2, 2, 2, 1, 0, 1, 0, 0)
    assert _counts(rb) == (2, 2, 1, 0, 1, 0, 1, 0)
    assert rb["decline_reasons"] == {"off sick": 1}
    # C's first offer never reached the phone: undelivered, not a pass. The
    # second was claimed, which proves it was seen though never acknowledged.
    assert _counts(rc) == (2, 1, 1, 1, 0, 0, 0, 1)
    assert ra["resolutions"] == 1 and (ra["avg_rating"], ra["ratings"]) == (4.0, 1)
    assert ra["median_claim_s"] >= 0 and ra["median_arrive_s"] >= 0
    assert rc["median_claim_s"] >= 0 and rc["median_arrive_s"] is None
    assert rb["median_claim_s"] is None and rb["resolutions"] == 0

    status, board = await commander.get("/api/kpi?group=station")
    assert status == 200
    rows = by_id(board)
    north, south = rows["s-north"], rows["s-south"]
    assert north["name"] == "North station"
    assert _counts(north) == (4, 4, 3, 1, 1, 1, 1, 0)
    assert _counts(south) == (2, 1, 1, 1, 0, 0, 0, 1)
    assert north["resolutions"] == 1 and north["avg_rating"] == 4.0
    assert rows["s-quiet"]["offers_received"] == 0
    for socket in (a_ws, b_ws, c_ws):
        socket.close()


def _counts(row: dict) -> tuple:
    return tuple(row[name] for name in kpi.COUNTS)


# -- edge cases on stored documents ---------------------------------------------


def minutes_ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def actor(officer_id: str) -> dict:
    return {"kind": "staff", "id": officer_id, "name": "x"}


def claimed_alarm(officer_id, station, claim_s, arrive_s=None, stars=None, at=60):
    """An alarm raised ``at`` minutes ago, claimed and perhaps finished."""
    created = minutes_ago(at)
    assigned = created + dt.timedelta(seconds=claim_s)
    history = [
        {"status": "offering", "at": created, "actor": {"kind": "citizen"}},
        {"status": "assigned", "at": assigned, "actor": actor(officer_id)},
    ]
    if arrive_s is not None:
        arrived = assigned + dt.timedelta(seconds=arrive_s)
        history += [
            {"status": "arrived", "at": arrived, "actor": actor(officer_id)},
            {"status": "resolved", "at": arrived, "actor": actor(officer_id)},
        ]
    return {
        "_id": ObjectId(),
        "tenant_id": "t1",
        "status": history[-1]["status"],
        "created_at": created,
        "updated_at": history[-1]["at"],
        "assignee": {
            "officer_id": officer_id,
            "station_id": station,
            "assigned_at": assigned,
            "via": "claim",
        },
        "history": history,
        "rating": stars and {"stars": stars, "at": history[-1]["at"]},
    }


def offer(officer_id, station, outcome, delivered=False, seen=False, at=30):
    sent = minutes_ago(at)
    return {
        "_id": f"{ObjectId()}:{officer_id}",
        "tenant_id": "t1",
        "alarm_id": ObjectId(),
        "officer_id": officer_id,
        "station_id": station,
        "round": 1,
        "distance_m": 300,
        "channel": "websocket",
        "sent_at": sent,
        "delivered_at": sent if delivered or seen else None,
        "seen_at": sent if seen else None,
        "outcome": outcome,
    }


async def an_officer(live_server, station="s-north") -> str:
    username, _ = await live_server.create_user(["officer"], "t1", station_id=station)
    user = await live_server.platform.db.users.find_one({"username": username})
    return str(user["_id"])


async def test_medians_periods_and_what_counts_as_a_pass(live_server):
    db = live_server.platform.db
    x = await an_officer(live_server)
    y = await an_officer(live_server, "s-south")
    dispatched = claimed_alarm(x, "s-north", 0, arrive_s=400)
    created = dispatched["created_at"]
    # Escalated after a minute, dispatched after two, arrived 400 s later.
    dispatched["history"][1:2] = [
        {"status": "escalated", "at": created + dt.timedelta(seconds=60)},
        {
            "status": "assigned",
            "at": created + dt.timedelta(seconds=120),
            "actor": actor("commander-1"),
        },
    ]
    for entry in dispatched["history"][3:]:
        entry["at"] = created + dt.timedelta(seconds=520)
    await db.alarms.insert_many(
        [
            claimed_alarm(x, "s-north", 10, arrive_s=100, stars=5),
            claimed_alarm(x, "s-north", 60, arrive_s=300, stars=3),
            claimed_alarm(x, "s-north", 20),
            dispatched,  # no claim; arrival 400 s after the dispatch
            claimed_alarm(x, "s-north", 1, arrive_s=1, at=60 * 24 * 10),  # earlier
            claimed_alarm(y, "s-south", 30, arrive_s=50),
        ]
    )
    await db.offers.insert_many(
        [
            offer(x, "s-north", "expired"),  # never reached the phone
            offer(x, "s-north", "lost"),  # never reached the phone either
            offer(x, "s-north", "expired", seen=True),  # seen, let pass
            offer(x, "s-north", "expired", delivered=True),  # on the phone, unseen
            offer(x, "s-north", "open"),  # still running: not judged yet
            offer(x, "s-north", "cancelled", seen=True),  # citizen withdrew
            offer(x, "s-north", "claimed", seen=True),
            offer(x, "s-north", "expired", at=60 * 24 * 10),  # earlier period
        ]
    )
    start, end = minutes_ago(60 * 24), NOW + dt.timedelta(minutes=1)
    rows = {r["id"]: r for r in await kpi.board(db, "t1", start, end, "officer")}
    row = rows[x]
    assert row["offers_received"] == 7
    assert row["offers_undelivered"] == 2 and row["offers_missed_seen"] == 1
    assert row["offers_unseen"] == 1 and row["offers_claimed"] == 1
    assert row["offers_seen"] == 3 and row["offers_delivered"] == 4
    assert row["median_claim_s"] == 20.0  # of 10, 20 and 60
    assert row["median_arrive_s"] == 300.0  # of 100, 300 and 400
    assert (row["resolutions"], row["avg_rating"], row["ratings"]) == (3, 4.0, 2)

    stations = await kpi.board(db, "t1", start, end, "station")
    north = next(r for r in stations if r["id"] == "s-north")
    south = next(r for r in stations if r["id"] == "s-south")
    assert north["median_claim_s"] == 20.0 and north["offers_received"] == 7
    assert (south["median_claim_s"], south["median_arrive_s"]) == (30.0, 50.0)


async def test_sorting_and_bad_queries(live_server):
    db = live_server.platform.db
    fast, slow, idle = [await an_officer(live_server) for _ in range(3)]
    await db.alarms.insert_many(
        [claimed_alarm(fast, "s-north", 5), claimed_alarm(slow, "s-north", 50)]
    )
    await db.offers.insert_many(
        [offer(fast, "s-north", "claimed", seen=True)]
        + [offer(slow, "s-north", "expired") for _ in range(3)]
    )
    commander = await live_server.signed_in(["commander"], "t1")
    _, board = await commander.get("/api/kpi?sort=median_claim_s&order=asc")
    assert [r["id"] for r in board["rows"]] == [fast, slow, idle]  # None last
    _, board = await commander.get("/api/kpi?sort=median_claim_s&order=desc")
    assert [r["id"] for r in board["rows"]] == [slow, fast, idle]
    _, board = await commander.get("/api/kpi?sort=offers_undelivered")
    assert board["order"] == "desc" and board["rows"][0]["id"] == slow

    today = dt.datetime.now(dt.UTC).date()
    for query, reason in [
        ("sort=decline_reasons", "bad_sort"),
        ("order=up", "bad_order"),
        ("group=team", "bad_group"),
        ("from=yesterday", "bad_date"),
        ("from=2026-02-30", "bad_date"),
        ("from=2026-03-02&to=2026-03-01", "bad_period"),
        (f"from={today - dt.timedelta(days=93)}&to={today}", "bad_period"),
    ]:
        status, body = await commander.get(f"/api/kpi?{query}")
        assert (status, body["reason"]) == (400, reason), query
    status, board = await commander.get(
        f"/api/kpi?from={today - dt.timedelta(days=92)}&to={today}"
    )
    assert status == 200 and board["from"] == str(today - dt.timedelta(days=92))


async def test_only_the_own_tenants_commanders_and_admins_see_it(live_server):
    db = live_server.platform.db
    x = await an_officer(live_server)
    await db.offers.insert_one(offer(x, "s-north", "expired"))
    await db.alarms.insert_one(claimed_alarm(x, "s-north", 5))
    for role in ("commander", "admin"):
        _, board = await (await live_server.signed_in([role], "t1")).get("/api/kpi")
        assert x in by_id(board)
    other = await live_server.signed_in(["commander"], "t2")
    status, board = await other.get("/api/kpi")
    assert status == 200 and board["rows"] == []
    status, board = await other.get("/api/kpi?group=station")
    assert status == 200 and board["rows"] == []
    officer = await live_server.signed_in(["officer"], "t1")
    status, body = await officer.get("/api/kpi")
    assert (status, body["reason"]) == (403, "role")
    assert (await live_server.client().get("/api/kpi"))[0] == 401

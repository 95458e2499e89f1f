"""Offer acknowledgements from open apps: held, merged and written in bulk."""

from __future__ import annotations

import datetime as dt

import pytest
from bson import ObjectId
from pymongo.errors import PyMongoError

from server.realtime import acks as acks_module
from server.realtime.acks import OfferAcks
from tests.test_alarms import (
    citizen,
    next_event,
    officer_online,
    open_all_day,
    raise_alarm,
)


async def offered(live_server) -> tuple:
    """Two officers with an offer each; their sockets, ids and offer ids."""
    await open_all_day(live_server)
    officers = [
        await officer_online(live_server, 118.791, 32.071),
        await officer_online(live_server, 118.792, 32.071),
    ]
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    for _, ws in officers:
        await next_event(ws, "offer.new")
    keys = [f"{ObjectId(alarm_id)}:{c.user['id']}" for c, _ in officers]
    return alarm_id, officers, keys


async def acknowledge(ws, alarm_id: str, seen: bool) -> None:
    await ws.send({"type": "offer.ack", "alarm_id": alarm_id, "seen": seen})
    # A ping answered proves the acknowledgement was handled before it.
    await ws.send({"type": "ping", "id": "p"})
    await ws.receive_type("pong")


async def test_delivered_and_seen_become_one_update_of_the_offer(
    live_server, monkeypatch
):
    monkeypatch.setattr(acks_module, "HOLD_S", 3600.0)  # written when told
    platform = live_server.platform
    alarm_id, officers, keys = await offered(live_server)
    for _, ws in officers:
        await acknowledge(ws, alarm_id, seen=False)
        await acknowledge(ws, alarm_id, seen=True)
    # Waiting in memory, and known there to the push fallback.
    assert all(platform.push.acknowledged(key) for key in keys)
    record = await platform.db.offers.find_one({"_id": keys[0]})
    assert record["delivered_at"] is None and record["seen_at"] is None
    updates = platform.db_timer.totals.get(("update", "offers"), [0])[0]
    assert await platform.dispatcher.acks.flush(everything=True) == 2
    # Four messages, two offers: one bulk write of two updates.
    assert platform.db_timer.totals[("update", "offers")][0] - updates == 1
    for key in keys:
        record = await platform.db.offers.find_one({"_id": key})
        assert record["delivered_at"] <= record["seen_at"]
        assert not platform.push.acknowledged(key)
    # A later acknowledgement keeps the first times.
    first = await platform.db.offers.find_one({"_id": keys[0]})
    await acknowledge(officers[0][1], alarm_id, seen=True)
    await platform.dispatcher.acks.flush(everything=True)
    again = await platform.db.offers.find_one({"_id": keys[0]})
    assert (again["delivered_at"], again["seen_at"]) == (
        first["delivered_at"],
        first["seen_at"],
    )
    for _, ws in officers:
        ws.close()


async def test_a_claim_writes_the_alarms_waiting_acknowledgements(
    live_server, monkeypatch
):
    monkeypatch.setattr(acks_module, "HOLD_S", 3600.0)  # only the claim writes
    platform = live_server.platform
    alarm_id, officers, keys = await offered(live_server)
    (winner, winner_ws), (_, loser_ws) = officers
    await acknowledge(loser_ws, alarm_id, seen=False)
    status, _ = await winner.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200
    record = await platform.db.offers.find_one({"_id": keys[1]})
    assert record["outcome"] == "lost" and record["delivered_at"] is not None
    assert record["seen_at"] is None
    assert not platform.dispatcher.acks.pending(keys[1])
    for ws in (winner_ws, loser_ws):
        ws.close()


async def test_held_acknowledgements_wait_and_survive_a_failed_write(db, monkeypatch):
    monkeypatch.setattr(acks_module, "HOLD_S", 3600.0)
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    await db.offers.insert_many(
        [{"_id": f"a:{n}", "delivered_at": None, "seen_at": None} for n in (1, 2)]
    )
    acks = OfferAcks(db)
    acks.note("a:1", seen=False, at=at)
    acks.note("a:1", seen=True, at=at + dt.timedelta(seconds=1))
    acks.note("a:2", seen=False, at=at)
    assert await acks.flush() == 0  # still within the hold
    # The database refuses the writes (a validator no offer passes now).
    refuse = {"delivered_at": {"$type": "string"}}
    await db.command("collMod", "offers", validator=refuse)
    with pytest.raises(PyMongoError):
        await acks.flush(everything=True)
    assert acks.pending("a:1") and acks.pending("a:2")
    await db.command("collMod", "offers", validator={})
    assert await acks.flush(everything=True) == 2
    one = await db.offers.find_one({"_id": "a:1"})
    assert one["delivered_at"] == at
    assert one["seen_at"] - one["delivered_at"] == dt.timedelta(seconds=1)
    assert (await db.offers.find_one({"_id": "a:2"}))["seen_at"] is None

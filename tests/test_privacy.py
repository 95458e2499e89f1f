"""Citizens' phone numbers: kept apart, expiring, shown to few, exported by none.

A citizen may leave a phone number when accepting the terms. It is stored in
``citizen_contacts`` with an expiry that a TTL index enforces, never in the
alarm or its views and events, and read only through
``GET /api/alarms/{id}/contact`` by the assigned officer or the command room
of the alarm's agency, every read audited.
"""

from __future__ import annotations

import datetime as dt

from tests.test_alarms import SCENE, next_event, officer_online, open_all_day

PHONE = "13912345678"


async def citizen_with_phone(live_server):
    client = live_server.client()
    _, terms = await client.get("/api/terms")
    status, body = await client.post(
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"], "phone": PHONE},
    )
    assert status == 200, body
    client.user = body["user"]
    return client


async def test_the_number_is_stored_apart_and_expires_by_ttl(live_server):
    db = live_server.platform.db
    person = await citizen_with_phone(live_server)
    citizen = await db.citizens.find_one({})
    assert "phone" not in citizen and citizen["has_phone"] is True
    contact = await db.citizen_contacts.find_one({"_id": person.user["id"]})
    assert contact["phone"] == PHONE
    days = live_server.platform.config.security.citizen_phone_days
    left = contact["expires_at"].replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=days - 1) < left <= dt.timedelta(days=days)
    indexes = await db.citizen_contacts.index_information()
    ttl = [i for i in indexes.values() if i["key"] == [("expires_at", 1)]]
    assert ttl and ttl[0]["expireAfterSeconds"] == 0


async def test_only_the_assigned_officer_and_the_command_room_read_it(live_server):
    await open_all_day(live_server)
    (winner, winner_ws), (other, other_ws) = [
        await officer_online(live_server, SCENE[0], SCENE[1]),
        await officer_online(live_server, SCENE[0] + 0.001, SCENE[1]),
    ]
    person = await citizen_with_phone(live_server)
    status, body = await person.post(
        "/api/alarms", {"category": "noise", "lon": SCENE[0], "lat": SCENE[1]}
    )
    assert status == 201, body
    alarm_id = body["alarm"]["id"]
    offer = await next_event(other_ws, "offer.new")
    path = f"/api/alarms/{alarm_id}/contact"
    # Offered is not enough: nobody has it before the claim.
    assert (await winner.get(path))[0] == 404
    status, claimed = await winner.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200, claimed

    assert await winner.get(path) == (200, {"phone": PHONE})
    commander = await live_server.signed_in(["commander"])
    assert await commander.get(path) == (200, {"phone": PHONE})
    assert (await other.get(path))[0] == 404
    assert (await (await live_server.signed_in(["commander"], "t2")).get(path))[
        0
    ] == 404
    assert (await person.get(path))[0] == 403
    expert = await live_server.signed_in(["expert"])
    assert (await expert.get(path))[0] == 403

    # Every read is in the audit log, without the number.
    audit = live_server.platform.audit
    assert await audit.flush()
    reads = await audit.collection.find({"action": "alarm.contact"}).to_list()
    assert len(reads) == 2
    assert all(PHONE not in str(entry) for entry in reads)

    # Nothing else carries it: views, lists, feeds, events, exports.
    admin = await live_server.signed_in(["admin"])
    answers = [
        await winner.get(f"/api/alarms/{alarm_id}"),
        await commander.get(f"/api/alarms/{alarm_id}"),
        await commander.get("/api/command/alarms"),
        await commander.get("/api/alarms.geojson"),
        await person.get(f"/api/alarms/{alarm_id}"),
        await live_server.client().get("/open311/v2/requests.json"),
        await live_server.client().get(f"/open311/v2/requests/{alarm_id}.json"),
        await admin.get("/api/audit"),
        await admin.get("/api/audit/export.csv"),
        claimed,
    ]
    for answer in answers:
        assert PHONE not in str(answer)
    assert PHONE not in str(offer)

    # Once the number has expired (the TTL monitor deletes it), there is none.
    await live_server.platform.db.citizen_contacts.delete_many({})
    assert await winner.get(path) == (200, {"phone": None})
    for socket in (winner_ws, other_ws):
        socket.close()

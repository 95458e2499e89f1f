"""The audit log: privileged acts recorded, chained, searchable, verifiable."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import sys

import orjson

from server.audit import AuditLog, entry_hash
from tests.test_alarms import SCENE, citizen, next_event, officer_online, open_all_day
from tests.test_alarms import raise_alarm as _raise_alarm
from tests.test_tasks import publish


async def entries(live_server, chain="t1", **query) -> list[dict]:
    audit = live_server.platform.audit
    await audit.flush()
    cursor = audit.collection.find({"chain": chain, **query}).sort("seq", 1)
    return await cursor.to_list()


async def verify_command(config, tmp_path, *extra) -> tuple[int, str]:
    """``python -m server.audit verify`` against the test's database."""
    settings = tmp_path / "jingdi.toml"
    settings.write_text(f'[database]\nname = "{config.database.name}"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.audit",
        "verify",
        "--config",
        str(settings),
        "--uri",
        config.database.uri,
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_privileged_acts_are_recorded_and_the_chain_verifies(live_server):
    await open_all_day(live_server)
    username, password = await live_server.create_user(["officer"])
    client = live_server.client()
    status, _ = await client.post(
        "/api/auth/login", {"username": username, "password": "hunter2-wrong"}
    )
    assert status == 401
    status, body = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200
    officer, socket = await officer_online(live_server, *SCENE)
    status, body = await _raise_alarm(await citizen(live_server))
    assert status == 201
    alarm_id = body["alarm"]["id"]
    await next_event(socket, "offer.new")
    status, _ = await officer.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200
    rival, _ = await officer_online(live_server, *SCENE)
    status, _ = await rival.post(f"/api/alarms/{alarm_id}/claim")
    assert status in (403, 409)

    found = await entries(live_server)
    actions = [(e["action"], e["outcome"]) for e in found]
    assert ("auth.login", "refused") in actions
    assert ("auth.login", "ok") in actions
    assert ("alarm.assigned", "ok") in actions
    assert ("alarm.claim", "refused") in actions
    assigned = next(e for e in found if e["action"] == "alarm.assigned")
    assert assigned["actor"]["id"] == officer.user["id"]
    assert assigned["target"] == {"type": "alarm", "id": alarm_id}
    assert assigned["detail"] == {
        "to": "assigned",
        "officer_id": officer.user["id"],
        "via": "claim",
    }
    # Numbered without gaps and linked, each hash its own content's.
    assert [e["seq"] for e in found] == list(range(1, len(found) + 1))
    for before, after in itertools.pairwise(found):
        assert after["prev"] == before["hash"]
    assert all(entry_hash(e) == e["hash"] for e in found)
    assert await live_server.platform.audit.verify() == []
    # Neither the password tried nor the one used, nor a session token.
    text = orjson.dumps(
        await live_server.platform.audit.collection.find().to_list(), default=str
    ).decode()
    for secret in (
        "hunter2-wrong",
        password,
        client.cookies.get("jingdi_session", "?"),
    ):
        assert secret not in text


async def test_an_edited_or_deleted_entry_is_detected(live_server, config, tmp_path):
    for _ in range(4):
        await live_server.signed_in(["officer"])
    found = await entries(live_server)
    assert len(found) == 4
    audit = live_server.platform.audit
    assert await audit.verify("t1") == []
    # Someone with database access rewrites who logged in...
    await audit.collection.update_one(
        {"_id": found[1]["_id"]}, {"$set": {"actor.name": "somebody else"}}
    )
    problems = await audit.verify("t1")
    assert problems == [
        {"chain": "t1", "seq": 2, "problem": "entry changed after it was written"}
    ]
    # ...and deletes an entry.
    await audit.collection.delete_one({"_id": found[2]["_id"]})
    problems = await audit.verify("t1")
    assert {"chain": "t1", "seq": 4, "problem": "missing entry 3"} in problems
    assert {
        "chain": "t1",
        "seq": 4,
        "problem": "link to the previous entry broken",
    } in (problems)
    # The command an operator runs says so, and fails.
    code, output = await verify_command(config, tmp_path, "--chain", "t1")
    assert code == 1, output
    assert "chain t1 seq 2: entry changed after it was written" in output
    assert "audit log BROKEN: 1 chains, 3 entries checked" in output


async def test_the_verify_command_passes_an_intact_log(live_server, config, tmp_path):
    await live_server.signed_in(["officer"])
    await live_server.signed_in(["commander"], tenant_id="t2")
    await entries(live_server)
    code, output = await verify_command(config, tmp_path)
    assert code == 0, output
    assert "audit log intact: 2 chains, 2 entries checked" in output


async def test_another_agencys_task_read_by_id_is_refused_and_audited(live_server):
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander)
    outsider = await live_server.signed_in(["officer"], tenant_id="t2")
    status, body = await outsider.get(f"/api/tasks/{task['id']}")
    assert (status, body["reason"]) == (404, "not_found")
    [refused] = await entries(live_server, "t2", action="access.refused")
    assert refused["outcome"] == "refused"
    assert refused["actor"]["id"] == outsider.user["id"]
    assert refused["target"] == {"type": "route", "id": "GET /api/tasks/{task_id}"}
    assert refused["detail"]["path"] == f"/api/tasks/{task['id']}"
    # Over the websocket too: following another agency's board.
    socket = await outsider.websocket()
    await socket.send({"type": "subscribe", "topic": "tasks:t1"})
    await socket.receive_type("error")
    refusals = await entries(live_server, "t2", action="access.refused")
    assert refusals[-1]["target"] == {"type": "message", "id": "subscribe"}
    assert refusals[-1]["detail"]["topic"] == "tasks:t1"


async def test_admins_search_and_export_their_own_agencys_log(live_server):
    admin = await live_server.signed_in(["admin"])
    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, needed=1)
    status, _, _ = await commander.request("GET", f"/api/tasks/{task['id']}/roster.csv")
    assert status == 200
    await live_server.platform.audit.flush()
    status, body = await admin.get("/api/audit?action=task.")
    assert status == 200, body
    assert [e["action"] for e in body["entries"]] == ["task.export", "task.publish"]
    status, body = await admin.get(f"/api/audit?actor={commander.user['id']}&limit=1")
    assert [e["action"] for e in body["entries"]] == ["task.export"]
    status, body = await admin.get("/api/audit?chain=t2")
    assert status == 404
    status, body = await admin.get("/api/audit?outcome=maybe")
    assert (status, body["reason"]) == (400, "bad_outcome")
    status, body = await commander.get("/api/audit")
    assert (status, body["reason"]) == (403, "role")
    status, _, response = await admin.request(
        "GET", "/api/audit/export.csv?action=auth."
    )
    assert status == 200
    rows = list(csv.reader(io.StringIO(response.body.decode("utf-8-sig"))))
    assert rows[0][:6] == ["seq", "at", "actor_id", "actor_name", "roles", "action"]
    assert {row[5] for row in rows[1:]} == {"auth.login"}
    assert len(rows) == 3  # the two logins
    status, body = await admin.get("/api/audit/verify")
    assert (status, body["intact"]) == (200, True)
    exported = await entries(live_server, action="audit.export")
    assert exported[0]["detail"] == {"rows": 2}


async def test_two_writers_on_one_chain_keep_it_whole(live_server):
    """Two processes' writers (two AuditLog objects) append to one chain."""
    platform = live_server.platform
    other = AuditLog(platform.db)
    other.start()
    try:
        for number in range(60):
            writer = platform.audit if number % 2 else other
            writer.record(None, "test.entry", tenant_id="t9", detail={"n": number})
            if number % 7 == 0:
                await asyncio.sleep(0)
        await asyncio.gather(platform.audit.flush(), other.flush())
    finally:
        await other.close()
    stored = await platform.audit.collection.find({"chain": "t9"}).to_list()
    assert sorted(e["seq"] for e in stored) == list(range(1, 61))
    assert await platform.audit.verify("t9") == []


async def test_a_muster_and_its_export_are_recorded(live_server):
    from tests.test_musters import started

    commander = await live_server.signed_in(["commander"])
    muster = await started(commander)
    path = f"/api/musters/{muster['id']}"
    status, _, _ = await commander.request("GET", f"{path}/cap")
    assert status == 200
    status, _ = await commander.post(f"{path}/end", {"note": "Contained"})
    assert status == 200
    found = await entries(live_server, action={"$regex": "^muster\\."})
    assert [e["action"] for e in found] == [
        "muster.start",
        "muster.export",
        "muster.ended",
    ]
    assert {e["target"]["id"] for e in found} == {muster["id"]}
    assert found[0]["detail"]["radius_m"] == 1000

"""Hardening across the platform: headers, cookies, injection, logs, limits, storage.

Each section proves one promise for every kind of answer or endpoint it
names: the security headers on pages, API answers, errors, static files and
the websocket refusal (HSTS and Secure cookies only over TLS, which the
platform learns from a trusted proxy); operators in JSON bodies, query strings
and path ids refused with a clear 4xx and never matching; control characters
never splitting a log line; an oversized body refused before it is read; and
a storage failure during an upload leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import logging
import sys
from urllib.parse import quote

import gridfs
import orjson
import pytest
import tornado.netutil
from bson import ObjectId
from pymongo.errors import WriteError

import run
from server import experts
from server.app import make_app
from server.auth import token_key
from server.httpserver import make_server
from server.logs import OneLineFormatter, one_line
from tests.helpers import ApiClient, multipart, square
from tests.test_alarms import citizen, open_all_day, raise_alarm
from tests.test_experts import _application as expert_application
from tests.test_rooms import jpeg, next_event, room_with_experts, send, upload
from tests.test_tasks import iso, publish, task_body

TIMEOUT = 10
FORWARDED_TLS = {"X-Forwarded-Proto": "https"}


# -- security headers on every kind of answer ----------------------------------


def assert_security_headers(response, tls: bool = False) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in csp.split(";") if part
    )
    assert "script-src" in directives, csp
    assert "'unsafe-inline'" not in directives["script-src"], csp
    assert "'unsafe-eval'" not in directives["script-src"], csp
    assert directives.get("frame-ancestors") == "'none'", csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "same-origin"
    if tls:
        assert headers.get("Strict-Transport-Security") == "max-age=31536000"
    else:
        assert "Strict-Transport-Security" not in headers


WEBSOCKET_HANDSHAKE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def sign_in(live_server, client: ApiClient, headers=None) -> ApiClient:
    """``client`` signed in as a new officer."""
    username, password = await live_server.create_user(["officer"])
    status, body, _ = await client.request(
        "POST",
        "/api/auth/login",
        {"username": username, "password": password},
        headers=headers,
    )
    assert status == 200, body
    return client


async def every_kind_of_answer(
    anonymous: ApiClient, member: ApiClient, headers: dict | None = None
):
    """One answer of each kind: (what, expected status, response)."""
    headers = headers or {}
    page = {"Accept": "text/html", **headers}
    handshake = {**WEBSOCKET_HANDSHAKE, **headers}
    foreign = {"Origin": "https://elsewhere.example", **handshake}
    requests = [
        ("citizen page", 200, anonymous, "GET", "/citizen", page, None),
        ("login page", 200, anonymous, "GET", "/login", page, None),
        ("page 404", 404, anonymous, "GET", "/no/such/page", page, None),
        ("staff page", 200, member, "GET", "/officer", page, None),
        ("JSON answer", 200, member, "GET", "/api/auth/me", headers, None),
        ("JSON 401", 401, anonymous, "GET", "/api/auth/me", headers, None),
        ("JSON 404", 404, member, "GET", "/api/no-such-thing", headers, None),
        ("JSON 400", 400, anonymous, "POST", "/api/auth/login", headers, b"{nope"),
        ("JSON 405", 405, member, "DELETE", "/api/terms", headers, None),
        ("static file", 200, anonymous, "GET", "/static/css/app.css", headers, None),
        ("service worker", 200, anonymous, "GET", "/sw.js", headers, None),
        ("health", 200, anonymous, "GET", "/healthz", headers, None),
        ("websocket, no session", 403, anonymous, "GET", "/ws", handshake, None),
        ("websocket, foreign origin", 403, member, "GET", "/ws", foreign, None),
    ]
    answers = []
    for what, expected, client, method, path, extra, raw in requests:
        _, _, response = await client.request(method, path, headers=extra, raw=raw)
        answers.append((what, expected, response))
    return answers


async def test_every_kind_of_answer_carries_the_security_headers(live_server):
    member = await sign_in(live_server, live_server.client())
    answers = await every_kind_of_answer(live_server.client(), member)
    for what, expected, response in answers:
        assert response.code == expected, what
        assert_security_headers(response)
        if response.code >= 400 and "json" in response.headers["Content-Type"]:
            body = orjson.loads(response.body)
            assert set(body) == {"message", "reason"}, what


@pytest.fixture
async def behind_proxy(live_server):
    """The same platform served as behind a TLS proxy (``xheaders = true``)."""
    config = live_server.platform.config.replace(server={"xheaders": True})
    server = make_server(make_app(live_server.platform), config)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    client = ApiClient(f"http://127.0.0.1:{sockets[0].getsockname()[1]}")
    live_server.clients.append(client)
    try:
        yield client
    finally:
        server.stop()
        await server.close_all_connections()


async def test_hsts_is_sent_only_for_requests_the_trusted_proxy_got_over_tls(
    live_server, behind_proxy
):
    anonymous = ApiClient(behind_proxy.base_url)
    member = await sign_in(live_server, behind_proxy, FORWARDED_TLS)
    answers = await every_kind_of_answer(anonymous, member, FORWARDED_TLS)
    for what, expected, response in answers:
        assert response.code == expected, what
        assert_security_headers(response, tls=True)
    # The proxy forwarded a plain HTTP request: no HSTS.
    _, _, plain = await behind_proxy.request("GET", "/api/terms")
    assert_security_headers(plain, tls=False)
    # Without xheaders the header is a client's claim, and not believed.
    _, _, claimed = await live_server.client().request(
        "GET", "/api/terms", headers=FORWARDED_TLS
    )
    assert_security_headers(claimed, tls=False)


def cookie_named(response, name: str) -> str:
    found = [c for c in response.headers.get_list("Set-Cookie") if c.startswith(name)]
    assert len(found) == 1, response.headers.get_list("Set-Cookie")
    return found[0]


def cookie_flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


async def test_cookies_over_tls_are_secure_and_session_cookies_httponly_samesite(
    live_server, behind_proxy
):
    username, password = await live_server.create_user(["commander"])
    status, _, xsrf = await behind_proxy.request(
        "GET", "/api/terms", headers=FORWARDED_TLS
    )
    assert status == 200
    assert {"secure", "samesite"} <= cookie_flags(cookie_named(xsrf, "_xsrf"))
    status, body, login = await behind_proxy.request(
        "POST",
        "/api/auth/login",
        {"username": username, "password": password},
        headers=FORWARDED_TLS,
    )
    assert status == 200, body
    staff = cookie_named(login, "jingdi_session")
    assert {"secure", "httponly", "samesite"} <= cookie_flags(staff)
    assert "samesite=lax" in staff.lower()
    # A staff session cookie has no expiry of its own: the server ends it.
    assert not {"expires", "max-age"} & cookie_flags(staff)

    device = ApiClient(behind_proxy.base_url)
    _, terms = await device.get("/api/terms")
    status, body, admitted = await device.request(
        "POST",
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"]},
        headers=FORWARDED_TLS,
    )
    assert status == 200, body
    flags = cookie_flags(cookie_named(admitted, "jingdi_session"))
    assert {"secure", "httponly", "samesite", "expires"} <= flags

    # Over plain HTTP the same cookies cannot be Secure, or the browser
    # would drop them; they stay HttpOnly and SameSite.
    plain = ApiClient(behind_proxy.base_url)
    username, password = await live_server.create_user(["commander"])
    status, _, login = await plain.request(
        "POST", "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200
    flags = cookie_flags(cookie_named(login, "jingdi_session"))
    assert {"httponly", "samesite"} <= flags and "secure" not in flags


# -- staff sessions end after 30 idle minutes ----------------------------------


async def session_of(live_server, client: ApiClient) -> dict:
    key = token_key(client.cookies["jingdi_session"])
    return await live_server.platform.db.sessions.find_one({"_id": key})


async def test_a_staff_session_lasts_thirty_idle_minutes_and_use_extends_it(
    live_server,
):
    assert live_server.platform.config.security.staff_idle_minutes == 30
    idle = dt.timedelta(minutes=30)
    before = dt.datetime.now(dt.UTC)
    client = await live_server.signed_in(["commander"])
    after = dt.datetime.now(dt.UTC)
    session = await session_of(live_server, client)
    expires = session["expires_at"].replace(tzinfo=dt.UTC)
    assert before + idle - dt.timedelta(seconds=1) <= expires <= after + idle

    # 29 idle minutes later the session still works, and the request moves
    # the end to 30 minutes from then.
    key = session["_id"]
    sessions = live_server.platform.db.sessions
    now = dt.datetime.now(dt.UTC)
    await sessions.update_one(
        {"_id": key},
        {
            "$set": {
                "touched_at": now - dt.timedelta(minutes=29),
                "expires_at": now + dt.timedelta(minutes=1),
            }
        },
    )
    before = dt.datetime.now(dt.UTC)
    assert (await client.get("/api/auth/me"))[0] == 200
    renewed = (await sessions.find_one({"_id": key}))["expires_at"]
    assert renewed.replace(tzinfo=dt.UTC) >= before + idle - dt.timedelta(seconds=1)

    # 31 idle minutes: over, and it stays over (the request did not revive it).
    await sessions.update_one(
        {"_id": key},
        {
            "$set": {
                "touched_at": now - dt.timedelta(minutes=31),
                "expires_at": now - dt.timedelta(minutes=1),
            }
        },
    )
    status, body = await client.get("/api/auth/me")
    assert (status, body["reason"]) == (401, "unauthenticated")
    assert (await client.get("/api/auth/me"))[0] == 401
    left = (await sessions.find_one({"_id": key}))["expires_at"]
    assert left.replace(tzinfo=dt.UTC) < dt.datetime.now(dt.UTC)


async def test_an_idle_expired_session_cannot_open_a_websocket(live_server):
    client = await live_server.signed_in(["officer"])
    session = await session_of(live_server, client)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    await live_server.platform.db.sessions.update_one(
        {"_id": session["_id"]}, {"$set": {"expires_at": past}}
    )
    _, _, response = await client.request("GET", "/ws", headers=WEBSOCKET_HANDSHAKE)
    assert response.code == 403
    assert_security_headers(response)


# -- operators where ids and strings are expected -------------------------------

OPERATORS = [
    {"$ne": None},
    {"$gt": ""},
    {"$where": "1"},
    {"$regex": ".*"},
    [{"$ne": None}],
]
PATH_IDS = [
    '{"$where": "1"}',
    '{"$ne": null}',
    "not-an-object-id",
    "$where",
    "[$ne]",
]


def in_path(value: str) -> str:
    return quote(value, safe="")


async def assert_refused(client: ApiClient, method: str, path: str, body=None):
    """A clear 4xx JSON ``{message, reason}``; returns (status, reason)."""
    status, answer, _ = await client.request(method, path, body=body)
    assert 400 <= status < 500, (method, path, body, status, answer)
    assert isinstance(answer, dict) and set(answer) == {"message", "reason"}, answer
    assert answer["message"] and answer["reason"], answer
    return status, answer["reason"]


async def test_login_refuses_operators_for_the_name_and_the_password(live_server):
    username, password = await live_server.create_user(["admin"])
    client = live_server.client()
    bodies = [
        {"username": {"$gt": ""}, "password": {"$ne": ""}},
        {"username": username, "password": {"$ne": ""}},
        {"username": {"$regex": f"^{username[:3]}"}, "password": password},
        {"username": {"$in": [username]}, "password": password},
        {"username": [username], "password": password},
        {"username": username, "password": [password]},
    ]
    for body in bodies:
        status, _ = await assert_refused(client, "POST", "/api/auth/login", body)
        assert status in (400, 401), body
    assert "jingdi_session" not in client.cookies
    assert await live_server.platform.db.sessions.count_documents({}) == 0
    # Still usable with the real credentials: no lock-out from the refusals
    # that never named an account.
    status, _ = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200


@pytest.fixture
async def scene(live_server):
    """An agency with an alarm, a room, a task, a station and every kind of user."""
    await open_all_day(live_server)
    db = live_server.platform.db
    await db.stations.insert_one(
        {
            "_id": "s1",
            "tenant_id": "t1",
            "name": "Lake station",
            "location": {"type": "Point", "coordinates": [118.79, 32.07]},
        }
    )
    person = await citizen(live_server)
    status, raised = await raise_alarm(person, description="Broken gate")
    assert status == 201, raised
    commander, experts, room_id = await room_with_experts(live_server, 1)
    officer = await live_server.signed_in(["officer"])
    admin = await live_server.signed_in(["admin"])
    task = await publish(commander)
    return {
        "citizen": person,
        "alarm_id": raised["alarm"]["id"],
        "commander": commander,
        "expert": experts[0],
        "room_id": room_id,
        "officer": officer,
        "admin": admin,
        "task_id": task["id"],
    }


async def test_operators_in_bodies_are_refused_and_change_nothing(live_server, scene):
    db = live_server.platform.db
    alarm_id, room_id = scene["alarm_id"], scene["room_id"]
    officer_id = scene["officer"].user["id"]
    rooms_before = await db.rooms.find_one({"_id": ObjectId(room_id)})
    users_before = await db.users.find({}).sort("_id").to_list()
    for value in OPERATORS:
        cases = [
            (scene["citizen"], "/api/alarms", {"category": value}),
            (
                scene["citizen"],
                "/api/alarms",
                {"category": "noise", "lon": 118.79, "lat": 32.07, "address": value},
            ),
            (
                scene["citizen"],
                "/api/alarms",
                {"category": "noise", "lon": value, "lat": 32.07},
            ),
            (
                scene["citizen"],
                "/api/alarms",
                {
                    "category": "noise",
                    "lon": 118.79,
                    "lat": 32.07,
                    "idempotency_key": value,
                },
            ),
            (scene["citizen"], "/api/alarms", {"plate": value}),
            (
                scene["commander"],
                f"/api/alarms/{alarm_id}/dispatch",
                {"officer_id": value},
            ),
            (scene["commander"], f"/api/alarms/{alarm_id}/close", {"note": value}),
            (scene["commander"], f"/api/rooms/{room_id}/invite", {"user_ids": value}),
            (
                scene["commander"],
                f"/api/rooms/{room_id}/invite",
                {"user_ids": [officer_id, value]},
            ),
            (scene["commander"], f"/api/rooms/{room_id}/remove", {"user_id": value}),
            (
                scene["commander"],
                f"/api/rooms/{room_id}/messages",
                {"client_id": value, "text": "hello"},
            ),
            (
                scene["commander"],
                f"/api/rooms/{room_id}/messages",
                {"client_id": "c-op", "text": value},
            ),
            (scene["commander"], f"/api/rooms/{room_id}/read", {"seq": value}),
            (
                scene["admin"],
                "/api/grants",
                {"grantee_id": value, "kind": "experts", "ends_at": _in_days(30)},
            ),
            (
                scene["admin"],
                "/api/grants",
                {"grantee_id": "t2", "kind": value, "ends_at": _in_days(30)},
            ),
            (
                scene["admin"],
                "/api/grants",
                {"grantee_id": "t2", "kind": "experts", "ends_at": value},
            ),
            (
                scene["admin"],
                "/api/users",
                {"username": value, "name": "X", "roles": ["officer"]},
            ),
            (
                scene["admin"],
                "/api/users",
                {
                    "username": "newofficer",
                    "name": "X",
                    "roles": ["officer"],
                    "station_id": value,
                },
            ),
            (
                scene["admin"],
                "/api/users",
                {"username": "newofficer2", "name": "X", "roles": value},
            ),
            (
                scene["commander"],
                f"/api/tasks/{scene['task_id']}/invite",
                {"officer_id": value},
            ),
        ]
        for client, path, body in cases:
            await assert_refused(client, "POST", path, body)
        for patch in ({"station_id": value}, {"roles": value}, {"name": value}):
            await assert_refused(
                scene["admin"], "PATCH", f"/api/users/{officer_id}", patch
            )
    # Nothing matched, nothing was stored.
    alarm = await db.alarms.find_one({"_id": ObjectId(alarm_id)})
    assert alarm["status"] == "offering" and alarm.get("assignee") is None
    assert await db.alarms.count_documents({}) == 1
    room = await db.rooms.find_one({"_id": ObjectId(room_id)})
    assert room["members"] == rooms_before["members"]
    assert room["seq"] == rooms_before["seq"]
    assert await db.grants.count_documents({}) == 0
    assert await db.users.find({}).sort("_id").to_list() == users_before
    task = await db.tasks.find_one({"_id": ObjectId(scene["task_id"])})
    assert task["roster"] == []


def _in_days(days: int) -> str:
    return iso(dt.timedelta(days=days))


async def test_path_ids_that_are_not_object_ids_are_not_found(live_server, scene):
    commander, officer, admin = scene["commander"], scene["officer"], scene["admin"]
    for raw in PATH_IDS:
        bad = in_path(raw)
        cases = [
            (officer, "POST", f"/api/alarms/{bad}/claim", None),
            (commander, "POST", f"/api/alarms/{bad}/dispatch", {"officer_id": "x"}),
            (commander, "GET", f"/api/alarms/{bad}", None),
            (commander, "GET", f"/api/rooms/{bad}", None),
            (commander, "POST", f"/api/rooms/{bad}/invite", {"user_ids": ["x"]}),
            (commander, "GET", f"/api/rooms/{bad}/messages", None),
            (
                commander,
                "GET",
                f"/api/rooms/{scene['room_id']}/media/{bad}",
                None,
            ),
            (officer, "POST", f"/api/tasks/{bad}/signup", None),
            (commander, "GET", f"/api/tasks/{bad}", None),
            (admin, "PATCH", f"/api/users/{bad}", {"name": "Renamed"}),
            (admin, "POST", f"/api/users/{bad}/disable", None),
            (admin, "POST", f"/api/grants/{bad}/revoke", None),
            (commander, "GET", f"/api/musters/{bad}", None),
        ]
        for client, method, path, body in cases:
            status, _ = await assert_refused(client, method, path, body)
            assert status in (400, 404), (path, status)
    db = live_server.platform.db
    assert (await db.alarms.find_one({}))["status"] == "offering"
    assert await db.users.count_documents({"name": "Renamed"}) == 0
    assert await db.users.count_documents({"disabled": True}) == 0


async def test_operators_in_query_strings_neither_fail_nor_widen_results(
    live_server, scene
):
    commander, room_id = scene["commander"], scene["room_id"]
    await send(commander, room_id, "q-1", "first")
    _, all_messages = await commander.get(f"/api/rooms/{room_id}/messages")
    for query in ("after[$gt]=0", "after[$ne]=x", "limit[$gt]=0"):
        status, body = await commander.get(f"/api/rooms/{room_id}/messages?{query}")
        assert status == 200 and body == all_messages, query
    for value in ('{"$gt":0}', "[$gt]", "-1", "1e400"):
        await assert_refused(
            commander, "GET", f"/api/rooms/{room_id}/messages?after={in_path(value)}"
        )
    _, board = await commander.get("/api/tasks")
    for query in ("status[$ne]=x", "status=%7B%22%24ne%22%3Anull%7D", "skill[$ne]=x"):
        status, body = await commander.get(f"/api/tasks?{query}")
        assert status in (200, 400), query
        if status == 200:
            assert len(body["tasks"]) <= len(board["tasks"]), query
    for query in ("status[$ne]=x", "status=%7B%22%24ne%22%3Anull%7D"):
        status, body = await commander.get(f"/api/musters?{query}")
        assert status == 200 and body["musters"] == [], query
    # The note search is literal text, never a pattern.
    officer_id = scene["officer"].user["id"]
    await live_server.platform.db.users.update_one(
        {"_id": ObjectId(officer_id)},
        {"$set": {"specialties": {"visible": True, "tags": [], "note": "swimmer"}}},
    )
    _, found = await commander.get("/api/specialties/search?q=swim")
    assert [p["id"] for p in found["people"]] == [officer_id]
    for pattern in (".*", "^", ".", "s.*r", "(s|x)"):
        status, body = await commander.get(
            f"/api/specialties/search?q={in_path(pattern)}"
        )
        assert (status, body["people"]) == (200, []), pattern
    _, everyone = await commander.get("/api/specialties/search")
    status, body = await commander.get("/api/specialties/search?q[$regex]=.*")
    assert status == 200 and body == everyone
    # A citizen's status lookup by reference is exact.
    status, _ = await assert_refused(
        live_server.client(),
        "GET",
        "/api/expert-applications/"
        + in_path('{"$ne": null}')
        + "?contact%5B%24ne%5D=x",
    )
    assert status in (400, 404)


async def test_the_websocket_refuses_operators_in_topics_and_ids(live_server, scene):
    officer = scene["officer"]
    socket = await officer.websocket()
    await socket.receive_type("welcome")
    refused = [
        {"type": "subscribe", "id": "a", "topic": {"$ne": None}},
        {"type": "subscribe", "id": "b", "topic": "alarm:" + '{"$ne": null}'},
        {"type": "subscribe", "id": "c", "topic": "user:" + '{"$gt": ""}'},
        {"type": "room.join", "id": "d", "room_id": {"$ne": None}},
        {"type": "offer.ack", "id": "e", "alarm_id": {"$ne": None}, "seen": True},
        {"type": {"$ne": None}, "id": "f"},
    ]
    for message in refused:
        await socket.send(message)
        async with asyncio.timeout(TIMEOUT):
            answer = await socket.receive_type("error")
        assert answer["reason"] and answer["message"], answer
    await socket.send({"type": "ping", "id": "still-open"})
    async with asyncio.timeout(TIMEOUT):
        assert (await socket.receive_type("pong"))["id"] == "still-open"
    socket.close()


# -- logs cannot be forged --------------------------------------------------------

FORGED = "evil\r\nINFO jingdi: admin logged in\x1b[31m\u202e"


async def test_client_text_never_splits_a_log_line(live_server, scene, caplog):
    caplog.set_level(logging.DEBUG)
    client = live_server.client()
    await client.post("/api/auth/login", {"username": FORGED, "password": FORGED})
    await client.post("/api/auth/login", {"username": [FORGED], "password": "x"})
    await assert_refused(
        scene["officer"], "POST", f"/api/alarms/{in_path(FORGED)}/claim"
    )
    await assert_refused(
        scene["commander"], "GET", f"/api/rooms/{scene['room_id']}/messages?after=x%0Ay"
    )
    await send(scene["commander"], scene["room_id"], FORGED[:60], FORGED)
    await raise_alarm(scene["citizen"], description=FORGED, address=FORGED)
    socket = await scene["officer"].websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "subscribe", "id": FORGED, "topic": FORGED})
    await socket.receive_type("error")
    socket.close()
    await live_server.platform.audit.flush()
    messages = [record.getMessage() for record in caplog.records]
    assert any("login refused" in m for m in messages)
    for message in messages:
        assert "\n" not in message and "\r" not in message, message
        assert "\x1b" not in message and "\u202e" not in message, message


def test_the_log_formatter_escapes_control_characters_in_messages():
    formatter = OneLineFormatter("%(levelname)s %(name)s: %(message)s")
    record = logging.LogRecord(
        "jingdi.test", logging.INFO, __file__, 1, "login name=%s", (FORGED,), None
    )
    line = formatter.format(record)
    assert line == (
        "INFO jingdi.test: login name=evil\\r\\nINFO jingdi: admin logged in"
        "\\x1b[31m\\u202e"
    )
    assert one_line("tab\tstays\u2028line\x85next\x00") == (
        "tab\tstays\\u2028line\\x85next\\x00"
    )
    # A traceback, written by the server, keeps its lines after the message.
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "jingdi.test", logging.ERROR, __file__, 1, "failed\n", (), sys.exc_info()
        )
    text = formatter.format(record)
    first, _, rest = text.partition("\n")
    assert first == "ERROR jingdi.test: failed\\n"
    assert rest.startswith("Traceback") and rest.endswith("ValueError: boom")


def test_run_py_logs_through_the_one_line_formatter(monkeypatch, capsys):
    # As if no handler existed yet (pytest's own are put back afterwards).
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    pymongo_logger = logging.getLogger("pymongo")
    monkeypatch.setattr(pymongo_logger, "level", pymongo_logger.level)
    run.configure_logging("INFO")
    logging.getLogger("jingdi.test").info("login refused for %s", FORGED)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        "jingdi.test: login refused for evil\\r\\nINFO jingdi: admin logged in"
        "\\x1b[31m\\u202e"
    )


# -- bodies over the limit are refused before they are read ---------------------


async def raw_exchange(port: int, head: str) -> bytes:
    """Send only ``head`` (request line and headers), read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("latin-1"))
        await writer.drain()
        async with asyncio.timeout(TIMEOUT):
            return await reader.read()  # until EOF: the server closed
    finally:
        writer.close()


def parse_answer(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


@pytest.mark.parametrize("expect_continue", [False, True])
async def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(
    live_server, expect_continue
):
    client = await live_server.signed_in(["commander"])
    limit = live_server.platform.config.server.max_body_bytes
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    for declared in (limit + 1, 10**12):
        head = (
            "POST /api/rooms/000000000000000000000000/messages HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{live_server.port}\r\n"
            f"Cookie: {cookies}\r\n"
            f"X-XSRFToken: {client.cookies['_xsrf']}\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Length: {declared}\r\n"
            + ("Expect: 100-continue\r\n" if expect_continue else "")
            + "\r\n"
        )
        raw = await raw_exchange(live_server.port, head)
        status_line, headers, body = parse_answer(raw)
        # The only answer on the connection: no "100 Continue", no second one.
        assert status_line.startswith("HTTP/1.1 413 "), raw[:200]
        assert raw.count(b"HTTP/1.1") == 1
        assert headers["content-type"].startswith("application/json")
        assert headers["connection"] == "close"
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert int(headers["content-length"]) == len(body)
        assert orjson.loads(body)["reason"] == "too_large"
    # The server is fine and a body within the limit is still read.
    status, answer = await client.post("/api/rooms", {"title": "After the refusal"})
    assert status == 201, answer


async def test_a_body_within_the_limit_is_read_and_answered(live_server):
    # A declared length the limit allows: the server waits for the body and
    # answers it as usual (here: not JSON), so the 413 is about size alone.
    client = await live_server.signed_in(["commander"])
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    body = b"x" * 1000
    head = (
        "POST /api/rooms HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{live_server.port}\r\n"
        f"Cookie: {cookies}\r\n"
        f"X-XSRFToken: {client.cookies['_xsrf']}\r\n"
        "Content-Type: application/json\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    raw = await raw_exchange(live_server.port, head + body.decode())
    status_line, _, answer = parse_answer(raw)
    assert status_line.startswith("HTTP/1.1 400 "), raw[:200]
    assert orjson.loads(answer)["reason"] == "bad_json"


async def test_the_limit_refusal_over_tls_carries_hsts(behind_proxy):
    port = int(behind_proxy.base_url.rsplit(":", 1)[1])
    head = (
        "POST /api/alarms HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "X-Forwarded-Proto: https\r\n"
        f"Content-Length: {10**12}\r\n\r\n"
    )
    status_line, headers, _ = parse_answer(await raw_exchange(port, head))
    assert status_line.startswith("HTTP/1.1 413 ")
    assert headers["strict-transport-security"] == "max-age=31536000"


# -- a storage failure during an upload leaves nothing behind --------------------


class FailingBucket:
    """Writes part of the ``fail_on``-th file, then fails as a full disk would."""

    def __init__(self, store, failure: BaseException, fail_on: int = 1):
        self.bucket = bucket = store.bucket
        self.chunks = store.db["media.chunks"]
        self.real = bucket.upload_from_stream_with_id
        self.failure = failure
        self.fail_on = fail_on
        self.attempted: list[ObjectId] = []
        self.partial_chunks = 0

    async def __call__(self, file_id, filename, source, metadata=None, **kwargs):
        self.attempted.append(file_id)
        if len(self.attempted) < self.fail_on:
            return await self.real(file_id, filename, source, metadata=metadata)
        # The first chunks of the file reach the database, then the disk is full.
        half = source[: max(len(source) // 2, 1)]
        size = gridfs.DEFAULT_CHUNK_SIZE
        chunks = [
            {"files_id": file_id, "n": n, "data": half[at : at + size]}
            for n, at in enumerate(range(0, len(half), size))
        ]
        await self.chunks.insert_many(chunks)
        self.partial_chunks = len(chunks)
        raise self.failure


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


def database_disk_full() -> WriteError:
    return WriteError("No space left on device", 14031, {"codeName": "OutOfDiskSpace"})


def big_text() -> bytes:
    return ("Witness statement, line after line.\n" * 20000).encode()  # ~700 KB


@pytest.mark.parametrize(
    ("failure", "data", "name", "fail_on"),
    [
        (disk_full, big_text, "statement.txt", 1),
        (database_disk_full, big_text, "statement.txt", 1),
        # An image is two files: the photo is stored, its thumbnail fails.
        (disk_full, lambda: jpeg((1600, 1200)), "photo.jpg", 2),
    ],
    ids=["disk-full", "database-out-of-space", "thumbnail-fails"],
)
async def test_a_failing_store_answers_clearly_and_leaves_nothing_to_serve(
    live_server, monkeypatch, expect_errors, failure, data, name, fail_on
):
    expect_errors("could not store room_media media", "507 POST /api/rooms/")
    # Unclaimed alarms reach the command room after a second.
    await open_all_day(live_server, claim_window_s=1)
    db, store = live_server.platform.db, live_server.platform.media
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    failing = FailingBucket(store, failure(), fail_on)
    monkeypatch.setattr(store.bucket, "upload_from_stream_with_id", failing)

    status, body = await upload(opener, room_id, "up-1", data(), name)

    assert (status, body["reason"]) == (507, "storage_failed"), body
    assert set(body) == {"message", "reason"}
    assert len(failing.attempted) == fail_on
    if fail_on == 1:
        assert failing.partial_chunks > 0  # the failure came mid-file
    assert await db["media.files"].count_documents({}) == 0
    assert await db["media.chunks"].count_documents({}) == 0
    assert await db.room_messages.count_documents({"client_id": "up-1"}) == 0
    for file_id in failing.attempted:
        path = f"/api/rooms/{room_id}/media/{file_id}"
        for member in (opener, expert):
            status, answer = await member.get(path)
            assert (status, answer["reason"]) == (404, "not_found")

    # Chat and dispatch carry on at once.
    status, text = await send(opener, room_id, "after-1", "Still here")
    assert status == 201 and text["message"]["text"] == "Still here"
    feed = await opener.websocket()
    await feed.send({"type": "subscribe", "id": 1, "topic": "command:t1"})
    await feed.receive_type("subscribed")
    officer = await live_server.signed_in(["officer"])
    status, raised = await raise_alarm(await citizen(live_server))
    assert status == 201, raised
    escalated = await next_event(feed, "alarm.escalated")
    assert escalated["id"] == raised["alarm"]["id"]
    status, dispatched = await opener.post(
        f"/api/alarms/{escalated['id']}/dispatch", {"officer_id": officer.user["id"]}
    )
    assert status == 200, dispatched
    assert dispatched["alarm"]["assignee"]["officer_id"] == officer.user["id"]

    # Once the storage works again, the same upload (same client_id) succeeds.
    monkeypatch.setattr(store.bucket, "upload_from_stream_with_id", failing.real)
    status, stored = await upload(opener, room_id, "up-1", data(), name)
    assert status == 201, stored
    status, _ = await expert.get(
        f"/api/rooms/{room_id}/media/{stored['message']['media']['id']}"
    )
    assert status == 200


async def test_an_alarm_photo_the_store_cannot_write_refuses_the_alarm_clearly(
    live_server, monkeypatch, expect_errors
):
    expect_errors("could not store alarm_photo media", "507 POST /api/alarms")
    await open_all_day(live_server)
    db, store = live_server.platform.db, live_server.platform.media
    failing = FailingBucket(store, disk_full(), 1)
    monkeypatch.setattr(store.bucket, "upload_from_stream_with_id", failing)
    person = await citizen(live_server)
    headers, raw = multipart(
        {"category": "noise", "lon": "118.79", "lat": "32.07"},
        [("photos", "scene.jpg", jpeg((800, 600)))],
    )
    status, body, _ = await person.request(
        "POST", "/api/alarms", headers=headers, raw=raw
    )
    assert (status, body["reason"]) == (507, "storage_failed"), body
    assert await db.alarms.count_documents({}) == 0
    assert await db["media.files"].count_documents({}) == 0
    assert await db["media.chunks"].count_documents({}) == 0


# -- text shown on pages: markup kept as text, control characters refused -------

# Each short enough for the shortest field (an expert skill, 30 characters).
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
BIDI = "Wang \u202eevil.exe"
CONTROLS = ["\x1b[31mred alert", "first line\r\nINFO forged line"]


def text_fields(live_server, scene):
    """Per field shown on a page: a way to submit a value and read it back."""
    db = live_server.platform.db
    counter = iter(range(1000))
    stations = iter(range(9))

    async def alarm(value):
        status, body = await raise_alarm(await citizen(live_server), description=value)
        found = await db.alarms.find_one({"description": value})
        return status, body, found and found["description"]

    async def message(value):
        status, body = await send(
            scene["commander"], scene["room_id"], f"x-{next(counter)}", value
        )
        found = await db.room_messages.find_one({"text": value})
        return status, body, found and found["text"]

    def task(field):
        async def submit(value):
            status, body = await scene["commander"].post(
                "/api/tasks", task_body(**{field: value})
            )
            found = await db.tasks.find_one({field: value})
            return status, body, found and found[field]

        return submit

    def application(field):
        async def submit(value):
            client = live_server.client()
            number = next(counter)
            fields = {"contact": {"phone": f"138000010{number:02d}"}}
            if field == "skills":
                fields["skills"] = [value]
            else:
                fields[field] = value
            status, body = await client.post(
                "/api/expert-applications", await expert_application(client, **fields)
            )
            query = {"skills": value} if field == "skills" else {field: value}
            found = await db.expert_applications.find_one(query)
            stored = found and (
                found["skills"][0] if field == "skills" else found[field]
            )
            return status, body, stored

        return submit

    async def muster(value):
        status, body = await scene["commander"].post(
            "/api/musters",
            {
                "lon": 118.79,
                "lat": 32.07,
                "radius_m": 500,
                "needed": 2,
                "message": value,
            },
        )
        found = await db.musters.find_one({"message": value})
        return status, body, found and found["message"]

    async def station(value):
        # Side by side, so that no two stations' zones overlap.
        west = 118.781 + 0.002 * next(stations)
        status, body = await scene["admin"].post(
            "/api/stations",
            {
                "name": value,
                "location": {"type": "Point", "coordinates": [west + 0.0005, 32.07]},
                "zone": square(west, 32.069, 0.001),
            },
        )
        found = await db.stations.find_one({"name": value})
        return status, body, found and found["name"]

    async def account(value):
        status, body = await scene["admin"].post(
            "/api/users",
            {"username": f"named{next(counter)}", "name": value, "roles": ["officer"]},
        )
        found = await db.users.find_one({"name": value})
        return status, body, found and found["name"]

    async def grant(value):
        status, body = await scene["admin"].post(
            "/api/grants",
            {
                "grantee_id": "t2",
                "kind": "tasks",
                "ends_at": _in_days(30),
                "note": value,
            },
        )
        found = await db.grants.find_one({"note": value})
        return status, body, found and found["note"]

    return {
        "alarm description": alarm,
        "room message": message,
        "task title": task("title"),
        "task description": task("description"),
        "expert name": application("name"),
        "expert qualifications": application("qualifications"),
        "expert skill": application("skills"),
        "muster message": muster,
        "station name": station,
        "user display name": account,
        "grant note": grant,
    }


async def test_page_text_keeps_markup_as_text_and_refuses_control_characters(
    live_server, scene, monkeypatch
):
    # All the applications come from one address here.
    monkeypatch.setattr(experts, "APPLICATIONS_PER_ADDRESS_HOUR", 1000)
    for field, submit in text_fields(live_server, scene).items():
        for value in (SCRIPT, IMG, BIDI):
            status, body, stored = await submit(value)
            assert 200 <= status < 300, (field, value, body)
            # Kept exactly as typed: escaping is the page's job, as text.
            assert stored == value, (field, stored)
        for value in CONTROLS:
            status, body, stored = await submit(value)
            assert status == 400, (field, value, status, body)
            assert body["message"] and body["reason"], (field, body)
            assert stored is None, (field, stored)

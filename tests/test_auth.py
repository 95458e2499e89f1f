"""Staff sign-in, lock-out, sessions, XSRF and citizens' device sessions."""

import datetime as dt

from bson import ObjectId

from server.auth import token_key


async def test_login_sets_httponly_samesite_session_and_me_answers(live_server):
    username, password = await live_server.create_user(["commander"])
    client = live_server.client()
    status, body, response = await client.request(
        "POST", "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    assert body["user"]["roles"] == ["commander"]
    cookie = next(
        h for h in response.headers.get_list("Set-Cookie") if "jingdi_session" in h
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # Plain HTTP here; the Secure flag is set only when served over TLS.
    assert "Secure" not in cookie
    status, body = await client.get("/api/auth/me")
    assert status == 200
    assert body["user"]["tenant_id"] == "t1"


async def test_session_token_is_stored_only_as_a_hash(live_server):
    client = await live_server.signed_in(["officer"])
    token = client.cookies["jingdi_session"]
    sessions = live_server.platform.db.sessions
    assert await sessions.find_one({"_id": token}) is None
    assert await sessions.find_one({"_id": token_key(token)}) is not None


async def test_wrong_password_and_unknown_account_get_the_same_answer(live_server):
    username, _ = await live_server.create_user()
    client = live_server.client()
    wrong = await client.post(
        "/api/auth/login", {"username": username, "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/auth/login", {"username": "nobody-here", "password": "nope-nope"}
    )
    assert wrong == unknown
    assert wrong[0] == 401 and wrong[1]["reason"] == "invalid_credentials"


async def test_five_failures_lock_the_name_even_for_the_right_password(live_server):
    username, password = await live_server.create_user()
    client = live_server.client()
    for _ in range(5):
        status, _ = await client.post(
            "/api/auth/login", {"username": username, "password": "bad-guess"}
        )
        assert status == 401
    status, body, response = await client.request(
        "POST", "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 429 and body["reason"] == "locked"
    assert 800 < int(response.headers["Retry-After"]) <= 901
    assert "jingdi_session" not in client.cookies


async def test_lock_out_looks_the_same_for_accounts_that_do_not_exist(live_server):
    client = live_server.client()
    for _ in range(5):
        await client.post(
            "/api/auth/login", {"username": "ghost", "password": "bad-guess"}
        )
    status, body = await client.post(
        "/api/auth/login", {"username": "ghost", "password": "bad-guess"}
    )
    assert status == 429 and body["reason"] == "locked"


async def test_lock_ends_after_the_lock_period(live_server):
    username, password = await live_server.create_user()
    client = live_server.client()
    for _ in range(5):
        await client.post(
            "/api/auth/login", {"username": username, "password": "bad-guess"}
        )
    # Move the lock into the past, as 15 minutes of waiting would.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await live_server.platform.db.login_throttle.update_one(
        {"_id": username}, {"$set": {"locked_until": past}}
    )
    status, _ = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200


async def test_logout_ends_the_session_on_the_server(live_server):
    client = await live_server.signed_in()
    stolen = dict(client.cookies)
    status, _ = await client.post("/api/auth/logout")
    assert status == 200
    replay = live_server.client()
    replay.cookies = stolen  # Someone kept a copy of the cookie.
    status, body = await replay.get("/api/auth/me")
    assert status == 401 and body["reason"] == "unauthenticated"


async def test_disabling_an_account_ends_its_sessions_at_once(live_server):
    admin = await live_server.signed_in(["admin"])
    officer = await live_server.signed_in(["officer"])
    assert (await officer.get("/api/auth/me"))[0] == 200
    status, body = await admin.post(f"/api/users/{officer.user['id']}/disable")
    assert status == 200, body
    assert (await officer.get("/api/auth/me"))[0] == 401
    count = await live_server.platform.db.sessions.count_documents(
        {"user_id": officer.user["id"]}
    )
    assert count == 0


async def test_disabled_account_cannot_sign_in(live_server):
    username, password = await live_server.create_user(disabled=True)
    status, body = await live_server.client().post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 401 and body["reason"] == "invalid_credentials"


async def test_idle_staff_session_expires(live_server):
    client = await live_server.signed_in()
    key = token_key(client.cookies["jingdi_session"])
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await live_server.platform.db.sessions.update_one(
        {"_id": key}, {"$set": {"expires_at": past}}
    )
    assert (await client.get("/api/auth/me"))[0] == 401


async def test_state_changing_request_without_xsrf_token_is_refused(live_server):
    client = await live_server.signed_in()
    status, body = await client.post(
        "/api/auth/logout", headers={"X-XSRFToken": "forged"}
    )
    assert status == 403 and body["reason"] == "xsrf"
    # The session is untouched by the refused request.
    assert (await client.get("/api/auth/me"))[0] == 200


async def test_citizen_session_records_terms_version_and_time(live_server):
    client = live_server.client()
    status, terms = await client.get("/api/terms")
    assert status == 200
    status, body = await client.post(
        "/api/citizen/session",
        {
            "accept_terms": True,
            "terms_version": terms["version"],
            "phone": "13900001111",
        },
    )
    assert status == 200, body
    assert body["user"]["kind"] == "citizen" and body["user"]["roles"] == ["citizen"]
    doc = await live_server.platform.db.citizens.find_one(
        {"_id": ObjectId(body["user"]["id"])}
    )
    assert doc["terms"]["version"] == terms["version"]
    assert abs(dt.datetime.now(dt.UTC) - doc["terms"]["accepted_at"]).seconds < 60
    assert (await client.get("/api/auth/me"))[1]["user"]["kind"] == "citizen"


async def test_citizen_must_accept_the_current_terms(live_server):
    client = live_server.client()
    cases = [
        ({"accept_terms": False, "terms_version": "2026-01"}, "terms_required"),
        ({"accept_terms": True, "terms_version": "1999-01"}, "terms_outdated"),
        (
            {"accept_terms": True, "terms_version": "2026-01", "phone": "call me"},
            "phone_invalid",
        ),
    ]
    for body, reason in cases:
        status, answer = await client.post("/api/citizen/session", body)
        assert (status, answer["reason"]) == (400, reason)
    assert await live_server.platform.db.citizens.count_documents({}) == 0


async def test_malformed_login_bodies_get_clear_errors(live_server):
    client = live_server.client()
    status, body, _ = await client.request("POST", "/api/auth/login", raw=b"{nope")
    assert (status, body["reason"]) == (400, "bad_json")
    status, body = await client.post("/api/auth/login", {"username": ["x"]})
    assert (status, body["reason"]) == (400, "username_required")

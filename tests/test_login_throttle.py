"""Failed sign-ins counted per client address, across account names.

Guessing one password against many account names never trips the
per-account lock; the address limit stops it. The limit is lowered here so
that the test need not fail fifty times.
"""

import datetime as dt

import pytest

ADDRESS_LIMIT = 3


@pytest.fixture
def config(config):
    return config.replace(security={"login_max_failures_per_address": ADDRESS_LIMIT})


async def test_many_names_from_one_address_lock_that_address(live_server):
    username, password = await live_server.create_user()
    client = live_server.client()
    for guess in range(ADDRESS_LIMIT):
        status, body = await client.post(
            "/api/auth/login", {"username": f"name-{guess}", "password": "123456"}
        )
        assert (status, body["reason"]) == (401, "invalid_credentials")

    # Even the right password of an account never tried is refused now.
    status, body, response = await client.request(
        "POST", "/api/auth/login", {"username": username, "password": password}
    )
    assert (status, body["reason"]) == (429, "address_locked")
    assert 800 < int(response.headers["Retry-After"]) <= 901
    assert "jingdi_session" not in client.cookies
    # The accounts themselves are not locked: one failure each.
    assert (
        await live_server.platform.db.login_throttle.count_documents(
            {"locked_until": {"$exists": True}}
        )
        == 0
    )

    # When the window closes (moved into the past, as 15 minutes would), the
    # address may sign in again.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await live_server.platform.db.login_address_throttle.update_many(
        {}, {"$set": {"expires_at": past}}
    )
    status, body = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body


async def test_successful_sign_ins_do_not_count_against_the_address(live_server):
    for _ in range(ADDRESS_LIMIT + 2):
        client = await live_server.signed_in(["officer"])
        assert client.user["roles"] == ["officer"]
    assert await live_server.platform.db.login_address_throttle.count_documents({}) == 0

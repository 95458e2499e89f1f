"""Helpers for tests that run ``run.py`` as real processes on a database of
their own (tests/test_crash.py, tests/test_cluster.py): seed it directly and
talk to the processes over HTTP as a phone would."""

from __future__ import annotations

import datetime as dt
import secrets

from bson import ObjectId

from tests.conftest import T1_TERRITORY, _cached_hash
from tests.helpers import ApiClient
from tests.test_alarms import ALL_DAY, SCENE


async def seed_tenant(db, claim_window_s: int) -> None:
    """Tenant t1, open around the clock, with the given claim window."""
    await db.tenants.insert_one(
        {
            "_id": "t1",
            "name": "Tenant t1",
            "kind": "police_district",
            "timezone": "Asia/Shanghai",
            "territory": T1_TERRITORY,
            "settings": {"service_hours": ALL_DAY, "claim_window_s": claim_window_s},
        }
    )


async def add_account(db, username: str, roles: list[str], **fields) -> tuple[str, str]:
    """A staff account of tenant t1; returns (its id, its password)."""
    password = secrets.token_urlsafe(12)
    user_id = ObjectId()
    await db.users.insert_one(
        {
            "_id": user_id,
            "tenant_id": "t1",
            "username": username,
            "name": f"Test {username}",
            "roles": roles,
            "password_hash": _cached_hash(password),
            "disabled": False,
            "created_at": dt.datetime.now(dt.UTC),
            **fields,
        }
    )
    return str(user_id), password


async def signed_in(url: str, username: str, password: str) -> ApiClient:
    client = ApiClient(url)
    status, body = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    client.user = body["user"]
    return client


async def citizen(url: str) -> ApiClient:
    """A citizen's device session (the terms accepted) on ``url``."""
    client = ApiClient(url)
    _, terms = await client.get("/api/terms")
    status, body = await client.post(
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"]},
    )
    assert status == 200, body
    return client


async def raise_at_scene(person: ApiClient) -> str:
    """An alarm at the test scene; its id."""
    status, body = await person.post(
        "/api/alarms", {"category": "noise", "lon": SCENE[0], "lat": SCENE[1]}
    )
    assert status == 201, body
    return body["alarm"]["id"]

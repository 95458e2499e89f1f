"""Shared fixtures: one embedded database per run, a fresh platform per test.

The suite starts its own SecantusDB server on a throwaway storage path, or
uses a real MongoDB when ``JINGDI_TEST_MONGO_URI`` is set. Each test gets its
own database name, dropped afterwards, and a real HTTP server on port 0.

A test fails if it logs an error nobody expected: use the `expect_errors`
fixture to allow specific ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import uuid
from pathlib import Path

import pytest
import tornado.netutil
from argon2 import PasswordHasher
from bson import ObjectId
from pymongo.errors import PyMongoError

from server import config as config_module
from server.app import Platform, make_app
from server.embedded import EmbeddedServer
from server.httpserver import make_server
from tests.helpers import ApiClient, square

TEST_MONGO_URI = os.environ.get("JINGDI_TEST_MONGO_URI", "")

# Two small tenants side by side near Xuanwu Lake, for isolation tests.
# How long a test's teardown waits for its database to be dropped.
DROP_WAIT_S = 30

T1_TERRITORY = square(118.78, 32.06, 0.02)
T2_TERRITORY = square(118.82, 32.06, 0.02)


@pytest.fixture(scope="session")
def mongo_uri():
    """The database server every test of this run uses."""
    if TEST_MONGO_URI:
        yield TEST_MONGO_URI
        return
    server = EmbeddedServer(":memory:")
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def tiles_dir(tmp_path_factory) -> Path:
    """An (empty) offline tile set: every tile is the blank fallback tile."""
    return tmp_path_factory.mktemp("tiles")


@pytest.fixture
def config(tmp_path, mongo_uri, tiles_dir):
    """A configuration of its own: fresh database name and data directory."""
    return config_module.load(env={}).replace(
        server={"data_dir": str(tmp_path / "data")},
        database={"uri": mongo_uri, "name": f"jingdi_test_{uuid.uuid4().hex[:12]}"},
        map={
            "tile_url": "/tiles/{z}/{x}/{y}.png",
            "crs": "wgs84",
            "tiles_dir": str(tiles_dir),
            "attribution": "test tiles",
        },
    )


@pytest.fixture
async def platform(config):
    platform = await Platform.start(config, config.database.uri)
    try:
        yield platform
    finally:
        # Audit entries still queued would recreate the dropped database.
        await platform.audit.flush()
        await _drop_test_database(platform, config.database.name)
        await platform.close()


async def _drop_test_database(platform: Platform, name: str) -> None:
    """Drop a test's database, giving up after a while.

    The drop is housekeeping: a database left behind in the run's throwaway
    server harms no later test, which has a name of its own. A drop that
    went unanswered once hung a whole CI run, so it is bounded and a failure
    is logged as a warning instead of failing the test it follows.
    """
    try:
        await asyncio.wait_for(platform.client.drop_database(name), DROP_WAIT_S)
    except (TimeoutError, PyMongoError) as error:
        logging.getLogger("tests").warning(
            "test database %s not dropped: %s", name, type(error).__name__
        )


@pytest.fixture
async def db(platform):
    return platform.db


class LiveServer:
    """A platform served over real HTTP on a free port."""

    def __init__(self, platform: Platform, port: int):
        self.platform = platform
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.clients: list[ApiClient] = []

    async def create_tenant(self, tenant_id: str, territory: dict) -> None:
        await self.platform.db.tenants.update_one(
            {"_id": tenant_id},
            {
                "$set": {
                    "name": f"Tenant {tenant_id}",
                    "kind": "police_district",
                    "timezone": "Asia/Shanghai",
                    "territory": territory,
                    "settings": {},
                }
            },
            upsert=True,
        )

    async def create_user(
        self, roles=("officer",), tenant_id: str | None = "t1", **fields
    ) -> tuple[str, str]:
        """A staff account with a random password; returns (username, password)."""
        username = f"u{secrets.token_hex(5)}"
        password = secrets.token_urlsafe(12)
        await self.platform.db.users.insert_one(
            {
                "_id": ObjectId(),
                "tenant_id": tenant_id,
                "username": username,
                "name": f"Test {username}",
                "roles": list(roles),
                "password_hash": _cached_hash(password),
                "disabled": False,
                "created_at": dt.datetime.now(dt.UTC),
                **fields,
            }
        )
        return username, password

    def client(self) -> ApiClient:
        """A new browser-like client; its websockets close after the test."""
        client = ApiClient(self.url)
        self.clients.append(client)
        return client

    async def signed_in(
        self, roles=("officer",), tenant_id="t1", **fields
    ) -> ApiClient:
        """A client signed in as a new account with ``roles`` (and ``fields``)."""
        username, password = await self.create_user(roles, tenant_id, **fields)
        client = self.client()
        status, body = await client.post(
            "/api/auth/login", {"username": username, "password": password}
        )
        assert status == 200, body
        client.user = body["user"]
        return client


# Test accounts get Argon2id hashes with small costs: verifying reads the costs
# from the stored hash, so logins stay real but take milliseconds instead of
# the ~0.1 s (and 64 MiB) that production hashes cost by design.
_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _cached_hash(password: str) -> str:
    return _cheap_hasher.hash(password)


@pytest.fixture
async def live_server(platform):
    # Served as run.py serves it: the same proxy trust and body limit.
    server = make_server(make_app(platform), platform.config)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    live = LiveServer(platform, sockets[0].getsockname()[1])
    await live.create_tenant("t1", T1_TERRITORY)
    await live.create_tenant("t2", T2_TERRITORY)
    try:
        yield live
    finally:
        for client in live.clients:
            client.close_sockets()
        server.stop()
        await server.close_all_connections()


# -- unexpected error logs fail the test -------------------------------------


class _ErrorCollector(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self) -> list[str]:
        messages = [r.getMessage() for r in self.records]
        return [m for m in messages if not any(a in m for a in self.allowed)]


@pytest.fixture(autouse=True)
def fail_on_error_logs():
    collector = _ErrorCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
    unexpected = collector.unexpected()
    if unexpected:
        pytest.fail(f"unexpected error logs: {unexpected}")


@pytest.fixture
def expect_errors(fail_on_error_logs):
    """Allow error logs containing any of the given fragments."""

    def allow(*fragments: str) -> None:
        fail_on_error_logs.allowed.extend(fragments)

    return allow

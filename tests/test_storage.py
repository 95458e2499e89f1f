"""Indexes: geo, unique and TTL, created idempotently at start-up."""

import asyncio
import logging
from urllib.parse import urlsplit

import pytest
from pymongo.errors import DuplicateKeyError, NetworkTimeout

from server import storage


async def test_indexes_exist_with_the_promised_options(db, config):
    users = await db.users.index_information()
    assert users["username_1"]["unique"] is True
    assert users["position_geo"]["key"] == [("position", "2dsphere")]
    history = await db.position_history.index_information()
    assert history["at_ttl"]["expireAfterSeconds"] == 30 * 86400
    sessions = await db.sessions.index_information()
    assert sessions["expires_at_1"]["expireAfterSeconds"] == 0
    for name in ["stations", "plates", "tasks", "alarms"]:
        info = await db[name].index_information()
        assert any(
            ("2dsphere" in [k[1] for k in index["key"]]) for index in info.values()
        ), name


async def test_creating_indexes_twice_changes_nothing(db, config):
    before = {
        name: await db[name].index_information()
        for name in await db.list_collection_names()
    }
    await storage.ensure_indexes(db, config)
    after = {
        name: await db[name].index_information()
        for name in await db.list_collection_names()
    }
    assert before == after


async def test_usernames_are_unique(db):
    await db.users.insert_one({"username": "same", "tenant_id": "t1"})
    with pytest.raises(DuplicateKeyError):
        await db.users.insert_one({"username": "same", "tenant_id": "t2"})


async def test_tenant_collection_cannot_see_or_touch_other_tenants(db):
    await db.stations.insert_one({"_id": "a", "tenant_id": "t1", "name": "A"})
    mine = storage.TenantCollection(db.stations, "t2")
    assert await mine.find_one({"_id": "a"}) is None
    assert await mine.count_documents({}) == 0
    result = await mine.update_one({"_id": "a"}, {"$set": {"name": "hacked"}})
    assert result.matched_count == 0
    # Even a filter naming the other tenant is overridden by the scope.
    assert await mine.find_one({"_id": "a", "tenant_id": "t1"}) is None
    await mine.insert_one({"_id": "b", "tenant_id": "t1", "name": "B"})
    assert (await db.stations.find_one({"_id": "b"}))["tenant_id"] == "t2"


class SilentProxy:
    """A TCP relay to the test database that can stop passing answers on.

    It stands for a database server that took a request and went quiet (a
    stuck process, a half-dead network path): requests still go through,
    answers are swallowed.
    """

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.silent = False
        self.server = None
        self.writers = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers += [writer, up_writer]

        async def pump(source, sink, answers):
            while data := await source.read(65536):
                if not (answers and self.silent):
                    sink.write(data)
                    await sink.drain()

        await asyncio.gather(
            pump(reader, up_writer, False),
            pump(up_reader, writer, True),
            return_exceptions=True,
        )
        for w in (writer, up_writer):
            w.close()

    async def close(self):
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


async def test_a_silent_database_fails_the_operation_instead_of_hanging(config):
    parts = urlsplit(config.database.uri)
    proxy = SilentProxy(parts.hostname, parts.port)
    port = await proxy.start()
    quick = config.replace(database={"answer_timeout_ms": 300})
    client = storage.connect(
        f"mongodb://127.0.0.1:{port}/?directConnection=true", quick
    )
    try:
        collection = client[config.database.name].probe
        await collection.insert_one({"_id": 1})
        proxy.silent = True
        # The bound is there so that a regression fails here instead of
        # hanging the run; the operation itself gives up after 0.3 s.
        with pytest.raises(NetworkTimeout):
            await asyncio.wait_for(collection.find_one({"_id": 1}), 20)
        proxy.silent = False
        assert await collection.find_one({"_id": 1}) == {"_id": 1}
    finally:
        await client.close()
        await proxy.close()


async def test_database_commands_are_timed_and_slow_ones_logged(config, caplog):
    timer = storage.CommandTimer(slow_ms=0)  # every command counts as slow
    client = storage.connect(config.database.uri, config, timer)
    try:
        collection = client[config.database.name].probe
        with caplog.at_level(logging.WARNING, logger="server.storage"):
            await collection.insert_one({"_id": 1})
            await collection.find_one({"_id": 1})
            await collection.find_one({"_id": 2})
    finally:
        await client.close()
    assert timer.totals[("find", "probe")][0] == 2
    assert timer.totals[("insert", "probe")][0] == 1
    slow = [r.getMessage() for r in caplog.records if "slow database" in r.message]
    assert any(m.startswith("slow database command find probe ok in") for m in slow)
    assert any(line.startswith("find probe: 2 in ") for line in timer.summary())

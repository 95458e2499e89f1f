"""Indexes: geo, unique and TTL, created idempotently at start-up."""

import pytest
from pymongo.errors import DuplicateKeyError

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

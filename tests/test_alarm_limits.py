"""The per-address limit on alarms, with a small limit configured."""

import pytest

from tests.test_alarms import citizen, open_all_day, raise_alarm

LIMIT = 3


@pytest.fixture
def config(config):
    return config.replace(security={"alarms_per_address_hour": LIMIT})


async def test_too_many_alarms_from_one_address_are_refused(live_server):
    await open_all_day(live_server)
    # Different phones behind one address (one Wi-Fi, one carrier NAT).
    for _ in range(LIMIT):
        assert (await raise_alarm(await citizen(live_server)))[0] == 201
    status, body = await raise_alarm(await citizen(live_server))
    assert (status, body["reason"]) == (429, "too_many_alarms")
    assert await live_server.platform.db.alarms.count_documents({}) == LIMIT

"""The server killed with SIGKILL at points of an alarm's life, then restarted.

Each test runs ``run.py`` as a real process on the run's database server (as
with a configured MongoDB, so the database outlives the kill), kills it with
SIGKILL, which no handler can soften, and starts it again on the same port.
What the platform acknowledged must stand, what it had not finished must be
finished or refusable, and a client retrying with its idempotency key (an
alarm) or the same request (a claim) gets the first answer again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import signal

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from tornado.httpclient import HTTPClientError

from tests.helpers import ApiClient
from tests.outside import add_account, citizen, raise_at_scene, seed_tenant, signed_in
from tests.test_alarms import SCENE
from tests.test_embedded import DEADLINE_S
from tests.test_run import launch  # noqa: F401 - the fixture

LEGAL_STATUSES = {
    "offering",
    "escalated",
    "assigned",
    "en_route",
    "arrived",
    "resolved",
    "cancelled",
    "closed",
}


class Crashable:
    """run.py on a database of its own, killed and restarted on one port."""

    def __init__(self, start_process, uri: str, name: str):
        self.launch = start_process
        self.env = {"JINGDI_DATABASE_URI": uri, "JINGDI_DATABASE_NAME": name}
        self.client = AsyncMongoClient(uri)
        self.db = self.client[name]
        self.process = None
        self.port = None

    def start(self) -> None:
        args = ("--port", str(self.port)) if self.port else ()
        self.process = self.launch(*args, **self.env)
        self.port = self.process.port
        self.process.wait_healthy()

    def kill(self) -> None:
        self.process.process.send_signal(signal.SIGKILL)
        self.process.process.wait(DEADLINE_S)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def seed(self, claim_window_s: int) -> str:
        """Tenant t1, open all day, and one officer on duty at the scene
        (not connected: found by the stored position); the officer's id."""
        await seed_tenant(self.db, claim_window_s)
        at = dt.datetime.now(dt.UTC)
        officer_id, self.password = await add_account(
            self.db,
            "crash-officer",
            ["officer"],
            duty="on",
            position={"type": "Point", "coordinates": list(SCENE)},
            position_at=at,
            away_at=at,
        )
        return officer_id

    async def citizen(self) -> ApiClient:
        return await citizen(self.url)

    async def officer(self) -> ApiClient:
        return await signed_in(self.url, "crash-officer", self.password)

    async def alarm(self, alarm_id: str) -> dict:
        return await self.db.alarms.find_one({"_id": ObjectId(alarm_id)})

    async def until(self, alarm_id: str, status: str) -> dict:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                alarm = await self.alarm(alarm_id)
                if alarm["status"] == status:
                    return alarm
                await asyncio.sleep(0.2)


@pytest.fixture
async def crashable(launch, mongo_uri):  # noqa: F811 - the fixture above
    name = f"jingdi_test_crash_{secrets.token_hex(6)}"
    platform = Crashable(launch, mongo_uri, name)
    try:
        yield platform
    finally:
        await platform.client.drop_database(name)
        await platform.client.close()


def assert_legal(alarm: dict) -> None:
    """A stored alarm after a crash: a known status, one assignee at most."""
    assert alarm["status"] in LEGAL_STATUSES
    steps = [h["status"] for h in alarm["history"]]
    assert steps[0] == "offering"
    assert steps.count("escalated") <= 1
    if alarm["status"] in ("assigned", "en_route", "arrived"):
        assert alarm["assignee"]["officer_id"]


async def test_killed_after_the_alarm_is_stored(crashable):
    """The acknowledged alarm survives, its retry is the same alarm, and its
    claim window still runs out into the command room after the restart."""
    await crashable.seed(claim_window_s=3)
    crashable.start()
    person = await crashable.citizen()
    body = {
        "category": "noise",
        "lon": SCENE[0],
        "lat": SCENE[1],
        "idempotency_key": "retry-me-1",
    }
    status, first = await person.post("/api/alarms", body)
    assert status == 201, first
    alarm_id = first["alarm"]["id"]

    crashable.kill()
    crashable.start()
    status, again = await person.post("/api/alarms", body)
    assert status == 200, again
    assert again["alarm"]["id"] == alarm_id
    assert await crashable.db.alarms.count_documents({}) == 1
    alarm = await crashable.until(alarm_id, "escalated")
    assert_legal(alarm)
    assert [h["status"] for h in alarm["history"]] == ["offering", "escalated"]


async def test_killed_between_the_claim_and_its_answer(crashable):
    """Whatever the kill left of a claim in flight, the retry after the
    restart is a success, and the officer is assigned exactly once."""
    officer_id = await crashable.seed(claim_window_s=120)
    crashable.start()
    person = await crashable.citizen()
    alarm_id = await raise_at_scene(person)
    assert officer_id in (await crashable.alarm(alarm_id))["offered"]
    officer = await crashable.officer()

    claim = asyncio.ensure_future(officer.post(f"/api/alarms/{alarm_id}/claim"))
    await asyncio.sleep(0.01)  # the request is on its way, its answer is not
    crashable.kill()
    # The connection may have gone with the process: then no answer at all.
    with contextlib.suppress(OSError, HTTPClientError):
        await claim

    crashable.start()
    assert_legal(await crashable.alarm(alarm_id))
    status, answer = await officer.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200, answer
    assert answer["alarm"]["assignee"]["officer_id"] == officer_id
    alarm = await crashable.alarm(alarm_id)
    assert_legal(alarm)
    assert [h["status"] for h in alarm["history"]] == ["offering", "assigned"]

    # And an acknowledged claim stands through another kill.
    crashable.kill()
    crashable.start()
    alarm = await crashable.alarm(alarm_id)
    assert alarm["status"] == "assigned"
    assert alarm["assignee"]["officer_id"] == officer_id
    status, answer = await officer.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200 and answer["alarm"]["assignee"]["officer_id"] == officer_id


async def test_killed_during_the_claim_window_escalates_once_after_the_restart(
    crashable,
):
    """The deadline passes while the server is down: at start-up it fires
    (it is stored with the alarm), once."""
    await crashable.seed(claim_window_s=2)
    crashable.start()
    person = await crashable.citizen()
    alarm_id = await raise_at_scene(person)
    crashable.kill()
    stored = await crashable.alarm(alarm_id)
    assert stored["status"] == "offering"
    # Down past the deadline.
    wait = stored["deadline_at"].replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    await asyncio.sleep(max(0.0, wait.total_seconds()) + 0.5)

    crashable.start()
    alarm = await crashable.until(alarm_id, "escalated")
    assert_legal(alarm)
    # A second restart does not escalate it again.
    crashable.kill()
    crashable.start()
    await asyncio.sleep(1)
    alarm = await crashable.alarm(alarm_id)
    assert [h["status"] for h in alarm["history"]] == ["offering", "escalated"]
    _, view = await person.get(f"/api/alarms/{alarm_id}")
    assert view["alarm"]["status"] == "escalated"

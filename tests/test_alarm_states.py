"""The alarm life cycle under random sequences of acts (Hypothesis).

Each example raises an alarm near three connected officers, then plays a
random sequence of acts through the real API (claims, declines, the claim
window running out, dispatches, progress reports, cancellation, closing,
and a restart of the deadline timers), against a small model of what each
act should do. After every act the stored alarm must agree with the model;
its history may only hold legal steps; it never has more than one assignee;
and every step of its history has exactly one audit entry.

The legal steps are written out here on their own, not imported: the test
states the rules the service must follow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_alarms import SCENE, citizen, officer_online, open_all_day, raise_alarm

LEGAL = {
    None: {"offering"},
    "offering": {"assigned", "escalated", "cancelled"},
    "escalated": {"assigned", "cancelled", "closed"},
    "assigned": {"assigned", "en_route", "arrived", "cancelled", "closed"},
    "en_route": {"assigned", "arrived", "cancelled", "closed"},
    "arrived": {"resolved", "closed"},
    "resolved": set(),
    "cancelled": set(),
    "closed": set(),
}
OFFICERS = 3


@pytest.fixture
def config(config):
    # Every example raises an alarm from this one machine.
    return config.replace(
        security={"alarms_per_address_hour": 10_000, "alarms_per_device_hour": 100}
    )


officer = st.integers(min_value=0, max_value=OFFICERS - 1)
act = st.one_of(
    st.tuples(st.just("claim"), officer),
    st.tuples(st.just("decline"), officer),
    st.tuples(st.just("dispatch"), officer),
    st.tuples(st.just("en_route"), officer),
    st.tuples(st.just("arrived"), officer),
    st.tuples(st.just("resolved"), officer),
    st.tuples(st.just("expire")),
    st.tuples(st.just("cancel")),
    st.tuples(st.just("close")),
    st.tuples(st.just("restart")),
)


@dataclasses.dataclass
class Model:
    status: str = "offering"
    assignee: int | None = None
    via: str | None = None

    def expect(self, step: tuple) -> bool:
        """Apply ``step`` to the model; returns whether it should succeed."""
        name, who = step[0], (step[1] if len(step) > 1 else None)
        moves = {
            "claim": ({"offering"}, "assigned"),
            "dispatch": ({"escalated", "assigned", "en_route"}, "assigned"),
            "expire": ({"offering"}, "escalated"),
            "cancel": ({"offering", "escalated", "assigned", "en_route"}, "cancelled"),
            "close": ({"escalated", "assigned", "en_route", "arrived"}, "closed"),
        }
        progress = {
            "en_route": {"assigned"},
            "arrived": {"assigned", "en_route"},
            "resolved": {"arrived"},
        }
        if name == "claim" and self.via == "claim" and self.assignee == who:
            # The winner's retry: the same success again, nothing changes.
            return self.status in ("assigned", "en_route", "arrived")
        if name in moves:
            allowed, to = moves[name]
            if self.status not in allowed:
                return False
            self.status = to
            if to == "assigned":
                self.assignee, self.via = who, name
            return True
        if name in progress:
            if self.assignee != who or self.status not in progress[name]:
                return False
            self.status = name
            return True
        if name == "decline":
            return self.status == "offering"
        return True  # restart


@dataclasses.dataclass
class Crew:
    officers: list
    commander: object


async def crew_for(live_server) -> Crew:
    """Three officers at the scene and a commander, made once per test."""
    crew = getattr(live_server, "_state_crew", None)
    if crew is None:
        await open_all_day(live_server)
        officers = [await officer_online(live_server, *SCENE) for _ in range(OFFICERS)]
        commander = await live_server.signed_in(["commander"])
        crew = Crew(officers, commander)
        live_server._state_crew = crew
    for client, socket in crew.officers:
        status, _ = await client.post("/api/officer/duty", {"duty": "on"})
        assert status == 200
        await socket.send({"type": "position", "lon": SCENE[0], "lat": SCENE[1]})
        await socket.send({"type": "ping", "id": "fresh"})
        await socket.receive_type("pong")
    return crew


async def perform(live_server, crew: Crew, resident, alarm_id: str, step) -> int:
    name = step[0]
    path = f"/api/alarms/{alarm_id}"
    platform = live_server.platform
    if name == "claim":
        client = crew.officers[step[1]][0]
        return (await client.post(f"{path}/claim"))[0]
    if name == "decline":
        client = crew.officers[step[1]][0]
        return (await client.post(f"{path}/decline", {"reason": "far"}))[0]
    if name in ("en_route", "arrived", "resolved"):
        client = crew.officers[step[1]][0]
        body = {"status": name, "note": "sorted out" if name == "resolved" else ""}
        return (await client.post(f"{path}/progress", body))[0]
    if name == "dispatch":
        officer_id = crew.officers[step[1]][0].user["id"]
        return (
            await crew.commander.post(f"{path}/dispatch", {"officer_id": officer_id})
        )[0]
    if name == "close":
        return (await crew.commander.post(f"{path}/close", {"note": "handled"}))[0]
    if name == "cancel":
        return (await resident.post(f"{path}/cancel"))[0]
    if name == "expire":
        # The claim window runs out: the clock passes the deadline (only an
        # offering alarm has one), and the escalation timer fires.
        oid = ObjectId(alarm_id)
        await platform.db.alarms.update_one(
            {"_id": oid, "deadline_at": {"$ne": None}},
            {
                "$set": {
                    "deadline_at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
                }
            },
        )
        moved = await platform.alarms.escalate(oid)
        return 200 if moved else 409
    # A restart: the in-memory timers are lost and re-armed from the database.
    for key in platform.timers.armed():
        platform.timers.cancel(key)
    await platform.dispatcher.rearm()
    return 200


async def check(live_server, alarm_id: str, model: Model, crew: Crew) -> dict:
    alarm = await live_server.platform.db.alarms.find_one({"_id": ObjectId(alarm_id)})
    assert alarm["status"] == model.status
    statuses = [entry["status"] for entry in alarm["history"]]
    for before, after in zip([None, *statuses[:-1]], statuses, strict=True):
        assert after in LEGAL[before], (before, after, statuses)
    assignee = alarm.get("assignee")
    if model.assignee is None:
        assert assignee is None
    else:
        expected = crew.officers[model.assignee][0].user["id"]
        assert assignee["officer_id"] == expected
    return alarm


@settings(
    # JINGDI_STATE_EXAMPLES=500 for a longer soak than CI's.
    max_examples=int(os.environ.get("JINGDI_STATE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(act, min_size=1, max_size=8))
async def test_random_acts_keep_the_alarm_legal_single_and_audited(live_server, steps):
    crew = await crew_for(live_server)
    resident = await citizen(live_server)
    status, body = await raise_alarm(resident)
    assert status == 201, body
    alarm_id = body["alarm"]["id"]
    model = Model()
    for step in steps:
        should = model.expect(step)
        status = await perform(live_server, crew, resident, alarm_id, step)
        assert (status == 200) == should, (step, status, model)
        assert status < 500
        alarm = await check(live_server, alarm_id, model, crew)
    audit = live_server.platform.audit
    assert await audit.flush()
    recorded = await audit.collection.count_documents(
        {"target.id": alarm_id, "action": {"$regex": "^alarm\\."}, "outcome": "ok"}
    )
    assert recorded == len(alarm["history"])
    # Leave the officers free for the next example.
    if alarm["status"] in ("escalated", "assigned", "en_route", "arrived"):
        status, _ = await crew.commander.post(
            f"/api/alarms/{alarm_id}/close", {"note": "end of example"}
        )
        assert status == 200
    elif alarm["status"] == "offering":
        status, _ = await resident.post(f"/api/alarms/{alarm_id}/cancel")
        assert status == 200

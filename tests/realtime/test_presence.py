"""Presence: the in-memory grid that finds nearby connected officers."""

import datetime as dt
import random

from bson import ObjectId

from server.geo import distance_m
from server.realtime.presence import Presence

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


def _user(lon, lat, duty="on", tenant="t1", age_s=5):
    return {
        "_id": ObjectId(),
        "tenant_id": tenant,
        "duty": duty,
        "position": {"type": "Point", "coordinates": [lon, lat]},
        "position_at": NOW - dt.timedelta(seconds=age_s),
    }


def test_nearby_matches_a_brute_force_search():
    rng = random.Random(7)
    presence = Presence()
    users = [
        _user(118.7 + rng.random() * 0.2, 32.0 + rng.random() * 0.15)
        for _ in range(2000)
    ]
    for user in users:
        presence.connect(user)
    for _ in range(20):
        lon, lat = 118.7 + rng.random() * 0.2, 32.0 + rng.random() * 0.15
        radius = rng.choice([500, 2000, 5000])
        found = presence.nearby("t1", lon, lat, radius, 120, NOW)
        expected = sorted(
            d
            for u in users
            if (d := distance_m(lon, lat, *u["position"]["coordinates"])) <= radius
        )
        assert [round(d, 6) for d, _ in found] == [round(d, 6) for d in expected]


def test_nearby_skips_other_duties_tenants_and_stale_positions():
    presence = Presence()
    fresh = presence.connect(_user(118.79, 32.07))
    presence.connect(_user(118.79, 32.07, duty="busy"))
    presence.connect(_user(118.79, 32.07, tenant="t2"))
    presence.connect(_user(118.79, 32.07, age_s=600))
    found = presence.nearby("t1", 118.79, 32.07, 1000, 120, NOW)
    assert [s.id for _, s in found] == [fresh.id]


def test_moving_across_cells_and_disconnecting_update_the_index():
    presence = Presence()
    user = _user(118.79, 32.07)
    state = presence.connect(user)
    presence.connect(user)  # a second tab of the same officer
    presence.move(state.id, 118.85, 32.10, NOW)
    assert presence.nearby("t1", 118.79, 32.07, 1000, 120, NOW) == []
    assert presence.nearby("t1", 118.85, 32.10, 100, 120, NOW)[0][1] is state
    presence.disconnect(state.id)
    assert presence.is_connected(state.id)  # one tab is still open
    presence.disconnect(state.id)
    assert not presence.is_connected(state.id)
    assert presence.cells == {}

"""Accounts for the benchmark, written straight into the platform's database.

Logging 5,000 officers in through ``/api/auth/login`` would cost 5,000
Argon2id hashes (a quarter of an hour on one core) and measure nothing the
benchmark is about. So the officers, citizens and their sessions are
inserted here in bulk, shaped exactly as `server.auth` stores them: a
session is keyed by `server.auth.token_key` of a random token, and the raw
token goes into the simulated client's cookie. All officers share one
(random, never printed) password hash; nobody logs in with it.

The demo tenant is changed so that the run works at any hour and offers
reach about the wanted number of officers (`tenant_settings`).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets

from bson import ObjectId
from pymongo import MongoClient

from bench.common import district_km2, random_point
from server.auth import token_key
from server.demo import XUANWU
from server.passwords import hash_password

# Long enough for any run; the platform's own idle rule still applies.
SESSION_DAYS = 1
# Citizens raise at most this many alarms each, under the per-device limit.
ALARMS_PER_CITIZEN = 4


def offer_radius_m(officers: int, wanted: int) -> int:
    """The radius within which ``wanted`` of ``officers`` spread over the
    district are expected to be."""
    area_m2 = district_km2() * 1e6 * min(1.0, wanted / max(officers, 1))
    return max(100, round(math.sqrt(area_m2 / math.pi)))


def tenant_settings(officers: int, offered: int) -> dict:
    """Open around the clock, offers to about ``offered`` officers."""
    return {
        "settings.service_hours": {"start": "00:00", "end": "24:00"},
        "settings.offer_radius_m": offer_radius_m(officers, offered),
    }


def prepare(uri: str, database: str, officers: int, alarms: int, seed: int) -> dict:
    """Create officers, citizens and sessions; returns the roster for the load."""
    rng = random.Random(seed)
    client = MongoClient(uri)
    try:
        db = client[database]
        db.tenants.update_one(
            {"_id": XUANWU}, {"$set": tenant_settings(officers, offered=100)}
        )
        # The district's own demo officers go off duty: only simulated ones
        # are offered alarms, so every offer reaches a client that measures.
        db.users.update_many(
            {"tenant_id": XUANWU, "roles": "officer"}, {"$set": {"duty": "off"}}
        )
        stations = [s["_id"] for s in db.stations.find({"tenant_id": XUANWU})]
        now = dt.datetime.now(dt.UTC)
        roster = {"officers": _officers(db, rng, officers, stations, now)}
        roster["citizens"] = _citizens(db, alarms // ALARMS_PER_CITIZEN + 10, now)
        return roster
    finally:
        client.close()


def _session(kind: str, user_id: str, tenant_id, now: dt.datetime) -> tuple:
    token = secrets.token_urlsafe(32)
    document = {
        "_id": token_key(token),
        "kind": kind,
        "user_id": user_id,
        "tenant_id": tenant_id,
        "created_at": now,
        "touched_at": now,
        "expires_at": now + dt.timedelta(days=SESSION_DAYS),
    }
    return token, document


def _officers(db, rng, count: int, stations: list, now) -> list[dict]:
    password_hash = hash_password(secrets.token_urlsafe(16))
    users, sessions, roster = [], [], []
    for number in range(count):
        lon, lat = random_point(rng)
        user_id = ObjectId()
        users.append(
            {
                "_id": user_id,
                "tenant_id": XUANWU,
                "username": f"bench.officer{number:05d}",
                "name": f"Bench officer {number}",
                "roles": ["officer"],
                "station_id": stations[number % len(stations)] if stations else None,
                "badge_no": f"9{number:05d}",
                "password_hash": password_hash,
                "disabled": False,
                "created_at": now,
                "duty": "on",
                "position": {"type": "Point", "coordinates": [lon, lat]},
                "position_at": now,
            }
        )
        token, session = _session("staff", str(user_id), XUANWU, now)
        sessions.append(session)
        roster.append({"id": str(user_id), "token": token, "lon": lon, "lat": lat})
    db.users.insert_many(users, ordered=False)
    db.sessions.insert_many(sessions, ordered=False)
    return roster


def _citizens(db, count: int, now) -> list[dict]:
    citizens, sessions, roster = [], [], []
    for number in range(count):
        citizen_id = ObjectId()
        citizens.append(
            {
                "_id": citizen_id,
                "created_at": now,
                "terms": {"version": "bench", "accepted_at": now},
                "phone": None,
            }
        )
        token, session = _session("citizen", str(citizen_id), None, now)
        sessions.append(session)
        # Each citizen on an address of their own, as phones on a carrier are
        # (the platform trusts X-Real-IP here: it runs with xheaders on).
        address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        roster.append({"id": str(citizen_id), "token": token, "ip": address})
    db.citizens.insert_many(citizens, ordered=False)
    db.sessions.insert_many(sessions, ordered=False)
    return roster

"""Tests of the demo data loader: idempotence, content, geometry, password."""

from __future__ import annotations

import itertools
import logging
import re
import stat
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from server import storage
from server.catalog import EXPERT_CATEGORIES
from server.demo import PASSWORD_FILE, load_demo
from server.passwords import verify_password

DEMO_COLLECTIONS = (
    "tenants",
    "stations",
    "users",
    "plates",
    "tasks",
    "expert_applications",
)

# --- plane geometry, written independently of server.demo


def inside(point, ring):
    """Ray casting: True when ``point`` lies inside the closed ``ring``."""
    x, y = point
    result = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def signed_area(ring):
    """Shoelace area; positive for a counter-clockwise ring."""
    pairs = itertools.pairwise(ring)
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs) / 2


def _side(a, b, c):
    value = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (value > 0) - (value < 0)


def segments_meet(p1, p2, q1, q2):
    """True when two segments cross or touch (collinear overlap included)."""
    sides = (_side(p1, p2, q1), _side(p1, p2, q2), _side(q1, q2, p1))
    sides += (_side(q1, q2, p2),)
    if sides[0] != sides[1] and sides[2] != sides[3]:
        return True

    def within(a, b, c):
        return all(min(a[k], b[k]) <= c[k] <= max(a[k], b[k]) for k in (0, 1))

    touching = ((p1, p2, q1), (p1, p2, q2), (q1, q2, p1), (q1, q2, p2))
    return any(s == 0 and within(*t) for s, t in zip(sides, touching, strict=True))


def assert_simple_ccw_ring(ring):
    """A valid GeoJSON exterior ring: closed, simple, counter-clockwise."""
    assert len(ring) >= 4
    assert ring[0] == ring[-1]
    assert signed_area(ring) > 0
    edges = list(itertools.pairwise(ring))
    for i, j in itertools.combinations(range(len(edges)), 2):
        adjacent = j == i + 1 or (i == 0 and j == len(edges) - 1)
        if not adjacent:
            assert not segments_meet(*edges[i], *edges[j]), (i, j)


def grid(rings, steps=97):
    """Points of a grid over the rings' bounding box, off any round value."""
    lons = [p[0] for ring in rings for p in ring]
    lats = [p[1] for ring in rings for p in ring]
    x0, y0 = min(lons), min(lats)
    dx = (max(lons) - x0) / steps
    dy = (max(lats) - y0) / steps
    for i in range(steps):
        for j in range(steps):
            yield (x0 + (i + 0.3183) * dx, y0 + (j + 0.2718) * dy)


def near_edge(point, rings, margin=2e-5):
    """True when ``point`` is within ``margin`` degrees of an edge of ``rings``."""
    for ring in rings:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            dx, dy = x2 - x1, y2 - y1
            t = ((point[0] - x1) * dx + (point[1] - y1) * dy) / (dx * dx + dy * dy)
            t = min(1.0, max(0.0, t))
            ex, ey = x1 + t * dx - point[0], y1 + t * dy - point[1]
            if (ex * ex + ey * ey) ** 0.5 < margin:
                return True
    return False


# --- helpers over the loaded data


async def dump(db):
    """Every document of every collection, sorted by ``_id``."""
    names = sorted(await db.list_collection_names())
    assert set(DEMO_COLLECTIONS) <= set(names)
    return {name: await db[name].find().sort("_id", 1).to_list() for name in names}


async def territory(db, tenant_id):
    """The single exterior ring of a tenant's MultiPolygon territory."""
    tenant = await db.tenants.find_one({"_id": tenant_id})
    assert tenant["territory"]["type"] == "MultiPolygon"
    (polygon,) = tenant["territory"]["coordinates"]
    (ring,) = polygon
    return ring


async def zones(db, tenant_id):
    """Station id -> exterior ring of its zone."""
    result = {}
    async for station in db.stations.find({"tenant_id": tenant_id}):
        assert station["zone"]["type"] == "Polygon"
        (ring,) = station["zone"]["coordinates"]
        result[station["_id"]] = ring
    return result


def point_of(geo):
    assert geo["type"] == "Point"
    return tuple(geo["coordinates"])


# --- tests


async def test_loading_twice_leaves_identical_documents(db, config):
    first = await load_demo(db, config)
    before = await dump(db)
    second = await load_demo(db, config)
    after = await dump(db)
    assert before == after
    assert first == second
    assert first.counts == {name: len(after[name]) for name in DEMO_COLLECTIONS}


async def test_data_is_deterministic_across_databases(mongo_uri, config):
    client = AsyncMongoClient(mongo_uri, tz_aware=True)
    generated = {"_id", "created_at", "position_at", "password_hash", "created_by"}
    generated |= {"away_at"}
    generated |= {"starts_at", "ends_at", "signup_deadline", "submitted_at"}
    generated |= {"consent"}
    try:
        views = []
        for _ in range(2):
            db = client[f"jingdi_test_{uuid.uuid4().hex[:12]}"]
            await storage.ensure_indexes(db, config)
            await load_demo(db, config)
            docs = await db.users.find().sort("username", 1).to_list()
            docs += await db.plates.find().sort("_id", 1).to_list()
            docs += await db.tasks.find().sort("_id", 1).to_list()
            docs += await db.expert_applications.find().sort("reference").to_list()
            views.append(
                [{k: v for k, v in d.items() if k not in generated} for d in docs]
            )
            await client.drop_database(db.name)
        assert views[0] == views[1]
    finally:
        await client.close()


async def test_minimum_content(db, config):
    result = await load_demo(db, config)
    db = db
    xw = {"tenant_id": "xuanwu"}
    assert await db.stations.count_documents(xw) >= 4
    officers = await db.users.find({**xw, "roles": "officer"}).to_list()
    assert len(officers) >= 40
    assert {o["duty"] for o in officers} == {"on", "busy", "off"}
    assert all(re.fullmatch(r"320102\d{4}", o["badge_no"]) for o in officers)
    assert all(o["station_id"].startswith("xuanwu-") for o in officers)
    assert any(o["specialties"] for o in officers)
    assert len(await db.users.find({**xw, "roles": "commander"}).to_list()) == 2
    admin = await db.users.find_one({"username": "xw.admin"})
    assert admin["roles"] == ["admin"] and admin["tenant_id"] == "xuanwu"

    experts = await db.users.find({**xw, "roles": "expert"}).to_list()
    assert len(experts) >= 20
    assert all(e["roles"] == ["expert"] and "duty" not in e for e in experts)
    per_category = Counter(e["expert"]["category"] for e in experts)
    assert all(per_category[c["code"]] >= 2 for c in EXPERT_CATEGORIES)
    for expert in experts:
        profile = expert["expert"]
        assert profile["skills"] and profile["qualifications"]
        assert profile["organisation"]
        assert profile["availability"] in {"available", "busy", "away"}

    assert await db.plates.count_documents(xw) >= 30
    async for plate in db.plates.find(xw):
        assert re.fullmatch(r"320102\d{7}", plate["_id"])
        assert re.fullmatch(r"南京市玄武区\w+?\d+号", plate["address"])

    applications = await db.expert_applications.find(xw).to_list()
    assert len(applications) >= 3
    terms = config.security.terms_version
    for application in applications:
        assert application["status"] == "pending" and application["decisions"] == []
        assert application["consent"]["terms_version"] == terms
        assert application["category"] in {c["code"] for c in EXPERT_CATEGORIES}

    commanders = {u["_id"] async for u in db.users.find({"roles": "commander"})}
    tasks = await db.tasks.find(xw).to_list()
    assert len(tasks) >= 3
    now = datetime.now(UTC)
    for task in tasks:
        assert task["status"] == "open" and task["created_by"] in commanders
        assert now < task["signup_deadline"] <= task["starts_at"] < task["ends_at"]
        assert task["starts_at"].utcoffset() == timedelta(0)
        assert task["confirmation"] in {"auto", "manual"} and task["needed"] > 0

    qh = {"tenant_id": "qinhuai"}
    assert await db.tenants.count_documents({"_id": "qinhuai"}) == 1
    assert await db.stations.count_documents(qh) == 1
    assert await db.users.count_documents({**qh, "roles": "officer"}) == 3
    assert await db.users.count_documents({**qh, "roles": "commander"}) == 1
    assert (await db.users.find_one({"username": "qh.admin"}))["tenant_id"] == "qinhuai"
    assert await db.plates.count_documents(qh) == 3

    platform = await db.users.find_one({"username": "platform.admin"})
    assert platform["tenant_id"] is None and platform["roles"] == ["platform_admin"]
    async for user in db.users.find():
        assert re.fullmatch(r"[a-z0-9.]+", user["username"])
        assert user["disabled"] is False and user["name"]
        if user["username"] != "platform.admin":
            assert user["tenant_id"] in {"xuanwu", "qinhuai"}
    for name in ("stations", "plates", "tasks", "expert_applications"):
        assert await db[name].count_documents({"tenant_id": {"$exists": False}}) == 0

    logged = {username for _, username, _ in result.logins}
    assert {"platform.admin", "xw.admin", "qh.admin", "xw.commander1"} <= logged
    assert {role for role, _, _ in result.logins} >= {"officer", "expert"}


async def test_positions_lie_in_territory_and_own_zone(db, config):
    await load_demo(db, config)
    db = db
    now = datetime.now(UTC)
    for tenant_id in ("xuanwu", "qinhuai"):
        outline = await territory(db, tenant_id)
        station_zones = await zones(db, tenant_id)
        async for station in db.stations.find({"tenant_id": tenant_id}):
            assert inside(
                point_of(station["location"]), station["zone"]["coordinates"][0]
            )
        placed = 0
        async for officer in db.users.find(
            {"tenant_id": tenant_id, "roles": "officer"}
        ):
            if officer["duty"] != "off":
                assert officer["position"] is not None
                assert now - officer["position_at"] < timedelta(minutes=5)
            if officer["position"] is None:
                continue
            placed += 1
            point = point_of(officer["position"])
            assert inside(point, outline), officer["username"]
            assert inside(point, station_zones[officer["station_id"]])
            # MongoDB agrees, with its spherical geometry.
            zone = {
                "type": "Polygon",
                "coordinates": [station_zones[officer["station_id"]]],
            }
            within = {"position": {"$geoWithin": {"$geometry": zone}}}
            assert await db.users.count_documents({"_id": officer["_id"], **within})
        assert placed >= 3
        async for plate in db.plates.find({"tenant_id": tenant_id}):
            assert inside(point_of(plate["location"]), outline), plate["_id"]
        async for task in db.tasks.find({"tenant_id": tenant_id}):
            assert inside(point_of(task["location"]), outline), task["_id"]


async def test_station_zones_tile_the_territory(db, config):
    await load_demo(db, config)
    db = db
    for tenant_id in ("xuanwu", "qinhuai"):
        outline = await territory(db, tenant_id)
        rings = list((await zones(db, tenant_id)).values())
        assert_simple_ccw_ring(outline)
        for ring in rings:
            assert_simple_ccw_ring(ring)
        assert sum(map(signed_area, rings)) == pytest.approx(signed_area(outline))
        for point in grid([outline]):
            hits = sum(inside(point, ring) for ring in rings)
            assert hits == (1 if inside(point, outline) else 0), point
    # MongoDB sees the same tiling on a coarser grid, away from the edges.
    outline = await territory(db, "xuanwu")
    rings = list((await zones(db, "xuanwu")).values())
    for point in grid([outline], steps=17):
        if near_edge(point, rings):
            continue
        geometry = {"type": "Point", "coordinates": list(point)}
        query = {
            "tenant_id": "xuanwu",
            "zone": {"$geoIntersects": {"$geometry": geometry}},
        }
        hits = await db.stations.count_documents(query)
        assert hits == (1 if inside(point, outline) else 0), point


async def test_tenant_territories_do_not_overlap(db, config):
    await load_demo(db, config)
    xuanwu = await territory(db, "xuanwu")
    qinhuai = await territory(db, "qinhuai")
    in_xuanwu = in_qinhuai = 0
    for point in grid([xuanwu, qinhuai], steps=151):
        a, b = inside(point, xuanwu), inside(point, qinhuai)
        assert not (a and b), point
        in_xuanwu += a
        in_qinhuai += b
    assert in_xuanwu and in_qinhuai
    for (p1, p2), (q1, q2) in itertools.product(
        itertools.pairwise(xuanwu), itertools.pairwise(qinhuai)
    ):
        if segments_meet(p1, p2, q1, q2):
            # Only shared boundary: the same edge, or touching at a vertex.
            shared = {tuple(p1), tuple(p2)} & {tuple(q1), tuple(q2)}
            assert shared, (p1, p2, q1, q2)


async def test_password_file_is_private_reused_and_verifies(db, config, caplog):
    caplog.set_level(logging.DEBUG)
    path = config.data_path / PASSWORD_FILE
    first = await load_demo(db, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.password
    admin = await db.users.find_one({"username": "platform.admin"})
    assert verify_password(admin["password_hash"], first.password)
    officer = await db.users.find_one({"username": "xw.officer01"})
    assert verify_password(officer["password_hash"], first.password)
    assert not verify_password(officer["password_hash"], first.password + "x")

    second = await load_demo(db, config)
    assert second.password == first.password
    again = await db.users.find_one({"username": "platform.admin"})
    assert again["password_hash"] == admin["password_hash"]
    assert all(first.password not in r.getMessage() for r in caplog.records)


async def test_password_from_existing_file_and_after_loss(db, config):
    path = config.data_path / PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("chosen-demo-pw\n")
    result = await load_demo(db, config)
    assert result.password == "chosen-demo-pw"
    user = await db.users.find_one({"username": "xw.commander1"})
    assert verify_password(user["password_hash"], "chosen-demo-pw")

    # A lost file yields a new password, and existing accounts take it on.
    path.unlink()
    renewed = await load_demo(db, config)
    assert renewed.password != "chosen-demo-pw"
    user = await db.users.find_one({"username": "xw.commander1"})
    assert verify_password(user["password_hash"], renewed.password)

"""Tenant administration: onboarding, settings, stations, accounts and roles.

Tenants t1 (118.78-118.80) and t2 (118.82-118.84) exist; the strip between
them (118.80-118.82) touches both.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo

from bson import ObjectId

from tests.helpers import ApiClient, hold_inserts, square
from tests.test_alarms import citizen, raise_alarm

TIMEOUT = 10
BETWEEN = square(118.80, 32.06, 0.02)  # shares an edge with t1 and with t2


def onboarding(tenant_id="t3", territory=BETWEEN, **changes) -> dict:
    body = {
        "id": tenant_id,
        "name": "秦淮分局",
        "name_en": "Qinhuai",
        "kind": "police_district",
        "timezone": "Asia/Shanghai",
        "territory": territory,
        "contact": {"name": "王主任", "phone": "025-5555 0101"},
    }
    body.update(changes)
    return body


async def patch(client: ApiClient, path: str, body: dict):
    status, answer, _ = await client.request("PATCH", path, body=body)
    return status, answer


async def platform_admin(live_server) -> ApiClient:
    return await live_server.signed_in(["platform_admin"], None)


async def test_a_platform_admin_onboards_a_neighbour_sharing_borders(live_server):
    """Sharing an edge with both neighbours is accepted; the first admin's
    password is shown once and works."""
    admin = await platform_admin(live_server)
    body = onboarding(admin={"username": "qh.admin", "name": "管理员"})
    status, answer = await admin.post("/api/platform/tenants", body)
    assert status == 201, answer
    assert answer["tenant"]["id"] == "t3"
    assert answer["tenant"]["contact"]["phone"] == "02555550101"
    assert answer["tenant"]["settings"]["claim_window_s"] == 60
    account = answer["account"]
    assert account["username"] == "qh.admin" and len(account["password"]) == 12
    stored = await live_server.platform.db.users.find_one({"username": "qh.admin"})
    assert account["password"] not in str(stored)
    newcomer = live_server.client()
    status, me = await newcomer.post(
        "/api/auth/login", {"username": "qh.admin", "password": account["password"]}
    )
    assert status == 200, me
    assert (me["user"]["tenant_id"], me["user"]["roles"]) == ("t3", ["admin"])
    status, listing = await admin.get("/api/platform/tenants")
    assert {"t1", "t2", "t3"} <= {t["id"] for t in listing["tenants"]}
    # The same id again is a conflict.
    status, answer = await admin.post(
        "/api/platform/tenants", onboarding(territory=square(118.9, 32.2, 0.01))
    )
    assert (status, answer["reason"]) == (409, "tenant_exists")


async def test_overlapping_territories_are_refused_with_a_reason(live_server):
    admin = await platform_admin(live_server)
    status, answer = await admin.post(
        "/api/platform/tenants", onboarding(territory=square(118.79, 32.06, 0.02))
    )
    assert (status, answer["reason"]) == (409, "territory_overlap")
    assert "t1" in answer["message"]
    # One inside another is an overlap too.
    status, answer = await admin.post(
        "/api/platform/tenants", onboarding(territory=square(118.785, 32.065, 0.005))
    )
    assert (status, answer["reason"]) == (409, "territory_overlap")
    assert await live_server.platform.db.tenants.find_one({"_id": "t3"}) is None
    # Moving an existing territory onto a neighbour is refused the same way.
    status, answer = await patch(
        admin, "/api/platform/tenants/t2", {"territory": square(118.79, 32.06, 0.02)}
    )
    assert (status, answer["reason"]) == (409, "territory_overlap")
    status, answer = await patch(
        admin, "/api/platform/tenants/t2", {"territory": square(118.80, 32.06, 0.03)}
    )
    assert status == 200, answer


async def test_onboarding_refuses_bad_time_zones_and_bad_geojson(live_server):
    admin = await platform_admin(live_server)
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[118.9, 32.0], [119.0, 32.1], [119.0, 32.0], [118.9, 32.1], [118.9, 32.0]]
        ],
    }
    open_ring = {
        "type": "Polygon",
        "coordinates": [[[118.9, 32.0], [119.0, 32.0], [119.0, 32.1], [118.9, 32.1]]],
    }
    huge = square(100.0, 20.0, 15.0)
    cases = [
        (onboarding(timezone="Mars/Olympus_Mons"), "bad_timezone"),
        (onboarding(timezone="Asia/Shanghai/../x"), "bad_timezone"),
        (
            onboarding(territory={"type": "Point", "coordinates": [118.9, 32]}),
            "bad_geojson",
        ),
        (onboarding(territory=bowtie), "bad_geojson"),
        (onboarding(territory=open_ring), "bad_geojson"),
        (onboarding(territory="not json"), "bad_geojson"),
        (onboarding(territory=huge), "area_too_large"),
        (onboarding(kind="club"), "bad_kind"),
        (onboarding(tenant_id="Bad Id"), "bad_tenant_id"),
        (onboarding(contact={"name": "X", "phone": "call me"}), "phone_invalid"),
        (onboarding(contact={"name": "X"}), "contact_required"),
    ]
    for body, reason in cases:
        status, answer = await admin.post("/api/platform/tenants", body)
        assert (status, answer["reason"]) == (400, reason), reason
    assert await live_server.platform.db.tenants.count_documents({}) == 2
    # A tenant's own admin cannot onboard.
    tenant_admin = await live_server.signed_in(["admin"], "t1")
    status, answer = await tenant_admin.post("/api/platform/tenants", onboarding())
    assert (status, answer["reason"]) == (403, "role")


def _hours_excluding_now() -> dict:
    local = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai"))
    start = (local + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (local + dt.timedelta(hours=3)).strftime("%H:%M")
    return {"start": start, "end": end}


async def test_settings_apply_to_the_next_alarm_without_a_restart(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    person = await citizen(live_server)
    status, body = await patch(
        admin, "/api/tenant/settings", {"service_hours": _hours_excluding_now()}
    )
    assert status == 200, body
    status, body = await raise_alarm(person)
    assert (status, body["reason"]) == (400, "outside_hours")
    status, body = await patch(
        admin,
        "/api/tenant/settings",
        {"service_hours": {"start": "00:00", "end": "24:00"}, "claim_window_s": 30},
    )
    assert status == 200, body
    assert body["tenant"]["settings"]["claim_window_s"] == 30
    status, body = await raise_alarm(person)
    assert status == 201, body
    stored = await live_server.platform.db.alarms.find_one(
        {"_id": ObjectId(body["alarm"]["id"])}
    )
    window = stored["deadline_at"] - stored["created_at"]
    assert window == dt.timedelta(seconds=30)
    # Every setting is bounded; nothing is stored from a refused change.
    cases = [
        ({"claim_window_s": 5}, "bad_claim_window_s"),
        ({"claim_window_s": "60"}, "bad_claim_window_s"),
        ({"offer_radius_m": 100_000}, "bad_offer_radius_m"),
        (
            {"offer_radius_m": 4000, "offer_radius_max_m": 3000},
            "bad_offer_radius_max_m",
        ),
        ({"service_hours": {"start": "25:00", "end": "08:00"}}, "bad_service_hours"),
        ({"service_hours": {"start": "08:00", "end": "08:00"}}, "bad_service_hours"),
        ({"categories": []}, "bad_categories"),
        (
            {"categories": [{"code": "Bad Code", "zh": "x", "en": "x"}]},
            "bad_categories",
        ),
        ({"muster_off_duty": "everyone"}, "bad_muster_off_duty"),
        ({"surge_pricing": True}, "bad_settings"),
    ]
    for changes, reason in cases:
        status, answer = await patch(admin, "/api/tenant/settings", changes)
        assert (status, answer["reason"]) == (400, reason), changes
    status, body = await admin.get("/api/tenant")
    assert body["tenant"]["settings"]["claim_window_s"] == 30
    # Categories changed by the admin are what citizens may choose from.
    status, _ = await patch(
        admin,
        "/api/tenant/settings",
        {"categories": [{"code": "parking", "zh": "违章停车", "en": "Parking"}]},
    )
    assert status == 200
    status, body = await raise_alarm(person, category="noise")
    assert (status, body["reason"]) == (400, "bad_category")
    status, body = await raise_alarm(person, category="parking")
    assert status == 201, body


async def test_accounts_are_created_with_a_one_time_password(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    status, body = await admin.post(
        "/api/users",
        {
            "username": "Li.Wei",
            "name": "李伟",
            "roles": ["officer"],
            "badge_no": "010203",
            "phone": "13900001111",
        },
    )
    assert status == 201, body
    account = body["account"]
    assert account["username"] == "li.wei"
    assert account["user"]["roles"] == ["officer"]
    status, users = await admin.get("/api/users")
    assert "password" not in str(users)
    officer = live_server.client()
    status, me = await officer.post(
        "/api/auth/login", {"username": "li.wei", "password": account["password"]}
    )
    assert status == 200, me
    status, body = await admin.post(
        "/api/users", {"username": "li.wei", "name": "Other", "roles": ["officer"]}
    )
    assert (status, body["reason"]) == (409, "username_taken")
    for bad, reason in (
        ({"username": "x", "name": "A", "roles": ["officer"]}, "bad_username"),
        ({"username": "abc", "name": "A", "roles": ["platform_admin"]}, "bad_roles"),
        ({"username": "abc", "name": "A", "roles": []}, "bad_roles"),
        ({"username": "abc", "roles": ["officer"]}, "bad_name"),
    ):
        status, body = await admin.post("/api/users", bad)
        assert (status, body["reason"]) == (400, reason), bad


async def test_a_role_change_ends_the_accounts_sessions_at_once(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    username, password = await live_server.create_user(["officer"], "t1")
    officer = live_server.client()
    status, body = await officer.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    user_id = body["user"]["id"]
    socket = await officer.websocket()
    await socket.receive_type("welcome")
    status, body = await patch(
        admin, f"/api/users/{user_id}", {"roles": ["officer", "commander"]}
    )
    assert status == 200, body
    assert body["user"]["roles"] == ["commander", "officer"]
    async with asyncio.timeout(TIMEOUT):
        assert await socket.receive() is None  # closed by the server
    assert socket.connection.close_code == 4001
    status, _ = await officer.get("/api/auth/me")
    assert status == 401
    status, body = await officer.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert body["user"]["roles"] == ["commander", "officer"]
    # A station change keeps the session; the admin cannot drop their own
    # admin role.
    status, body = await patch(admin, f"/api/users/{user_id}", {"name": "新名字"})
    assert status == 200
    status, _ = await officer.get("/api/auth/me")
    assert status == 200
    status, body = await patch(
        admin, f"/api/users/{admin.user['id']}", {"roles": ["officer"]}
    )
    assert (status, body["reason"]) == (409, "self")


async def test_stations_with_imported_zones(live_server):
    admin = await live_server.signed_in(["admin"], "t1")
    officer = await live_server.signed_in(["officer"], "t1")
    zone = square(118.78, 32.06, 0.01)["coordinates"][0]
    feature_collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "north"},
                "geometry": {"type": "Polygon", "coordinates": zone},
            }
        ],
    }
    body = {
        "name": "玄武门派出所",
        "address": "玄武门1号",
        "phone": "025-55500101",
        "location": {"type": "Point", "coordinates": [118.785, 32.065]},
        "zone": feature_collection,
    }
    status, answer = await admin.post("/api/stations", body)
    assert status == 201, answer
    station = answer["station"]
    assert station["zone"]["type"] == "Polygon"
    assert station["phone"] == "02555500101"
    status, answer = await admin.post("/api/stations", body)
    assert (status, answer["reason"]) == (409, "station_exists")
    outside = {**body, "name": "Far", "zone": square(119.5, 32.0, 0.01)}
    status, answer = await admin.post("/api/stations", outside)
    assert (status, answer["reason"]) == (400, "outside_territory")
    status, answer = await patch(
        admin, f"/api/stations/{station['id']}", {"address": "玄武门2号"}
    )
    assert (status, answer["station"]["address"]) == (200, "玄武门2号")
    # Assigning an account to the station; officers cannot change stations.
    status, answer = await patch(
        admin, f"/api/users/{officer.user['id']}", {"station_id": station["id"]}
    )
    assert (status, answer["user"]["station_id"]) == (200, station["id"])
    status, answer = await patch(
        officer, f"/api/stations/{station['id']}", {"address": "x"}
    )
    assert (status, answer["reason"]) == (403, "role")


async def test_a_tenant_admin_cannot_touch_another_tenant(live_server):
    admin_t1 = await live_server.signed_in(["admin"], "t1")
    admin_t2 = await live_server.signed_in(["admin"], "t2")
    other_id = (await live_server.signed_in(["officer"], "t2")).user["id"]
    status, answer = await admin_t2.post(
        "/api/stations",
        {
            "name": "东站",
            "location": {"type": "Point", "coordinates": [118.83, 32.07]},
            "zone": square(118.82, 32.06, 0.01),
        },
    )
    assert status == 201, answer
    station_t2 = answer["station"]["id"]
    for method, path, body in (
        ("PATCH", f"/api/users/{other_id}", {"roles": ["admin"]}),
        ("POST", f"/api/users/{other_id}/disable", None),
        ("PATCH", f"/api/stations/{station_t2}", {"name": "mine now"}),
    ):
        status, answer, _ = await admin_t1.request(method, path, body=body)
        assert status == 404, (method, path, answer)
    # Nor can t1's admin put its own account into t2's station.
    status, answer = await patch(
        admin_t1, f"/api/users/{admin_t1.user['id']}", {"station_id": station_t2}
    )
    assert status == 404
    status, answer = await patch(
        admin_t1, "/api/platform/tenants/t2", {"name": "taken over"}
    )
    assert (status, answer["reason"]) == (403, "role")
    unchanged = await live_server.platform.db.users.find_one(
        {"_id": ObjectId(other_id)}
    )
    assert unchanged["roles"] == ["officer"] and not unchanged["disabled"]


async def test_administration_and_grants_are_audited_without_phones(live_server):
    platform = await platform_admin(live_server)
    status, _ = await platform.post("/api/platform/tenants", onboarding())
    assert status == 201
    admin = await live_server.signed_in(["admin"], "t1")
    await patch(admin, "/api/tenant/settings", {"claim_window_s": 45})
    status, body = await admin.post(
        "/api/users",
        {
            "username": "zhang",
            "name": "张",
            "roles": ["officer"],
            "phone": "13900002222",
        },
    )
    user_id = body["account"]["user"]["id"]
    await patch(admin, f"/api/users/{user_id}", {"roles": ["commander"]})
    await admin.post(f"/api/users/{user_id}/disable")
    status, body = await admin.post(
        "/api/stations",
        {
            "name": "北站",
            "phone": "025-55500199",
            "location": {"type": "Point", "coordinates": [118.785, 32.065]},
            "zone": square(118.78, 32.06, 0.01),
        },
    )
    await patch(admin, f"/api/stations/{body['station']['id']}", {"name": "北站二"})
    status, body = await admin.post(
        "/api/grants",
        {
            "grantee_id": "t2",
            "kind": "tasks",
            "ends_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(),
        },
    )
    await admin.post(f"/api/grants/{body['grant']['id']}/revoke")
    audit = live_server.platform.audit
    assert await audit.flush()
    entries = await audit.collection.find({"outcome": "ok"}).to_list()
    actions = {e["action"] for e in entries}
    assert {
        "tenant.onboard",
        "tenant.settings",
        "user.create",
        "user.roles",
        "user.disable",
        "station.create",
        "station.update",
        "grant.create",
        "grant.revoke",
    } <= actions
    onboard = next(e for e in entries if e["action"] == "tenant.onboard")
    assert (onboard["chain"], onboard["target"]["id"]) == ("platform", "t3")
    text = str(entries)
    for phone in ("13900002222", "55500199", "55550101"):
        assert phone not in text


async def test_two_overlapping_agencies_drawn_at_once_are_checked_in_turn(
    live_server, monkeypatch
):
    """The second is checked only once the first is stored, so one is refused.

    The first onboarding is held just before its insert (a slow write, or a
    second process); the second, drawn over the same land meanwhile, waits
    for the territories lease and then sees the first.
    """
    admin = await platform_admin(live_server)
    held, release = hold_inserts(monkeypatch, "tenants", lambda d: d["_id"] == "t3")
    first = asyncio.create_task(admin.post("/api/platform/tenants", onboarding()))
    await asyncio.wait_for(held.wait(), TIMEOUT)
    overlapping = onboarding("t4", territory=square(118.805, 32.065, 0.01))
    second = asyncio.create_task(admin.post("/api/platform/tenants", overlapping))
    await asyncio.sleep(0.5)  # long enough for an unguarded check to pass
    assert not second.done()
    release.set()
    status, answer = await asyncio.wait_for(first, TIMEOUT)
    assert status == 201, answer
    status, answer = await asyncio.wait_for(second, TIMEOUT)
    assert (status, answer["reason"]) == (409, "territory_overlap"), answer
    assert "t3" in answer["message"]
    assert await live_server.platform.db.tenants.find_one({"_id": "t4"}) is None


async def test_a_lapsed_territories_lease_is_taken_over_and_a_held_one_refused(
    live_server, monkeypatch
):
    """A holder that died leaves the lease for at most its hold; one still
    held past the wait is answered plainly."""
    admin = await platform_admin(live_server)
    leases = live_server.platform.db.leases
    now = dt.datetime.now(dt.UTC)
    await leases.insert_one(
        {"_id": "territories", "holder": "dead", "until": now - dt.timedelta(seconds=1)}
    )
    status, answer = await admin.post("/api/platform/tenants", onboarding())
    assert status == 201, answer
    assert (await leases.find_one({"_id": "territories"}))["holder"] is None

    before = await live_server.platform.db.tenants.find_one({"_id": "t3"})
    monkeypatch.setattr("server.leases.WAIT_S", 0.3)
    await leases.update_one(
        {"_id": "territories"},
        {"$set": {"holder": "alive", "until": now + dt.timedelta(seconds=60)}},
    )
    status, answer = await patch(
        admin, "/api/platform/tenants/t3", {"territory": square(118.80, 32.06, 0.015)}
    )
    assert (status, answer["reason"]) == (409, "busy"), answer
    stored = await live_server.platform.db.tenants.find_one({"_id": "t3"})
    assert stored["territory"] == before["territory"]

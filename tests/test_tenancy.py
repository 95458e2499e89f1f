"""Tenant scoping and deny-by-default authorization over the JSON API."""

import datetime as dt

import pytest

from server import access
from server.access import Principal
from server.errors import Forbidden, NotFound, Unauthenticated


async def _station(db, tenant_id: str, station_id: str) -> None:
    await db.stations.insert_one(
        {
            "_id": station_id,
            "tenant_id": tenant_id,
            "name": f"Station {station_id}",
            "location": {"type": "Point", "coordinates": [118.79, 32.07]},
        }
    )


async def test_a_user_of_another_tenant_cannot_read_a_station_by_id(live_server):
    db = live_server.platform.db
    await _station(db, "t1", "t1-north")
    t1 = await live_server.signed_in(["commander"], "t1")
    t2 = await live_server.signed_in(["commander"], "t2")
    status, body = await t1.get("/api/stations/t1-north")
    assert status == 200 and body["station"]["name"] == "Station t1-north"
    status, body = await t2.get("/api/stations/t1-north")
    assert (status, body["reason"]) == (404, "not_found")
    assert (await t2.get("/api/stations"))[1] == {"stations": []}


async def test_a_user_of_another_tenant_cannot_read_an_officer_by_id(live_server):
    username, _ = await live_server.create_user(
        ["officer"],
        "t1",
        duty="on",
        position={"type": "Point", "coordinates": [118.79, 32.07]},
        position_at=dt.datetime.now(dt.UTC),
    )
    officer = await live_server.platform.db.users.find_one({"username": username})
    t1 = await live_server.signed_in(["commander"], "t1")
    t2 = await live_server.signed_in(["commander"], "t2")
    status, body = await t1.get(f"/api/officers/{officer['_id']}")
    assert status == 200 and body["officer"]["duty"] == "on"
    assert 0 <= body["officer"]["position_age_s"] < 60
    assert (await t2.get(f"/api/officers/{officer['_id']}"))[0] == 404
    ids = [o["id"] for o in (await t2.get("/api/officers"))[1]["officers"]]
    assert str(officer["_id"]) not in ids


async def test_an_admin_cannot_disable_another_tenants_account(live_server):
    t2_admin = await live_server.signed_in(["admin"], "t2")
    victim = await live_server.signed_in(["officer"], "t1")
    status, _ = await t2_admin.post(f"/api/users/{victim.user['id']}/disable")
    assert status == 404
    assert (await victim.get("/api/auth/me"))[0] == 200


async def test_roles_limit_what_staff_may_read(live_server):
    officer = await live_server.signed_in(["officer"], "t1")
    assert (await officer.get("/api/stations"))[0] == 200
    status, body = await officer.get("/api/officers")
    assert (status, body["reason"]) == (403, "role")
    status, _ = await officer.get("/api/users")
    assert status == 403


async def test_anonymous_callers_get_401_not_a_redirect(live_server):
    status, body = await live_server.client().get("/api/officers")
    assert (status, body["reason"]) == (401, "unauthenticated")


async def test_citizens_cannot_read_staff_data(live_server):
    client = live_server.client()
    _, terms = await client.get("/api/terms")
    await client.post(
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"]},
    )
    assert (await client.get("/api/stations"))[0] == 403


async def test_undeclared_methods_are_refused(live_server):
    client = await live_server.signed_in(["admin"], "t1")
    status, body, _ = await client.request("DELETE", "/api/stations")
    assert status == 405 and body["reason"] == "method_not_allowed"
    status, body = await client.get("/api/no/such/thing")
    assert (status, body["reason"]) == (404, "not_found")


async def test_malformed_ids_are_not_found_rather_than_errors(live_server):
    client = await live_server.signed_in(["commander"], "t1")
    for bad in ["abc", "%7B%22%24ne%22%3A1%7D", "0" * 23]:
        status, body = await client.get(f"/api/officers/{bad}")
        assert (status, body["reason"]) == (404, "not_found")


def _principal(*roles, tenant="t1"):
    return Principal("staff", "u1", frozenset(roles), "s1", tenant)


def test_require_denies_by_default():
    admin = _principal(access.ADMIN)
    with pytest.raises(Forbidden):
        access.require(admin, None)  # nobody declared this action
    with pytest.raises(Forbidden):
        access.require(admin, "no.such.permission")
    with pytest.raises(Unauthenticated):
        access.require(None, "tenant.read")
    access.require(None, access.PUBLIC)
    access.require(admin, "users.manage")


def test_require_tenant_hides_other_tenants_documents():
    with pytest.raises(NotFound):
        access.require_tenant(_principal(access.ADMIN, tenant="t1"), "t2")
    with pytest.raises(NotFound):
        access.require_tenant(_principal(access.ADMIN, tenant="t1"), None)
    access.require_tenant(_principal(access.ADMIN, tenant="t1"), "t1")
    access.require_tenant(_principal(access.PLATFORM_ADMIN, tenant=None), "t2")


def test_every_api_handler_declares_its_permissions():
    from server.app import routes

    for rule in routes(_config()):
        handler = rule.target if hasattr(rule, "target") else rule[1]
        declared = getattr(handler, "access", None)
        if declared is None:
            continue  # static file handlers
        for method, permission in declared.items():
            assert permission in (access.PUBLIC, access.SIGNED_IN) or (
                permission in access.PERMISSIONS
            ), f"{handler.__name__}.{method} names unknown {permission!r}"


def _config():
    from server import config

    return config.load(env={})

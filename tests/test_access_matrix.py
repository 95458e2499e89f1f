"""Who may call what: every route and websocket message type, for every role.

The tables below are the platform's access policy written out by hand, one
line per route and method: changing who may do something means changing a
line here too, on purpose. The tests check that the tables cover every
registered route and message type (a new route without a line fails), and
that each role in tenant t1 (and an anonymous caller) gets through the role
gate exactly where its line says: a refusal is 401 (anonymous), 403 with the
reason ``role``, or for a page the sign-in redirect or its 403 page. Ids in
paths are fresh, so allowed calls mostly end in 404 or 400, which is fine:
the gate let them through. Another agency's data is covered separately at the
end: read by id it is refused with 404 and audited.
"""

from __future__ import annotations

import itertools

import pytest
from bson import ObjectId

from server.app import routes
from server.realtime.socket import MESSAGE_TYPES
from tests.test_alarms import citizen, open_all_day, raise_alarm
from tests.test_rooms import jpeg, room_with_experts, upload

ANON, CIT, OFF, CMD, EXP, ADM, PLA = (
    "anonymous",
    "citizen",
    "officer",
    "commander",
    "expert",
    "admin",
    "platform_admin",
)
ROLES = (ANON, CIT, OFF, CMD, EXP, ADM, PLA)
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANON}
STAFF = frozenset({OFF, CMD, EXP, ADM, PLA})
COMMAND = frozenset({CMD, ADM})
FIELD = frozenset({OFF, CMD, ADM})
ROOMS = frozenset({OFF, CMD, EXP})

# (method, route) → the roles the role gate lets through.
ROUTES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/api/openapi.json"): EVERYONE,
    ("POST", "/api/auth/login"): EVERYONE,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("GET", "/api/auth/me"): SIGNED_IN,
    ("GET", "/api/terms"): EVERYONE,
    ("POST", "/api/citizen/session"): EVERYONE,
    ("GET", "/api/tenant"): STAFF,
    ("GET", "/api/stations"): STAFF,
    ("POST", "/api/stations"): {ADM},
    ("GET", "/api/stations/{station_id}"): STAFF,
    ("PATCH", "/api/stations/{station_id}"): {ADM},
    ("GET", "/api/officers"): COMMAND,
    ("GET", "/api/officers/{user_id}"): COMMAND,
    ("GET", "/api/users"): {ADM},
    ("POST", "/api/users"): {ADM},
    ("PATCH", "/api/users/{user_id}"): {ADM},
    ("POST", "/api/users/{user_id}/disable"): {ADM},
    ("PATCH", "/api/tenant/settings"): {ADM},
    ("GET", "/api/platform/tenants"): {PLA},
    ("POST", "/api/platform/tenants"): {PLA},
    ("PATCH", "/api/platform/tenants/{tenant_id}"): {PLA},
    ("GET", "/api/grants"): {ADM},
    ("POST", "/api/grants"): {ADM},
    ("POST", "/api/grants/{grant_id}/revoke"): {ADM},
    ("GET", "/api/service"): EVERYONE,
    ("GET", "/api/plates/{code}"): EVERYONE,
    ("POST", "/api/alarms"): {CIT},
    ("GET", "/api/alarms"): {CIT},
    ("GET", "/api/alarms.geojson"): FIELD,
    ("GET", "/api/alarms/{alarm_id}"): SIGNED_IN,
    ("GET", "/api/alarms/{alarm_id}/contact"): FIELD,
    ("GET", "/api/alarms/{alarm_id}/photos/{photo_id}"): SIGNED_IN,
    ("POST", "/api/alarms/{alarm_id}/claim"): {OFF},
    ("POST", "/api/alarms/{alarm_id}/decline"): {OFF},
    ("POST", "/api/alarms/{alarm_id}/progress"): {OFF},
    ("POST", "/api/alarms/{alarm_id}/cancel"): {CIT},
    ("POST", "/api/alarms/{alarm_id}/rating"): {CIT},
    ("POST", "/api/alarms/{alarm_id}/dispatch"): COMMAND,
    ("POST", "/api/alarms/{alarm_id}/close"): COMMAND,
    ("GET", "/api/alarms/{alarm_id}/suggestions"): COMMAND,
    ("GET", "/api/command/alarms"): COMMAND,
    ("GET", "/api/officer/state"): {OFF},
    ("POST", "/api/officer/duty"): {OFF},
    ("POST", "/api/officer/position"): {OFF},
    ("GET", "/api/kpi"): COMMAND,
    ("GET", "/open311/v2/services.{format}"): EVERYONE,
    ("GET", "/open311/v2/services/{service_code}.{format}"): EVERYONE,
    ("GET", "/open311/v2/requests.{format}"): EVERYONE,
    ("POST", "/open311/v2/requests.{format}"): EVERYONE,
    ("GET", "/open311/v2/requests/{service_request_id}.{format}"): EVERYONE,
    ("GET", "/api/push/key"): STAFF,
    ("POST", "/api/push/subscriptions"): {OFF, EXP},
    ("DELETE", "/api/push/subscriptions"): {OFF, EXP},
    ("POST", "/api/offers/{alarm_id}/ack"): {OFF},
    ("POST", "/api/tasks"): COMMAND,
    ("GET", "/api/tasks"): FIELD,
    ("GET", "/api/tasks/mine"): {OFF},
    ("GET", "/api/tasks/{task_id}"): FIELD,
    ("PATCH", "/api/tasks/{task_id}"): COMMAND,
    ("POST", "/api/tasks/{task_id}/signup"): {OFF},
    ("POST", "/api/tasks/{task_id}/withdraw"): {OFF},
    ("POST", "/api/tasks/{task_id}/decide"): COMMAND,
    ("POST", "/api/tasks/{task_id}/message"): COMMAND,
    ("POST", "/api/tasks/{task_id}/cancel"): COMMAND,
    ("POST", "/api/tasks/{task_id}/invite"): COMMAND,
    ("GET", "/api/tasks/{task_id}/recommended"): COMMAND,
    ("GET", "/api/tasks/{task_id}/roster.csv"): COMMAND,
    ("GET", "/api/officer/profile"): {OFF},
    ("PUT", "/api/officer/profile"): {OFF},
    ("GET", "/api/specialties/search"): COMMAND,
    ("GET", "/api/audit"): {ADM, PLA},
    ("GET", "/api/audit/export.csv"): {ADM, PLA},
    ("GET", "/api/audit/verify"): {ADM, PLA},
    ("POST", "/api/rooms"): {OFF, CMD},
    ("GET", "/api/rooms"): ROOMS,
    ("GET", "/api/rooms/{room_id}"): ROOMS,
    ("POST", "/api/rooms/{room_id}/invite"): {OFF, CMD},
    ("POST", "/api/rooms/{room_id}/respond"): ROOMS,
    ("POST", "/api/rooms/{room_id}/remove"): ROOMS,
    ("POST", "/api/rooms/{room_id}/close"): ROOMS,
    ("POST", "/api/rooms/{room_id}/messages"): ROOMS,
    ("GET", "/api/rooms/{room_id}/messages"): ROOMS,
    ("POST", "/api/rooms/{room_id}/read"): ROOMS,
    ("GET", "/api/rooms/{room_id}/media/{media_id}"): ROOMS,
    ("GET", "/api/rooms/{room_id}/transcript"): ROOMS,
    ("POST", "/api/musters"): COMMAND,
    ("GET", "/api/musters"): COMMAND,
    ("GET", "/api/musters/{muster_id}"): FIELD,
    ("POST", "/api/musters/{muster_id}/answer"): {OFF},
    ("POST", "/api/musters/{muster_id}/widen"): COMMAND,
    ("POST", "/api/musters/{muster_id}/remind"): COMMAND,
    ("POST", "/api/musters/{muster_id}/end"): COMMAND,
    ("GET", "/api/musters/{muster_id}/cap"): COMMAND,
    ("GET", "/api/officer/musters"): {OFF},
    ("GET", "/api/expert-categories"): EVERYONE,
    ("POST", "/api/expert-applications"): EVERYONE,
    ("GET", "/api/expert-applications/{reference}"): EVERYONE,
    ("GET", "/api/admin/expert-applications"): {ADM},
    ("POST", "/api/admin/expert-applications/{application_id}/decision"): {ADM},
    ("POST", "/api/admin/experts/{user_id}/suspend"): {ADM},
    ("POST", "/api/admin/experts/{user_id}/reinstate"): {ADM},
    ("GET", "/api/expert/availability"): {EXP},
    ("POST", "/api/expert/availability"): {EXP},
    ("GET", "/api/experts"): FIELD,
    # Pages.
    ("GET", "/"): EVERYONE,
    ("GET", "/citizen"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("GET", "/apply"): EVERYONE,
    ("GET", "/sw.js"): EVERYONE,
    ("GET", "/officer"): {OFF},
    ("GET", "/command"): COMMAND,
    ("GET", "/expert"): {EXP},
    ("GET", "/admin"): {ADM, PLA},
    ("GET", "/kpi"): COMMAND,
    ("GET", "/experts"): FIELD,
    ("GET", "/tasks"): FIELD,
    ("GET", "/rooms/{room_id}"): ROOMS,
    ("GET", "/musters/{muster_id}"): COMMAND,
}

# Websocket message type → the roles that may send it (anonymous callers
# cannot open a socket at all).
MESSAGES: dict[str, frozenset[str]] = {
    "ping": SIGNED_IN,
    "subscribe": SIGNED_IN,
    "unsubscribe": SIGNED_IN,
    "duty": {OFF},
    "position": {OFF},
    "offer.ack": {OFF},
    "claim": {OFF},
    "room.join": ROOMS,
    "room.leave": ROOMS,
    "room.read": ROOMS,
}

# Routes that change the caller's own session: each is tried on a client of
# its own, so that the rest of the table runs with the session intact.
SESSION_CHANGING = {
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/citizen/session"),
}
# Routes not covered by the role gate (they answer the websocket upgrade).
NOT_IN_TABLE = {"/ws"}
SAMPLE = {
    "format": "json",
    "code": "NOPLATE",
    "reference": "JD-NOSUCH",
    "station_id": "no-such-station",
    "service_code": "noise",
}


def registered() -> set[tuple[str, str]]:
    from server import config as config_module

    found = set()
    for spec in routes(config_module.load(env={})):
        template = getattr(spec, "template", None)
        if template is None or template in NOT_IN_TABLE:
            continue
        for method in getattr(spec.handler_class, "access", {}):
            found.add((method, template))
    return found


def test_every_route_has_a_line_and_every_line_a_route():
    routes_now = registered()
    assert sorted(routes_now - set(ROUTES)) == [], "routes without a line here"
    assert sorted(set(ROUTES) - routes_now) == [], "lines for routes that are gone"


def test_every_message_type_has_a_line():
    assert set(MESSAGES) == set(MESSAGE_TYPES)


def fill(template: str) -> str:
    path = template
    for name in ("format", "code", "reference", "station_id", "service_code"):
        path = path.replace("{" + name + "}", SAMPLE[name])
    while "{" in path:
        start = path.index("{")
        path = path[:start] + str(ObjectId()) + path[path.index("}", start) + 1 :]
    return path


def is_page(template: str) -> bool:
    return not template.startswith(("/api/", "/open311/", "/healthz"))


def refused(template: str, status: int, body) -> bool:
    if is_page(template):
        return status in (302, 401, 403)
    if status == 401:
        return True
    return status == 403 and isinstance(body, dict) and body.get("reason") == "role"


async def client_as(live_server, role: str):
    if role == ANON:
        return live_server.client()
    if role == CIT:
        return await citizen(live_server)
    tenant = None if role == PLA else "t1"
    return await live_server.signed_in([role], tenant_id=tenant)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_passes_the_gate_exactly_where_allowed(live_server, role):
    client = await client_as(live_server, role)
    wrong = []
    for (method, template), allowed in sorted(ROUTES.items()):
        caller = client
        if (method, template) in SESSION_CHANGING:
            caller = await client_as(live_server, role)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        status, answer, _ = await caller.request(method, fill(template), body=body)
        assert status < 500, (method, template, role, status, answer)
        if refused(template, status, answer) == (role in allowed):
            wrong.append((method, template, status))
    assert wrong == [], f"{role}: gate disagrees with the table"


@pytest.mark.parametrize("role", sorted(SIGNED_IN))
async def test_each_role_sends_exactly_the_allowed_socket_messages(live_server, role):
    client = await client_as(live_server, role)
    socket = await client.websocket()
    await socket.receive_type("welcome")
    wrong = []
    for number, (kind, allowed) in enumerate(sorted(MESSAGES.items())):
        await socket.send({"type": kind, "id": f"m{number}"})
        while True:
            answer = await socket.receive()
            assert answer is not None, (role, kind, "socket closed")
            if answer.get("id") == f"m{number}" or answer.get("type") == "error":
                break
        gate_refused = answer.get("type") == "error" and answer["reason"] == "role"
        if gate_refused == (role in allowed):
            wrong.append((kind, answer))
    assert wrong == []


async def test_anonymous_callers_cannot_open_a_socket(live_server):
    with pytest.raises(Exception) as refused_upgrade:
        await live_server.client().websocket()
    # The upgrade is refused before any websocket exists.
    assert "HTTP 403" in str(refused_upgrade.value)


# -- another agency's data ------------------------------------------------------


async def test_another_agencys_data_read_by_id_is_refused_and_audited(live_server):
    await open_all_day(live_server)
    status, body = await raise_alarm(await citizen(live_server))
    assert status == 201
    alarm_id = body["alarm"]["id"]
    _, (expert,), room_id = await room_with_experts(live_server, 1)
    _, photo = await upload(expert, room_id, "x1", jpeg())
    media_id = photo["message"]["media"]["id"]
    officer = await live_server.signed_in(["officer"])
    their = {
        role: await live_server.signed_in([role], tenant_id="t2")
        for role in (CMD, EXP, ADM)
    }
    reads = [
        (their[CMD], f"/api/alarms/{alarm_id}"),
        (their[CMD], f"/api/alarms/{alarm_id}/suggestions"),
        (their[CMD], f"/api/rooms/{room_id}"),
        (their[EXP], f"/api/rooms/{room_id}/messages"),
        (their[EXP], f"/api/rooms/{room_id}/media/{media_id}"),
        (their[CMD], f"/api/officers/{officer.user['id']}"),
        (their[ADM], "/api/audit?chain=t1"),
    ]
    for client, path in reads:
        status, body = await client.get(path)
        assert (status, body["reason"]) == (404, "not_found"), path
    audit = live_server.platform.audit
    await audit.flush()
    refusals = await audit.collection.find(
        {"chain": "t2", "action": "access.refused"}
    ).to_list()
    assert sorted(e["detail"]["path"] for e in refusals) == sorted(
        path.split("?")[0] for _, path in reads
    )
    assert all(e["detail"]["status"] == 404 for e in refusals)
    assert {e["actor"]["id"] for e in refusals} == {
        c.user["id"] for c in itertools.chain(their.values())
    }

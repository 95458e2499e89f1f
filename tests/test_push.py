"""Web push: keys, subscriptions, and offers that reach an officer's closed app.

Pushes go to `tests.pushservice.TestPushService`, which checks the VAPID
token, the headers and the encryption as a real push service does, and
decrypts every message with the subscription's private key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import re
import socket
import statistics
import time

import orjson
import pytest
from bson import ObjectId
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tornado.httpclient import HTTPRequest

from server import push
from server.access import Principal
from server.app import Platform
from server.config import ConfigError
from server.errors import Invalid
from tests.pushservice import TestPushService, b64url, b64url_decode
from tests.test_alarms import citizen, next_event, officer_online, open_all_day
from tests.test_alarms import raise_alarm as _raise_alarm

SUBJECT = "mailto:ops@example.org"
NEAR = (118.791, 32.071)  # about 140 m from the scene of `raise_alarm`


@pytest.fixture
def config(config):
    # The test push service listens on http://127.0.0.1: allowed here only.
    return config.replace(push={"subject": SUBJECT, "allow_private_endpoints": True})


@pytest.fixture
async def push_service(platform):
    service = await TestPushService(platform.push.keys.public_key).start()
    yield service
    await service.stop()


async def absent_officer(live_server, service, lon=NEAR[0], lat=NEAR[1]):
    """An on-duty officer with a fresh position, a subscription, no socket."""
    client = await live_server.signed_in(["officer"])
    await client.post("/api/officer/duty", {"duty": "on"})
    status, _ = await client.post(
        "/api/officer/position", {"lon": lon, "lat": lat, "accuracy": 10}
    )
    assert status == 200
    sub = service.subscription()
    status, body = await client.post("/api/push/subscriptions", sub.browser_json())
    assert (status, body) == (201, {"created": True})
    return client, sub


async def raise_alarm(live_server) -> str:
    status, body = await _raise_alarm(
        await citizen(live_server), address="12 Lake Road"
    )
    assert status == 201, body
    return body["alarm"]["id"]


async def eventually(check, within: float = 10.0):
    """Poll ``check`` (a coroutine function) until it returns something true."""
    async with asyncio.timeout(within):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


def offer_record(platform, alarm_id: str, officer_id: str):
    async def read():
        return await platform.db.offers.find_one(
            {"_id": f"{ObjectId(alarm_id)}:{officer_id}"}
        )

    return read


def pushed(platform, alarm_id, officer_id, *statuses):
    """Waits for the offer's push record to reach one of ``statuses``."""

    async def check():
        offer = await offer_record(platform, alarm_id, officer_id)()
        status = (offer or {}).get("push", {}).get("status")
        return offer if status in statuses else None

    return eventually(check)


def worker_headers(site: str = "same-origin") -> dict:
    """A service worker's request: no XSRF token, the browser's fetch metadata."""
    return {"Sec-Fetch-Site": site, "X-XSRFToken": ""}


async def delete_subscription(client, endpoint: str, headers: dict):
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    response = await client.http.fetch(
        HTTPRequest(
            client.base_url + "/api/push/subscriptions",
            method="DELETE",
            headers={"Cookie": cookies, "Content-Type": "application/json", **headers},
            body=orjson.dumps({"endpoint": endpoint}),
            allow_nonstandard_methods=True,
        ),
        raise_error=False,
    )
    return response.code, orjson.loads(response.body)


# -- keys ----------------------------------------------------------------------


async def test_the_vapid_key_is_made_once_kept_0600_served_and_never_logged(
    live_server, config, caplog
):
    caplog.set_level(logging.DEBUG, logger="server")
    platform = live_server.platform
    path = config.data_path / push.KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    first = platform.push.keys.public_key
    assert len(b64url_decode(first)) == 65
    # A restart on the same data directory keeps the key the browsers know.
    again = await Platform.start(config, config.database.uri)
    try:
        assert again.push.keys.public_key == first
    finally:
        await again.close()
    officer = await live_server.signed_in(["officer"])
    assert await officer.get("/api/push/key") == (200, {"public_key": first})
    status, _ = await (await citizen(live_server)).get("/api/push/key")
    assert status == 403
    secret_lines = [ln for ln in path.read_text().splitlines() if "-----" not in ln]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert secret_lines and not any(line in logged for line in secret_lines)


def test_a_configured_key_is_used_and_a_bad_one_is_refused_without_echo(config):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    given = config.replace(push={"vapid_private_key": pem})
    keys = push.VapidKeys.load(given, SUBJECT)
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert keys.public_key == b64url(point)
    assert not (config.data_path / push.KEY_FILE).exists()
    with pytest.raises(ConfigError) as caught:
        push.VapidKeys.load(
            config.replace(push={"vapid_private_key": "c2VjcmV0LWtleQ"}), SUBJECT
        )
    assert "c2VjcmV0LWtleQ" not in str(caught.value)
    with pytest.raises(ConfigError, match="subject"):
        push.VapidKeys.load(given, "ops@example.org")  # not a mailto: URI


# -- subscriptions ---------------------------------------------------------------

PUBLIC_IP = "93.184.215.14"
NAMES = {
    "push.example.org": [PUBLIC_IP],
    "rebind.example.org": [PUBLIC_IP, "10.0.0.7"],
}


async def fake_resolve(host: str, port: int) -> list[str]:
    """Names of the validation tests; anything else does not resolve."""
    if host in NAMES:
        return NAMES[host]
    raise socket.gaierror(socket.EAI_NONAME, "no such name")


def browser_subscription(endpoint="https://push.example.org/send/abc", **keys):
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint,
        )
    )
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef"), **keys},
    }


async def test_a_well_formed_subscription_on_a_public_host_is_accepted():
    sub = await push.validate_subscription(
        browser_subscription(), allow_private=False, resolve=fake_resolve
    )
    assert sub["endpoint"] == "https://push.example.org/send/abc"
    assert len(b64url_decode(sub["keys"]["auth"])) == 16


@pytest.mark.parametrize(
    ("subscription", "reason"),
    [
        (browser_subscription("http://push.example.org/x"), "endpoint_not_https"),
        (browser_subscription("https://127.0.0.1/x"), "endpoint_private_address"),
        (browser_subscription("https://10.1.2.3/x"), "endpoint_private_address"),
        (browser_subscription("https://192.168.1.1/x"), "endpoint_private_address"),
        (browser_subscription("https://169.254.169.254/x"), "endpoint_private_address"),
        (browser_subscription("https://[::1]/x"), "endpoint_private_address"),
        (browser_subscription("https://[fe80::1]/x"), "endpoint_private_address"),
        (
            browser_subscription("https://[::ffff:127.0.0.1]/x"),
            "endpoint_private_address",
        ),
        # One private address among public ones is enough to refuse.
        (
            browser_subscription("https://rebind.example.org/x"),
            "endpoint_private_address",
        ),
        (browser_subscription("https://nowhere.invalid/x"), "endpoint_unresolvable"),
        (browser_subscription("https://user:pw@push.example.org/x"), "bad_endpoint"),
        (browser_subscription("https://push.example.org/a b"), "bad_endpoint"),
        (browser_subscription("https://push.example.org:99999/x"), "bad_endpoint"),
        (
            browser_subscription("https://push.example.org/" + "a" * 2100),
            "bad_endpoint",
        ),
        (browser_subscription(p256dh=b64url(b"\x04" + b"\x01" * 63)), "bad_p256dh"),
        (browser_subscription(p256dh=b64url(b"\x04" + b"\x01" * 64)), "bad_p256dh"),
        (browser_subscription(p256dh="not base64!"), "bad_p256dh"),
        (browser_subscription(auth=b64url(b"fifteen bytes!!")), "bad_auth"),
        (browser_subscription(auth="ab+/ab+/ab+/ab+/ab+/aa"), "bad_auth"),
        (browser_subscription(auth=None), "bad_auth"),
        ({"endpoint": "https://push.example.org/x"}, "bad_subscription"),
        ({**browser_subscription(), "expirationTime": "soon"}, "bad_subscription"),
        ("https://push.example.org/x", "bad_subscription"),
    ],
)
async def test_bad_subscriptions_are_refused_with_their_reason(subscription, reason):
    with pytest.raises(Invalid) as caught:
        await push.validate_subscription(
            subscription, allow_private=False, resolve=fake_resolve
        )
    assert caught.value.reason == reason


async def test_a_host_name_that_resolves_to_loopback_is_refused():
    # The real resolver: "localhost" is 127.0.0.1 (and ::1) everywhere.
    with pytest.raises(Invalid) as caught:
        await push.validate_subscription(
            browser_subscription("https://localhost/push/x"), allow_private=False
        )
    assert caught.value.reason == "endpoint_private_address"


async def test_the_api_refuses_private_endpoints_unless_the_test_switch_is_on(
    live_server, push_service, monkeypatch
):
    monkeypatch.setattr(live_server.platform.push.subscriptions, "allow_private", False)
    officer = await live_server.signed_in(["officer"])
    sub = push_service.subscription().browser_json()
    status, body = await officer.post("/api/push/subscriptions", sub)
    assert (status, body["reason"]) == (400, "endpoint_not_https")
    https = {**sub, "endpoint": sub["endpoint"].replace("http:", "https:")}
    status, body = await officer.post("/api/push/subscriptions", https)
    assert (status, body["reason"]) == (400, "endpoint_private_address")
    assert await live_server.platform.db.push_subscriptions.count_documents({}) == 0
    commander = await live_server.signed_in(["commander"])
    status, body = await commander.post("/api/push/subscriptions", sub)
    assert (status, body["reason"]) == (403, "role")


async def test_a_renewal_replaces_the_old_endpoint_and_logout_removes_the_device(
    live_server, push_service
):
    db = live_server.platform.db
    phone, tablet = await _one_officer_on_two_devices(live_server)
    first, renewed = push_service.subscription(), push_service.subscription()
    assert await phone.post("/api/push/subscriptions", first.browser_json()) == (
        201,
        {"created": True},
    )
    # The same endpoint again (the page re-registers on every start): updated.
    assert await phone.post("/api/push/subscriptions", first.browser_json()) == (
        200,
        {"created": False},
    )
    # The browser renewed the subscription (pushsubscriptionchange): the worker
    # posts the new one, with no XSRF token, from the same session.
    status, _, _ = await phone.request(
        "POST",
        "/api/push/subscriptions",
        body=renewed.browser_json(),
        headers=worker_headers(),
    )
    assert status == 201
    assert await db.push_subscriptions.distinct("endpoint") == [renewed.endpoint]
    # The same officer's other device (another session) has its own.
    other = push_service.subscription()
    status, _ = await tablet.post("/api/push/subscriptions", other.browser_json())
    assert status == 201
    assert await db.push_subscriptions.count_documents({}) == 2
    # Logging out ends the phone's session, and its subscription with it.
    status, _ = await phone.post("/api/auth/logout")
    assert status == 200

    async def only_the_tablet_left():
        endpoints = await db.push_subscriptions.distinct("endpoint")
        return endpoints == [other.endpoint]

    await eventually(only_the_tablet_left)
    # A cross-site request without the token is refused; the worker's is not.
    status, _ = await delete_subscription(
        tablet, other.endpoint, worker_headers("cross-site")
    )
    assert status == 403
    status, body = await delete_subscription(tablet, other.endpoint, worker_headers())
    assert (status, body) == (200, {"removed": True})
    assert await db.push_subscriptions.count_documents({}) == 0


async def _one_officer_on_two_devices(live_server):
    username, password = await live_server.create_user(["officer"])
    devices = [live_server.client(), live_server.client()]
    for device in devices:
        status, body = await device.post(
            "/api/auth/login", {"username": username, "password": password}
        )
        assert status == 200, body
        device.user = body["user"]
    return devices


async def test_an_officer_keeps_only_the_most_recently_renewed_devices(
    platform, push_service
):
    officer_id = str(ObjectId())
    subs = [push_service.subscription() for _ in range(push.MAX_DEVICES + 2)]
    for number, sub in enumerate(subs):
        device = Principal(
            kind="staff",
            id=officer_id,
            roles=frozenset({"officer"}),
            session_id=f"device-{number}",
            tenant_id="t1",
        )
        await platform.push.subscriptions.save(device, sub.browser_json())
    kept = await platform.db.push_subscriptions.distinct("endpoint")
    assert sorted(kept) == sorted(s.endpoint for s in subs[2:])


# -- offers ----------------------------------------------------------------------


async def test_an_offer_reaches_a_closed_app_decrypted_with_ttl_urgency_and_topic(
    live_server, push_service, caplog
):
    caplog.set_level(logging.DEBUG, logger="server")
    await open_all_day(live_server)
    platform = live_server.platform
    officer, sub = await absent_officer(live_server, push_service)
    alarm_id = await raise_alarm(live_server)
    await push_service.wait_for(lambda: push_service.received(sub, 201))
    [message] = push_service.received(sub)
    assert message.payload["type"] == "offer"
    assert message.payload["alarm_id"] == alarm_id
    assert message.payload["category"] == "noise"
    assert message.payload["address"] == "12 Lake Road"
    assert message.payload["tag"] == f"alarm-{alarm_id}"
    assert 100 < message.payload["distance_m"] < 200
    # The claim window is 60 s: the message lives as long as the offer.
    assert 57 <= int(message.headers["TTL"]) <= 60
    assert message.headers["Urgency"] == "high"
    assert message.headers["Topic"] == push.topic_for(alarm_id) != alarm_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", message.headers["Topic"])
    assert push_service.problems == []
    # The assessment can tell: pushed, accepted by the push service...
    offer = await pushed(platform, alarm_id, officer.user["id"], "accepted")
    assert offer["channel"] == "stored"
    assert offer["push"]["sent_at"] <= offer["push"]["accepted_at"]
    assert offer["push"]["devices"][0]["http_status"] == 201
    assert offer["delivered_at"] is None and offer["seen_at"] is None
    # ...then received and shown on the device, as the worker reports it.
    path = f"/api/offers/{alarm_id}/ack"
    for seen in (False, True):
        status, body, _ = await officer.request(
            "POST", path, body={"seen": seen}, headers=worker_headers()
        )
        assert (status, body) == (200, {"alarm_id": alarm_id, "seen": seen})
    offer = await offer_record(platform, alarm_id, officer.user["id"])()
    assert offer["delivered_at"] <= offer["seen_at"]
    status, body = await officer.post(path, {"seen": "yes"})
    assert (status, body["reason"]) == (400, "bad_seen")
    # Endpoints are capability URLs, the auth secret a key: neither is logged.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "accepted" in logged
    for secret in (sub.endpoint, sub.browser_json()["keys"]["auth"]):
        assert secret not in logged


async def test_a_claim_by_another_officer_replaces_the_pushed_offer_with_taken(
    live_server, push_service
):
    await open_all_day(live_server)
    (loser, lost), (winner, won) = [
        await absent_officer(live_server, push_service),
        await absent_officer(live_server, push_service, 118.792, 32.071),
    ]
    alarm_id = await raise_alarm(live_server)
    await push_service.wait_for(
        lambda: push_service.received(lost, 201) and push_service.received(won, 201)
    )
    status, _ = await winner.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200
    await push_service.wait_for(lambda: len(push_service.received(lost, 201)) == 2)
    offer, taken = push_service.received(lost)
    assert taken.payload["type"] == "taken"
    assert taken.payload["tag"] == offer.payload["tag"] == f"alarm-{alarm_id}"
    assert taken.headers["Topic"] == offer.headers["Topic"]
    assert taken.headers["Urgency"] == "normal"
    record = await eventually(
        _follow_up_recorded(live_server.platform, alarm_id, loser.user["id"])
    )
    assert record["push"]["follow_up"]["type"] == "taken"
    # The winner claimed in the app; no "taken" for them.
    await live_server.platform.push.idle()
    assert len(push_service.received(won)) == 1


def _follow_up_recorded(platform, alarm_id, officer_id):
    async def check():
        offer = await offer_record(platform, alarm_id, officer_id)()
        return offer if offer["push"].get("follow_up") else None

    return check


async def test_a_cancelled_alarm_replaces_the_pushed_offer(live_server, push_service):
    await open_all_day(live_server)
    _, sub = await absent_officer(live_server, push_service)
    person = await citizen(live_server)
    _, body = await _raise_alarm(person)
    alarm_id = body["alarm"]["id"]
    await push_service.wait_for(lambda: push_service.received(sub, 201))
    status, _ = await person.post(f"/api/alarms/{alarm_id}/cancel")
    assert status == 200
    await push_service.wait_for(lambda: len(push_service.received(sub, 201)) == 2)
    assert push_service.received(sub)[-1].payload["type"] == "cancelled"


async def test_a_connected_officer_is_pushed_only_if_the_page_stays_silent(
    live_server, push_service
):
    await open_all_day(live_server)
    platform = live_server.platform
    platform.push.ack_grace_s = 1.0
    subs = []
    officers = [await officer_online(live_server, *NEAR) for _ in range(2)]
    for client, _ in officers:
        subs.append(push_service.subscription())
        status, _ = await client.post(
            "/api/push/subscriptions", subs[-1].browser_json()
        )
        assert status == 201
    (_, awake_ws), (asleep, asleep_ws) = officers
    alarm_id = await raise_alarm(live_server)
    assert (await next_event(awake_ws, "offer.new"))["alarm_id"] == alarm_id
    await awake_ws.send({"type": "offer.ack", "alarm_id": alarm_id, "seen": False})
    await push_service.wait_for(lambda: push_service.received(subs[1], 201))
    offer = await pushed(platform, alarm_id, asleep.user["id"], "accepted")
    assert (offer["channel"], offer["push"]["reason"]) == ("websocket", "no_ack")
    await platform.push.idle()
    assert push_service.received(subs[0]) == []
    awake_ws.close()
    asleep_ws.close()


# -- what push services answer ----------------------------------------------------


@pytest.mark.parametrize("answer", [404, 410])
async def test_a_subscription_the_push_service_no_longer_knows_is_deleted(
    live_server, push_service, answer
):
    await open_all_day(live_server)
    officer, sub = await absent_officer(live_server, push_service)
    push_service.answer(sub, answer)
    alarm_id = await raise_alarm(live_server)
    offer = await pushed(live_server.platform, alarm_id, officer.user["id"], "gone")
    assert offer["push"]["failure"] == f"http_{answer}"
    assert len(push_service.received(sub)) == 1
    db = live_server.platform.db
    assert await db.push_subscriptions.count_documents({}) == 0


async def test_a_room_invitation_reaches_an_expert_whose_app_is_closed(
    live_server, push_service, caplog
):
    caplog.set_level(logging.INFO, logger="server")
    expert = await live_server.signed_in(["expert"])
    sub = push_service.subscription()
    status, body = await expert.post("/api/push/subscriptions", sub.browser_json())
    assert (status, body) == (201, {"created": True})
    # Citizens and commanders have nothing pushed to them: no devices kept.
    for role in ("citizen", "commander"):
        other = await live_server.signed_in([role])
        status, body = await other.post("/api/push/subscriptions", sub.browser_json())
        assert (status, body["reason"]) == (403, "role"), role
    opener = await live_server.signed_in(["officer"], name="Officer Wu")
    bystander = await live_server.signed_in(["expert"])  # no subscription
    status, body = await opener.post(
        "/api/rooms",
        {
            "title": "Gas smell in a basement",
            "lon": 118.79,
            "lat": 32.07,
            "invite": [expert.user["id"], bystander.user["id"]],
        },
    )
    assert status == 201, body
    room_id = body["room"]["id"]
    await push_service.wait_for(lambda: push_service.received(sub, 201))
    [message] = push_service.received(sub)
    assert message.payload["type"] == "room.invited"
    assert message.payload["room_id"] == room_id
    assert message.payload["tag"] == f"room-{room_id}"
    assert message.payload["title"] == "Gas smell in a basement"
    assert message.payload["invited_by"] == "Officer Wu"
    assert message.payload["desk"] == "/expert"  # where a tap takes the expert
    assert message.headers["Urgency"] == "high"
    assert message.headers["Topic"] == push.room_topic(room_id)
    assert message.headers["Topic"] != push.topic_for(room_id)
    assert 3590 <= int(message.headers["TTL"]) <= 3600
    assert push_service.problems == []
    # Inviting someone already invited sends nothing more.
    status, _ = await opener.post(
        f"/api/rooms/{room_id}/invite", {"user_ids": [expert.user["id"]]}
    )
    assert status == 200
    await asyncio.sleep(0.3)
    assert len(push_service.received(sub)) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"room {room_id}: invitation pushed to 1 of 2 invitees" in logged
    assert sub.endpoint not in logged


async def test_task_news_reaches_an_officer_in_both_languages(
    live_server, push_service
):
    from tests.test_tasks import publish

    commander = await live_server.signed_in(["commander"])
    task = await publish(commander, title="Lantern festival", confirm="manual")
    officer = await live_server.signed_in(["officer"])
    sub = push_service.subscription()
    status, _ = await officer.post("/api/push/subscriptions", sub.browser_json())
    assert status == 201
    status, body = await officer.post(f"/api/tasks/{task['id']}/signup")
    assert body["task"]["mine"]["state"] == "pending"
    status, _ = await commander.post(
        f"/api/tasks/{task['id']}/decide",
        {"officer_id": officer.user["id"], "confirm": True},
    )
    assert status == 200
    await push_service.wait_for(lambda: push_service.received(sub, 201))
    [message] = push_service.received(sub)
    assert message.payload["type"] == "notice"
    assert message.payload["tag"] == f"task-{task['id']}"
    assert message.payload["url"] == f"/tasks#task={task['id']}"
    assert message.payload["title"] == {
        "zh": "任务已确认：Lantern festival",
        "en": "Confirmed for: Lantern festival",
    }
    assert message.headers["Urgency"] == "normal"
    assert message.headers["Topic"] == push.task_topic(task["id"])
    # Until the task starts (two days away), capped at a day.
    assert (
        push.NOTICE_TTL_MAX_S - 5
        <= int(message.headers["TTL"])
        <= push.NOTICE_TTL_MAX_S
    )
    assert push_service.problems == []


async def test_429_holds_the_endpoint_until_retry_after(live_server, push_service):
    await open_all_day(live_server)
    platform = live_server.platform
    officer, sub = await absent_officer(live_server, push_service)
    # Retry-After shorter than the offer: wait, then send again.
    push_service.answer(sub, 429, 201, retry_after=1)
    first = await raise_alarm(live_server)
    offer = await pushed(platform, first, officer.user["id"], "accepted")
    limited, accepted = push_service.received(sub)
    assert (limited.status, accepted.status) == (429, 201)
    assert accepted.at - limited.at >= 1.0
    assert offer["push"]["devices"][0]["attempts"] == 2
    # Retry-After beyond the offer's life: nothing more goes to that endpoint.
    push_service.answer(sub, 429, 201, retry_after=120)
    second = await raise_alarm(live_server)
    offer = await pushed(platform, second, officer.user["id"], "deferred")
    assert offer["push"]["failure"] == "rate_limited"
    third = await raise_alarm(live_server)
    offer = await pushed(platform, third, officer.user["id"], "deferred")
    assert offer["push"]["devices"][0]["attempts"] == 0
    assert [a.status for a in push_service.received(sub)] == [429, 201, 429]


async def test_5xx_is_retried_with_backoff_and_given_up_within_the_ttl(
    live_server, push_service
):
    await open_all_day(live_server, claim_window_s=3)
    officer, sub = await absent_officer(live_server, push_service)
    push_service.answer(sub, 500)
    started = time.monotonic()
    alarm_id = await raise_alarm(live_server)
    offer = await pushed(live_server.platform, alarm_id, officer.user["id"], "failed")
    attempts = push_service.received(sub)
    assert len(attempts) >= 2
    assert attempts[-1].at - started < 3.0
    assert offer["push"]["failure"] == "http_500"
    assert offer["push"]["devices"][0]["attempts"] == len(attempts)


async def test_413_is_logged_once_and_not_retried(live_server, push_service, caplog):
    await open_all_day(live_server)
    officer, sub = await absent_officer(live_server, push_service)
    push_service.answer(sub, 413)
    alarm_id = await raise_alarm(live_server)
    offer = await pushed(live_server.platform, alarm_id, officer.user["id"], "failed")
    assert offer["push"]["failure"] == "too_large"
    await live_server.platform.push.idle()
    assert len(push_service.received(sub)) == 1
    too_large = [r for r in caplog.records if "too large" in r.getMessage()]
    assert len(too_large) == 1 and too_large[0].levelno == logging.WARNING


async def test_an_endpoint_that_now_resolves_to_loopback_is_not_called(
    platform, push_service
):
    # Validated when it pointed elsewhere; by send time the name resolves to
    # 127.0.0.1 (DNS rebinding). The sender checks the address it connects to.
    sub = push_service.subscription()
    endpoint = sub.endpoint.replace("127.0.0.1", "localhost")
    sender = push.PushSender(platform.push.keys, 4, allow_private=False)
    try:
        delivery = await sender.send(
            {"endpoint": endpoint, "keys": sub.browser_json()["keys"]},
            {"type": "offer", "alarm_id": "x"},
            expires=time.monotonic() + 30,
            urgency="high",
        )
    finally:
        sender.close()
    assert (delivery.status, delivery.failure) == ("failed", "endpoint_private_address")
    assert push_service.attempts == []


def test_retry_after_is_read_as_seconds_or_an_http_date():
    at = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC)
    assert push.retry_after_s("17", at) == 17
    assert push.retry_after_s("Sun, 01 Mar 2026 08:01:30 GMT", at) == 90
    assert push.retry_after_s("Sun, 01 Mar 2026 07:00:00 GMT", at) == 0
    assert push.retry_after_s("whenever", at) == push.DEFAULT_RETRY_AFTER_S
    assert push.retry_after_s(None, at) == push.DEFAULT_RETRY_AFTER_S
    assert push.retry_after_s("99999999", at) == push.MAX_RETRY_AFTER_S


# -- load ------------------------------------------------------------------------


async def test_the_loop_stays_responsive_while_200_offers_are_pushed(
    live_server, push_service
):
    await open_all_day(live_server)
    platform = live_server.platform
    subs = await _many_absent_officers(platform, push_service, 200)
    # A real push service is a network away: a send that blocked the loop
    # while waiting for the answer would stall it for this long each time.
    push_service.latency = 0.1
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker():
        # Sleeps 5 ms at a time; any overshoot is time the loop was busy.
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    # A full collection walks the whole heap (about 70 ms in this test process,
    # whatever the code under test does): freeze what exists now, so that the
    # measurement sees the cost of sending and not of the objects before it.
    gc.collect()
    gc.freeze()
    measuring = asyncio.create_task(ticker())
    try:
        alarm_id = await raise_alarm(live_server)
        await push_service.wait_for(
            lambda: sum(1 for a in push_service.attempts if a.status == 201) >= 200,
            within=30,
        )
    finally:
        stop.set()
        await measuring
        gc.unfreeze()
    assert len({a.subscription for a in push_service.attempts}) == len(subs)
    assert push_service.problems == []
    # The 50 ms bound, held by the typical sample: on a shared
    # 2-core machine other processes stall a few samples (p99 measured
    # 20-40 ms alone, ~75 ms beside a busy neighbour), which is not this loop
    # being blocked. Sends that blocked, even only while waiting for the push
    # service's answer (100 ms here), would stall nearly every sample.
    lags.sort()
    median = statistics.median(lags)
    assert median < 0.050, (median, lags[int(len(lags) * 0.99)], lags[-1], len(lags))
    await platform.push.idle()
    accepted = await platform.db.offers.count_documents(
        {"alarm_id": ObjectId(alarm_id), "push.status": "accepted"}
    )
    assert accepted == 200


async def _many_absent_officers(platform, service, count: int) -> list:
    """``count`` on-duty officers near the scene, each with one subscription."""
    at = dt.datetime.now(dt.UTC)
    ids = [ObjectId() for _ in range(count)]
    await platform.db.users.insert_many(
        [
            {
                "_id": oid,
                "tenant_id": "t1",
                "username": f"bulk-{oid}",
                "roles": ["officer"],
                "duty": "on",
                "disabled": False,
                "position": {
                    "type": "Point",
                    "coordinates": [NEAR[0] + i * 1e-5, NEAR[1]],
                },
                "position_at": at,
                "away_at": at,  # not connected: found by the stored position
            }
            for i, oid in enumerate(ids)
        ]
    )
    subs = [service.subscription() for _ in ids]
    await asyncio.gather(
        *(
            platform.push.subscriptions.save(
                Principal(
                    kind="staff",
                    id=str(oid),
                    roles=frozenset({"officer"}),
                    session_id=f"session-{oid}",
                    tenant_id="t1",
                ),
                sub.browser_json(),
            )
            for oid, sub in zip(ids, subs, strict=True)
        )
    )
    return subs

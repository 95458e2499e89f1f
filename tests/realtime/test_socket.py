"""The /ws endpoint through a real server: handshake, topics, envelope, errors."""

from __future__ import annotations

import asyncio

import pytest
import tornado.httpclient

from server import access
from server.realtime.socket import MESSAGE_TYPES
from tests.realtime.support import TIMEOUT, Client, until


async def until_detached(hub) -> None:
    """Wait until the server has forgotten every connection."""
    await until(lambda: not hub.connections)


async def citizen(live_server):
    """A client holding a citizen device session."""
    client = live_server.client()
    status, terms = await client.get("/api/terms")
    assert status == 200, terms
    status, body = await client.post(
        "/api/citizen/session",
        {"accept_terms": True, "terms_version": terms["version"]},
    )
    assert status == 200, body
    client.user = body["user"]
    return client


async def refused_status(client, origin: str | None = None) -> int:
    """The HTTP status with which the websocket handshake was refused."""
    try:
        socket = await asyncio.wait_for(client.websocket(origin), TIMEOUT)
    except tornado.httpclient.HTTPClientError as refused:
        return refused.code
    socket.close()
    pytest.fail("the websocket handshake was accepted")


async def test_welcome_names_the_signed_in_user(live_server, connect):
    """The first message is a welcome carrying the session's own user."""
    client = await live_server.signed_in(("commander",), "t1")
    socket = await connect(client)
    assert socket.welcome["user"]["id"] == client.user["id"]
    assert socket.welcome["user"]["roles"] == ["commander"]
    assert socket.welcome["user"]["tenant_id"] == "t1"


async def test_subscribers_receive_events_of_their_own_topics_only(
    live_server, connect
):
    """A commander's feed and an officer's personal topic each get their events."""
    hub = live_server.platform.hub
    commander = await connect(await live_server.signed_in(("commander",), "t1"))
    officer_client = await live_server.signed_in(("officer",), "t1")
    officer = await connect(officer_client)
    own_topic = f"user:{officer_client.user['id']}"
    feed = await commander.subscribe("command:t1")
    mine = await officer.subscribe(own_topic)
    assert feed["seq"] == 0 and mine["seq"] == 0

    hub.publish("command:t1", "alarm.created", {"n": 1})
    hub.publish(own_topic, "task.offered", {"n": 2})
    hub.publish("command:t2", "alarm.created", {"n": 3})
    hub.publish("command:t1", "alarm.closed", {"n": 4})

    assert await commander.events(2) == [
        {
            "type": "event",
            "topic": "command:t1",
            "seq": 1,
            "event": "alarm.created",
            "payload": {"n": 1},
        },
        {
            "type": "event",
            "topic": "command:t1",
            "seq": 2,
            "event": "alarm.closed",
            "payload": {"n": 4},
        },
    ]
    [offer] = await officer.events(1)
    assert (offer["topic"], offer["seq"], offer["payload"]) == (own_topic, 1, {"n": 2})
    await commander.assert_quiet_and_usable()
    await officer.assert_quiet_and_usable()


async def test_reconnect_with_resume_gets_missed_events_once_in_order_then_live(
    live_server, connect
):
    """Events published while a client was away arrive once, in order, then live."""
    hub = live_server.platform.hub
    client = await live_server.signed_in(("commander",), "t1")
    first = await connect(client)
    epoch = (await first.subscribe("command:t1"))["epoch"]
    for n in range(1, 4):
        hub.publish("command:t1", "tick", {"n": n})
    seen = [e["seq"] for e in await first.events(3)]
    assert seen == [1, 2, 3]
    await first.shut()
    await until_detached(hub)

    for n in range(4, 9):
        hub.publish("command:t1", "tick", {"n": n})

    second = await connect(client)
    resumed = await second.subscribe("command:t1", {"epoch": epoch, "seq": seen[-1]})
    assert (resumed["epoch"], resumed["seq"]) == (epoch, 8)
    missed = await second.events(5)
    assert [(e["seq"], e["payload"]["n"]) for e in missed] == [
        (n, n) for n in range(4, 9)
    ]
    hub.publish("command:t1", "tick", {"n": 9})
    hub.publish("command:t1", "tick", {"n": 10})
    assert [e["seq"] for e in await second.events(2)] == [9, 10]
    await second.assert_quiet_and_usable()


async def test_resume_replays_the_whole_retention_window(live_server, connect):
    """A replay of the whole retention window arrives in full and in order."""
    hub = live_server.platform.hub
    missed = live_server.platform.config.realtime.retention_events
    client = await live_server.signed_in(("commander",), "t1")
    socket = await connect(client)
    epoch = (await socket.subscribe("command:t1"))["epoch"]
    await socket.shut()
    await until_detached(hub)
    for n in range(1, missed + 1):
        hub.publish("command:t1", "tick", {"n": n})

    again = await connect(client)
    await again.subscribe("command:t1", {"epoch": epoch, "seq": 0})
    replayed = await again.events(missed)
    assert [e["seq"] for e in replayed] == list(range(1, missed + 1))
    await again.assert_quiet_and_usable()


@pytest.mark.parametrize(
    "resume",
    [{"epoch": "before-the-restart", "seq": 2}, {"seq": 99}],
    ids=["other-epoch", "no-epoch"],
)
async def test_resume_from_another_epoch_is_told_to_reload(
    live_server, connect, resume
):
    """An unusable resume point gets reload, then subscribed; no replay."""
    hub = live_server.platform.hub
    hub.publish("command:t1", "tick", {})
    hub.publish("command:t1", "tick", {})
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.send(
        {"type": "subscribe", "id": 7, "topic": "command:t1", "resume": resume}
    )
    assert await socket.receive() == {"type": "reload", "topic": "command:t1"}
    subscribed = await socket.receive()
    assert subscribed["type"] == "subscribed" and subscribed["seq"] == 2
    assert subscribed["epoch"] == hub.streams["command:t1"].epoch
    await socket.assert_quiet_and_usable()
    hub.publish("command:t1", "tick", {})
    assert [e["seq"] for e in await socket.events(1)] == [3]


async def test_foreign_origin_is_refused_at_the_handshake(live_server):
    """A page of another site cannot open a socket with the user's cookie."""
    client = await live_server.signed_in(("commander",), "t1")
    assert await refused_status(client, origin="https://evil.example") == 403
    assert await refused_status(client, origin="null") == 403
    assert not live_server.platform.hub.connections


async def test_handshake_without_a_session_is_refused(live_server):
    """No cookie, or a cookie of no live session: 403, no socket."""
    assert await refused_status(live_server.client()) == 403
    forged = live_server.client()
    forged.cookies["jingdi_session"] = "not-a-session-token"
    assert await refused_status(forged) == 403
    assert not live_server.platform.hub.connections


async def test_handshake_after_logout_is_refused(live_server):
    """The old cookie of an ended session opens nothing."""
    client = await live_server.signed_in(("officer",), "t1")
    cookies = dict(client.cookies)
    status, _ = await client.post("/api/auth/logout")
    assert status == 200
    stale = live_server.client()
    stale.cookies.update(cookies)
    assert await refused_status(stale) == 403


@pytest.mark.parametrize(
    ("roles", "tenant", "topic"),
    [
        (("officer",), "t1", "command:t1"),
        (("commander",), "t2", "command:t1"),
        (("admin",), "t2", "command:t1"),
        (("commander",), "t1", "user:someone-else"),
        (("commander",), "t1", "nope:1"),
        (("commander",), "t1", "command:"),
        (("commander",), "t1", "command"),
    ],
    ids=[
        "officer-command-feed",
        "t2-commander-t1-feed",
        "t2-admin-t1-feed",
        "other-user",
        "unknown-kind",
        "empty-argument",
        "no-colon",
    ],
)
async def test_subscription_to_a_topic_the_user_may_not_see_is_refused(
    live_server, connect, roles, tenant, topic
):
    """The error names the request; the refused topic's events never arrive."""
    hub = live_server.platform.hub
    socket = await connect(await live_server.signed_in(roles, tenant))
    await socket.send({"type": "subscribe", "id": "s1", "topic": topic})
    error = await socket.error()
    assert (error["reason"], error["id"]) == ("topic_refused", "s1")
    assert error["message"]
    hub.publish(topic, "secret", {"leak": True})
    await socket.assert_quiet_and_usable()
    stream = hub.streams.get(topic)
    assert stream is None or not stream.subscribers


@pytest.mark.parametrize(
    "topic",
    [None, 5, ["command:t1"], {"t": 1}, "", "user:" + "x" * 200],
    ids=["null", "int", "list", "object", "empty", "overlong"],
)
async def test_a_topic_that_is_not_short_text_is_a_bad_topic(
    live_server, connect, topic
):
    """Non-text, empty or overlong topics are refused as bad_topic."""
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.send({"type": "subscribe", "topic": topic})
    assert (await socket.error())["reason"] == "bad_topic"
    await socket.assert_quiet_and_usable()


async def test_undeclared_message_type_is_not_allowed(live_server, connect):
    """A type nobody declared is refused (deny by default), request id echoed."""
    socket = await connect(await live_server.signed_in(("admin",), "t1"))
    await socket.send({"type": "broadcast", "id": 42, "text": "hi"})
    error = await socket.error()
    assert (error["reason"], error["id"]) == ("not_allowed", 42)
    await socket.assert_quiet_and_usable()


@pytest.mark.parametrize(
    ("frame", "binary", "reason"),
    [
        ("{not json", False, "bad_json"),
        ("", False, "bad_json"),
        (b'{"type": "ping"}', True, "bad_frame"),
        ("[1, 2]", False, "bad_message"),
        ('"ping"', False, "bad_message"),
        ('{"id": 1}', False, "bad_message"),
        ('{"type": 3}', False, "bad_message"),
        ('{"type": "ping", "id": {"x": 1}}', False, "bad_message"),
        ('{"type": "subscribe", "topic": "command:t1", "resume": 3}', False, None),
    ],
    ids=[
        "bad-json",
        "empty",
        "binary",
        "array",
        "string",
        "no-type",
        "number-type",
        "object-id",
        "resume-not-object",
    ],
)
async def test_malformed_message_gets_an_error_and_the_socket_stays_usable(
    live_server, connect, frame, binary, reason
):
    """Malformed frames are answered with an error reason, never a crash."""
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.send_raw(frame, binary=binary)
    assert (await socket.error())["reason"] == (reason or "bad_message")
    await socket.assert_quiet_and_usable()


@pytest.mark.parametrize(
    "topic", [["command:t1"], {"a": 1}, 5, None], ids=["list", "object", "int", "null"]
)
async def test_unsubscribe_with_a_topic_that_is_not_text_is_an_error(
    live_server, connect, topic
):
    """Unsubscribing from junk is answered, not a crash of the connection."""
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.subscribe("command:t1")
    await socket.send({"type": "unsubscribe", "id": "u", "topic": topic})
    error = await socket.error()
    assert (error["reason"], error["id"]) == ("bad_topic", "u")
    await socket.assert_quiet_and_usable()
    live_server.platform.hub.publish("command:t1", "still", {})
    assert len(await socket.events(1)) == 1


async def test_unsubscribe_stops_the_topics_events(live_server, connect):
    """After unsubscribe (confirmed), the topic's events stop arriving."""
    hub = live_server.platform.hub
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.subscribe("command:t1")
    await socket.send({"type": "unsubscribe", "id": "u", "topic": "command:t1"})
    assert await socket.receive() == {
        "type": "unsubscribed",
        "id": "u",
        "topic": "command:t1",
    }
    hub.publish("command:t1", "tick", {})
    await socket.assert_quiet_and_usable()


async def test_oversized_message_closes_the_socket_with_1009(live_server, connect):
    """A frame over max_message_bytes closes with 1009 and is never handled."""
    limit = live_server.platform.config.realtime.max_message_bytes
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    await socket.send({"type": "ping", "pad": "x" * limit})
    assert await socket.closed_with() == 1009
    await until_detached(live_server.platform.hub)


async def test_message_just_under_the_limit_is_handled(live_server, connect):
    """The limit is the limit: a large but allowed message is answered."""
    limit = live_server.platform.config.realtime.max_message_bytes
    socket = await connect(await live_server.signed_in(("commander",), "t1"))
    padding = "x" * (limit - 100)
    await socket.send({"type": "ping", "id": "big", "pad": padding})
    assert await socket.receive() == {"type": "pong", "id": "big"}


async def test_logout_closes_that_sessions_sockets_with_4001(live_server, connect):
    """Logout ends the session's sockets at once; other sessions keep theirs."""
    client = await live_server.signed_in(("commander",), "t1")
    bystander = await connect(await live_server.signed_in(("commander",), "t1"))
    first, second = await connect(client), await connect(client)
    status, _ = await client.post("/api/auth/logout")
    assert status == 200
    assert await first.closed_with() == 4001
    assert await second.closed_with() == 4001
    await bystander.assert_quiet_and_usable()
    await until(lambda: len(live_server.platform.hub.connections) == 1)


async def test_disabling_the_account_closes_its_sockets_with_4001(live_server, connect):
    """Disabling an account ends all its sessions' sockets."""
    client = await live_server.signed_in(("officer",), "t1")
    socket = await connect(client)
    await socket.subscribe(f"user:{client.user['id']}")
    await live_server.platform.auth.set_disabled("t1", client.user["id"], True)
    assert await socket.closed_with() == 4001
    assert await refused_status(client) == 403


async def test_revoking_the_session_closes_the_socket_with_4001(live_server, connect):
    """`auth.revoke` of the socket's session closes it."""
    client = await live_server.signed_in(("officer",), "t1")
    socket = await connect(client)
    [connection] = live_server.platform.hub.connections
    await live_server.platform.auth.revoke({connection.session_id})
    assert await socket.closed_with() == 4001


async def test_citizen_can_follow_only_their_own_user_topic(live_server, connect):
    """A citizen device session opens a socket and follows user:<own id>."""
    client = await citizen(live_server)
    socket = await connect(client)
    assert socket.welcome["user"]["kind"] == "citizen"
    own = f"user:{client.user['id']}"
    await socket.subscribe(own)
    live_server.platform.hub.publish(own, "alarm.accepted", {"eta_min": 4})
    [event] = await socket.events(1)
    assert (event["topic"], event["payload"]) == (own, {"eta_min": 4})

    await socket.send({"type": "subscribe", "topic": "command:t1"})
    assert (await socket.error())["reason"] == "topic_refused"
    await socket.assert_quiet_and_usable()


async def test_a_session_revoked_during_the_handshake_keeps_no_socket(
    live_server, monkeypatch
):
    """A logout landing between the session check and open() still closes it."""
    auth = live_server.platform.auth
    client = await live_server.signed_in(("officer",), "t1")
    checked = auth.identify

    async def check_then_logout_elsewhere(token):
        principal, account = await checked(token)
        if principal is not None:
            await auth.revoke({principal.session_id})
        return principal, account

    hooks = []
    platform = live_server.platform
    monkeypatch.setattr(auth, "identify", check_then_logout_elsewhere)
    monkeypatch.setattr(platform, "socket_opened", hooks.append, raising=False)
    monkeypatch.setattr(platform, "socket_closed", hooks.append, raising=False)
    socket = Client((await asyncio.wait_for(client.websocket(), TIMEOUT)).connection)
    try:
        assert await socket.closed_with() == 4001
    finally:
        await socket.shut()
    await until_detached(platform.hub)
    # Never opened, so never "closed" either (e.g. presence is not decremented).
    assert hooks == []


async def test_messages_after_the_session_ended_are_not_acted_on(
    live_server, connect, monkeypatch
):
    """Frames that cross the 4001 close on the wire reach no handler."""
    handled = []

    async def record(socket, message):
        handled.append(message["n"])

    monkeypatch.setitem(MESSAGE_TYPES, "test.record", (access.SIGNED_IN, record))
    socket = await connect(await live_server.signed_in(("officer",), "t1"))
    [connection] = live_server.platform.hub.connections
    await socket.send({"type": "test.record", "n": 1})
    await socket.assert_quiet_and_usable()
    await live_server.platform.auth.revoke({connection.session_id})
    # Sent before this client has read the server's close frame.
    await socket.send({"type": "test.record", "n": 2})
    await socket.send({"type": "subscribe", "topic": "user:x"})
    assert await socket.closed_with() == 4001
    await until_detached(live_server.platform.hub)
    assert handled == [1]


async def test_each_message_type_is_checked_against_its_permission(
    live_server, connect, monkeypatch
):
    """A declared type needs its permission; an unknown permission is refused."""
    handled = []

    async def handler(socket, message):
        handled.append(message["type"])
        socket.send({"type": "done", "id": message.get("id")})

    monkeypatch.setitem(MESSAGE_TYPES, "test.manage", ("users.manage", handler))
    monkeypatch.setitem(MESSAGE_TYPES, "test.typo", ("no.such.permission", handler))
    officer = await connect(await live_server.signed_in(("officer",), "t1"))
    admin = await connect(await live_server.signed_in(("admin",), "t1"))

    await officer.send({"type": "test.manage", "id": 1})
    assert (await officer.error())["reason"] == "role"
    await admin.send({"type": "test.typo", "id": 2})
    assert (await admin.error())["reason"] == "not_allowed"
    await admin.send({"type": "test.manage", "id": 3})
    assert await admin.receive() == {"type": "done", "id": 3}
    assert handled == ["test.manage"]
    await officer.assert_quiet_and_usable()

"""Consultation rooms over HTTP and the websocket: members, chat, media, close."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from server import media
from tests import clips
from tests.helpers import ApiClient, Socket, hold_inserts, multipart
from tests.test_alarms import citizen, open_all_day, raise_alarm

TIMEOUT = 10


def jpeg(size=(64, 48), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, "red")
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SpyCam"  # Make
        image.save(out, "JPEG", exif=data)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


async def staff(live_server, role: str, tenant_id: str = "t1") -> ApiClient:
    return await live_server.signed_in([role], tenant_id)


async def joined_socket(client: ApiClient, room_id: str) -> Socket:
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send({"type": "room.join", "id": "j", "room_id": room_id})
    answer = await socket.receive_type("subscribed")
    assert answer["topic"] == f"room:{room_id}"
    return socket


async def next_event(socket: Socket, event: str) -> dict:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await socket.receive_type("event")
            if message["event"] == event:
                return message["payload"]


async def messages_of(socket: Socket, count: int) -> list[dict]:
    """The next ``count`` non-system room messages seen on ``socket``."""
    found = []
    while len(found) < count:
        payload = await next_event(socket, "room.message")
        if payload["kind"] != "system":
            found.append(payload)
    return found


async def send(client, room_id, client_id, text):
    return await client.post(
        f"/api/rooms/{room_id}/messages", {"client_id": client_id, "text": text}
    )


async def upload(client, room_id, client_id, data, name="photo.jpg", **fields):
    headers, body = multipart(
        {"client_id": client_id, **fields}, [("file", name, data)]
    )
    status, answer, _ = await client.request(
        "POST", f"/api/rooms/{room_id}/messages", headers=headers, raw=body
    )
    return status, answer


async def room_with_experts(live_server, count=2):
    """A commander's room with ``count`` experts who accepted."""
    opener = await staff(live_server, "commander")
    experts = [await staff(live_server, "expert") for _ in range(count)]
    status, body = await opener.post(
        "/api/rooms",
        {
            "title": "Suspicious package",
            "description": "Left at the gate",
            "lon": 118.79,
            "lat": 32.07,
            "invite": [e.user["id"] for e in experts],
        },
    )
    assert status == 201, body
    room_id = body["room"]["id"]
    for expert in experts:
        status, answer = await expert.post(
            f"/api/rooms/{room_id}/respond", {"accept": True}
        )
        assert status == 200, answer
    return opener, experts, room_id


async def test_a_room_for_an_alarm_invites_experts_who_see_messages_in_order(
    live_server,
):
    """Invitations arrive live; text and a photo reach every member in order."""
    await open_all_day(live_server)
    person = await citizen(live_server)
    _, raised = await raise_alarm(person, description="A gas smell")
    commander = await staff(live_server, "commander")
    experts = [await staff(live_server, "expert") for _ in range(2)]
    personal = []
    for expert in experts:
        socket = await expert.websocket()
        await socket.receive_type("welcome")
        await socket.send({"type": "subscribe", "topic": f"user:{expert.user['id']}"})
        await socket.receive_type("subscribed")
        personal.append(socket)

    status, body = await commander.post(
        "/api/rooms", {"title": "Gas leak?", "alarm_id": raised["alarm"]["id"]}
    )
    assert status == 201, body
    room = body["room"]
    assert room["alarm_id"] == raised["alarm"]["id"]
    assert room["location"]["type"] == "Point"
    room_id = room["id"]
    status, body = await commander.post(
        f"/api/rooms/{room_id}/invite", {"user_ids": [e.user["id"] for e in experts]}
    )
    assert status == 200, body
    for socket in personal:
        invited = await next_event(socket, "room.invited")
        assert invited["room_id"] == room_id
    # An invitee sees the room in their list but not its messages yet.
    _, mine = await experts[0].get("/api/rooms")
    assert [r["id"] for r in mine["rooms"]] == [room_id]
    status, _ = await experts[0].get(f"/api/rooms/{room_id}/messages")
    assert status == 404
    for expert in experts:
        status, _ = await expert.post(f"/api/rooms/{room_id}/respond", {"accept": True})
        assert status == 200

    sockets = [await joined_socket(c, room_id) for c in [commander, *experts]]
    status, first = await send(commander, room_id, "c-1", "What do you smell?")
    assert status == 201, first
    status, photo = await upload(experts[0], room_id, "e-1", jpeg(exif=True))
    assert status == 201, photo
    assert photo["message"]["kind"] == "image"
    status, _ = await send(experts[1], room_id, "e2-1", "Evacuate <now>")
    assert status == 201
    for socket in sockets:
        seen = await messages_of(socket, 3)
        assert [m["client_id"] for m in seen] == ["c-1", "e-1", "e2-1"]
        assert [m["seq"] for m in seen] == sorted(m["seq"] for m in seen)

    # The photo is re-encoded without EXIF and has a thumbnail; both are
    # served only with safe headers.
    media = photo["message"]["media"]
    status, _, response = await commander.request(
        "GET", f"/api/rooms/{room_id}/media/{media['id']}"
    )
    assert status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    raw = response.body
    assert b"SpyCam" not in raw and not Image.open(io.BytesIO(raw)).getexif()
    status, _, response = await experts[1].request(
        "GET", f"/api/rooms/{room_id}/media/{media['id']}?thumbnail=1"
    )
    assert status == 200
    assert max(Image.open(io.BytesIO(response.body)).size) <= 320


async def test_a_reconnecting_expert_catches_up_exactly_once(live_server):
    """Missed messages come from ?after=, in order, none twice, paged."""
    opener, (expert, _), room_id = await room_with_experts(live_server)
    socket = await joined_socket(expert, room_id)
    await send(opener, room_id, "m1", "one")
    [live] = await messages_of(socket, 1)
    held = live["seq"]
    socket.close()
    for number in range(2, 6):
        await send(opener, room_id, f"m{number}", str(number))

    caught, after = [], held
    while True:
        status, page = await expert.get(
            f"/api/rooms/{room_id}/messages?after={after}&limit=2"
        )
        assert status == 200, page
        caught += page["messages"]
        if not page["more"]:
            break
        after = page["messages"][-1]["seq"]
    texts = [m["text"] for m in caught if m["kind"] == "text"]
    assert texts == ["2", "3", "4", "5"]
    numbers = [m["seq"] for m in caught]
    assert numbers == sorted(set(numbers)) and numbers[0] > held
    # A late joiner sees the whole history from the start.
    _, everything = await opener.get(f"/api/rooms/{room_id}/messages")
    texts = [m["text"] for m in everything["messages"] if m["kind"] == "text"]
    assert texts == ["one", "2", "3", "4", "5"]


async def test_a_retried_post_with_the_same_client_id_stores_one_message(
    live_server,
):
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    status, first = await send(expert, room_id, "same", "hello")
    assert status == 201
    status, again = await send(expert, room_id, "same", "hello")
    assert status == 200
    assert again["message"]["id"] == first["message"]["id"]
    status, photo = await upload(expert, room_id, "pic", jpeg())
    status_again, photo_again = await upload(expert, room_id, "pic", jpeg())
    assert (status, status_again) == (201, 200)
    assert photo_again["message"]["media"] == photo["message"]["media"]
    _, page = await opener.get(f"/api/rooms/{room_id}/messages")
    mine = [m for m in page["messages"] if m["sender"]["id"] == expert.user["id"]]
    assert len(mine) == 2
    files = await live_server.platform.db["media.files"].count_documents({})
    assert files == 2  # the photo and its thumbnail, once


async def test_read_marks_and_presence_are_shared_with_the_room(live_server):
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    watching = await joined_socket(opener, room_id)
    expert_socket = await joined_socket(expert, room_id)
    present = await next_event(watching, "room.presence")
    while expert.user["id"] not in present["present"]:
        present = await next_event(watching, "room.presence")
    assert set(present["present"]) == {opener.user["id"], expert.user["id"]}
    _, sent = await send(opener, room_id, "r1", "read me")
    seq = sent["message"]["seq"]
    status, body = await expert.post(f"/api/rooms/{room_id}/read", {"seq": seq})
    assert (status, body) == (200, {"read_seq": seq})
    read = await next_event(watching, "room.read")
    assert read == {"user_id": expert.user["id"], "seq": seq}
    # A mark never moves back.
    _, body = await expert.post(f"/api/rooms/{room_id}/read", {"seq": 0})
    assert body["read_seq"] == seq
    _, room = await opener.get(f"/api/rooms/{room_id}")
    marks = {m["user_id"]: m["read_seq"] for m in room["room"]["members"]}
    assert marks[expert.user["id"]] == seq
    expert_socket.close()
    present = await next_event(watching, "room.presence")
    assert present["present"] == [opener.user["id"]]


async def test_a_removed_member_loses_access_at_once(live_server):
    """HTTP answers 404, the socket hears room.removed and gets nothing more."""
    opener, (expert, other), room_id = await room_with_experts(live_server)
    socket = await joined_socket(expert, room_id)
    await send(expert, room_id, "x1", "my text")
    media_status, photo = await upload(expert, room_id, "x2", jpeg())
    assert media_status == 201
    status, _ = await opener.post(
        f"/api/rooms/{room_id}/remove", {"user_id": expert.user["id"]}
    )
    assert status == 200
    removed = await next_event(socket, "room.removed")
    assert removed == {"room_id": room_id}
    media_id = photo["message"]["media"]["id"]
    for path in (
        f"/api/rooms/{room_id}",
        f"/api/rooms/{room_id}/messages",
        f"/api/rooms/{room_id}/media/{media_id}",
        f"/api/rooms/{room_id}/transcript",
    ):
        status, _ = await expert.get(path)
        assert status == 404, path
    status, body = await send(expert, room_id, "x3", "still here?")
    assert status == 404, body
    # The socket is off the topic: rejoining is refused, and later messages
    # do not reach it (a ping answered proves nothing else was queued).
    await socket.send({"type": "room.join", "id": "again", "room_id": room_id})
    refused = await socket.receive_type("error")
    assert refused["reason"] == "not_found"
    await send(opener, room_id, "after", "not for them")
    await socket.send({"type": "ping", "id": "p"})
    async with asyncio.timeout(TIMEOUT):
        while (message := await socket.receive())["type"] != "pong":
            assert message.get("event") != "room.message", message
    # Only the opener or a commander removes; an expert cannot.
    status, body = await other.post(
        f"/api/rooms/{room_id}/remove", {"user_id": opener.user["id"]}
    )
    assert (status, body["reason"]) == (403, "role")


async def test_a_closed_room_is_read_only_and_exports_its_transcript(live_server):
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    await send(expert, room_id, "t1", "<script>alert(1)</script> & more")
    _, photo = await upload(expert, room_id, "t2", jpeg())
    watching = await joined_socket(expert, room_id)
    status, body = await expert.post(f"/api/rooms/{room_id}/close", {"summary": "x"})
    assert (status, body["reason"]) == (403, "role")
    status, body = await opener.post(
        f"/api/rooms/{room_id}/close", {"summary": "Harmless <b>box</b>"}
    )
    assert status == 200, body
    assert body["room"]["status"] == "closed"
    closed = await next_event(watching, "room.closed")
    assert closed["summary"] == "Harmless <b>box</b>"
    status, body = await send(expert, room_id, "t3", "too late")
    assert (status, body["reason"]) == (409, "room_closed")
    status, body = await upload(expert, room_id, "t4", jpeg())
    assert (status, body["reason"]) == (409, "room_closed")

    status, page, response = await expert.request(
        "GET", f"/api/rooms/{room_id}/transcript"
    )
    assert status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "attachment" in response.headers["Content-Disposition"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "Harmless &lt;b&gt;box&lt;/b&gt;" in page
    assert photo["message"]["media"]["id"] in page
    # The record stays: history is still there for members.
    _, history = await expert.get(f"/api/rooms/{room_id}/messages")
    assert any(m["client_id"] == "t1" for m in history["messages"])


async def test_uploads_are_checked_by_content_and_size(live_server):
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    executable = b"MZ\x90\x00" + bytes(range(256)) * 4
    status, body = await upload(expert, room_id, "u1", executable, "cat.jpg")
    assert (status, body["reason"]) == (400, "unsupported_type")
    pdf = b"%PDF-1.7\n" + b"0" * 100
    status, body = await upload(expert, room_id, "u2", pdf, "cat.jpg", kind="image")
    assert (status, body["reason"]) == (400, "not_an_image")
    # Named like a photo, really a PDF: stored and served as a PDF download.
    status, body = await upload(expert, room_id, "u3", pdf, "cat.jpg")
    assert status == 201, body
    media = body["message"]["media"]
    assert (body["message"]["kind"], media["content_type"]) == (
        "file",
        "application/pdf",
    )
    _, _, response = await opener.request(
        "GET", f"/api/rooms/{room_id}/media/{media['id']}"
    )
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    ogg = clips.audio("ogg", "libopus", 3.0)
    status, body = await upload(expert, room_id, "u4", ogg, "voice.bin")
    assert (status, body["message"]["kind"]) == (201, "audio")
    assert body["message"]["media"]["seconds"] == 3.0
    # The right first bytes, but no Ogg stream behind them.
    fake = b"OggS" + b"\x00" * 200
    status, body = await upload(expert, room_id, "u7", fake, "voice.ogg")
    assert (status, body["reason"]) == (400, "unreadable_clip")
    too_big = b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024)
    status, body = await upload(expert, room_id, "u5", too_big, "big.pdf")
    assert (status, body["reason"]) == (413, "file_too_large")
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    status, body = await upload(expert, room_id, "u6", bomb.getvalue(), "b.png")
    assert (status, body["reason"]) == (413, "photo_too_large")
    # Refused uploads leave nothing behind.
    stored = await live_server.platform.db["media.files"].count_documents({})
    assert stored == 2


async def test_clips_longer_than_the_limit_are_refused(live_server, monkeypatch):
    # Limits of a few seconds stand in for minutes: the same check, quicker clips.
    monkeypatch.setitem(media.ROOM_MAX_SECONDS, "video", 5)
    monkeypatch.setitem(media.ROOM_MAX_SECONDS, "audio", 8)
    _, (expert,), room_id = await room_with_experts(live_server, 1)
    # A browser's recording: WebM written live, without a Duration element.
    recording = clips.video("webm", "libvpx", 7.0, live="1")
    status, body = await upload(expert, room_id, "c1", recording, "clip.webm")
    assert (status, body["reason"]) == (413, "clip_too_long")
    assert "0 min 05 s" in body["message"] and "0 min 07 s" in body["message"]
    status, body = await upload(
        expert, room_id, "c2", clips.video("mp4", "libx264", 4.0), "clip.mp4"
    )
    assert status == 201, body
    assert body["message"]["media"]["seconds"] == 4.0
    # A WebM of either kind: the form's choice settles audio, and its limit.
    voice = clips.audio("webm", "libopus", 7.0)
    status, body = await upload(expert, room_id, "c3", voice, "v.webm", kind="audio")
    assert (status, body["message"]["kind"]) == (201, "audio")
    status, body = await upload(expert, room_id, "c4", voice, "v.webm", kind="video")
    assert (status, body["reason"]) == (413, "clip_too_long")
    stored = await live_server.platform.db["media.files"].count_documents({})
    assert stored == 2


async def test_outsiders_get_not_found(live_server):
    """Non-members, other tenants and uninvited experts see nothing."""
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    _, photo = await upload(expert, room_id, "o1", jpeg())
    media_id = photo["message"]["media"]["id"]
    outsiders = [
        await staff(live_server, "expert"),
        await staff(live_server, "officer"),
        await staff(live_server, "commander", "t2"),
    ]
    for outsider in outsiders:
        for path in (
            f"/api/rooms/{room_id}",
            f"/api/rooms/{room_id}/messages",
            f"/api/rooms/{room_id}/media/{media_id}",
            f"/api/rooms/{room_id}/media/{media_id}?thumbnail=1",
        ):
            status, body = await outsider.get(path)
            assert status == 404, (path, body)
        _, mine = await outsider.get("/api/rooms")
        assert mine["rooms"] == []
        socket = await outsider.websocket()
        await socket.receive_type("welcome")
        await socket.send({"type": "subscribe", "topic": f"room:{room_id}"})
        assert (await socket.receive_type("error"))["reason"] == "topic_refused"
    # Experts do not open rooms; nobody invites another tenant's account.
    status, body = await expert.post("/api/rooms", {"title": "Mine"})
    assert (status, body["reason"]) == (403, "role")
    status, body = await opener.post(
        f"/api/rooms/{room_id}/invite", {"user_ids": [outsiders[2].user["id"]]}
    )
    assert (status, body["reason"]) == (400, "bad_invitees")
    # A malformed id is no account either: the room itself is there (not 404).
    status, body = await opener.post(
        f"/api/rooms/{room_id}/invite", {"user_ids": [expert.user["id"], "x"]}
    )
    assert (status, body["reason"]) == (400, "bad_invitees")


async def test_a_message_stored_late_never_leaves_a_gap_behind_a_newer_one(
    live_server, monkeypatch
):
    """Two posts at once: a number is seen only once every lower one exists.

    The first post is held just before its insert (as a slow write, or a
    second process, would be) while another is stored: the other takes the
    next free number, a reader sees no hole, and the held one then takes the
    number after. Many posts at once get distinct numbers without gaps.
    """
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    held, release = hold_inserts(
        monkeypatch, "room_messages", lambda d: d.get("text") == "slow"
    )
    slow = asyncio.create_task(send(opener, room_id, "s", "slow"))
    await asyncio.wait_for(held.wait(), TIMEOUT)
    status, quick = await asyncio.wait_for(send(expert, room_id, "q", "quick"), TIMEOUT)
    assert status == 201, quick
    _, page = await opener.get(f"/api/rooms/{room_id}/messages")
    numbers = [m["seq"] for m in page["messages"]]
    assert numbers == list(range(1, len(numbers) + 1))
    assert page["messages"][-1]["text"] == "quick"

    release.set()
    status, late = await asyncio.wait_for(slow, TIMEOUT)
    assert status == 201, late
    assert late["message"]["seq"] == quick["message"]["seq"] + 1

    answers = await asyncio.gather(
        *(send(expert, room_id, f"b{n}", f"burst {n}") for n in range(12))
    )
    assert [status for status, _ in answers] == [201] * 12
    _, page = await opener.get(f"/api/rooms/{room_id}/messages")
    numbers = [m["seq"] for m in page["messages"]]
    assert numbers == list(range(1, len(numbers) + 1))
    texts = sorted(m["text"] for m in page["messages"] if m["text"].startswith("b"))
    assert texts == sorted(f"burst {n}" for n in range(12))
    _, room = await opener.get(f"/api/rooms/{room_id}")
    assert room["room"]["seq"] == numbers[-1]

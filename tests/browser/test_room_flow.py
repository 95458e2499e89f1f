"""A consultation room end to end, in three browsers against a live server.

An officer handling an alarm opens a room for it from the job screen and
invites two experts; both accept from their own desks; text and an uploaded
photo reach everyone in the same order; one expert's connection drops and
comes back without losing or repeating a message; a send whose answer is lost
is retried with the same client_id and stored once; the room is closed with a
summary. No page may log a console error that the test did not expect.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from tests.browser.test_views import Problems, open_page
from tests.test_alarms import SCENE, citizen, next_event, open_all_day, raise_alarm

pytestmark = pytest.mark.browser

# Two experts the directory lists (category and skills are what it shows).
EXPERTS = [
    {"category": "hazmat", "skills": ["gas"]},
    {"category": "medical", "skills": ["first aid"]},
]
SUMMARY = "Gas leak confirmed; utility company called."


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), "orange").save(out, "JPEG")
    return out.getvalue()


async def sign_in(page: Page, live_server, view: str, account) -> None:
    """Opens ``/view``, signs in on the login page it is sent to."""
    username, password = account
    await page.goto(f"{live_server.url}/{view}")
    await expect(page).to_have_url(re.compile(rf"/login\?next=%2F{view}$"))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/{view}")


async def officer_with_job(live_server) -> tuple[tuple[str, str], str]:
    """An officer account that has claimed a fresh alarm; (account, alarm id)."""
    account = await live_server.create_user(roles=["officer"], tenant_id="t1")
    client = live_server.client()
    status, body = await client.post(
        "/api/auth/login", {"username": account[0], "password": account[1]}
    )
    assert status == 200, body
    await client.post("/api/officer/duty", {"duty": "on"})
    socket = await client.websocket()
    await socket.receive_type("welcome")
    await socket.send(
        {"type": "subscribe", "id": 1, "topic": f"user:{body['user']['id']}"}
    )
    await socket.receive_type("subscribed")
    await socket.send(
        {"type": "position", "lon": SCENE[0], "lat": SCENE[1], "accuracy": 10}
    )
    await socket.send({"type": "ping", "id": "p"})
    await socket.receive_type("pong")
    _, raised = await raise_alarm(await citizen(live_server), description="Gas smell")
    alarm_id = raised["alarm"]["id"]
    assert (await next_event(socket, "offer.new"))["alarm_id"] == alarm_id
    status, answer = await client.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200, answer
    return account, alarm_id


async def seqs(page: Page) -> list[int]:
    """The seq of every message on the page, in screen order."""
    found = await page.locator("#messages > li").evaluate_all(
        "items => items.map(li => Number(li.dataset.seq))"
    )
    return found


async def texts(page: Page) -> list[str]:
    return await page.locator("#messages .room-text").all_text_contents()


async def send_text(page: Page, text: str) -> None:
    await page.fill("#composer-text", text)
    await page.click("#composer-send")
    await expect(page.locator("#messages .room-text", has_text=text)).to_have_count(1)


async def test_an_officer_consults_two_experts_in_a_room_until_it_is_closed(
    browser, live_server
):
    await open_all_day(live_server)
    officer_account, alarm_id = await officer_with_job(live_server)
    expert_accounts = [
        await live_server.create_user(roles=["expert"], tenant_id="t1", expert=e)
        for e in EXPERTS
    ]
    users = live_server.platform.db.users
    expert_ids = [
        str((await users.find_one({"username": a[0]}))["_id"]) for a in expert_accounts
    ]

    # Both experts wait at their desks; the officer sees the job screen.
    experts: list[tuple[Page, Problems]] = []
    for account in expert_accounts:
        page, problems = await open_page(browser)
        await sign_in(page, live_server, "expert", account)
        await expect(page.locator("#rooms-empty")).to_be_visible()
        experts.append((page, problems))
    officer, officer_problems = await open_page(browser)
    await sign_in(officer, live_server, "officer", officer_account)
    await expect(officer.locator("#job")).to_be_visible()

    # The officer picks both experts from the directory and opens the room.
    await officer.click("#consult-open")
    for expert_id in expert_ids:
        await officer.check(f'#consult-experts input[value="{expert_id}"]')
    await officer.click("#consult-start")
    await officer.wait_for_url(re.compile(r"/rooms/[0-9a-f]{24}$"))
    room_id = officer.url.rsplit("/", 1)[1]
    await expect(officer.locator("#room-alarm-id")).to_have_text(alarm_id)
    await expect(officer.locator("#room-title")).to_contain_text("警情会诊")
    for expert_id in expert_ids:
        member = officer.locator(f'#members [data-user-id="{expert_id}"]')
        await expect(member).to_have_attribute("data-state", "invited")

    # Each expert gets the invitation live and accepts it.
    for page, _ in experts:
        invitation = page.locator(f'#rooms [data-room-id="{room_id}"]')
        await expect(invitation).to_have_attribute("data-state", "invited")
        await invitation.locator(".room-accept").click()
        await page.wait_for_url(f"{live_server.url}/rooms/{room_id}")
        await expect(page.locator("#connection")).to_have_attribute(
            "data-state", "connected"
        )
    pages = [officer] + [page for page, _ in experts]
    for expert_id in expert_ids:
        member = officer.locator(f'#members [data-user-id="{expert_id}"]')
        await expect(member).to_have_attribute("data-state", "active")
        await expect(member).to_have_attribute("data-present", "true")

    # Text from two members and a photo reach everyone in the same order.
    await send_text(officer, "Residents evacuated, smell strongest at the gate.")
    await send_text(experts[0][0], "Keep everyone 50 m away; no switches.")
    await officer.set_input_files(
        "#composer-file",
        files=[{"name": "gate.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}],
    )
    await officer.click("#composer-send")
    for page in pages:
        image = page.locator("#messages li.kind-image a img")
        await expect(image).to_have_count(1)
        await page.wait_for_function(
            "() => document.querySelector('#messages li.kind-image img')"
            ".naturalWidth > 0"
        )
        await expect(page.locator("#messages li.kind-image a")).to_have_attribute(
            "href", re.compile(rf"/api/rooms/{room_id}/media/")
        )
    reference = await seqs(officer)
    assert reference == sorted(set(reference))
    for page in pages[1:]:
        await expect(page.locator("#messages > li")).to_have_count(len(reference))
        assert await seqs(page) == reference
    # The officer's own messages say how many have read them.
    await expect(officer.locator("#messages li.mine .room-read").first).to_have_text(
        "2 人已读"
    )

    # Expert B drops off; the others talk meanwhile; B comes back complete.
    dropped, dropped_problems = experts[1]
    # While offline, reconnect attempts fail; Chromium logs each one.
    dropped_problems.allow("ERR_INTERNET_DISCONNECTED")
    await dropped.context.set_offline(True)
    await expect(dropped.locator("#connection")).not_to_have_attribute(
        "data-state", "connected"
    )
    missed = ["Utility company on its way.", "Meter room is in the basement."]
    await send_text(officer, missed[0])
    await send_text(experts[0][0], missed[1])
    await send_text(officer, "Basement door is locked.")
    await dropped.context.set_offline(False)
    await expect(dropped.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    await expect(
        dropped.locator("#messages .room-text", has_text="Basement door is locked.")
    ).to_have_count(1)
    reference = await seqs(officer)
    shown = await seqs(dropped)
    assert shown == reference, (shown, reference)
    for seq in reference:
        assert await dropped.locator(f'#messages > li[data-seq="{seq}"]').count() == 1
    assert await texts(dropped) == await texts(officer)

    # A send whose answer is lost is retried with the same client_id: one message.
    retry_text = "Valve closed."
    lost = {"done": False}

    async def lose_answer(route):
        if lost["done"]:
            await route.continue_()
            return
        lost["done"] = True
        await route.fetch()  # the server stores the message ...
        await route.abort()  # ... but its answer never arrives

    await experts[0][0].route(f"**/api/rooms/{room_id}/messages", lose_answer)
    experts[0][1].allow(f"/api/rooms/{room_id}/messages net::ERR_FAILED")
    experts[0][1].allow("Failed to load resource: net::ERR_FAILED")
    await experts[0][0].fill("#composer-text", retry_text)
    await experts[0][0].click("#composer-send")
    await experts[0][0].click("#outbox .room-retry")
    await expect(experts[0][0].locator("#outbox li")).to_have_count(0)
    for page in pages:
        await expect(
            page.locator("#messages .room-text", has_text=retry_text)
        ).to_have_count(1)
    await experts[0][0].unroute(f"**/api/rooms/{room_id}/messages")

    # The officer closes the room; everyone sees the summary, nobody can write.
    await officer.fill("#close-summary", SUMMARY)
    await officer.click("#close-room")
    for page in pages:
        await expect(page.locator("#room-closed")).to_be_visible()
        await expect(page.locator("#room-summary")).to_have_text(SUMMARY)
        await expect(page.locator("#composer")).to_be_hidden()
        await expect(page.locator("#room-transcript")).to_have_attribute(
            "href", f"/api/rooms/{room_id}/transcript"
        )
    final = await seqs(officer)
    for page in pages[1:]:
        await expect(page.locator("#messages > li")).to_have_count(len(final))
        assert await seqs(page) == final

    for problems in [officer_problems] + [p for _, p in experts]:
        assert problems.unexpected() == []

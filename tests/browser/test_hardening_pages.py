"""Stored markup is shown as text: no script runs, no element is injected.

Text that citizens and staff type (an alarm's description and address, a room
message, a task's title) is stored as typed, ``<script>`` and ``onerror``
included. Each page that shows it is opened in headless Chromium: the text
must be visible as written, no dialog may open, and the page must hold no
``<img src=x>`` and no script carrying the payload. A dialog would mean the
markup ran; the elements would mean it was parsed even where the CSP stopped it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_views import open_page, sign_in_through
from tests.test_alarms import citizen, next_event, open_all_day, raise_alarm
from tests.test_tasks import task_body

pytestmark = pytest.mark.browser

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)> \u202eevil"
ADDRESS = "<img src=x onerror=alert(2)>巷2号"
# Escalation comes after the claim window (2 s here) plus a timer's jitter.
ESCALATION_WAIT_MS = 10_000

# What injected markup would have left in the document.
INJECTED = """() => ({
  images: document.querySelectorAll('img[src="x"], img[onerror]').length,
  scripts: [...document.scripts].filter(s => s.text.includes("alert(")).length,
  handlers: document.querySelectorAll("[onerror], [onload]").length,
})"""
CLEAN = {"images": 0, "scripts": 0, "handlers": 0}


def watch_dialogs(page: Page) -> list[str]:
    """Messages of every dialog the page opens (each one dismissed)."""
    opened: list[str] = []

    async def dismiss(dialog) -> None:
        opened.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


async def sign_in_at(page: Page, live_server, path: str, account) -> None:
    """Signs in on the login page with ``account`` and lands on ``path``."""
    username, password = account
    await page.goto(f"{live_server.url}/login?next={quote(path, safe='')}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}{path}")


async def api_client(live_server, account):
    client = live_server.client()
    username, password = account
    status, body = await client.post(
        "/api/auth/login", {"username": username, "password": password}
    )
    assert status == 200, body
    client.user = body["user"]
    return client


async def assert_shown_as_text(page: Page, dialogs: list[str], problems) -> None:
    assert await page.evaluate(INJECTED) == CLEAN
    assert dialogs == []
    # An injected <img src=x> would also have been fetched (and 404ed).
    assert problems.unexpected() == []


async def test_the_command_room_shows_description_and_address_as_text(
    browser, live_server
):
    await open_all_day(live_server, claim_window_s=2)
    page, problems = await open_page(browser)
    dialogs = watch_dialogs(page)
    await sign_in_through(page, live_server, "command", ["commander"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    _, body = await raise_alarm(
        await citizen(live_server), description=PAYLOAD, address=ADDRESS
    )
    alarm_id = body["alarm"]["id"]
    waiting = page.locator(f'#queue-escalated [data-alarm-id="{alarm_id}"]')
    await expect(waiting).to_contain_text(ADDRESS, timeout=ESCALATION_WAIT_MS)
    await waiting.click()
    await expect(page.locator("#alarm-detail .cmd-description")).to_have_text(PAYLOAD)
    # The marker's tooltip names the address, as text.
    marker = page.locator(f'#map .cmd-marker[data-alarm-id="{alarm_id}"]')
    await marker.hover()
    tooltip = page.locator(".leaflet-tooltip")
    await expect(tooltip).to_contain_text(ADDRESS)
    await expect(tooltip.locator("img")).to_have_count(0)
    await assert_shown_as_text(page, dialogs, problems)


async def test_the_officer_job_shows_the_description_as_text(browser, live_server):
    await open_all_day(live_server)
    account = await live_server.create_user(["officer"])
    officer = await api_client(live_server, account)
    await officer.post("/api/officer/duty", {"duty": "on"})
    socket = await officer.websocket()
    await socket.receive_type("welcome")
    await socket.send(
        {"type": "subscribe", "id": 1, "topic": f"user:{officer.user['id']}"}
    )
    await socket.receive_type("subscribed")
    await socket.send({"type": "position", "lon": 118.79, "lat": 32.07})
    await socket.send({"type": "ping", "id": "p"})
    await socket.receive_type("pong")
    _, raised = await raise_alarm(await citizen(live_server), description=PAYLOAD)
    alarm_id = raised["alarm"]["id"]
    assert (await next_event(socket, "offer.new"))["alarm_id"] == alarm_id
    status, answer = await officer.post(f"/api/alarms/{alarm_id}/claim")
    assert status == 200, answer
    socket.close()

    page, problems = await open_page(browser)
    dialogs = watch_dialogs(page)
    await sign_in_at(page, live_server, "/officer", account)
    await expect(page.locator("#job")).to_be_visible()
    await expect(page.locator("#job-description")).to_have_text(PAYLOAD)
    await assert_shown_as_text(page, dialogs, problems)


async def test_a_room_message_is_shown_as_text(browser, live_server):
    account = await live_server.create_user(["commander"])
    commander = await api_client(live_server, account)
    status, body = await commander.post(
        "/api/rooms", {"title": "<b>Room</b> <img src=x onerror=alert(3)>"}
    )
    assert status == 201, body
    room_id = body["room"]["id"]
    status, body = await commander.post(
        f"/api/rooms/{room_id}/messages", {"client_id": "xss-1", "text": PAYLOAD}
    )
    assert status == 201, body

    page, problems = await open_page(browser)
    dialogs = watch_dialogs(page)
    await sign_in_at(page, live_server, f"/rooms/{room_id}", account)
    await expect(page.locator("#messages .room-text")).to_have_text([PAYLOAD])
    await expect(page.locator("#room-title")).to_contain_text("<b>Room</b>")
    await assert_shown_as_text(page, dialogs, problems)


async def test_a_task_title_is_shown_as_text_on_the_board(browser, live_server):
    title = "<script>alert(4)</script><img src=x onerror=alert(4)>"
    commander = await live_server.signed_in(["commander"])
    status, body = await commander.post(
        "/api/tasks", task_body(title=title, description=PAYLOAD)
    )
    assert status == 201, body
    task_id = body["task"]["id"]

    page, problems = await open_page(browser, timezone_id="Asia/Shanghai")
    dialogs = watch_dialogs(page)
    await sign_in_through(page, live_server, "tasks", ["officer"])
    card = page.locator(f'#board .task-card[data-task-id="{task_id}"]')
    await expect(card.locator(".task-title")).to_have_text(title)
    await assert_shown_as_text(page, dialogs, problems)

"""Past the retention window, the page is told to reload, and does.

The command room's socket drops; an alarm is raised meanwhile and the window
passes (its events are gone); on reconnect the server answers ``reload`` and
the page fetches its state over HTTP, showing an alarm it never got an event
for.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.browser.test_views import open_page, sign_in_through
from tests.realtime.test_socket import until_detached
from tests.test_alarms import citizen, open_all_day, raise_alarm

pytestmark = pytest.mark.browser


async def test_past_the_window_the_page_is_told_to_reload_and_does(
    browser, live_server
):
    """The command room's socket drops; an alarm is raised meanwhile and the
    window passes (its events are gone); on reconnect the page reloads its
    state over HTTP and shows the alarm it never got an event for."""
    await open_all_day(live_server)
    hub = live_server.platform.hub
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "command", ["commander"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    # Hold the page's reconnection until the window has passed.
    blocked = asyncio.Event()

    async def hold(route):
        await blocked.wait()
        await route.continue_()

    await page.route("**/ws", hold)
    for connection in list(hub.connections):
        connection.close_for(1001, "test drop")
    await until_detached(hub)

    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    # What the retention window does with time: the stream's events expire.
    hub.streams["command:t1"].events.clear()
    reloads = []
    page.on(
        "request",
        lambda r: reloads.append(r.url) if "/api/command/alarms" in r.url else None,
    )
    blocked.set()
    await page.unroute("**/ws")

    await expect(
        page.locator(f'#queue-active [data-alarm-id="{alarm_id}"]')
    ).to_have_count(1)
    assert reloads, "the alarm came without a reload"
    problems.allow("1001")
    assert problems.unexpected() == []

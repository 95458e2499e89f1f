"""The command room and the assessment board in headless Chromium.

An alarm nobody claims reaches the command room after the (shortened) claim
window with the station whose zone contains it; the commander dispatches it,
the officer's socket is told, the commander reassigns and closes it. The
board shows per-officer rows, keeps connection losses apart from offers let
pass, and sorts by a column. Every test fails on console errors, page errors
and failed requests (see `Problems` in test_views).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from bson import ObjectId
from playwright.async_api import expect

from tests.browser.test_views import (
    add_station,
    open_page,
    sign_in_through,
)
from tests.test_alarms import (
    citizen,
    next_event,
    officer_online,
    open_all_day,
    raise_alarm,
)

pytestmark = pytest.mark.browser

# Escalation comes after the claim window (2 s here) plus a timer's jitter.
ESCALATION_WAIT_MS = 10_000


async def station_officer(live_server, lon, lat):
    """An officer of station s1, on duty, connected, at (lon, lat)."""
    client, socket = await officer_online(live_server, lon, lat)
    await live_server.platform.db.users.update_one(
        {"_id": ObjectId(client.user["id"])}, {"$set": {"station_id": "s1"}}
    )
    return client, socket


async def test_an_unclaimed_alarm_is_dispatched_reassigned_and_closed(
    browser, live_server
):
    await open_all_day(live_server, claim_window_s=2)
    await add_station(live_server)
    first, first_ws = await station_officer(live_server, 118.791, 32.071)
    second, second_ws = await officer_online(live_server, 118.796, 32.074)
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "command", ["commander"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )

    # Nobody claims: after the window the alarm waits in the escalated queue.
    _, body = await raise_alarm(
        await citizen(live_server), description="楼上整夜装修", address="玄武巷2号"
    )
    alarm_id = body["alarm"]["id"]
    waiting = page.locator(f'#queue-escalated [data-alarm-id="{alarm_id}"]')
    await expect(waiting).to_contain_text("玄武湖派出所", timeout=ESCALATION_WAIT_MS)
    await expect(waiting).to_contain_text("玄武巷2号")
    marker = page.locator(f'#map .cmd-marker-escalated[data-alarm-id="{alarm_id}"]')
    await expect(marker).to_have_count(1)
    await expect(page).to_have_title("(1) 指挥室 · 警滴")

    # The officer of the zone's station comes first and gets the dispatch.
    await waiting.click()
    await expect(page.locator("#alarm-detail")).to_contain_text("楼上整夜装修")
    suggestions = page.locator("#suggestions li")
    await expect(suggestions.first).to_have_attribute(
        "data-officer-id", first.user["id"]
    )
    await expect(suggestions.first).to_contain_text("本辖区")
    await suggestions.first.locator("button").click()
    told = await next_event(first_ws, "alarm.assigned")
    assert told["id"] == alarm_id and told["assignee"]["via"] == "dispatch"
    assigned = page.locator(f'#queue-active [data-alarm-id="{alarm_id}"]')
    await expect(assigned).to_have_attribute("data-status", "assigned")
    await expect(assigned).to_contain_text(first.user["name"])
    await expect(page.locator("#queue-escalated [data-alarm-id]")).to_have_count(0)
    await expect(page).to_have_title("指挥室 · 警滴")

    # Reassigning asks first, then tells the new officer and frees the old.
    other = page.locator(f'#suggestions li[data-officer-id="{second.user["id"]}"]')
    await expect(other.locator("button")).to_have_text("改派")
    page.once("dialog", lambda dialog: dialog.accept())
    await other.locator("button").click()
    told = await next_event(second_ws, "alarm.assigned")
    assert told["id"] == alarm_id
    assert (await next_event(first_ws, "alarm.unassigned"))["alarm_id"] == alarm_id
    await expect(assigned).to_contain_text(second.user["name"])

    # Closing needs a note, which lands in the alarm's history.
    await page.fill("#close-note", "报警人来电称已解决")
    await page.click("#close-submit")
    await expect(assigned).to_have_count(0)
    await expect(marker).to_have_count(0)
    await expect(page.locator("#detail-body")).to_contain_text("报警人来电称已解决")
    await expect(page.locator("#close-form")).to_be_hidden()
    assert problems.unexpected() == []
    first_ws.close()
    second_ws.close()


# -- the assessment board --------------------------------------------------------


async def offers(live_server, officer_name: str, *outcomes: dict) -> None:
    """An officer of station s1 and one stored offer per outcome given."""
    db = live_server.platform.db
    await live_server.create_user(["officer"], name=officer_name, station_id="s1")
    officer = await db.users.find_one({"name": officer_name})
    now = dt.datetime.now(dt.UTC)
    for fields in outcomes:
        await db.offers.insert_one(
            {
                "_id": f"{ObjectId()}:{officer['_id']}",
                "tenant_id": "t1",
                "alarm_id": ObjectId(),
                "officer_id": str(officer["_id"]),
                "station_id": "s1",
                "sent_at": now,
                "delivered_at": now,
                "seen_at": None,
                "outcome": "expired",
                **fields,
            }
        )


async def test_the_board_keeps_lost_offers_apart_and_sorts_by_a_column(
    browser, live_server
):
    await add_station(live_server)
    now = dt.datetime.now(dt.UTC)
    # A saw one offer and let it pass.
    await offers(live_server, "A 民警", {"seen_at": now})
    # B claimed one, declined one, and one never reached the phone.
    await offers(
        live_server,
        "B 民警",
        {"seen_at": now, "outcome": "claimed"},
        {"outcome": "declined", "declined_at": now, "decline_reason": "在处理其他警情"},
        {"delivered_at": None, "outcome": "lost"},
    )
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "kpi", ["commander"])

    rows = page.locator("#kpi-rows tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("A 民警")
    a_row, b_row = rows.nth(0), rows.nth(1)
    await expect(a_row.locator('[data-field="offers_missed_seen"]')).to_have_text("1")
    await expect(a_row.locator('[data-field="offers_undelivered"]')).to_have_text("0")
    await expect(b_row.locator('[data-field="offers_missed_seen"]')).to_have_text("0")
    await expect(b_row.locator('[data-field="offers_undelivered"]')).to_have_text("1")
    await expect(b_row.locator('[data-field="offers_declined"]')).to_contain_text(
        "在处理其他警情"
    )
    await expect(b_row).to_contain_text("玄武湖派出所")

    # Most offers first, then the other way round.
    received = page.locator('#kpi-head [data-sort="offers_received"]')
    await received.click()
    await expect(rows.nth(0)).to_contain_text("B 民警")
    header = page.locator('#kpi-head th:has([data-sort="offers_received"])')
    await expect(header).to_have_attribute("aria-sort", "descending")
    await expect(page).to_have_url(re.compile(r"sort=offers_received&order=desc"))
    await received.click()
    await expect(rows.nth(0)).to_contain_text("A 民警")

    # Per station: one row holding all four offers.
    await page.check('input[name="group"][value="station"]')
    await expect(rows).to_have_count(1)
    await expect(rows.nth(0)).to_contain_text("玄武湖派出所")
    await expect(rows.nth(0).locator('[data-field="offers_received"]')).to_have_text(
        "4"
    )
    assert problems.unexpected() == []


async def test_a_dispatch_that_lost_a_race_is_explained(browser, live_server):
    await open_all_day(live_server, claim_window_s=2)
    await add_station(live_server)
    officer, officer_ws = await station_officer(live_server, 118.791, 32.071)
    colleague = await live_server.signed_in(["commander"])
    page, problems = await open_page(browser)
    problems.allow("409")  # the refused dispatch below, logged by Chromium
    await sign_in_through(page, live_server, "command", ["commander"])
    _, body = await raise_alarm(await citizen(live_server))
    alarm_id = body["alarm"]["id"]
    waiting = page.locator(f'#queue-escalated [data-alarm-id="{alarm_id}"]')
    await waiting.click(timeout=ESCALATION_WAIT_MS)

    # A colleague closes the alarm just before our dispatch reaches the server.
    async def close_first(request_route):
        await colleague.post(f"/api/alarms/{alarm_id}/close", {"note": "重复报警"})
        await request_route.continue_()

    await page.route("**/dispatch", close_first)
    await page.locator(
        f'#suggestions li[data-officer-id="{officer.user["id"]}"] button'
    ).click()
    # The refusal reads as a sentence, and the panel shows the alarm as it is.
    await expect(page.locator("#detail-status")).to_contain_text("警情状态已变化")
    await expect(page.locator("#detail-title")).to_contain_text("已结案")
    await expect(page.locator("#suggestions-box")).to_be_hidden()
    await expect(waiting).to_have_count(0)
    assert problems.unexpected() == []
    officer_ws.close()


async def test_a_neighbours_border_alarm_is_drawn_read_only(browser, live_server):
    """t2 grants t1 a border zone: t1's command room draws t2's alarm there as
    a grey, read-only dot naming t2, and keeps it out of its own queue. A
    new one appears live, and revoking the grant clears them, live too (the
    page's fallback poll is two minutes: far beyond these waits)."""
    from tests.helpers import square
    from tests.test_grants import grant, revoke

    await open_all_day(live_server, "t2")
    admin_b = await live_server.signed_in(["admin"], "t2")
    # The western strip of t2 (t2 spans 118.82-118.84).
    zone = {
        "type": "Polygon",
        "coordinates": square(118.82, 32.06, 0.005)["coordinates"][0],
    }
    given = await grant(admin_b, "border_alarms", grantee="t1", zone=zone)
    _, body = await raise_alarm(await citizen(live_server), lon=118.822, lat=32.063)
    alarm_id = body["alarm"]["id"]

    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "command", ["commander"])
    dot = page.locator(f'[data-border-alarm="{alarm_id}"]')
    await expect(dot).to_have_count(1)
    await expect(page.locator("#border-count")).to_contain_text("1")
    await expect(page.locator(f'[data-alarm-id="{alarm_id}"]')).to_have_count(0)
    await dot.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    await expect(popup).to_contain_text("邻区警情：Tenant t2")
    await expect(popup).to_contain_text("只读")

    _, body = await raise_alarm(await citizen(live_server), lon=118.823, lat=32.062)
    second = page.locator(f'[data-border-alarm="{body["alarm"]["id"]}"]')
    await expect(second).to_have_count(1)
    await expect(page.locator("#border-count")).to_contain_text("2")
    await revoke(admin_b, given["id"])
    await expect(page.locator("[data-border-alarm]")).to_have_count(0)
    assert problems.unexpected() == []


async def test_the_callers_phone_is_shown_only_when_asked_for(browser, live_server):
    from tests.test_privacy import PHONE, citizen_with_phone

    await open_all_day(live_server)
    person = await citizen_with_phone(live_server)
    _, body = await raise_alarm(person)
    alarm_id = body["alarm"]["id"]
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "command", ["commander"])
    await page.locator(f'[data-alarm-id="{alarm_id}"]').first.click()
    button = page.locator("#detail-contact")
    await expect(button).to_be_visible()
    assert PHONE not in await page.content()
    await button.click()
    link = page.locator("#detail-body a.cmd-phone")
    await expect(link).to_have_text(PHONE)
    assert await link.get_attribute("href") == f"tel:{PHONE}"
    assert problems.unexpected() == []

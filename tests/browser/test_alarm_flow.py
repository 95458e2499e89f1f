"""The one-tap alarm end to end, in three browsers against a live server.

A citizen raises an alarm from an address plate's QR code; two officers near
the scene get the offer on screen and both press 抢单 at once; exactly one
wins and the other is told the alarm was taken. The citizen follows the
winner on the map while they approach, the officer reports on the way,
arrived and resolved, and the citizen rates the service. No page may log a
console error or throw, apart from the losing claim's expected 409.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_views import (
    Problems,
    open_page,
    sign_in_through,
)
from tests.test_alarms import open_all_day

pytestmark = pytest.mark.browser

# A standard address plate inside tenant t1's territory (tests/conftest.py).
PLATE = {
    "_id": "3201020000042",
    "tenant_id": "t1",
    "address": "南京市玄武区北京东路41号",
    "location": {"type": "Point", "coordinates": [118.791, 32.066]},
}
# Two officers a few hundred metres from the plate, well inside the first
# offer round's 2 km radius, and a spot the winner then drives to.
OFFICER_A_SPOT = {"latitude": 32.0700, "longitude": 118.7950}
OFFICER_B_SPOT = {"latitude": 32.0630, "longitude": 118.7870}
CLOSER_SPOT = {"latitude": 32.0662, "longitude": 118.7913}
# The citizen's countdown (3 s) and the send come before the first answer.
SEND_TIMEOUT_MS = 10_000

WON = "抢单成功，此警情由您处置。"
LOST = "已被其他民警抢单。"


async def officer_on_duty(browser, live_server, spot) -> tuple[Page, Problems, str]:
    """An officer's desk, signed in, on duty and sharing a position at ``spot``."""
    page, problems = await open_page(
        browser, geolocation=spot, permissions=["geolocation"]
    )
    # Whoever loses the race for the claim is answered 409, which Chromium logs.
    problems.allow("409")
    name = await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    on_duty = page.locator('#duty [data-duty="on"]')
    await on_duty.click()
    await expect(on_duty).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#position-sent")).to_have_text(
        re.compile(r"^位置已于 .+ 上报$")
    )
    return page, problems, name


async def distance_shown(page: Page) -> int:
    """The officer's distance on the citizen's page, in metres."""
    text = await page.locator("#officer-distance").text_content()
    return int(re.search(r"(\d+) 米", text).group(1))


async def test_a_citizen_alarm_is_claimed_by_one_officer_and_followed_to_the_end(
    browser, live_server
):
    await open_all_day(live_server)
    await live_server.platform.db.plates.insert_one(dict(PLATE))
    officer_a = await officer_on_duty(browser, live_server, OFFICER_A_SPOT)
    officer_b = await officer_on_duty(browser, live_server, OFFICER_B_SPOT)
    officers = {officer_a[2]: officer_a[0], officer_b[2]: officer_b[0]}

    # The citizen opens the plate's link, accepts the terms and sends.
    citizen, citizen_problems = await open_page(browser)
    await citizen.goto(f"{live_server.url}/citizen?plate={PLATE['_id']}")
    await citizen.click("#terms-agree")
    await expect(citizen.locator("#location-line")).to_have_text(
        "门牌地址：" + PLATE["address"]
    )
    await citizen.locator(".choice", has_text="噪音扰民").click()
    await citizen.fill("#description", "楼上深夜装修，敲打声不断")
    await citizen.click("#send-alarm")
    await expect(citizen.locator("#send-alarm")).to_contain_text("秒后发送")
    await expect(citizen.locator("#alarm-headline")).to_have_text(
        "正在通知附近民警…", timeout=SEND_TIMEOUT_MS
    )
    await expect(citizen.locator("#timeline")).to_contain_text("已通知附近 2 名民警")

    # Both officers see the offer fill their screen, then both claim at once.
    for page in officers.values():
        await expect(page.locator("#offer-overlay")).to_be_visible()
        await expect(page.locator("#offer-category")).to_have_text("噪音扰民")
        await expect(page.locator("#offer-address")).to_have_text(PLATE["address"])
        await expect(page.locator("#offer-description")).to_contain_text("装修")
        await expect(page.locator("#offer-countdown")).to_have_text(
            re.compile(r"^剩余 \d+ 秒$")
        )
    # force: the loser's button may already be disabled by the "taken" event,
    # which must not stop its click from being attempted.
    await asyncio.gather(
        *(page.locator("#offer-claim").click(force=True) for page in officers.values())
    )
    outcomes = {}
    for name, page in officers.items():
        status = page.locator("#offers-status")
        await expect(status).to_have_text(re.compile(f"^({WON}|{LOST})$"))
        outcomes[name] = await status.text_content()
    assert sorted(outcomes.values()) == sorted([WON, LOST])
    winner_name = next(name for name, text in outcomes.items() if text == WON)
    winner = officers[winner_name]
    loser = next(page for name, page in officers.items() if name != winner_name)
    await expect(loser.locator("#offer-overlay")).to_be_hidden()
    await expect(loser.locator("#job")).to_be_hidden()
    await expect(winner.locator("#offer-overlay")).to_be_hidden()
    await expect(winner.locator("#job")).to_be_visible()
    await expect(winner.locator("#job-address")).to_have_text(PLATE["address"])
    await expect(winner.locator("#job-route")).to_contain_text("直线")
    await expect(winner.locator('#duty [data-duty="busy"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    # The citizen sees the winner on the map, coming closer as they move.
    await expect(citizen.locator("#officer-name")).to_have_text(winner_name)
    await expect(citizen.locator("#map path.officer-dot")).to_have_count(1)
    await expect(citizen.locator("#officer-distance")).to_have_text(
        re.compile(r"^距您 \d+ 米$")
    )
    before = await distance_shown(citizen)
    await winner.context.set_geolocation(CLOSER_SPOT)
    await citizen.wait_for_function(
        "limit => Number(document.querySelector('#officer-distance')"
        ".dataset.distanceM) < limit",
        arg=before,
    )
    assert await distance_shown(citizen) < before

    # On the way; a reload of the citizen's page comes back to the same alarm.
    await winner.click("#job-en-route")
    await expect(citizen.locator("#alarm-headline")).to_have_text("民警正在赶来")
    await citizen.reload()
    await expect(citizen.locator("#alarm-headline")).to_have_text("民警正在赶来")
    await expect(citizen.locator("#officer-name")).to_have_text(winner_name)
    await expect(citizen.locator("#map path.officer-dot")).to_have_count(1)
    await expect(citizen.locator("#cancel-alarm")).to_be_visible()

    await winner.click("#job-arrived")
    await expect(citizen.locator("#alarm-headline")).to_have_text("民警已到达现场")
    await expect(citizen.locator("#cancel-alarm")).to_be_hidden()

    # Resolving needs a note; then the officer is free again.
    await winner.click("#job-resolve")
    await winner.fill("#job-note", "已劝说住户停止夜间施工")
    await winner.click("#job-resolve-confirm")
    await expect(winner.locator("#job")).to_be_hidden()
    await expect(winner.locator("#officer-notice")).to_contain_text("处置完毕")
    await expect(winner.locator('#duty [data-duty="on"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    # The citizen reads the outcome, no longer sees the officer, and rates.
    await expect(citizen.locator("#alarm-headline")).to_have_text("警情已处置完毕")
    await expect(citizen.locator("#officer-card")).to_be_hidden()
    await expect(citizen.locator("#map path.officer-dot")).to_have_count(0)
    timeline = citizen.locator("#timeline li .timeline-text")
    await expect(timeline).to_have_text(
        [
            "报警已发送",
            "已通知附近 2 名民警",
            f"民警 {winner_name} 已接警",
            "民警已出发",
            "民警已到达现场",
            "已处置完毕",
        ]
    )
    await citizen.click('#rating-stars [data-stars="5"]')
    await citizen.fill("#rating-comment", "来得很快，谢谢")
    await citizen.click("#rating-submit")
    await expect(citizen.locator("#rating-done")).to_have_text("感谢您的评价：★★★★★")
    await expect(citizen.locator("#rating-form")).to_be_hidden()

    stored = await live_server.platform.db.alarms.find_one({})
    assert stored["status"] == "resolved"
    assert stored["assignee"]["name"] == winner_name
    assert stored["rating"]["stars"] == 5
    for problems in (citizen_problems, officer_a[1], officer_b[1]):
        assert problems.unexpected() == []


async def test_the_claiming_officer_sees_the_callers_phone_on_the_job(
    browser, live_server
):
    """A citizen who left a number: the officer who claims the alarm gets a
    tel: link to it on the job screen (and nothing before the claim)."""
    from tests.test_alarms import SCENE, raise_alarm
    from tests.test_privacy import PHONE, citizen_with_phone

    await open_all_day(live_server)
    spot = {"longitude": SCENE[0] + 0.001, "latitude": SCENE[1]}
    page, problems, _ = await officer_on_duty(browser, live_server, spot)
    status, body = await raise_alarm(await citizen_with_phone(live_server))
    assert status == 201, body
    await expect(page.locator("#offer-overlay")).to_be_visible()
    assert PHONE not in await page.content()
    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    await page.locator("#offer-claim").click()
    await expect(page.locator("#job")).to_be_visible()
    # The open app claims over its socket, not with an HTTP request.
    assert not [url for url in posted if url.endswith("/claim")]
    link = page.locator("#job-phone")
    await expect(link).to_have_text(PHONE)
    assert await link.get_attribute("href") == f"tel:{PHONE}"
    assert problems.unexpected() == []

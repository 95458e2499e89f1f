"""An emergency muster end to end, in headless Chromium against a live server.

A commander starts a muster from the command room by clicking the map; the
officers within the radius get the full-screen alert on their desks, on duty
and off (an off-duty officer by the last position shared while on duty),
while an officer outside the radius gets nothing. One answers "coming", one
"cannot", and the roll-call board shows both live; an officer who reloads
before answering gets the alert again. Ending the muster tells everyone
alerted. No page may log a console error the test did not expect.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_room_flow import sign_in
from tests.browser.test_views import Problems, open_page

pytestmark = pytest.mark.browser

# The command room's map opens on Xuanwu Lake (server/app.py DEFAULT_CENTER),
# so a click in its middle puts the muster point there, inside tenant t1.
NEAR = {"type": "Point", "coordinates": [118.795, 32.07]}  # about 470 m
FAR = {"type": "Point", "coordinates": [118.79, 32.09]}  # about 2.2 km
MESSAGE = "东门踩踏险情，速到玄武门集结"


async def officer_desk(browser, live_server, name: str, **fields):
    """An officer signed in at /officer with a live connection."""
    account = await live_server.create_user(
        roles=["officer"], tenant_id="t1", name=name, **fields
    )
    page, problems = await open_page(browser)
    await sign_in(page, live_server, "officer", account)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    await expect(page.locator("#musters-empty")).to_be_visible()
    return page, problems


async def row(board: Page, name: str):
    return board.locator("#roll-body tr", has_text=name)


async def test_a_muster_reaches_the_officers_in_its_radius_and_its_board_live(
    browser, live_server
):
    on_duty, on_problems = await officer_desk(
        browser, live_server, "值班民警", duty="on", position=NEAR
    )
    off_duty, off_problems = await officer_desk(
        browser, live_server, "休班民警", duty="off", position=NEAR
    )
    far, far_problems = await officer_desk(
        browser, live_server, "远处民警", duty="off", position=FAR
    )

    # The commander starts the muster from the command room's map.
    commander_account = await live_server.create_user(
        roles=["commander"], tenant_id="t1", name="指挥员赵"
    )
    board, board_problems = await open_page(browser)
    await sign_in(board, live_server, "command", commander_account)
    await board.click("#muster-start")
    await board.fill("#mf-message", MESSAGE)
    await board.fill("#mf-address", "玄武门")
    await board.fill("#mf-radius", "1000")
    await board.fill("#mf-needed", "2")
    # Without a place the form says what is missing.
    await board.click("#mf-submit")
    await expect(board.locator("#mf-status")).to_have_text("请先在地图上点选集结点。")
    await board.locator("#map").click()
    await expect(board.locator("#mf-place")).to_have_attribute("data-picked", "true")
    await board.click("#mf-submit")
    await board.wait_for_url(re.compile(r"/musters/[0-9a-f]{24}$"))
    muster_id = board.url.rsplit("/", 1)[1]
    await expect(board.locator("#muster-message")).to_have_text(MESSAGE)
    await expect(board.locator("#roll-body tr")).to_have_count(2)
    await expect(board.locator("#count-alerted")).to_have_text("2")
    await expect(board.locator("#count-pending")).to_have_text("2")
    await expect(board.locator("#count-needed")).to_have_text("2")

    # Both officers inside the radius get the alert at once, on duty or off.
    for page in (on_duty, off_duty):
        overlay = page.locator("#muster-overlay")
        await expect(overlay).to_be_visible()
        await expect(page.locator("#muster-message")).to_have_text(MESSAGE)
        await expect(page.locator("#muster-address")).to_have_text("玄武门")
        await expect(page.locator("#muster-distance")).to_contain_text("距集结点")
        await expect(page.locator("#muster-coming")).to_have_text("我来了")
        await expect(page.locator("#muster-cannot")).to_have_text("无法前往")

    # The on-duty officer is coming: the board shows it without a reload.
    await on_duty.click("#muster-coming")
    await expect(on_duty.locator("#muster-result")).to_contain_text("已回复：我来了")
    coming = await row(board, "值班民警")
    await expect(coming).to_have_attribute("data-answer", "coming")
    await expect(coming).to_contain_text("分钟")  # the ETA
    await expect(board.locator("#count-coming")).to_have_text("1")
    await expect(board.locator("#count-short")).to_have_text("1")

    # The off-duty officer reloads before answering: the alert is back.
    await off_duty.reload()
    await expect(off_duty.locator("#muster-overlay")).to_be_visible()
    await off_duty.click("#muster-cannot")
    await expect(off_duty.locator("#muster-result")).to_contain_text("无法前往")
    cannot = await row(board, "休班民警")
    await expect(cannot).to_have_attribute("data-answer", "cannot")
    await expect(board.locator("#count-cannot")).to_have_text("1")
    await expect(board.locator("#count-pending")).to_have_text("0")

    # A notification tap opens the desk at #muster=<id>: the muster shows.
    await on_duty.goto("about:blank")
    await on_duty.goto(f"{live_server.url}/officer#muster={muster_id}")
    await expect(on_duty.locator("#muster-overlay")).to_be_visible()
    await expect(on_duty.locator("#muster-result")).to_contain_text("我来了")
    await expect(on_duty.locator(f'[data-muster-id="{muster_id}"]')).to_be_visible()

    # The officer outside the radius was never alerted.
    await expect(far.locator("#muster-overlay")).to_be_hidden()
    await expect(far.locator("#musters-empty")).to_be_visible()

    # The commander ends it: everyone alerted is told, and the board says so.
    await board.fill("#end-note", "险情已控制")
    await board.click("#end-submit")
    await expect(board.locator("#muster-ended")).to_have_text("集结已结束：险情已控制")
    await expect(board.locator("#muster-actions")).to_be_hidden()
    await expect(board.locator("#cap-link")).to_have_attribute(
        "href", f"/api/musters/{muster_id}/cap"
    )
    for page in (on_duty, off_duty):
        await expect(page.locator("#muster-result")).to_have_text(
            "集结已结束：险情已控制"
        )
        await expect(page.locator("#muster-actions")).to_be_hidden()
        await page.click("#muster-close")
        await expect(page.locator("#muster-overlay")).to_be_hidden()
        await expect(page.locator("#musters-empty")).to_be_visible()
    await expect(far.locator("#muster-overlay")).to_be_hidden()

    problems: list[Problems] = [on_problems, off_problems, far_problems]
    problems.append(board_problems)
    for found in problems:
        assert found.unexpected() == []

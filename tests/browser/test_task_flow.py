"""The task board in headless Chromium: a commander publishes, officers sign up.

The commander publishes a task for three people on /tasks, picking its place
on the map; four officers sign up from their own pages; three are in and the
fourth waits, then moves in, live, when one withdraws; the roster exports as
CSV. Every page runs against the live server and its websocket.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_views import open_page, sign_in_through
from tests.test_tasks import publish

pytestmark = pytest.mark.browser

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TITLE = "玄武湖灯会安保"


def local_input(delta: dt.timedelta) -> str:
    """A datetime-local value, in the browser's (Shanghai) time zone."""
    at = (dt.datetime.now(SHANGHAI) + delta).replace(second=0, microsecond=0)
    return at.strftime("%Y-%m-%dT%H:%M")


async def officer_page(browser, live_server) -> tuple[Page, object, str]:
    page, problems = await open_page(browser, timezone_id="Asia/Shanghai")
    name = await sign_in_through(page, live_server, "tasks", ["officer"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    return page, problems, name


def card(page: Page, task_id: str):
    return page.locator(f'#board .task-card[data-task-id="{task_id}"]')


async def test_a_task_for_three_fills_its_waiting_list_moves_up_and_exports(
    browser, live_server
):
    commander, problems = await open_page(browser, timezone_id="Asia/Shanghai")
    await sign_in_through(commander, live_server, "tasks", ["commander"])
    await expect(commander.locator("#volunteer")).to_have_count(0)
    await commander.fill("#task-title", TITLE)
    await commander.fill("#task-place-name", "玄武门")
    await commander.fill("#task-starts", local_input(dt.timedelta(days=2)))
    await commander.fill("#task-ends", local_input(dt.timedelta(days=2, hours=4)))
    await commander.fill("#task-deadline", local_input(dt.timedelta(days=1)))
    await commander.fill("#task-needed", "3")
    await commander.check('#task-skills input[value="crowd_control"]')
    # Without a place the form says what is missing and sends nothing.
    await commander.click("#publish-submit")
    await expect(commander.locator("#publish-status")).to_have_text(
        "请在地图上点选任务地点。"
    )
    await commander.locator("#task-map").click()  # the map opens inside t1
    await expect(commander.locator("#task-place")).to_contain_text("已选地点")
    await commander.click("#publish-submit")
    await expect(commander.locator("#publish-status")).to_have_text("任务已发布。")
    detail = commander.locator("#task-detail")
    await expect(detail).to_be_visible()
    await expect(commander.locator("#detail-title")).to_have_text(TITLE)
    task_id = await detail.get_attribute("data-task-id")
    stored = await live_server.platform.db.tasks.find_one({"title": TITLE})
    assert str(stored["_id"]) == task_id
    assert (stored["needed"], stored["skills"]) == (3, ["crowd_control"])
    assert stored["starts_at"] - stored["signup_deadline"] == dt.timedelta(days=1)

    officers = [await officer_page(browser, live_server) for _ in range(4)]
    for number, (page, _, _) in enumerate(officers):
        await card(page, task_id).locator(".task-signup").click()
        expected = "已确认" if number < 3 else "候补 · 候补第 1 位"
        await expect(card(page, task_id).locator(".task-mine")).to_have_text(expected)
    fourth = officers[3][0]
    await expect(fourth.locator('#schedule [data-state="waiting"]')).to_have_count(1)
    # The commander's roster followed live.
    rows = commander.locator("#roster tbody tr")
    await expect(rows).to_have_count(4)
    await expect(commander.locator('#roster tr[data-state="confirmed"]')).to_have_count(
        3
    )
    await expect(commander.locator('#roster tr[data-state="waiting"]')).to_have_count(1)

    # The first withdraws: the fourth moves in, told on their open page.
    first = officers[0][0]
    await card(first, task_id).locator(".task-withdraw").click()
    await expect(card(first, task_id).locator(".task-signup")).to_be_visible()
    await expect(card(fourth, task_id).locator(".task-mine")).to_have_text("已确认")
    await expect(fourth.locator("#page-status")).to_have_text(f"候补转正：{TITLE}")
    await expect(commander.locator('#roster tr[data-state="withdrawn"]')).to_have_count(
        1
    )
    await expect(commander.locator('#roster tr[data-state="confirmed"]')).to_have_count(
        3
    )

    async with commander.expect_download() as download_info:
        await commander.click("#roster-export")
    download = await download_info.value
    text = (await download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["姓名", "账号", "所属单位", "状态"]
    states = sorted(row[3] for row in rows[1:])
    assert states == ["已确认", "已确认", "已确认", "已退出"]
    names = {row[0] for row in rows[1:]}
    assert names == {name for _, _, name in officers}

    for page, page_problems, _ in officers:
        assert page_problems.unexpected() == [], await page.title()
    assert problems.unexpected() == []


async def test_a_granting_agencys_tasks_come_and_go_live_on_the_grantees_board(
    browser, live_server
):
    """An officer of t2 keeps /tasks open: t1 grants "tasks" and publishes,
    and the task appears, marked as t1's, without a reload; the grant is
    revoked and it goes, again without a reload."""
    # Kept open across everything below: a reload would hide a missed event.
    page, problems = await open_page(browser, timezone_id="Asia/Shanghai")
    await sign_in_through(page, live_server, "tasks", ["officer"], tenant_id="t2")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    await expect(page.locator("#board-empty")).to_be_visible()
    admin = await live_server.signed_in(["admin"], "t1")
    commander = await live_server.signed_in(["commander"], "t1")
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    status, answer = await admin.post(
        "/api/grants",
        {"grantee_id": "t2", "kind": "tasks", "ends_at": ends.isoformat()},
    )
    assert status == 201, answer
    grant_id = answer["grant"]["id"]
    # The page hears of the grant on its own board and follows t1's: a task
    # t1 publishes now appears without a reload.
    task = await publish(commander, title="中山陵交通疏导")
    shared = card(page, task["id"])
    await expect(shared).to_be_visible()
    await expect(shared.locator(".task-owner")).to_have_text(
        "Tenant t1的任务（授权共享）"
    )

    status, answer = await admin.post(f"/api/grants/{grant_id}/revoke")
    assert status == 200, answer
    await expect(shared).to_have_count(0)
    await expect(page.locator("#board-empty")).to_be_visible()
    assert problems.unexpected() == []

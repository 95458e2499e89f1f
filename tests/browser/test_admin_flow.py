"""The admin page in headless Chromium: accounts, roles, settings, stations,
grants, and a platform admin onboarding an agency."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.async_api import expect

from tests.browser.test_views import open_page, sign_in_through
from tests.helpers import square

pytestmark = pytest.mark.browser


async def test_admin_creates_an_account_changes_roles_settings_and_a_station(
    browser, live_server
):
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "admin", ["admin"])
    await expect(
        page.locator("#settings-form input[name=claim_window_s]")
    ).to_have_value("60")

    # A new account: its first password is shown once, and it signs in.
    form = page.locator("#account-form")
    await form.locator("input[name=username]").fill("zhao.lei")
    await form.locator("input[name=name]").fill("赵磊")
    await form.locator("input[name=roles][value=officer]").check()
    await form.locator("button[type=submit]").click()
    status = page.locator("#account-status")
    await expect(status).to_contain_text("zhao.lei")
    text = await status.text_content()
    password = re.search(r"初始密码：(\w+)", text).group(1)
    await expect(page.locator("#users tbody tr", has_text="zhao.lei")).to_have_count(1)
    stored = await live_server.platform.db.users.find_one({"username": "zhao.lei"})
    assert stored["roles"] == ["officer"]
    # Reloading shows the account, never the password again.
    await page.reload()
    await expect(page.locator("#users tbody tr", has_text="zhao.lei")).to_have_count(1)
    assert password not in await page.content()
    officer = live_server.client()
    code, _ = await officer.post(
        "/api/auth/login", {"username": "zhao.lei", "password": password}
    )
    assert code == 200

    # Roles: make them a commander too; their session ends.
    roles = page.locator("#roles-form")
    await roles.locator("select").select_option(str(stored["_id"]))
    await expect(roles.locator("input[value=officer]")).to_be_checked()
    await roles.locator("input[value=commander]").check()
    await roles.locator("button[type=submit]").click()
    await expect(page.locator("#roles-status")).to_contain_text("赵磊")
    stored = await live_server.platform.db.users.find_one({"username": "zhao.lei"})
    assert stored["roles"] == ["commander", "officer"]
    code, _ = await officer.get("/api/auth/me")
    assert code == 401

    # Settings: the claim window, and how musters find off-duty officers.
    settings = page.locator("#settings-form")
    await settings.locator("input[name=claim_window_s]").fill("45")
    await settings.locator("select[name=muster_off_duty]").select_option("home_station")
    await settings.locator("button[type=submit]").click()
    await expect(page.locator("#settings-status")).to_contain_text("设置已保存")
    tenant = await live_server.platform.db.tenants.find_one({"_id": "t1"})
    assert tenant["settings"]["claim_window_s"] == 45
    assert tenant["settings"]["muster_off_duty"] == "home_station"

    # A station with its zone imported as GeoJSON.
    station = page.locator("#station-form")
    await station.locator("input[name=name]").fill("北门派出所")
    await station.locator("input[name=lon]").fill("118.785")
    await station.locator("input[name=lat]").fill("32.065")
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": square(118.78, 32.06, 0.01),
    }
    await station.locator("textarea").fill(json.dumps(feature))
    await station.locator("button[type=submit]").click()
    await expect(
        page.locator("#stations tbody tr", has_text="北门派出所")
    ).to_have_count(1)

    assert problems.unexpected() == []


async def test_a_grant_is_given_and_revoked_from_the_page(browser, live_server):
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "admin", ["admin"])
    grant = page.locator("#grant-form")
    await grant.locator("input[name=grantee_id]").fill("t2")
    await grant.locator("select[name=kind]").select_option("tasks")
    await grant.locator("input[name=ends_on]").fill(_in_days(30))
    await grant.locator("button[type=submit]").click()
    row = page.locator("#grants tbody tr", has_text="Tenant t2")
    await expect(row).to_contain_text("生效中")
    page.once("dialog", lambda dialog: dialog.accept())
    await row.locator("button").click()
    await expect(row).to_contain_text("已撤销")
    assert await live_server.platform.grants.tenants_granting("t2", "tasks") == []
    assert problems.unexpected() == []


async def test_a_platform_admin_onboards_an_agency(browser, live_server):
    page, problems = await open_page(browser)
    username, password = await live_server.create_user(
        roles=["platform_admin"], tenant_id=None
    )
    await page.goto(f"{live_server.url}/admin")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/admin")
    await expect(page.locator("#tenants tbody tr")).to_have_count(2)
    await expect(page.locator("#agency-admin")).to_be_hidden()
    form = page.locator("#onboard-form")
    await form.locator("input[name=id]").fill("t3")
    await form.locator("input[name=name]").fill("中间分局")
    await form.locator("input[name=contact_name]").fill("王主任")
    await form.locator("input[name=contact_phone]").fill("02555550101")
    territory = square(118.80, 32.06, 0.02)
    await form.locator("textarea[name=territory]").fill(json.dumps(territory))
    await form.locator("input[name=admin_username]").fill("mid.admin")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#onboard-status")).to_contain_text("mid.admin")
    await expect(page.locator("#tenants tbody tr")).to_have_count(3)
    # Drawing over a neighbour is refused with the reason shown.
    await form.locator("input[name=id]").fill("t4")
    await form.locator("input[name=name]").fill("重叠分局")
    await form.locator("input[name=contact_name]").fill("李")
    await form.locator("input[name=contact_phone]").fill("02555550102")
    overlapping = square(118.79, 32.06, 0.02)
    await form.locator("textarea[name=territory]").fill(json.dumps(overlapping))
    problems.allow("HTTP 409")
    problems.allow("409 (Conflict)")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#onboard-status")).to_contain_text("重叠")
    assert problems.unexpected() == []


def _in_days(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()

"""Every PWA view in headless Chromium against a live server.

Each test opens a view as the right kind of user, checks the element the view
exists for, and fails on any console error, uncaught page error, failed
request or 4xx/5xx answer that the test did not announce.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "pwa" / "static"
# Inside tenant t1's territory (tests/conftest.py), near Xuanwu Lake.
T1_SPOT = {"latitude": 32.07, "longitude": 118.79}


class Problems:
    """What went wrong in a page: console errors, page errors, failed requests."""

    def __init__(self, page: Page):
        self.items: list[str] = []
        self.allowed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"pageerror: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def allow(self, fragment: str) -> None:
        """Tolerate problems whose text contains ``fragment`` (expected ones)."""
        self.allowed.append(fragment)

    def _console(self, message) -> None:
        if message.type == "error":
            self.items.append(f"console: {message.text} at {message.location}")

    def _failed(self, request) -> None:
        # Leaving a page aborts its pending requests (map tiles, mostly).
        if request.failure != "net::ERR_ABORTED":
            self.items.append(f"failed: {request.url} {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status}: {response.url}")

    def unexpected(self) -> list[str]:
        return [i for i in self.items if not any(a in i for a in self.allowed)]


async def open_page(browser: Browser, **context_options) -> tuple[Page, Problems]:
    """A page in a fresh context (own cookies, storage and service worker)."""
    # A Chinese browser unless a test says otherwise: Chinese is the primary
    # language, and Playwright's default would be en-US.
    context_options.setdefault("locale", "zh-CN")
    context = await browser.new_context(**context_options)
    page = await context.new_page()
    return page, Problems(page)


async def sign_in_through(
    page: Page, live_server, view: str, roles, tenant_id: str = "t1"
) -> str:
    """Opens ``/view``, is sent to the login page, signs in; returns the name."""
    username, password = await live_server.create_user(roles=roles, tenant_id=tenant_id)
    await page.goto(f"{live_server.url}/{view}")
    await expect(page).to_have_url(re.compile(rf"/login\?next=%2F{view}$"))
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_url(f"{live_server.url}/{view}")
    name = f"Test {username}"
    await expect(page.locator(".user-name")).to_have_text(name)
    await expect(page.locator("#logout")).to_be_visible()
    return name


async def add_station(live_server) -> None:
    lon, lat = T1_SPOT["longitude"], T1_SPOT["latitude"]
    zone = [
        [lon - 0.01, lat - 0.01],
        [lon + 0.01, lat - 0.01],
        [lon + 0.01, lat + 0.01],
        [lon - 0.01, lat + 0.01],
        [lon - 0.01, lat - 0.01],
    ]
    await live_server.platform.db.stations.insert_one(
        {
            "_id": "s1",
            "tenant_id": "t1",
            "name": "玄武湖派出所",
            "name_en": "Xuanwu Lake Station",
            "address": "玄武巷1号",
            "phone": "025-00000000",
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "zone": {"type": "Polygon", "coordinates": [zone]},
        }
    )


async def test_landing_links_every_view_in_chinese_and_english(browser, live_server):
    page, problems = await open_page(browser)
    await page.goto(live_server.url + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    links = await page.locator("#views a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert links == ["/citizen", "/officer", "/command", "/expert", "/admin"]
    await expect(page.locator("#views")).to_contain_text("群众报警")

    await page.goto(live_server.url + "/?lang=en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#views")).to_contain_text("Officer desk")
    # The choice is remembered without the query.
    await page.goto(live_server.url + "/")
    await expect(page.locator("h1")).to_have_text("Jingdi")
    assert problems.unexpected() == []


async def test_citizen_accepts_the_terms_then_sees_the_map(browser, live_server):
    # No geolocation permission: the page must explain, not break.
    page, problems = await open_page(browser)
    await page.goto(live_server.url + "/citizen")
    await expect(page.locator('a[href="tel:110"]')).to_be_visible()
    await expect(page.locator("#terms-agree")).to_be_enabled()
    await expect(page.locator("#terms-text")).not_to_be_empty()
    await page.click("#terms-agree")
    await expect(page.locator("#report")).to_be_visible()
    await expect(page.locator("#terms")).to_be_hidden()
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    await expect(page.locator("#geo-status")).not_to_be_empty()

    # The device session persists: no terms on the next visit.
    await page.reload()
    await expect(page.locator("#terms")).to_be_hidden()
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    await expect(page.locator('a[href="tel:110"]')).to_be_visible()
    assert problems.unexpected() == []


# What WeChat's in-app browser on iOS lacks, removed before any page script runs.
WITHOUT_OPTIONAL_APIS = """
delete Navigator.prototype.serviceWorker;
delete Navigator.prototype.geolocation;
delete window.WebSocket;
"""


async def test_views_work_without_service_worker_websocket_or_geolocation(
    browser, live_server
):
    page, problems = await open_page(browser)
    await page.context.add_init_script(WITHOUT_OPTIONAL_APIS)
    await page.goto(live_server.url + "/citizen")
    await page.click("#terms-agree")
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    await expect(page.locator("#geo-status")).to_have_text("此浏览器无法获取定位。")

    # A citizen's session may not open staff pages (403): start over as staff.
    await page.context.clear_cookies()
    await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    await expect(page.locator("#page-status")).to_contain_text("不支持实时推送")
    assert problems.unexpected() == []


async def test_login_shows_the_refusal_and_never_leaves_the_site(browser, live_server):
    username, password = await live_server.create_user(roles=["officer"])
    page, problems = await open_page(browser)
    problems.allow("401")  # the wrong password below, logged by Chromium
    await page.goto(live_server.url + "/login?next=//evil.example/")
    await page.fill("#username", username)
    await page.fill("#password", "not the password")
    await page.click("#login-submit")
    await expect(page.locator("#login-status")).to_be_visible()
    await expect(page.locator("#login-status")).to_have_text("用户名或密码错误。")

    await page.fill("#password", password)
    await page.click("#login-submit")
    # A foreign `next` is ignored: the officer lands on their own desk.
    await page.wait_for_url(live_server.url + "/officer")
    assert problems.unexpected() == []


async def test_officer_sees_own_position_and_live_connection(browser, live_server):
    page, problems = await open_page(
        browser, geolocation=T1_SPOT, permissions=["geolocation"]
    )
    await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    await expect(page.locator("#map .leaflet-marker-icon")).to_have_count(1)
    await expect(page.locator("#geo-status")).to_have_attribute("data-tone", "info")
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )

    busy = page.locator('#duty [data-duty="busy"]')
    await busy.click()
    await expect(busy).to_have_attribute("aria-pressed", "true")
    await expect(page.locator('#duty [data-duty="off"]')).to_have_attribute(
        "aria-pressed", "false"
    )
    assert problems.unexpected() == []


async def test_officer_invited_to_a_room_sees_it_live_and_declines(
    browser, live_server
):
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    await expect(page.locator("#rooms-empty")).to_be_visible()
    officer_id = await page.evaluate(
        "JSON.parse(document.getElementById('jingdi-config').textContent).user.id"
    )
    commander = await live_server.signed_in(["commander"])
    status, body = await commander.post(
        "/api/rooms",
        {"title": "人质事件", "lon": 118.79, "lat": 32.07, "invite": [officer_id]},
    )
    assert status == 201, body
    room_id = body["room"]["id"]
    # The invitation arrives over the websocket, without a reload.
    item = page.locator(f'.room-invitation[data-room-id="{room_id}"]')
    await expect(item).to_have_attribute("data-state", "invited")
    await expect(item.locator(".room-invitation-title")).to_have_text("人质事件")
    await expect(page.locator("#rooms-empty")).to_be_hidden()
    await item.locator(".room-decline").click()
    await expect(item).to_have_count(0)
    room = await live_server.platform.db.rooms.find_one({"title": "人质事件"})
    [member] = [m for m in room["members"] if m["user_id"] == officer_id]
    assert member["state"] == "declined"
    assert problems.unexpected() == []


async def test_officer_without_location_permission_reads_why(browser, live_server):
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#geo-status")).to_have_attribute("data-tone", "warning")
    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    assert problems.unexpected() == []


async def test_command_room_maps_zones_and_officers(browser, live_server):
    await add_station(live_server)
    now = dt.datetime.now(dt.UTC)
    spot = {"type": "Point", "coordinates": [118.792, 32.071]}
    await live_server.create_user(
        roles=["officer"], duty="on", position=spot, position_at=now
    )
    await live_server.create_user(roles=["officer"], duty="off")
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "command", ["commander"])

    await expect(page.locator("#map.leaflet-container")).to_be_visible()
    # One zone and one located officer, both drawn as SVG paths.
    await expect(page.locator("#map path.leaflet-interactive")).to_have_count(2)
    await expect(page.locator("#map .leaflet-marker-icon")).to_have_count(1)
    await expect(page.locator("#officer-list li")).to_have_count(2)
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "connected"
    )
    await page.locator("#officer-list .roster-item-located").click()
    await expect(page.locator(".leaflet-popup-content")).to_contain_text("在岗")
    assert problems.unexpected() == []


async def test_expert_is_greeted_and_can_sign_out(browser, live_server):
    page, problems = await open_page(browser)
    name = await sign_in_through(page, live_server, "expert", ["expert"])
    await expect(page.locator("#greeting")).to_contain_text(name)
    await expect(page.locator("#profile")).to_be_visible()

    await page.click("#logout")
    await page.wait_for_url(live_server.url + "/")
    await page.goto(live_server.url + "/expert")
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    assert problems.unexpected() == []


async def test_admin_lists_stations_and_disables_an_account(browser, live_server):
    await add_station(live_server)
    other, _ = await live_server.create_user(roles=["officer"], station_id="s1")
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "admin", ["admin"])

    await expect(page.locator("#stations tbody tr")).to_have_count(1)
    await expect(page.locator("#stations")).to_contain_text("玄武湖派出所")
    row = page.locator("#users tbody tr", has_text=other)
    await expect(row).to_contain_text("玄武湖派出所")
    page.once("dialog", lambda dialog: dialog.accept())
    await row.locator("button").click()
    await expect(row).to_contain_text("已停用")
    await expect(row.locator("button")).to_have_count(0)
    assert problems.unexpected() == []


async def test_service_worker_controls_the_page_after_a_reload(browser, live_server):
    page, problems = await open_page(browser)
    await page.goto(live_server.url + "/")
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    caches = await page.evaluate("caches.keys()")
    assert len(caches) == 1
    assert re.fullmatch(r"jingdi-shell-[0-9a-f]+", caches[0]), caches
    assert problems.unexpected() == []


def test_the_service_worker_precaches_every_shell_file():
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
    listed = set(re.findall(r'"(/static/[^"]+)"', source))
    wanted = {
        "/static/" + path.relative_to(STATIC).as_posix()
        for folder in ("js", "css", "icons")
        for path in (STATIC / folder).rglob("*")
        if path.is_file()
    }
    assert sorted(wanted - listed) == []


# -- the expert pool ------------------------------------------------------------


async def add_application(live_server, name: str = "王敏") -> None:
    await live_server.platform.db.expert_applications.insert_one(
        {
            "tenant_id": "t1",
            "reference": "EXP-TEST2345",
            "name": name,
            "contact": {"phone": "13800000002", "email": None},
            "category": "legal",
            "skills": ["民事纠纷调解"],
            "qualifications": "执业律师",
            "consent": {"terms_version": "x", "at": dt.datetime.now(dt.UTC)},
            "status": "pending",
            "submitted_at": dt.datetime.now(dt.UTC),
            "decisions": [],
        }
    )


async def test_anyone_applies_to_the_expert_pool_and_checks_the_status(
    browser, live_server
):
    page, problems = await open_page(browser, viewport={"width": 390, "height": 844})
    await page.goto(live_server.url + "/apply?tenant=t1")
    await expect(page.locator("#apply-category option")).to_have_count(7)
    await page.fill("#apply-name", "李明")
    await page.fill("#apply-phone", "13800000001")
    await page.select_option("#apply-category", "medical_emergency")
    await page.fill("#apply-skill", "院前急救")
    await page.press("#apply-skill", "Enter")
    await page.fill("#apply-skill", "心肺复苏")
    await page.click("#apply-skill-add")
    await expect(page.locator("#apply-skills .tag")).to_have_count(2)
    await page.fill("#apply-qualifications", "急诊科护师，八年")
    await page.check("#apply-terms")
    await page.click("#apply-submit")
    await expect(page.locator("#apply-status")).to_contain_text("EXP-")
    stored = await live_server.platform.db.expert_applications.find_one({})
    assert stored["skills"] == ["院前急救", "心肺复苏"]
    assert stored["tenant_id"] == "t1"

    # The reference is filled in for the status check; the contact is needed.
    await page.fill("#check-contact", "13800000001")
    await page.click("#check-submit")
    await expect(page.locator("#check-status")).to_contain_text("待审核")
    assert problems.unexpected() == []


async def test_admin_approves_an_application_and_sees_the_password_once(
    browser, live_server
):
    await add_application(live_server)
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "admin", ["admin"])
    row = page.locator("#applications tbody tr", has_text="EXP-TEST2345")
    await expect(row).to_contain_text("法律咨询")
    await row.locator("button.btn-primary").click()
    await expect(page.locator("#review-status")).to_contain_text("初始密码")
    await expect(page.locator("#experts tbody tr", has_text="王敏")).to_contain_text(
        "可会诊"
    )
    expert_row = page.locator("#experts tbody tr", has_text="王敏")
    page.once("dialog", lambda dialog: dialog.accept("投诉核查中"))
    await expert_row.locator("button").click()
    await expect(expert_row).to_contain_text("已暂停")
    assert problems.unexpected() == []


async def test_commander_filters_the_expert_directory(browser, live_server):
    for name, category, skills in (
        ("急救专家", "medical_emergency", ["心肺复苏"]),
        ("法律专家", "legal", ["刑事诉讼"]),
    ):
        await live_server.create_user(
            roles=["expert"],
            name=name,
            expert={
                "category": category,
                "skills": skills,
                "organisation": "某单位",
                "availability": "busy",
            },
        )
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "experts", ["commander"])
    await expect(page.locator("#experts tbody tr")).to_have_count(2)
    await page.select_option("#filter-category", "legal")
    await page.click("#expert-filter button[type=submit]")
    await expect(page.locator("#experts tbody tr")).to_have_count(1)
    await expect(page.locator("#experts tbody tr")).to_contain_text("法律专家")
    await expect(page.locator("#experts tbody tr")).to_contain_text("忙碌")
    assert problems.unexpected() == []


async def test_expert_sets_availability(browser, live_server):
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "expert", ["expert"])
    available = page.locator('#availability [data-availability="available"]')
    await expect(available).to_have_attribute("aria-pressed", "true")
    away = page.locator('#availability [data-availability="away"]')
    await away.click()
    await expect(away).to_have_attribute("aria-pressed", "true")
    await expect(available).to_have_attribute("aria-pressed", "false")
    assert problems.unexpected() == []

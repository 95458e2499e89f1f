"""Web push on the officer's phone, in headless Chromium against a live server.

The officer turns notifications on with a tap; the server pushes real,
encrypted offers to a test push service (tests/pushservice.py), and the test
hands each decrypted message to the browser's service worker through the
DevTools protocol (``ServiceWorker.deliverPushMessage``), as a push service
would. The worker shows the offer with a 抢单 button, replaces it with the
news that it was taken, records receipts, and claims from the notification.

Two things headless Chromium cannot do are stood in for, each in one place:

- a subscription: Chromium has no push service here (and none in the
  incognito-like contexts tests use), so `PushManager` in the page is
  replaced by one that returns the test push service's subscription;
- a tap on a notification: no protocol command clicks one, so the test
  dispatches a ``notificationclick`` event inside the worker. A constructed
  event cannot be extended (``waitUntil`` throws), so the test's event
  collects the promises the handler waits for instead. Such an event carries
  no user activation: the worker may then neither focus nor open a window,
  which is why a tap's "open the desk" is checked through the address the
  worker opens, ``/officer#offer=<id>``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from bson import ObjectId
from playwright.async_api import Page, expect

from tests.browser.test_views import (
    open_page,
    sign_in_through,
)
from tests.pushservice import TestPushService
from tests.test_alarms import citizen, open_all_day, raise_alarm
from tests.test_push import absent_officer

pytestmark = pytest.mark.browser

SUBJECT = "mailto:ops@example.org"
ADDRESS = "南京市玄武区北京东路41号"
# The officer's last known position, about 140 m from the scene.
NEAR = {"type": "Point", "coordinates": [118.791, 32.071]}

INTRO = "开启后，应用关闭时也能收到附近新警情。"
ON = "通知已开启：应用关闭时也会收到新警情。"

# PushManager for a browser without a push service: subscribing returns the
# test push service's subscription, kept (like a browser keeps it) across
# page loads in localStorage.
FAKE_PUSH_MANAGER = """
(() => {
  const browserJson = %s;
  const KEPT = "test.push.subscription";
  const made = (keyBytes) => ({
    endpoint: browserJson.endpoint,
    expirationTime: null,
    options: {
      userVisibleOnly: true,
      applicationServerKey: new Uint8Array(keyBytes).buffer,
    },
    toJSON: () => browserJson,
    unsubscribe: async () => {
      localStorage.removeItem(KEPT);
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = Array.from(new Uint8Array(options.applicationServerKey));
    localStorage.setItem(KEPT, JSON.stringify(key));
    return made(key);
  };
  PushManager.prototype.getSubscription = async function () {
    const key = localStorage.getItem(KEPT);
    return key ? made(JSON.parse(key)) : null;
  };
})();
"""

NOTIFICATIONS = """
tag => navigator.serviceWorker.ready
  .then(registration => registration.getNotifications({tag}))
  .then(shown => shown.map(n => ({
    title: n.title,
    body: n.body,
    tag: n.tag,
    actions: n.actions.map(a => a.action),
  })))
"""

# A tap on a notification, dispatched in the worker (see the module's notes).
TAP = """
async ({tag, action}) => {
  const [notification] = await self.registration.getNotifications({tag});
  if (!notification) throw new Error("no notification tagged " + tag);
  const event = new NotificationEvent("notificationclick", {notification, action});
  const pending = [];
  event.waitUntil = (promise) => pending.push(promise);
  self.dispatchEvent(event);
  await Promise.all(pending);
  return pending.length;
}
"""


@pytest.fixture
def config(config):
    # The test push service listens on http://127.0.0.1: allowed here only.
    return config.replace(push={"subject": SUBJECT, "allow_private_endpoints": True})


@pytest.fixture
async def push_service(platform):
    service = await TestPushService(platform.push.keys.public_key).start()
    yield service
    await service.stop()


async def eventually(check, within: float = 10.0):
    """Polls ``check`` (a coroutine function) until it returns something true."""
    async with asyncio.timeout(within):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)


async def officer_desk(browser, live_server, push_service, **options):
    """An officer's desk with notifications allowed; returns it and the
    subscription its PushManager will hand out."""
    page, problems = await open_page(browser, **options)
    sub = push_service.subscription()
    await page.context.add_init_script(
        FAKE_PUSH_MANAGER % json.dumps(sub.browser_json())
    )
    await page.context.grant_permissions(["notifications"], origin=live_server.url)
    await sign_in_through(page, live_server, "officer", ["officer"])
    return page, problems, sub


async def officer_id(page: Page) -> str:
    return await page.evaluate(
        "JSON.parse(document.getElementById('jingdi-config').textContent).user.id"
    )


async def turn_on_notifications(page: Page) -> None:
    await expect(page.locator("#push-state")).to_have_text(INTRO)
    await page.click("#push-enable")
    await expect(page.locator("#push-state")).to_have_text(ON)
    await expect(page.locator("#push-disable")).to_be_visible()
    await expect(page.locator("#push-enable")).to_be_hidden()


def subscriptions(live_server, user_id: str):
    return live_server.platform.db.push_subscriptions.find(
        {"user_id": user_id}
    ).to_list(None)


async def test_a_tap_turns_notifications_on_each_visit_renews_and_logout_removes(
    browser, live_server, push_service
):
    page, problems, sub = await officer_desk(browser, live_server, push_service)
    user_id = await officer_id(page)
    supported = page.locator("#push-support li")
    await expect(supported).to_have_count(3)
    for row in await supported.all():
        await expect(row).to_have_attribute("data-supported", "true")
    await expect(supported.nth(2)).to_contain_text("在通知上直接抢单")
    assert await subscriptions(live_server, user_id) == []

    await turn_on_notifications(page)
    [stored] = await subscriptions(live_server, user_id)
    assert stored["endpoint"] == sub.endpoint
    assert stored["keys"] == sub.browser_json()["keys"]

    # Each visit gives the server the browser's subscription again, so that
    # it follows whoever is signed in on the device.
    await page.reload()
    await expect(page.locator("#push-state")).to_have_text(ON)
    [renewed] = await subscriptions(live_server, user_id)
    assert renewed["renewed_at"] > stored["renewed_at"]

    # Signing out deletes the device's subscription before the session ends.
    async with page.expect_response(
        lambda response: (
            response.request.method == "DELETE"
            and response.url.endswith("/api/push/subscriptions")
        )
    ) as deleted:
        await page.click("#logout")
    # Only the status: the page navigates away at once, and Chromium may have
    # dropped the body by then. The database below shows what was removed.
    assert (await deleted.value).status == 200
    await page.wait_for_url(live_server.url + "/")
    assert await subscriptions(live_server, user_id) == []
    assert problems.unexpected() == []


async def test_without_push_the_desk_says_so_and_how_to_get_it(browser, live_server):
    # An iPhone's Safari outside the installed app: no PushManager at all.
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    )
    page, problems = await open_page(browser, user_agent=iphone)
    await page.context.add_init_script("delete window.PushManager;")
    await sign_in_through(page, live_server, "officer", ["officer"])
    await expect(page.locator("#push-state")).to_contain_text("不支持后台通知")
    await expect(page.locator("#push-state")).to_contain_text("应用打开时仍会响铃")
    await expect(page.locator("#push-hint")).to_contain_text("添加到主屏幕")
    await expect(page.locator("#push-enable")).to_be_hidden()
    await expect(page.locator("#push-support li")).to_have_count(3)
    rows = page.locator("#push-support li")
    await expect(rows.nth(0)).to_have_attribute("data-supported", "true")
    await expect(rows.nth(1)).to_have_attribute("data-supported", "false")
    await expect(rows.nth(2)).to_have_attribute("data-supported", "false")
    assert problems.unexpected() == []


async def test_a_refused_permission_is_explained(browser, live_server):
    # Without a grant, Playwright's Chromium answers the prompt "denied".
    page, problems = await open_page(browser)
    await sign_in_through(page, live_server, "officer", ["officer"])
    await page.click("#push-enable")
    await expect(page.locator("#push-state")).to_contain_text("通知已被禁止")
    await expect(page.locator("#push-enable")).to_be_hidden()
    assert problems.unexpected() == []


# -- the push flow -----------------------------------------------------------


class Worker:
    """The desk's service worker, reached through the DevTools protocol."""

    def __init__(self, page: Page, live_server):
        self.page = page
        self.origin = live_server.url
        self.cdp = None
        self.registration_id = None
        self.problems: list[str] = []

    async def attach(self) -> Worker:
        self.cdp = await self.page.context.new_cdp_session(self.page)
        found = asyncio.get_running_loop().create_future()

        def updated(event) -> None:
            for registration in event["registrations"]:
                if (
                    registration["scopeURL"] == self.origin + "/"
                    and not registration["isDeleted"]
                    and not found.done()
                ):
                    found.set_result(registration["registrationId"])

        self.cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
        await self.cdp.send("ServiceWorker.enable")
        async with asyncio.timeout(10):
            self.registration_id = await found
        return self

    async def watch(self, browser) -> None:
        """Collects the worker's uncaught errors and console errors in `problems`.

        Playwright reports neither for service workers, so the test attaches
        to the worker's target itself (the non-flat protocol: Playwright's
        sessions cannot address a flat child session).
        """
        session = await browser.new_browser_cdp_session()
        targets = (await session.send("Target.getTargets"))["targetInfos"]
        [target] = [
            t
            for t in targets
            if t["type"] == "service_worker" and t["url"] == self.origin + "/sw.js"
        ]
        enabled = asyncio.get_running_loop().create_future()

        def received(event) -> None:
            message = json.loads(event["message"])
            params = message.get("params", {})
            if message.get("id") == 1 and not enabled.done():
                enabled.set_result(None)
            elif message.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                thrown = details.get("exception", {}).get("description", "")
                self.problems.append(f"uncaught: {details['text']} {thrown}")
            elif (
                message.get("method") == "Runtime.consoleAPICalled"
                and params["type"] == "error"
            ):
                words = [
                    str(a.get("value", a.get("description"))) for a in params["args"]
                ]
                self.problems.append("console: " + " ".join(words))

        session.on("Target.receivedMessageFromTarget", received)
        attached = await session.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": False}
        )
        runtime = {"id": 1, "method": "Runtime.enable"}
        await session.send(
            "Target.sendMessageToTarget",
            {"sessionId": attached["sessionId"], "message": json.dumps(runtime)},
        )
        async with asyncio.timeout(10):
            await enabled

    async def deliver(self, payload: dict) -> None:
        """Hands a message to the worker's push event, as a push service does."""
        await self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": self.origin,
                "registrationId": self.registration_id,
                "data": json.dumps(payload, ensure_ascii=False),
            },
        )

    async def shows(self, tag: str, expected: list[dict]) -> None:
        """Waits until the notifications tagged ``tag`` are ``expected``."""
        shown = None
        try:
            async with asyncio.timeout(10):
                while shown != expected:
                    shown = await self.page.evaluate(NOTIFICATIONS, tag)
                    await asyncio.sleep(0.05)
        except TimeoutError:
            assert shown == expected  # says what was shown instead
            raise

    async def tap(self, tag: str, action: str = "") -> None:
        """A tap on the notification (its body, or the button ``action``)."""
        [worker] = self.page.context.service_workers
        assert await worker.evaluate(TAP, {"tag": tag, "action": action}) == 1


def offer_notice(alarm_id: str, distance_m: int) -> dict:
    tag = f"alarm-{alarm_id}"
    body = f"距您 {distance_m} 米\n{ADDRESS}"
    return {
        "title": "新警情 · 噪音扰民",
        "body": body,
        "tag": tag,
        "actions": ["claim"],
    }


async def pushed(service: TestPushService, sub, kind: str, alarm_id: str) -> dict:
    """The decrypted message of ``kind`` about the alarm that reached ``sub``."""

    def matching():
        return [
            a.payload
            for a in service.received(sub, 201)
            if a.payload
            and a.payload["type"] == kind
            and a.payload["alarm_id"] == alarm_id
        ]

    await service.wait_for(matching)
    return matching()[0]


async def new_alarm(live_server) -> str:
    status, body = await raise_alarm(await citizen(live_server), address=ADDRESS)
    assert status == 201, body
    return body["alarm"]["id"]


async def receipt(live_server, alarm_id: str, user_id: str, field: str) -> dict:
    """The officer's offer record, once ``field`` (delivered_at, seen_at) is set."""

    async def check():
        offer = await live_server.platform.db.offers.find_one(
            {"_id": f"{ObjectId(alarm_id)}:{user_id}"}
        )
        return offer if offer and offer.get(field) else None

    return await eventually(check)


async def disconnected(platform, user_id: str) -> None:
    async def check():
        return not platform.presence.is_connected(user_id)

    await eventually(check)


async def test_a_pushed_offer_is_shown_replaced_and_claimed_from_the_notification(
    browser, live_server, push_service
):
    await open_all_day(live_server)
    platform = live_server.platform
    page, problems, sub = await officer_desk(browser, live_server, push_service)
    user_id = await officer_id(page)
    await turn_on_notifications(page)
    worker = await Worker(page, live_server).attach()
    await worker.watch(browser)

    # The officer leaves the desk (its socket closes), on duty, last seen near.
    await page.goto(live_server.url + "/")
    await disconnected(platform, user_id)
    await platform.db.users.update_one(
        {"_id": ObjectId(user_id)},
        {
            "$set": {
                "duty": "on",
                "position": NEAR,
                "position_at": dt.datetime.now(dt.UTC),
                "away_at": dt.datetime.now(dt.UTC),
            }
        },
    )
    rival, _ = await absent_officer(live_server, push_service)

    # Alarm A reaches the closed app as a notification with a 抢单 button;
    # the worker tells the server it was delivered, not yet seen.
    alarm_a = await new_alarm(live_server)
    offer_a = await pushed(push_service, sub, "offer", alarm_a)
    assert 0 < offer_a["distance_m"] < 300
    await worker.deliver(offer_a)
    tag_a = f"alarm-{alarm_a}"
    await worker.shows(tag_a, [offer_notice(alarm_a, offer_a["distance_m"])])
    record = await receipt(live_server, alarm_a, user_id, "delivered_at")
    assert record["seen_at"] is None

    # Another officer claims it: the server's "taken" replaces the offer,
    # quietly and without stacking.
    status, _ = await rival.post(f"/api/alarms/{alarm_a}/claim")
    assert status == 200
    await worker.deliver(await pushed(push_service, sub, "taken", alarm_a))
    taken = {"title": "已被其他民警抢单", "body": f"噪音扰民 · {ADDRESS}"}
    await worker.shows(tag_a, [{**taken, "tag": tag_a, "actions": []}])

    # Alarm B (the rival is busy now). A tap on the body counts as seen; the
    # desk it opens, at /officer#offer=<id>, shows that offer.
    alarm_b = await new_alarm(live_server)
    offer_b = await pushed(push_service, sub, "offer", alarm_b)
    await worker.deliver(offer_b)
    tag_b = f"alarm-{alarm_b}"
    notice_b = offer_notice(alarm_b, offer_b["distance_m"])
    await worker.shows(tag_b, [notice_b])
    await receipt(live_server, alarm_b, user_id, "delivered_at")
    await worker.tap(tag_b)
    await receipt(live_server, alarm_b, user_id, "seen_at")
    await worker.shows(tag_b, [])
    await page.goto(f"{live_server.url}/officer#offer={alarm_b}")
    await expect(page.locator("#offer-overlay")).to_be_visible()
    await expect(page.locator("#offer-address")).to_have_text(ADDRESS)
    await expect(page).to_have_url(f"{live_server.url}/officer")

    # The push service delivers it again; 抢单 on the notification claims the
    # alarm for this officer, and the open desk shows the job.
    await worker.deliver(offer_b)
    await worker.shows(tag_b, [notice_b])
    await worker.tap(tag_b, "claim")
    alarm = await platform.db.alarms.find_one({"_id": ObjectId(alarm_b)})
    assert alarm["status"] == "assigned"
    assert alarm["assignee"]["officer_id"] == user_id
    await expect(page.locator("#job")).to_be_visible()
    await expect(page.locator("#job-address")).to_have_text(ADDRESS)
    await expect(page.locator("#offer-overlay")).to_be_hidden()
    await worker.shows(tag_b, [])
    assert problems.unexpected() == []
    assert worker.problems == []


# -- invitations to consultation rooms ------------------------------------------


async def test_an_expert_is_pushed_an_invitation_and_answers_it(
    browser, live_server, push_service
):
    page, problems = await open_page(browser)
    sub = push_service.subscription()
    await page.context.add_init_script(
        FAKE_PUSH_MANAGER % json.dumps(sub.browser_json())
    )
    await page.context.grant_permissions(["notifications"], origin=live_server.url)
    await sign_in_through(page, live_server, "expert", ["expert"])
    # The expert's panel speaks of invitations, and has no 抢单 row.
    await expect(page.locator("#push-support li")).to_have_count(2)
    await expect(page.locator("#push-state")).to_have_text(
        "开启后，应用关闭时也能收到会诊邀请。"
    )
    await page.click("#push-enable")
    await expect(page.locator("#push-state")).to_have_text(
        "通知已开启：应用关闭时也会收到会诊邀请。"
    )
    expert_id = await officer_id(page)
    [stored] = await subscriptions(live_server, expert_id)
    assert stored["endpoint"] == sub.endpoint
    worker = await Worker(page, live_server).attach()
    await worker.watch(browser)

    opener = await live_server.signed_in(["officer"], name="警官 吴")
    status, body = await opener.post(
        "/api/rooms",
        {"title": "地下室燃气泄漏", "lon": 118.79, "lat": 32.07, "invite": [expert_id]},
    )
    assert status == 201, body
    room_id = body["room"]["id"]

    def invitation():
        return [
            a.payload
            for a in push_service.received(sub, 201)
            if a.payload and a.payload["type"] == "room.invited"
        ]

    await push_service.wait_for(invitation)
    [payload] = invitation()
    await worker.deliver(payload)
    tag = f"room-{room_id}"
    notice = {
        "title": "会诊邀请 · 地下室燃气泄漏",
        "body": "警官 吴 邀请您参加会诊，点按查看",
        "tag": tag,
        "actions": [],
    }
    await worker.shows(tag, [notice])
    # A tap brings the expert's page forward (here it is open already).
    await worker.tap(tag)
    await worker.shows(tag, [])
    # Pushed again (the phone was off, say): answering on the page closes it.
    await worker.deliver(payload)
    await worker.shows(tag, [notice])
    item = page.locator(f'.room-invitation[data-room-id="{room_id}"]')
    await expect(item).to_have_attribute("data-state", "invited")
    await item.locator(".room-accept").click()
    await page.wait_for_url(f"{live_server.url}/rooms/{room_id}")
    await worker.shows(tag, [])
    assert problems.unexpected() == []
    assert worker.problems == []

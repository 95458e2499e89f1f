// The service worker: an offline-capable app shell, and the officer's offers
// by web push while the app is closed. API calls, the websocket and pages
// always go to the network; only static files are served from the cache, and
// the landing page stands in when offline.
//
// The server replaces __JINGDI_VERSION__ with a hash of the static files, so
// each release installs under a new cache name and the old one is deleted.

const CACHE = "jingdi-shell-__JINGDI_VERSION__";
const CACHE_PREFIX = "jingdi-shell-";
const OFFLINE_PAGE = "/";

// Everything a page needs to start. Keep in step with pwa/static/js
// (tests/browser/test_views.py checks that every module is listed).
const SHELL = [
  OFFLINE_PAGE,
  "/manifest.webmanifest",
  "/static/css/app.css",
  "/static/js/alarm-format.js",
  "/static/js/alarm-photos.js",
  "/static/js/api.js",
  "/static/js/citizen-form.js",
  "/static/js/citizen-location.js",
  "/static/js/citizen-photos.js",
  "/static/js/citizen-send.js",
  "/static/js/citizen-track.js",
  "/static/js/command-alarms.js",
  "/static/js/command-cue.js",
  "/static/js/command-detail.js",
  "/static/js/command-labels.js",
  "/static/js/command-markers.js",
  "/static/js/command-muster.js",
  "/static/js/command-officers.js",
  "/static/js/command-queue.js",
  "/static/js/config.js",
  "/static/js/dom.js",
  "/static/js/expert-availability.js",
  "/static/js/expert-format.js",
  "/static/js/expert-review.js",
  "/static/js/expert-tags.js",
  "/static/js/geo.js",
  "/static/js/kpi-table.js",
  "/static/js/locate.js",
  "/static/js/map.js",
  "/static/js/muster-board.js",
  "/static/js/officer-alert.js",
  "/static/js/officer-duty.js",
  "/static/js/officer-job.js",
  "/static/js/officer-muster.js",
  "/static/js/officer-offers.js",
  "/static/js/officer-position.js",
  "/static/js/push-panel.js",
  "/static/js/officer-realtime.js",
  "/static/js/own-position.js",
  "/static/js/realtime.js",
  "/static/js/room-consult.js",
  "/static/js/room-invitations.js",
  "/static/js/room-log.js",
  "/static/js/room-members.js",
  "/static/js/room-send.js",
  "/static/js/room-socket.js",
  "/static/js/shell.js",
  "/static/js/task-board.js",
  "/static/js/task-format.js",
  "/static/js/task-manage.js",
  "/static/js/sw-register.js",
  "/static/js/pages/admin.js",
  "/static/js/pages/apply.js",
  "/static/js/pages/citizen.js",
  "/static/js/pages/command.js",
  "/static/js/pages/error.js",
  "/static/js/pages/expert.js",
  "/static/js/pages/experts.js",
  "/static/js/pages/index.js",
  "/static/js/pages/kpi.js",
  "/static/js/pages/login.js",
  "/static/js/pages/muster.js",
  "/static/js/pages/officer.js",
  "/static/js/pages/room.js",
  "/static/js/pages/tasks.js",
  "/static/vendor/leaflet/leaflet-src.esm.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/images/marker-icon.png",
  "/static/vendor/leaflet/images/marker-icon-2x.png",
  "/static/vendor/leaflet/images/marker-shadow.png",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/icon-maskable-512.png",
  "/static/icons/apple-touch-icon.png",
  "/static/sounds/offer-alert.wav",
];

// Paths that must always reach the server: live data and health checks.
const NEVER_CACHED = [/^\/api\//, /^\/ws$/, /^\/healthz$/];

async function precache() {
  const cache = await caches.open(CACHE);
  // "reload" bypasses the HTTP cache, so a release never precaches stale files.
  await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
}

async function deleteOldCaches() {
  const names = await caches.keys();
  const old = names.filter(
    (name) => name.startsWith(CACHE_PREFIX) && name !== CACHE,
  );
  await Promise.all(old.map((name) => caches.delete(name)));
  await self.clients.claim();
}

// Static files: the server versions their URLs with ?v=<hash>, and the cache
// is per release, so the cached copy is the right one whatever the query.
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  // Only complete answers: Cache.put refuses partial (206) responses.
  if (response.status === 200) await cache.put(request, response.clone());
  return response;
}

// Pages: always fresh from the network; offline, the cached page if there is
// one, else the landing page.
async function networkFirstPage(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cache = await caches.open(CACHE);
    const fallback =
      (await cache.match(request, { ignoreSearch: true })) ||
      (await cache.match(OFFLINE_PAGE));
    if (fallback) return fallback;
    throw error;
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(deleteOldCaches());
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER_CACHED.some((pattern) => pattern.test(url.pathname))) return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
  } else if (
    url.pathname.startsWith("/static/") ||
    url.pathname === "/manifest.webmanifest"
  ) {
    event.respondWith(cacheFirst(request));
  }
});

// The page asks for this when the user accepts the "new version" prompt;
// waiting until then keeps one release's pages and files together.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
});

// ---- Web push: offers and invitations while the app is closed --------------
//
// The server pushes an offer, and later what became of it, as JSON
// (server/push.py offer_payload): {type: "offer" | "taken" | "expired" |
// "cancelled", alarm_id, tag, category, address, distance_m, expires_at,
// sent_at}; and an invitation to a consultation room (invitation_payload):
// {type: "room.invited", room_id, tag, title, invited_by, desk, sent_at}.
// Every push shows a notification, whatever it holds: a push that
// shows nothing can cost the permission (Safari revokes it). News about an
// offer reuses its tag, so it replaces the offer instead of stacking.
//
// The worker has no page configuration, so its few sentences and the names of
// the six default categories are here, in both languages (keep them in step
// with server/i18n.py); an agency's own category shows as its code.

const OFFICER_PATH = "/officer";
const CLAIM_ACTION = "claim";
const ICON = "/static/icons/icon-192.png";
// Long, short, long: the pattern of officer-alert.js, distinct from messages.
const OFFER_VIBRATION_MS = [400, 150, 400, 150, 400];
// A push can wait at the push service while the phone is offline; an offer
// that arrives after its end is shown as ended. The allowance keeps a phone
// whose clock runs a little fast from hiding a live offer.
const CLOCK_SKEW_MS = 30000;
// Server reasons for a refused claim that mean the offer is over.
const ENDED_REASONS = new Set(["taken", "expired", "cancelled", "not_offered"]);
const PUSH_TYPES = new Set(["offer", "taken", "expired", "cancelled"]);
const INVITATION = "room.invited";
// An emergency muster (server/push.py muster_payload): {type: "muster" |
// "muster.ended", muster_id, tag, message, address, distance_m, needed,
// ends_at, reminder, sent_at}. Its end replaces the alert (same tag).
const MUSTER = "muster";
const MUSTER_ENDED = "muster.ended";
// Longer and more insistent than an offer's: everyone near is being called.
const MUSTER_VIBRATION_MS = [600, 200, 600, 200, 600, 200, 600];
// News about a task (server/push.py task_payload): its words come in every
// language, and a tap opens `url`, a page of the task board.
const NOTICE = "notice";
const NOTICE_PAGES = ["/tasks"];
// Pages where an invitation is answered; a tap opens the payload's `desk`
// only if it is one of these.
const DESKS = new Set(["/expert", "/officer"]);

const WORDS = {
  zh: {
    code: "zh",
    lang: "zh-CN",
    app: "警滴",
    offer: "新警情",
    claim: "抢单",
    tapToClaim: "点按查看并抢单",
    metres: (n) => `距您 ${n} 米`,
    kilometres: (n) => `距您 ${n} 公里`,
    noAddress: "位置见警情详情",
    taken: "已被其他民警抢单",
    expired: "抢单时间已过，已转指挥室",
    cancelled: "群众已取消报警",
    not_offered: "此警情未推送给您",
    claimed: "抢单成功，此警情由您处置",
    claimFailed: "未能抢单，请打开警滴重试",
    generic: "有新消息，点按打开警滴",
    invitation: "会诊邀请",
    invitedBy: (name) => `${name} 邀请您参加会诊，点按查看`,
    muster: "紧急集结",
    musterReminder: "再次提醒 · 紧急集结",
    musterNeeded: (n) => `需要 ${n} 人`,
    musterAnswer: "点按回复：我来了 / 无法前往",
    musterEnded: "紧急集结已结束",
    categories: {
      taxi_dispute: "出租车纠纷",
      missing_person: "走失寻人",
      animal_nuisance: "动物扰民",
      lost_item: "失物招领",
      neighbour_dispute: "邻里纠纷",
      noise: "噪音扰民",
    },
  },
  en: {
    code: "en",
    lang: "en",
    app: "Jingdi",
    offer: "New alarm",
    claim: "Claim",
    tapToClaim: "Tap to see it and claim",
    metres: (n) => `${n} m from you`,
    kilometres: (n) => `${n} km from you`,
    noAddress: "Location in the alarm's details",
    taken: "Taken by another officer",
    expired: "The offer expired; the command room has it",
    cancelled: "The citizen cancelled the alarm",
    not_offered: "This alarm was not offered to you",
    claimed: "Claimed: this alarm is yours",
    claimFailed: "Could not claim; open Jingdi and try again",
    generic: "Something new: tap to open Jingdi",
    invitation: "Consultation invitation",
    invitedBy: (name) => `${name} asks for your advice: tap to answer`,
    muster: "Emergency muster",
    musterReminder: "Reminder · Emergency muster",
    musterNeeded: (n) => `${n} officers needed`,
    musterAnswer: "Tap to answer: coming or cannot",
    musterEnded: "The emergency muster has ended",
    categories: {
      taxi_dispute: "Taxi dispute",
      missing_person: "Missing person",
      animal_nuisance: "Animal nuisance",
      lost_item: "Lost and found",
      neighbour_dispute: "Neighbour dispute",
      noise: "Noise nuisance",
    },
  },
};

/** The officer's language: their choice on the site, else the browser's. */
async function language() {
  // The same order as the server's pick_language: the `lang` cookie the
  // pages set on an explicit choice, then the browser's languages.
  if (self.cookieStore) {
    try {
      const chosen = await self.cookieStore.get("lang");
      if (chosen && WORDS[chosen.value]) return chosen.value;
    } catch {
      // The Cookie Store API refused: the browser's languages decide.
    }
  }
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag || "").split("-")[0].toLowerCase();
    if (WORDS[primary]) return primary;
  }
  return "zh";
}

function isId(value) {
  return typeof value === "string" && /^[\w-]{1,64}$/.test(value);
}

/** The push's JSON if it is about an offer or an invitation, else null. */
function readPayload(data) {
  let payload;
  try {
    payload = data ? data.json() : null;
  } catch {
    return null;
  }
  if (!payload || typeof payload !== "object") return null;
  if (payload.type === INVITATION) return isId(payload.room_id) ? payload : null;
  if (payload.type === MUSTER || payload.type === MUSTER_ENDED) {
    return isId(payload.muster_id) ? payload : null;
  }
  if (payload.type === NOTICE) return noticeTarget(payload.url) ? payload : null;
  return PUSH_TYPES.has(payload.type) && isId(payload.alarm_id) ? payload : null;
}

function categoryName(code, words) {
  return words.categories[code] || String(code || "");
}

function distanceText(meters, words) {
  if (typeof meters !== "number" || !Number.isFinite(meters)) return "";
  const whole = Math.max(0, Math.round(meters));
  if (whole < 1000) return words.metres(whole);
  return words.kilometres((whole / 1000).toFixed(1));
}

function timeOf(value) {
  const time = typeof value === "string" ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? Date.now() : time;
}

/** Whether notifications here show buttons (iOS and macOS Safari: no). */
function actionsSupported() {
  return (
    typeof Notification !== "undefined" &&
    "actions" in Notification.prototype &&
    (Notification.maxActions || 0) > 0
  );
}

/** What an alarm's notifications carry, to act on a tap. */
function noticeData(type, payload) {
  return {
    type,
    alarm_id: payload.alarm_id,
    tag: payload.tag || `alarm-${payload.alarm_id}`,
    category: payload.category,
    address: payload.address,
  };
}

/** The offer itself: loud, lasting, with 抢单 where buttons exist. */
function offerNotice(payload, words) {
  const lines = [
    distanceText(payload.distance_m, words),
    payload.address || words.noAddress,
  ];
  // Without buttons the body is the only way in, and says so.
  if (!actionsSupported()) lines.push(words.tapToClaim);
  const data = noticeData("offer", payload);
  return {
    title: `${words.offer} · ${categoryName(payload.category, words)}`,
    options: {
      body: lines.filter(Boolean).join("\n"),
      tag: data.tag,
      renotify: true,
      requireInteraction: true,
      silent: false,
      vibrate: OFFER_VIBRATION_MS,
      timestamp: timeOf(payload.sent_at),
      icon: ICON,
      lang: words.lang,
      actions: [{ action: CLAIM_ACTION, title: words.claim }],
      data,
    },
  };
}

/** A short, quiet note that replaces the offer: `title` says what happened. */
function quietNotice(title, payload, words, type = "ended") {
  const category = categoryName(payload.category, words);
  const data = noticeData(type, payload);
  return {
    title,
    options: {
      body: [category, payload.address].filter(Boolean).join(" · "),
      tag: data.tag,
      renotify: false,
      silent: true,
      icon: ICON,
      lang: words.lang,
      data,
    },
  };
}

/** An invitation to a room: a tap opens the page that answers it. */
function invitationNotice(payload, words) {
  const desk = DESKS.has(payload.desk) ? payload.desk : "/expert";
  return {
    title: `${words.invitation} · ${String(payload.title || "")}`,
    options: {
      body: words.invitedBy(String(payload.invited_by || "")),
      tag: payload.tag || `room-${payload.room_id}`,
      renotify: true,
      requireInteraction: true,
      timestamp: timeOf(payload.sent_at),
      icon: ICON,
      lang: words.lang,
      data: { type: INVITATION, room_id: payload.room_id, desk },
    },
  };
}

/** The same-origin page a notice opens, or null if `url` is not one of ours. */
function noticeTarget(url) {
  if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) {
    return null;
  }
  const target = new URL(url, self.location.origin);
  return NOTICE_PAGES.includes(target.pathname) ? target.pathname + target.hash : null;
}

/** A quiet note (task news): words in the officer's language, a tap opens it. */
function notice(payload, words) {
  const pick = (texts) =>
    (texts && typeof texts === "object" && (texts[words.code] || texts.zh)) || "";
  return {
    title: String(pick(payload.title) || words.app),
    options: {
      body: String(pick(payload.body)),
      tag: typeof payload.tag === "string" ? payload.tag : "jingdi-notice",
      renotify: true,
      timestamp: timeOf(payload.sent_at),
      icon: ICON,
      lang: words.lang,
      data: { type: NOTICE, url: noticeTarget(payload.url) },
    },
  };
}

/** A muster's alert: loud and lasting; its end, quiet, in the same place. */
function musterNotice(payload, words) {
  const data = { type: payload.type, muster_id: payload.muster_id };
  const tag = payload.tag || `muster-${payload.muster_id}`;
  const place = [payload.address, distanceText(payload.distance_m, words)];
  if (payload.type === MUSTER_ENDED) {
    return {
      title: words.musterEnded,
      options: {
        body: String(payload.message || ""),
        tag,
        renotify: false,
        silent: true,
        icon: ICON,
        lang: words.lang,
        data,
      },
    };
  }
  const lines = [
    String(payload.message || ""),
    place.filter(Boolean).join(" · "),
    words.musterNeeded(Number(payload.needed) || 1),
    words.musterAnswer,
  ];
  return {
    title: payload.reminder ? words.musterReminder : words.muster,
    options: {
      body: lines.filter(Boolean).join("\n"),
      tag,
      renotify: true,
      requireInteraction: true,
      silent: false,
      vibrate: MUSTER_VIBRATION_MS,
      timestamp: timeOf(payload.sent_at),
      icon: ICON,
      lang: words.lang,
      data,
    },
  };
}

function describe(payload, words) {
  if (payload.type === INVITATION) return invitationNotice(payload, words);
  if (payload.type === MUSTER || payload.type === MUSTER_ENDED) {
    return musterNotice(payload, words);
  }
  if (payload.type === NOTICE) return notice(payload, words);
  if (payload.type !== "offer") {
    return quietNotice(words[payload.type], payload, words);
  }
  const late = Date.parse(payload.expires_at) + CLOCK_SKEW_MS < Date.now();
  return late
    ? quietNotice(words.expired, payload, words)
    : offerNotice(payload, words);
}

function genericNotice(words) {
  return {
    title: words.app,
    options: { body: words.generic, tag: "jingdi-message", icon: ICON },
  };
}

function show(notice) {
  return self.registration.showNotification(notice.title, notice.options);
}

/** POSTs JSON with the session cookie; returns {ok, status, body}. */
async function postJson(path, body) {
  // No XSRF header: a worker cannot read the cookie. These endpoints accept
  // the request because the browser marks it Sec-Fetch-Site: same-origin.
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // An answer without JSON: the status alone has to do.
  }
  return { ok: response.ok, status: response.status, body: answer };
}

/** Tells the server the device received (or the officer saw) an offer. */
async function acknowledge(alarmId, seen) {
  try {
    await postJson(`/api/offers/${alarmId}/ack`, { seen });
  } catch (error) {
    // A receipt is a statistic; the offer itself must not wait for it.
    console.warn("jingdi: offer receipt not sent:", error.message);
  }
}

async function windowClients() {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true });
}

/** Passes a message to every open page (an open desk refreshes its offers). */
async function tellPages(message) {
  for (const client of await windowClients()) client.postMessage(message);
}

self.addEventListener("push", (event) => {
  event.waitUntil(receivePush(event.data));
});

async function receivePush(data) {
  const words = WORDS[await language()];
  const payload = readPayload(data);
  const notice = payload ? describe(payload, words) : genericNotice(words);
  const tasks = [show(notice), tellPages({ type: "push.received", payload })];
  if (payload && payload.type === "offer") {
    tasks.push(acknowledge(payload.alarm_id, false));
  }
  // Showing never waits for the receipt or the pages, nor fails with them.
  const [shown] = await Promise.allSettled(tasks);
  if (shown.status === "rejected") throw shown.reason;
}

// ---- A tap on a notification ----------------------------------------------

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(answerTap(event.notification.data || {}, event.action));
});

async function answerTap(data, action) {
  if ((data.type === MUSTER || data.type === MUSTER_ENDED) && isId(data.muster_id)) {
    // An open desk is told (officer-muster.js shows the muster); a new one
    // reads the muster from its address.
    const url = `${OFFICER_PATH}#muster=${data.muster_id}`;
    return openDesk(url, { type: "muster.open", muster_id: data.muster_id });
  }
  if (data.type === NOTICE) {
    const target = noticeTarget(data.url) || NOTICE_PAGES[0];
    return openDesk(target, { type: "notice.open", url: target });
  }
  if (data.type === INVITATION) {
    return openDesk(DESKS.has(data.desk) ? data.desk : "/expert");
  }
  if (!data.alarm_id) return openDesk(OFFICER_PATH);
  const seen = data.type === "offer" ? acknowledge(data.alarm_id, true) : null;
  if (data.type === "offer" && action === CLAIM_ACTION) {
    return Promise.all([seen, claimFromNotice(data)]);
  }
  const url = `${OFFICER_PATH}#offer=${data.alarm_id}`;
  return Promise.all([
    seen,
    openDesk(url, { type: "push.open", alarm_id: data.alarm_id }),
  ]);
}

/**
 * A desk in front: an open window of `url`'s page (the officer's or the
 * expert's; told `message`), else a new one at `url`. Resolves with the window's client, or null when the
 * browser allowed neither (it does only shortly after a tap).
 */
async function openDesk(url, message) {
  const path = new URL(url, self.location.origin).pathname;
  const desk = (await windowClients()).find(
    (client) => new URL(client.url).pathname === path,
  );
  if (desk) {
    if (message) desk.postMessage(message);
    try {
      return await desk.focus();
    } catch {
      return desk; // not allowed to focus: it still hears the messages
    }
  }
  try {
    return await self.clients.openWindow(url);
  } catch {
    return null;
  }
}

/** 抢单 on the notification: claim, and show the desk with the outcome. */
async function claimFromNotice(data) {
  // The window is asked for at once, alongside the claim: browsers allow
  // opening one only for a few seconds after the tap, and on a slow network
  // the claim may take longer than that. A new window hears the outcome once
  // its script runs (messages wait for it).
  const [desk, outcome] = await Promise.all([
    openDesk(`${OFFICER_PATH}#offer=${data.alarm_id}`),
    claim(data.alarm_id),
  ]);
  if (desk) {
    const alarmId = data.alarm_id;
    desk.postMessage({ type: "push.claimed", alarm_id: alarmId, ...outcome });
    return;
  }
  // No window could be shown: the notification tells the outcome instead.
  const words = WORDS[await language()];
  if (outcome.ok) {
    await show(quietNotice(words.claimed, data, words, "claimed"));
  } else if (ENDED_REASONS.has(outcome.reason)) {
    await show(quietNotice(words[outcome.reason], data, words));
  } else {
    await show(quietNotice(words.claimFailed, data, words, "offer"));
  }
}

/** Claims an alarm for the signed-in officer: {ok, alarm} or {ok, reason}. */
async function claim(alarmId) {
  try {
    const answer = await postJson(`/api/alarms/${alarmId}/claim`, {});
    if (answer.ok && answer.body && answer.body.alarm) {
      return { ok: true, alarm: answer.body.alarm };
    }
    const reason = answer.body && answer.body.reason;
    return { ok: false, reason: reason || `http_${answer.status}` };
  } catch {
    return { ok: false, reason: "network" };
  }
}

// ---- A renewed subscription -----------------------------------------------

// The browser replaced the subscription (Firefox, and Safari, fire this;
// Chrome renews without telling, and the desk re-sends its subscription on
// every visit). The server swaps the old endpoint for the new one.
self.addEventListener("pushsubscriptionchange", (event) => {
  const { oldSubscription, newSubscription } = event;
  event.waitUntil(renewSubscription(oldSubscription, newSubscription));
});

async function renewSubscription(old, renewed) {
  try {
    let subscription = renewed;
    if (!subscription) {
      const key =
        (old && old.options && old.options.applicationServerKey) ||
        (await serverKey());
      subscription = await self.registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: key,
      });
    }
    const body = { ...subscription.toJSON() };
    if (old && old.endpoint !== subscription.endpoint) {
      body.old_endpoint = old.endpoint;
    }
    const answer = await postJson("/api/push/subscriptions", body);
    if (!answer.ok) throw new Error(`the server answered ${answer.status}`);
  } catch (error) {
    // Signed out, or push turned off: the desk offers the step again.
    console.warn("jingdi: renewed subscription not stored:", error.message);
  }
}

/** The server's applicationServerKey, as bytes. */
async function serverKey() {
  const response = await fetch("/api/push/key", { credentials: "same-origin" });
  if (!response.ok) throw new Error(`no push key (${response.status})`);
  const { public_key: key } = await response.json();
  const base64 = key.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

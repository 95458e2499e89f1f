// The "enable notifications" step of the officer's and the expert's pages:
// web push, so that offers (officers) and invitations to consultation rooms
// (experts) reach the phone while the app is closed. The open app's
// websocket stays the first channel; this panel says which extras this
// device supports.
//
// Browsers ask for the permission only from a tap (iOS also only in the app
// installed on the home screen). Once granted, each visit re-sends the
// browser's subscription, so the server keeps it for whoever is signed in on
// this device; signing out deletes it first. The service worker (sw.js) shows
// the notifications and reports back to this page through messages.

import { ApiError, errorText, postJson, request } from "./api.js";
import { config, t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";

const SUBSCRIPTIONS = "/api/push/subscriptions";
// The endpoint this device last gave the server, so that a new one can name
// the one it replaces (the browser renewed it while no worker heard).
const STORED_ENDPOINT = "jingdi.push.endpoint";
// The worker normally takes over within a second of the page's first load;
// past this the browser is not going to give us one.
const WORKER_WAIT_MS = 10000;
// Signing out waits this long at most for the device's subscription to go:
// the server drops the session's subscriptions at logout anyway.
const LOGOUT_WAIT_MS = 3000;

/** What this browser can do; each optional API is detected, never assumed. */
export function pushSupport() {
  const worker = "serviceWorker" in navigator;
  const push = worker && "PushManager" in window;
  const notifications = "Notification" in window;
  const actions =
    notifications &&
    "actions" in Notification.prototype &&
    (Notification.maxActions || 0) > 0;
  return {
    background: push && notifications,
    actions: push && actions,
    permission: notifications ? Notification.permission : "unsupported",
  };
}

// Why push is missing, for the two cases officers meet most. Only used for
// the wording: the decision above rests on feature detection alone.
function missingPushHint() {
  const agent = navigator.userAgent || "";
  if (/MicroMessenger/i.test(agent)) return t("officer.push.wechat");
  const ios =
    /iPhone|iPad|iPod/.test(agent) ||
    (/Macintosh/.test(agent) && navigator.maxTouchPoints > 1);
  const installed =
    navigator.standalone === true ||
    (window.matchMedia && matchMedia("(display-mode: standalone)").matches);
  if (ios && !installed) return t("officer.push.ios_install");
  return "";
}

function withTimeout(promise, ms, message) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function workerReady() {
  return withTimeout(
    navigator.serviceWorker.ready,
    WORKER_WAIT_MS,
    t("officer.push.no_worker"),
  );
}

/** The permission, asked the way every browser understands. */
function askPermission() {
  // Older Safari takes a callback and returns nothing.
  return new Promise((resolve) => {
    const asked = Notification.requestPermission(resolve);
    if (asked && typeof asked.then === "function") asked.then(resolve);
  });
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function sameKey(subscription, key) {
  const own = subscription.options && subscription.options.applicationServerKey;
  if (!own) return true; // the browser does not say: assume it is ours
  const bytes = new Uint8Array(own);
  return bytes.length === key.length && bytes.every((b, i) => b === key[i]);
}

function storedEndpoint() {
  try {
    return localStorage.getItem(STORED_ENDPOINT);
  } catch {
    return null; // storage refused (private mode): nothing to replace
  }
}

function storeEndpoint(endpoint) {
  try {
    if (endpoint) localStorage.setItem(STORED_ENDPOINT, endpoint);
    else localStorage.removeItem(STORED_ENDPOINT);
  } catch {
    // Without storage the server still replaces this session's old endpoint.
  }
}

// The panel's sentences that depend on what the page is for.
const OFFICER_WORDS = {
  intro: "officer.push.intro",
  on: "officer.push.on",
  off: "officer.push.off",
  actions: "officer.push.support.actions",
};

export class PushPanel {
  /**
   * `onOffer(payload)` hears pushes the worker received (the desk refreshes),
   * `onOpen(alarmId)` a tap on an offer's notification, and
   * `onClaimed({alarm_id, ok, alarm, reason})` a claim made by its 抢单 button;
   * each is optional. `words` replaces the officer's sentences (i18n keys of
   * `intro`, `on`, `off`; `actions` null when notifications carry no button).
   */
  constructor({ onOffer, onOpen, onClaimed, words = {} } = {}) {
    this.support = pushSupport();
    this.endpoint = null;
    this.handlers = { onOffer, onOpen, onClaimed };
    this.words = { ...OFFICER_WORDS, ...words };
    this.bind();
  }

  bind() {
    byId("push-enable").addEventListener("click", () => this.enable());
    byId("push-disable").addEventListener("click", () => this.disable());
    if ("serviceWorker" in navigator) {
      const { serviceWorker } = navigator;
      serviceWorker.addEventListener("message", (event) =>
        this.fromWorker(event.data),
      );
      // A window the worker opened may have a message waiting (a claim's
      // outcome): take it as soon as someone listens.
      if (serviceWorker.startMessages) serviceWorker.startMessages();
    }
    this.removeBeforeLogout();
  }

  /** Shows what the device supports and re-sends a subscription it holds. */
  async start() {
    this.renderSupport();
    if (!this.support.background) {
      const hint = missingPushHint();
      this.show("warning", t("officer.push.unsupported"), hint);
      return;
    }
    if (this.support.permission === "denied") {
      this.show("warning", t("officer.push.denied"));
      return;
    }
    this.show("info", t(this.words.intro), "", "enable");
    if (this.support.permission !== "granted") return;
    try {
      const registration = await workerReady();
      const subscription = await registration.pushManager.getSubscription();
      if (subscription) await this.save(subscription);
    } catch (error) {
      this.failed(error);
    }
  }

  // -- the panel --------------------------------------------------------------

  renderSupport() {
    const rows = [
      ["officer.push.support.open", true],
      ["officer.push.support.background", this.support.background],
    ];
    if (this.words.actions) rows.push([this.words.actions, this.support.actions]);
    const items = rows.map(([key, supported]) =>
      el(
        "li",
        { "data-supported": String(supported) },
        el("span", {}, t(key)),
        el(
          "span",
          { class: "push-support-value" },
          t(supported ? "officer.push.yes" : "officer.push.no"),
        ),
      ),
    );
    byId("push-support").replaceChildren(...items);
  }

  /** The panel's sentence, an optional hint, and which button is offered. */
  show(tone, text, hint = "", button = null) {
    setStatus(byId("push-state"), text, tone);
    const hintLine = byId("push-hint");
    hintLine.textContent = hint;
    hintLine.hidden = !hint;
    byId("push-enable").hidden = button !== "enable";
    byId("push-disable").hidden = button !== "disable";
    this.busy(false);
  }

  busy(working) {
    byId("push-enable").disabled = working;
    byId("push-disable").disabled = working;
  }

  failed(error) {
    const reason = error instanceof ApiError ? errorText(error) : error.message;
    this.show(
      "error",
      t("officer.push.failed", { error: reason || t("error.generic") }),
      "",
      "enable",
    );
  }

  // -- the officer's taps -----------------------------------------------------

  async enable() {
    this.busy(true);
    setStatus(byId("push-state"), t("officer.push.enabling"));
    let permission;
    try {
      // First thing in the tap: iOS grants the prompt only inside the gesture.
      permission = await askPermission();
    } catch (error) {
      this.failed(error);
      return;
    }
    this.support.permission = permission;
    if (permission === "denied") {
      this.show("warning", t("officer.push.denied"));
      return;
    }
    if (permission !== "granted") {
      this.show("info", t(this.words.intro), "", "enable");
      return;
    }
    try {
      await this.subscribe();
    } catch (error) {
      this.failed(error);
    }
  }

  async subscribe() {
    // The key comes with the page: the tap then needs no network round trip
    // before asking the browser (iOS wants subscribe() close to the gesture).
    const publicKey = config().push_key;
    if (!publicKey) throw new Error(t("error.push_disabled"));
    const registration = await workerReady();
    const key = keyBytes(publicKey);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      // Made for another server key: the push service would refuse our pushes.
      await subscription.unsubscribe();
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: key,
      });
    }
    await this.save(subscription);
  }

  /** Gives the server this device's subscription (replacing an older one). */
  async save(subscription) {
    const body = { ...subscription.toJSON() };
    const before = storedEndpoint();
    if (before && before !== subscription.endpoint) body.old_endpoint = before;
    await postJson(SUBSCRIPTIONS, body);
    storeEndpoint(subscription.endpoint);
    this.endpoint = subscription.endpoint;
    this.show("info", t(this.words.on), "", "disable");
  }

  async disable() {
    this.busy(true);
    try {
      const registration = await workerReady();
      const subscription = await registration.pushManager.getSubscription();
      if (subscription) {
        await this.remove(subscription.endpoint);
        await subscription.unsubscribe();
      }
      storeEndpoint(null);
      this.show("info", t(this.words.off), "", "enable");
    } catch (error) {
      this.failed(error);
    }
  }

  async remove(endpoint) {
    await request(SUBSCRIPTIONS, { method: "DELETE", body: { endpoint } });
    this.endpoint = null;
  }

  // Signing out (shell.js) must not leave this device subscribed for the
  // officer. Its click is held, in the capture phase, until the server has
  // deleted the subscription (or a few seconds passed), then let through.
  removeBeforeLogout() {
    const button = document.getElementById("logout");
    if (!button) return;
    let removed = false;
    window.addEventListener(
      "click",
      (event) => {
        if (removed || !this.endpoint || event.target !== button) return;
        event.stopImmediatePropagation();
        button.disabled = true;
        const done = () => {
          removed = true;
          button.disabled = false;
          button.click();
        };
        withTimeout(this.remove(this.endpoint), LOGOUT_WAIT_MS, "slow")
          .catch(() => {}) // the server drops it with the session anyway
          .finally(done);
      },
      { capture: true },
    );
  }

  // -- the worker's news ------------------------------------------------------

  fromWorker(message) {
    if (!message || typeof message !== "object") return;
    const { onOffer, onOpen, onClaimed } = this.handlers;
    if (message.type === "push.received") {
      if (onOffer) onOffer(message.payload);
    } else if (message.type === "push.open") {
      if (onOpen) onOpen(message.alarm_id);
    } else if (message.type === "push.claimed") {
      if (onClaimed) onClaimed(message);
    }
  }

  /** Closes the notifications of an alarm the desk has dealt with. */
  forget(alarmId) {
    // The tag the server gives an alarm's messages (server/push.py tag_for).
    return closeNotifications(`alarm-${alarmId}`);
  }
}

/** Closes this device's notifications with `tag` (an answered invitation's). */
export async function closeNotifications(tag) {
  if (!("serviceWorker" in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.getRegistration();
    if (!registration || !registration.getNotifications) return;
    for (const shown of await registration.getNotifications({ tag })) {
      shown.close();
    }
  } catch {
    // Nothing shown, or notifications unavailable: nothing to close.
  }
}

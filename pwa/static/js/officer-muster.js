// Emergency musters (紧急集结) on the officer's desk. An alert fills the screen
// above everything else, rings like an offer, and shows the commander's
// message, the distance and two large answers: 我来了 (coming) and 无法前往
// (cannot). The answer is sent at once and its result shown; the officer may
// change it while the muster runs. An ended muster closes its alert with a
// note. Alerts come over the websocket (muster.alert on the user's topic);
// on load the desk asks the server for running musters it has not answered,
// and a tap on a muster's notification opens /officer#muster=<id>.

import { errorText, getJson, postJson } from "./api.js";
import { formatClock, formatDistance, formatEta } from "./alarm-format.js";
import { currentUser, t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { closeNotifications } from "./push-panel.js";

const HASH_PREFIX = "#muster=";

/** The notification tag of a muster (server/push.py muster_tag). */
function tagOf(id) {
  return `muster-${id}`;
}

/** "Called by agency X" when the muster is not the officer's own agency's. */
function foreignAgency(muster) {
  const user = currentUser();
  if (!muster.agency || !user || muster.agency.id === user.tenant_id) return "";
  return t("officer.muster.agency", { agency: muster.agency.name });
}

export class MusterDesk {
  /**
   * `alert` is the page's OfferAlert (sound and vibration); `position()` the
   * officer's latest fix ({lat, lon}) or null.
   */
  constructor({ alert, position }) {
    this.alert = alert;
    this.position = position;
    this.musters = new Map(); // id → the officer's view of the muster
    this.waiting = []; // ids of alerts to show, oldest first
    this.shownId = null;
    this.bind();
  }

  bind() {
    byId("muster-coming").addEventListener("click", () => this.answer("coming"));
    byId("muster-cannot").addEventListener("click", () => this.answer("cannot"));
    byId("muster-close").addEventListener("click", () => this.close());
    byId("muster-overlay").addEventListener("pointerdown", () =>
      this.alert.stop(),
    );
    // A tap on a notification while this desk is open (sw.js answerTap).
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", (event) => {
        const message = event.data;
        if (message && message.type === "muster.open") {
          this.open(message.muster_id);
        }
      });
    }
  }

  // -- what the server says -----------------------------------------------------

  /** Running musters of this officer; unanswered ones are shown. */
  async load() {
    try {
      const { musters } = await getJson("/api/officer/musters");
      const running = new Set(musters.map((muster) => muster.id));
      for (const id of [...this.musters.keys()]) {
        if (!running.has(id)) this.forget(id);
      }
      for (const muster of musters) {
        const known = this.musters.has(muster.id);
        this.musters.set(muster.id, muster);
        if (!known && !muster.answer) this.enqueue(muster.id, false);
      }
      this.renderList();
      this.showNext();
    } catch (error) {
      setStatus(byId("musters-status"), errorText(error), "error");
    }
  }

  /** A muster.alert event: a new alert, or a reminder to answer. */
  alerted(muster) {
    this.musters.set(muster.id, muster);
    this.enqueue(muster.id, true);
    this.renderList();
    if (this.shownId === muster.id) this.show(muster.id);
    else this.showNext();
  }

  /** A muster.answered event: the answer given here or on another device. */
  answered(muster) {
    this.musters.set(muster.id, muster);
    this.waiting = this.waiting.filter((id) => id !== muster.id);
    this.renderList();
    if (this.shownId === muster.id) this.showAnswer(muster);
    closeNotifications(tagOf(muster.id));
  }

  /** A muster.ended event: say so on the alert, drop it from the list. */
  ended({ muster_id: id, end_note: note }) {
    this.forget(id);
    this.renderList();
    if (this.shownId === id) this.showEnded(note);
  }

  /** Opens one muster (a notification tap, the address), answered or not. */
  async open(id) {
    try {
      const { muster } = await getJson(`/api/musters/${encodeURIComponent(id)}`);
      if (muster.status !== "active") {
        setStatus(byId("musters-status"), t("officer.muster.ended"), "warning");
        return;
      }
      this.musters.set(id, muster);
      this.renderList();
      this.show(id);
    } catch (error) {
      const text = error.status === 404 ? t("officer.muster.gone") : errorText(error);
      setStatus(byId("musters-status"), text, "warning");
    }
  }

  /** The muster id of a notification tap that opened this page, if any. */
  static inAddress() {
    if (!location.hash.startsWith(HASH_PREFIX)) return null;
    const id = decodeURIComponent(location.hash.slice(HASH_PREFIX.length));
    // Once is enough: a reload must not bring the alert forward again.
    history.replaceState(null, "", location.pathname + location.search);
    return /^[\w-]{1,64}$/.test(id) ? id : null;
  }

  // -- the queue ---------------------------------------------------------------

  enqueue(id, ring) {
    if (!this.waiting.includes(id)) this.waiting.push(id);
    if (ring) this.alert.start();
  }

  forget(id) {
    this.musters.delete(id);
    this.waiting = this.waiting.filter((other) => other !== id);
    closeNotifications(tagOf(id));
  }

  showNext() {
    if (this.shownId) return;
    const id = this.waiting.find((other) => this.musters.has(other));
    if (id) this.show(id);
  }

  close() {
    this.alert.stop();
    byId("muster-overlay").hidden = true;
    document.body.classList.remove("has-muster");
    const closed = this.shownId;
    this.shownId = null;
    this.waiting = this.waiting.filter((id) => id !== closed);
    this.showNext();
  }

  // -- the alert ---------------------------------------------------------------

  show(id) {
    const muster = this.musters.get(id);
    if (!muster) return;
    this.shownId = id;
    byId("muster-overlay").hidden = false;
    document.body.classList.add("has-muster");
    byId("muster-reminder").hidden = !muster.reminder;
    byId("muster-message").textContent = muster.message;
    byId("muster-address").textContent = muster.address || "";
    byId("muster-address").hidden = !muster.address;
    byId("muster-distance").textContent = this.distanceText(muster);
    byId("muster-needed").textContent = t("officer.muster.needed", {
      needed: muster.needed,
      coming: muster.coming,
    });
    byId("muster-meta").textContent = [
      t("officer.muster.by", { name: muster.created_by }),
      // A muster of another agency, reaching this officer through a grant.
      foreignAgency(muster),
      t("officer.muster.until", { time: formatClock(muster.ends_at) }),
    ]
      .filter(Boolean)
      .join(" · ");
    setStatus(byId("muster-status"), "");
    byId("muster-actions").hidden = false;
    this.enableActions(true);
    if (muster.answer) {
      this.showAnswer(muster);
    } else {
      byId("muster-result").hidden = true;
      byId("muster-close").hidden = true;
      byId("muster-coming").focus();
    }
  }

  distanceText(muster) {
    if (typeof muster.distance_m !== "number") return "";
    const distance = formatDistance(muster.distance_m);
    return t("officer.muster.distance", { distance });
  }

  showAnswer(muster) {
    const result = byId("muster-result");
    result.textContent =
      muster.answer === "coming"
        ? t("officer.muster.answered.coming", { eta: formatEta(muster.eta_s) })
        : t("officer.muster.answered.cannot");
    result.dataset.tone = muster.answer === "coming" ? "ok" : "info";
    result.hidden = false;
    setStatus(byId("muster-status"), t("officer.muster.change"));
    for (const answer of ["coming", "cannot"]) {
      byId(`muster-${answer}`).setAttribute(
        "aria-pressed",
        String(muster.answer === answer),
      );
    }
    byId("muster-distance").textContent = this.distanceText(muster);
    byId("muster-close").hidden = false;
  }

  showEnded(note) {
    this.alert.stop();
    const result = byId("muster-result");
    result.textContent = note
      ? t("officer.muster.ended_note", { note })
      : t("officer.muster.ended");
    result.dataset.tone = "lost";
    result.hidden = false;
    setStatus(byId("muster-status"), "");
    byId("muster-actions").hidden = true;
    byId("muster-close").hidden = false;
    byId("muster-close").focus();
  }

  enableActions(enabled) {
    byId("muster-coming").disabled = !enabled;
    byId("muster-cannot").disabled = !enabled;
  }

  async answer(answer) {
    const id = this.shownId;
    if (!id) return;
    this.alert.stop();
    this.enableActions(false);
    setStatus(byId("muster-status"), t("officer.muster.sending"));
    // Where the officer is now, when the page knows it (on duty it shares
    // positions anyway): the distance and ETA are then measured from here.
    // Only the distance is kept; off duty the server keeps the alert's.
    const fix = this.position();
    const body = fix ? { answer, lon: fix.lon, lat: fix.lat } : { answer };
    try {
      const { muster } = await postJson(
        `/api/musters/${encodeURIComponent(id)}/answer`,
        body,
      );
      this.answered(muster);
    } catch (error) {
      if (error.reason === "muster_ended") {
        this.forget(id);
        this.renderList();
        if (this.shownId === id) this.showEnded("");
        return;
      }
      setStatus(byId("muster-status"), errorText(error), "error");
    } finally {
      this.enableActions(true);
    }
  }

  // -- the side panel ----------------------------------------------------------

  renderList() {
    const items = [...this.musters.values()].map((muster) => {
      const answer = muster.answer
        ? t(`officer.muster.${muster.answer}`)
        : t("officer.musters.pending");
      const button = el(
        "button",
        { type: "button", class: "offer-item", "data-muster-id": muster.id },
        el("strong", {}, muster.message),
        el("span", { class: "muted" }, answer),
      );
      button.addEventListener("click", () => this.show(muster.id));
      return el("li", {}, button);
    });
    byId("muster-list").replaceChildren(...items);
    byId("musters-empty").hidden = items.length > 0;
  }
}

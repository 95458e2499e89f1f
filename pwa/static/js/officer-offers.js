// Offers (抢单): each new offer fills the screen with a sound, its details
// and a countdown to its end, one large claim button and a decline button that
// asks why. Several offers queue behind each other. How an offer ended (yours,
// taken by another officer, expired, cancelled) is said on the overlay for a
// moment and kept in the side panel.

import { errorText, postJson } from "./api.js";
import {
  categoryName,
  formatDistance,
  placeText,
  timeOf,
} from "./alarm-format.js";
import { showPhotos } from "./alarm-photos.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { distanceMeters } from "./geo.js";

// How long the overlay shows how an offer ended before the next one (or the
// page) appears: long enough to read "taken by another officer".
const RESULT_MS = 3000;
// A claimed offer leaves sooner: the job screen behind it is what matters.
const CLAIMED_MS = 1500;
// The countdown turns red for the last seconds.
const URGENT_S = 10;
// Claim refusals (server reasons) that end the offer, and how it is told.
const ENDING_REASONS = new Set([
  "taken",
  "expired",
  "cancelled",
  "not_offered",
]);
const TONES = {
  yours: "ok",
  taken: "lost",
  expired: "lost",
  cancelled: "lost",
  not_offered: "lost",
  declined: "info",
};

export class OfferDesk {
  /**
   * `socket` (OfficerSocket) carries the acknowledgements, `alert` is the
   * OfferAlert, `position()` the officer's latest fix or null, and
   * `onClaimed(alarm)` receives the staff view of a won claim.
   */
  constructor({ socket, alert, position, onClaimed }) {
    this.socket = socket;
    this.alert = alert;
    this.position = position;
    this.onClaimed = onClaimed;
    this.offers = new Map(); // alarm_id → {offer, ended}
    this.order = [];
    this.shownId = null;
    this.seen = new Set();
    // Offers that ended or were declined here. The server keeps listing a
    // declined offer until the alarm leaves "offering", and an expiry seen
    // here may precede the server's: neither may come back on a refresh.
    this.closed = new Set();
    this.resultTimer = null;
    this.ticker = null;
    this.bind();
  }

  bind() {
    byId("offer-claim").addEventListener("click", () => this.claim());
    byId("offer-decline").addEventListener("click", () => this.askReason(true));
    byId("decline-back").addEventListener("click", () => this.askReason(false));
    byId("decline-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.decline();
    });
    byId("offer-overlay").addEventListener("pointerdown", () =>
      this.alert.stop(),
    );
    document.addEventListener("visibilitychange", () => this.markSeen());
  }

  // -- the queue --------------------------------------------------------------

  /** Adds offers (new ones ring); with `prune`, drops those not listed. */
  sync(offers, { prune = false } = {}) {
    if (prune) {
      const listed = new Set(offers.map((offer) => offer.alarm_id));
      for (const id of [...this.order]) {
        if (!listed.has(id) && !this.offers.get(id).ended) this.drop(id);
      }
    }
    for (const offer of offers) this.add(offer);
  }

  add(offer) {
    const id = offer.alarm_id;
    if (this.offers.has(id) || this.closed.has(id)) return;
    this.offers.set(id, { offer, ended: null });
    this.order.push(id);
    // Delivered (not yet seen): tells a bad connection from an ignored offer.
    this.socket.post({ type: "offer.ack", alarm_id: id, seen: false });
    this.alert.start();
    this.render();
  }

  /** The offer ended (`outcome` is a key of TONES); say so, then remove it. */
  end(id, outcome) {
    const entry = this.offers.get(id);
    if (!entry || entry.ended) return;
    entry.ended = outcome;
    this.closed.add(id);
    const text = t("officer.offer.result." + outcome);
    setStatus(
      byId("offers-status"),
      text,
      TONES[outcome] === "ok" ? "info" : "warning",
    );
    if (id !== this.shownId) {
      this.drop(id);
      return;
    }
    this.alert.stop();
    const result = byId("offer-result");
    result.textContent = text;
    result.dataset.tone = TONES[outcome];
    result.hidden = false;
    setStatus(byId("offer-status"), "");
    byId("offer-actions").hidden = true;
    byId("decline-form").hidden = true;
    const delay =
      outcome === "declined" ? 0 : outcome === "yours" ? CLAIMED_MS : RESULT_MS;
    clearTimeout(this.resultTimer);
    this.resultTimer = setTimeout(() => this.drop(id), delay);
  }

  drop(id) {
    this.offers.delete(id);
    this.order = this.order.filter((other) => other !== id);
    if (id === this.shownId) this.shownId = null;
    this.render();
  }

  bringForward(id) {
    const head = this.order[0];
    if (id === head || (head && this.offers.get(head).ended)) return;
    this.order = [id, ...this.order.filter((other) => other !== id)];
    this.render();
  }

  // -- the overlay and the list -----------------------------------------------

  render() {
    this.renderList();
    const overlay = byId("offer-overlay");
    const id = this.order[0];
    if (!id) {
      overlay.hidden = true;
      this.shownId = null;
      this.alert.stop();
      clearInterval(this.ticker);
      this.ticker = null;
      document.body.classList.remove("has-overlay");
      return;
    }
    overlay.hidden = false;
    document.body.classList.add("has-overlay");
    if (id !== this.shownId) this.show(this.offers.get(id).offer);
    if (!this.ticker) this.ticker = setInterval(() => this.tick(), 1000);
    this.markSeen();
  }

  show(offer) {
    this.shownId = offer.alarm_id;
    byId("offer-category").textContent = categoryName(offer.category);
    byId("offer-address").textContent = placeText(offer);
    byId("offer-description").textContent = offer.description || "";
    byId("offer-description").hidden = !offer.description;
    showPhotos(byId("offer-photos"), offer.photos);
    byId("offer-result").hidden = true;
    byId("offer-actions").hidden = false;
    byId("decline-form").reset();
    this.askReason(false);
    this.enableActions(true);
    setStatus(byId("offer-status"), "");
    this.tick();
    byId("offer-claim").focus();
  }

  renderList() {
    const items = this.order.map((id) => {
      const { offer } = this.offers.get(id);
      const button = el(
        "button",
        { type: "button", class: "offer-item" },
        el("strong", {}, categoryName(offer.category)),
        el("span", { class: "muted" }, placeText(offer)),
      );
      button.addEventListener("click", () => this.bringForward(id));
      return el("li", {}, button);
    });
    byId("offer-list").replaceChildren(...items);
    byId("offers-empty").hidden = items.length > 0;
  }

  /** Every second: the countdown, the live distance, and expiry. */
  tick() {
    const now = Date.now();
    for (const id of [...this.order]) {
      const entry = this.offers.get(id);
      if (entry && !entry.ended && timeOf(entry.offer.expires_at) <= now) {
        this.end(id, "expired");
      }
    }
    const entry = this.offers.get(this.shownId);
    if (!entry) return;
    const { offer } = entry;
    const left = Math.max(
      0,
      Math.ceil((timeOf(offer.expires_at) - now) / 1000),
    );
    const countdown = byId("offer-countdown");
    countdown.hidden = Number.isNaN(left);
    countdown.textContent = t("officer.offer.countdown", { n: left });
    countdown.dataset.urgent = String(left <= URGENT_S);
    byId("offer-distance").textContent = this.distanceText(offer);
  }

  distanceText(offer) {
    const fix = this.position();
    let meters = offer.distance_m;
    if (fix) {
      const [lon, lat] = offer.location.coordinates;
      meters = distanceMeters([fix.lat, fix.lon], [lat, lon]);
    }
    if (!meters) return "";
    return t("officer.offer.distance", { distance: formatDistance(meters) });
  }

  /** Tells the server the shown offer is on a visible screen (once each). */
  markSeen() {
    const id = this.shownId;
    if (!id || this.seen.has(id) || document.visibilityState !== "visible") {
      return;
    }
    if (this.socket.post({ type: "offer.ack", alarm_id: id, seen: true })) {
      this.seen.add(id);
    }
  }

  // -- the officer's answers --------------------------------------------------

  enableActions(enabled) {
    for (const id of ["offer-claim", "offer-decline", "decline-submit"]) {
      byId(id).disabled = !enabled;
    }
  }

  async claim() {
    const id = this.shownId;
    const entry = this.offers.get(id);
    if (!entry || entry.ended) return;
    this.alert.stop();
    this.enableActions(false);
    setStatus(byId("offer-status"), t("officer.offer.claiming"));
    try {
      const alarm = await this.claimOnce(id);
      this.end(id, "yours");
      this.onClaimed(alarm);
    } catch (error) {
      if (ENDING_REASONS.has(error.reason)) {
        this.end(id, error.reason);
        return;
      }
      setStatus(byId("offer-status"), errorText(error), "error");
      this.enableActions(true);
    }
  }

  /**
   * Claims over the open socket, the fastest way in; over HTTP when there is
   * no socket or it did not answer in time. Sending the claim twice is safe:
   * the winner's repeated claim is the same success.
   */
  async claimOnce(id) {
    if (this.socket.isConnected) {
      try {
        const answer = await this.socket.ask({ type: "claim", alarm_id: id });
        return answer.alarm;
      } catch (error) {
        if (error.reason !== "network") throw error;
      }
    }
    const { alarm } = await postJson(`/api/alarms/${id}/claim`);
    return alarm;
  }

  askReason(open) {
    byId("decline-form").hidden = !open;
    byId("offer-actions").hidden = open;
    setStatus(byId("decline-status"), "");
    if (open) {
      this.alert.stop();
      byId("decline-form").querySelector("input")?.focus();
    }
  }

  declineReason() {
    const form = byId("decline-form");
    const chosen = form.querySelector('input[name="decline-reason"]:checked');
    const other = byId("decline-other").value.trim();
    if (!chosen) return other;
    if (chosen.value === "other") return other;
    const label = chosen.closest("label").textContent.trim();
    return other ? `${label}: ${other}` : label;
  }

  async decline() {
    const id = this.shownId;
    const reason = this.declineReason();
    if (!reason) {
      setStatus(
        byId("decline-status"),
        t("officer.decline.need_reason"),
        "warning",
      );
      return;
    }
    this.enableActions(false);
    try {
      await postJson(`/api/alarms/${id}/decline`, { reason });
      this.end(id, "declined");
    } catch (error) {
      if (ENDING_REASONS.has(error.reason)) {
        this.end(id, error.reason);
        return;
      }
      setStatus(byId("decline-status"), errorText(error), "error");
      this.enableActions(true);
    }
  }
}

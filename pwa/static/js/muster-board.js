// A muster's roll-call board: its counts (needed, alerted, coming, cannot,
// not answered, still short), one row per alerted officer with the answer,
// ETA, distance, duty and what they were found by, and the muster point with
// its radius on the map. Officers' positions are not drawn: off-duty ones
// were found by a position they shared on duty, which is not theirs to show.

import { formatClock, formatDistance, formatEta } from "./alarm-format.js";
import { t } from "./config.js";
import { byId, el } from "./dom.js";
import { addCircle, addPin, fitLayers } from "./map.js";

const RING_STYLE = { color: "#b91c1c", weight: 2, fillOpacity: 0.06 };
// Coming first (soonest there first), then not answered (nearest first, the
// ones to call), then those who cannot: as the server sorts the roll.
const ANSWER_RANK = { coming: 0, none: 1, cannot: 2 };

function rank(entry) {
  const answer = entry.answer || "none";
  const key = answer === "coming" ? entry.eta_s : entry.distance_m;
  return [ANSWER_RANK[answer], key || 0, entry.name || ""];
}

function compare(a, b) {
  const [ra, rb] = [rank(a), rank(b)];
  for (let i = 0; i < ra.length; i++) {
    if (ra[i] < rb[i]) return -1;
    if (ra[i] > rb[i]) return 1;
  }
  return 0;
}

export class RollCall {
  constructor(map) {
    this.map = map;
    this.muster = null; // the summary: counts, radius, status...
    this.roll = new Map(); // officer_id → entry
    this.pin = null;
    this.ring = null;
  }

  /** A whole board (GET /api/musters/{id} or an action's answer). */
  replace(board) {
    const { roll, ...summary } = board;
    this.roll = new Map(roll.map((entry) => [entry.officer_id, entry]));
    this.update(summary, []);
  }

  /** A muster.updated event: the new summary and the entries that changed. */
  update(summary, changed) {
    const first = this.muster === null;
    this.muster = summary;
    for (const entry of changed) this.roll.set(entry.officer_id, entry);
    this.render(first);
  }

  get active() {
    return this.muster !== null && this.muster.status === "active";
  }

  render(first) {
    const muster = this.muster;
    byId("muster-message").textContent = muster.message;
    const state = byId("muster-state");
    state.textContent = t(`muster.status.${muster.status}`);
    state.dataset.status = muster.status;
    byId("muster-facts").textContent = [
      muster.address,
      t("muster.radius", { km: muster.radius_m / 1000 }),
      t("muster.by", { name: muster.created_by.name }),
      t("muster.until", { time: formatClock(muster.ends_at) }),
    ]
      .filter(Boolean)
      .join(" · ");
    for (const [key, value] of Object.entries(muster.counts)) {
      const cell = document.getElementById(`count-${key}`);
      if (cell) cell.textContent = String(value);
    }
    const reminders = byId("muster-reminders");
    reminders.hidden = !muster.reminders;
    reminders.textContent = t("muster.reminders", { n: muster.reminders });
    this.renderEnd();
    this.renderRoll();
    this.drawPlace(first);
  }

  renderEnd() {
    const muster = this.muster;
    const ended = byId("muster-ended");
    ended.hidden = muster.status === "active";
    if (muster.end_reason === "expired") ended.textContent = t("muster.expired");
    else if (muster.end_note) {
      ended.textContent = t("muster.ended_note", { note: muster.end_note });
    } else ended.textContent = t("muster.ended");
    byId("muster-actions").hidden = muster.status !== "active";
  }

  renderRoll() {
    const rows = [...this.roll.values()].sort(compare).map((entry) => {
      const answer = entry.answer || "none";
      return el(
        "tr",
        { "data-officer-id": entry.officer_id, "data-answer": answer },
        el(
          "th",
          { scope: "row" },
          // An officer lent by another agency (a musters grant) says whose.
          entry.agency ? `${entry.name || ""} · ${entry.agency}` : entry.name || "",
        ),
        el("td", { class: "muster-answer" }, t(`muster.answer.${answer}`)),
        el("td", {}, entry.answer === "coming" ? formatEta(entry.eta_s) : ""),
        el("td", {}, formatDistance(entry.distance_m)),
        el("td", {}, t(`duty.${entry.duty}`)),
        el("td", {}, t(`muster.basis.${entry.basis}`)),
      );
    });
    byId("roll-body").replaceChildren(...rows);
    byId("roll-empty").hidden = rows.length > 0;
  }

  drawPlace(first) {
    const muster = this.muster;
    if (this.ring) this.ring.remove();
    this.ring = addCircle(this.map, muster.place, muster.radius_m, RING_STYLE);
    if (!this.pin) {
      this.pin = addPin(this.map, muster.place, { title: muster.message });
    }
    if (first || this.radiusShown !== muster.radius_m) fitLayers(this.map, [this.ring]);
    this.radiusShown = muster.radius_m;
  }
}

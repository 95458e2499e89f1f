// The job screen: the alarm this officer is handling, after a claim or a
// dispatch from the command room. A map shows the officer, the scene and a
// straight line between them (there is no routing service, and the screen
// says so), with buttons to report on the way, arrived and resolved.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { errorText, getJson, postJson } from "./api.js";
import {
  TRACKED_STATUSES,
  categoryName,
  formatClock,
  formatDistance,
  placeText,
} from "./alarm-format.js";
import { showPhotos } from "./alarm-photos.js";
import { t } from "./config.js";
import { byId, setStatus } from "./dom.js";
import { distanceMeters } from "./geo.js";
import {
  addDot,
  addPin,
  createMap,
  displayLatLng,
  fitLayers,
  geoPoint,
} from "./map.js";

// Which report each button makes, and from which statuses it may
// (server/alarms.py OFFICER_STEPS).
const STEPS = {
  en_route: { button: "job-en-route", from: ["assigned"] },
  arrived: { button: "job-arrived", from: ["assigned", "en_route"] },
  resolved: { button: "job-resolve", from: ["arrived"] },
};
// How a job that is no longer this officer's ended, by the alarm's status.
const ENDINGS = {
  resolved: "resolved",
  cancelled: "cancelled",
  closed: "closed",
};
const OWN_STYLE = {
  radius: 9,
  color: "#ffffff",
  weight: 3,
  fillColor: "#15803d",
  fillOpacity: 1,
  className: "own-dot",
};
const LINE_STYLE = { color: "#15803d", weight: 4, dashArray: "8 8" };

export class JobScreen {
  /** `sharer` gives the officer's fixes; `onEnded(outcome)` hears a job end. */
  constructor({ sharer, onShown, onEnded }) {
    this.onShown = onShown;
    this.onEnded = onEnded;
    this.alarm = null;
    this.map = null;
    this.scene = null;
    this.own = null;
    this.line = null;
    this.fix = null;
    this.fitted = false;
    this.bind();
    sharer.onFix((fix) => {
      this.fix = fix;
      this.drawRoute();
    });
  }

  bind() {
    byId("job-en-route").addEventListener("click", () =>
      this.report("en_route"),
    );
    byId("job-arrived").addEventListener("click", () => this.report("arrived"));
    byId("job-resolve").addEventListener("click", () => this.askNote(true));
    byId("job-resolve-cancel").addEventListener("click", () =>
      this.askNote(false),
    );
    byId("job-resolve-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const note = byId("job-note").value.trim();
      if (!note) {
        setStatus(byId("job-status"), t("officer.job.need_note"), "warning");
        byId("job-note").focus();
        return;
      }
      this.report("resolved", note);
    });
  }

  get alarmId() {
    return this.alarm ? this.alarm.id : null;
  }

  /** Shows `alarm` (a staff view) as the job, or ends the job if it ended. */
  show(alarm) {
    if (!TRACKED_STATUSES.has(alarm.status)) {
      if (alarm.id === this.alarmId)
        this.end(ENDINGS[alarm.status] || "closed");
      return;
    }
    const isNew = alarm.id !== this.alarmId;
    this.alarm = alarm;
    const section = byId("job");
    section.hidden = false;
    document.body.classList.add("has-job");
    setStatus(byId("officer-notice"), "");
    if (isNew) this.present(alarm);
    this.showStatus(alarm);
    this.ensureMap();
    this.drawScene(isNew);
    if (isNew) {
      section.scrollIntoView({ block: "start" });
      this.onShown(alarm);
    }
  }

  /** A change to some alarm (alarm.updated): applied if it is this job. */
  update(alarm) {
    if (alarm.id === this.alarmId) this.show(alarm);
  }

  /** The command room gave the job to someone else. */
  unassigned(alarmId) {
    if (alarmId === this.alarmId) this.end("reassigned");
  }

  end(outcome) {
    this.alarm = null;
    byId("job").hidden = true;
    document.body.classList.remove("has-job");
    this.askNote(false);
    byId("job-note").value = "";
    setStatus(
      byId("officer-notice"),
      t("officer.job.ended." + outcome),
      "info",
    );
    this.onEnded(outcome);
  }

  // -- what is shown ----------------------------------------------------------

  present(alarm) {
    byId("job-category").textContent = categoryName(alarm.category);
    byId("job-address").textContent = placeText(alarm);
    byId("job-time").textContent = formatClock(alarm.created_at);
    const description = byId("job-description");
    description.textContent =
      alarm.description || t("officer.job.no_description");
    showPhotos(byId("job-photos"), alarm.photos);
    setStatus(byId("job-status"), "");
    this.askNote(false);
    this.showContact(alarm.id);
  }

  /**
   * The citizen's phone number, if they gave one: asked for separately (and
   * audited by the server), never carried in the alarm's views or events.
   */
  async showContact(alarmId) {
    byId("job-contact").hidden = true;
    try {
      const { phone } = await getJson(
        `/api/alarms/${encodeURIComponent(alarmId)}/contact`,
      );
      if (!phone || this.alarmId !== alarmId) return;
      const link = byId("job-phone");
      link.textContent = phone;
      link.href = `tel:${phone}`;
      byId("job-contact").hidden = false;
    } catch {
      // No number to show: the job screen works without it.
    }
  }

  showStatus(alarm) {
    const badge = byId("job-state");
    badge.textContent = t("officer.job.status." + alarm.status);
    badge.dataset.status = alarm.status;
    for (const [status, step] of Object.entries(STEPS)) {
      const button = byId(step.button);
      button.disabled = !step.from.includes(alarm.status);
      button.dataset.done = String(isPast(alarm.status, status));
    }
  }

  ensureMap() {
    if (!this.map) {
      this.map = createMap(byId("job-map"));
    } else {
      // The container was hidden: Leaflet must measure it again.
      this.map.invalidateSize();
    }
  }

  drawScene(isNew) {
    if (isNew || !this.scene) {
      if (this.scene) this.scene.remove();
      this.scene = addPin(this.map, this.alarm.location, {
        title: t("officer.job.scene"),
        lines: [placeText(this.alarm)],
      });
      this.fitted = false;
    }
    this.drawRoute();
  }

  /** The officer, the scene and the straight line between them. */
  drawRoute() {
    if (!this.alarm || !this.map) return;
    const route = byId("job-route");
    if (!this.fix) {
      route.textContent = t("officer.job.no_fix");
      this.map.setView(displayLatLng(this.alarm.location), 16);
      return;
    }
    const here = geoPoint(this.fix.lon, this.fix.lat);
    if (this.own) this.own.setLatLng(displayLatLng(here));
    else this.own = addDot(this.map, here, OWN_STYLE, [t("geo.you")]);
    const ends = [displayLatLng(here), displayLatLng(this.alarm.location)];
    if (this.line) this.line.setLatLngs(ends);
    else this.line = L.polyline(ends, LINE_STYLE).addTo(this.map);
    const [lon, lat] = this.alarm.location.coordinates;
    const meters = distanceMeters([this.fix.lat, this.fix.lon], [lat, lon]);
    route.textContent = t("officer.job.route", {
      distance: formatDistance(meters),
    });
    route.dataset.distanceM = String(Math.round(meters));
    if (!this.fitted) {
      fitLayers(this.map, [this.own, this.scene]);
      this.fitted = true;
    }
  }

  // -- the officer's reports --------------------------------------------------

  askNote(open) {
    byId("job-resolve-form").hidden = !open;
    byId("job-actions").hidden = open;
    if (open) byId("job-note").focus();
  }

  async report(status, note) {
    const id = this.alarmId;
    if (!id) return;
    const buttons = document.querySelectorAll("#job button");
    for (const button of buttons) button.disabled = true;
    setStatus(byId("job-status"), "");
    try {
      const body = note ? { status, note } : { status };
      const { alarm } = await postJson(`/api/alarms/${id}/progress`, body);
      for (const button of buttons) button.disabled = false;
      this.show(alarm);
    } catch (error) {
      for (const button of buttons) button.disabled = false;
      if (this.alarm) this.showStatus(this.alarm);
      setStatus(byId("job-status"), errorText(error), "error");
    }
  }
}

const ORDER = ["assigned", "en_route", "arrived", "resolved"];

/** True when `status` is already past the report `step`. */
function isPast(status, step) {
  return ORDER.indexOf(status) >= ORDER.indexOf(step);
}

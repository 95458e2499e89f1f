// Following a raised alarm: its timeline, the officer on the map with their
// distance and arrival time, cancelling before arrival, and the rating after
// resolution. Updates come over the websocket; when there is none (WeChat,
// a dropped connection) the alarm is fetched every few seconds instead.

import * as L from "/static/vendor/leaflet/leaflet-src.esm.js";
import { errorText, getJson, postJson } from "./api.js";
import {
  ACTIVE_STATUSES,
  TRACKED_STATUSES,
  categoryName,
  formatClock,
  formatDistance,
  formatEta,
  placeText,
  timeOf,
} from "./alarm-format.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { addDot, addPin, displayLatLng, fitLayers } from "./map.js";
import { RealtimeClient, realtimeSupported } from "./realtime.js";

// Without a live connection the alarm is fetched this often: officers report
// every few seconds, so the citizen's map lags the officer by at most that.
const POLL_MS = 5000;
// With a live connection a slow fetch still runs, in case an event was lost
// between loading the alarm and subscribing to it.
const SAFETY_POLL_MS = 30000;
// The alarm followed on this device, so that a reload or reopening the link
// later comes back to it.
const CURRENT_KEY = "jingdi.citizen.alarm";

const OFFICER_STYLE = {
  radius: 10,
  color: "#ffffff",
  weight: 3,
  fillColor: "#1d4ed8",
  fillOpacity: 1,
  className: "officer-dot",
};
const ROUTE_STYLE = { color: "#1d4ed8", weight: 3, dashArray: "6 8" };

/** The id of the alarm this device followed last, if any. */
export function rememberedAlarmId() {
  try {
    return window.localStorage.getItem(CURRENT_KEY);
  } catch {
    return null;
  }
}

function remember(id) {
  try {
    if (id) window.localStorage.setItem(CURRENT_KEY, id);
    else window.localStorage.removeItem(CURRENT_KEY);
  } catch {
    // Without storage the server's list of alarms still finds active ones.
  }
}

export class AlarmTracker {
  /** `onDone()` is called when the citizen starts a new report. */
  constructor({ map, onDone }) {
    this.map = map;
    this.onDone = onDone;
    this.view = null;
    this.client = null;
    this.connected = false;
    this.pollTimer = null;
    this.scenePin = null;
    this.officerDot = null;
    this.route = null;
    this.officerAt = NaN;
    this.stars = 0;
    this.bind();
  }

  bind() {
    byId("cancel-alarm").addEventListener("click", () => this.cancel());
    byId("new-alarm").addEventListener("click", () => this.finish());
    byId("rating-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.rate();
    });
    for (const star of byId("rating-stars").querySelectorAll("[data-stars]")) {
      star.addEventListener("click", () => this.chooseStars(star));
    }
  }

  /** Shows `view` and keeps it current until the alarm is over. */
  follow(view) {
    this.stop();
    this.view = null;
    this.officerAt = NaN;
    remember(view.id);
    byId("alarm-view").hidden = false;
    byId("alarm-progress").hidden = false;
    this.apply(view);
    this.map.setView(displayLatLng(view.location), 16);
    if (ACTIVE_STATUSES.has(view.status)) this.connect(view.id);
    // The list and the POST answers carry no officer position: fetch it now.
    this.refresh();
  }

  /** Stops listening and clears the map (the form takes over). */
  stop() {
    clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (this.client) this.client.stop();
    this.client = null;
    this.connected = false;
    for (const layer of [this.scenePin, this.officerDot, this.route]) {
      if (layer) layer.remove();
    }
    this.scenePin = this.officerDot = this.route = null;
  }

  finish() {
    this.stop();
    remember(null);
    this.view = null;
    byId("alarm-view").hidden = true;
    byId("alarm-progress").hidden = true;
    this.onDone();
  }

  // -- updates ----------------------------------------------------------------

  connect(alarmId) {
    if (realtimeSupported()) {
      this.client = new RealtimeClient({
        onState: (state) => this.connectionChanged(state),
      });
      this.client.subscribe(`alarm:${alarmId}`, {
        onEvent: (name, payload) => this.event(name, payload),
        onReload: () => this.refresh(),
        onError: () => this.connectionChanged("refused"),
      });
      this.client.start();
    }
    this.schedulePoll();
  }

  connectionChanged(state) {
    const wasConnected = this.connected;
    this.connected = state === "connected";
    // Catch up on what happened while the connection was down.
    if (this.connected && !wasConnected) this.refresh();
    this.schedulePoll();
  }

  schedulePoll() {
    clearTimeout(this.pollTimer);
    if (!this.view || !ACTIVE_STATUSES.has(this.view.status)) return;
    const delay = this.connected ? SAFETY_POLL_MS : POLL_MS;
    this.pollTimer = setTimeout(async () => {
      await this.refresh();
      this.schedulePoll();
    }, delay);
  }

  async refresh() {
    const id = this.view && this.view.id;
    if (!id) return;
    try {
      const { alarm } = await getJson(`/api/alarms/${id}`);
      if (this.view && this.view.id === alarm.id) this.apply(alarm);
      setStatus(byId("track-status"), "");
    } catch (error) {
      setStatus(byId("track-status"), errorText(error), "warning");
    }
  }

  event(name, payload) {
    if (name === "alarm.status") this.apply(payload);
    else if (name === "officer.position") this.moveOfficer(payload);
  }

  /** Shows a newer view; an older one (a slow fetch) is ignored. */
  apply(view) {
    const current = this.view;
    if (current && current.id === view.id) {
      if (view.timeline.length < current.timeline.length) return;
    }
    this.view = view;
    this.showHeadline(view);
    this.showTimeline(view);
    this.showScene(view);
    this.showOfficer(view);
    this.showActions(view);
    if (!ACTIVE_STATUSES.has(view.status)) {
      clearTimeout(this.pollTimer);
      if (this.client) this.client.stop();
      this.client = null;
    }
  }

  // -- what is shown ----------------------------------------------------------

  showHeadline(view) {
    const headline = byId("alarm-headline");
    headline.textContent = t("citizen.status." + view.status);
    headline.dataset.status = view.status;
    byId("alarm-summary").textContent = [
      categoryName(view.category),
      placeText(view),
    ].join(" · ");
  }

  showTimeline(view) {
    const items = [];
    const lastClaim = view.timeline.map((e) => e.event).lastIndexOf("claimed");
    view.timeline.forEach((entry, index) => {
      let name = entry.officer;
      // The current officer's name, also when the command room assigned them.
      if (index === lastClaim && view.officer) name = view.officer.name;
      items.push(timelineItem(entry.at, timelineText(entry.event, name)));
      if (entry.event === "sent" && index === 0) {
        items.push(timelineItem(null, notifiedText(view)));
      }
    });
    const list = byId("timeline");
    list.replaceChildren(...items);
    if (items.length)
      items[items.length - 1].setAttribute("aria-current", "step");
  }

  showScene(view) {
    if (this.scenePin) return;
    this.scenePin = addPin(this.map, view.location, {
      title: t("citizen.track.scene"),
      lines: [placeText(view)],
    });
  }

  showOfficer(view) {
    const card = byId("officer-card");
    const officer = view.officer;
    const tracked = TRACKED_STATUSES.has(view.status) && officer;
    card.hidden = !tracked;
    if (!tracked) {
      this.removeOfficer();
      return;
    }
    const badge = officer.badge_no ? ` (${officer.badge_no})` : "";
    byId("officer-name").textContent = officer.name + badge;
    if (officer.position) this.moveOfficer(officer);
    else if (!this.officerDot) {
      setDistance(null);
      byId("officer-eta").textContent = t("citizen.track.no_position");
    }
  }

  /** Moves the officer's marker (only while the alarm is tracked). */
  moveOfficer(tracking) {
    if (!this.view || !TRACKED_STATUSES.has(this.view.status)) return;
    const at = timeOf(tracking.at);
    if (at < this.officerAt) return; // an older position from a slow fetch
    this.officerAt = at;
    const point = tracking.position;
    const first = !this.officerDot;
    if (first) {
      this.officerDot = addDot(this.map, point, OFFICER_STYLE, [
        this.view.officer ? this.view.officer.name : "",
      ]);
    } else {
      this.officerDot.setLatLng(displayLatLng(point));
    }
    const line = [displayLatLng(point), displayLatLng(this.view.location)];
    if (this.route) this.route.setLatLngs(line);
    else this.route = L.polyline(line, ROUTE_STYLE).addTo(this.map);
    if (first) fitLayers(this.map, [this.officerDot, this.scenePin]);
    setDistance(tracking.distance_m);
    byId("officer-eta").textContent = t("citizen.track.eta", {
      eta: formatEta(tracking.eta_s),
    });
    byId("officer-updated").textContent = t("citizen.track.updated", {
      time: formatClock(tracking.at),
    });
  }

  removeOfficer() {
    if (this.officerDot) this.officerDot.remove();
    if (this.route) this.route.remove();
    this.officerDot = this.route = null;
  }

  showActions(view) {
    byId("cancel-alarm").hidden = !view.can_cancel;
    byId("rating-form").hidden = !view.can_rate;
    const done = byId("rating-done");
    done.hidden = !view.rating;
    if (view.rating) {
      done.textContent = t("citizen.rating.thanks", {
        stars: "★".repeat(view.rating.stars),
      });
    }
    byId("new-alarm").hidden = ACTIVE_STATUSES.has(view.status);
  }

  // -- the citizen's actions --------------------------------------------------

  async cancel() {
    if (!window.confirm(t("citizen.cancel.confirm"))) return;
    const button = byId("cancel-alarm");
    button.disabled = true;
    try {
      const { alarm } = await postJson(`/api/alarms/${this.view.id}/cancel`);
      this.apply(alarm);
    } catch (error) {
      setStatus(byId("track-status"), errorText(error), "error");
      this.refresh();
    } finally {
      button.disabled = false;
    }
  }

  chooseStars(star) {
    this.stars = Number(star.dataset.stars);
    for (const other of byId("rating-stars").querySelectorAll("[data-stars]")) {
      const on = Number(other.dataset.stars) <= this.stars;
      other.setAttribute("aria-pressed", String(on));
    }
    byId("rating-submit").disabled = false;
  }

  async rate() {
    if (!this.stars) return;
    const button = byId("rating-submit");
    button.disabled = true;
    const body = {
      stars: this.stars,
      comment: byId("rating-comment").value.trim(),
    };
    try {
      const { alarm } = await postJson(
        `/api/alarms/${this.view.id}/rating`,
        body,
      );
      this.apply(alarm);
    } catch (error) {
      setStatus(byId("track-status"), errorText(error), "error");
      button.disabled = false;
    }
  }
}

function setDistance(meters) {
  const element = byId("officer-distance");
  if (meters === null || meters === undefined) {
    element.textContent = "";
    delete element.dataset.distanceM;
    return;
  }
  element.textContent = t("citizen.track.distance", {
    distance: formatDistance(meters),
  });
  element.dataset.distanceM = String(Math.round(meters));
}

function timelineItem(at, text) {
  return el(
    "li",
    {},
    el("time", { class: "timeline-time" }, at ? formatClock(at) : ""),
    el("span", { class: "timeline-text" }, text),
  );
}

function timelineText(event, officer) {
  if (event === "claimed") {
    return t("citizen.timeline.claimed", {
      officer: officer || t("citizen.timeline.an_officer"),
    });
  }
  return t("citizen.timeline." + event);
}

function notifiedText(view) {
  if (view.officers_notified > 0) {
    return t("citizen.timeline.notified", { count: view.officers_notified });
  }
  return view.status === "offering"
    ? t("citizen.timeline.searching")
    : t("citizen.timeline.none_nearby");
}

// The command room: station zones and officers on a live map, with a roster
// beside it. Alarms and dispatch arrive with the alarm issue.

import { errorText, getJson } from "../api.js";
import { config, currentUser, localName, t } from "../config.js";
import { byId, el, formatAge, setStatus } from "../dom.js";
import {
  addArea,
  addDot,
  addPin,
  createMap,
  fitLayers,
  updateDot,
} from "../map.js";
import { RealtimeClient, realtimeSupported } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";

// Officers' apps report while open (about every few seconds); a position older
// than five minutes means the app is closed and the officer may have moved.
const STALE_AFTER_S = 300;
// Events come in bursts (a shift change moves dozens of officers); one roster
// fetch per two seconds keeps the map current without a fetch per event.
const REFRESH_DEBOUNCE_MS = 2000;

// Kept in step with the .swatch-* colours in app.css.
const DUTY_COLOURS = { on: "#15803d", busy: "#c2410c", off: "#6b7280" };
// Who can be sent first: on duty, then busy, then off; by name within each.
const DUTY_ORDER = { on: 0, busy: 1, off: 2 };
const ZONE_STYLE = { color: "#1d4ed8", weight: 2, fillOpacity: 0.06 };

const state = { map: null, dots: new Map(), refreshTimer: null };

/** The officer's duty, read as "off" when the server sends something new. */
function dutyOf(officer) {
  return officer.duty in DUTY_COLOURS ? officer.duty : "off";
}

function isStale(officer) {
  return (
    officer.position_age_s === null || officer.position_age_s > STALE_AFTER_S
  );
}

function dotStyle(officer) {
  const colour = DUTY_COLOURS[dutyOf(officer)];
  const stale = isStale(officer);
  return {
    radius: 8,
    color: colour,
    weight: 2,
    fillColor: colour,
    fillOpacity: stale ? 0.15 : 0.85,
    dashArray: stale ? "3 3" : null,
  };
}

function positionText(officer) {
  if (!officer.position) return t("command.position.none");
  return t("command.position.age", {
    age: formatAge(officer.position_age_s || 0),
  });
}

function describe(officer) {
  return [officer.name, t("duty." + dutyOf(officer)), positionText(officer)];
}

function showStations(stations) {
  const layers = [];
  for (const station of stations) {
    const name = localName(station);
    if (station.zone) {
      layers.push(addArea(state.map, station.zone, ZONE_STYLE, name));
    }
    if (station.location) {
      addPin(state.map, station.location, {
        title: name,
        lines: [name, station.address, station.phone].filter(Boolean),
      });
    }
  }
  fitLayers(state.map, layers);
}

function placeDot(officer) {
  const dot = state.dots.get(officer.id);
  const style = dotStyle(officer);
  if (dot) {
    updateDot(dot, officer.position, style, describe(officer));
  } else {
    const added = addDot(state.map, officer.position, style, describe(officer));
    state.dots.set(officer.id, added);
  }
}

/** Places, moves or removes each officer's dot to match the roster. */
function showOfficerDots(officers) {
  const seen = new Set();
  for (const officer of officers) {
    if (!officer.position) continue;
    seen.add(officer.id);
    placeDot(officer);
  }
  for (const [id, dot] of state.dots) {
    if (!seen.has(id)) {
      dot.remove();
      state.dots.delete(id);
    }
  }
}

// A roster entry with a position works as a button showing it on the map.
function revealOnActivation(item, dot) {
  item.classList.add("roster-item-located");
  item.tabIndex = 0;
  item.setAttribute("role", "button");
  const reveal = () => {
    state.map.panTo(dot.getLatLng());
    dot.openPopup();
  };
  item.addEventListener("click", reveal);
  item.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      reveal();
    }
  });
}

function rosterItem(officer) {
  const duty = dutyOf(officer);
  const swatch = isStale(officer)
    ? "swatch swatch-stale"
    : `swatch swatch-${duty}`;
  const item = el(
    "li",
    { class: "roster-item" },
    el("span", { class: swatch, "aria-hidden": "true" }),
    el("span", { class: "roster-name" }, officer.name),
    el(
      "span",
      { class: "roster-meta" },
      `${t("duty." + duty)} · ${positionText(officer)}`,
    ),
  );
  const dot = state.dots.get(officer.id);
  if (dot) revealOnActivation(item, dot);
  return item;
}

function rosterOrder(a, b) {
  const byDuty = DUTY_ORDER[dutyOf(a)] - DUTY_ORDER[dutyOf(b)];
  return byDuty || String(a.name).localeCompare(String(b.name), config().lang);
}

function showRoster(officers) {
  byId("officer-count").textContent = t("command.officers.count", {
    count: officers.length,
  });
  const sorted = [...officers].sort(rosterOrder);
  byId("officer-list").replaceChildren(...sorted.map(rosterItem));
}

async function loadOfficers() {
  try {
    const { officers } = await getJson("/api/officers");
    showOfficerDots(officers);
    showRoster(officers);
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

async function loadStations() {
  try {
    const { stations } = await getJson("/api/stations");
    showStations(stations);
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

// Until the alarm issue gives events a schema the map applies directly, any
// event on the command topic means "something changed": refetch, debounced.
function scheduleRefresh() {
  if (state.refreshTimer !== null) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    loadOfficers();
  }, REFRESH_DEBOUNCE_MS);
}

function connectRealtime(user) {
  const status = byId("page-status");
  if (!realtimeSupported()) setStatus(status, t("rt.unsupported"), "warning");
  const client = new RealtimeClient({
    onState: connectionIndicator(byId("connection")),
  });
  client.subscribe(`command:${user.tenant_id}`, {
    onEvent: scheduleRefresh,
    onReload: loadOfficers,
    onError: (message) => setStatus(status, message, "error"),
  });
  client.start();
}

startPage();
state.map = createMap(byId("map"));
loadStations();
loadOfficers();
connectRealtime(currentUser());

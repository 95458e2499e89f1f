// The command room: a live map of the tenant's active alarms (coloured by
// status and age), officers and station zones; the queue of escalated alarms
// with their suggested station; and the selected alarm, to dispatch,
// reassign or close. Everything after the first load comes from the
// `command:<tenant>` websocket topic; a `reload` refetches it all.

import { errorText, getJson } from "../api.js";
import { currentUser, localName, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { addArea, addDot, addPin, createMap, fitLayers } from "../map.js";
import { RealtimeClient, realtimeSupported } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";
import { AlarmBook, urgency } from "../command-alarms.js";
import { EscalationCue } from "../command-cue.js";
import { AlarmDetail } from "../command-detail.js";
import { CommandLabels } from "../command-labels.js";
import { AlarmMarkers } from "../command-markers.js";
import { MusterCommand } from "../command-muster.js";
import { OfficerBoard } from "../command-officers.js";
import { AlarmQueue } from "../command-queue.js";

// Ages on screen count in seconds.
const TICK_MS = 1000;
// Without websockets the page can only ask again: every 15 s is current
// enough to act on and costs the server two small reads.
const POLL_MS = 15000;
// A dispatch or a resolution changes duties, which the moves feed does not
// carry: refetch the roster then, at most once per two seconds.
const ROSTER_DEBOUNCE_MS = 2000;
const ZONE_STYLE = { color: "#1d4ed8", weight: 2, fillOpacity: 0.06 };
// Neighbours' alarms in a border zone they grant: shown, never acted on.
// The server nudges this agency's topic (border.changed) when one of them
// changes or a grant opens or closes a zone; the page then asks for them
// again, at most once a second, and every two minutes in case a nudge was
// lost (a grant that started on its own, a process restarted).
const BORDER_STYLE = {
  radius: 7,
  color: "#6b7280",
  weight: 2,
  dashArray: "3 3",
  fillColor: "#e5e7eb",
  fillOpacity: 0.9,
};
const BORDER_POLL_MS = 120000;
const BORDER_DEBOUNCE_MS = 1000;
const HASH_PREFIX = "#alarm=";

const status = byId("page-status");
const labels = new CommandLabels();
const book = new AlarmBook();
const state = { selected: null, border: [] };

startPage();
const map = createMap(byId("map"));
const officers = new OfficerBoard(map, {
  list: byId("officer-list"),
  count: byId("officer-count"),
});
const markers = new AlarmMarkers(map, select);
// Emergency musters: the start form (a click on the map) and running ones.
const musters = new MusterCommand(map);
const queue = new AlarmQueue(
  {
    escalated: byId("queue-escalated"),
    others: byId("queue-active"),
    escalatedCount: byId("queue-escalated-count"),
    othersCount: byId("queue-active-count"),
  },
  labels,
  select,
);
const detail = new AlarmDetail(
  {
    panel: byId("alarm-detail"),
    title: byId("detail-title"),
    status: byId("detail-status"),
    body: byId("detail-body"),
    suggestionsBox: byId("suggestions-box"),
    suggestions: byId("suggestions"),
    suggestionsNote: byId("suggestions-note"),
    refresh: byId("suggestions-refresh"),
    closeForm: byId("close-form"),
    closeSubmit: byId("close-submit"),
    note: byId("close-note"),
  },
  labels,
  (view) => applyAlarm(view, null),
);
const cue = new EscalationCue({
  toggle: byId("cue-sound"),
  flash: byId("queue"),
  live: byId("cue-live"),
});

/** "Escalated · Noise nuisance · 1 Xuanwu Lane": a marker's name. */
function describe(alarm) {
  return [
    labels.status(alarm.status),
    labels.category(alarm.category),
    alarm.address || t("command.alarm.no_address"),
  ].join(" · ");
}

function showError(error) {
  setStatus(status, errorText(error), "error");
}

// -- drawing -------------------------------------------------------------------

function drawMarkers(now = Date.now()) {
  const ids = new Set();
  for (const alarm of book.alarms.values()) {
    ids.add(alarm.id);
    markers.show(alarm, urgency(alarm, now), describe(alarm));
  }
  markers.keepOnly(ids);
}

function drawAlarms() {
  const lists = book.queue();
  queue.draw(lists);
  drawMarkers();
  cue.count(lists.escalated.length);
}

function tick() {
  const now = Date.now();
  queue.tick(now);
  drawMarkers(now);
  officers.tick(now);
  detail.tick(now);
}

// -- alarms --------------------------------------------------------------------

/** Takes one staff view from an event or an answer; `event` names the event. */
function applyAlarm(view, event) {
  const before = book.get(view.id);
  const change = book.apply(view);
  if (change) {
    drawAlarms();
    const officerBefore =
      before && before.assignee && before.assignee.officer_id;
    const officerNow = view.assignee && view.assignee.officer_id;
    if (officerBefore !== officerNow || (change === "removed" && officerNow)) {
      scheduleRosterRefresh();
    }
  }
  if (event === "alarm.escalated" && change) cue.alert(describe(view));
  if (state.selected === view.id && (change || !detail.alarm))
    detail.show(view);
}

/** Draws the neighbours' border alarms (read-only) in place of the last ones. */
function drawBorderAlarms(alarms) {
  for (const dot of state.border) dot.remove();
  state.border = alarms.map((alarm) => {
    const dot = addDot(map, alarm.location, BORDER_STYLE, [
      t("command.border.owner", { agency: alarm.tenant.name || alarm.tenant.id }),
      describe(alarm),
      t("command.border.read_only"),
    ]);
    dot.getElement?.()?.setAttribute("data-border-alarm", alarm.id);
    return dot;
  });
  byId("border-count").textContent = alarms.length
    ? t("command.border.count", { count: alarms.length })
    : "";
}

async function loadAlarms() {
  book.beginSnapshot();
  try {
    const { alarms, border_alarms: border } = await getJson(
      "/api/command/alarms",
    );
    book.replaceAll(alarms);
    drawBorderAlarms(border || []);
  } catch (error) {
    book.replaceAll([...book.alarms.values()]);
    showError(error);
    return;
  }
  drawAlarms();
  const selected = state.selected && book.get(state.selected);
  if (selected) detail.show(selected);
}

/** Selects an alarm in the queue, on the map and in the detail panel. */
async function select(id) {
  state.selected = id;
  queue.select(id);
  markers.select(id);
  drawMarkers(); // restyles the previous and the new selection
  markers.reveal(id);
  history.replaceState(null, "", HASH_PREFIX + encodeURIComponent(id));
  const alarm = book.get(id);
  if (alarm) {
    detail.show(alarm);
    byId("alarm-detail").scrollIntoView({ block: "nearest" });
    return;
  }
  // An alarm no longer active (a link from before): show it as it ended.
  try {
    const answer = await getJson(`/api/alarms/${encodeURIComponent(id)}`);
    if (state.selected === id) detail.show(answer.alarm);
  } catch (error) {
    showError(error);
  }
}

function deselect() {
  state.selected = null;
  queue.select(null);
  markers.select(null);
  drawMarkers();
  detail.hide();
  history.replaceState(null, "", location.pathname + location.search);
}

function selectFromAddress() {
  if (!location.hash.startsWith(HASH_PREFIX)) return;
  select(decodeURIComponent(location.hash.slice(HASH_PREFIX.length)));
}

// -- officers and stations -------------------------------------------------------

async function loadOfficers() {
  try {
    const { officers: list } = await getJson("/api/officers");
    officers.load(list);
  } catch (error) {
    showError(error);
  }
}

/** A function calling `fn` once, `ms` after the first of any calls meanwhile. */
function debounced(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}

const scheduleRosterRefresh = debounced(() => loadOfficers(), ROSTER_DEBOUNCE_MS);

function showStations(stations) {
  const layers = [];
  for (const station of stations) {
    const name = localName(station);
    if (station.zone) {
      layers.push(addArea(map, station.zone, ZONE_STYLE, name));
    }
    if (station.location) {
      addPin(map, station.location, {
        title: name,
        lines: [name, station.address, station.phone].filter(Boolean),
      });
    }
  }
  fitLayers(map, layers);
}

async function loadStations() {
  try {
    const { stations } = await getJson("/api/stations");
    labels.setStations(stations);
    showStations(stations);
  } catch (error) {
    showError(error);
  }
}

// A tenant may have its own category list; the built-in names cover the rest.
async function loadCategories() {
  try {
    const { tenant } = await getJson("/api/tenant");
    labels.setCategories((tenant.settings || {}).categories);
  } catch (error) {
    showError(error);
  }
}

// -- live updates ------------------------------------------------------------------

const scheduleBorderRefresh = debounced(() => loadAlarms(), BORDER_DEBOUNCE_MS);

function onEvent(name, payload) {
  if (name === "border.changed") {
    scheduleBorderRefresh();
  } else if (name === "officers.moved") {
    if (!officers.applyMoves(payload.officers || [])) scheduleRosterRefresh();
  } else if (name.startsWith("alarm.")) {
    applyAlarm(payload, name);
  } else if (name.startsWith("muster.")) {
    musters.apply(name, payload);
  }
}

function connectRealtime(user) {
  if (!realtimeSupported()) {
    setStatus(status, t("rt.unsupported"), "warning");
    setInterval(() => {
      loadAlarms();
      loadOfficers();
    }, POLL_MS);
  }
  const client = new RealtimeClient({
    onState: connectionIndicator(byId("connection")),
  });
  client.subscribe(`command:${user.tenant_id}`, {
    onEvent,
    onReload: () => {
      loadAlarms();
      loadOfficers();
      musters.load();
    },
    onError: (message) => setStatus(status, message, "error"),
  });
  client.start();
}

async function start() {
  byId("detail-dismiss").addEventListener("click", deselect);
  // Subscribe first: events that arrive while the snapshot loads are merged.
  connectRealtime(currentUser());
  // Names first, so the first drawing of the queue already uses them.
  await Promise.all([loadCategories(), loadStations()]);
  await Promise.all([loadAlarms(), loadOfficers(), musters.load()]);
  selectFromAddress();
  setInterval(tick, TICK_MS);
  setInterval(loadAlarms, BORDER_POLL_MS);
}

start();

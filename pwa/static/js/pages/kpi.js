// The assessment board (考核): offers, claims, arrivals and ratings per
// officer or per station over a period. The server computes and sorts the
// rows; this page asks for a period, a grouping and a sort, and keeps them in
// the address so that a board can be bookmarked or sent on.

import { errorText, getJson } from "../api.js";
import { localName, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { startPage } from "../shell.js";
import { KpiTable, defaultOrder } from "../kpi-table.js";

const PARAMS = ["from", "to", "group", "sort", "order"];

const form = byId("kpi-form");
const status = byId("page-status");
const stations = new Map();
const table = new KpiTable(
  { head: byId("kpi-head"), body: byId("kpi-rows") },
  sortBy,
);
// What the board shows; empty values leave the choice to the server.
const wanted = Object.fromEntries(
  PARAMS.map((name) => [
    name,
    new URLSearchParams(location.search).get(name) || "",
  ]),
);
let loadSeq = 0;

function stationName(id) {
  const station = stations.get(id);
  return station ? localName(station) : id;
}

function query() {
  const params = new URLSearchParams();
  for (const name of PARAMS) if (wanted[name]) params.set(name, wanted[name]);
  return params.toString();
}

/**
 * Puts the answer's period and grouping back into the form, and into the
 * address once the user chose something (a bare /kpi stays "the last days").
 */
function reflect(board, remember) {
  Object.assign(wanted, {
    from: board.from,
    to: board.to,
    group: board.group,
    sort: board.sort,
    order: board.order,
  });
  byId("kpi-from").value = board.from;
  byId("kpi-to").value = board.to;
  for (const radio of form.elements.group)
    radio.checked = radio.value === board.group;
  if (remember) {
    const params = new URLSearchParams(location.search);
    for (const name of PARAMS) params.set(name, wanted[name]);
    history.replaceState(null, "", `${location.pathname}?${params}`);
  }
  byId("kpi-summary").textContent = t("kpi.summary", {
    from: board.from,
    to: board.to,
    timezone: board.timezone || "",
    count: board.rows.length,
  });
}

async function load(remember = true) {
  const seq = ++loadSeq;
  const tableElement = byId("kpi-table");
  tableElement.setAttribute("aria-busy", "true");
  try {
    const board = await getJson(`/api/kpi?${query()}`);
    if (seq !== loadSeq) return; // a newer request is on its way
    setStatus(status, "");
    table.draw(board, stationName);
    reflect(board, remember);
  } catch (error) {
    if (seq === loadSeq) setStatus(status, errorText(error), "error");
  } finally {
    if (seq === loadSeq) tableElement.setAttribute("aria-busy", "false");
  }
}

/** A click on a header: that column, or the other way round if it is sorted. */
function sortBy(field) {
  if (wanted.sort === field) {
    wanted.order = wanted.order === "asc" ? "desc" : "asc";
  } else {
    wanted.sort = field;
    wanted.order = defaultOrder(field);
  }
  load();
}

function readForm() {
  wanted.from = byId("kpi-from").value;
  wanted.to = byId("kpi-to").value;
  wanted.group = form.elements.group.value || "officer";
  // Sorting by station makes no sense per station; names always do.
  if (wanted.group === "station" && wanted.sort === "station_id")
    wanted.sort = "name";
}

async function loadStations() {
  try {
    const answer = await getJson("/api/stations");
    for (const station of answer.stations) stations.set(station.id, station);
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  readForm();
  load();
});
for (const radio of form.elements.group) {
  radio.addEventListener("change", () => {
    readForm();
    load();
  });
}

startPage();
loadStations().then(() => load(PARAMS.some((name) => wanted[name])));

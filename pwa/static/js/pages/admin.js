// Agency administration: the stations and the accounts of this agency, with a
// way to disable an account. Editing arrives with later issues.

import { errorText, getJson, postJson } from "../api.js";
import { currentUser, joinList, localName, t } from "../config.js";
import { byId, el, setStatus } from "../dom.js";
import { startExpertReview } from "../expert-review.js";
import { startPage } from "../shell.js";

function cell(text) {
  return el("td", {}, text == null ? "" : String(text));
}

/** Replaces a table's body with rows, or one "nothing here" row. */
function fillTable(table, rows) {
  const columns = table.tHead.rows[0].cells.length;
  const empty = el(
    "tr",
    {},
    el("td", { colspan: String(columns), class: "muted" }, t("common.empty")),
  );
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
}

function stationRow(station) {
  return el(
    "tr",
    {},
    cell(localName(station)),
    cell(station.address),
    cell(station.phone),
  );
}

function statusCell(user) {
  const key = user.disabled ? "admin.user.disabled" : "admin.user.active";
  const badge = el(
    "span",
    { class: user.disabled ? "badge badge-muted" : "badge badge-ok" },
    t(key),
  );
  return el("td", {}, badge);
}

function actionCell(user) {
  const td = el("td");
  // No button on one's own row: disabling yourself locks you out mid-session.
  if (user.disabled || user.id === currentUser().id) return td;
  const button = el(
    "button",
    { type: "button", class: "btn btn-danger btn-small" },
    t("admin.user.disable"),
  );
  button.addEventListener("click", () => disableUser(user, button));
  td.append(button);
  return td;
}

function userRow(user, stationsById) {
  const station = stationsById.get(user.station_id);
  return el(
    "tr",
    { "data-user-id": user.id },
    cell(user.username),
    cell(user.name),
    cell(joinList((user.roles || []).map((role) => t("role." + role)))),
    cell(station ? localName(station) : ""),
    statusCell(user),
    actionCell(user),
  );
}

async function disableUser(user, button) {
  const name = user.name || user.username;
  if (!window.confirm(t("admin.user.disable_confirm", { name }))) return;
  button.disabled = true;
  try {
    await postJson(`/api/users/${encodeURIComponent(user.id)}/disable`);
    await loadTables();
  } catch (error) {
    button.disabled = false;
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

async function loadTables() {
  try {
    const [{ stations }, { users }] = await Promise.all([
      getJson("/api/stations"),
      getJson("/api/users"),
    ]);
    const stationsById = new Map(
      stations.map((station) => [station.id, station]),
    );
    fillTable(byId("stations"), stations.map(stationRow));
    fillTable(
      byId("users"),
      users.map((user) => userRow(user, stationsById)),
    );
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

startPage();
loadTables();
startExpertReview();

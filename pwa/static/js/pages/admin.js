// Agency administration: stations and their zones, accounts and roles, the
// dispatch settings, grants to other agencies; and, for platform admins,
// onboarding an agency. Plain forms over the JSON API.

import { errorText, getJson, postJson, request } from "../api.js";
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
    fillStationChoices(stations);
    fillRolesChoices(users);
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

// -- forms ---------------------------------------------------------------------

/** The checked values of a form's checkboxes called `name`. */
function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map(
    (input) => input.value,
  );
}

/** Runs `work` for a submitted form, reporting errors in `status`. */
function onSubmit(form, status, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    setStatus(status, "");
    try {
      await work(new FormData(form));
    } catch (error) {
      setStatus(status, errorText(error), "error");
    } finally {
      button.disabled = false;
    }
  });
}

/** Parses GeoJSON typed or pasted by an admin; null with a message if bad. */
function parseGeoJson(text, status, badKey) {
  try {
    return JSON.parse(text);
  } catch {
    setStatus(status, t(badKey), "error");
    return null;
  }
}

function fillStationChoices(stations) {
  const select = byId("account-form").querySelector("select[name=station_id]");
  select.replaceChildren(
    el("option", { value: "" }, "—"),
    ...stations.map((s) => el("option", { value: s.id }, localName(s))),
  );
}

function fillRolesChoices(users) {
  const select = byId("roles-user");
  const others = users.filter((u) => u.id !== currentUser().id && !u.disabled);
  select.replaceChildren(
    ...others.map((u) =>
      el("option", { value: u.id }, `${u.name || ""} (${u.username})`),
    ),
  );
  select.dataset.roles = JSON.stringify(
    Object.fromEntries(others.map((u) => [u.id, u.roles])),
  );
  showRolesOf(select.value);
}

function showRolesOf(userId) {
  const roles = JSON.parse(byId("roles-user").dataset.roles || "{}")[userId];
  for (const box of byId("roles-form").querySelectorAll("input[name=roles]")) {
    box.checked = Boolean(roles && roles.includes(box.value));
  }
}

function startAccountForms() {
  const form = byId("account-form");
  const status = byId("account-status");
  onSubmit(form, status, async (data) => {
    const roles = checked(form, "roles");
    if (!roles.length) {
      setStatus(status, t("admin.account.roles_required"), "error");
      return;
    }
    const { account } = await postJson("/api/users", {
      username: data.get("username").trim().toLowerCase(),
      name: data.get("name"),
      roles,
      station_id: data.get("station_id") || null,
    });
    form.reset();
    // The first password exists only in this answer: shown here, once.
    setStatus(
      status,
      t("admin.account.created", {
        username: account.username,
        password: account.password,
      }),
      "warning",
    );
    await loadTables();
  });
  const rolesForm = byId("roles-form");
  const rolesStatus = byId("roles-status");
  byId("roles-user").addEventListener("change", (event) =>
    showRolesOf(event.target.value),
  );
  onSubmit(rolesForm, rolesStatus, async (data) => {
    const roles = checked(rolesForm, "roles");
    if (!roles.length) {
      setStatus(rolesStatus, t("admin.account.roles_required"), "error");
      return;
    }
    const userId = data.get("user_id");
    const { user } = await request(`/api/users/${encodeURIComponent(userId)}`, {
      method: "PATCH",
      body: { roles },
    });
    setStatus(rolesStatus, t("admin.roles.saved", { name: user.name || user.username }));
    await loadTables();
  });
}

async function loadSettings() {
  const form = byId("settings-form");
  const { tenant } = await getJson("/api/tenant");
  const settings = tenant.settings;
  form.elements.hours_start.value = settings.service_hours.start;
  form.elements.hours_end.value = settings.service_hours.end;
  for (const name of NUMBER_SETTINGS) form.elements[name].value = settings[name];
  form.elements.muster_off_duty.value = settings.muster_off_duty || "last_position";
}

const NUMBER_SETTINGS = [
  "claim_window_s",
  "offer_radius_m",
  "offer_radius_step_m",
  "offer_radius_max_m",
  "position_max_age_s",
];

function startSettingsForm() {
  const form = byId("settings-form");
  const status = byId("settings-status");
  onSubmit(form, status, async (data) => {
    const body = {
      service_hours: { start: data.get("hours_start"), end: data.get("hours_end") },
    };
    for (const name of NUMBER_SETTINGS) body[name] = Number(data.get(name));
    body.muster_off_duty = data.get("muster_off_duty");
    await request("/api/tenant/settings", { method: "PATCH", body });
    setStatus(status, t("admin.settings.saved"));
  });
  loadSettings().catch((error) => setStatus(status, errorText(error), "error"));
}

function startStationForm() {
  const form = byId("station-form");
  const status = byId("station-status");
  byId("station-zone-file").addEventListener("change", async (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) byId("station-zone").value = await file.text();
  });
  onSubmit(form, status, async (data) => {
    const zone = parseGeoJson(data.get("zone"), status, "admin.station.bad_json");
    if (!zone) return;
    const { station } = await postJson("/api/stations", {
      name: data.get("name"),
      address: data.get("address") || null,
      phone: data.get("phone") || null,
      location: {
        type: "Point",
        coordinates: [Number(data.get("lon")), Number(data.get("lat"))],
      },
      zone,
    });
    form.reset();
    setStatus(status, t("admin.station.created", { name: station.name }));
    await loadTables();
  });
}

// -- grants ------------------------------------------------------------------

function grantRow(grant, given) {
  const other = given ? grant.grantee : grant.grantor;
  const actions = el("td");
  if (given && (grant.state === "active" || grant.state === "scheduled")) {
    const button = el(
      "button",
      { type: "button", class: "btn btn-danger btn-small" },
      t("admin.grants.revoke"),
    );
    button.addEventListener("click", () => revokeGrant(grant, other, button));
    actions.append(button);
  }
  return el(
    "tr",
    { "data-grant-id": grant.id },
    cell(t(given ? "admin.grants.given" : "admin.grants.received")),
    cell(other.name || other.id),
    cell(t("admin.grants.kind." + grant.kind)),
    cell(new Date(grant.ends_at).toLocaleDateString()),
    cell(t("admin.grants.state." + grant.state)),
    actions,
  );
}

async function revokeGrant(grant, other, button) {
  const name = other.name || other.id;
  if (!window.confirm(t("admin.grants.revoke_confirm", { name }))) return;
  button.disabled = true;
  try {
    await postJson(`/api/grants/${encodeURIComponent(grant.id)}/revoke`);
    await loadGrants();
  } catch (error) {
    button.disabled = false;
    setStatus(byId("grants-status"), errorText(error), "error");
  }
}

async function loadGrants() {
  try {
    const { given, received } = await getJson("/api/grants");
    fillTable(byId("grants"), [
      ...given.map((g) => grantRow(g, true)),
      ...received.map((g) => grantRow(g, false)),
    ]);
  } catch (error) {
    setStatus(byId("grants-status"), errorText(error), "error");
  }
}

function startGrantForm() {
  const form = byId("grant-form");
  const status = byId("grants-status");
  onSubmit(form, status, async (data) => {
    const body = {
      grantee_id: data.get("grantee_id").trim(),
      kind: data.get("kind"),
      // The end of the chosen day, in the admin's own time zone.
      ends_at: new Date(`${data.get("ends_on")}T23:59:59`).toISOString(),
    };
    if (data.get("zone").trim()) {
      body.zone = parseGeoJson(data.get("zone"), status, "admin.station.bad_json");
      if (!body.zone) return;
    }
    await postJson("/api/grants", body);
    form.reset();
    setStatus(status, t("admin.grants.created"));
    await loadGrants();
  });
  loadGrants();
}

// -- platform admins: onboarding -------------------------------------------------

function tenantRow(tenant) {
  return el(
    "tr",
    {},
    cell(tenant.id),
    cell(localName(tenant)),
    cell(t("admin.kind." + tenant.kind)),
    cell(tenant.timezone),
  );
}

async function loadTenants() {
  const { tenants } = await getJson("/api/platform/tenants");
  fillTable(byId("tenants"), tenants.map(tenantRow));
}

function onboardingBody(data, territory) {
  const body = {
    id: data.get("id").trim(),
    name: data.get("name"),
    name_en: data.get("name_en") || null,
    kind: data.get("kind"),
    timezone: data.get("timezone").trim(),
    territory,
    contact: {
      name: data.get("contact_name"),
      phone: data.get("contact_phone") || null,
      email: data.get("contact_email") || null,
    },
  };
  if (data.get("admin_username").trim()) {
    body.admin = {
      username: data.get("admin_username").trim().toLowerCase(),
      name: data.get("admin_name") || data.get("admin_username"),
    };
  }
  return body;
}

function startPlatformAdmin() {
  byId("agency-admin").hidden = true;
  byId("platform-admin").hidden = false;
  const form = byId("onboard-form");
  const status = byId("onboard-status");
  onSubmit(form, status, async (data) => {
    const territory = parseGeoJson(
      data.get("territory"),
      status,
      "admin.onboard.bad_json",
    );
    if (!territory) return;
    const answer = await postJson(
      "/api/platform/tenants",
      onboardingBody(data, territory),
    );
    form.reset();
    let text = t("admin.onboard.done", { id: answer.tenant.id });
    if (answer.account) {
      text +=
        " " +
        t("admin.account.created", {
          username: answer.account.username,
          password: answer.account.password,
        });
    }
    setStatus(status, text, answer.account ? "warning" : "info");
    await loadTenants();
  });
  loadTenants().catch((error) => setStatus(status, errorText(error), "error"));
}

function startAgencyAdmin() {
  loadTables();
  startAccountForms();
  startStationForm();
  startSettingsForm();
  startGrantForm();
  startExpertReview();
}

startPage();
const roles = currentUser().roles || [];
if (roles.includes("platform_admin") && !roles.includes("admin")) {
  startPlatformAdmin();
} else {
  startAgencyAdmin();
}

// The admin page's expert section: applications to approve, reject (with a
// reason) or ask more of, and the agency's experts to suspend or reinstate.
// Every decision shows who made it and when.

import { errorText, getJson, postJson } from "./api.js";
import { currentUser, joinList, t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import {
  availabilityBadge,
  categoryName,
  decisionLine,
  loadCategories,
} from "./expert-format.js";

const OPEN = new Set(["pending", "more_info"]);
let categories = new Map();

function cell(...children) {
  return el("td", {}, ...children);
}

function fill(table, rows) {
  const columns = table.tHead.rows[0].cells.length;
  const empty = el(
    "tr",
    {},
    el("td", { colspan: String(columns), class: "muted" }, t("common.empty")),
  );
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
}

function button(label, tone, onClick) {
  const element = el(
    "button",
    { type: "button", class: "btn btn-small " + tone },
    label,
  );
  element.addEventListener("click", () => onClick(element));
  return element;
}

function applicantCell(application) {
  const contact = application.contact || {};
  const lines = [contact.phone, contact.email].filter(Boolean);
  return cell(
    el("strong", {}, application.name || ""),
    ...lines.map((line) => el("div", { class: "muted" }, line)),
  );
}

function statusCell(application) {
  const label = t("apply_status." + application.status);
  const record = el(
    "ul",
    { class: "decision-list" },
    ...application.decisions.map(decisionLine),
  );
  return cell(el("span", { class: "badge" }, label), record);
}

function actionsCell(application) {
  if (!OPEN.has(application.status)) return cell();
  const decide = (decision) => (element) =>
    decideApplication(application, decision, element);
  return cell(
    el(
      "div",
      { class: "review-actions" },
      button(t("decision.approve"), "btn-primary", decide("approve")),
      button(t("decision.more_info"), "btn-outline", decide("more_info")),
      button(t("decision.reject"), "btn-danger", decide("reject")),
    ),
  );
}

function applicationRow(application) {
  return el(
    "tr",
    { "data-application-id": application.id },
    cell(application.reference),
    applicantCell(application),
    cell(
      categoryName(categories, application.category),
      el("div", { class: "muted" }, joinList(application.skills || [])),
    ),
    cell(application.qualifications || ""),
    statusCell(application),
    actionsCell(application),
  );
}

async function decideApplication(application, decision, element) {
  let reason = null;
  if (decision !== "approve") {
    reason = window.prompt(t("admin.apps.reason_prompt"));
    if (reason === null) return;
  }
  element.disabled = true;
  const status = byId("review-status");
  try {
    const answer = await postJson(
      `/api/admin/expert-applications/${encodeURIComponent(application.id)}/decision`,
      { decision, reason },
    );
    if (answer.account) {
      // Shown once: the server keeps only the hash.
      setStatus(status, t("admin.apps.account", answer.account), "warning");
    } else {
      setStatus(status, "");
    }
    await loadReview();
  } catch (error) {
    element.disabled = false;
    setStatus(status, errorText(error), "error");
  }
}

function expertRow(expert) {
  const name = expert.name || "";
  const action = expert.suspended
    ? button(t("admin.experts.reinstate"), "btn-outline", (element) =>
        suspend(expert, "reinstate", element),
      )
    : button(t("admin.experts.suspend"), "btn-danger", (element) =>
        suspend(expert, "suspend", element),
      );
  const state = expert.suspended
    ? el("span", { class: "badge badge-muted" }, t("admin.experts.suspended"))
    : availabilityBadge(expert.availability);
  return el(
    "tr",
    { "data-expert-id": expert.id },
    cell(name),
    cell(categoryName(categories, expert.category)),
    cell(state),
    cell(action),
  );
}

async function suspend(expert, action, element) {
  let reason = null;
  if (action === "suspend") {
    reason = window.prompt(
      t("admin.experts.suspend_prompt", { name: expert.name || "" }),
    );
    if (reason === null) return;
  }
  element.disabled = true;
  try {
    await postJson(
      `/api/admin/experts/${encodeURIComponent(expert.id)}/${action}`,
      { reason },
    );
    await loadReview();
  } catch (error) {
    element.disabled = false;
    setStatus(byId("review-status"), errorText(error), "error");
  }
}

async function loadReview() {
  const status = byId("apps-filter").value;
  const query = status ? "?status=" + encodeURIComponent(status) : "";
  try {
    const [{ applications }, { experts }] = await Promise.all([
      getJson("/api/admin/expert-applications" + query),
      getJson("/api/experts"),
    ]);
    fill(byId("applications"), applications.map(applicationRow));
    fill(byId("experts"), experts.map(expertRow));
  } catch (error) {
    setStatus(byId("review-status"), errorText(error), "error");
  }
}

/** Loads the expert section; only an agency admin reviews applications. */
export async function startExpertReview() {
  const section = byId("expert-review");
  const user = currentUser();
  if (!user || !user.roles.includes("admin")) {
    section.hidden = true;
    return;
  }
  byId("apps-filter").addEventListener("change", loadReview);
  try {
    categories = await loadCategories(user.tenant_id);
  } catch (error) {
    setStatus(byId("review-status"), errorText(error), "error");
  }
  await loadReview();
}

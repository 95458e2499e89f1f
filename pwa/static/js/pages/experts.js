// The expert directory for officers and commanders: filter by field and
// skill, see who is available and how often each expert has consulted.

import { errorText, getJson } from "../api.js";
import { currentUser, joinList, t } from "../config.js";
import { byId, el, setStatus } from "../dom.js";
import {
  availabilityBadge,
  categoryName,
  fillCategorySelect,
  loadCategories,
} from "../expert-format.js";
import { startPage } from "../shell.js";

let categories = new Map();

function cell(...children) {
  return el("td", {}, ...children);
}

function expertRow(expert) {
  return el(
    "tr",
    { "data-expert-id": expert.id },
    cell(expert.name || ""),
    cell(categoryName(categories, expert.category)),
    cell(joinList(expert.skills || [])),
    cell(expert.organisation || ""),
    cell(availabilityBadge(expert.availability)),
    cell(String(expert.consultations)),
  );
}

function showExperts(experts) {
  const table = byId("experts");
  const empty = el(
    "tr",
    {},
    el("td", { colspan: "6", class: "muted" }, t("common.empty")),
  );
  const rows = experts.map(expertRow);
  table.tBodies[0].replaceChildren(...(rows.length ? rows : [empty]));
}

async function search(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  const category = byId("filter-category").value;
  const skill = byId("filter-skill").value.trim();
  if (category) params.set("category", category);
  if (skill) params.set("skill", skill);
  try {
    const { experts } = await getJson("/api/experts?" + params.toString());
    showExperts(experts);
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
}

async function start() {
  startPage();
  byId("expert-filter").addEventListener("submit", search);
  try {
    categories = await loadCategories(currentUser().tenant_id);
    fillCategorySelect(byId("filter-category"), categories);
  } catch (error) {
    setStatus(byId("page-status"), errorText(error), "error");
  }
  await search();
}

start();

// Shared by the expert pool's pages: category names in the page's language,
// availability badges and the record of decisions.

import { getJson } from "./api.js";
import { config, t } from "./config.js";
import { el } from "./dom.js";

/** The agency's expert categories as a Map of code to {code, zh, en}. */
export async function loadCategories(tenantId) {
  const query = tenantId ? "?tenant=" + encodeURIComponent(tenantId) : "";
  const { categories } = await getJson("/api/expert-categories" + query);
  return new Map(categories.map((category) => [category.code, category]));
}

/** A category's name in the page's language (its code if unknown). */
export function categoryName(categories, code) {
  const category = categories.get(code);
  if (!category) return code || "";
  return config().lang === "en" ? category.en : category.zh;
}

/** Options for a <select> of categories, after any options it already has. */
export function fillCategorySelect(select, categories) {
  for (const code of categories.keys()) {
    select.append(el("option", { value: code }, categoryName(categories, code)));
  }
}

const AVAILABILITY_TONE = { available: "badge-ok", busy: "badge-busy" };

/** A badge for an expert's availability. */
export function availabilityBadge(availability) {
  const tone = AVAILABILITY_TONE[availability] || "badge-muted";
  return el(
    "span",
    { class: "badge " + tone, "data-availability": availability },
    t("availability." + availability),
  );
}

/** A short local date and time. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(config().lang === "en" ? "en-GB" : "zh-CN", {
    dateStyle: "short",
    timeStyle: "short",
  });
}

/** One line of the record: what was decided, by whom and when, and why. */
export function decisionLine(decision) {
  const text = t("decision.entry", {
    decision: t("decision." + decision.decision),
    name: (decision.by && decision.by.name) || "",
    at: formatTime(decision.at),
  });
  const item = el("li", {}, text);
  if (decision.reason) {
    item.append(el("span", { class: "muted expert-reason" }, decision.reason));
  }
  return item;
}

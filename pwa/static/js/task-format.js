// Shared wording of the task board: times, skills, sign-up states, and the
// agency's specialty vocabulary (fetched once with the agency's settings).

import { getJson } from "./api.js";
import { config, joinList, t } from "./config.js";
import { el } from "./dom.js";

let vocabulary = [];

/** Loads the agency's specialties ({code, zh, en}); resolves with them. */
export async function loadVocabulary() {
  const { tenant } = await getJson("/api/tenant");
  vocabulary = ((tenant && tenant.settings) || {}).specialties || [];
  return vocabulary;
}

export function skillName(code) {
  const found = vocabulary.find((item) => item.code === code);
  if (!found) return code;
  return (config().lang === "en" ? found.en : found.zh) || code;
}

/** Options for a <select> of skills, after the ones already in it. */
export function fillSkillSelect(select) {
  for (const item of vocabulary) {
    select.append(el("option", { value: item.code }, skillName(item.code)));
  }
}

/** A checkbox per skill in `box`, named `name`, `chosen` ticked. */
export function fillSkillChoices(box, name, chosen = []) {
  box.replaceChildren(
    ...vocabulary.map((item) => {
      const input = el("input", { type: "checkbox", name, value: item.code });
      input.checked = chosen.includes(item.code);
      return el("label", { class: "check-line" }, input, el("span", {}, skillName(item.code)));
    }),
  );
}

export function checkedValues(box) {
  return [...box.querySelectorAll("input:checked")].map((input) => input.value);
}

function locale() {
  return config().lang === "en" ? "en-GB" : "zh-CN";
}

/** "12月5日 09:00" / "5 Dec, 09:00" in the browser's time zone. */
export function formatWhen(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString(locale(), {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export function formatPeriod(task) {
  return `${formatWhen(task.starts_at)} – ${formatWhen(task.ends_at)}`;
}

/** A datetime-local input's value as an ISO time the server takes. */
export function isoFromInput(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function skillBadges(codes) {
  return codes.map((code) => el("span", { class: "badge" }, skillName(code)));
}

/** The state of a sign-up in words, with its waiting place if any. */
export function stateText(entry) {
  const state = t("tasks.state." + entry.state);
  if (entry.state === "waiting" && entry.position) {
    return `${state} · ${t("tasks.position", { n: entry.position })}`;
  }
  return state;
}

export function figures(task) {
  const parts = [t("tasks.places", { held: task.held, needed: task.needed })];
  if (task.waiting) parts.push(t("tasks.waiting", { n: task.waiting }));
  return parts.join(" · ");
}

export function overlapText(overlaps) {
  return t("tasks.overlap", { titles: joinList(overlaps.map((o) => o.title)) });
}

export function distanceText(person) {
  if (person.distance_m === null || person.distance_m === undefined) {
    return t("tasks.distance.unknown");
  }
  return t("tasks.distance", { km: (person.distance_m / 1000).toFixed(1) });
}

/** The task id in the address (#task=<id>), set by a notification's tap. */
export function taskInAddress(url = location.href) {
  const match = /#task=([\w-]+)$/.exec(url);
  return match ? match[1] : null;
}

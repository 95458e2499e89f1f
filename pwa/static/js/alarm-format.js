// Words and numbers about alarms, shared by the citizen's and the officer's
// views: category names, distances, arrival times and clock times.

import { config, hasMessage, t } from "./config.js";

// The statuses in which an alarm still needs someone (server/alarms.py ACTIVE).
export const ACTIVE_STATUSES = new Set([
  "offering",
  "escalated",
  "assigned",
  "en_route",
  "arrived",
]);
// While these hold, the citizen sees their officer move (server TRACKED).
export const TRACKED_STATUSES = new Set(["assigned", "en_route", "arrived"]);

let knownCategories = [];

/** Category names from the server ({code, zh, en}) win over built-in ones. */
export function useCategories(categories) {
  if (Array.isArray(categories) && categories.length) {
    knownCategories = categories;
  }
}

/** A category code in the page's language (the code itself if unknown). */
export function categoryName(code) {
  const found = knownCategories.find((category) => category.code === code);
  if (found) return found[config().lang] || found.zh || code;
  const key = "alarm.category." + code;
  return hasMessage(key) ? t(key) : code;
}

/** "850 米" / "1.3 km". */
export function formatDistance(meters) {
  const whole = Math.max(0, Math.round(Number(meters) || 0));
  if (whole < 1000) return t("alarm.distance.m", { n: whole });
  return t("alarm.distance.km", { n: (whole / 1000).toFixed(1) });
}

/** "about 3 min" from seconds; never less than a minute. */
export function formatEta(seconds) {
  const minutes = Math.max(1, Math.ceil((Number(seconds) || 0) / 60));
  return t("alarm.eta", { n: minutes });
}

/** The clock time (HH:MM:SS) of an ISO timestamp or Date, or "". */
export function formatClock(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const locale = config().lang === "en" ? "en-GB" : "zh-CN";
  return date.toLocaleTimeString(locale, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Where an alarm is, in words: its address, or its coordinates without one. */
export function placeText(alarm) {
  if (alarm.address) return alarm.address;
  const [lon, lat] = alarm.location.coordinates;
  return t("alarm.place.coordinates", {
    lat: lat.toFixed(5),
    lon: lon.toFixed(5),
  });
}

/** Milliseconds since the epoch of an ISO timestamp (NaN if missing). */
export function timeOf(value) {
  return value ? Date.parse(value) : NaN;
}

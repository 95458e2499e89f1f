// Names the command room shows for codes and ids: alarm categories,
// statuses, stations, the actors of an alarm's history, distances.

import { config, hasMessage, localName, t } from "./config.js";

/** Looks up display names; fed by the tenant and station lists. */
export class CommandLabels {
  constructor() {
    this.categories = new Map(); // code → {zh, en}
    this.stations = new Map(); // id → station
  }

  /** The tenant's own category list, when it customised one. */
  setCategories(categories) {
    this.categories = new Map((categories || []).map((c) => [c.code, c]));
  }

  setStations(stations) {
    this.stations = new Map(stations.map((s) => [s.id, s]));
  }

  category(code) {
    const custom = this.categories.get(code);
    if (custom) return custom[config().lang] || custom.zh || code;
    const key = "command.category." + code;
    return hasMessage(key) ? t(key) : code;
  }

  /** A station's name from its id, or from a {id, name} reference. */
  station(reference) {
    if (!reference) return "";
    const id = typeof reference === "string" ? reference : reference.id;
    const station = this.stations.get(id);
    if (station) return localName(station);
    return (typeof reference === "object" && reference.name) || id || "";
  }

  status(status) {
    const key = "command.status." + status;
    return hasMessage(key) ? t(key) : status;
  }

  /** How the citizen gave the place: GPS, a pin on the map, a plate. */
  source(source) {
    const key = "command.source." + source;
    return hasMessage(key) ? t(key) : source || "";
  }

  /** Who did a step in the history: a name, or "system" / "citizen". */
  actor(actor) {
    if (!actor || actor.kind === "system") return t("command.actor.system");
    if (actor.kind === "citizen") return t("command.actor.citizen");
    return actor.name || t("command.actor.staff");
  }
}

/** "350 m" or "1.2 km"; "position unknown" for null. */
export function distanceText(metres) {
  if (metres === null || metres === undefined) {
    return t("command.distance.unknown");
  }
  if (metres < 1000) return t("command.distance.m", { n: Math.round(metres) });
  return t("command.distance.km", { n: (metres / 1000).toFixed(1) });
}

/** A local time such as 14:05:09 (with the date when not today). */
export function clockTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const locale = config().lang === "zh" ? "zh-CN" : "en-GB";
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (date.toDateString() !== new Date().toDateString()) {
    Object.assign(options, { month: "numeric", day: "numeric" });
  }
  return date.toLocaleString(locale, { hour12: false, ...options });
}

// Officers in the command room: a dot per located officer on the map and a
// roster beside it, both kept current from the `officers.moved` feed. A full
// roster comes over HTTP at start and after a reload; each move then updates
// one officer in place, and the age of every position keeps counting.

import { config, t } from "./config.js";
import { el, formatAge } from "./dom.js";
import { addDot, displayLatLng } from "./map.js";
import { epochMs } from "./command-alarms.js";

// Officers' apps report while open (about every few seconds); a position older
// than five minutes means the app is closed and the officer may have moved.
const STALE_AFTER_S = 300;

// Kept in step with the .swatch-* colours in app.css.
const DUTY_COLOURS = { on: "#15803d", busy: "#c2410c", off: "#6b7280" };
// Who can be sent first: on duty, then busy, then off; by name within each.
const DUTY_ORDER = { on: 0, busy: 1, off: 2 };

/** The officer's duty, read as "off" when the server sends something new. */
function dutyOf(officer) {
  return officer.duty in DUTY_COLOURS ? officer.duty : "off";
}

function ageOf(officer, now) {
  return officer.positionAt === null ? null : (now - officer.positionAt) / 1000;
}

function isStale(officer, now) {
  const age = ageOf(officer, now);
  return age === null || age > STALE_AFTER_S;
}

function dotStyle(officer, now) {
  const colour = DUTY_COLOURS[dutyOf(officer)];
  const stale = isStale(officer, now);
  return {
    radius: 8,
    color: colour,
    weight: 2,
    fillColor: colour,
    fillOpacity: stale ? 0.15 : 0.85,
    dashArray: stale ? "3 3" : null,
  };
}

function positionText(officer, now) {
  if (!officer.position) return t("command.position.none");
  const age = formatAge(ageOf(officer, now) || 0);
  return t("command.position.age", { age });
}

function metaText(officer, now) {
  return `${t("duty." + dutyOf(officer))} · ${positionText(officer, now)}`;
}

function rosterOrder(a, b) {
  const byDuty = DUTY_ORDER[dutyOf(a)] - DUTY_ORDER[dutyOf(b)];
  return byDuty || String(a.name).localeCompare(String(b.name), config().lang);
}

/** The officers of the tenant, on the map and in the roster. */
export class OfficerBoard {
  constructor(map, { list, count }) {
    this.map = map;
    this.list = list;
    this.count = count;
    this.officers = new Map(); // id → {id, name, station_id, duty, position, positionAt}
    this.dots = new Map(); // id → Leaflet circle marker
    this.items = new Map(); // id → roster <li>
  }

  nameOf(id) {
    return (this.officers.get(id) || {}).name || "";
  }

  /**
   * Takes the roster from GET /api/officers. A position the feed brought
   * is kept when it is newer than the stored one (positions reach the
   * database in batches, so the roster may lag the feed).
   */
  load(officers, now = Date.now()) {
    const next = new Map();
    for (const officer of officers) {
      const age = officer.position_age_s;
      const fetched = {
        id: officer.id,
        name: officer.name,
        station_id: officer.station_id,
        duty: officer.duty,
        position: officer.position,
        positionAt: age === null || age === undefined ? null : now - age * 1000,
      };
      const known = this.officers.get(officer.id);
      const newer = known && known.positionAt > (fetched.positionAt ?? 0);
      if (newer && known.positionAt !== null) {
        fetched.position = known.position;
        fetched.positionAt = known.positionAt;
      }
      next.set(officer.id, fetched);
    }
    this.officers = next;
    this.drawAll(now);
  }

  /**
   * Applies one `officers.moved` batch; returns false when it names an
   * officer the roster does not know (the caller then reloads the roster).
   */
  applyMoves(moves, now = Date.now()) {
    let complete = true;
    let reorder = false;
    for (const move of moves) {
      const officer = this.officers.get(move.id);
      if (!officer) {
        complete = false;
        continue;
      }
      if (move.duty !== undefined && move.duty !== officer.duty) {
        officer.duty = move.duty;
        reorder = true;
      }
      if (move.position) {
        officer.position = move.position;
        officer.positionAt = epochMs(move.at) ?? now;
      }
      this.placeDot(officer, now);
      this.updateItem(officer, now);
    }
    if (reorder) this.drawRoster(now);
    return complete;
  }

  /** Refreshes every position's age (call every few seconds). */
  tick(now = Date.now()) {
    for (const officer of this.officers.values()) {
      const dot = this.dots.get(officer.id);
      if (dot) dot.setStyle(dotStyle(officer, now));
      this.updateItem(officer, now);
    }
  }

  drawAll(now) {
    for (const [id, dot] of this.dots) {
      const officer = this.officers.get(id);
      if (!officer || !officer.position) {
        dot.remove();
        this.dots.delete(id);
      }
    }
    for (const officer of this.officers.values()) this.placeDot(officer, now);
    this.drawRoster(now);
  }

  placeDot(officer, now) {
    if (!officer.position) return;
    const dot = this.dots.get(officer.id);
    if (dot) {
      dot.setLatLng(displayLatLng(officer.position));
      dot.setStyle(dotStyle(officer, now));
      return;
    }
    const added = addDot(this.map, officer.position, dotStyle(officer, now));
    // Built when opened, from the record of that moment (a roster reload
    // replaces the records), so name, duty and age are current.
    added.bindPopup(() => {
      const current = this.officers.get(officer.id) || officer;
      return el(
        "div",
        {},
        el("div", {}, current.name || ""),
        el("div", {}, t("duty." + dutyOf(current))),
        el("div", {}, positionText(current, Date.now())),
      );
    });
    this.dots.set(officer.id, added);
  }

  drawRoster(now) {
    const officers = [...this.officers.values()];
    const onDuty = officers.filter((o) => dutyOf(o) === "on").length;
    this.count.textContent = t("command.officers.count_on", {
      count: officers.length,
      on: onDuty,
    });
    this.items.clear();
    const items = officers
      .sort(rosterOrder)
      .map((o) => this.rosterItem(o, now));
    this.list.replaceChildren(...items);
  }

  rosterItem(officer, now) {
    const item = el(
      "li",
      { class: "roster-item", "data-officer-id": officer.id },
      el("span", { "aria-hidden": "true" }),
      el("span", { class: "roster-name" }, officer.name || ""),
      el("span", { class: "roster-meta" }),
    );
    item.addEventListener("click", () => this.reveal(officer.id));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.reveal(officer.id);
      }
    });
    this.items.set(officer.id, item);
    this.updateItem(officer, now);
    return item;
  }

  /** Brings one roster entry up to date (swatch, text, whether clickable). */
  updateItem(officer, now) {
    const item = this.items.get(officer.id);
    if (!item) return;
    const [swatch, , meta] = item.children;
    const kind = isStale(officer, now) ? "stale" : dutyOf(officer);
    const swatchClass = `swatch swatch-${kind}`;
    if (swatch.className !== swatchClass) swatch.className = swatchClass;
    const text = metaText(officer, now);
    if (meta.textContent !== text) meta.textContent = text;
    const located = this.dots.has(officer.id);
    if (located && !item.classList.contains("roster-item-located")) {
      // A roster entry with a position works as a button showing it.
      item.classList.add("roster-item-located");
      item.tabIndex = 0;
      item.setAttribute("role", "button");
    }
  }

  reveal(id) {
    const dot = this.dots.get(id);
    if (!dot) return;
    this.map.panTo(dot.getLatLng());
    dot.openPopup();
  }
}

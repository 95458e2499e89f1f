// The command room's queue: escalated alarms first (they wait for a
// commander), oldest first, then the other active alarms. Each entry is a
// button that selects the alarm; ages keep counting without a redraw.

import { t } from "./config.js";
import { el, formatAge } from "./dom.js";
import { ageSeconds, enteredAt, urgency } from "./command-alarms.js";

/** Both lists of the queue panel. */
export class AlarmQueue {
  /**
   * `escalated` and `others` are the two <ol> elements, with their counts;
   * `onSelect(id)` hears a choice.
   */
  constructor(elements, labels, onSelect) {
    const { escalated, others, escalatedCount, othersCount } = elements;
    this.lists = { escalated, others };
    this.counts = { escalated: escalatedCount, others: othersCount };
    this.labels = labels;
    this.onSelect = onSelect;
    this.selected = null;
    this.entries = new Map(); // id → {alarm, button}
  }

  /** Redraws both lists from `queue` ({escalated, others}), keeping focus. */
  draw(queue, now = Date.now()) {
    const active = document.activeElement;
    const inQueue = Object.values(this.lists).some((list) =>
      list.contains(active),
    );
    const focused = inQueue ? active.dataset.alarmId : null;
    this.entries.clear();
    for (const part of ["escalated", "others"]) {
      const alarms = queue[part];
      this.counts[part].textContent = String(alarms.length);
      this.counts[part].classList.toggle("cmd-count-zero", !alarms.length);
      const items = alarms.map((alarm) => el("li", {}, this.entry(alarm, now)));
      if (!items.length) {
        const empty = part === "escalated" ? "none_waiting" : "none_active";
        items.push(
          el(
            "li",
            { class: "cmd-queue-empty muted" },
            t("command.queue." + empty),
          ),
        );
      }
      this.lists[part].replaceChildren(...items);
    }
    if (focused && this.entries.has(focused)) {
      this.entries.get(focused).button.focus();
    }
  }

  entry(alarm, now) {
    const labels = this.labels;
    const button = el(
      "button",
      {
        type: "button",
        class: `cmd-queue-item cmd-status-${alarm.status}`,
        "data-alarm-id": alarm.id,
        "data-status": alarm.status,
        "aria-pressed": String(alarm.id === this.selected),
      },
      el(
        "span",
        { class: "cmd-queue-top" },
        el(
          "span",
          { class: `cmd-badge cmd-badge-${alarm.status}` },
          labels.status(alarm.status),
        ),
        el(
          "span",
          { class: "cmd-queue-category" },
          labels.category(alarm.category),
        ),
        el("span", { class: "cmd-queue-age", "data-age": "" }),
      ),
      el(
        "span",
        { class: "cmd-queue-address" },
        alarm.address || t("command.alarm.no_address"),
      ),
      el("span", { class: "cmd-queue-extra" }, this.extra(alarm)),
    );
    button.addEventListener("click", () => this.onSelect(alarm.id));
    this.entries.set(alarm.id, { alarm, button });
    this.refreshAge(alarm, button, now);
    return button;
  }

  /** The suggested station while escalated, the officer once assigned. */
  extra(alarm) {
    if (alarm.status === "escalated") {
      const station = this.labels.station(alarm.suggested_station);
      return station
        ? t("command.queue.suggested", { station })
        : t("command.queue.no_station");
    }
    if (alarm.assignee) {
      return t("command.queue.assignee", { name: alarm.assignee.name || "" });
    }
    if (alarm.status === "offering") {
      return t("command.queue.offered", {
        count: alarm.officers_notified || 0,
      });
    }
    return "";
  }

  refreshAge(alarm, button, now) {
    const level = urgency(alarm, now);
    for (const name of ["normal", "late", "overdue"]) {
      button.classList.toggle(`cmd-urgency-${name}`, name === level);
    }
    let text = t("command.queue.age", {
      age: formatAge(ageSeconds(alarm, now)),
    });
    if (alarm.status === "escalated") {
      const waited = (now - (enteredAt(alarm, "escalated") ?? now)) / 1000;
      text = t("command.queue.waiting", { age: formatAge(waited) });
    }
    const age = button.querySelector("[data-age]");
    if (age.textContent !== text) age.textContent = text;
  }

  /** Recounts every age and urgency (call every second or so). */
  tick(now = Date.now()) {
    for (const { alarm, button } of this.entries.values()) {
      this.refreshAge(alarm, button, now);
    }
  }

  select(id) {
    this.selected = id;
    for (const [entryId, { button }] of this.entries) {
      button.setAttribute("aria-pressed", String(entryId === id));
    }
  }
}

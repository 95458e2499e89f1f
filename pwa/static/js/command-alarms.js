// The command room's picture of the tenant's active alarms: one book of
// staff views kept current from the HTTP snapshot and the websocket events,
// the queue order, and how urgent each alarm is by its status and age.
//
// No DOM here: the page draws what this module decides.

// Kept in step with server/alarms.py.
export const ACTIVE = [
  "offering",
  "escalated",
  "assigned",
  "en_route",
  "arrived",
];
export const REASSIGNABLE = ["escalated", "assigned", "en_route"];
export const CLOSABLE = ["escalated", "assigned", "en_route", "arrived"];

// An escalated alarm waits for a person; NFPA 1225 expects a call handled in
// about a minute, so three minutes in the queue means it is being overlooked.
const ESCALATED_OVERDUE_S = 180;
// The citizen expects an officer within a quarter of an hour in a city
// district; twice that is a case to chase.
const ASSIGNED_LATE_S = 15 * 60;
const ASSIGNED_OVERDUE_S = 30 * 60;

/** A server timestamp (ISO 8601) as epoch milliseconds, or null. */
export function epochMs(iso) {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

/** When the alarm last entered `status` (from its history), in ms. */
export function enteredAt(alarm, status) {
  const history = alarm.history || [];
  for (let i = history.length - 1; i >= 0; i -= 1) {
    if (history[i].status === status) return epochMs(history[i].at);
  }
  return null;
}

function secondsSince(ms, now) {
  return ms === null ? 0 : (now - ms) / 1000;
}

/**
 * "normal", "late" or "overdue": how loudly the map and the queue show it.
 * An offering alarm past its claim window is late (escalation is imminent);
 * an escalated one is always late and overdue after a few minutes; an
 * assigned one is late when the officer has not arrived in good time.
 */
export function urgency(alarm, now = Date.now()) {
  switch (alarm.status) {
    case "offering": {
      const deadline = epochMs(alarm.deadline_at);
      return deadline !== null && now > deadline ? "late" : "normal";
    }
    case "escalated": {
      const waited = secondsSince(enteredAt(alarm, "escalated"), now);
      return waited > ESCALATED_OVERDUE_S ? "overdue" : "late";
    }
    case "assigned":
    case "en_route": {
      const since = epochMs((alarm.assignee || {}).assigned_at);
      const waited = secondsSince(since, now);
      if (waited > ASSIGNED_OVERDUE_S) return "overdue";
      return waited > ASSIGNED_LATE_S ? "late" : "normal";
    }
    default:
      return "normal";
  }
}

/** Seconds since the alarm was raised. */
export function ageSeconds(alarm, now = Date.now()) {
  return secondsSince(epochMs(alarm.created_at), now);
}

function version(alarm) {
  return epochMs(alarm.updated_at) ?? epochMs(alarm.created_at) ?? 0;
}

function oldestFirst(a, b) {
  return (epochMs(a.created_at) ?? 0) - (epochMs(b.created_at) ?? 0);
}

/** The tenant's active alarms by id, fed by snapshots and events. */
export class AlarmBook {
  constructor() {
    this.alarms = new Map();
    // Ids changed by events while a snapshot is on its way (see replaceAll).
    this.touched = null;
  }

  get(id) {
    return this.alarms.get(id) || null;
  }

  /**
   * Takes one staff view; returns "added", "changed", "removed", or null
   * when the view is older than the one already held (a late replay).
   */
  apply(view) {
    const current = this.alarms.get(view.id);
    if (current && version(current) > version(view)) return null;
    if (this.touched) this.touched.add(view.id);
    if (!ACTIVE.includes(view.status)) {
      return this.alarms.delete(view.id) ? "removed" : null;
    }
    this.alarms.set(view.id, view);
    return current ? "changed" : "added";
  }

  /** Call before fetching a snapshot, so events meanwhile are not lost. */
  beginSnapshot() {
    this.touched = new Set();
  }

  /**
   * Replaces the book with a snapshot of active alarms. An alarm an event
   * brought in while the snapshot was on its way is kept even if the
   * snapshot missed it, and the newer of two versions wins.
   */
  replaceAll(views) {
    const touched = this.touched || new Set();
    const next = new Map();
    for (const view of views) {
      const current = this.alarms.get(view.id);
      const newer = current && version(current) > version(view);
      next.set(view.id, newer ? current : view);
    }
    for (const id of touched) {
      const current = this.alarms.get(id);
      if (current && !next.has(id)) next.set(id, current);
    }
    this.alarms = next;
    this.touched = null;
  }

  /** Escalated alarms (oldest first), then the other active ones. */
  queue() {
    const all = [...this.alarms.values()].sort(oldestFirst);
    return {
      escalated: all.filter((a) => a.status === "escalated"),
      others: all.filter((a) => a.status !== "escalated"),
    };
  }
}

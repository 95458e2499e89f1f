// Sharing the officer's position while on duty (or busy) and the app is open:
// at once on a real move, and every few seconds regardless, so the server's
// last position never looks stale. Off duty nothing is sent. A PWA cannot do
// this from the background; the page says when it last sent one.

import { postJson } from "./api.js";
import { formatClock } from "./alarm-format.js";
import { t } from "./config.js";
import { setStatus } from "./dom.js";
import { distanceMeters } from "./geo.js";
import { watchPosition } from "./locate.js";

// Uber's driver app reports every 4 s; 5 s keeps the citizen's map smooth and
// the server far inside its 120 s freshness limit.
const HEARTBEAT_MS = 5000;
// A move of this much is sent at once: about GPS noise in a city street.
const MOVE_M = 15;
// But never more often than this, however fast the fixes come.
const MIN_GAP_MS = 1000;
// The server refuses worse accuracy (server/officers.py MAX_ACCURACY_M): a
// cell-tower guess would mislead dispatch more than no position at all.
const MAX_ACCURACY_M = 5000;

export class PositionSharer {
  /** `socket` is the OfficerSocket; `label` says when the last fix went out. */
  constructor({ socket, label }) {
    this.socket = socket;
    this.label = label;
    this.duty = "off";
    this.fix = null;
    this.sent = null; // {fix, at}
    this.inFlight = false;
    this.listeners = [];
    this.timer = null;
  }

  /** Follows the device; `onFix` listeners hear every fix, shared or not. */
  start() {
    watchPosition(
      (fix) => this.received(fix),
      (problem) => this.problem(problem),
    );
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.share();
    });
    this.showLabel();
  }

  onFix(listener) {
    this.listeners.push(listener);
    if (this.fix) listener(this.fix);
  }

  /** The duty decides whether positions go out at all. */
  setDuty(duty) {
    this.duty = duty;
    if (this.sharing) this.share();
    this.showLabel();
  }

  get sharing() {
    return this.duty === "on" || this.duty === "busy";
  }

  received(fix) {
    this.fix = fix;
    for (const listener of this.listeners) listener(fix);
    if (!this.sharing) return;
    const since = this.sent ? Date.now() - this.sent.at : Infinity;
    if (since >= MIN_GAP_MS && this.movedFromSent(fix) >= MOVE_M) this.share();
  }

  movedFromSent(fix) {
    if (!this.sent) return Infinity;
    const before = this.sent.fix;
    return distanceMeters([before.lat, before.lon], [fix.lat, fix.lon]);
  }

  problem(key) {
    if (!this.fix) setStatus(this.label, t(key), "warning");
  }

  heartbeat() {
    const since = this.sent ? Date.now() - this.sent.at : Infinity;
    // A fix sent for a move just now already counts as this beat.
    if (since >= HEARTBEAT_MS - MIN_GAP_MS) this.share();
  }

  /** Sends the latest fix now (if sharing and there is one). */
  async share() {
    const fix = this.fix;
    if (!this.sharing || !fix || this.inFlight) return;
    if (fix.accuracy > MAX_ACCURACY_M) {
      setStatus(this.label, t("officer.position.inaccurate"), "warning");
      return;
    }
    const message = {
      lon: fix.lon,
      lat: fix.lat,
      accuracy: Math.max(0, fix.accuracy),
    };
    if (!this.socket.post({ type: "position", ...message })) {
      // No socket: HTTP stores it, and dispatch finds it in the database.
      this.inFlight = true;
      try {
        await postJson("/api/officer/position", message);
      } catch {
        return; // the next beat tries again; the label keeps the last success
      } finally {
        this.inFlight = false;
      }
    }
    this.sent = { fix, at: Date.now() };
    this.showLabel();
  }

  showLabel() {
    if (!this.sharing) {
      setStatus(this.label, t("officer.position.not_shared"));
    } else if (this.sent) {
      setStatus(
        this.label,
        t("officer.position.sent", {
          time: formatClock(new Date(this.sent.at)),
        }),
      );
    } else {
      setStatus(this.label, t("officer.position.waiting"));
    }
  }
}

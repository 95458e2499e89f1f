// The officer's websocket: the shared RealtimeClient plus requests that are
// answered by id (duty changes), so the page knows the server took them.

import { ApiError } from "./api.js";
import { t } from "./config.js";
import { RealtimeClient } from "./realtime.js";

// A duty change answered later than this is retried over HTTP: the socket
// may be half dead without the browser knowing yet.
const ANSWER_TIMEOUT_MS = 5000;

export class OfficerSocket extends RealtimeClient {
  constructor(options) {
    super(options);
    this.waiting = new Map(); // request id → {resolve, reject, timer}
  }

  /** True when messages sent now reach the server (as far as we know). */
  get isConnected() {
    // Degraded (the server's database is down) still carries messages:
    // positions land in the server's memory and are written once it is back.
    return (
      this.welcomed && (this.state === "connected" || this.state === "degraded")
    );
  }

  /** Sends `message` if connected; returns whether it went out. */
  post(message) {
    if (!this.isConnected) return false;
    this.send(message);
    return true;
  }

  /** Sends `message` with an id and resolves with the server's answer. */
  ask(message) {
    if (!this.isConnected) {
      return Promise.reject(
        new ApiError(t("rt.offline"), { status: 0, reason: "network" }),
      );
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ApiError(t("rt.offline"), { status: 0, reason: "network" }));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      this.send({ ...message, id });
    });
  }

  receive(text) {
    super.receive(text);
    if (!this.waiting.size) return;
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const waiter = message && this.waiting.get(message.id);
    if (!waiter) return;
    this.waiting.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.type === "error") {
      waiter.reject(
        new ApiError(message.message || t("error.generic"), {
          status: 400,
          reason: message.reason,
        }),
      );
    } else {
      waiter.resolve(message);
    }
  }
}

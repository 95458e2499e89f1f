// The websocket client of the /ws protocol: topics with resumable sequence
// numbers, reconnection with backoff, and a connection state for the UI.
//
// Each topic remembers the last {epoch, seq} it applied. After a reconnect it
// subscribes with that as `resume`, the server replays what was missed, and
// events at or below the remembered seq are dropped as duplicates. When the
// server cannot replay it sends `reload`: the page fetches fresh state over
// HTTP and the topic starts over without resume.

// Connection states reported to the page (also the suffix of "rt.*" messages).
const CONNECTED = "connected";
const RECONNECTING = "reconnecting";
const OFFLINE = "offline";
// Connected, but the server cannot reach its database: what is on screen
// stays, actions fail with "try again" until the server says it is back.
const DEGRADED = "degraded";

// First retry after about a second, doubling up to 15 s: quick recovery from a
// blip, without a thousand phones hammering a restarting server.
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 15000;
// A ping every 20 s keeps mobile carriers' NAT mappings alive; a socket silent
// for twice that long is dead even if the browser has not noticed.
const PING_INTERVAL_MS = 20000;
const SILENCE_LIMIT_MS = 2 * PING_INTERVAL_MS;

/** True when this browser can open websockets at all. */
export function realtimeSupported() {
  return typeof window !== "undefined" && "WebSocket" in window;
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

// Full jitter on half the delay: spreads reconnects of many clients apart.
function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class RealtimeClient {
  /**
   * `onState(state)` hears CONNECTED, DEGRADED, RECONNECTING or OFFLINE on
   * each change.
   */
  constructor({ url = defaultUrl(), onState = () => {} } = {}) {
    this.url = url;
    this.onState = onState;
    this.state = null;
    this.topics = new Map(); // topic → {handlers, epoch, seq, resumed}
    this.pending = new Map(); // subscribe request id → topic
    this.nextId = 1;
    this.socket = null;
    this.welcomed = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.stopped = false;
  }

  /** Connects (once); reports OFFLINE and does nothing more without WebSocket. */
  start() {
    if (!realtimeSupported()) {
      this.setState(OFFLINE);
      return;
    }
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => this.drop());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.checkOnReturn();
    });
    this.connect();
  }

  /**
   * Follows `topic`. Handlers (all optional): `onEvent(name, payload, seq)`,
   * `onReload()` when the page must refetch its state, `onError(message)` when
   * the server refuses the subscription, `onSubscribed()` when a subscription
   * starts afresh (not resumed): what happened before it is not coming.
   */
  subscribe(topic, handlers = {}) {
    this.topics.set(topic, {
      handlers,
      epoch: null,
      seq: null,
      resumed: false,
    });
    if (this.welcomed) this.sendSubscribe(topic);
  }

  unsubscribe(topic) {
    this.topics.delete(topic);
    if (this.welcomed) this.send({ type: "unsubscribe", topic });
  }

  /** Closes for good (e.g. before signing out). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  connect() {
    this.retryTimer = null;
    this.welcomed = false;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => this.receive(event.data));
    // An error is always followed by close, which does the recovery.
    socket.addEventListener("close", () => this.closed(socket));
  }

  /**
   * Gives up on the current socket now: a dead network can keep a socket
   * "open" for minutes before the browser fires close.
   */
  drop() {
    const socket = this.socket;
    if (!socket) return;
    socket.close(4000);
    this.closed(socket);
  }

  // Timers are throttled while a phone's screen is off, so the socket may have
  // died unnoticed: check it, or stop waiting for the next retry.
  checkOnReturn() {
    if (this.welcomed) this.heartbeat();
    else this.reconnectNow();
  }

  /** Retries at once when the network or the page comes back. */
  reconnectNow() {
    if (this.stopped || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  closed(socket) {
    if (socket !== this.socket) return;
    clearInterval(this.pingTimer);
    this.socket = null;
    this.welcomed = false;
    if (this.stopped) return;
    this.setState(navigator.onLine === false ? OFFLINE : RECONNECTING);
    this.retryTimer = setTimeout(
      () => this.connect(),
      backoffDelay(this.attempt),
    );
    this.attempt += 1;
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  sendSubscribe(topic) {
    const entry = this.topics.get(topic);
    const id = this.nextId++;
    const message = { type: "subscribe", id, topic };
    entry.resumed = entry.epoch !== null && entry.seq !== null;
    if (entry.resumed) message.resume = { epoch: entry.epoch, seq: entry.seq };
    this.pending.set(id, topic);
    this.send(message);
  }

  receive(text) {
    this.lastHeard = Date.now();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not our protocol; nothing sensible to do with it
    }
    const handler = {
      welcome: () => this.welcome(message),
      service: () => this.service(message.status),
      subscribed: () => this.subscribed(message),
      event: () => this.event(message),
      reload: () => this.reload(message.topic),
      error: () => this.refused(message),
    }[message.type];
    if (handler) handler();
  }

  welcome(message) {
    this.welcomed = true;
    this.attempt = 0;
    this.service(message.service);
    this.pingTimer = setInterval(() => this.heartbeat(), PING_INTERVAL_MS);
    this.pending.clear();
    for (const topic of this.topics.keys()) this.sendSubscribe(topic);
  }

  /** The server's word on its database: "degraded" or "ok". */
  service(status) {
    this.setState(status === DEGRADED ? DEGRADED : CONNECTED);
  }

  heartbeat() {
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      this.drop();
      return;
    }
    this.send({ type: "ping", id: this.nextId++ });
  }

  subscribed({ id, topic, epoch, seq }) {
    this.pending.delete(id);
    const entry = this.topics.get(topic);
    if (!entry) return;
    if (entry.resumed && epoch !== entry.epoch) {
      // The stream we resumed no longer exists: same as an explicit reload.
      this.reload(topic);
      return;
    }
    entry.epoch = epoch;
    // Without resume we start from now; with resume the replay brings us up to seq.
    if (!entry.resumed) {
      entry.seq = seq;
      if (entry.handlers.onSubscribed) entry.handlers.onSubscribed();
    }
  }

  event({ topic, seq, event, payload }) {
    const entry = this.topics.get(topic);
    if (!entry || (entry.seq !== null && seq <= entry.seq)) return;
    entry.seq = seq;
    if (entry.handlers.onEvent) entry.handlers.onEvent(event, payload, seq);
  }

  reload(topic) {
    const entry = this.topics.get(topic);
    if (!entry) return;
    entry.epoch = null;
    entry.seq = null;
    this.sendSubscribe(topic);
    if (entry.handlers.onReload) entry.handlers.onReload();
  }

  refused({ id, message }) {
    const topic = this.pending.get(id);
    if (topic === undefined) return;
    this.pending.delete(id);
    const entry = this.topics.get(topic);
    // A refused topic would be refused again after every reconnect.
    this.topics.delete(topic);
    if (entry && entry.handlers.onError) entry.handlers.onError(message);
  }
}

// The websocket of a room page. Joining a room topic goes through the room's
// own message (room.join), which also tells the others who is here; after
// each join the page catches up over HTTP, so the hub's short replay is not
// needed (the durable history is what the page trusts).

import { RealtimeClient } from "./realtime.js";

const ROOM_PREFIX = "room:";

export class RoomSocket extends RealtimeClient {
  /** `onJoined(roomId)` hears each confirmed (re)join of a room topic. */
  constructor({ onJoined = () => {}, ...options } = {}) {
    super(options);
    this.onJoined = onJoined;
  }

  sendSubscribe(topic) {
    if (!topic.startsWith(ROOM_PREFIX)) {
      super.sendSubscribe(topic);
      return;
    }
    const entry = this.topics.get(topic);
    const id = this.nextId++;
    entry.resumed = false;
    this.pending.set(id, topic);
    this.send({ type: "room.join", id, room_id: topic.slice(ROOM_PREFIX.length) });
  }

  subscribed(message) {
    super.subscribed(message);
    const { topic } = message;
    if (topic && topic.startsWith(ROOM_PREFIX) && this.topics.has(topic)) {
      this.onJoined(topic.slice(ROOM_PREFIX.length));
    }
  }

  /** Moves this member's read mark to `seq`; false when not connected. */
  markRead(roomId, seq) {
    if (!this.welcomed) return false;
    this.send({ type: "room.read", id: this.nextId++, room_id: roomId, seq });
    return true;
  }
}

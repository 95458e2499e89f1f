// Consultation rooms on the expert's and the officer's pages: open
// invitations to accept or decline, and links to the rooms one is in. Kept
// fresh by room.invited and room.removed on the user's own topic; an answered
// invitation's notification (sw.js) is closed on this device.

import { errorText, getJson, postJson } from "./api.js";
import { currentUser, t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";
import { closeNotifications } from "./push-panel.js";

function roomLink(room) {
  return `/rooms/${encodeURIComponent(room.id)}`;
}

export class Invitations {
  constructor() {
    this.list = byId("rooms");
    this.status = byId("rooms-status");
    this.me = currentUser().id;
  }

  /** Whether an event on the user's topic changes this list. */
  static concerns(name) {
    return name === "room.invited" || name === "room.removed";
  }

  async load() {
    try {
      const { rooms } = await getJson("/api/rooms");
      this.show(rooms);
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }

  show(rooms) {
    const items = rooms.map((room) => this.item(room));
    this.list.replaceChildren(...items);
    byId("rooms-empty").hidden = items.length > 0;
  }

  item(room) {
    const mine = room.members.find((m) => m.user_id === this.me) || {};
    const item = el(
      "li",
      {
        class: "room-invitation",
        "data-room-id": room.id,
        "data-state": mine.state,
      },
      el("strong", { class: "room-invitation-title" }, room.title),
      el("span", { class: "badge" }, t("room.state." + mine.state)),
    );
    if (room.status === "closed") {
      item.append(el("span", { class: "badge" }, t("room.closed")));
    }
    if (mine.state === "invited") {
      item.append(
        this.button("accept", room, true),
        this.button("decline", room, false),
      );
    } else {
      const attributes = { class: "btn btn-outline room-enter", href: roomLink(room) };
      item.append(el("a", attributes, t("expert.rooms.enter")));
    }
    return item;
  }

  button(name, room, accept) {
    const button = el(
      "button",
      {
        type: "button",
        class: `btn ${accept ? "btn-primary" : "btn-ghost"} room-${name}`,
      },
      t("expert.rooms." + name),
    );
    button.addEventListener("click", () => this.respond(room, accept, button));
    return button;
  }

  async respond(room, accept, button) {
    button.disabled = true;
    try {
      const url = `/api/rooms/${encodeURIComponent(room.id)}/respond`;
      await postJson(url, { accept });
      // The tag the server gives a room's invitation (server/push.py room_tag).
      closeNotifications(`room-${room.id}`);
      if (accept) location.assign(roomLink(room));
      else await this.load();
    } catch (error) {
      button.disabled = false;
      setStatus(this.status, errorText(error), "error");
    }
  }
}

// The room's side panel: members with their state, who is here now and how
// far each has read; for the opener or a commander, inviting experts,
// removing a member and closing the room with a summary.

import { errorText, getJson, postJson } from "./api.js";
import { t } from "./config.js";
import { byId, el, setStatus } from "./dom.js";

/** True when `user` may invite, remove and close in `room`. */
export function moderates(room, user) {
  if (!user) return false;
  const roles = user.roles || [];
  const opener = room.created_by && room.created_by.id === user.id;
  return Boolean(opener) || roles.includes("commander");
}

function memberRow(member, { present, me, canRemove, onRemove }) {
  const here = present.has(member.user_id);
  const item = el("li", {
    class: `room-member state-${member.state}${here ? " present" : ""}`,
    "data-user-id": member.user_id,
    "data-state": member.state,
    "data-present": here ? "true" : "false",
  });
  item.append(
    el("span", {
      class: "room-presence",
      title: t(here ? "room.here" : "room.away"),
    }),
    el("span", { class: "room-member-name" }, member.name),
    el("span", { class: "badge" }, t("room.state." + member.state)),
  );
  if (member.state === "active") {
    const read = t("room.read_up_to", { seq: member.read_seq || 0 });
    item.append(el("span", { class: "room-member-read" }, read));
  }
  if (canRemove && member.user_id !== me && member.state !== "removed") {
    const remove = el(
      "button",
      { type: "button", class: "btn btn-ghost room-remove" },
      t("room.remove"),
    );
    remove.addEventListener("click", () => onRemove(member.user_id));
    item.append(remove);
  }
  return item;
}

export class MemberPanel {
  /** `onRoom(room)` hears each room answer after an action. */
  constructor({ roomId, user, status, onRoom }) {
    this.roomId = roomId;
    this.user = user;
    this.status = status;
    this.onRoom = onRoom;
    this.room = null;
    this.present = new Set();
    this.expertsLoaded = false;
    byId("invite-send").addEventListener("click", () => this.invite());
    byId("close-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.close();
    });
  }

  show(room) {
    this.room = room;
    this.present = new Set(room.present || []);
    this.render();
    const moderator = moderates(room, this.user) && room.status === "open";
    byId("moderation").hidden = !moderator;
    if (moderator && !this.expertsLoaded) this.loadExperts();
  }

  setPresent(ids) {
    this.present = new Set(ids);
    this.render();
  }

  setRead(userId, seq) {
    if (!this.room) return;
    const member = this.room.members.find((m) => m.user_id === userId);
    if (member) member.read_seq = Math.max(member.read_seq || 0, seq);
    this.render();
  }

  render() {
    if (!this.room) return;
    const canRemove =
      moderates(this.room, this.user) && this.room.status === "open";
    const options = {
      present: this.present,
      me: this.user.id,
      canRemove,
      onRemove: (userId) => this.act("remove", { user_id: userId }),
    };
    const shown = this.room.members.filter((m) => m.state !== "removed");
    byId("members").replaceChildren(...shown.map((m) => memberRow(m, options)));
    this.markInvited();
  }

  async loadExperts() {
    this.expertsLoaded = true;
    try {
      const { experts } = await getJson("/api/experts");
      const boxes = experts
        .filter((e) => !e.suspended)
        .map((e) =>
          el(
            "label",
            { class: "check room-invite-choice" },
            el("input", { type: "checkbox", value: e.id, name: "invite" }),
            ` ${e.name}` + (e.category ? ` · ${e.category}` : ""),
          ),
        );
      byId("invite-list").replaceChildren(...boxes);
      this.markInvited();
    } catch (error) {
      this.expertsLoaded = false;
      setStatus(this.status, errorText(error), "error");
    }
  }

  // Experts already invited or in the room cannot be invited again.
  markInvited() {
    const taken = new Set(
      this.room.members
        .filter((m) => m.state === "invited" || m.state === "active")
        .map((m) => m.user_id),
    );
    for (const box of byId("invite-list").querySelectorAll("input")) {
      box.disabled = taken.has(box.value);
      if (box.disabled) box.checked = false;
    }
  }

  invite() {
    const chosen = [...byId("invite-list").querySelectorAll("input:checked")];
    if (!chosen.length) {
      setStatus(this.status, t("room.invite_none"), "warning");
      return;
    }
    this.act("invite", { user_ids: chosen.map((box) => box.value) });
  }

  close() {
    const summary = byId("close-summary").value.trim();
    if (!summary) {
      setStatus(this.status, t("room.summary_needed"), "warning");
      return;
    }
    this.act("close", { summary });
  }

  async act(action, body) {
    const url = `/api/rooms/${encodeURIComponent(this.roomId)}/${action}`;
    try {
      const { room } = await postJson(url, body);
      setStatus(this.status, "");
      this.onRoom(room);
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    }
  }
}

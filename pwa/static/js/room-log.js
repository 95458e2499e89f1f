// A room's messages on screen, each seq once and in seq order, whether it came
// from the history (GET messages?after=) or live (room.message).

import { t } from "./config.js";
import { el } from "./dom.js";

/** The address of a room's file; `thumbnail` asks for an image's preview. */
export function mediaUrl(roomId, mediaId, thumbnail = false) {
  const base = `/api/rooms/${encodeURIComponent(roomId)}/media/`;
  return base + encodeURIComponent(mediaId) + (thumbnail ? "?thumbnail=1" : "");
}

function clock(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  return at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

function mediaBody(roomId, message) {
  const { media, kind } = message;
  const full = mediaUrl(roomId, media.id);
  if (kind === "image") {
    const thumb = media.thumbnail_id ? mediaUrl(roomId, media.id, true) : full;
    const image = el("img", { src: thumb, alt: t("room.image"), loading: "lazy" });
    return el("a", { href: full, target: "_blank", rel: "noopener" }, image);
  }
  if (kind === "audio" || kind === "video") {
    return el(kind, { src: full, controls: "", preload: "metadata" });
  }
  const kb = Math.max(1, Math.round(media.bytes / 1024));
  return el("a", { href: full, download: "" }, t("room.file", { kb }));
}

/** One message as a list item carrying its seq. */
function renderMessage(roomId, message, myId) {
  const mine = message.sender && message.sender.id === myId;
  const item = el("li", {
    class: `room-message kind-${message.kind}${mine ? " mine" : ""}`,
    "data-seq": String(message.seq),
  });
  if (message.kind !== "system") {
    const head = el(
      "div",
      { class: "room-message-head" },
      el("span", { class: "room-sender" }, message.sender.name || ""),
      el("time", { datetime: message.at }, clock(message.at)),
    );
    item.append(head);
  }
  if (message.media) item.append(mediaBody(roomId, message));
  if (message.text) item.append(el("p", { class: "room-text" }, message.text));
  item.append(el("span", { class: "room-read", hidden: "" }));
  return item;
}

export class MessageLog {
  constructor({ list, roomId, myId }) {
    this.list = list;
    this.roomId = roomId;
    this.myId = myId;
    this.items = new Map(); // seq → li
    this.last = 0; // highest seq shown
  }

  has(seq) {
    return this.items.has(seq);
  }

  /** Shows the messages not shown yet, each in its place by seq. */
  merge(messages) {
    for (const message of messages) {
      if (this.items.has(message.seq)) continue;
      const item = renderMessage(this.roomId, message, this.myId);
      this.items.set(message.seq, item);
      this.list.insertBefore(item, this.nodeAfter(message.seq));
      this.last = Math.max(this.last, message.seq);
    }
  }

  // The first item with a higher seq (null: append at the end).
  nodeAfter(seq) {
    if (seq > this.last) return null;
    for (const item of this.list.children) {
      if (Number(item.dataset.seq) > seq) return item;
    }
    return null;
  }

  /** "Read by N" under each of my messages, from the members' read marks. */
  showReads(members) {
    const readers = members.filter(
      (m) => m.state === "active" && m.user_id !== this.myId,
    );
    for (const [seq, item] of this.items) {
      const mark = item.querySelector(".room-read");
      if (!item.classList.contains("mine")) continue;
      const count = readers.filter((m) => m.read_seq >= seq).length;
      mark.hidden = count === 0;
      mark.textContent = t("room.read_by", { n: count });
    }
  }

  scrollToEnd() {
    const last = this.list.lastElementChild;
    if (last && last.scrollIntoView) last.scrollIntoView({ block: "nearest" });
  }
}

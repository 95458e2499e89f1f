// A consultation room: its facts, members and the chat. The history over HTTP
// is the truth: after every (re)join of the room topic the page asks for what
// follows the last seq it shows, and a live room.message is shown only if it
// is new; one that skips numbers makes the page fetch the range it missed.

import { errorText, getJson } from "../api.js";
import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { MessageLog } from "../room-log.js";
import { MemberPanel } from "../room-members.js";
import { Outbox } from "../room-send.js";
import { RoomSocket } from "../room-socket.js";
import { connectionIndicator, startPage } from "../shell.js";

startPage();
const roomId = byId("room").dataset.roomId;
const api = `/api/rooms/${encodeURIComponent(roomId)}`;
const status = byId("page-status");
const user = currentUser();
const log = new MessageLog({ list: byId("messages"), roomId, myId: user.id });
const members = new MemberPanel({
  roomId,
  user,
  status,
  onRoom: (room) => showRoom(room),
});
const outbox = new Outbox({
  roomId,
  list: byId("outbox"),
  onSent: (message) => showMessages([message]),
});
const socket = new RoomSocket({
  onState: connectionIndicator(byId("connection")),
  onJoined: () => refresh(),
});
const page = { room: null, readSent: 0, catchingUp: null };

function showRoom(room) {
  page.room = room;
  byId("room-title").textContent = room.title;
  document.title = `${room.title} · ${t("app.name")}`;
  byId("room-description").textContent = room.description || "";
  byId("room-alarm").hidden = !room.alarm_id;
  byId("room-alarm-id").textContent = room.alarm_id || "";
  const closed = room.status === "closed";
  byId("room-closed").hidden = !closed;
  byId("room-summary").textContent = room.summary || "";
  byId("room-transcript").href = `${api}/transcript`;
  byId("composer").hidden = closed;
  members.show(room);
  log.showReads(room.members);
}

function showMessages(messages) {
  const before = log.last;
  log.merge(messages);
  if (log.last !== before) log.scrollToEnd();
  if (page.room) log.showReads(page.room.members);
  markRead();
}

/** Fetches and shows every message after `after` (page by page). */
async function fetchAfter(after, limit) {
  let from = after;
  for (;;) {
    const query = `after=${from}` + (limit ? `&limit=${limit}` : "");
    const answer = await getJson(`${api}/messages?${query}`);
    showMessages(answer.messages);
    if (!answer.more || !answer.messages.length || limit) return;
    from = answer.messages[answer.messages.length - 1].seq;
  }
}

/** The room and the messages after the last one shown. */
async function refresh() {
  try {
    showRoom((await getJson(api)).room);
    await fetchAfter(log.last);
  } catch (error) {
    if (error.status === 404) gone();
    else setStatus(status, errorText(error), "error");
  }
}

async function liveMessage(message) {
  if (message.seq <= log.last) return; // shown already
  const missing = message.seq - log.last - 1;
  const after = log.last;
  showMessages([message]);
  if (missing > 0) {
    try {
      await fetchAfter(after, missing);
    } catch (error) {
      setStatus(status, errorText(error), "error");
    }
  }
}

function markRead() {
  if (document.visibilityState !== "visible") return;
  if (log.last <= page.readSent) return;
  if (socket.markRead(roomId, log.last)) page.readSent = log.last;
}

/** This user is no longer in the room. */
function gone() {
  setStatus(status, t("room.gone"), "warning");
  byId("composer").hidden = true;
  byId("moderation").hidden = true;
  socket.unsubscribe(`room:${roomId}`);
}

function onEvent(name, payload) {
  switch (name) {
    case "room.message":
      liveMessage(payload);
      break;
    case "room.presence":
      members.setPresent(payload.present || []);
      break;
    case "room.read":
      members.setRead(payload.user_id, payload.seq);
      if (page.room) log.showReads(page.room.members);
      break;
    case "room.member":
    case "room.closed":
      refresh();
      break;
    case "room.removed":
      gone();
      break;
    default:
      break;
  }
}

byId("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = byId("composer-text").value.trim();
  const input = byId("composer-file");
  const file = input.files && input.files[0];
  if (!text && !file) return;
  outbox.send(text, file || null);
  byId("composer-text").value = "";
  input.value = "";
});
document.addEventListener("visibilitychange", markRead);

socket.subscribe(`room:${roomId}`, {
  onEvent,
  onReload: refresh,
  onError: () => gone(),
});
socket.start();
refresh();

// The task board (任务发布): officers sign up and keep their specialties;
// commanders and admins publish tasks and manage rosters. Both follow the
// agency's board live (topic tasks:<tenant>), officers also the boards of
// agencies granting theirs "tasks" (until the grant ends, when the server
// stops the topic with tasks.shared_ended); officers also hear their own
// news (user:<id>, task.updated), which a push notification repeats while
// the app is closed (a tap opens this page at #task=<id>).

import { errorText } from "../api.js";
import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { RealtimeClient } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";
import { VolunteerBoard } from "../task-board.js";
import { loadVocabulary, taskInAddress } from "../task-format.js";
import { TaskDesk } from "../task-manage.js";

startPage();
const user = currentUser();
const status = byId("page-status");
const desk = document.getElementById("publisher") ? new TaskDesk({ status }) : null;
const board = document.getElementById("volunteer")
  ? new VolunteerBoard({ status, onBoards: followBoards })
  : null;
const shared = new Set(); // other agencies' boards followed

function refresh(taskId) {
  if (desk) desk.changed(taskId);
  if (board) board.load();
}

function open(taskId) {
  if (!taskId) return;
  if (board) board.show(taskId);
  if (desk) desk.select(taskId);
}

const socket = new RealtimeClient({
  onState: connectionIndicator(byId("connection")),
});
socket.subscribe(`tasks:${user.tenant_id}`, {
  onEvent: (name, payload) => {
    if (name === "task.changed") refresh(payload.id);
    // Another agency now shares its tasks: load them and follow its board.
    if (name === "tasks.shared_started" && board) board.load();
  },
  onReload: () => refresh(null),
  onError: (message) => setStatus(status, message, "error"),
});
/** Follows exactly the other agencies' boards the last load came from. */
function followBoards(ids) {
  const wanted = new Set(ids.filter((id) => id !== user.tenant_id));
  for (const id of shared) {
    if (!wanted.has(id)) {
      shared.delete(id);
      socket.unsubscribe(`tasks:${id}`);
    }
  }
  for (const id of wanted) {
    if (shared.has(id)) continue;
    shared.add(id);
    socket.subscribe(`tasks:${id}`, {
      onEvent: (name) => {
        if (name === "tasks.shared_ended") {
          shared.delete(id);
          socket.unsubscribe(`tasks:${id}`);
        }
        if (name === "task.changed" || name === "tasks.shared_ended") board.load();
      },
      onReload: () => board.load(),
      // A task published between the load and now was announced before
      // this subscription: load once more.
      onSubscribed: () => board.load(),
      // Refused when the grant ended while this page was away: reload.
      onError: () => {
        shared.delete(id);
        socket.unsubscribe(`tasks:${id}`);
        board.load();
      },
    });
  }
}

if (board) {
  socket.subscribe(`user:${user.id}`, {
    onEvent: (name, payload) => {
      if (name !== "task.updated") return;
      const title = payload.task.title;
      setStatus(status, t(`push.task.${payload.change}`, { title }), "info");
      board.load();
    },
    onReload: () => board.load(),
    onError: (message) => setStatus(status, message, "error"),
  });
}

// A tap on a task's notification while this page is open already.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (event) => {
    const message = event.data || {};
    if (message.type === "notice.open") open(taskInAddress(message.url));
  });
}

async function start() {
  try {
    await loadVocabulary();
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
  await Promise.all([desk && desk.start(), board && board.start()]);
  open(taskInAddress());
}

socket.start();
start();

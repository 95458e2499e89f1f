// The officer's desk: own position on the map, duty status, and the live
// connection that will carry offers (抢单) once the alarm issue adds them.

import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { createMap } from "../map.js";
import { showOwnPosition } from "../own-position.js";
import { RealtimeClient, realtimeSupported } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";

// Visual only for now: the duty API arrives with the alarm issue, which will
// send the choice to the server and take the initial state from it.
function bindDutyToggle() {
  const group = byId("duty");
  group.addEventListener("click", (event) => {
    const chosen = event.target.closest("button[data-duty]");
    if (!chosen) return;
    for (const button of group.querySelectorAll("button[data-duty]")) {
      button.setAttribute("aria-pressed", String(button === chosen));
    }
  });
}

function connectRealtime(user) {
  const status = byId("page-status");
  if (!realtimeSupported()) setStatus(status, t("rt.unsupported"), "warning");
  const client = new RealtimeClient({
    onState: connectionIndicator(byId("connection")),
  });
  // Offers, tasks and musters for this officer will be handled here; until
  // then the subscription proves the channel and keeps the indicator honest.
  client.subscribe(`user:${user.id}`, {
    onError: (message) => setStatus(status, message, "error"),
  });
  client.start();
}

startPage();
bindDutyToggle();
showOwnPosition(createMap(byId("map")), byId("geo-status"));
connectRealtime(currentUser());

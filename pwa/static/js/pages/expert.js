// The expert desk: availability, and consultation invitations that arrive
// live on the expert's own topic (accept opens the room).

import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { startAvailability } from "../expert-availability.js";
import { RealtimeClient } from "../realtime.js";
import { Invitations } from "../room-invitations.js";
import { startPage } from "../shell.js";

startPage();
startAvailability();
const invitations = new Invitations();
const socket = new RealtimeClient({
  onState: (state) => {
    if (state === "connected") invitations.load();
  },
});
socket.subscribe(`user:${currentUser().id}`, {
  onEvent: (name) => {
    if (name === "room.invited" || name === "room.removed") invitations.load();
  },
  onReload: () => invitations.load(),
  onError: () => setStatus(byId("rooms-status"), t("rt.offline"), "warning"),
});
socket.start();
invitations.load();

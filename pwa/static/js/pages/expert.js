// The expert desk: availability, and consultation invitations that arrive
// live on the expert's own topic (accept opens the room) or, with the app
// closed, by web push (push-panel.js, sw.js; a tap opens this page).

import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { startAvailability } from "../expert-availability.js";
import { PushPanel } from "../push-panel.js";
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
    if (Invitations.concerns(name)) invitations.load();
  },
  onReload: () => invitations.load(),
  onError: () => setStatus(byId("rooms-status"), t("rt.offline"), "warning"),
});
socket.start();
invitations.load();
new PushPanel({
  // A pushed invitation: the list shows it even if the socket missed it.
  onOffer: () => invitations.load(),
  words: {
    intro: "expert.push.intro",
    on: "expert.push.on",
    off: "expert.push.off",
    actions: null,
  },
}).start();

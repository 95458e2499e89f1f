// The officer's desk: duty status, position sharing, offers (抢单) that fill
// the screen with a sound, and the job screen of the alarm being handled.
// Offers arrive over the websocket; without one the desk asks the server for
// its stored offers every few seconds. With the app closed they come by web
// push (push-panel.js, sw.js); a tap on one opens this page at
// #offer=<alarm id>.

import { errorText, getJson } from "../api.js";
import { useCategories } from "../alarm-format.js";
import { currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { createMap } from "../map.js";
import { OfferAlert } from "../officer-alert.js";
import { DutyControl } from "../officer-duty.js";
import { JobScreen } from "../officer-job.js";
import { MusterDesk } from "../officer-muster.js";
import { OfferDesk } from "../officer-offers.js";
import { PositionSharer } from "../officer-position.js";
import { PushPanel } from "../push-panel.js";
import { ConsultButton } from "../room-consult.js";
import { Invitations } from "../room-invitations.js";
import { OfficerSocket } from "../officer-realtime.js";
import { showOwnPosition } from "../own-position.js";
import { realtimeSupported } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";

// Without a live connection, offers stored for this officer are fetched this
// often: well inside a claim window of a minute.
const POLL_MS = 10000;
// Claim refusals that mean the offer is over (as in officer-offers.js).
const ENDED_REASONS = new Set(["taken", "expired", "cancelled", "not_offered"]);

const page = { connected: false, pollTimer: null };

startPage();
const status = byId("page-status");
const showConnection = connectionIndicator(byId("connection"));
const socket = new OfficerSocket({ onState: connectionChanged });
const sharer = new PositionSharer({ socket, label: byId("position-sent") });
const duty = new DutyControl({
  group: byId("duty"),
  socket,
  status: byId("duty-status"),
  onChange: (chosen) => sharer.setDuty(chosen),
});
const alert = new OfferAlert(byId("offer-sound"));
const map = createMap(byId("map"));
const job = new JobScreen({
  sharer,
  onShown: () => duty.show("busy"), // the server makes a busy officer of them
  onEnded: () => {
    map.invalidateSize();
    loadState(); // the server freed the officer: fetch their duty
  },
});
// Experts are consulted in a room about the job's alarm; colleagues can
// invite this officer into theirs.
new ConsultButton({ alarm: () => job.alarm });
const invitations = new Invitations();
const offers = new OfferDesk({
  socket,
  alert,
  position: () => sharer.fix,
  onClaimed: (alarm) => {
    push.forget(alarm.id);
    job.show(alarm);
  },
});
// Emergency musters ring like offers and sit above them until answered.
const musters = new MusterDesk({ alert, position: () => sharer.fix });
const push = new PushPanel({
  onOffer: () => loadState(),
  onOpen: (alarmId) => openOffer(alarmId),
  onClaimed: claimedFromNotification,
});

function connectionChanged(state) {
  showConnection(state);
  const wasConnected = page.connected;
  page.connected = state === "connected";
  if (page.connected && !wasConnected && page.loaded) loadState();
  schedulePoll();
}

function schedulePoll() {
  clearTimeout(page.pollTimer);
  if (page.connected) return;
  page.pollTimer = setTimeout(async () => {
    await loadState();
    schedulePoll();
  }, POLL_MS);
}

/** Duty, offers and the current job as the server has them. */
async function loadState() {
  try {
    invitations.load(); // beside the state: a failure there shows on its own
    musters.load(); // likewise
    const state = await getJson("/api/officer/state");
    duty.show(state.duty);
    offers.sync(state.offers, { prune: page.loaded });
    if (state.active) job.show(state.active);
    page.loaded = true;
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
}

/** The alarm id of a notification tap that opened this page, if any. */
function offerInAddress() {
  const match = /^#offer=([\w-]+)$/.exec(location.hash);
  if (!match) return null;
  // Once is enough: a reload must not bring the offer forward again.
  history.replaceState(null, "", location.pathname + location.search);
  return match[1];
}

/** A notification was tapped: show its offer, fresh from the server. */
async function openOffer(alarmId) {
  await loadState();
  if (offers.offers.has(alarmId)) {
    offers.bringForward(alarmId);
  } else if (job.alarmId !== alarmId) {
    setStatus(byId("offers-status"), t("officer.push.offer_gone"), "warning");
  }
}

/** 抢单 on a notification: the worker claimed, and says how it went. */
function claimedFromNotification({ alarm_id: alarmId, ok, alarm, reason }) {
  if (ok) {
    offers.end(alarmId, "yours");
    job.show(alarm);
  } else if (ENDED_REASONS.has(reason)) {
    offers.end(alarmId, reason);
    const text = t("officer.offer.result." + reason);
    setStatus(byId("offers-status"), text, "warning");
  } else {
    setStatus(byId("offers-status"), t("officer.push.claim_failed"), "error");
    openOffer(alarmId);
  }
}

/** Category names of the officer's own agency, where it renamed them. */
async function loadCategories() {
  try {
    const { tenant } = await getJson("/api/tenant");
    useCategories((tenant.settings || {}).categories);
  } catch {
    // The built-in names stand in.
  }
}

function onEvent(name, payload) {
  switch (name) {
    case "offer.new":
      offers.add(payload);
      break;
    case "offer.taken":
    case "offer.expired":
    case "offer.cancelled":
      offers.end(payload.alarm_id, name.slice("offer.".length));
      push.forget(payload.alarm_id);
      break;
    case "alarm.assigned":
      offers.end(payload.id, "yours");
      push.forget(payload.id);
      job.show(payload);
      break;
    case "alarm.updated":
      job.update(payload);
      break;
    case "alarm.unassigned":
      job.unassigned(payload.alarm_id);
      break;
    case "muster.alert":
      musters.alerted(payload);
      break;
    case "muster.answered":
      musters.answered(payload);
      break;
    case "muster.ended":
      musters.ended(payload);
      break;
    case "room.invited":
    case "room.removed":
      invitations.load();
      break;
    default:
      break; // events of later features (tasks, musters)
  }
}

function connect(user) {
  if (!realtimeSupported()) setStatus(status, t("rt.unsupported"), "warning");
  socket.subscribe(`user:${user.id}`, {
    onEvent,
    onReload: loadState,
    onError: (message) => setStatus(status, message, "error"),
  });
  socket.start();
}

showOwnPosition(map, byId("geo-status"));
connect(currentUser());
sharer.start();
loadCategories();
push.start();
const mustered = MusterDesk.inAddress();
if (mustered) musters.open(mustered);
const tapped = offerInAddress();
if (tapped) openOffer(tapped);
else loadState();

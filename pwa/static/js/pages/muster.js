// A muster's roll-call board (/musters/<id>) for the command room: the board
// itself comes over HTTP, then live from the `muster:<id>` topic (each answer
// updates one row and the counts); a `reload` fetches it whole again. The
// commander widens the radius, reminds those who have not answered, ends the
// muster, and exports it as a CAP 1.2 alert (a link to the API).

import { errorText, getJson, postJson } from "../api.js";
import { t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { createMap } from "../map.js";
import { RollCall } from "../muster-board.js";
import { RealtimeClient, realtimeSupported } from "../realtime.js";
import { connectionIndicator, startPage } from "../shell.js";

// Without websockets the board can only ask again; answers come in within
// seconds of an alert, so every 10 s.
const POLL_MS = 10000;

startPage();
const musterId = byId("muster").dataset.musterId;
const api = `/api/musters/${encodeURIComponent(musterId)}`;
const status = byId("page-status");
const actionStatus = byId("action-status");
const board = new RollCall(createMap(byId("map")));

const page = { loading: null };

function load() {
  page.loading = (async () => {
    try {
      const { muster } = await getJson(api);
      board.replace(muster);
      byId("widen-radius").value = String(muster.radius_m * 2);
    } catch (error) {
      setStatus(status, errorText(error), "error");
    }
  })();
  return page.loading;
}

/** Runs one of the commander's actions; its answer is the new board. */
async function act(button, path, body, said) {
  button.disabled = true;
  setStatus(actionStatus, "");
  try {
    const answer = await postJson(`${api}/${path}`, body);
    const before = board.roll.size;
    board.replace(answer.muster);
    if (said) setStatus(actionStatus, said(answer, before));
  } catch (error) {
    setStatus(actionStatus, errorText(error), "error");
  } finally {
    button.disabled = false;
  }
}

function bind() {
  byId("widen-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = byId("widen-radius").value.trim();
    const radius = text === "" ? null : Number(text);
    act(byId("widen-submit"), "widen", { radius_m: radius }, (answer, before) =>
      t("muster.widened", {
        km: answer.muster.radius_m / 1000,
        n: answer.muster.roll.length - before,
      }),
    );
  });
  byId("remind").addEventListener("click", () =>
    act(byId("remind"), "remind", {}, (answer) =>
      t("muster.reminded", { n: answer.reminded }),
    ),
  );
  byId("end-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(byId("end-submit"), "end", { note: byId("end-note").value });
  });
}

function connect() {
  if (!realtimeSupported()) {
    setStatus(status, t("rt.unsupported"), "warning");
    setInterval(load, POLL_MS);
  }
  const client = new RealtimeClient({
    onState: connectionIndicator(byId("connection")),
  });
  client.subscribe(`muster:${musterId}`, {
    onEvent: (name, payload) => {
      if (name !== "muster.updated") return;
      if (board.muster) {
        board.update(payload.muster, payload.changed || []);
      } else if (page.loading) {
        // The first load may have been read before this change: again.
        page.loading.then(load);
      }
    },
    onReload: load,
    onError: (message) => setStatus(status, message, "error"),
  });
  client.start();
}

bind();
// Subscribe first: an answer that comes while the board loads is not lost.
connect();
load();

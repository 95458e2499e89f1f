// The citizen's page: terms first, then either the alarm they are following
// (restored after a reload or when the link is opened again) or a new report:
// the place, the category, words and photos, and one button. Works without a
// service worker, a websocket or geolocation, as in WeChat's in-app browser.

import { errorText, getJson, postJson } from "../api.js";
import { ACTIVE_STATUSES, timeOf } from "../alarm-format.js";
import { AlarmForm } from "../citizen-form.js";
import { LocationPicker } from "../citizen-location.js";
import { forgetSubmission } from "../citizen-send.js";
import { AlarmTracker, rememberedAlarmId } from "../citizen-track.js";
import { config, currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { createMap } from "../map.js";
import { startPage } from "../shell.js";

// A finished alarm is shown again on reopening the page for this long after
// it was raised (to read how it ended); a pending rating keeps it longer.
const ENDED_SHOWN_MS = 6 * 3600 * 1000;

let termsVersion = null;

function hasCitizenSession() {
  const user = currentUser();
  return Boolean(user && user.kind === "citizen");
}

async function showTerms() {
  byId("terms").hidden = false;
  const textBox = byId("terms-text");
  try {
    const terms = await getJson("/api/terms");
    termsVersion = terms.version;
    textBox.textContent = terms.text[config().lang] || terms.text.zh;
    const version = byId("terms-version");
    version.textContent = t("citizen.terms.version", {
      version: terms.version,
    });
    version.hidden = false;
    byId("terms-agree").disabled = false;
  } catch (error) {
    textBox.textContent = "";
    setStatus(byId("terms-status"), errorText(error), "error");
  }
}

async function acceptTerms(event) {
  event.preventDefault();
  const button = byId("terms-agree");
  const status = byId("terms-status");
  const body = { accept_terms: true, terms_version: termsVersion };
  const phone = byId("phone").value.trim();
  if (phone) body.phone = phone;
  button.disabled = true;
  button.textContent = t("citizen.terms.saving");
  setStatus(status, "");
  try {
    await postJson("/api/citizen/session", body);
    byId("terms").hidden = true;
    showReport();
  } catch (error) {
    setStatus(status, errorText(error), "error");
    button.disabled = false;
    button.textContent = t("citizen.terms.agree");
  }
}

/** The plate code of the QR code that opened this page, if any. */
function plateCode() {
  const code = new URLSearchParams(location.search).get("plate");
  return code ? code.trim() : "";
}

/**
 * The alarm to come back to: an active one, else the one this device
 * followed last if it waits for a rating or ended recently, else none. A
 * plate's QR code scanned anew means a new report rather than an old result.
 */
async function currentAlarm() {
  let alarms;
  try {
    ({ alarms } = await getJson("/api/alarms"));
  } catch {
    return null; // the report form still works; the list is a convenience
  }
  const active = alarms.find((alarm) => ACTIVE_STATUSES.has(alarm.status));
  if (active) {
    // A submission whose answer was lost has its alarm here.
    forgetSubmission();
    return active;
  }
  const remembered = alarms.find((alarm) => alarm.id === rememberedAlarmId());
  if (!remembered) return null;
  if (remembered.can_rate) return remembered;
  const recent = timeOf(remembered.created_at) > Date.now() - ENDED_SHOWN_MS;
  return recent && !plateCode() ? remembered : null;
}

/** The map with either the followed alarm or the report form. */
async function showReport() {
  byId("report").hidden = false;
  const map = createMap(byId("map"));
  const placePanel = byId("place-panel");
  let form = null;
  const picker = new LocationPicker({
    map,
    elements: {
      geoStatus: byId("geo-status"),
      plateStatus: byId("plate-status"),
      line: byId("location-line"),
      switchButton: byId("location-switch"),
    },
    onChange: (place, service, error) =>
      form.showService(place, service, error),
  });
  const tracker = new AlarmTracker({ map, onDone: () => newReport() });
  form = new AlarmForm({ picker, onSent: (view) => follow(view) });

  function follow(view) {
    picker.stop();
    form.hide();
    placePanel.hidden = true;
    tracker.follow(view);
  }

  function newReport() {
    placePanel.hidden = false;
    picker.start(plateCode());
  }

  const alarm = await currentAlarm();
  if (alarm) follow(alarm);
  else newReport();
}

startPage();
if (hasCitizenSession()) {
  showReport();
} else {
  byId("terms-form").addEventListener("submit", acceptTerms);
  showTerms();
}

// The citizen's page: terms first, then the map with their position and the
// alarm form (built by the alarm issue). Works without a service worker and
// without geolocation, as in WeChat's in-app browser.

import { errorText, getJson, postJson } from "../api.js";
import { config, currentUser, t } from "../config.js";
import { byId, setStatus } from "../dom.js";
import { createMap } from "../map.js";
import { showOwnPosition } from "../own-position.js";
import { startPage } from "../shell.js";

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

/** The map, following the citizen's position when the browser shares it. */
function showReport() {
  byId("report").hidden = false;
  const map = createMap(byId("map"));
  showOwnPosition(map, byId("geo-status"));
}

startPage();
if (hasCitizenSession()) {
  showReport();
} else {
  byId("terms-form").addEventListener("submit", acceptTerms);
  showTerms();
}

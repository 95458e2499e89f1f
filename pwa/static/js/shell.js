// What every page shares: the service worker, the sign-out button, language
// links that keep the rest of the address, and the offline notice.

import { errorText, postJson } from "./api.js";
import { t } from "./config.js";
import { byId, setStatus } from "./dom.js";
import { registerServiceWorker } from "./sw-register.js";

/** Sets up the page chrome; call once at the top of each page module. */
export function startPage() {
  registerServiceWorker();
  bindLogout();
  keepQueryInLanguageLinks();
  showNetworkState();
}

function bindLogout() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await postJson("/api/auth/logout");
      location.assign("/");
    } catch (error) {
      button.disabled = false;
      setStatus(byId("page-status"), errorText(error), "error");
    }
  });
}

// The server renders plain "?lang=xx" links; keep other parameters (such as
// the login page's `next`) when switching.
function keepQueryInLanguageLinks() {
  for (const link of document.querySelectorAll("a[data-lang]")) {
    const params = new URLSearchParams(location.search);
    params.set("lang", link.dataset.lang);
    link.search = params.toString();
  }
}

function showNetworkState() {
  const bar = document.getElementById("offline-bar");
  if (!bar) return;
  const update = () => {
    bar.hidden = navigator.onLine !== false;
  };
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}

/** Keeps an indicator element in step with a RealtimeClient's state. */
export function connectionIndicator(element) {
  return (state) => {
    element.hidden = false;
    element.dataset.state = state;
    element.textContent = t("rt." + state);
  };
}

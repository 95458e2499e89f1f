// Registers the service worker where one exists, and offers a reload when a
// new release is waiting. Pages never depend on it: WeChat on iOS has none.

import { t } from "./config.js";
import { el } from "./dom.js";

/** Registers /sw.js for the whole site; a no-op without service workers. */
export async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  let registration;
  try {
    // updateViaCache "none": always ask the server whether sw.js changed.
    registration = await navigator.serviceWorker.register("/sw.js", {
      scope: "/",
      updateViaCache: "none",
    });
  } catch (error) {
    // Private modes and some embedded browsers refuse; the page works anyway.
    console.warn("jingdi: service worker not registered:", error.message);
    return;
  }
  watchForUpdates(registration);
}

function watchForUpdates(registration) {
  // An update counts only when a worker already controls the page; the very
  // first install needs no prompt.
  const isUpdate = () => Boolean(navigator.serviceWorker.controller);
  if (registration.waiting && isUpdate()) offerReload(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    if (!worker) return;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && isUpdate()) offerReload(worker);
    });
  });
}

function offerReload(worker) {
  if (document.getElementById("update-bar")) return;
  const button = el(
    "button",
    { type: "button", class: "btn btn-small" },
    t("sw.reload"),
  );
  const bar = el(
    "div",
    { id: "update-bar", class: "update-bar", role: "status" },
    el("span", {}, t("sw.update_available")),
    button,
  );
  button.addEventListener("click", () => {
    button.disabled = true;
    // Reload only once the new worker has taken over, so the page we load is
    // served by it and not by the old cache.
    const reload = () => location.reload();
    navigator.serviceWorker.addEventListener("controllerchange", reload, {
      once: true,
    });
    worker.postMessage({ type: "SKIP_WAITING" });
  });
  document.body.appendChild(bar);
}

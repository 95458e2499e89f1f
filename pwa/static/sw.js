// The service worker: an offline-capable app shell, nothing more. API calls,
// the websocket and pages always go to the network; only static files are
// served from the cache, and the landing page stands in when offline.
//
// The server replaces __JINGDI_VERSION__ with a hash of the static files, so
// each release installs under a new cache name and the old one is deleted.

const CACHE = "jingdi-shell-__JINGDI_VERSION__";
const CACHE_PREFIX = "jingdi-shell-";
const OFFLINE_PAGE = "/";

// Everything a page needs to start. Keep in step with pwa/static/js
// (tests/browser/test_views.py checks that every module is listed).
const SHELL = [
  OFFLINE_PAGE,
  "/manifest.webmanifest",
  "/static/css/app.css",
  "/static/js/alarm-format.js",
  "/static/js/alarm-photos.js",
  "/static/js/api.js",
  "/static/js/citizen-form.js",
  "/static/js/citizen-location.js",
  "/static/js/citizen-photos.js",
  "/static/js/citizen-send.js",
  "/static/js/citizen-track.js",
  "/static/js/command-alarms.js",
  "/static/js/command-cue.js",
  "/static/js/command-detail.js",
  "/static/js/command-labels.js",
  "/static/js/command-markers.js",
  "/static/js/command-officers.js",
  "/static/js/command-queue.js",
  "/static/js/config.js",
  "/static/js/dom.js",
  "/static/js/geo.js",
  "/static/js/kpi-table.js",
  "/static/js/locate.js",
  "/static/js/map.js",
  "/static/js/officer-alert.js",
  "/static/js/officer-duty.js",
  "/static/js/officer-job.js",
  "/static/js/officer-offers.js",
  "/static/js/officer-position.js",
  "/static/js/officer-realtime.js",
  "/static/js/own-position.js",
  "/static/js/realtime.js",
  "/static/js/shell.js",
  "/static/js/sw-register.js",
  "/static/js/pages/admin.js",
  "/static/js/pages/citizen.js",
  "/static/js/pages/command.js",
  "/static/js/pages/error.js",
  "/static/js/pages/expert.js",
  "/static/js/pages/index.js",
  "/static/js/pages/kpi.js",
  "/static/js/pages/login.js",
  "/static/js/pages/officer.js",
  "/static/vendor/leaflet/leaflet-src.esm.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/images/marker-icon.png",
  "/static/vendor/leaflet/images/marker-icon-2x.png",
  "/static/vendor/leaflet/images/marker-shadow.png",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/icon-maskable-512.png",
  "/static/icons/apple-touch-icon.png",
  "/static/sounds/offer-alert.wav",
];

// Paths that must always reach the server: live data and health checks.
const NEVER_CACHED = [/^\/api\//, /^\/ws$/, /^\/healthz$/];

async function precache() {
  const cache = await caches.open(CACHE);
  // "reload" bypasses the HTTP cache, so a release never precaches stale files.
  await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
}

async function deleteOldCaches() {
  const names = await caches.keys();
  const old = names.filter(
    (name) => name.startsWith(CACHE_PREFIX) && name !== CACHE,
  );
  await Promise.all(old.map((name) => caches.delete(name)));
  await self.clients.claim();
}

// Static files: the server versions their URLs with ?v=<hash>, and the cache
// is per release, so the cached copy is the right one whatever the query.
async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  // Only complete answers: Cache.put refuses partial (206) responses.
  if (response.status === 200) await cache.put(request, response.clone());
  return response;
}

// Pages: always fresh from the network; offline, the cached page if there is
// one, else the landing page.
async function networkFirstPage(request) {
  try {
    return await fetch(request);
  } catch (error) {
    const cache = await caches.open(CACHE);
    const fallback =
      (await cache.match(request, { ignoreSearch: true })) ||
      (await cache.match(OFFLINE_PAGE));
    if (fallback) return fallback;
    throw error;
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(deleteOldCaches());
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER_CACHED.some((pattern) => pattern.test(url.pathname))) return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request));
  } else if (
    url.pathname.startsWith("/static/") ||
    url.pathname === "/manifest.webmanifest"
  ) {
    event.respondWith(cacheFirst(request));
  }
});

// The page asks for this when the user accepts the "new version" prompt;
// waiting until then keeps one release's pages and files together.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") self.skipWaiting();
});

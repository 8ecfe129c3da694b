// fieldcheck's service worker, by hand. The app shell is cached whole at install under a
// versioned name and served from the cache; API reads go to the network first and fall back
// to their last good answer when offline; nothing but GET is ever cached.
//
// VERSION must change whenever a file in SHELL changes, or phones keep the old shell:
// tests/test_pwa_size.py checks that it carries the hash of the shell's contents.
//
// Background Sync (Chromium): a `sync` event drains the outbox with the very code the pages
// use (js/sync-core.js, a classic script as well as a module), reading the token and the
// outbox from IndexedDB; the pages drain it too where the browser has no Background Sync.
importScripts("/js/sync-core.js");

const VERSION = "fc-shell-93cb00a837";
const SHELL_CACHE = VERSION;
const API_CACHE = "fieldcheck-api"; // app.js names it too, to empty it on log-out

const SHELL = [
  "/",
  "/css/app.css",
  "/js/app.js",
  "/js/api.js",
  "/js/dom.js",
  "/js/i18n.js",
  "/js/map.js",
  "/js/store.js",
  "/js/screens/home.js",
  "/js/screens/login.js",
  "/js/tier.js",
  "/js/desk.js",
  "/js/screens/queue.js",
  "/js/screens/finding_detail.js",
  "/js/screens/legal.js",
  "/js/screens/dashboard.js",
  "/js/screens/planner.js",
  "/js/screens/sync_health.js",
  "/js/screens/webhooks.js",
  "/js/screens/import.js",
  "/js/screens/admin_common.js",
  "/js/screens/admin_parks.js",
  "/js/screens/admin_sites.js",
  "/js/screens/admin_people.js",
  "/js/screens/admin_checklists.js",
  "/js/screens/admin_catalogue.js",
  "/js/screens/admin_policy.js",
  "/js/classify.js",
  "/js/day.js",
  "/js/field.js",
  "/js/onsite.js",
  "/js/outbox.js",
  "/js/photos.js",
  "/js/sync-core.js",
  "/js/visits.js",
  "/js/screens/today.js",
  "/js/screens/site.js",
  "/js/screens/visit.js",
  "/js/screens/finding.js",
  "/js/screens/outbox.js",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/vendor/leaflet/leaflet.js",
  "/vendor/leaflet/leaflet.css",
];

self.addEventListener("install", (event) => {
  // cache: "reload" so the shell comes from the server, not from the HTTP cache.
  event.waitUntil(
    caches.open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((n) => n.startsWith("fc-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n)),
      ))
      .then(() => self.clients.claim()),
  );
});

function marked(response, mark) {
  const headers = new Headers(response.headers);
  headers.set("X-Fieldcheck-Cache", mark);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function apiRead(request) {
  try {
    const response = await fetch(request);
    // Log-in and log-out answers are never kept; a failed read does not replace a good one.
    if (response.ok && !new URL(request.url).pathname.startsWith("/api/auth/")) {
      const cache = await caches.open(API_CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const cached = await caches.match(request, { cacheName: API_CACHE, ignoreVary: true });
    if (cached) return marked(cached, "fallback");
    return marked(new Response(JSON.stringify({ code: 503, status: "Service Unavailable", message: "offline" }), {
      status: 503, headers: { "Content-Type": "application/json" },
    }), "miss");
  }
}

async function shellRead(request) {
  const cache = await caches.open(SHELL_CACHE);
  // Every page of the app is the one index.html; the hash picks the screen.
  const key = request.mode === "navigate" ? "/" : request;
  const cached = await cache.match(key);
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // Exports (the bureau's records, never kept on the device) and the public results page (its own
  // HTML, not the app's shell) go to the network untouched.
  if (url.pathname.startsWith("/api/exports/") || url.pathname.startsWith("/public/")) return;
  if (url.pathname.startsWith("/api/")) event.respondWith(apiRead(request));
  else event.respondWith(shellRead(request));
});

// The outbox, sent while the app may be closed. A failed attempt rejects, so that the browser
// tries again later with its own back-off; a refusal for a person (conflict, rejected) does not.
async function drainOutbox() {
  const db = await self.fieldcheckOutbox.openExisting();
  if (!db) return;
  try {
    const outcome = await self.fieldcheckOutbox.drain(db);
    if (!outcome.ok && ["offline", "server"].includes(outcome.error.kind)) throw new Error(outcome.error.kind);
  } finally {
    db.close();
  }
}

self.addEventListener("sync", (event) => {
  if (event.tag === "fieldcheck-outbox") event.waitUntil(drainOutbox());
});

// The outbox as the pages see it: what waits, what is being sent, what went wrong, in words.
// The sending itself is js/sync-core.js (shared with the service worker's Background Sync).
//
// It drains on start, on `online`, when the app becomes visible, after a visit is finished,
// on the button, and through Background Sync where the browser has it (Chromium).
import "./sync-core.js";
import { formatDateTime, t } from "./i18n.js";
import { openDb, transaction } from "./store.js";

const core = globalThis.fieldcheckOutbox;
const SYNC_TAG = "fieldcheck-outbox";
// Storage used beyond this share of the quota is worth a warning: photos are large.
const NEAR_QUOTA = 0.8;

const listeners = new Set();
let current = null; // the last status read, for a listener subscribing late
let sending = null; // { phase, done, total } while a drain runs, in this tab or another
let started = false;

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

// What waits and what went wrong: counts, the oldest, the last error, progress while sending.
export async function status() {
  const [records, photos, meta] = await transaction(["outbox", "photos", "meta"], "readonly",
    (s) => Promise.all([done(s.outbox.getAll()), done(s.photos.getAll()), done(s.meta.get("outbox"))]));
  const queued = photos.filter((p) => p.state !== "draft");
  const waiting = records.filter((r) => r.state === "waiting");
  const oldest = [...records.map((r) => r.queued_at), ...queued.map((p) => p.queued_at)].filter(Boolean).sort()[0] || null;
  const days = [...records.map((r) => r.day), ...queued.map((p) => p.day)].filter(Boolean);
  const day = localToday();
  current = {
    records: waiting.length,
    photos: queued.filter((p) => p.state === "waiting").length,
    held: records.filter((r) => r.state !== "waiting").length + queued.filter((p) => p.state !== "waiting").length,
    oldest,
    earlierDay: days.some((d) => d < day),
    offline: !navigator.onLine,
    lastError: (meta && meta.last_error) || null,
    lastSuccessAt: (meta && meta.last_success_at) || null,
    sending,
  };
  return current;
}

function localToday() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function subscribe(fn) {
  listeners.add(fn);
  if (current) fn(current);
  else refresh();
  return () => listeners.delete(fn);
}

export async function refresh() {
  try {
    const s = await status();
    for (const fn of listeners) fn(s);
  } catch {
    // No IndexedDB (a private window): there is no outbox to show.
  }
}

// Send what waits now. Several calls at once join one drain (js/sync-core.js).
export async function drain() {
  const db = await openDb();
  sending = sending || { phase: "records", done: 0, total: 0 };
  refresh();
  try {
    return await core.drain(db);
  } finally {
    sending = null;
    await refresh();
    report(); // not awaited: the supervisor's sync-health view, never in the way of the outbox
  }
}

// After each sync attempt the phone tells the server what waits in its outbox and how its
// storage stands (POST /api/devices/report, the supervisor's sync health). Offline-safe: a
// report that fails is dropped, never queued; the next attempt sends a fresh one.
const REPORT_TIMEOUT_MS = 10000;
let lastReport = { key: "", at: 0 };

async function appVersion() {
  try {
    return ((await caches.keys()).find((n) => n.startsWith("fc-shell-")) || "").slice(0, 40);
  } catch {
    return "";
  }
}

export async function report() {
  try {
    const [session, device, meta] = await transaction(["session", "meta"], "readonly",
      (s) => Promise.all([done(s.session.get("current")), done(s.meta.get("device")), done(s.meta.get("outbox"))]));
    if (!session || !session.token || !device) return false;
    const [s, storage] = await Promise.all([status(), storageHealth()]);
    const error = meta && meta.last_error;
    const body = {
      device_id: device, outbox_records: s.records, outbox_photos: s.photos, held: s.held, oldest_item_at: s.oldest,
      quota_bytes: storage.quota === null ? null : Math.round(storage.quota),
      usage_bytes: storage.usage === null ? null : Math.round(storage.usage),
      persisted: storage.persisted, app_version: await appVersion(),
      last_sync_error: error ? `${error.kind} ${error.status || ""} ${error.message || ""}`.trim().slice(0, 300) : "",
    };
    // The same state again within a minute says nothing new.
    const key = JSON.stringify(body);
    if (key === lastReport.key && Date.now() - lastReport.at < 60000) return false;
    body.last_sync_at = (meta && meta.last_attempt_at) || null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REPORT_TIMEOUT_MS);
    try {
      const resp = await fetch("/api/devices/report", {
        method: "POST", cache: "no-store", signal: abort.signal, body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${session.token}` },
      });
      if (resp.ok) lastReport = { key, at: Date.now() };
      return resp.ok;
    } finally {
      clearTimeout(timer);
    }
  } catch {
    return false; // offline, no IndexedDB, a refusal: dropped
  }
}

// Ask the browser to send when the network comes back, even with the app closed (Chromium).
export async function askBackgroundSync() {
  try {
    const reg = await navigator.serviceWorker.ready;
    if (reg.sync) await reg.sync.register(SYNC_TAG);
    return Boolean(reg.sync);
  } catch {
    return false; // no service worker, or Background Sync refused: the other triggers remain
  }
}

// A finished visit joins the outbox: the record, its photos from "draft" to "waiting", and
// the draft gone, in one transaction (nothing half-queued if the app dies meanwhile).
export async function enqueue(entry, photoIds) {
  const now = new Date().toISOString();
  await transaction(["outbox", "photos", "drafts"], "readwrite", async ({ outbox, photos, drafts }) => {
    outbox.put({ ...entry, state: "waiting", queued_at: now, attempts: 0 });
    const keep = new Set(photoIds);
    const own = await done(photos.index("record_id").getAll(entry.id));
    for (const photo of own) {
      if (keep.has(photo.id)) photos.put({ ...photo, state: "waiting", queued_at: now, day: entry.day, user: entry.user });
      else photos.delete(photo.id); // taken, then removed or undone: never part of the record
    }
    drafts.delete(entry.id);
  });
  refresh();
  askBackgroundSync();
  // Even when the phone believes it is offline (it may be wrong): a failed try costs nothing.
  drain();
}

// Put a held record back in line (after the reason was dealt with on the server's side).
export async function retry(id) {
  await transaction("outbox", "readwrite", async ({ outbox }) => {
    const entry = await done(outbox.get(id));
    if (entry) outbox.put({ ...entry, state: "waiting", message: "", errors: null });
  });
  await drain();
}

export async function retryPhoto(id) {
  await transaction("photos", "readwrite", async ({ photos }) => {
    const photo = await done(photos.get(id));
    if (photo) photos.put({ ...photo, state: "waiting", message: "" });
  });
  await drain();
}

// The last error in words a person can act on.
export function describe(error) {
  if (!error) return "";
  if (error.kind === "offline") return t("outbox.error.offline");
  if (error.kind === "unauthorized" || error.kind === "signed_out") return t("outbox.error.login");
  if (error.kind === "server") return t("outbox.error.server", { status: error.status, message: error.message || "" });
  return t("outbox.error.client", { message: error.message || "" });
}

// The header badge's words: sending, waiting, held, or all sent.
export function badgeText(s) {
  if (s.sending && s.sending.total) return t("outbox.badge.sending", { done: s.sending.done, total: s.sending.total });
  if (s.sending) return t("outbox.badge.sending.start");
  if (s.records) return t("outbox.badge.records", { n: s.records });
  if (s.photos) return t("outbox.badge.photos", { n: s.photos });
  if (s.held) return t("outbox.badge.held", { n: s.held });
  return t("outbox.badge.empty");
}

export function badgeState(s) {
  if (s.sending) return "sending";
  if (s.held) return "held";
  if (s.records || s.photos) return s.lastError || s.offline ? "error" : "waiting";
  return "empty";
}

// Why what waits has not gone yet, in words: no network now, or the last attempt's error.
export function why(s) {
  if (!s.records && !s.photos) return "";
  if (s.offline) return describe({ kind: "offline" });
  return describe(s.lastError);
}

// A long form for screen readers and the outbox screen: every count, the oldest, the last error.
export function summary(s, { withWhy = true } = {}) {
  const parts = [t("outbox.summary", { records: s.records, photos: s.photos })];
  if (s.held) parts.push(t("outbox.summary.held", { n: s.held }));
  if (s.oldest) parts.push(t("outbox.summary.oldest", { when: formatDateTime(s.oldest) }));
  if (withWhy && why(s)) parts.push(why(s));
  return parts.join(t("list.separator"));
}

// Storage the browser may take back, or nearly full: { persisted, usage, quota, nearQuota }.
export async function storageHealth() {
  const health = { persisted: null, usage: null, quota: null, nearQuota: false };
  if (!navigator.storage) return health;
  try {
    if (navigator.storage.persisted) health.persisted = await navigator.storage.persisted();
    if (navigator.storage.estimate) {
      const { usage, quota } = await navigator.storage.estimate();
      Object.assign(health, { usage, quota, nearQuota: Boolean(quota) && usage / quota >= NEAR_QUOTA });
    }
  } catch {
    // Unknown is not a warning.
  }
  return health;
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// Everything not yet acknowledged as one JSON file (photos base64): for when all else fails,
// the file can be carried to the bureau and sent from there.
export async function exportUnsent(user) {
  const [records, photos, device] = await transaction(["outbox", "photos", "meta"], "readonly",
    (s) => Promise.all([done(s.outbox.getAll()), done(s.photos.getAll()), done(s.meta.get("device"))]));
  const unsent = photos.filter((p) => p.state !== "draft");
  const file = {
    format: "fieldcheck-outbox-export", version: 1, exported_at: new Date().toISOString(), device_id: device || null,
    user: user ? { id: user.id, username: user.username, name: user.name } : null,
    sync: { device_id: device || null, visits: records.map((r) => r.record) },
    records, // each with what the phone knew: the site's name, the day, the 预判, who recorded it
    photos: await Promise.all(unsent.map(async ({ blob, ...meta }) => ({ ...meta, data_base64: base64(await blob.arrayBuffer()) }))),
  };
  const url = URL.createObjectURL(new Blob([JSON.stringify(file, null, 1)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `fieldcheck-unsent-${file.exported_at.slice(0, 19).replace(/[:T]/g, "-")}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { records: records.length, photos: unsent.length };
}

// Start the triggers, once per page: now, on `online`, on becoming visible, and when another
// tab or the service worker sends (their progress shows here too).
export function start() {
  if (started) return;
  started = true;
  if ("BroadcastChannel" in window) {
    const channel = new BroadcastChannel(core.CHANNEL);
    channel.onmessage = ({ data }) => {
      if (data.type === "progress") sending = { phase: data.phase, done: data.done, total: data.total };
      else if (data.type === "start") sending = sending || { phase: "records", done: 0, total: 0 };
      else if (data.type === "end") sending = null;
      refresh();
    };
  }
  window.addEventListener("online", () => drain());
  window.addEventListener("offline", () => refresh());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") drain();
  });
  drain();
}

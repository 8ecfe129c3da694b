// Today's work (GET /api/me/today): the stops, their sites, the checklists, the catalogue, the
// rule table, the policy, the geofence, the upload limits and the team. Kept in IndexedDB for
// the day, so every field screen renders from the phone first; refreshed quietly with the ETag
// (an unchanged day answers 304 and costs nothing).
import { api } from "./api.js";
import { store } from "./store.js";

export const TODAY = "/api/me/today"; // js/sync-core.js reads the limits under the same key

// { body, etag, fetched_at } or null.
export async function keptDay() {
  try {
    return (await store.get("data", TODAY)) || null;
  } catch {
    return null;
  }
}

// Fetch the day if it changed. Answers { kept, changed, stale }; throws the ApiError (offline too).
export async function refreshDay() {
  const kept = await keptDay();
  const answer = await api.getIfChanged(TODAY, kept && kept.etag);
  const now = new Date().toISOString();
  if (answer.status === 304 && kept) {
    const fresh = { ...kept, fetched_at: now };
    await store.put("data", fresh, TODAY);
    return { kept: fresh, changed: false, stale: false };
  }
  if (answer.stale) return { kept: kept || { body: answer.data, etag: null, fetched_at: null }, changed: false, stale: true };
  const fresh = { body: answer.data, etag: answer.etag, fetched_at: now };
  await store.put("data", fresh, TODAY);
  return { kept: fresh, changed: true, stale: false };
}

export function stopOf(day, siteId) {
  return (day.stops || []).find((s) => s.site_id === siteId) || null;
}

export function siteOf(day, siteId) {
  const stop = stopOf(day, siteId);
  return stop ? stop.site : null;
}

export function catalogueRow(day, code) {
  return (day.catalogue || []).find((row) => row.code === code) || null;
}

// Every checklist item by its code, with its checklist.
export function itemsByCode(day) {
  const items = new Map();
  for (const list of day.checklists || []) {
    for (const item of list.items) if (!items.has(item.code)) items.set(item.code, { ...item, checklist: list.code });
  }
  return items;
}

// "2026-11-26" for a time, in the bureau's time zone (the day the server counts in).
export function localDay(when, timeZone) {
  const d = when instanceof Date ? when : new Date(when);
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
  } catch {
    return d.toISOString().slice(0, 10);
  }
}

// "2026-11-26T09:12:03+08:00": the phone's clock with its offset (the server needs the offset).
export function isoWithOffset(when = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, "0");
  const offset = -when.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}T${pad(when.getHours())}:`
    + `${pad(when.getMinutes())}:${pad(when.getSeconds())}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

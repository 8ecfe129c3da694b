// Today: the day's stops as a list and on the map, each with where it stands (not started, in
// progress, waiting to upload, uploaded). Renders from the phone first, then refreshes quietly.
import { describeError } from "../api.js";
import { keptDay, refreshDay } from "../day.js";
import { h } from "../dom.js";
import { formatDate, formatDateTime, t } from "../i18n.js";
import { drawMap } from "../map.js";
import { storageHealth, subscribe } from "../outbox.js";
import { store } from "../store.js";
import { word } from "../field.js";

const PARKS = "/api/parks.geojson"; // kept by the home screen; the map draws the parks when present
const EMPTY = { type: "FeatureCollection", features: [] };

// Where each site of the day stands on this phone: a draft, a queued record, an acknowledged one
// (records of another day say nothing about today's stop; a visit still being recorded does).
async function progressBySite(day) {
  const [drafts, queued, acked] = await Promise.all([store.getAll("drafts"), store.getAll("outbox"), store.getAll("receipts")]);
  const state = new Map();
  for (const r of acked.filter((x) => x.day === day)) state.set(r.site_id, { state: "uploaded", at: r.acked_at });
  for (const e of queued.filter((x) => x.day === day)) state.set(e.record.site_id, { state: e.state === "waiting" ? "queued" : "held" });
  for (const d of drafts) state.set(d.site_id, { state: "draft", id: d.id });
  return state;
}

export function render(root, ctx) {
  let alive = true;
  let map = null;
  let shown = "";
  let drawing = Promise.resolve();

  const title = h("h2", { id: "today-title", text: t("today.heading") });
  const status = h("p", { id: "today-status", class: "muted", role: "status" });
  const source = h("p", { id: "today-source", class: "muted" });
  const unsent = h("p", { id: "unsent-note", class: "warning", hidden: true, text: t("outbox.earlier_day") });
  const storage = h("p", { id: "storage-note", class: "warning", hidden: true });
  const mapBox = h("div", { id: "today-map", class: "map route-map", role: "region", "aria-label": t("today.map") });
  const list = h("ol", { id: "stops", class: "stops" });
  const refreshButton = h("button", { id: "today-refresh", type: "button", class: "secondary", onclick: () => refresh() },
    t("today.refresh"));

  root.append(h("div", { class: "screen today-route" },
    h("section", { class: "day-head" },
      h("p", { class: "today", text: formatDate(new Date()) }),
      title, status, source),
    unsent, storage,
    h("section", {}, h("h3", { text: t("today.stops") }), list),
    mapBox,
    h("div", { class: "actions" }, refreshButton)));

  function stopRow(stop, progress, next) {
    const site = stop.site || {};
    const p = progress.get(stop.site_id) || { state: stop.status === "visited" ? "visited" : "planned" };
    const reasons = (stop.reasons || []).map((r) => word("reason", r)).filter(Boolean);
    return h("li", { class: `stop${next ? " next" : ""}`, "data-site-id": stop.site_id, "data-state": p.state },
      h("a", { href: `#/site/${stop.site_id}` },
        h("span", { class: "stop-seq", "aria-hidden": "true", text: String(stop.seq) }),
        h("span", { class: "stop-name" }, site.name || "",
          next ? h("span", { class: "badge badge-next", text: t("today.next") }) : null),
        h("span", { class: "stop-meta", text: [word("kind", stop.kind), ...reasons].join(t("list.separator")) }),
        h("span", { class: "stop-address", text: site.address || t("home.address.none") }),
        site.grades && site.grades.risk ? h("span", { class: `risk risk-${site.grades.risk}`, text: word("risk", site.grades.risk) }) : null,
        h("span", { class: `stop-state state-${p.state}`, text: t(`stop.state.${p.state}`) })));
  }

  let showing = null; // the day on screen: redrawn as the outbox moves (queued, then uploaded)

  async function show(kept) {
    showing = kept;
    const day = kept.body;
    const progress = await progressBySite(day.day);
    if (!alive) return;
    const stops = day.stops || [];
    title.textContent = t("today.count", { n: stops.length });
    source.textContent = t(day.source === "plan" ? "today.source.plan" : "today.source.fallback");
    const open = (s) => !["uploaded", "queued", "visited"].includes((progress.get(s.site_id) || { state: s.status }).state);
    const next = stops.find(open);
    if (!stops.length) list.replaceChildren(h("li", { class: "empty", text: t("today.none") }));
    else list.replaceChildren(...stops.map((s) => stopRow(s, progress, s === next)));
    const sites = stops.filter((s) => s.site).map((s) => ({
      id: s.site_id, name: `${s.seq}. ${s.site.name}`, lon: s.site.lon, lat: s.site.lat,
      risk: s.site.grades && s.site.grades.risk, key: Boolean(s.site.flags && s.site.flags.key_object),
    }));
    const json = JSON.stringify(sites);
    if (json === shown) return;
    shown = json;
    const parks = await store.get("data", PARKS).catch(() => null);
    drawing = drawing.then(async () => {
      if (map) map.destroy();
      map = null;
      if (!alive) return;
      try {
        const drawn = await drawMap(mapBox, parks ? parks.body : EMPTY, sites);
        if (!alive) { drawn.destroy(); return; }
        map = drawn;
        if (next) map.focus(next.site_id, { animate: false });
      } catch {
        mapBox.replaceChildren(h("p", { class: "muted", text: t("home.map.unavailable") }));
      }
    });
  }

  function said(kept, offline) {
    if (!kept || !kept.fetched_at) status.textContent = t("today.nodata");
    else if (offline) status.textContent = t("home.cached", { when: formatDateTime(kept.fetched_at) });
    else status.textContent = t("today.offline_ready", { when: formatDateTime(kept.fetched_at) });
  }

  async function refresh() {
    refreshButton.disabled = true;
    try {
      const { kept, stale } = await refreshDay();
      if (!alive) return;
      ctx.setOffline(stale);
      said(kept, stale);
      if (kept.body) await show(kept);
    } catch (err) {
      if (!alive) return;
      if (err.offline) {
        ctx.setOffline(true);
        said(await keptDay(), true);
      } else status.textContent = describeError(err);
    } finally {
      if (alive) refreshButton.disabled = false;
    }
  }

  async function start() {
    const kept = await keptDay();
    if (!alive) return;
    if (kept) {
      said(kept, ctx.offline);
      await show(kept);
    } else said(null, ctx.offline);
    if (alive) refresh();
  }

  const stopWatching = subscribe((s) => {
    unsent.hidden = !s.earlierDay;
    if (showing && !s.sending) show(showing);
  });
  storageHealth().then((health) => {
    if (!alive) return;
    const words = [];
    if (health.persisted === false) words.push(t("storage.not_persistent"));
    if (health.nearQuota) words.push(t("storage.near_quota", { pct: Math.round((health.usage / health.quota) * 100) }));
    storage.textContent = words.join(" ");
    storage.hidden = !words.length;
  });
  start();
  return () => {
    alive = false;
    stopWatching();
    if (map) map.destroy();
  };
}

// The supervisor's queue: a dense table in the server's urgency order (expired clocks first),
// filters remembered on this computer, j/k to move, Enter to open, / to the filters, and one
// page more on demand. Loaded only when a desk user opens it (app.js imports it lazily).
import { ApiError, api, describeError } from "../api.js";
import {
  deadline, deskNav, parkName, photoLoader, violationName, word,
} from "../desk.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { TIERS, tierChange } from "../tier.js";

const KEY = "fieldcheck.queue.filters";
const PAGE = 50;
export const STATUSES = ["awaiting_review", "legal_review", "open", "order_issued", "reinspection_due", "escalated",
  "case_open", "closed", "closed_no_penalty"];
export const DOMAINS = ["safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other"];
const CLOCKS = ["overdue", "due"];
const DEFAULTS = { tier: "", status: "", park: "", domain: "", clock: "", days: 3, flagged: false, off_site: false };

addStrings({
  "zh-CN": {
    "queue.export.csv": "导出 CSV（Excel）",
    "queue.export.geojson": "导出 GeoJSON（地图）",
    "queue.export.busy": "正在导出…",
    "queue.export.done": "已下载 {name}",
  },
  en: {
    "queue.export.csv": "Export CSV (Excel)",
    "queue.export.geojson": "Export GeoJSON (map)",
    "queue.export.busy": "Exporting…",
    "queue.export.done": "Downloaded {name}",
  },
});

// The row last opened, selected again on coming back to the queue.
let lastOpened = null;

// What the user chose last time, each value checked (a stale or edited entry falls back to "all").
export function readFilters() {
  let kept = {};
  try {
    kept = JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    kept = {};
  }
  const days = Number(kept.days);
  return {
    tier: TIERS.includes(kept.tier) ? kept.tier : "",
    status: STATUSES.includes(kept.status) ? kept.status : "",
    park: /^\d+$/.test(String(kept.park ?? "")) ? String(kept.park) : "",
    domain: DOMAINS.includes(kept.domain) ? kept.domain : "",
    clock: CLOCKS.includes(kept.clock) ? kept.clock : "",
    days: Number.isInteger(days) && days >= 0 && days <= 366 ? days : DEFAULTS.days,
    flagged: kept.flagged === true,
    off_site: kept.off_site === true,
  };
}

// The queue's filters as the API reads them (the queue and its exports take the same).
function filterParams(filters) {
  const q = new URLSearchParams();
  for (const name of ["tier", "status", "park", "domain"]) if (filters[name]) q.set(name, filters[name]);
  if (filters.clock === "overdue") q.set("overdue", "true");
  if (filters.clock === "due") q.set("due_within", String(filters.days));
  if (filters.flagged) q.set("flagged", "true");
  if (filters.off_site) q.set("off_site", "true");
  return q;
}

function query(filters, cursor) {
  const q = filterParams(filters);
  q.set("limit", String(PAGE));
  if (cursor) q.set("cursor", cursor);
  return `/api/findings?${q}`;
}

// The findings the filters select, as a file: fetched with the bearer token (a plain link could
// not carry it), then handed to the browser's download as a Blob under the server's file name.
async function download(fmt, filters, token) {
  const resp = await fetch(`/api/exports/findings.${fmt}?${filterParams(filters)}`, {
    headers: { Authorization: `Bearer ${token}` },
  }).catch(() => { throw new ApiError(0, ""); });
  if (!resp.ok) {
    const body = await resp.json().catch(() => null);
    throw new ApiError(resp.status, (body && body.message) || resp.statusText);
  }
  const name = (/filename="([^"]+)"/.exec(resp.headers.get("Content-Disposition") || "") || [])[1]
    || `findings.${fmt}`;
  const url = URL.createObjectURL(await resp.blob());
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

// The marks a row carries beside its tier, in words.
export function flagBadges(row) {
  const marks = (row.flags || []).map((f) => h("span", { class: `flag flag-${f}`, text: word("flag", f) }));
  if (row.legal_review_pending && !(row.flags || []).includes("statutory_minor_review")) {
    marks.push(h("span", { class: "flag flag-statutory_minor_review", text: word("flag", "statutory_minor_review") }));
  }
  if (row.geofence === "off_site") marks.push(h("span", { class: "flag flag-off_site", text: t("queue.off_site") }));
  return marks;
}

// One row of a findings table; `open` is called with the row when it is chosen.
export function findingRow(row, photos, open) {
  const thumb = row.photos && row.photos.length
    ? h("button", { type: "button", class: "thumb-button", "aria-label": t("queue.photos", { n: row.photos.length }),
      onclick: (e) => { e.stopPropagation(); photos.show(row.photos[0].thumb.replace(/\/thumb$/, "/display"), violationName(row.violation)); } },
    photos.img(row.photos[0].thumb, t("queue.photo.alt")),
    row.photos.length > 1 ? h("span", { class: "thumb-count", text: `+${row.photos.length - 1}` }) : null)
    : null;
  const tr = h("tr", {
    class: row.days_left !== null && row.days_left < 0 ? "finding-row overdue" : "finding-row",
    "data-finding-id": row.id, "data-status": row.status, "data-tier": row.final_tier, tabindex: "-1",
    onclick: (e) => { if (!e.target.closest("a, button")) open(row); },
  },
  h("td", { class: "col-photo" }, thumb),
  h("td", { class: "col-who" },
    h("a", { href: `#/finding/${row.id}`, class: "enterprise", text: row.enterprise.name,
      onclick: () => { lastOpened = row.id; } }),
    h("span", { class: "sub", text: parkName(row.park) })),
  h("td", { class: "col-what" },
    h("span", { class: "finding-violation", text: violationName(row.violation) }),
    h("span", { class: "sub", text: [word("domain", row.domain), word("severity", row.severity)].join(" · ") })),
  h("td", { class: "col-tier" }, tierChange(row.suggested_tier, row.final_tier, row.rule_id),
    h("span", { class: "flags" }, flagBadges(row))),
  h("td", { class: "col-status" }, h("span", { class: `status status-${row.status}`, text: word("status", row.status) })),
  h("td", { class: "col-clock" }, deadline(row.next_deadline, row.days_left)));
  return tr;
}

export function tableHead() {
  return h("thead", {}, h("tr", {},
    h("th", { scope: "col", class: "col-photo" }, h("span", { class: "visually-hidden", text: t("queue.col.photo") })),
    ...["who", "what", "tier", "status", "clock"].map((c) => h("th", { scope: "col", class: `col-${c}`,
      text: t(`queue.col.${c}`) }))));
}

// j/k (and the arrow keys) move, Enter opens, "/" goes to the filters; not while typing.
export function keyboard(getRows, onOpen, focusFilters) {
  let index = -1;
  function select(i, { focus = true } = {}) {
    const rows = getRows();
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, n) => {
      r.classList.toggle("selected", n === index);
      r.setAttribute("aria-selected", n === index ? "true" : "false");
    });
    if (focus) rows[index].focus({ preventScroll: true });
    rows[index].scrollIntoView({ block: "nearest" });
  }
  function onKey(e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const typing = e.target.closest && e.target.closest("input, select, textarea, dialog");
    if (typing) {
      if (e.key === "Escape" && e.target.blur) e.target.blur();
      return;
    }
    if (e.key === "j" || e.key === "ArrowDown") select(index + 1);
    else if (e.key === "k" || e.key === "ArrowUp") select(index - 1);
    else if (e.key === "Enter" && index >= 0 && getRows()[index] && !e.target.closest("a, button")) {
      onOpen(getRows()[index].dataset.findingId);
    } else if (e.key === "/") focusFilters();
    else return;
    e.preventDefault();
  }
  document.addEventListener("keydown", onKey);
  return {
    select,
    selectId(id) {
      const i = getRows().findIndex((r) => r.dataset.findingId === id);
      if (i >= 0) select(i);
      return i >= 0;
    },
    reset() { index = -1; },
    destroy() { document.removeEventListener("keydown", onKey); },
  };
}

function options(values, prefix, all) {
  return [h("option", { value: "", text: all }), ...values.map((v) => h("option", { value: v, text: word(prefix, v) }))];
}

export function render(root, ctx) {
  let alive = true;
  let filters = readFilters();
  let cursor = null;
  let asked = 0; // the latest request: an older answer arriving late is dropped
  let shown = 0;
  let first = true; // coming back from a finding: select it again, once
  const photos = photoLoader(ctx.session.token);

  const open = (id) => {
    lastOpened = id;
    ctx.go(`finding/${id}`);
  };
  const status = h("p", { id: "queue-status", class: "muted", role: "status" });
  const body = h("tbody", { id: "queue-rows" });
  const more = h("button", { id: "queue-more", type: "button", class: "secondary", hidden: true, onclick: () => load(true) },
    t("queue.more"));

  const tier = h("select", { id: "f-tier", name: "tier" }, options(TIERS, "tier", t("filter.all.tier")));
  const state = h("select", { id: "f-status", name: "status" }, options(STATUSES, "status", t("filter.all.status")));
  const park = h("select", { id: "f-park", name: "park" }, h("option", { value: "", text: t("filter.all.park") }));
  const domain = h("select", { id: "f-domain", name: "domain" }, options(DOMAINS, "domain", t("filter.all.domain")));
  const clock = h("select", { id: "f-clock", name: "clock" }, options(CLOCKS, "filter.clock", t("filter.all.clock")));
  const days = h("input", { id: "f-days", name: "days", type: "number", min: "0", max: "366", step: "1",
    inputmode: "numeric", "aria-label": t("filter.days") });
  const flagged = h("input", { id: "f-flagged", name: "flagged", type: "checkbox" });
  const offSite = h("input", { id: "f-off-site", name: "off_site", type: "checkbox" });
  const clear = h("button", { id: "f-clear", type: "button", class: "secondary small", text: t("filter.clear"),
    onclick: () => { filters = { ...DEFAULTS }; showFilters(); changed(); } });

  function showFilters() {
    tier.value = filters.tier;
    state.value = filters.status;
    park.value = filters.park;
    domain.value = filters.domain;
    clock.value = filters.clock;
    days.value = String(filters.days);
    days.disabled = filters.clock !== "due";
    flagged.checked = filters.flagged;
    offSite.checked = filters.off_site;
  }

  function readForm() {
    const n = Number(days.value);
    return {
      tier: tier.value, status: state.value, park: park.value, domain: domain.value, clock: clock.value,
      days: Number.isInteger(n) && n >= 0 && n <= 366 ? n : filters.days,
      flagged: flagged.checked, off_site: offSite.checked,
    };
  }

  function changed() {
    filters = readForm();
    days.disabled = filters.clock !== "due";
    localStorage.setItem(KEY, JSON.stringify(filters));
    load(false);
  }

  const label = (forId, key, control) => h("label", { class: "filter", for: forId }, h("span", { text: t(key) }), control);
  const form = h("form", { id: "queue-filters", class: "filters", role: "search", "aria-label": t("filter.label"),
    onchange: changed, onsubmit: (e) => { e.preventDefault(); changed(); } },
  label("f-tier", "filter.tier", tier),
  label("f-status", "filter.status", state),
  label("f-park", "filter.park", park),
  label("f-domain", "filter.domain", domain),
  h("span", { class: "filter" }, h("label", { for: "f-clock", text: t("filter.clock") }),
    h("span", { class: "filter-pair" }, clock, days, h("span", { class: "muted", text: t("filter.days.unit") }))),
  h("label", { class: "filter check", for: "f-flagged" }, flagged, h("span", { text: t("filter.flagged") })),
  h("label", { class: "filter check", for: "f-off-site" }, offSite, h("span", { text: t("filter.off_site") })),
  clear);

  const keys = keyboard(() => [...body.querySelectorAll("tr.finding-row")], open, () => tier.focus());

  const exportStatus = h("span", { id: "queue-export-status", class: "muted", role: "status" });
  const exportButton = (fmt) => h("button", { id: `queue-export-${fmt}`, type: "button", class: "secondary small",
    text: t(`queue.export.${fmt}`),
    onclick: async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      exportStatus.textContent = t("queue.export.busy");
      try {
        exportStatus.textContent = t("queue.export.done", { name: await download(fmt, filters, ctx.session.token) });
      } catch (err) {
        exportStatus.textContent = describeError(err);
      } finally {
        button.disabled = false;
      }
    } });

  root.append(h("div", { class: "screen desk queue" },
    deskNav(ctx, "queue"),
    h("div", { class: "desk-head" },
      h("h2", { text: t("queue.heading") }),
      h("p", { class: "muted keys-hint", text: t("queue.keys") }),
      h("p", { class: "queue-export" }, exportButton("csv"), " ", exportButton("geojson"), " ", exportStatus)),
    form,
    status,
    h("div", { class: "table-wrap" },
      h("table", { id: "queue", class: "findings" }, h("caption", { class: "visually-hidden", text: t("queue.heading") }),
        tableHead(), body)),
    more));
  showFilters();

  async function loadParks() {
    try {
      const { data } = await api.get("/api/parks");
      if (!alive) return;
      park.append(...data.items.map((p) => h("option", { value: String(p.id), text: parkName(p) })));
      park.value = filters.park;
      // A remembered park no longer assigned to this user: show everything rather than an error.
      if (park.value !== filters.park) {
        filters.park = "";
        localStorage.setItem(KEY, JSON.stringify(filters));
        load(false);
      }
    } catch {
      // The filter keeps "all parks"; the queue itself says what went wrong.
    }
  }

  async function load(append) {
    const mine = ++asked;
    more.disabled = true;
    if (!append) {
      cursor = null;
      status.textContent = t("queue.loading");
    }
    try {
      const { data, stale } = await api.get(query(filters, append ? cursor : null));
      if (!alive || mine !== asked) return;
      const rows = data.items.map((r) => findingRow(r, photos, (row) => open(row.id)));
      if (append) body.append(...rows);
      else {
        body.replaceChildren(...rows);
        keys.reset();
        shown = 0;
      }
      shown += rows.length;
      cursor = data.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      if (!shown) body.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: "6", text: t("queue.empty") })));
      status.textContent = [t(cursor ? "queue.count.more" : "queue.count", { n: shown }),
        stale ? t("queue.stale") : null].filter(Boolean).join(" · ");
      if (first && lastOpened) keys.selectId(lastOpened);
      first = false;
    } catch (err) {
      if (!alive || mine !== asked) return;
      more.disabled = false;
      status.textContent = describeError(err);
    }
  }

  loadParks();
  load(false);
  return () => {
    alive = false;
    keys.destroy();
    photos.destroy();
  };
}

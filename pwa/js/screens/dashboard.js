// The 721 dashboard: the final-tier mix against the policy's target (70/20/10 by default), by
// month and by park, as stacked bars drawn in plain SVG with the numbers in a table beside
// (the table is the accessible record; the bars are never the only way to read it). The
// excluded domains are counted inside the total and shown beside it.
import { api, describeError } from "../api.js";
import { deskNav, joinList, parkName, word } from "../desk.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { TIERS } from "../tier.js";

const SVG = "http://www.w3.org/2000/svg";
const KEY = "fieldcheck.dashboard";
const SECTIONS = ["all", "without_excluded", "excluded"];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const pct = (v) => (v === null || v === undefined ? "–" : t("dash.pct", { n: v.toFixed(1) }));
const signed = (v) => `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(1)}`;
const pp = (v) => (v === null || v === undefined ? "–" : t("dash.pp", { n: signed(v) }));

function monthLabel(key) {
  const [y, m] = key.split("-").map(Number);
  return t("dash.month", { year: y, month: t("months")[m - 1] });
}

function groupLabel(group, by) {
  if (by === "month") return monthLabel(group.key);
  if (by === "park") return parkName(group.park) || group.key;
  return word("domain", group.key);
}

// Stacked 100% bars, service at the bottom; dashed lines where the target puts the boundaries.
function chart(groups, by, section, target, caption) {
  const W = 640;
  const H = 260;
  const top = 24;
  const bottom = 40;
  const left = 40;
  const right = 96;
  const plot = H - top - bottom;
  const slot = (W - left - right) / Math.max(groups.length, 1);
  const bar = Math.min(56, slot * 0.7);
  const y = (share) => top + plot * (1 - share / 100);
  const nodes = [];
  for (const tick of [0, 50, 100]) {
    nodes.push(s("line", { x1: left, x2: W - right, y1: y(tick), y2: y(tick), class: "axis" }),
      s("text", { x: left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, `${tick}%`));
  }
  groups.forEach((g, i) => {
    const mix = g[section];
    const x = left + slot * i + (slot - bar) / 2;
    const label = groupLabel(g, by);
    let base = 0;
    const segs = [];
    if (!mix.total) {
      segs.push(s("rect", { x, y: top, width: bar, height: plot, class: "seg-empty" }));
    } else {
      for (const tier of TIERS) {
        const share = (100 * mix.counts[tier]) / mix.total;
        if (share > 0) {
          segs.push(s("rect", { x, y: y(base + share), width: bar, height: (plot * share) / 100, class: `seg seg-${tier}` },
            s("title", {}, `${label} · ${t(`tier.${tier}`)} ${mix.counts[tier]} (${pct(mix.shares[tier])})`)));
          if (share >= 9 && bar >= 24) {
            segs.push(s("text", { x: x + bar / 2, y: y(base + share / 2) + 4, class: `seg-label on-${tier}`, "text-anchor": "middle" },
              Math.round(share)));
          }
        }
        base += share;
      }
    }
    nodes.push(s("g", { class: "bar", "data-key": g.key }, segs,
      s("text", { x: x + bar / 2, y: top - 6, class: "total", "text-anchor": "middle" }, mix.total),
      s("text", { x: x + bar / 2, y: H - bottom + 16, class: "tick", "text-anchor": "middle" },
        by === "month" ? t("dash.month.short", { month: t("months")[Number(g.key.split("-")[1]) - 1] }) : label.slice(0, 8))));
  });
  // The target's boundaries: service below the first line, enforcement above the second.
  const edge1 = target.service;
  const edge2 = target.service + target.management;
  for (const [edge, text] of [[edge1, t("dash.target.edge1", { n: edge1 })], [edge2, t("dash.target.edge2", { n: edge2 })]]) {
    nodes.push(s("line", { x1: left, x2: W - right, y1: y(edge), y2: y(edge), class: "target" }),
      s("text", { x: W - right + 6, y: y(edge) + 4, class: "target-label" }, text));
  }
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "mix-chart", role: "img", "aria-label": caption }, nodes);
}

function tierCell(mix, tier) {
  return h("td", { class: `num tier-cell tier-cell-${tier}`, "data-tier": tier, "data-count": mix.counts[tier] },
    h("span", { class: "count", text: String(mix.counts[tier]) }),
    mix.total ? h("span", { class: "sub", text: t("dash.cell", { share: pct(mix.shares[tier]), pp: signed(mix.distance[tier]) }) }) : null);
}

function largest(mix) {
  const l = mix.largest_distance;
  return l ? t("dash.largest", { tier: t(`tier.${l.tier}`), pp: l.pp.toFixed(1) }) : "–";
}

function largestShort(mix) {
  const l = mix.largest_distance;
  return l ? t("dash.largest.short", { tier: t(`tier.${l.tier}`), pp: l.pp.toFixed(1) }) : "–";
}

function mixRow(label, mix, attrs = {}) {
  return h("tr", { ...attrs, "data-total": mix.total },
    h("th", { scope: "row", text: label }),
    h("td", { class: "num", "data-total": mix.total, text: String(mix.total) }),
    TIERS.map((tier) => tierCell(mix, tier)),
    h("td", { class: "num largest", text: largestShort(mix) }));
}

function mixHead(first) {
  return h("thead", {}, h("tr", {},
    h("th", { scope: "col", text: first }),
    h("th", { scope: "col", class: "num", text: t("dash.col.total") }),
    TIERS.map((tier) => h("th", { scope: "col", class: `num th-${tier}`, text: t(`tier.${tier}`) })),
    h("th", { scope: "col", class: "num", text: t("dash.col.largest") })));
}

function table(id, groups, by, section, caption) {
  return h("table", { id, class: "mix-table" },
    h("caption", {}, caption, h("span", { class: "sub", text: t("dash.cell.note") })),
    mixHead(t(`dash.col.${by}`)),
    h("tbody", {}, groups.map((g) => mixRow(groupLabel(g, by), g[section], { "data-key": g.key }))));
}

function legend(target) {
  return h("ul", { class: "legend" },
    TIERS.map((tier) => h("li", {}, h("span", { class: `swatch seg-${tier}`, "aria-hidden": "true" }),
      t("dash.legend.tier", { tier: t(`tier.${tier}`), n: target[tier] }))),
    h("li", {}, h("span", { class: "swatch swatch-target", "aria-hidden": "true" }), t("dash.legend.target")));
}

export function render(root, ctx) {
  let alive = true;
  let kept = {};
  try {
    kept = JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    kept = {};
  }
  let section = SECTIONS.includes(kept.section) ? kept.section : "all";
  let park = /^\d+$/.test(String(kept.park ?? "")) ? String(kept.park) : "";
  let answers = null;

  const status = h("p", { id: "dash-status", class: "muted", role: "status", text: t("queue.loading") });
  const summary = h("div", { id: "dash-summary", class: "mix-cards" });
  const byMonth = h("div", { id: "dash-month", class: "mix-block" });
  const byPark = h("div", { id: "dash-park", class: "mix-block" });
  const sectionSelect = h("select", { id: "dash-section" },
    SECTIONS.map((v) => h("option", { value: v, text: t(`dash.section.${v}`) })));
  const parkSelect = h("select", { id: "dash-park-filter" }, h("option", { value: "", text: t("filter.all.park") }));
  sectionSelect.value = section;
  const keep = () => localStorage.setItem(KEY, JSON.stringify({ section, park }));
  sectionSelect.addEventListener("change", () => { section = sectionSelect.value; keep(); draw(); });
  parkSelect.addEventListener("change", () => { park = parkSelect.value; keep(); load(); });

  root.append(h("div", { class: "screen desk dashboard" },
    deskNav(ctx, "dashboard"),
    h("div", { class: "desk-head" }, h("h2", { text: t("dash.heading") }), h("p", { id: "dash-period", class: "muted" })),
    h("div", { class: "filters" },
      h("label", { class: "filter", for: "dash-section" }, h("span", { text: t("dash.section") }), sectionSelect),
      h("label", { class: "filter", for: "dash-park-filter" }, h("span", { text: t("dash.park") }), parkSelect)),
    status, summary, byMonth, byPark));

  function card(name, mix, excluded) {
    return h("section", { class: `mix-card${name === section ? " current" : ""}`, "data-section": name },
      h("h3", { text: t(`dash.section.${name}`) }),
      name !== "all" ? h("p", { class: "sub", text: t("dash.excluded.list", { domains: joinList(excluded.map((d) => word("domain", d))) }) }) : null,
      h("p", { class: "card-total" }, h("span", { class: "big", text: String(mix.total) }), " ", t("dash.findings")),
      h("ul", { class: "card-tiers" }, TIERS.map((tier) => h("li", { "data-tier": tier },
        h("span", { class: `tier tier-${tier}`, text: t(`tier.${tier}`) }), " ",
        h("strong", { text: pct(mix.shares[tier]) }), " ",
        h("span", { class: "sub", text: t("dash.card.detail", { n: mix.counts[tier], pp: pp(mix.distance[tier]) }) })))),
      h("p", { class: "card-largest", text: t("dash.card.largest", { text: largest(mix) }) }));
  }

  function draw() {
    if (!answers) return;
    const [month, parks] = answers;
    const target = month.target;
    document.getElementById("dash-period").textContent = t("dash.period", {
      from: month.from, to: month.to, version: month.policy_version ?? "–",
    });
    summary.replaceChildren(...SECTIONS.map((name) => card(name, month[name], month.excluded_domains)));
    const what = t(`dash.section.${section}`);
    const monthCaption = t("dash.by.month", { what });
    byMonth.replaceChildren(
      h("h3", { text: monthCaption }),
      h("div", { class: "mix-pair" },
        h("figure", {}, chart(month.groups, "month", section, target, monthCaption), legend(target)),
        table("mix-month", month.groups, "month", section, monthCaption)));
    const parkCaption = t("dash.by.park", { what });
    byPark.replaceChildren(
      h("h3", { text: parkCaption }),
      h("div", { class: "mix-pair" },
        h("figure", {}, chart(parks.groups, "park", section, target, parkCaption), legend(target)),
        table("mix-park", parks.groups, "park", section, parkCaption)));
  }

  async function load() {
    status.textContent = t("queue.loading");
    const q = park ? `&park=${park}` : "";
    try {
      const [month, parks] = await Promise.all([
        api.get(`/api/stats/tiers?group_by=month${q}`), api.get(`/api/stats/tiers?group_by=park${q}`),
      ]);
      if (!alive) return;
      answers = [month.data, parks.data];
      status.textContent = month.stale || parks.stale ? t("queue.stale") : "";
      draw();
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }

  async function loadParks() {
    try {
      const { data } = await api.get("/api/parks");
      if (!alive) return;
      parkSelect.append(...data.items.map((p) => h("option", { value: String(p.id), text: parkName(p) })));
      parkSelect.value = park;
      if (parkSelect.value !== park) {
        park = "";
        keep();
        load();
      }
    } catch {
      // The park filter stays at "all parks".
    }
  }

  loadParks();
  load();
  return () => { alive = false; };
}

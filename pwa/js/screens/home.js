// Home: who is logged in, their parks, their sites as a list and on the map.
// Renders from what the phone kept first, then refreshes quietly from the network.
import { api, describeError } from "../api.js";
import { keptDay, refreshDay } from "../day.js";
import { h } from "../dom.js";
import { formatDate, formatDateTime, lang, t } from "../i18n.js";
import { drawMap } from "../map.js";
import { store, transaction } from "../store.js";

const PARKS = "/api/parks.geojson";
const SITES = "/api/sites.geojson";
const RISK_ORDER = ["very_high", "high", "medium", "low"];

function parkName(props) {
  return (lang() === "en" && props.name_en) || props.name_zh || props.name || props.code || "";
}

function toSite(feature) {
  const p = feature.properties || {};
  const [lon, lat] = feature.geometry.coordinates;
  const grades = p.grades || {};
  const flags = p.flags || {};
  return {
    id: feature.id ?? p.id, name: p.name, address: p.address || "", risk: grades.risk, key: Boolean(flags.key_object),
    lon, lat,
  };
}

function bySiteOrder(a, b) {
  return RISK_ORDER.indexOf(a.risk) - RISK_ORDER.indexOf(b.risk) || a.name.localeCompare(b.name, "zh-CN");
}

export function render(root, ctx) {
  const { user } = ctx.session;
  let alive = true;
  let map = null;
  let sites = [];
  let query = "";
  let keptAt = null; // when the data on screen was fetched
  let shown = ""; // the data on screen, as JSON: an unchanged refresh leaves the map as the user left it
  let drawing = Promise.resolve(); // map draws one after another, never two into one box

  const status = h("p", { id: "data-status", class: "muted", role: "status" });
  const warning = h("p", { id: "storage-warning", class: "warning", hidden: true, text: t("home.storage.refused") });
  const parkList = h("ul", { id: "parks", class: "chips" });
  const mapBox = h("div", { id: "map", class: "map", role: "region", "aria-label": t("home.map") });
  const count = h("span", { class: "muted" });
  const list = h("ul", { id: "sites", class: "sites" });
  const search = h("input", {
    id: "site-search", type: "search", placeholder: t("home.search"), "aria-label": t("home.search"),
    oninput: () => { query = search.value.trim().toLowerCase(); showList(); },
  });
  const refreshButton = h("button", { id: "refresh", type: "button", class: "primary", onclick: () => refresh() },
    t("home.refresh"));

  // An inspector's way into the day: today's stops, fetched now so that they are on the phone offline.
  const todayCard = ctx.mayOpen("today") ? h("a", { id: "today-link", class: "today-card", href: "#/today" },
    h("strong", { text: t("today.heading") }), h("span", { id: "today-link-status", class: "muted" })) : null;
  // Supervisors, legal reviewers and admins: their desk screens, one tap away.
  const desks = ["queue", "legal", "dashboard"].filter((name) => ctx.mayOpen(name));
  const deskLinks = desks.length ? h("nav", { id: "desk-links", class: "chips", "aria-label": t("desk.nav.label") },
    desks.map((name) => h("a", { class: "chip", href: `#/${name}`, text: t(`desk.nav.${name}`) }))) : null;

  root.append(
    h("div", { class: "screen home" },
      todayCard,
      deskLinks,
      h("section", { class: "who" },
        h("div", {},
          h("p", { class: "today", text: formatDate(new Date()) }),
          h("h2", { id: "user-name", text: t("home.hello", { name: user.name }) }),
          h("p", { id: "user-role", class: "role", text: t(`role.${user.role}`) })),
        h("button", { id: "logout", type: "button", class: "secondary small", onclick: () => ctx.signOut() },
          t("home.logout"))),
      status,
      warning,
      h("section", {},
        h("h3", { text: t("home.parks") }),
        parkList),
      mapBox,
      h("section", {},
        h("div", { class: "section-head" }, h("h3", { text: t("home.sites") }), count),
        search,
        list),
      h("div", { class: "actions" }, refreshButton)),
  );

  function showList() {
    const shown = sites.filter((s) => !query || `${s.name} ${s.address}`.toLowerCase().includes(query));
    count.textContent = t("home.sites.count", { n: sites.length });
    if (!shown.length) {
      list.replaceChildren(h("li", { class: "empty", text: t(sites.length ? "home.sites.nomatch" : "home.sites.none") }));
      return;
    }
    list.replaceChildren(...shown.map((s) => h("li", { class: "site", "data-site-id": s.id },
      h("button", { type: "button", onclick: () => { if (map) { map.focus(s.id); mapBox.scrollIntoView({ block: "nearest" }); } } },
        h("span", { class: "site-name" }, s.name,
          s.key ? h("span", { class: "badge badge-key", title: t("home.key.title"), text: t("home.key") }) : null),
        h("span", { class: "site-address", text: s.address || t("home.address.none") }),
        h("span", { class: `risk risk-${s.risk}`, text: t(`risk.${s.risk}`) })))));
  }

  // The server answers only the user's own parks (every park for an admin).
  function showParks(parks) {
    const own = parks.features;
    if (!own.length) parkList.replaceChildren(h("li", { class: "muted", text: t("home.parks.none") }));
    else parkList.replaceChildren(...own.map((f) => h("li", { class: "chip", text: parkName(f.properties || {}) })));
  }

  function show(parks, siteCollection) {
    const json = JSON.stringify([parks, siteCollection]);
    if (json === shown) return drawing;
    shown = json;
    showParks(parks);
    sites = siteCollection.features.map(toSite).sort(bySiteOrder);
    showList();
    drawing = drawing.then(async () => {
      if (map) map.destroy();
      map = null;
      if (!alive) return;
      try {
        const drawn = await drawMap(mapBox, parks, sites);
        if (alive) map = drawn;
        else drawn.destroy();
      } catch {
        mapBox.replaceChildren(h("p", { class: "muted", text: t("home.map.unavailable") }));
      }
    });
    return drawing;
  }

  function showOffline() {
    status.textContent = keptAt ? t("home.cached", { when: formatDateTime(keptAt) }) : t("home.sites.nodata");
  }

  async function refresh() {
    refreshButton.disabled = true;
    refreshButton.textContent = t("home.refreshing");
    try {
      const [parks, siteAnswer] = await Promise.all([api.get(PARKS), api.get(SITES)]);
      if (!alive) return;
      if (parks.stale || siteAnswer.stale) {
        // The service worker answered from its cache: no newer than what the phone already shows.
        ctx.setOffline(true);
        showOffline();
        return;
      }
      const now = new Date().toISOString();
      keptAt = now;
      await transaction("data", "readwrite", ({ data }) => {
        data.put({ body: parks.data, fetched_at: now }, PARKS);
        data.put({ body: siteAnswer.data, fetched_at: now }, SITES);
      });
      ctx.setOffline(false);
      if (!alive) return;
      status.textContent = t("home.updated", { when: formatDateTime(now) });
      await show(parks.data, siteAnswer.data);
    } catch (err) {
      if (!alive) return;
      if (err.offline) {
        ctx.setOffline(true);
        showOffline();
      } else status.textContent = describeError(err);
    } finally {
      if (alive) {
        refreshButton.disabled = false;
        refreshButton.textContent = t("home.refresh");
      }
    }
  }

  async function start() {
    const [parks, kept] = await Promise.all([store.get("data", PARKS), store.get("data", SITES)]);
    if (!alive) return;
    if (parks && kept) {
      keptAt = kept.fetched_at;
      status.textContent = t("home.updated", { when: formatDateTime(keptAt) });
      await show(parks.body, kept.body);
    }
    if (ctx.offline) showOffline();
    if (alive) refresh();
  }

  async function showToday() {
    const said = (kept) => {
      if (alive && todayCard && kept && kept.body) {
        todayCard.lastChild.textContent = t("today.ready", { n: (kept.body.stops || []).length, when: formatDateTime(kept.fetched_at) });
      }
    };
    said(await keptDay());
    try {
      said((await refreshDay()).kept);
    } catch {
      // Offline or refused: the card keeps what the phone has; the today screen says why.
    }
  }

  if (todayCard) showToday();
  ctx.persistence().then((kept) => { if (alive) warning.hidden = Boolean(kept); });
  start();
  return () => {
    alive = false;
    if (map) map.destroy();
  };
}

// The scheduler's screen: a day's patrol plan. A date; each team's route on the map in its own
// colour with numbered stops (team number and place, never colour alone) and as a list beside it
// with distance and time; the visits not scheduled with their reasons; who is not on a team and
// why. Stops are moved, reordered, locked or taken off with buttons and menus (no dragging
// needed); the day is generated again (locked stops keep their team and place) and published,
// which makes it the inspectors' today. Loaded only when a scheduler opens it.
import { api, describeError } from "../api.js";
import { deskNav, formatDay, joinList, word } from "../desk.js";
import { h } from "../dom.js";
import { formatDateTime, lang, t } from "../i18n.js";
import { loadLeaflet } from "../map.js";

// The same colours as .route-c0 ... .route-c7 in app.css (markers and swatches use the classes).
export const ROUTE_COLOURS = ["#0b5cad", "#b3261e", "#1b7a2f", "#6a3d9a", "#a65300", "#00727f", "#6d4c41", "#ad1457"];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function isoDay(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

// The next weekday after `from` (the server refuses holidays with the next working day in words).
export function nextWeekday(from) {
  const d = from ? new Date(`${from}T12:00:00`) : new Date();
  do d.setDate(d.getDate() + 1); while (d.getDay() === 0 || d.getDay() === 6);
  return isoDay(d);
}

const colourClass = (route) => `route-c${(route.team_no - 1) % ROUTE_COLOURS.length}`;
const colourOf = (route) => ROUTE_COLOURS[(route.team_no - 1) % ROUTE_COLOURS.length];
const km = (n) => Number(n || 0).toFixed(1);

function hours(minutes) {
  const m = Math.round(minutes || 0);
  return t("planner.duration", { h: Math.floor(m / 60), m: m % 60 });
}

function teamName(route) {
  return t("planner.team", { n: route.team_no });
}

function officerNames(route) {
  return joinList(route.officers.map((o) => (o.lead ? t("planner.lead.name", { name: o.name })
    : o.auxiliary ? t("planner.aux.name", { name: o.name }) : o.name)));
}

function reasonWords(stop) {
  const words = stop.reason_words || {};
  return (lang() === "en" ? words.en : words.zh) || words.zh || stop.reason;
}

function checks(stop) {
  const codes = [...new Set((stop.reasons || []).map((r) => (typeof r === "string" ? r : r.code)).filter(Boolean))];
  return codes.map((c) => word("reason", c));
}

export function render(root, ctx, arg) {
  let alive = true;
  const day = DAY.test(arg || "") ? arg : nextWeekday();
  let plan = null;
  let busy = false;
  let map = null;
  let layer = null;
  let parksShown = false;

  const dateInput = h("input", {
    id: "plan-date", type: "date", value: day, "aria-label": t("planner.date"),
    onchange: () => { if (DAY.test(dateInput.value)) location.hash = `#/planner/${dateInput.value}`; },
  });
  const state = h("span", { id: "plan-state", class: "plan-state" });
  const generateButton = h("button", { id: "plan-generate", type: "button", class: "primary small", onclick: () => generate() });
  const publishButton = h("button", { id: "plan-publish", type: "button", class: "secondary small", onclick: () => publishOrNot() });
  const status = h("p", { id: "plan-status", class: "muted", role: "status" });
  const error = h("p", { id: "plan-error", class: "error", role: "alert" });
  const summary = h("p", { id: "plan-summary", class: "plan-summary" });
  const made = h("p", { id: "plan-made", class: "muted" });
  const mapBox = h("div", { id: "plan-map", class: "map plan-map", role: "region", "aria-label": t("planner.map") });
  const legend = h("ul", { id: "plan-legend", class: "plan-legend", "aria-label": t("planner.legend") });
  const routesBox = h("div", { id: "plan-routes", class: "plan-routes" });
  const notBox = h("section", { id: "plan-not-scheduled", class: "plan-section" });
  const staffBox = h("section", { id: "plan-unavailable", class: "plan-section" });

  root.append(h("div", { class: "screen desk planner" },
    deskNav(ctx, "planner"),
    h("div", { class: "desk-head plan-head" },
      h("h2", { text: t("planner.heading") }),
      h("label", { class: "filter plan-date", for: "plan-date" }, t("planner.date"), dateInput),
      h("span", { id: "plan-day", class: "plan-day", text: formatDay(day) }),
      state,
      h("span", { class: "plan-buttons" }, generateButton, publishButton)),
    status, error, summary, made,
    h("div", { class: "plan-layout" },
      h("div", { class: "plan-map-col" }, mapBox, legend),
      routesBox),
    notBox, staffBox));

  function setBusy(words) {
    busy = Boolean(words);
    status.textContent = words || "";
    for (const el of root.querySelectorAll("button, select")) {
      if (el.closest(".desk-nav")) continue;
      el.disabled = busy || (el.dataset.alwaysOff === "true");
    }
  }

  async function run(words, fn, done) {
    if (busy) return;
    error.textContent = "";
    setBusy(words);
    let answer;
    try {
      answer = await fn();
    } catch (err) {
      if (!alive) return;
      if (err.status === 404) show(null);
      setBusy("");
      error.textContent = describeError(err);
      return;
    }
    if (!alive) return;
    show(answer);
    setBusy("");
    status.textContent = done;
  }

  const draft = () => Boolean(plan && plan.status === "draft");

  function generate() {
    return run(t("planner.generating"), () => api.post("/api/plans", { date: day }),
      t("planner.done.generated", { day: formatDay(day) }));
  }

  function publishOrNot() {
    if (!plan) return undefined;
    const step = plan.status === "published" ? "unpublish" : "publish";
    return run(t("planner.working"), () => api.post(`/api/plans/${day}/${step}`),
      t(step === "publish" ? "planner.done.published" : "planner.done.unpublished"));
  }

  function editStop(stop, change) {
    return run(t("planner.working"), () => api.patch(`/api/plans/${day}/stops/${stop.id}`, change),
      t("planner.done.edited", { name: stop.site.name }));
  }

  // --- the page ------------------------------------------------------------------------------

  function show(answer) {
    plan = answer;
    state.replaceChildren();
    if (!plan) {
      state.append(h("span", { class: "badge plan-badge plan-none", text: t("planner.status.none") }));
      generateButton.textContent = t("planner.generate");
      publishButton.hidden = true;
      summary.textContent = t("planner.none");
      made.textContent = "";
      routesBox.replaceChildren();
      notBox.replaceChildren();
      staffBox.replaceChildren();
      legend.replaceChildren();
      drawMap();
      return;
    }
    state.append(h("span", { class: `badge plan-badge plan-${plan.status}`, text: t(`planner.status.${plan.status}`) }));
    const next = plan.allowed_next || [];
    generateButton.textContent = t(plan.routes.length || plan.not_scheduled.length ? "planner.regenerate" : "planner.generate");
    generateButton.dataset.alwaysOff = String(!next.includes("regenerate"));
    publishButton.hidden = !(next.includes("publish") || next.includes("unpublish"));
    publishButton.textContent = t(plan.status === "published" ? "planner.unpublish" : "planner.publish");
    const tt = plan.totals;
    summary.textContent = t("planner.summary", { teams: tt.teams, stops: tt.stops, km: km(tt.distance_km), not: tt.not_scheduled });
    made.textContent = plan.solver
      ? t("planner.made", { solver: plan.solver === "pyvrp" ? "PyVRP" : "OR-Tools", seconds: Number(plan.solve_seconds || 0).toFixed(1),
        when: formatDateTime(plan.generated_at) })
      : t("planner.made.none");
    if (plan.status === "published") made.append(" · ", t("planner.published.hint"));
    routesBox.replaceChildren(...(plan.routes.length ? plan.routes.map(routeCard)
      : [h("p", { class: "muted", text: t("planner.routes.none") })]));
    legend.replaceChildren(
      h("li", { class: "legend-office" }, h("span", { class: "office-marker", "aria-hidden": "true", text: t("planner.office.short") }),
        t("planner.office")),
      ...plan.routes.map((r) => h("li", { "data-team-no": r.team_no },
        h("span", { class: `team-swatch ${colourClass(r)}`, "aria-hidden": "true", text: String(r.team_no) }),
        `${teamName(r)} · ${t("planner.legend.stops", { n: r.stops.length })}`)),
      plan.not_scheduled.length ? h("li", {}, h("span", { class: "team-swatch swatch-not", "aria-hidden": "true" }),
        t("planner.legend.not")) : null);
    notBox.replaceChildren(...notScheduled());
    staffBox.replaceChildren(...unavailable());
    drawMap();
  }

  function moveMenu(stop, route) {
    const options = [h("option", { value: "", text: route ? t("planner.stop.move") : t("planner.not.assign") })];
    // Only the teams that may go there: both officers work in the site's park (the server checks the rest).
    for (const r of plan.routes) {
      if ((route && r.id === route.id) || !(r.parks || []).includes(stop.site.park_id)) continue;
      options.push(h("option", { value: `route:${r.id}`, text: t("planner.stop.move.team", { team: teamName(r), names: officerNames(r) }) }));
    }
    if (route) options.push(h("option", { value: "off", text: t("planner.stop.move.off") }));
    const other = nextWeekday(day);
    options.push(h("option", { value: `day:${other}`, text: t("planner.stop.move.day", { day: formatDay(other) }) }));
    const select = h("select", {
      class: "stop-move", "aria-label": t("planner.stop.move.label", { name: stop.site.name }),
      onchange: () => {
        const v = select.value;
        if (!v) return;
        if (v === "off") editStop(stop, { route_id: null });
        else if (v.startsWith("route:")) editStop(stop, { route_id: Number(v.slice(6)) });
        else if (v.startsWith("day:")) editStop(stop, { day: v.slice(4) });
      },
    }, options);
    return select;
  }

  function stopMeta(stop) {
    return [word("kind", stop.kind), ...checks(stop),
      stop.latest_date ? t("planner.latest", { day: formatDay(stop.latest_date) }) : null,
      stop.late ? t("planner.late") : null].filter(Boolean).join(t("list.separator"));
  }

  function stopRow(stop, route, index) {
    const last = index === route.stops.length - 1;
    const editable = draft();
    return h("li", { class: `plan-stop${stop.locked ? " locked" : ""}`, "data-stop-id": stop.id, "data-site-id": stop.site.id,
      "data-seq": stop.seq },
    h("span", { class: `stop-no ${colourClass(route)}`, title: `${teamName(route)} ${stop.seq}`, text: `${route.team_no}-${stop.seq}` }),
    h("span", { class: "stop-eta", text: stop.eta || "" }),
    h("span", { class: "stop-body" },
      h("span", { class: "stop-name", text: stop.site.name }),
      h("span", { class: "sub", text: stopMeta(stop) })),
    stop.locked ? h("span", { class: "badge badge-locked", title: t("planner.stop.locked.title"), text: t("planner.stop.locked") }) : null,
    editable ? h("span", { class: "stop-actions" },
      h("button", { type: "button", class: "icon-button stop-up", disabled: index === 0, "data-always-off": String(index === 0),
        "aria-label": t("planner.stop.up.label", { name: stop.site.name }), title: t("planner.stop.up"),
        onclick: () => editStop(stop, { seq: stop.seq - 1 }), text: "↑" }),
      h("button", { type: "button", class: "icon-button stop-down", disabled: last, "data-always-off": String(last),
        "aria-label": t("planner.stop.down.label", { name: stop.site.name }), title: t("planner.stop.down"),
        onclick: () => editStop(stop, { seq: stop.seq + 1 }), text: "↓" }),
      h("button", { type: "button", class: "secondary small stop-lock", "aria-pressed": String(stop.locked),
        "aria-label": t(stop.locked ? "planner.stop.unlock.label" : "planner.stop.lock.label", { name: stop.site.name }),
        onclick: () => editStop(stop, { locked: !stop.locked }), text: t(stop.locked ? "planner.stop.unlock" : "planner.stop.lock") }),
      moveMenu(stop, route)) : null);
  }

  function routeCard(route) {
    const card = h("section", { class: `route-card ${colourClass(route)}-edge`, "data-route-id": route.id, "data-team-no": route.team_no },
      h("header", { class: "route-head" },
        h("h3", {}, h("span", { class: `team-swatch ${colourClass(route)}`, "aria-hidden": "true", text: String(route.team_no) }),
          teamName(route)),
        h("span", { class: "route-officers", text: officerNames(route) })),
      h("p", { class: "route-figures", text: route.stops.length
        ? t("planner.route.figures", { stops: route.stops.length, km: km(route.distance_km), start: route.start, end: route.end,
          hours: hours(route.duration_min) })
        : t("planner.route.empty") }),
      route.stops.length ? h("ol", { class: "plan-stops" }, route.stops.map((s, i) => stopRow(s, route, i))) : null);
    return card;
  }

  function notScheduled() {
    const rows = plan.not_scheduled;
    const head = h("h3", { text: t("planner.not.heading", { n: rows.length }) });
    if (!rows.length) return [head, h("p", { class: "muted", text: t("planner.not.none") })];
    const movable = (s) => draft() && !["moved_to_day", "planned_other_day", "deferred"].includes(s.reason);
    return [head, h("div", { class: "table-wrap" }, h("table", { class: "plan-table" },
      h("thead", {}, h("tr", {}, ["site", "kind", "priority", "latest", "reason", "action"].map((c) => h("th", { scope: "col", text: t(`planner.col.${c}`) })))),
      h("tbody", {}, rows.map((s) => h("tr", { "data-stop-id": s.id, "data-site-id": s.site.id, "data-reason": s.reason },
        h("td", {}, h("span", { class: "stop-name", text: s.site.name }), h("span", { class: "sub", text: checks(s).join(t("list.separator")) })),
        h("td", { text: word("kind", s.kind) }),
        h("td", { class: "num", text: String(s.priority) }),
        h("td", { class: s.late ? "late" : "", text: [formatDay(s.latest_date), s.late ? t("planner.late") : ""].filter(Boolean).join(" · ") }),
        h("td", { class: "reason", text: reasonWords(s) }),
        h("td", {}, movable(s) && plan.routes.length ? moveMenu(s, null) : null))))))];
  }

  function unavailable() {
    const rows = plan.unavailable || [];
    const head = h("h3", { text: t("planner.unavailable.heading", { n: rows.length }) });
    if (!rows.length) return [head, h("p", { class: "muted", text: t("planner.unavailable.none") })];
    return [head, h("ul", { class: "chips plan-people" }, rows.map((u) => h("li", { class: "chip", "data-user-id": u.user_id },
      `${u.name} · ${word("planner.why", u.reason)}`)))];
  }

  // --- the map -----------------------------------------------------------------------------------

  async function drawMap() {
    let L;
    try {
      L = await loadLeaflet();
    } catch {
      mapBox.replaceChildren(h("p", { class: "muted", text: t("home.map.unavailable") }));
      return;
    }
    if (!alive) return;
    if (!map) {
      map = L.map(mapBox, { attributionControl: false, zoomControl: false, zoomSnap: 0.25 });
      L.control.zoom({ zoomInTitle: t("map.zoom.in"), zoomOutTitle: t("map.zoom.out") }).addTo(map);
      map.on("popupopen", (e) => {
        const close = e.popup.getElement().querySelector(".leaflet-popup-close-button");
        if (close) close.setAttribute("aria-label", t("map.popup.close"));
      });
      map.setView([32.27, 119.18], 12);
    }
    if (!parksShown) {
      parksShown = true;
      api.get("/api/parks.geojson").then(({ data }) => {
        if (!alive || !map) return;
        L.geoJSON(data, { style: { color: "#0b3d91", weight: 1.5, fillColor: "#0b3d91", fillOpacity: 0.05 }, interactive: false })
          .addTo(map).bringToBack();
      }, () => {});
    }
    if (layer) layer.remove();
    layer = L.featureGroup().addTo(map);
    if (!plan) return;
    const office = plan.office ? [plan.office.lat, plan.office.lon] : null;
    if (office) {
      L.marker(office, {
        icon: L.divIcon({ className: "office-marker", html: h("span", { text: t("planner.office.short") }), iconSize: [30, 30] }),
        title: t("planner.office"), keyboard: false, zIndexOffset: 1000,
      }).addTo(layer);
    }
    for (const s of plan.not_scheduled) {
      L.circleMarker([s.site.lat, s.site.lon], { radius: 5, color: "#444", weight: 1.5, fillColor: "#fff", fillOpacity: 1 })
        // A node, never a string: Leaflet puts a string tooltip in as HTML, and a site's name is anyone's text.
        .bindTooltip(h("span", { text: `${s.site.name} · ${reasonWords(s)}` })).addTo(layer);
    }
    for (const route of plan.routes) {
      if (!route.stops.length) continue;
      const points = route.stops.map((s) => [s.site.lat, s.site.lon]);
      L.polyline(office ? [office, ...points, office] : points,
        { color: colourOf(route), weight: 4, opacity: 0.8, interactive: false, className: `route-line route-line-${route.team_no}` }).addTo(layer);
      for (const s of route.stops) {
        const label = `${route.team_no}-${s.seq}`;
        L.marker([s.site.lat, s.site.lon], {
          icon: L.divIcon({ className: `route-marker ${colourClass(route)}`, html: h("span", { text: label }),
            iconSize: [label.length * 7 + 8, 18] }),
          title: `${teamName(route)} · ${s.seq}. ${s.site.name}`, riseOnHover: true,
        }).bindPopup(() => h("div", { class: "map-popup" }, h("strong", { text: `${label} ${s.site.name}` }),
          h("div", { text: [teamName(route), s.eta, word("kind", s.kind)].filter(Boolean).join(" · ") }),
          s.site.address ? h("div", { class: "sub", text: s.site.address }) : null)).addTo(layer);
      }
    }
    // The view fits the routes and the office; sites not scheduled are drawn around them.
    const routed = plan.routes.flatMap((r) => r.stops.map((s) => [s.site.lat, s.site.lon]));
    map.invalidateSize(); // the columns beside the map may have changed its size since it was made
    const bounds = L.latLngBounds(office ? [office, ...routed] : routed);
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    else if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 16 });
  }

  // --- start ----------------------------------------------------------------------------------------

  setBusy(t("planner.loading"));
  api.get(`/api/plans/${day}`).then(({ data }) => {
    if (!alive) return;
    show(data);
    setBusy("");
  }, (err) => {
    if (!alive) return;
    show(null);
    setBusy("");
    if (err.status !== 404) error.textContent = describeError(err);
  });

  return () => {
    alive = false;
    if (map) map.remove();
    map = null;
  };
}

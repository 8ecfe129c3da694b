// The admin's parks on the map: every park's boundary, the chosen one highlighted with the
// enterprises that fall inside it. A boundary is drawn by clicking its corners on the map (undo
// the last corner, start again) or read from a GeoJSON file, and saved through the parks API,
// which refuses an invalid polygon or one that leaves sites outside, with the reason.
import { api } from "../api.js";
import { deskNav, joinList, parkName, word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { loadLeaflet } from "../map.js";
import { field, statusLine, table } from "./admin_common.js";

addStrings({
  "zh-CN": {
    "parks.heading": "园区边界",
    "parks.new": "新建园区",
    "parks.map": "园区地图",
    "parks.code": "园区代码",
    "parks.name_zh": "中文名称",
    "parks.name_en": "英文名称",
    "parks.kind": "类型",
    "parks.sites": "企业 {n} 家",
    "parks.draw": "在地图上画边界",
    "parks.draw.on": "点击地图添加拐点（已 {n} 个），至少 3 个；完成后保存。",
    "parks.undo": "撤销上一个拐点",
    "parks.clear": "重新画",
    "parks.file": "上传 GeoJSON 文件",
    "parks.file.bad": "文件不是有效的 GeoJSON 面（Polygon / MultiPolygon）：{message}",
    "parks.file.read": "已读入文件中的边界，请检查后保存。",
    "parks.inside": "园区内企业",
    "parks.inside.none": "园区内还没有企业",
    "parks.col.name": "企业",
    "parks.col.risk": "风险",
    "parks.col.address": "地址",
    "parks.warnings": "请注意：{text}",
    "parks.need.shape": "请先画出边界（至少 3 个拐点）或上传文件",
    "parks.saved": "园区 {code} 已保存",
  },
  en: {
    "parks.heading": "Park boundaries",
    "parks.new": "New park",
    "parks.map": "Park map",
    "parks.code": "Park code",
    "parks.name_zh": "Chinese name",
    "parks.name_en": "English name",
    "parks.kind": "Kind",
    "parks.sites": "{n} enterprises",
    "parks.draw": "Draw the boundary on the map",
    "parks.draw.on": "Click the map to add corners ({n} so far), at least 3; then save.",
    "parks.undo": "Undo the last corner",
    "parks.clear": "Start again",
    "parks.file": "Upload a GeoJSON file",
    "parks.file.bad": "The file is not a GeoJSON Polygon or MultiPolygon: {message}",
    "parks.file.read": "The boundary was read from the file: check it, then save.",
    "parks.inside": "Enterprises in the park",
    "parks.inside.none": "No enterprise in the park yet",
    "parks.col.name": "Enterprise",
    "parks.col.risk": "Risk",
    "parks.col.address": "Address",
    "parks.warnings": "Look at this: {text}",
    "parks.need.shape": "Draw the boundary first (3 corners at least) or upload a file",
    "parks.saved": "Park {code} saved",
  },
});

// The geometry in a GeoJSON document: a geometry, a Feature or the first feature of a collection.
export function geometryOf(doc) {
  if (!doc || typeof doc !== "object") throw new Error("not JSON");
  if (doc.type === "FeatureCollection") return geometryOf((doc.features || [])[0]);
  if (doc.type === "Feature") return geometryOf(doc.geometry);
  if (doc.type === "Polygon" || doc.type === "MultiPolygon") return { type: doc.type, coordinates: doc.coordinates };
  throw new Error(`${doc.type || "?"}`);
}

export function render(root, ctx, arg) {
  let alive = true;
  let L = null;
  let map = null;
  let parks = [];
  let chosen = null; // a park's detail, or null for a new one
  let corners = []; // [lat, lng] while drawing
  let drawing = false;
  let shape = null; // the boundary to save (GeoJSON), from the drawing or a file
  const layers = {};

  const status = statusLine("park-status");
  const list = h("ul", { id: "park-list", class: "admin-list" });
  const code = h("input", { id: "park-code", type: "text", maxlength: 32, autocomplete: "off" });
  const nameZh = h("input", { id: "park-name-zh", type: "text", maxlength: 120 });
  const nameEn = h("input", { id: "park-name-en", type: "text", maxlength: 120 });
  const kind = h("input", { id: "park-kind", type: "text", maxlength: 40, value: "general" });
  const drawButton = h("button", { id: "park-draw", type: "button", class: "secondary small", onclick: () => startDrawing() }, t("parks.draw"));
  const undoButton = h("button", { id: "park-undo", type: "button", class: "secondary small", onclick: () => { corners.pop(); redraw(); } }, t("parks.undo"));
  const clearButton = h("button", { id: "park-clear", type: "button", class: "secondary small", onclick: () => { corners = []; shape = null; redraw(); } }, t("parks.clear"));
  const fileInput = h("input", { id: "park-file", type: "file", accept: ".geojson,.json,application/geo+json,application/json", onchange: () => readFile() });
  const saveButton = h("button", { id: "park-save", type: "button", class: "primary small", onclick: () => save() }, t("admin.save"));
  const hint = h("p", { id: "park-hint", class: "muted" });
  const mapBox = h("div", { id: "park-map", class: "map admin-map", role: "region", "aria-label": t("parks.map") });
  const inside = h("section", { id: "park-sites", class: "plan-section" });

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "parks"),
    h("div", { class: "desk-head" }, h("h2", { text: t("parks.heading") }),
      h("button", { id: "park-new", type: "button", class: "secondary small", onclick: () => choose(null) }, t("parks.new"))),
    h("div", { class: "admin-split" },
      h("aside", { class: "admin-side" }, list),
      h("div", { class: "admin-main" },
        h("div", { class: "filters" }, field(t("parks.code"), code), field(t("parks.name_zh"), nameZh),
          field(t("parks.name_en"), nameEn), field(t("parks.kind"), kind)),
        h("div", { class: "filters" }, drawButton, undoButton, clearButton,
          field(t("parks.file"), fileInput), saveButton),
        hint, status.el, mapBox, inside))));

  function drawList() {
    list.replaceChildren(...parks.map((p) => h("li", {},
      h("button", {
        type: "button", class: "admin-pick", "data-code": p.code, "aria-current": chosen && chosen.id === p.id ? "true" : null,
        onclick: () => choose(p.id),
      }, h("strong", { text: `${p.code} · ${parkName(p)}` }), h("span", { class: "muted", text: t("parks.sites", { n: p.site_count }) })))));
  }

  function toLatLngs(geometry) {
    const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
    return polys.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => [lat, lon])));
  }

  function redraw() {
    if (!map) return;
    if (layers.edit) layers.edit.remove();
    layers.edit = null;
    if (corners.length) {
      layers.edit = L.layerGroup([
        L.polygon(corners, { color: "#b3261e", weight: 3, dashArray: drawing ? "6 4" : null, fillOpacity: 0.1, interactive: false }),
        ...corners.map((c) => L.circleMarker(c, { radius: 6, color: "#b3261e", fillColor: "#fff", fillOpacity: 1, interactive: false })),
      ]).addTo(map);
      shape = corners.length >= 3
        ? { type: "Polygon", coordinates: [[...corners, corners[0]].map(([lat, lng]) => [Number(lng.toFixed(6)), Number(lat.toFixed(6))])] }
        : null;
    } else if (shape) {
      layers.edit = L.polygon(toLatLngs(shape), { color: "#b3261e", weight: 3, fillOpacity: 0.1, interactive: false }).addTo(map);
    }
    hint.textContent = drawing ? t("parks.draw.on", { n: corners.length }) : "";
    undoButton.disabled = !corners.length;
  }

  function startDrawing() {
    drawing = true;
    corners = [];
    shape = null;
    mapBox.classList.add("drawing");
    redraw();
  }

  async function readFile() {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    try {
      shape = geometryOf(JSON.parse(await file.text()));
      corners = [];
      drawing = false;
      redraw();
      if (layers.edit) map.fitBounds(layers.edit.getBounds(), { padding: [16, 16], animate: false });
      status.say(t("parks.file.read"));
    } catch (err) {
      status.warn(t("parks.file.bad", { message: err.message }));
    }
  }

  async function drawInside() {
    if (!chosen) {
      inside.replaceChildren();
      return;
    }
    const { data } = await api.get(`/api/sites?park=${chosen.id}&limit=500`);
    if (!alive) return;
    if (layers.sites) layers.sites.remove();
    layers.sites = L.featureGroup(data.items.map((s) => L.circleMarker([s.lat, s.lon], { radius: 7, color: "#111", weight: 1, fillColor: "#0b5cad", fillOpacity: 0.9 })
      .bindTooltip(s.name))).addTo(map);
    inside.replaceChildren(h("h3", { text: t("parks.inside") }),
      data.items.length ? table("park-site-table", [
        [t("parks.col.name"), (s) => h("a", { href: `#/enterprises/${s.id}`, text: s.name })],
        [t("parks.col.risk"), (s) => word("risk", s.grades.risk)],
        [t("parks.col.address"), (s) => s.address || ""],
      ], data.items) : h("p", { class: "muted", text: t("parks.inside.none") }));
  }

  async function choose(id) {
    status.clear();
    drawing = false;
    corners = [];
    shape = null;
    mapBox.classList.remove("drawing");
    chosen = id ? (await api.get(`/api/parks/${id}`)).data : null;
    if (!alive) return;
    code.value = chosen ? chosen.code : "";
    nameZh.value = chosen ? chosen.name_zh : "";
    nameEn.value = chosen ? chosen.name_en : "";
    kind.value = chosen ? chosen.kind : "general";
    drawList();
    if (layers.chosen) layers.chosen.remove();
    layers.chosen = null;
    if (layers.sites) layers.sites.remove();
    if (chosen) {
      layers.chosen = L.geoJSON(chosen.boundary, { style: { color: "#0b3d91", weight: 3, fillOpacity: 0.15 }, interactive: false }).addTo(map);
      map.fitBounds(layers.chosen.getBounds(), { padding: [16, 16], animate: false });
    }
    redraw();
    await drawInside();
    if (!chosen) startDrawing();
  }

  async function save() {
    const body = { code: code.value.trim(), name_zh: nameZh.value.trim(), name_en: nameEn.value.trim(), kind: kind.value.trim() || "general" };
    if (shape) body.boundary = shape;
    if (!chosen && !shape) {
      status.warn(t("parks.need.shape"));
      return;
    }
    saveButton.disabled = true;
    try {
      const saved = chosen ? await api.patch(`/api/parks/${chosen.id}`, body) : await api.post("/api/parks", body);
      await load();
      await choose(saved.id);
      status.say([t("parks.saved", { code: saved.code }),
        saved.warnings && saved.warnings.length ? t("parks.warnings", { text: joinList(saved.warnings) }) : ""].join(" "));
    } catch (err) {
      status.fail(err);
    } finally {
      saveButton.disabled = false;
    }
  }

  async function load() {
    const [{ data: rows }, { data: geo }] = await Promise.all([api.get("/api/parks"), api.get("/api/parks.geojson")]);
    parks = rows.items;
    if (layers.all) layers.all.remove();
    layers.all = L.geoJSON(geo, { style: { color: "#5d6b82", weight: 1.5, fillOpacity: 0.05 }, interactive: false }).addTo(map);
    drawList();
    return geo;
  }

  (async () => {
    try {
      L = await loadLeaflet();
      if (!alive) return;
      map = L.map(mapBox, { attributionControl: false, zoomSnap: 0.25, doubleClickZoom: false, zoomAnimation: false });
      map.on("click", (e) => {
        if (!drawing) return;
        corners.push([e.latlng.lat, e.latlng.lng]);
        redraw();
      });
      await load();
      if (layers.all.getLayers().length) map.fitBounds(layers.all.getBounds(), { padding: [16, 16], animate: false });
      else map.setView([32.27, 119.2], 12, { animate: false });
      const wanted = parks.find((p) => String(p.id) === arg || p.code === arg);
      if (wanted) await choose(wanted.id);
      redraw();
    } catch (err) {
      status.fail(err);
    }
  })();

  return () => {
    alive = false;
    if (map) map.remove();
  };
}

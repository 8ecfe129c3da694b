// The admin's enterprises: search, edit the record, move the point on the map by dragging its
// marker (or typing the coordinates), and see the history of visits, findings and changes.
// The sites API refuses a point outside the enterprise's park, with the reason.
import { api } from "../api.js";
import { deskNav, formatDay, parkName, word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, lang, t } from "../i18n.js";
import { loadLeaflet } from "../map.js";
import { auditList, field, statusLine, table } from "./admin_common.js";

addStrings({
  "zh-CN": {
    "sites.heading": "企业",
    "sites.search": "名称、信用代码或地址",
    "sites.col.name": "企业",
    "sites.col.park": "园区",
    "sites.col.risk": "风险",
    "sites.pick": "从左侧选择一家企业",
    "sites.name": "名称",
    "sites.address": "地址",
    "sites.industry": "行业",
    "sites.credit_code": "统一社会信用代码",
    "sites.risk": "风险等级",
    "sites.credit_class": "信用等级",
    "sites.contact_name": "联系人",
    "sites.contact_phone": "联系电话",
    "sites.active": "在营",
    "sites.lon": "经度",
    "sites.lat": "纬度",
    "sites.drag": "拖动地图上的标记可移动企业位置，保存后生效。",
    "sites.moved": "位置已改动，尚未保存",
    "sites.saved": "已保存 {name}",
    "sites.nothing": "没有改动",
    "sites.visits": "检查记录",
    "sites.findings": "发现问题",
    "sites.col.when": "时间",
    "sites.col.kind": "类型",
    "sites.col.by": "记录人",
    "sites.col.checklist": "检查表版本",
    "sites.col.violation": "违法行为",
    "sites.col.tier": "分级",
    "sites.col.status": "状态",
    "sites.none": "暂无",
    "sites.map": "企业位置",
  },
  en: {
    "sites.heading": "Enterprises",
    "sites.search": "Name, credit code or address",
    "sites.col.name": "Enterprise",
    "sites.col.park": "Park",
    "sites.col.risk": "Risk",
    "sites.pick": "Pick an enterprise on the left",
    "sites.name": "Name",
    "sites.address": "Address",
    "sites.industry": "Industry",
    "sites.credit_code": "Unified social credit code",
    "sites.risk": "Risk grade",
    "sites.credit_class": "Credit class",
    "sites.contact_name": "Contact",
    "sites.contact_phone": "Contact phone",
    "sites.active": "In business",
    "sites.lon": "Longitude",
    "sites.lat": "Latitude",
    "sites.drag": "Drag the marker on the map to move the enterprise; it moves when you save.",
    "sites.moved": "The point moved; not saved yet",
    "sites.saved": "Saved {name}",
    "sites.nothing": "Nothing changed",
    "sites.visits": "Visits",
    "sites.findings": "Findings",
    "sites.col.when": "When",
    "sites.col.kind": "Kind",
    "sites.col.by": "Recorded by",
    "sites.col.checklist": "Checklist version",
    "sites.col.violation": "Violation",
    "sites.col.tier": "Tier",
    "sites.col.status": "Status",
    "sites.none": "None yet",
    "sites.map": "Where the enterprise is",
  },
});

const RISKS = ["low", "medium", "high", "very_high"];
const CREDIT = ["A", "B", "C", "D"];

function select(id, values, prefix) {
  return h("select", { id }, values.map((v) => h("option", { value: v, text: prefix ? word(prefix, v) : v })));
}

export function render(root, ctx, arg) {
  let alive = true;
  let L = null;
  let map = null;
  let marker = null;
  let parksLayer = null;
  let site = null;
  let timer = null;

  const status = statusLine("site-status");
  const search = h("input", { id: "site-search", type: "search", placeholder: t("sites.search"), "aria-label": t("sites.search"),
    oninput: () => { clearTimeout(timer); timer = setTimeout(find, 250); } });
  const results = h("div", { id: "site-results" });
  const inputs = {
    name: h("input", { id: "site-name", type: "text", maxlength: 200 }),
    address: h("input", { id: "site-address", type: "text", maxlength: 255 }),
    industry: h("input", { id: "site-industry", type: "text", maxlength: 80 }),
    credit_code: h("input", { id: "site-credit-code", type: "text", maxlength: 40 }),
    risk_grade: select("site-risk", RISKS, "risk"),
    credit_class: select("site-credit-class", CREDIT),
    contact_name: h("input", { id: "site-contact-name", type: "text", maxlength: 80 }),
    contact_phone: h("input", { id: "site-contact-phone", type: "text", maxlength: 40 }),
    lon: h("input", { id: "site-lon", type: "number", step: "0.000001", oninput: () => placeFromInputs() }),
    lat: h("input", { id: "site-lat", type: "number", step: "0.000001", oninput: () => placeFromInputs() }),
  };
  const active = h("input", { id: "site-active", type: "checkbox" });
  const saveButton = h("button", { id: "site-save", type: "button", class: "primary small", onclick: () => save() }, t("admin.save"));
  const mapBox = h("div", { id: "site-map", class: "map admin-map", role: "region", "aria-label": t("sites.map") });
  const historyBox = h("section", { id: "site-history", class: "plan-section" });
  const form = h("div", { id: "site-form", hidden: true },
    h("h3", { id: "site-title" }),
    h("div", { class: "filters" },
      field(t("sites.name"), inputs.name), field(t("sites.address"), inputs.address), field(t("sites.industry"), inputs.industry),
      field(t("sites.credit_code"), inputs.credit_code), field(t("sites.risk"), inputs.risk_grade),
      field(t("sites.credit_class"), inputs.credit_class), field(t("sites.contact_name"), inputs.contact_name),
      field(t("sites.contact_phone"), inputs.contact_phone),
      h("label", { class: "filter check" }, active, t("sites.active"))),
    h("div", { class: "filters" }, field(t("sites.lon"), inputs.lon), field(t("sites.lat"), inputs.lat),
      h("span", { class: "muted", text: t("sites.drag") }), saveButton),
    status.el, mapBox, historyBox);
  const empty = h("p", { id: "site-empty", class: "muted", text: t("sites.pick") });

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "enterprises"),
    h("div", { class: "desk-head" }, h("h2", { text: t("sites.heading") })),
    h("div", { class: "admin-split" },
      h("aside", { class: "admin-side" }, search, results),
      h("div", { class: "admin-main" }, empty, form))));

  async function find() {
    const q = search.value.trim();
    try {
      const { data } = await api.get(`/api/sites?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}`);
      if (!alive) return;
      results.replaceChildren(table("site-table", [
        [t("sites.col.name"), (s) => s.name],
        [t("sites.col.risk"), (s) => word("risk", s.grades.risk)],
      ], data.items, (s) => { location.hash = `#/enterprises/${s.id}`; }));
    } catch (err) {
      status.fail(err);
    }
  }

  function placeFromInputs() {
    const lon = Number(inputs.lon.value);
    const lat = Number(inputs.lat.value);
    if (marker && Number.isFinite(lon) && Number.isFinite(lat)) marker.setLatLng([lat, lon]);
  }

  async function ensureMap() {
    if (map) return;
    L = await loadLeaflet();
    map = L.map(mapBox, { attributionControl: false, zoomSnap: 0.25, zoomAnimation: false });
    const { data: geo } = await api.get("/api/parks.geojson");
    parksLayer = L.geoJSON(geo, { style: { color: "#0b3d91", weight: 2, fillOpacity: 0.06 }, interactive: false }).addTo(map);
  }

  async function open(id) {
    status.clear();
    try {
      const [{ data }, { data: history }] = await Promise.all([api.get(`/api/sites/${id}`), api.get(`/api/sites/${id}/history`)]);
      if (!alive) return;
      site = data;
      empty.hidden = true;
      form.hidden = false;
      document.getElementById("site-title").textContent = `${site.name} · ${parkName(site.park)}`;
      for (const key of ["name", "address", "industry", "contact_name", "contact_phone"]) inputs[key].value = site[key] || "";
      inputs.credit_code.value = site.credit_code || "";
      inputs.risk_grade.value = site.grades.risk;
      inputs.credit_class.value = site.grades.credit_class;
      inputs.lon.value = site.lon;
      inputs.lat.value = site.lat;
      active.checked = site.active;
      await ensureMap();
      if (!alive) return;
      if (marker) marker.remove();
      marker = L.marker([site.lat, site.lon], {
        draggable: true, keyboard: true, title: site.name,
        icon: L.divIcon({ className: "drag-pin", iconSize: [28, 28], iconAnchor: [14, 14] }),
      }).addTo(map);
      marker.on("dragend", () => {
        const p = marker.getLatLng();
        inputs.lon.value = p.lng.toFixed(6);
        inputs.lat.value = p.lat.toFixed(6);
        status.say(t("sites.moved"));
      });
      map.setView([site.lat, site.lon], 15, { animate: false });
      drawHistory(history);
    } catch (err) {
      status.fail(err);
    }
  }

  function drawHistory(history) {
    const name = (f) => (lang() === "en" ? f.violation_name_en : f.violation_name_zh) || f.violation_code || t("finding.advisory");
    historyBox.replaceChildren(
      h("h3", { text: t("sites.visits") }),
      history.visits.length ? table("site-visits", [
        [t("sites.col.when"), (v) => formatDateTime(new Date(v.started_at))],
        [t("sites.col.kind"), (v) => word("kind", v.kind)],
        [t("sites.col.by"), (v) => v.recorded_by],
        [t("sites.col.checklist"), (v) => (v.checklist_code ? `${v.checklist_code} v${v.checklist_version}` : "–")],
      ], history.visits) : h("p", { class: "muted", text: t("sites.none") }),
      h("h3", { text: t("sites.findings") }),
      history.findings.length ? table("site-findings", [
        [t("sites.col.when"), (f) => formatDay(f.discovered_at.slice(0, 10))],
        [t("sites.col.violation"), (f) => h("a", { href: `#/finding/${f.id}`, text: name(f) })],
        [t("sites.col.tier"), (f) => `${word("tier", f.final_tier)} · ${f.rule_id}`],
        [t("sites.col.status"), (f) => word("status", f.status)],
      ], history.findings) : h("p", { class: "muted", text: t("sites.none") }),
      h("h3", { text: t("admin.audit.heading") }),
      auditList(history.changes, "site-changes"));
  }

  async function save() {
    if (!site) return;
    const now = {
      name: inputs.name.value.trim(), address: inputs.address.value.trim(), industry: inputs.industry.value.trim(),
      credit_code: inputs.credit_code.value.trim() || null, risk_grade: inputs.risk_grade.value,
      credit_class: inputs.credit_class.value, contact_name: inputs.contact_name.value.trim(),
      contact_phone: inputs.contact_phone.value.trim(), active: active.checked,
    };
    const was = {
      name: site.name, address: site.address || "", industry: site.industry || "", credit_code: site.credit_code || null,
      risk_grade: site.grades.risk, credit_class: site.grades.credit_class, contact_name: site.contact_name || "",
      contact_phone: site.contact_phone || "", active: site.active,
    };
    const body = Object.fromEntries(Object.entries(now).filter(([k, v]) => v !== was[k]));
    const lon = Number(inputs.lon.value);
    const lat = Number(inputs.lat.value);
    if (Math.abs(lon - site.lon) > 1e-7 || Math.abs(lat - site.lat) > 1e-7) Object.assign(body, { lon, lat });
    if (!Object.keys(body).length) {
      status.say(t("sites.nothing"));
      return;
    }
    saveButton.disabled = true;
    try {
      const saved = await api.patch(`/api/sites/${site.id}`, body);
      await open(saved.id);
      status.say(t("sites.saved", { name: saved.name }));
      find();
    } catch (err) {
      status.fail(err);
    } finally {
      saveButton.disabled = false;
    }
  }

  find();
  if (/^\d+$/.test(arg || "")) open(Number(arg));

  return () => {
    alive = false;
    clearTimeout(timer);
    if (map) map.remove();
  };
}

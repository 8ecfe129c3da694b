// The admin's import screen (desktop first): choose the kind, the file and its coordinate
// system, see the dry run's counts and every refused or changed row named by row, column and
// reason, then apply; a large file shows its progress while the server works on it.
import { ApiError, api, describeError } from "../api.js";
import { deskNav } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";

addStrings({
  "zh-CN": {
    "imp.heading": "导入数据",
    "imp.kind": "数据类型",
    "imp.kind.enterprises": "企业（CSV / XLSX）",
    "imp.kind.parks": "园区边界（GeoJSON / KML）",
    "imp.kind.people": "人员（CSV / XLSX）",
    "imp.kind.catalogue": "违法行为目录（CSV）",
    "imp.kind.checklists": "检查表（CSV / XLSX）",
    "imp.file": "文件",
    "imp.crs": "坐标系",
    "imp.crs.wgs84": "WGS 84（GPS、天地图）",
    "imp.crs.gcj02": "GCJ-02（高德、腾讯）",
    "imp.crs.bd09": "BD-09（百度）",
    "imp.reference": "参考点（已知的 WGS 84 位置，如园区办公室）：经度,纬度",
    "imp.password": "新用户的初始密码（至少 10 个字符）",
    "imp.check": "试导入（不写入）",
    "imp.apply": "确认导入",
    "imp.checking": "正在检查……",
    "imp.applying": "正在写入……",
    "imp.progress": "{phase}：{done}{of} 行",
    "imp.phase.check": "检查",
    "imp.phase.apply": "写入",
    "imp.counts": "新增 {create}，更新 {update}，不变 {unchanged}，拒绝 {refused}，提醒 {warnings}",
    "imp.applied": "已导入：新增 {create}，更新 {update}，不变 {unchanged}；被拒绝的 {refused} 行未写入。",
    "imp.nothing": "请选择文件。",
    "imp.file_issues": "文件问题",
    "imp.rows": "需要关注的行",
    "imp.col.row": "行",
    "imp.col.action": "结果",
    "imp.col.key": "标识",
    "imp.col.column": "列",
    "imp.col.reason": "原因",
    "imp.action.create": "新增",
    "imp.action.update": "更新",
    "imp.action.unchanged": "不变",
    "imp.action.refused": "拒绝",
    "imp.changed": "改动：{fields}",
    "imp.more": "另有 {n} 行未显示",
  },
  en: {
    "imp.heading": "Import data",
    "imp.kind": "What",
    "imp.kind.enterprises": "Enterprises (CSV / XLSX)",
    "imp.kind.parks": "Park boundaries (GeoJSON / KML)",
    "imp.kind.people": "People (CSV / XLSX)",
    "imp.kind.catalogue": "Violation catalogue (CSV)",
    "imp.kind.checklists": "Checklists (CSV / XLSX)",
    "imp.file": "File",
    "imp.crs": "Coordinate system",
    "imp.crs.wgs84": "WGS 84 (GPS, Tianditu)",
    "imp.crs.gcj02": "GCJ-02 (AMap/Gaode, Tencent)",
    "imp.crs.bd09": "BD-09 (Baidu)",
    "imp.reference": "Reference point (a known WGS 84 place, e.g. the park office): lon,lat",
    "imp.password": "New users' first password (at least 10 characters)",
    "imp.check": "Dry run (writes nothing)",
    "imp.apply": "Apply",
    "imp.checking": "Checking…",
    "imp.applying": "Writing…",
    "imp.progress": "{phase}: {done}{of} rows",
    "imp.phase.check": "checking",
    "imp.phase.apply": "writing",
    "imp.counts": "create {create}, update {update}, unchanged {unchanged}, refused {refused}, warnings {warnings}",
    "imp.applied": "Imported: {create} created, {update} updated, {unchanged} unchanged; the {refused} refused rows were not written.",
    "imp.nothing": "Choose a file.",
    "imp.file_issues": "About the file",
    "imp.rows": "Rows to look at",
    "imp.col.row": "Row",
    "imp.col.action": "Result",
    "imp.col.key": "Key",
    "imp.col.column": "Column",
    "imp.col.reason": "Reason",
    "imp.action.create": "create",
    "imp.action.update": "update",
    "imp.action.unchanged": "unchanged",
    "imp.action.refused": "refused",
    "imp.changed": "changes: {fields}",
    "imp.more": "{n} more rows not shown",
  },
});

const KINDS = ["enterprises", "parks", "people", "catalogue", "checklists"];
const CRS = ["wgs84", "gcj02", "bd09"];
const ACCEPT = { enterprises: ".csv,.xlsx", parks: ".geojson,.json,.kml", people: ".csv,.xlsx", catalogue: ".csv", checklists: ".csv,.xlsx" };

export function render(root, ctx) {
  let alive = true;
  let job = null;
  const kind = h("select", { id: "imp-kind" }, KINDS.map((k) => h("option", { value: k, text: t(`imp.kind.${k}`) })));
  const file = h("input", { id: "imp-file", type: "file", accept: ACCEPT.enterprises });
  const crs = h("select", { id: "imp-crs" }, CRS.map((c) => h("option", { value: c, text: t(`imp.crs.${c}`) })));
  const reference = h("input", { id: "imp-reference", type: "text", inputmode: "decimal", placeholder: "119.185,32.245" });
  const password = h("input", { id: "imp-password", type: "password", autocomplete: "new-password" });
  const passwordRow = h("label", { class: "filter", for: "imp-password", hidden: true }, h("span", { text: t("imp.password") }), password);
  const check = h("button", { id: "imp-check", type: "button", class: "secondary", text: t("imp.check") });
  const apply = h("button", { id: "imp-apply", type: "button", class: "primary", text: t("imp.apply"), disabled: true });
  const status = h("p", { id: "imp-status", role: "status", class: "muted" });
  const progress = h("progress", { id: "imp-progress", max: 1, value: 0, hidden: true });
  const report = h("div", { id: "imp-report" });
  kind.addEventListener("change", () => {
    file.accept = ACCEPT[kind.value];
    passwordRow.hidden = kind.value !== "people";
  });

  root.append(h("div", { class: "screen desk imports" },
    deskNav(ctx, "import"),
    h("div", { class: "desk-head" }, h("h2", { text: t("imp.heading") })),
    h("div", { class: "filters import-form" },
      h("label", { class: "filter", for: "imp-kind" }, h("span", { text: t("imp.kind") }), kind),
      h("label", { class: "filter", for: "imp-file" }, h("span", { text: t("imp.file") }), file),
      h("label", { class: "filter", for: "imp-crs" }, h("span", { text: t("imp.crs") }), crs),
      h("label", { class: "filter", for: "imp-reference" }, h("span", { text: t("imp.reference") }), reference),
      passwordRow),
    h("div", { class: "import-buttons" }, check, apply),
    status, progress, report));

  const msg = (m) => (m && (m[lang()] || m.en)) || "";

  function showProgress(p) {
    if (!p) { progress.hidden = true; return; }
    progress.hidden = false;
    progress.max = p.total || Math.max(p.done, 1);
    progress.value = p.done;
    status.textContent = t("imp.progress", { phase: t(`imp.phase.${p.phase}`), done: p.done, of: p.total ? `/${p.total}` : "" });
  }

  function draw(j) {
    job = j;
    const c = j.counts || {};
    const counts = { create: 0, update: 0, unchanged: 0, refused: 0, warnings: 0, ...c };
    apply.disabled = !(j.allowed_next || []).includes("apply");
    if (j.running) { showProgress(j.progress); } else { progress.hidden = true; }
    if (!j.running) {
      status.textContent = j.status === "applied" ? t("imp.applied", counts) : (j.error || "");
    }
    const parts = [h("p", { id: "imp-counts", class: "counts", text: t("imp.counts", counts) })];
    if ((j.file_issues || []).length) {
      parts.push(h("h3", { text: t("imp.file_issues") }),
        h("ul", { id: "imp-file-issues" }, j.file_issues.map((i) => h("li", { class: `issue ${i.severity}`, text: msg(i.message) }))));
    }
    const rows = (j.rows && j.rows.items) || [];
    if (rows.length) {
      parts.push(h("h3", { text: t("imp.rows") }),
        h("table", { id: "imp-rows", class: "report" },
          h("thead", {}, h("tr", {}, ["row", "action", "key", "column", "reason"].map((k) => h("th", { text: t(`imp.col.${k}`) })))),
          h("tbody", {}, rows.flatMap((r) => {
            const issues = r.issues && r.issues.length ? r.issues : [null];
            return issues.map((i) => h("tr", { class: `row-${r.action}`, "data-row": r.row },
              h("td", { text: String(r.row) }),
              h("td", {}, h("span", { class: `badge ${r.action}`, text: t(`imp.action.${r.action}`) })),
              h("td", { text: [r.label, r.key].filter(Boolean).join(" · ") }),
              h("td", { text: i ? i.header || i.column || "" : "" }),
              h("td", { text: i ? msg(i.message) : t("imp.changed", { fields: Object.keys(r.changes || {}).join(", ") }) })));
          }))));
      const more = j.rows.total - rows.length;
      if (more > 0) parts.push(h("p", { class: "muted", text: t("imp.more", { n: more }) }));
    }
    report.replaceChildren(...parts);
  }

  async function follow(id) {
    while (alive) {
      const { data } = await api.get(`/api/imports/${id}?action=issues&limit=500`);
      draw(data);
      if (!data.running && data.status !== "checking") return;
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  check.addEventListener("click", async () => {
    if (!file.files.length) { status.textContent = t("imp.nothing"); return; }
    const form = new FormData();
    form.append("kind", kind.value);
    form.append("file", file.files[0], file.files[0].name);
    form.append("crs", crs.value);
    const ref = reference.value.split(/[,\uff0c\s]+/).filter(Boolean);
    if (ref.length === 2) { form.append("reference_lon", ref[0]); form.append("reference_lat", ref[1]); }
    if (kind.value === "people" && password.value) form.append("initial_password", password.value);
    check.disabled = true;
    apply.disabled = true;
    status.textContent = t("imp.checking");
    report.replaceChildren();
    try {
      const resp = await fetch("/api/imports", { method: "POST", body: form, headers: { Authorization: `Bearer ${ctx.session.token}`, Accept: "application/json" } });
      const data = await resp.json().catch(() => null);
      if (!resp.ok) throw new ApiError(resp.status, (data && data.message) || resp.statusText, { errors: data && data.errors });
      await follow(data.id);
    } catch (err) {
      status.textContent = describeError(err);
    } finally {
      check.disabled = false;
    }
  });

  apply.addEventListener("click", async () => {
    if (!job) return;
    apply.disabled = true;
    status.textContent = t("imp.applying");
    try {
      await api.post(`/api/imports/${job.id}/apply`);
      await follow(job.id);
    } catch (err) {
      status.textContent = describeError(err);
    }
  });

  return () => { alive = false; };
}

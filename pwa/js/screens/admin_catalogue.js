// The admin's view of the violation catalogue: the rows in force on a chosen day (a finding uses
// the row in force on its discovery date), by domain or by text, with each code's version count.
import { api } from "../api.js";
import { deskNav, formatDay, word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import { field, statusLine, table } from "./admin_common.js";

addStrings({
  "zh-CN": {
    "catalogue.heading": "违法行为目录",
    "catalogue.on": "生效日期",
    "catalogue.domain": "领域",
    "catalogue.q": "代码、名称或条款",
    "catalogue.count": "{day} 有效的条目：{n} 条",
    "catalogue.col.code": "代码",
    "catalogue.col.name": "违法行为",
    "catalogue.col.domain": "领域",
    "catalogue.col.violated": "违反条款",
    "catalogue.col.penalty": "处罚条款",
    "catalogue.col.tolerance": "包容类型",
    "catalogue.col.days": "整改期限",
    "catalogue.col.from": "生效",
    "catalogue.col.to": "失效",
    "catalogue.col.versions": "版本数",
    "catalogue.days": "{n} 个工作日",
    "catalogue.days.calendar": "{n} 天",
    "catalogue.open": "长期有效",
  },
  en: {
    "catalogue.heading": "Violation catalogue",
    "catalogue.on": "In force on",
    "catalogue.domain": "Domain",
    "catalogue.q": "Code, name or article",
    "catalogue.count": "Rows in force on {day}: {n}",
    "catalogue.col.code": "Code",
    "catalogue.col.name": "Violation",
    "catalogue.col.domain": "Domain",
    "catalogue.col.violated": "Article broken",
    "catalogue.col.penalty": "Penalty article",
    "catalogue.col.tolerance": "Tolerance",
    "catalogue.col.days": "Time to correct",
    "catalogue.col.from": "From",
    "catalogue.col.to": "Until",
    "catalogue.col.versions": "Versions",
    "catalogue.days": "{n} working days",
    "catalogue.days.calendar": "{n} days",
    "catalogue.open": "open-ended",
  },
});

const DOMAINS = ["safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other"];

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function render(root, ctx, arg) {
  let alive = true;
  let timer = null;
  const status = statusLine("catalogue-status");
  const on = h("input", { id: "catalogue-on", type: "date", value: /^\d{4}-\d{2}-\d{2}$/.test(arg || "") ? arg : today(), onchange: () => load() });
  const domain = h("select", { id: "catalogue-domain", onchange: () => load() },
    h("option", { value: "", text: "—" }), DOMAINS.map((d) => h("option", { value: d, text: word("domain", d) })));
  const q = h("input", { id: "catalogue-q", type: "search", placeholder: t("catalogue.q"),
    oninput: () => { clearTimeout(timer); timer = setTimeout(load, 250); } });
  const count = h("p", { id: "catalogue-count", class: "muted" });
  const box = h("div", { id: "catalogue-rows" });

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "catalogue"),
    h("div", { class: "desk-head" }, h("h2", { text: t("catalogue.heading") })),
    h("div", { class: "filters" }, field(t("catalogue.on"), on), field(t("catalogue.domain"), domain), field(t("catalogue.q"), q)),
    status.el, count, box));

  async function load() {
    if (!on.value) return;
    const params = new URLSearchParams({ on: on.value });
    if (domain.value) params.set("domain", domain.value);
    if (q.value.trim()) params.set("q", q.value.trim());
    try {
      const { data } = await api.get(`/api/catalogue?${params}`);
      if (!alive) return;
      status.clear();
      count.textContent = t("catalogue.count", { day: formatDay(data.on), n: data.items.length });
      box.replaceChildren(table("catalogue-table", [
        [t("catalogue.col.code"), (r) => h("code", { text: r.code })],
        [t("catalogue.col.name"), (r) => (lang() === "en" && r.name_en) || r.name_zh],
        [t("catalogue.col.domain"), (r) => word("domain", r.domain)],
        [t("catalogue.col.violated"), (r) => r.violated_provision],
        [t("catalogue.col.penalty"), (r) => r.penalty_provision],
        [t("catalogue.col.tolerance"), (r) => word("tolerance", r.tolerance_type)],
        [t("catalogue.col.days"), (r) => t(r.correction_unit === "calendar_days" ? "catalogue.days.calendar" : "catalogue.days", { n: r.correction_days })],
        [t("catalogue.col.from"), (r) => formatDay(r.effective_from)],
        [t("catalogue.col.to"), (r) => (r.effective_to ? formatDay(r.effective_to) : t("catalogue.open"))],
        [t("catalogue.col.versions"), (r) => String(r.versions)],
      ], data.items));
    } catch (err) {
      status.fail(err);
    }
  }

  load();
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

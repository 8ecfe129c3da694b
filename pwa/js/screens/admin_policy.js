// The admin's policy: every number of DOMAIN.md with its default and the value in force. A change
// needs a reason; it makes a new, audited version, and the history shows each version's reason,
// who made it, when, and what it changed. The server checks each knob's type and range.
import { api } from "../api.js";
import { deskNav } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, t } from "../i18n.js";
import { field, statusLine } from "./admin_common.js";

// Each knob's section of DOMAIN.md (its words are policy.knob.<key> below).
const SECTIONS = {
  excluded_domains: "§2",
  repeat_window_days: "§2",
  repeat_threshold: "§2",
  target_mix: "§1",
  timezone: "§6",
  reinspection_within_days: "§6",
  case_decision_days: "§6",
  hearing_request_days: "§6",
  decision_service_days: "§6",
  fine_payment_days: "§6",
  limitation_years: "§6",
  limitation_years_harm: "§6",
  clock_warning_days: "§6",
  order_number_prefix: "§6",
  case_number_prefix: "§6",
  geofence_radius_m: "§7",
  gps_accuracy_threshold_m: "§7",
  device_clock_tolerance_h: "§7",
  yearly_max_visits: "§5",
  key_object_min_per_quarter: "§5",
  no_proactive_visit: "§5",
  merge_window_days: "§5",
  working_day_hours: "§5",
  minutes_on_site: "§5",
  road_speed_kmh: "§5",
  road_factor: "§5",
  day_start: "§5",
  certificate_warning_days: "people",
};

addStrings({
  "zh-CN": {
    "policy.heading": "政策参数",
    "policy.version": "现行第 {version} 版 · {when} · 原因：{reason}",
    "policy.col.knob": "参数",
    "policy.col.section": "DOMAIN.md",
    "policy.col.default": "默认值",
    "policy.col.current": "现行值",
    "policy.col.new": "修改为",
    "policy.changed": "与默认值不同",
    "policy.reason": "修改原因（必填，记入审计）",
    "policy.save": "保存为新版本",
    "policy.nothing": "没有改动的参数",
    "policy.need.reason": "请填写修改原因",
    "policy.bad.json": "{knob} 不是有效的 JSON：{message}",
    "policy.saved": "已保存为第 {version} 版",
    "policy.history": "版本与原因",
    "policy.history.entry": "第 {version} 版 · {who} · {when}",
    "policy.first": "初始版本",
    "policy.knob.excluded_domains": "不适用包容的领域",
    "policy.knob.repeat_window_days": "重复违法回溯天数",
    "policy.knob.repeat_threshold": "重复违法次数阈值",
    "policy.knob.target_mix": "721 目标比例（%）",
    "policy.knob.timezone": "时区",
    "policy.knob.reinspection_within_days": "复查期限（工作日）",
    "policy.knob.case_decision_days": "立案后作出决定期限（天）",
    "policy.knob.hearing_request_days": "听证申请期限（工作日）",
    "policy.knob.decision_service_days": "决定书送达期限（天）",
    "policy.knob.fine_payment_days": "罚款缴纳期限（天）",
    "policy.knob.limitation_years": "追责时效（年）",
    "policy.knob.limitation_years_harm": "有危害后果时的时效（年）",
    "policy.knob.clock_warning_days": "期限提醒提前天数",
    "policy.knob.order_number_prefix": "责令改正通知书文号前缀",
    "policy.knob.case_number_prefix": "立案文号前缀",
    "policy.knob.geofence_radius_m": "到场判定半径（米）",
    "policy.knob.gps_accuracy_threshold_m": "定位精度阈值（米）",
    "policy.knob.device_clock_tolerance_h": "设备时钟容差（小时）",
    "policy.knob.yearly_max_visits": "年度检查上限",
    "policy.knob.key_object_min_per_quarter": "重点对象每季度最少检查次数",
    "policy.knob.no_proactive_visit": "免于主动检查的条件",
    "policy.knob.merge_window_days": "合并检查窗口（天）",
    "policy.knob.working_day_hours": "每日工作小时",
    "policy.knob.minutes_on_site": "每家现场分钟数",
    "policy.knob.road_speed_kmh": "道路平均车速（公里/小时）",
    "policy.knob.road_factor": "道路绕行系数",
    "policy.knob.day_start": "出发时间",
    "policy.knob.certificate_warning_days": "执法证到期提前提醒天数",
  },
  en: {
    "policy.heading": "Policy",
    "policy.version": "Version {version} in force · {when} · reason: {reason}",
    "policy.col.knob": "Setting",
    "policy.col.section": "DOMAIN.md",
    "policy.col.default": "Default",
    "policy.col.current": "In force",
    "policy.col.new": "Change to",
    "policy.changed": "differs from the default",
    "policy.reason": "Reason for the change (required, audited)",
    "policy.save": "Save as a new version",
    "policy.nothing": "No setting was changed",
    "policy.need.reason": "Give the reason for the change",
    "policy.bad.json": "{knob} is not valid JSON: {message}",
    "policy.saved": "Saved as version {version}",
    "policy.history": "Versions and reasons",
    "policy.history.entry": "Version {version} · {who} · {when}",
    "policy.first": "first version",
    "policy.knob.excluded_domains": "Domains excluded from tolerance",
    "policy.knob.repeat_window_days": "Repeat-offence window (days)",
    "policy.knob.repeat_threshold": "Repeat-offence threshold",
    "policy.knob.target_mix": "721 target mix (%)",
    "policy.knob.timezone": "Time zone",
    "policy.knob.reinspection_within_days": "Re-inspection within (working days)",
    "policy.knob.case_decision_days": "Case decision within (days)",
    "policy.knob.hearing_request_days": "Hearing request within (working days)",
    "policy.knob.decision_service_days": "Decision served within (days)",
    "policy.knob.fine_payment_days": "Fine paid within (days)",
    "policy.knob.limitation_years": "Limitation (years)",
    "policy.knob.limitation_years_harm": "Limitation with harm (years)",
    "policy.knob.clock_warning_days": "Deadline warning (days ahead)",
    "policy.knob.order_number_prefix": "Rectification notice number prefix",
    "policy.knob.case_number_prefix": "Case number prefix",
    "policy.knob.geofence_radius_m": "Geofence radius (m)",
    "policy.knob.gps_accuracy_threshold_m": "GPS accuracy threshold (m)",
    "policy.knob.device_clock_tolerance_h": "Device clock tolerance (h)",
    "policy.knob.yearly_max_visits": "Yearly visit caps",
    "policy.knob.key_object_min_per_quarter": "Key objects: visits per quarter at least",
    "policy.knob.no_proactive_visit": "No proactive visit when",
    "policy.knob.merge_window_days": "Merge window (days)",
    "policy.knob.working_day_hours": "Working-day hours",
    "policy.knob.minutes_on_site": "Minutes on site",
    "policy.knob.road_speed_kmh": "Road speed (km/h)",
    "policy.knob.road_factor": "Road factor",
    "policy.knob.day_start": "Day starts at",
    "policy.knob.certificate_warning_days": "Certificate expiry warning (days ahead)",
  },
});

function shown(value) {
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function knobName(key) {
  const name = t(`policy.knob.${key}`);
  return name === `policy.knob.${key}` ? key : name;
}

export function render(root, ctx) {
  let alive = true;
  let current = null;
  const status = statusLine("policy-status");
  const head = h("p", { id: "policy-version", class: "muted" });
  const tbody = h("tbody");
  const reason = h("textarea", { id: "policy-reason", maxlength: 2000 });
  const saveButton = h("button", { id: "policy-save", type: "button", class: "primary small", onclick: () => save() }, t("policy.save"));
  const history = h("ol", { id: "policy-history", class: "audit-list" });
  const inputs = {};

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "policy"),
    h("div", { class: "desk-head" }, h("h2", { text: t("policy.heading") })),
    head,
    h("div", { class: "table-wrap" }, h("table", { id: "policy-table", class: "findings admin-table" },
      h("thead", {}, h("tr", {}, ["policy.col.knob", "policy.col.section", "policy.col.default", "policy.col.current", "policy.col.new"]
        .map((k) => h("th", { scope: "col", text: t(k) })))), tbody)),
    field(t("policy.reason"), reason),
    h("div", { class: "filters" }, saveButton), status.el,
    h("h3", { text: t("policy.history") }), history));

  function control(key, value) {
    const id = `knob-${key}`;
    if (typeof value === "number") return h("input", { id, type: "number", step: Number.isInteger(value) ? "1" : "0.1", value: String(value), "data-kind": "number" });
    if (typeof value === "string") return h("input", { id, type: "text", value, "data-kind": "string" });
    return h("textarea", { id, class: "json", "data-kind": "json" }, JSON.stringify(value));
  }

  function draw(policy, versions) {
    current = policy;
    const defaults = versions.defaults;
    head.textContent = t("policy.version", {
      version: policy.version ?? 1, when: policy.created_at ? formatDateTime(new Date(policy.created_at)) : "–", reason: policy.reason,
    });
    tbody.replaceChildren(...Object.keys(defaults).map((key) => {
      inputs[key] = control(key, policy.values[key]);
      const differs = JSON.stringify(defaults[key]) !== JSON.stringify(policy.values[key]);
      return h("tr", { "data-knob": key, class: differs ? "knob-changed" : null },
        h("th", { scope: "row" }, h("label", { for: `knob-${key}`, text: knobName(key) }), h("div", {}, h("code", { class: "muted", text: key }))),
        h("td", { text: SECTIONS[key] || "" }),
        h("td", { class: "knob-default", text: shown(defaults[key]) }),
        h("td", { class: "knob-current" }, shown(policy.values[key]), differs ? h("div", { class: "muted", text: t("policy.changed") }) : null),
        h("td", {}, inputs[key]));
    }));
    history.replaceChildren(...versions.items.map((v) => h("li", { class: "audit-entry", "data-version": v.version },
      h("div", { class: "audit-head" }, h("strong", {
        text: t("policy.history.entry", { version: v.version, who: v.created_by_name || t("admin.audit.system"), when: v.created_at ? formatDateTime(new Date(v.created_at)) : "–" }),
      })),
      h("div", { class: "audit-reason" }, h("strong", { text: t("admin.reason.label") }), v.reason),
      Object.keys(v.changes).length
        ? Object.entries(v.changes).map(([k, ch]) => h("div", { class: "audit-change" }, h("code", { text: k }), ` ${shown(ch.from)} → ${shown(ch.to)}`))
        : h("div", { class: "muted", text: t("policy.first") }))));
  }

  async function load() {
    const [{ data: policy }, { data: versions }] = await Promise.all([api.get("/api/policy"), api.get("/api/policy/versions")]);
    if (alive) draw(policy, versions);
  }

  async function save() {
    const values = {};
    for (const [key, input] of Object.entries(inputs)) {
      let value;
      if (input.dataset.kind === "number") value = Number(input.value);
      else if (input.dataset.kind === "string") value = input.value;
      else {
        try {
          value = JSON.parse(input.value);
        } catch (err) {
          status.warn(t("policy.bad.json", { knob: knobName(key), message: err.message }));
          return;
        }
      }
      if (JSON.stringify(value) !== JSON.stringify(current.values[key])) values[key] = value;
    }
    if (!Object.keys(values).length) {
      status.say(t("policy.nothing"));
      return;
    }
    if (!reason.value.trim()) {
      status.warn(t("policy.need.reason"));
      reason.focus();
      return;
    }
    saveButton.disabled = true;
    try {
      const saved = await api.patch("/api/policy", { values, reason: reason.value.trim() });
      reason.value = "";
      await load();
      status.say(t("policy.saved", { version: saved.version }));
    } catch (err) {
      status.fail(err);
    } finally {
      saveButton.disabled = false;
    }
  }

  load().catch((err) => status.fail(err));
  return () => {
    alive = false;
  };
}

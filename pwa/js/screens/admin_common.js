// What the admin's screens share: a labelled field, a status line for saves and refusals, and the
// audit trail drawn as a list (who, when, what, the reason). Loaded only with an admin screen.
import { describeError } from "../api.js";
import { word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, t } from "../i18n.js";

addStrings({
  "zh-CN": {
    "admin.save": "保存",
    "admin.saved": "已保存",
    "admin.cancel": "取消",
    "admin.loading": "正在读取…",
    "admin.none": "无",
    "admin.search": "搜索",
    "admin.audit.heading": "变更记录",
    "admin.audit.empty": "还没有变更记录",
    "admin.audit.by": "{who} · {when}",
    "admin.audit.system": "系统",
    "admin.reason": "原因",
    "admin.reason.label": "原因：",
    "admin.yes": "是",
    "admin.no": "否",
    "audit.policy.change": "修改政策参数",
    "audit.policy.create": "初始政策",
    "audit.user.create": "新增人员",
    "audit.user.update": "修改人员信息",
    "audit.user.disable": "停用账号",
    "audit.user.enable": "启用账号",
    "audit.user.reset_password": "重置密码",
    "audit.user.conflict.add": "登记回避",
    "audit.user.conflict.remove": "撤销回避",
    "audit.user.leave.add": "登记请假",
    "audit.user.leave.remove": "取消请假",
    "audit.auth.login": "登录",
    "audit.certificate.expiring": "执法证即将到期提醒",
    "audit.certificate.expired": "执法证已过期提醒",
    "audit.checklist.new_version": "新建检查表版本",
    "audit.checklist.edit": "修改检查表草稿",
    "audit.checklist.publish": "发布检查表",
    "audit.site.create": "新增企业",
    "audit.site.update": "修改企业信息",
    "audit.park.create": "新建园区",
    "audit.park.update": "修改园区",
  },
  en: {
    "admin.save": "Save",
    "admin.saved": "Saved",
    "admin.cancel": "Cancel",
    "admin.loading": "Loading…",
    "admin.none": "None",
    "admin.search": "Search",
    "admin.audit.heading": "Change history",
    "admin.audit.empty": "No changes recorded yet",
    "admin.audit.by": "{who} · {when}",
    "admin.audit.system": "System",
    "admin.reason": "Reason",
    "admin.reason.label": "Reason: ",
    "admin.yes": "Yes",
    "admin.no": "No",
    "audit.policy.change": "Policy changed",
    "audit.policy.create": "First policy",
    "audit.user.create": "Person added",
    "audit.user.update": "Person changed",
    "audit.user.disable": "Account disabled",
    "audit.user.enable": "Account enabled",
    "audit.user.reset_password": "Password reset",
    "audit.user.conflict.add": "Conflict declared",
    "audit.user.conflict.remove": "Conflict withdrawn",
    "audit.user.leave.add": "Leave recorded",
    "audit.user.leave.remove": "Leave cancelled",
    "audit.auth.login": "Logged in",
    "audit.certificate.expiring": "Certificate expiring (warning)",
    "audit.certificate.expired": "Certificate expired (warning)",
    "audit.checklist.new_version": "New checklist version",
    "audit.checklist.edit": "Checklist draft edited",
    "audit.checklist.publish": "Checklist published",
    "audit.site.create": "Enterprise added",
    "audit.site.update": "Enterprise changed",
    "audit.park.create": "Park added",
    "audit.park.update": "Park changed",
  },
});

// <label> with its words above the control.
export function field(label, control, attrs = {}) {
  return h("label", { class: "filter admin-field", ...attrs }, h("span", { text: label }), control);
}

// A status line: say(text) for news, fail(err) for a refusal in the server's words.
export function statusLine(id) {
  const el = h("p", { id, class: "admin-status", role: "status" });
  return {
    el,
    say(text) {
      el.className = "admin-status";
      el.setAttribute("role", "status");
      el.textContent = text;
    },
    fail(err) {
      this.warn(describeError(err));
    },
    // A refusal made here (not by the server), in its own words.
    warn(text) {
      el.className = "admin-status error";
      el.setAttribute("role", "alert");
      el.textContent = text;
    },
    clear() {
      el.textContent = "";
    },
  };
}

function plain(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// One line per change: "from → to" for each key of a summary's before/after or changes.
function summaryLines(summary) {
  const lines = [];
  if (summary.reason) lines.push(h("div", { class: "audit-reason" }, h("strong", { text: t("admin.reason.label") }), summary.reason));
  const changes = summary.changes && typeof summary.changes === "object" ? summary.changes
    : summary.before && summary.after ? Object.fromEntries(Object.keys(summary.after).map((k) => [k, { from: summary.before[k], to: summary.after[k] }]))
      : null;
  if (changes) {
    for (const [key, ch] of Object.entries(changes)) {
      lines.push(h("div", { class: "audit-change" }, h("code", { text: key }), ` ${plain(ch.from)} → ${plain(ch.to)}`));
    }
  }
  const rest = Object.entries(summary).filter(([k]) => !["reason", "changes", "before", "after"].includes(k));
  if (rest.length) lines.push(h("div", { class: "audit-rest muted", text: rest.map(([k, v]) => `${k}: ${plain(v)}`).join(" · ") }));
  return lines;
}

export function auditList(entries, id = "audit-list") {
  if (!entries.length) return h("p", { id, class: "muted", text: t("admin.audit.empty") });
  return h("ol", { id, class: "audit-list" }, entries.map((e) => h("li", { class: "audit-entry", "data-action": e.action },
    h("div", { class: "audit-head" },
      h("strong", { text: word("audit", e.action) }),
      h("span", { class: "muted", text: t("admin.audit.by", { who: e.actor_name || t("admin.audit.system"), when: formatDateTime(new Date(e.at)) }) })),
    summaryLines(e.summary || {}))));
}

// A table from rows: columns are [heading, (row) => cell content].
export function table(id, columns, rows, onRow) {
  return h("div", { class: "table-wrap" }, h("table", { id, class: "findings admin-table" },
    h("thead", {}, h("tr", {}, columns.map(([head]) => h("th", { scope: "col", text: head })))),
    h("tbody", {}, rows.map((row) => h("tr", {
      class: onRow ? "finding-row" : null, "data-id": row.id, tabindex: onRow ? "0" : null,
      onclick: onRow ? () => onRow(row) : null,
      onkeydown: onRow ? (e) => { if (e.key === "Enter") onRow(row); } : null,
    }, columns.map(([, cell]) => h("td", {}, cell(row))))))));
}

export function yesNo(value) {
  return value ? t("admin.yes") : t("admin.no");
}

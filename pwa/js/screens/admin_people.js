// The admin's people: roles, parks, law-enforcement certificates (执法证) and their expiry with
// the warning window of the policy (30 days by default), auxiliary staff (协管员), conflict
// declarations (回避), leave, password resets (a made password is shown once) and disabling.
// An expired certificate is never counted as a certified officer: the list says so in words.
import { api } from "../api.js";
import { deskNav, formatDay, joinList, parkName, word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { auditList, field, statusLine, table, yesNo } from "./admin_common.js";

addStrings({
  "zh-CN": {
    "people.heading": "人员",
    "people.title": "{name}（{username}）",
    "people.new": "新增人员",
    "people.search": "姓名、账号、电话或证号",
    "people.role": "角色",
    "people.all": "全部",
    "people.cert.filter": "执法证",
    "people.col.name": "姓名",
    "people.col.username": "账号",
    "people.col.parks": "园区",
    "people.col.cert": "执法证号",
    "people.col.expires": "有效期至",
    "people.col.state": "证件状态",
    "people.col.aux": "协管员",
    "people.col.active": "启用",
    "people.cert.valid": "有效",
    "people.cert.expiring": "{n} 天后到期",
    "people.cert.expiring.today": "今天到期",
    "people.cert.expired": "已过期 {n} 天，不计入执法人员",
    "people.cert.none": "无执法证",
    "people.cert.auxiliary": "协管员（不计入）",
    "people.state.valid": "有效",
    "people.state.expiring": "即将到期",
    "people.state.expired": "已过期",
    "people.state.none": "无执法证",
    "people.state.auxiliary": "协管员",
    "people.warning": "{days} 天内到期或已过期的执法证",
    "people.warning.none": "{days} 天内没有到期的执法证",
    "people.username": "账号",
    "people.name": "姓名",
    "people.phone": "电话",
    "people.cert_no": "执法证号",
    "people.cert_expires": "有效期至",
    "people.domains": "执法领域",
    "people.parks": "负责园区",
    "people.aux": "协管员（只记录，不计入两名执法人员）",
    "people.reset": "重置密码",
    "people.reset.done": "新密码（只显示这一次，请当面告知）：",
    "people.disable": "停用账号",
    "people.enable": "启用账号",
    "people.disabled": "已停用：无法登录，已登录的设备已退出。",
    "people.conflicts": "回避声明",
    "people.conflict.site": "企业",
    "people.conflict.reason": "回避原因",
    "people.conflict.add": "添加回避",
    "people.leaves": "请假",
    "people.leave.start": "开始",
    "people.leave.end": "结束",
    "people.leave.note": "备注",
    "people.leave.add": "登记请假",
    "people.remove": "删除",
    "people.created": "已新增 {name}",
    "people.password.made": "初始密码（只显示这一次）：",
  },
  en: {
    "people.heading": "People",
    "people.title": "{name} ({username})",
    "people.new": "Add a person",
    "people.search": "Name, username, phone or certificate",
    "people.role": "Role",
    "people.all": "All",
    "people.cert.filter": "Certificate",
    "people.col.name": "Name",
    "people.col.username": "Username",
    "people.col.parks": "Parks",
    "people.col.cert": "Certificate no.",
    "people.col.expires": "Valid through",
    "people.col.state": "Certificate",
    "people.col.aux": "Auxiliary",
    "people.col.active": "Active",
    "people.cert.valid": "Valid",
    "people.cert.expiring": "Expires in {n} days",
    "people.cert.expiring.today": "Expires today",
    "people.cert.expired": "Expired {n} days ago: not counted as an officer",
    "people.cert.none": "No certificate",
    "people.cert.auxiliary": "Auxiliary (not counted)",
    "people.state.valid": "Valid",
    "people.state.expiring": "Expiring",
    "people.state.expired": "Expired",
    "people.state.none": "No certificate",
    "people.state.auxiliary": "Auxiliary",
    "people.warning": "Certificates expiring within {days} days or expired",
    "people.warning.none": "No certificate expires within {days} days",
    "people.username": "Username",
    "people.name": "Name",
    "people.phone": "Phone",
    "people.cert_no": "Certificate no.",
    "people.cert_expires": "Valid through",
    "people.domains": "Enforcement domains",
    "people.parks": "Parks",
    "people.aux": "Auxiliary staff (recorded, never one of the two officers)",
    "people.reset": "Reset password",
    "people.reset.done": "New password (shown this once: tell them in person):",
    "people.disable": "Disable account",
    "people.enable": "Enable account",
    "people.disabled": "Disabled: cannot log in; devices logged in were logged out.",
    "people.conflicts": "Conflict declarations",
    "people.conflict.site": "Enterprise",
    "people.conflict.reason": "Reason",
    "people.conflict.add": "Declare a conflict",
    "people.leaves": "Leave",
    "people.leave.start": "From",
    "people.leave.end": "To",
    "people.leave.note": "Note",
    "people.leave.add": "Record leave",
    "people.remove": "Remove",
    "people.created": "Added {name}",
    "people.password.made": "First password (shown this once):",
  },
});

const ROLES = ["inspector", "supervisor", "legal_reviewer", "scheduler", "admin"];
const DOMAINS = ["safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other"];
const STATES = ["expiring", "expired", "valid", "none", "auxiliary"];

export function certWords(u) {
  const days = u.certificate_days_left;
  if (u.certificate_status === "expiring") return days === 0 ? t("people.cert.expiring.today") : t("people.cert.expiring", { n: days });
  if (u.certificate_status === "expired") return t("people.cert.expired", { n: -days });
  return t(`people.cert.${u.certificate_status}`);
}

function certCell(u) {
  return h("span", { class: `cert cert-${u.certificate_status}`, "data-state": u.certificate_status, text: certWords(u) });
}

function options(values, prefix, all) {
  return [all ? h("option", { value: "", text: t("people.all") }) : null,
    ...values.map((v) => h("option", { value: v, text: prefix ? word(prefix, v) : v }))];
}

export function render(root, ctx, arg) {
  let alive = true;
  let parks = [];
  let sites = [];
  let person = null;
  let timer = null;

  const status = statusLine("people-status");
  const q = h("input", { id: "people-q", type: "search", placeholder: t("people.search"), "aria-label": t("people.search"),
    oninput: () => { clearTimeout(timer); timer = setTimeout(list, 250); } });
  const role = h("select", { id: "people-role", onchange: () => list() }, options(ROLES, "role", true));
  const cert = h("select", { id: "people-cert", onchange: () => list() },
    h("option", { value: "", text: t("people.all") }),
    STATES.map((s) => h("option", { value: s, text: t(`people.state.${s}`) })));
  const warning = h("section", { id: "cert-warning", class: "plan-section" });
  const listBox = h("div", { id: "people-list" });
  const detail = h("section", { id: "person", class: "admin-detail", hidden: true });

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "people"),
    h("div", { class: "desk-head" }, h("h2", { text: t("people.heading") }),
      h("button", { id: "people-new", type: "button", class: "secondary small", onclick: () => newPerson() }, t("people.new"))),
    warning,
    h("div", { class: "filters" }, field(t("admin.search"), q), field(t("people.role"), role), field(t("people.cert.filter"), cert)),
    status.el,
    h("div", { class: "admin-split wide" }, h("div", { class: "admin-main" }, listBox), detail)));

  async function drawWarning() {
    const { data } = await api.get("/api/certificates/expiring");
    if (!alive) return;
    warning.replaceChildren(
      h("h3", { text: data.items.length ? t("people.warning", { days: data.warning_days }) : t("people.warning.none", { days: data.warning_days }) }),
      data.items.length ? table("cert-warning-table", [
        [t("people.col.name"), (u) => u.name],
        [t("people.col.cert"), (u) => u.certificate_no || ""],
        [t("people.col.expires"), (u) => formatDay(u.certificate_expires)],
        [t("people.col.state"), certCell],
      ], data.items, (u) => open(u.id)) : null);
    warning.classList.toggle("warn", data.items.length > 0);
  }

  async function list() {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    if (role.value) params.set("role", role.value);
    if (cert.value) params.set("certificate", cert.value);
    try {
      const { data } = await api.get(`/api/users?${params}`);
      if (!alive) return;
      listBox.replaceChildren(table("people-table", [
        [t("people.col.name"), (u) => u.name],
        [t("people.col.username"), (u) => u.username],
        [t("people.role"), (u) => word("role", u.role)],
        [t("people.col.parks"), (u) => joinList(u.parks)],
        [t("people.col.cert"), (u) => u.certificate_no || "–"],
        [t("people.col.expires"), (u) => formatDay(u.certificate_expires)],
        [t("people.col.state"), certCell],
        [t("people.col.aux"), (u) => yesNo(u.auxiliary)],
        [t("people.col.active"), (u) => yesNo(u.active)],
      ], data.items, (u) => open(u.id)));
    } catch (err) {
      status.fail(err);
    }
  }

  function checkboxes(name, values, chosen, label) {
    return h("fieldset", { class: "admin-checks", id: `person-${name}` }, h("legend", { text: label }),
      values.map(([value, text]) => h("label", { class: "filter check" },
        h("input", { type: "checkbox", name, value: String(value), checked: chosen.includes(value) }), text)));
  }

  function checked(name) {
    return [...detail.querySelectorAll(`input[name="${name}"]:checked`)].map((el) => el.value);
  }

  function shownOnce(label, password) {
    return h("p", { id: "person-password", class: "admin-once", role: "alert" }, label, " ", h("code", { text: password }));
  }

  function newPerson() {
    person = null;
    const username = h("input", { id: "new-username", type: "text", maxlength: 64, autocomplete: "off" });
    const name = h("input", { id: "new-name", type: "text", maxlength: 80 });
    const newRole = h("select", { id: "new-role" }, options(ROLES, "role", false));
    const out = h("div");
    detail.hidden = false;
    detail.replaceChildren(h("h3", { text: t("people.new") }),
      h("div", { class: "filters" }, field(t("people.username"), username), field(t("people.name"), name), field(t("people.role"), newRole)),
      h("button", { id: "new-save", type: "button", class: "primary small", onclick: async () => {
        try {
          const made = await api.post("/api/users", { username: username.value.trim(), name: name.value.trim(), role: newRole.value });
          await list();
          await open(made.id);
          status.say(t("people.created", { name: made.name }));
          detail.prepend(shownOnce(t("people.password.made"), made.password));
        } catch (err) {
          status.fail(err);
        }
      } }, t("admin.save")), out);
  }

  async function open(id) {
    status.clear();
    try {
      const [{ data: u }, { data: trail }] = await Promise.all([
        api.get(`/api/users/${id}`), api.get(`/api/audit?entity_type=user&entity_id=${id}&limit=50`)]);
      if (!alive) return;
      person = u;
      draw(u, trail.items);
    } catch (err) {
      status.fail(err);
    }
  }

  function draw(u, trail) {
    const name = h("input", { id: "person-name", type: "text", value: u.name, maxlength: 80 });
    const phone = h("input", { id: "person-phone", type: "text", value: u.phone || "", maxlength: 40 });
    const personRole = h("select", { id: "person-role" }, options(ROLES, "role", false));
    personRole.value = u.role;
    const certNo = h("input", { id: "person-cert-no", type: "text", value: u.certificate_no || "", maxlength: 40 });
    const certExpires = h("input", { id: "person-cert-expires", type: "date", value: u.certificate_expires || "" });
    const aux = h("input", { id: "person-aux", type: "checkbox", checked: u.auxiliary });
    const save = async () => {
      const now = {
        name: name.value.trim(), phone: phone.value.trim(), role: personRole.value,
        certificate_no: certNo.value.trim() || null, certificate_expires: certExpires.value || null,
        auxiliary: aux.checked, park_ids: checked("parks").map(Number).sort((a, b) => a - b),
        certified_domains: checked("domains"),
      };
      const was = {
        name: u.name, phone: u.phone || "", role: u.role, certificate_no: u.certificate_no || null,
        certificate_expires: u.certificate_expires || null, auxiliary: u.auxiliary, park_ids: u.park_ids,
        certified_domains: u.certified_domains,
      };
      const body = Object.fromEntries(Object.entries(now).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(was[k])));
      if (!Object.keys(body).length) return;
      try {
        await api.patch(`/api/users/${u.id}`, body);
        await Promise.all([open(u.id), list(), drawWarning()]);
        status.say(t("admin.saved"));
      } catch (err) {
        status.fail(err);
      }
    };
    const act = (fn) => async () => {
      try {
        await fn();
      } catch (err) {
        status.fail(err);
      }
    };
    const siteSelect = h("select", { id: "conflict-site" }, sites.map((s) => h("option", { value: s.id, text: s.name })));
    const conflictReason = h("input", { id: "conflict-reason", type: "text", maxlength: 255 });
    const leaveStart = h("input", { id: "leave-start", type: "date" });
    const leaveEnd = h("input", { id: "leave-end", type: "date" });
    const leaveNote = h("input", { id: "leave-note", type: "text", maxlength: 255 });
    detail.hidden = false;
    detail.replaceChildren(
      h("h3", { id: "person-title", text: t("people.title", { name: u.name, username: u.username }) }),
      h("p", {}, certCell(u), u.active ? "" : ` · ${t("people.disabled")}`),
      h("div", { class: "filters" }, field(t("people.name"), name), field(t("people.role"), personRole), field(t("people.phone"), phone)),
      h("div", { class: "filters" }, field(t("people.cert_no"), certNo), field(t("people.cert_expires"), certExpires),
        h("label", { class: "filter check" }, aux, t("people.aux"))),
      checkboxes("parks", parks.map((p) => [p.id, `${p.code} ${parkName(p)}`]), u.park_ids, t("people.parks")),
      checkboxes("domains", DOMAINS.map((d) => [d, word("domain", d)]), u.certified_domains, t("people.domains")),
      h("div", { class: "filters" },
        h("button", { id: "person-save", type: "button", class: "primary small", onclick: save }, t("admin.save")),
        h("button", { id: "person-reset", type: "button", class: "secondary small", onclick: act(async () => {
          const r = await api.post(`/api/users/${u.id}/reset-password`, {});
          await open(u.id);
          detail.prepend(shownOnce(t("people.reset.done"), r.password));
        }) }, t("people.reset")),
        h("button", { id: "person-active", type: "button", class: "secondary small", onclick: act(async () => {
          await api.post(`/api/users/${u.id}/${u.active ? "disable" : "enable"}`);
          await Promise.all([open(u.id), list()]);
        }) }, u.active ? t("people.disable") : t("people.enable"))),
      h("h4", { text: t("people.conflicts") }),
      h("ul", { id: "person-conflicts", class: "admin-list" }, u.conflicts.map((c) => h("li", {},
        `${c.site_name} · ${c.reason} `,
        h("button", { type: "button", class: "secondary small", onclick: act(async () => {
          await api.delete(`/api/users/${u.id}/conflicts/${c.id}`);
          await open(u.id);
        }) }, t("people.remove"))))),
      h("div", { class: "filters" }, field(t("people.conflict.site"), siteSelect), field(t("people.conflict.reason"), conflictReason),
        h("button", { id: "conflict-add", type: "button", class: "secondary small", onclick: act(async () => {
          await api.post(`/api/users/${u.id}/conflicts`, { site_id: Number(siteSelect.value), reason: conflictReason.value.trim() });
          await open(u.id);
        }) }, t("people.conflict.add"))),
      h("h4", { text: t("people.leaves") }),
      h("ul", { id: "person-leaves", class: "admin-list" }, u.leaves.map((lv) => h("li", {},
        `${formatDay(lv.start_date)} – ${formatDay(lv.end_date)} ${lv.note || ""} `,
        h("button", { type: "button", class: "secondary small", onclick: act(async () => {
          await api.delete(`/api/users/${u.id}/leaves/${lv.id}`);
          await open(u.id);
        }) }, t("people.remove"))))),
      h("div", { class: "filters" }, field(t("people.leave.start"), leaveStart), field(t("people.leave.end"), leaveEnd),
        field(t("people.leave.note"), leaveNote),
        h("button", { id: "leave-add", type: "button", class: "secondary small", onclick: act(async () => {
          await api.post(`/api/users/${u.id}/leaves`, { start_date: leaveStart.value, end_date: leaveEnd.value, note: leaveNote.value.trim() });
          await open(u.id);
        }) }, t("people.leave.add"))),
      h("h4", { text: t("admin.audit.heading") }),
      auditList(trail, "person-audit"));
  }

  (async () => {
    try {
      const [{ data: p }, { data: s }] = await Promise.all([api.get("/api/parks"), api.get("/api/sites?limit=500")]);
      parks = p.items;
      sites = s.items;
      if (arg === "expiring") cert.value = "expiring";
      await Promise.all([list(), drawWarning()]);
      if (/^\d+$/.test(arg || "")) await open(Number(arg));
    } catch (err) {
      status.fail(err);
    }
  })();

  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

// The supervisor's sync health: every inspector of their parks and each phone they used, with
// the last contact, what waits in the phone's outbox and since when, its storage, what it holds
// for a person, and why it needs attention (in words, never colour alone). Those needing
// attention come first. Loaded only when a supervisor or an admin opens it; it carries its words.
import { api, describeError } from "../api.js";
import { deskNav } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, t } from "../i18n.js";

addStrings({
  "zh-CN": {
    "health.heading": "同步状况",
    "health.intro": "各执法人员手机最近一次联系、待发送记录和存储情况。超过 {silent} 小时未联系且仍有待发送内容、最早的待发送内容超过 {oldest} 小时、存储可能被浏览器清除、存储将满、或有被拒绝/冲突的记录时，需要处理。",
    "health.loading": "正在读取…",
    "health.summary": "{n} 名人员需要处理",
    "health.summary.none": "所有手机状况正常",
    "health.only": "只看需要处理的",
    "health.refresh": "刷新",
    "health.col.who": "执法人员",
    "health.col.device": "手机",
    "health.col.contact": "最近联系",
    "health.col.outbox": "待发送",
    "health.col.oldest": "最早待发",
    "health.col.storage": "存储",
    "health.col.state": "状况",
    "health.never": "从未报告",
    "health.no.device": "还没有手机报告过",
    "health.outbox": "记录 {records} · 照片 {photos}",
    "health.held": "另有 {n} 条被拒绝或冲突",
    "health.storage": "已用 {pct}%",
    "health.storage.unknown": "未知",
    "health.persisted.yes": "持久保存",
    "health.persisted.no": "可能被清除",
    "health.ok": "正常",
    "health.attention": "需要处理：",
    "health.reason.silent": "长时间未联系且仍有待发送内容",
    "health.reason.old_outbox": "待发送内容积压过久",
    "health.reason.not_persistent": "存储可能被浏览器清除",
    "health.reason.near_quota": "存储将满",
    "health.reason.held": "手机上有被拒绝或冲突的记录",
    "health.reason.conflicts": "服务器上有未处理的同步冲突 ({n})",
    "health.error": "最近同步错误：{message}",
  },
  en: {
    "health.heading": "Sync health",
    "health.intro": "Each inspector's phone: last contact, what waits to be sent, storage. A phone needs attention when it has been silent for {silent} h with items waiting, its oldest waiting item is older than {oldest} h, the browser may evict its storage, storage is nearly full, or records were rejected or conflict.",
    "health.loading": "Loading…",
    "health.summary": "{n} need attention",
    "health.summary.none": "All phones are fine",
    "health.only": "Only those needing attention",
    "health.refresh": "Refresh",
    "health.col.who": "Inspector",
    "health.col.device": "Phone",
    "health.col.contact": "Last contact",
    "health.col.outbox": "Waiting",
    "health.col.oldest": "Oldest waiting",
    "health.col.storage": "Storage",
    "health.col.state": "State",
    "health.never": "never reported",
    "health.no.device": "no phone has reported yet",
    "health.outbox": "records {records} · photos {photos}",
    "health.held": "{n} more rejected or in conflict",
    "health.storage": "{pct}% used",
    "health.storage.unknown": "unknown",
    "health.persisted.yes": "persistent",
    "health.persisted.no": "may be evicted",
    "health.ok": "OK",
    "health.attention": "Needs attention: ",
    "health.reason.silent": "silent with items waiting",
    "health.reason.old_outbox": "items waiting too long",
    "health.reason.not_persistent": "the browser may evict its storage",
    "health.reason.near_quota": "storage nearly full",
    "health.reason.held": "records rejected or in conflict on the phone",
    "health.reason.conflicts": "unresolved sync conflicts on the server ({n})",
    "health.error": "last sync error: {message}",
  },
});

const KEY = "fieldcheck.syncHealth.only";
const when = (iso) => (iso ? formatDateTime(iso) : "–");

function storage(d) {
  const used = d.quota_bytes ? t("health.storage", { pct: Math.round((100 * (d.usage_bytes || 0)) / d.quota_bytes) })
    : t("health.storage.unknown");
  const kept = d.persisted === true ? t("health.persisted.yes") : d.persisted === false ? t("health.persisted.no") : "";
  return [used, kept].filter(Boolean).join(t("list.separator"));
}

function state(d) {
  if (!d.needs_attention) return h("span", { class: "badge", text: t("health.ok") });
  const words = d.reasons.map((r) => t(`health.reason.${r}`, { n: d.conflicts }));
  return h("span", { class: "warning health-reasons" }, h("strong", { text: t("health.attention") }), words.join(t("list.sep")));
}

function rows(person) {
  const who = h("th", { scope: "row", rowspan: String(Math.max(1, person.devices.length)) },
    h("div", { text: person.name }), h("div", { class: "sub", text: `${person.username} · ${person.parks.join(" ")}` }));
  if (!person.devices.length) {
    return [h("tr", { class: "health-row", "data-username": person.username, "data-attention": "false" },
      who, h("td", { colspan: "6", class: "muted", text: t("health.no.device") }))];
  }
  return person.devices.map((d, i) => h("tr", {
    class: `health-row${d.needs_attention ? " needs-attention" : ""}`, "data-username": person.username,
    "data-device": d.device_id, "data-attention": String(d.needs_attention),
  },
  i === 0 ? who : null,
  h("td", {}, h("code", { text: d.device_id || "–" }), d.app_version ? h("div", { class: "sub", text: d.app_version }) : null),
  h("td", {}, h("div", { text: when(d.last_contact_at) }), d.reported_at ? null : h("div", { class: "sub", text: t("health.never") })),
  h("td", {}, h("div", { text: t("health.outbox", { records: d.outbox_records, photos: d.outbox_photos }) }),
    d.held ? h("div", { class: "sub", text: t("health.held", { n: d.held }) }) : null),
  h("td", { text: when(d.oldest_item_at) }),
  h("td", { text: storage(d) }),
  h("td", { class: "health-state" }, state(d),
    d.last_sync_error ? h("div", { class: "sub", text: t("health.error", { message: d.last_sync_error }) }) : null)));
}

export function render(root, ctx) {
  let alive = true;
  const status = h("p", { id: "health-status", class: "muted", role: "status", text: t("health.loading") });
  const intro = h("p", { class: "muted", id: "health-intro" });
  const body = h("tbody", { id: "health-list" });
  const only = h("input", { type: "checkbox", id: "health-only", checked: localStorage.getItem(KEY) === "1",
    onchange: () => { localStorage.setItem(KEY, only.checked ? "1" : "0"); load(); } });

  root.append(h("div", { class: "screen desk sync-health" },
    deskNav(ctx, "health"),
    h("div", { class: "desk-head" }, h("h2", { text: t("health.heading") }), intro,
      h("div", { class: "toggles" },
        h("label", { class: "chip" }, only, ` ${t("health.only")}`),
        h("button", { type: "button", class: "secondary small", id: "health-refresh", onclick: () => load(), text: t("health.refresh") }))),
    status,
    h("div", { class: "table-wrap" }, h("table", { class: "findings compact", id: "health-table" },
      h("thead", {}, h("tr", {}, ["who", "device", "contact", "outbox", "oldest", "storage", "state"]
        .map((c) => h("th", { scope: "col", text: t(`health.col.${c}`) })))),
      body))));

  async function load() {
    try {
      const { data } = await api.get(`/api/sync-health${only.checked ? "?attention=true" : ""}`);
      if (!alive) return;
      intro.textContent = t("health.intro", { silent: data.thresholds.silent_hours, oldest: data.thresholds.oldest_hours });
      status.textContent = data.needing_attention ? t("health.summary", { n: data.needing_attention }) : t("health.summary.none");
      const people = [...data.items].sort((a, b) => Number(b.needs_attention) - Number(a.needs_attention));
      body.replaceChildren(...people.flatMap(rows));
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }

  load();
  return () => {
    alive = false;
  };
}

// The admin's webhooks: the URLs told of events, each with its delivery counts and last error;
// a form to add one (the secret is shown once, right after); a webhook's deliveries with their
// attempts and last error, and a button to send one again (the same delivery id). Loaded only
// when an admin opens it; it carries its own words.
import { api, describeError } from "../api.js";
import { deskNav } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, t } from "../i18n.js";

addStrings({
  "zh-CN": {
    "hooks.heading": "Webhook 推送",
    "hooks.intro": "事件发生时，系统向这些地址发送带签名的 POST（HMAC-SHA256）；失败会按退避间隔重试。",
    "hooks.loading": "正在读取…",
    "hooks.none": "还没有登记任何地址。",
    "hooks.col.url": "地址",
    "hooks.col.events": "事件",
    "hooks.col.state": "状态",
    "hooks.col.counts": "投递",
    "hooks.col.error": "最近错误",
    "hooks.active": "启用",
    "hooks.inactive": "已停用",
    "hooks.counts": "待发 {pending} · 成功 {delivered} · 放弃 {failed}",
    "hooks.show": "查看投递",
    "hooks.disable": "停用",
    "hooks.enable": "启用",
    "hooks.delete": "删除",
    "hooks.delete.confirm": "删除这个地址及其全部投递记录？",
    "hooks.add": "添加地址",
    "hooks.url": "接收地址（http:// 或 https://）",
    "hooks.events": "事件",
    "hooks.secret": "签名密钥（可不填，系统自动生成）",
    "hooks.description": "说明",
    "hooks.submit": "添加",
    "hooks.secret.once": "签名密钥只显示这一次，请交给接收方保存：",
    "hooks.deliveries": "投递记录：{url}",
    "hooks.deliveries.none": "还没有投递。",
    "hooks.col.when": "发生时间",
    "hooks.col.event": "事件",
    "hooks.col.status": "状态",
    "hooks.col.attempts": "尝试次数",
    "hooks.col.next": "下次尝试",
    "hooks.replay": "重新发送",
    "hooks.replayed": "已排队重新发送（投递编号不变）。",
    "hooks.status.pending": "待发送",
    "hooks.status.delivered": "已送达",
    "hooks.status.failed": "已放弃",
    "hooks.code": "HTTP {code}",
    "event.finding.created": "新发现问题",
    "event.finding.tier_changed": "处置层级变更",
    "event.order.overdue": "整改逾期",
    "event.case.opened": "立案",
    "event.plan.published": "巡查计划发布",
  },
  en: {
    "hooks.heading": "Webhooks",
    "hooks.intro": "When an event happens, a signed POST (HMAC-SHA256) goes to these URLs; failures are retried with backoff.",
    "hooks.loading": "Loading…",
    "hooks.none": "No URL is registered yet.",
    "hooks.col.url": "URL",
    "hooks.col.events": "Events",
    "hooks.col.state": "State",
    "hooks.col.counts": "Deliveries",
    "hooks.col.error": "Last error",
    "hooks.active": "Active",
    "hooks.inactive": "Disabled",
    "hooks.counts": "pending {pending} · delivered {delivered} · gave up {failed}",
    "hooks.show": "Deliveries",
    "hooks.disable": "Disable",
    "hooks.enable": "Enable",
    "hooks.delete": "Delete",
    "hooks.delete.confirm": "Delete this URL and all its deliveries?",
    "hooks.add": "Add a URL",
    "hooks.url": "Receiver URL (http:// or https://)",
    "hooks.events": "Events",
    "hooks.secret": "Signing secret (leave empty to generate one)",
    "hooks.description": "Description",
    "hooks.submit": "Add",
    "hooks.secret.once": "The signing secret is shown only this once; give it to the receiver:",
    "hooks.deliveries": "Deliveries to {url}",
    "hooks.deliveries.none": "No delivery yet.",
    "hooks.col.when": "Happened",
    "hooks.col.event": "Event",
    "hooks.col.status": "Status",
    "hooks.col.attempts": "Attempts",
    "hooks.col.next": "Next attempt",
    "hooks.replay": "Send again",
    "hooks.replayed": "Queued to be sent again (same delivery id).",
    "hooks.status.pending": "Pending",
    "hooks.status.delivered": "Delivered",
    "hooks.status.failed": "Gave up",
    "hooks.code": "HTTP {code}",
    "event.finding.created": "Finding recorded",
    "event.finding.tier_changed": "Tier changed",
    "event.order.overdue": "Order overdue",
    "event.case.opened": "Case opened",
    "event.plan.published": "Plan published",
  },
});

const when = (iso) => (iso ? formatDateTime(iso) : "–");

export function render(root, ctx) {
  let alive = true;
  let events = [];
  let shown = null; // the webhook whose deliveries are listed
  const status = h("p", { id: "hooks-status", class: "muted", role: "status", text: t("hooks.loading") });
  const body = h("tbody", { id: "hooks-list" });
  const secretBox = h("div", { id: "hooks-secret", class: "warning", role: "status", hidden: true });
  const deliveriesBox = h("section", { id: "hooks-deliveries", class: "plan-section", hidden: true });
  const url = h("input", { id: "hook-url", type: "text", inputmode: "url", required: true, maxlength: "2000", placeholder: "https://" });
  const secret = h("input", { id: "hook-secret", type: "text", minlength: "16", maxlength: "200", autocomplete: "off" });
  const description = h("input", { id: "hook-description", type: "text", maxlength: "200" });
  const eventBoxes = h("fieldset", { id: "hook-events", class: "toggles" });
  const formError = h("p", { id: "hook-error", class: "error", role: "alert", hidden: true });

  const form = h("form", { id: "hook-form", class: "block", onsubmit: (e) => { e.preventDefault(); add(); } },
    h("h3", { text: t("hooks.add") }),
    h("label", {}, t("hooks.url"), url),
    eventBoxes,
    h("label", {}, t("hooks.secret"), secret),
    h("label", {}, t("hooks.description"), description),
    formError,
    h("button", { type: "submit", id: "hook-submit", class: "primary", text: t("hooks.submit") }));

  root.append(h("div", { class: "screen desk webhooks" },
    deskNav(ctx, "webhooks"),
    h("div", { class: "desk-head" }, h("h2", { text: t("hooks.heading") }), h("p", { class: "muted", text: t("hooks.intro") })),
    status, secretBox,
    h("div", { class: "table-wrap" }, h("table", { class: "findings compact", id: "hooks-table" },
      h("thead", {}, h("tr", {}, ["url", "events", "state", "counts", "error"].map((c) => h("th", { scope: "col", text: t(`hooks.col.${c}`) })),
        h("th", { scope: "col" }))),
      body)),
    deliveriesBox,
    form));

  function eventWords(list) {
    return list.map((e) => t(`event.${e}`)).join(t("list.sep"));
  }

  function paintEvents() {
    eventBoxes.replaceChildren(h("legend", { text: t("hooks.events") }), ...events.map((e) => h("label", { class: "chip" },
      h("input", { type: "checkbox", name: "event", value: e, checked: e === "finding.created" }), ` ${t(`event.${e}`)} (${e})`)));
  }

  function row(hook) {
    return h("tr", { class: "hook-row", "data-id": hook.id, "data-active": String(hook.active) },
      h("td", { class: "hook-url" }, h("code", { text: hook.url }), hook.description ? h("div", { class: "sub", text: hook.description }) : null),
      h("td", { text: eventWords(hook.events) }),
      h("td", { text: hook.active ? t("hooks.active") : t("hooks.inactive") }),
      h("td", { class: "hook-counts", text: t("hooks.counts", hook.deliveries) }),
      h("td", { class: "hook-error", text: hook.last_error || "–" }),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "secondary small hook-show", onclick: () => showDeliveries(hook), text: t("hooks.show") }),
        h("button", { type: "button", class: "secondary small hook-toggle", onclick: () => toggle(hook),
          text: hook.active ? t("hooks.disable") : t("hooks.enable") }),
        h("button", { type: "button", class: "secondary small hook-delete", onclick: () => remove(hook), text: t("hooks.delete") })));
  }

  async function load() {
    try {
      const { data } = await api.get("/api/webhooks");
      if (!alive) return;
      if (!events.length) {
        events = data.events;
        paintEvents();
      }
      status.textContent = data.items.length ? "" : t("hooks.none");
      body.replaceChildren(...data.items.map(row));
      if (shown) {
        const again = data.items.find((x) => x.id === shown.id);
        if (again) await showDeliveries(again);
        else deliveriesBox.hidden = true;
      }
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }

  async function add() {
    formError.hidden = true;
    const chosen = [...eventBoxes.querySelectorAll("input:checked")].map((i) => i.value);
    const payload = { url: url.value.trim(), events: chosen, description: description.value.trim() };
    if (secret.value) payload.secret = secret.value;
    try {
      const made = await api.post("/api/webhooks", payload);
      secretBox.replaceChildren(h("span", { text: t("hooks.secret.once") }), " ", h("code", { id: "hook-secret-once", text: made.secret }));
      secretBox.hidden = false;
      url.value = "";
      secret.value = "";
      description.value = "";
      await load();
    } catch (err) {
      const fields = (err.errors && err.errors.json) || {};
      const first = Object.values(fields).flat()[0];
      formError.textContent = first ? `${err.message}: ${first}` : describeError(err);
      formError.hidden = false;
    }
  }

  async function toggle(hook) {
    try {
      await api.patch(`/api/webhooks/${hook.id}`, { active: !hook.active });
      await load();
    } catch (err) {
      status.textContent = describeError(err);
    }
  }

  async function remove(hook) {
    if (!window.confirm(t("hooks.delete.confirm"))) return;
    try {
      await api.delete(`/api/webhooks/${hook.id}`);
      if (shown && shown.id === hook.id) shown = null;
      await load();
    } catch (err) {
      status.textContent = describeError(err);
    }
  }

  function deliveryRow(hook, d) {
    const error = d.last_error || "–";
    return h("tr", { class: "delivery-row", "data-id": d.id, "data-status": d.status },
      h("td", { text: when(d.occurred_at) }),
      h("td", { text: t(`event.${d.event}`) }),
      h("td", { class: "delivery-status", text: t(`hooks.status.${d.status}`) }),
      h("td", { class: "num", text: String(d.attempts) }),
      h("td", { class: "delivery-error", text: error }),
      h("td", { text: d.status === "pending" ? when(d.next_attempt_at) : "–" }),
      h("td", {}, d.attempts > 0 || d.status !== "pending"
        ? h("button", { type: "button", class: "secondary small delivery-replay", onclick: () => replay(hook, d), text: t("hooks.replay") })
        : null));
  }

  async function showDeliveries(hook) {
    shown = hook;
    try {
      const { data } = await api.get(`/api/webhooks/${hook.id}/deliveries?limit=100`);
      if (!alive) return;
      deliveriesBox.replaceChildren(
        h("h3", { text: t("hooks.deliveries", { url: hook.url }) }),
        data.items.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "findings compact" },
            h("thead", {}, h("tr", {}, ["when", "event", "status", "attempts", "error", "next"].map((c) => h("th", { scope: "col", text: t(`hooks.col.${c}`) })),
              h("th", { scope: "col" }))),
            h("tbody", {}, data.items.map((d) => deliveryRow(hook, d)))))
          : h("p", { class: "muted", text: t("hooks.deliveries.none") }));
      deliveriesBox.hidden = false;
    } catch (err) {
      status.textContent = describeError(err);
    }
  }

  async function replay(hook, d) {
    try {
      await api.post(`/api/webhooks/${hook.id}/deliveries/${d.id}/replay`);
      status.textContent = t("hooks.replayed");
      await showDeliveries(hook);
    } catch (err) {
      status.textContent = describeError(err);
    }
  }

  load();
  return () => {
    alive = false;
  };
}

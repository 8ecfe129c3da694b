// The admin's checklists: every version of each list. A published version never changes (visits
// keep the version they were made with): a new draft is made from it with its items copied, the
// draft's items are edited (domain, text, legal basis, violation codes), and it is published,
// which retires the version before it. The phones take the new version with their next day.
import { api } from "../api.js";
import { deskNav, word } from "../desk.js";
import { h } from "../dom.js";
import { addStrings, formatDateTime, lang, t } from "../i18n.js";
import { auditList, field, statusLine, table } from "./admin_common.js";

addStrings({
  "zh-CN": {
    "checklists.heading": "检查表",
    "checklists.col.code": "代码",
    "checklists.col.name": "名称",
    "checklists.col.version": "版本",
    "checklists.col.status": "状态",
    "checklists.col.items": "检查项",
    "checklists.col.visits": "使用次数",
    "checklists.status.draft": "草稿（可编辑）",
    "checklists.status.published": "现行",
    "checklists.status.retired": "已停用",
    "checklists.new_version": "以此版本新建草稿",
    "checklists.locked": "此版本已发布：检查记录沿用其当时的版本，不能修改。请新建版本。",
    "checklists.item.code": "项目代码",
    "checklists.item.domain": "领域",
    "checklists.item.text_zh": "检查内容（中文）",
    "checklists.item.text_en": "检查内容（英文）",
    "checklists.item.legal": "法律依据",
    "checklists.item.codes": "违法行为代码（逗号分隔）",
    "checklists.item.add": "添加检查项",
    "checklists.item.remove": "删除此项",
    "checklists.save": "保存草稿",
    "checklists.publish": "发布此版本",
    "checklists.published": "已发布 {code} 第 {version} 版",
    "checklists.created": "已新建 {code} 第 {version} 版草稿",
    "checklists.version": "{code} 第 {version} 版 · {status}",
  },
  en: {
    "checklists.heading": "Checklists",
    "checklists.col.code": "Code",
    "checklists.col.name": "Name",
    "checklists.col.version": "Version",
    "checklists.col.status": "Status",
    "checklists.col.items": "Items",
    "checklists.col.visits": "Visits made with it",
    "checklists.status.draft": "Draft (editable)",
    "checklists.status.published": "In force",
    "checklists.status.retired": "Retired",
    "checklists.new_version": "New draft from this version",
    "checklists.locked": "This version is published: visits keep the version they were made with, so it cannot change. Make a new version.",
    "checklists.item.code": "Item code",
    "checklists.item.domain": "Domain",
    "checklists.item.text_zh": "What to check (Chinese)",
    "checklists.item.text_en": "What to check (English)",
    "checklists.item.legal": "Legal basis",
    "checklists.item.codes": "Violation codes (comma-separated)",
    "checklists.item.add": "Add an item",
    "checklists.item.remove": "Remove this item",
    "checklists.save": "Save the draft",
    "checklists.publish": "Publish this version",
    "checklists.published": "Published {code} version {version}",
    "checklists.created": "Made draft {code} version {version}",
    "checklists.version": "{code} version {version} · {status}",
  },
});

const DOMAINS = ["safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other"];

function name(c) {
  return (lang() === "en" && c.name_en) || c.name_zh;
}

export function render(root, ctx, arg) {
  let alive = true;
  const status = statusLine("checklist-status");
  const listBox = h("div", { id: "checklist-list" });
  const detail = h("section", { id: "checklist", class: "admin-detail", hidden: true });

  root.append(h("div", { class: "screen desk admin" },
    deskNav(ctx, "checklists"),
    h("div", { class: "desk-head" }, h("h2", { text: t("checklists.heading") })),
    status.el,
    h("div", { class: "admin-split wide" }, h("div", { class: "admin-main" }, listBox), detail)));

  async function list() {
    const { data } = await api.get("/api/checklists");
    if (!alive) return;
    listBox.replaceChildren(table("checklist-table", [
      [t("checklists.col.code"), (c) => c.code],
      [t("checklists.col.name"), name],
      [t("checklists.col.version"), (c) => String(c.version)],
      [t("checklists.col.status"), (c) => h("span", { class: `cl-status cl-${c.status}`, text: t(`checklists.status.${c.status}`) })],
      [t("checklists.col.items"), (c) => String(c.item_count)],
      [t("checklists.col.visits"), (c) => String(c.visits)],
    ], data.items, (c) => { location.hash = `#/checklists/${c.id}`; }));
  }

  function itemRow(item) {
    const domain = h("select", { class: "item-domain" }, DOMAINS.map((d) => h("option", { value: d, text: word("domain", d) })));
    domain.value = item.domain || "safety";
    const row = h("li", { class: "cl-item" },
      h("div", { class: "filters" },
        field(t("checklists.item.code"), h("input", { class: "item-code", type: "text", value: item.code || "", maxlength: 40 })),
        field(t("checklists.item.domain"), domain),
        field(t("checklists.item.codes"), h("input", { class: "item-codes", type: "text", value: (item.violation_codes || []).join(", ") })),
        h("button", { type: "button", class: "secondary small", onclick: () => row.remove() }, t("checklists.item.remove"))),
      field(t("checklists.item.text_zh"), h("textarea", { class: "item-text-zh" }, item.text_zh || "")),
      field(t("checklists.item.text_en"), h("textarea", { class: "item-text-en" }, item.text_en || "")),
      field(t("checklists.item.legal"), h("input", { class: "item-legal", type: "text", value: item.legal_basis || "" })));
    return row;
  }

  function readItems() {
    return [...detail.querySelectorAll(".cl-item")].map((row) => ({
      code: row.querySelector(".item-code").value.trim(),
      domain: row.querySelector(".item-domain").value,
      text_zh: row.querySelector(".item-text-zh").value.trim(),
      text_en: row.querySelector(".item-text-en").value.trim(),
      legal_basis: row.querySelector(".item-legal").value.trim(),
      violation_codes: row.querySelector(".item-codes").value.split(/[\s,\uff0c]+/).map((c) => c.trim()).filter(Boolean),
    }));
  }

  async function open(id) {
    status.clear();
    const [{ data: c }, { data: trail }] = await Promise.all([
      api.get(`/api/checklists/${id}`), api.get(`/api/audit?entity_type=checklist&entity_id=${id}&limit=50`)]);
    if (!alive) return;
    const act = (fn) => async () => {
      try {
        await fn();
      } catch (err) {
        status.fail(err);
      }
    };
    const items = h("ol", { id: "checklist-items", class: "cl-items" });
    const head = h("h3", { id: "checklist-title", text: `${name(c)} · ${t("checklists.version", { code: c.code, version: c.version, status: t(`checklists.status.${c.status}`) })}` });
    if (c.editable) {
      items.append(...c.items.map(itemRow));
      detail.replaceChildren(head, items,
        h("div", { class: "filters" },
          h("button", { id: "item-add", type: "button", class: "secondary small", onclick: () => items.append(itemRow({ domain: c.domain })) }, t("checklists.item.add")),
          h("button", { id: "checklist-save", type: "button", class: "primary small", onclick: act(async () => {
            await api.patch(`/api/checklists/${c.id}`, { items: readItems() });
            await Promise.all([open(c.id), list()]);
            status.say(t("admin.saved"));
          }) }, t("checklists.save")),
          h("button", { id: "checklist-publish", type: "button", class: "secondary small", onclick: act(async () => {
            await api.patch(`/api/checklists/${c.id}`, { items: readItems() });
            const done = await api.post(`/api/checklists/${c.id}/publish`);
            await Promise.all([open(c.id), list()]);
            status.say(t("checklists.published", { code: done.code, version: done.version }));
          }) }, t("checklists.publish"))));
    } else {
      items.append(...c.items.map((i) => h("li", { class: "cl-item-read", "data-code": i.code },
        h("strong", { text: `${i.code} · ${word("domain", i.domain)}` }),
        h("div", { text: (lang() === "en" && i.text_en) || i.text_zh }),
        i.legal_basis ? h("div", { class: "muted", text: i.legal_basis }) : null,
        i.violation_codes.length ? h("div", { class: "muted", text: i.violation_codes.join(", ") }) : null)));
      detail.replaceChildren(head, h("p", { class: "muted", text: t("checklists.locked") }),
        h("button", { id: "checklist-new-version", type: "button", class: "primary small", onclick: act(async () => {
          const made = await api.post(`/api/checklists/${c.id}/versions`);
          await list();
          location.hash = `#/checklists/${made.id}`;
          status.say(t("checklists.created", { code: made.code, version: made.version }));
        }) }, t("checklists.new_version")),
        items);
    }
    detail.append(h("h4", { text: t("admin.audit.heading") }), auditList(trail.items, "checklist-audit"));
    detail.hidden = false;
    if (c.published_at) head.title = formatDateTime(new Date(c.published_at));
  }

  (async () => {
    try {
      await list();
      if (/^\d+$/.test(arg || "")) await open(Number(arg));
    } catch (err) {
      status.fail(err);
    }
  })();

  return () => {
    alive = false;
  };
}

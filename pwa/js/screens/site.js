// A site's card: who and where, its grades and flags, the last visit, the open orders; and the
// one thing to do there: start (or continue) the visit.
import { keptDay, stopOf } from "../day.js";
import { h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { back, named, word } from "../field.js";
import { allDrafts, newDraft, saveDraft } from "../visits.js";

const FLAGS = ["hazchem", "major_hazard", "key_polluter", "key_object"];

function fact(label, value, wide = false) {
  if (!value) return null;
  return h("div", { class: wide ? "fact wide" : "fact" }, h("dt", { text: label }), h("dd", {}, value));
}

function orderCard(order) {
  const f = order.finding || {};
  return h("li", { class: "order", "data-order-id": order.id },
    h("strong", { text: order.number || t("site.order.unnumbered") }),
    h("span", { text: named(f) || f.note || word("domain", f.domain) }),
    h("span", { class: "muted", text: t("site.order.deadline", { day: order.deadline }) }),
    h("span", { class: `order-status${order.reinspection_open ? " due" : ""}`,
      text: order.reinspection_open ? t("site.order.reinspect_now") : word("order", order.status) }));
}

export function render(root, ctx, arg) {
  const siteId = Number(arg);
  let alive = true;
  const box = h("div", { class: "screen site-card" });
  root.append(box);

  async function start() {
    const [kept, drafts] = await Promise.all([keptDay(), allDrafts()]);
    if (!alive) return;
    const day = kept && kept.body;
    const stop = day && stopOf(day, siteId);
    if (!stop) {
      box.replaceChildren(back("#/today", t("nav.today")), h("p", { class: "muted", text: t("site.unknown") }));
      return;
    }
    const site = stop.site;
    const draft = drafts.find((d) => d.site_id === siteId);
    const grades = site.grades || {};
    const flags = FLAGS.filter((f) => site.flags && site.flags[f]);
    const last = site.last_visit;
    const orders = site.open_orders || [];
    const reinspection = stop.kind === "reinspection";

    async function begin() {
      if (draft) return ctx.go(`visit/${draft.id}`);
      const fresh = newDraft(day, stop, ctx.session.user);
      await saveDraft(fresh);
      return ctx.go(`visit/${fresh.id}`);
    }

    // replaceChildren would write a null as the text "null": only elements go in.
    box.replaceChildren(...[
      back("#/today", t("nav.today")),
      h("p", { class: "muted", text: [t("site.stop", { n: stop.seq }), word("kind", stop.kind)].join(t("list.separator")) }),
      h("h2", { id: "site-name", text: site.name }),
      h("p", { class: "site-address", text: site.address || t("home.address.none") }),
      flags.length ? h("p", { class: "chips" }, flags.map((f) => h("span", { class: "badge badge-key", text: t(`site.flag.${f}`) }))) : null,
      h("dl", { class: "site-facts" },
        fact(t("site.risk"), grades.risk ? h("span", { class: `risk risk-${grades.risk}`, text: word("risk", grades.risk) }) : null),
        fact(t("site.credit"), grades.credit_class),
        fact(t("site.safety_std"), grades.safety_std),
        fact(t("site.industry"), site.industry, true),
        fact(t("site.credit_code"), site.credit_code, true),
        fact(t("site.contact"), site.contact_name ? [site.contact_name, " ",
          site.contact_phone ? h("a", { href: `tel:${site.contact_phone}`, text: site.contact_phone }) : null] : null, true)),
      h("section", { id: "last-visit" },
        h("h3", { text: t("site.last_visit") }),
        h("p", { text: last ? [formatDateTime(last.started_at), word("kind", last.kind), word("verdict", last.geofence)]
          .filter(Boolean).join(t("list.separator")) : t("site.never_visited") })),
      h("section", { id: "open-orders" },
        h("h3", { text: t("site.orders", { n: orders.length }) }),
        orders.length ? h("ul", { class: "orders" }, orders.map(orderCard)) : h("p", { class: "muted", text: t("site.orders.none") })),
      h("div", { class: "actions" },
        h("button", { id: "start-visit", type: "button", class: "primary", onclick: begin },
          t(draft ? "site.continue" : reinspection ? "site.start.reinspection" : "site.start"))),
    ].filter(Boolean));
  }

  start();
  return () => { alive = false; };
}

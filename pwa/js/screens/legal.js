// The legal reviewer's queue (法制审核): findings flagged for statutory minor review and cases
// submitted for legal review, each with its evidence and rule trace beside the list, and the
// two decisions: confirm enforcement, or no penalty with the reason.
import { api, describeError } from "../api.js";
import { deskNav, photoLoader, word } from "../desk.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import {
  checklistSection, findingHeader, historySection, inputsSection, photosSection, refusalText, ruleSection,
  violationSection,
} from "./finding_detail.js";
import { findingRow, keyboard, tableHead } from "./queue.js";

const FLAGGED = "/api/findings?flagged=true&limit=200";
const CASES = "/api/findings?status=case_open&limit=200";

export function render(root, ctx) {
  let alive = true;
  let current = null; // the finding shown beside the list
  const photos = photoLoader(ctx.session.token);
  const status = h("p", { id: "legal-status", class: "muted", role: "status", text: t("queue.loading") });
  const flaggedBody = h("tbody", { id: "legal-flagged" });
  const casesBody = h("tbody", { id: "legal-cases" });
  const pane = h("div", { id: "legal-pane", class: "legal-pane" }, h("p", { class: "muted", text: t("legal.pick") }));

  const rows = () => [...root.querySelectorAll("tr.finding-row")];
  const keys = keyboard(rows, (id) => show(id), () => {});

  root.append(h("div", { class: "screen desk legal" },
    deskNav(ctx, "legal"),
    h("div", { class: "desk-head" }, h("h2", { text: t("legal.heading") }),
      h("p", { class: "muted keys-hint", text: t("legal.keys") })),
    status,
    h("div", { class: "legal-grid" },
      h("div", { class: "legal-lists" },
        h("h3", { text: t("legal.flagged") }),
        h("p", { class: "sub", text: t("legal.flagged.why") }),
        h("div", { class: "table-wrap" }, h("table", { class: "findings compact" }, tableHead(), flaggedBody)),
        h("h3", { text: t("legal.cases") }),
        h("div", { class: "table-wrap" }, h("table", { class: "findings compact" }, tableHead(), casesBody))),
      pane)));

  function fill(body, list) {
    body.replaceChildren(...(list.length
      ? list.map((r) => findingRow(r, photos, (row) => show(row.id)))
      : [h("tr", { class: "empty" }, h("td", { colspan: "6", text: t("legal.none") }))]));
  }

  // Cases submitted for review are findings with a case open whose actions, for this reviewer,
  // include the legal review.
  async function awaitingCases(items) {
    const checks = await Promise.all(items.map(async (r) => {
      try {
        const { data } = await api.get(`/api/findings/${r.id}/actions`);
        return (data.yours || []).includes("legal-review");
      } catch {
        return false;
      }
    }));
    return items.filter((r, i) => checks[i]);
  }

  async function load(message = "") {
    try {
      const [flagged, cases] = await Promise.all([api.get(FLAGGED), api.get(CASES)]);
      const waiting = await awaitingCases(cases.data.items);
      if (!alive) return;
      fill(flaggedBody, flagged.data.items);
      fill(casesBody, waiting);
      keys.reset();
      status.textContent = message || t("legal.count", { flagged: flagged.data.items.length, cases: waiting.length });
      if (current && !rows().some((r) => r.dataset.findingId === current)) {
        current = null;
        pane.replaceChildren(h("p", { class: "muted", text: t("legal.pick") }));
      }
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }

  function decisionForm(d) {
    const error = h("p", { id: "action-error", class: "error", role: "alert" });
    const reason = h("textarea", { id: "legal-reason", name: "reason", rows: "4" });
    const submit = h("button", { id: "legal-submit", type: "submit", class: "primary small", text: t("legal.submit") });
    const isCase = d.status === "case_open";
    const form = h("form", { id: "legal-form", class: "action-form", novalidate: true, onsubmit: send },
      h("h3", { text: t(isCase ? "legal.decide.case" : "legal.decide.finding") }),
      h("fieldset", { class: "field choice" }, h("legend", { text: t("detail.review.outcome") }),
        ["confirm_enforcement", "no_penalty"].map((v) => h("label", { class: "radio" },
          h("input", { type: "radio", name: "outcome", value: v, id: `legal-${v}` }),
          word("review", v)))),
      h("label", { class: "field", for: "legal-reason" }, h("span", { text: t("action.field.reason") + t("action.required") }), reason),
      error, h("div", { class: "form-buttons" }, submit));

    async function send(e) {
      e.preventDefault();
      const chosen = form.querySelector("input[name=outcome]:checked");
      const body = { outcome: chosen && chosen.value, reason: reason.value.trim() };
      if (!chosen) {
        error.textContent = t("action.choose", { field: t("detail.review.outcome") });
        form.querySelector("input[name=outcome]").focus();
        return;
      }
      if (!body.reason) {
        error.textContent = t("action.missing", { field: t("action.field.reason") });
        reason.focus();
        return;
      }
      submit.disabled = true;
      error.textContent = "";
      try {
        await api.post(`/api/findings/${d.id}/legal-review`, body);
        current = null;
        pane.replaceChildren(h("p", { class: "ok", text: t("legal.done", { name: d.enterprise.name, outcome: word("review", body.outcome) }) }));
        load(t("legal.done", { name: d.enterprise.name, outcome: word("review", body.outcome) }));
      } catch (err) {
        submit.disabled = false;
        error.textContent = refusalText(err);
      }
    }
    return form;
  }

  async function show(id) {
    current = id;
    keys.selectId(id);
    pane.replaceChildren(h("p", { class: "muted", text: t("queue.loading") }));
    try {
      const { data: d } = await api.get(`/api/findings/${id}`);
      if (!alive || current !== id) return;
      pane.replaceChildren(
        findingHeader(d),
        h("p", {}, h("a", { href: `#/finding/${d.id}`, text: t("legal.open") })),
        decisionForm(d),
        ruleSection(d), inputsSection(d), violationSection(d), photosSection(d, photos), checklistSection(d),
        historySection(d));
    } catch (err) {
      if (alive && current === id) pane.replaceChildren(h("p", { class: "error", text: describeError(err) }));
    }
  }

  load();
  return () => {
    alive = false;
    keys.destroy();
    photos.destroy();
  };
}

// One finding, everything behind its tier: photos, the map, the rule and its explanation, the
// classifier's inputs and the history it looked up, the tolerance checklist with what is
// missing, orders, re-inspections, the case, legal reviews, and the audit trail as a timeline.
// The actions are buttons only when the server says they are allowed now; each asks for what
// it needs and shows the server's reason when it refuses.
import { api, ApiError, describeError } from "../api.js";
import {
  deadline, deskNav, formatDay, joinList, parkName, photoLoader, violationName, word,
} from "../desk.js";
import { h } from "../dom.js";
import { formatDateTime, lang, t } from "../i18n.js";
import { loadLeaflet } from "../map.js";
import { TIERS, tierBadge, tierChange } from "../tier.js";
import { flagBadges } from "./queue.js";

// A button that fetches an official document with the bearer token and hands it to the browser
// (an <a download> click: no pop-up to block), named as the server names it.
function pdfButton(label, path, token) {
  const button = h("button", { type: "button", class: "secondary small doc-pdf", "data-doc": path, text: label });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
      if (!resp.ok) throw new Error((await resp.json().catch(() => null))?.message || resp.statusText);
      const named = /filename\*=UTF-8''([^;]+)/.exec(resp.headers.get("Content-Disposition") || "");
      const url = URL.createObjectURL(await resp.blob());
      const a = h("a", { href: url, download: named ? decodeURIComponent(named[1]) : "document.pdf" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      button.replaceWith(h("p", { class: "warning", role: "alert", text: t("doc.failed", { message: err.message }) }));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

const when = (iso) => (iso ? formatDateTime(iso) : "");
const yesNo = (v) => t(v ? "detail.yes" : "detail.no");
const key = (action) => action.replace(/[/-]/g, "_");

function section(id, title, ...body) {
  return h("section", { id, class: "panel", "aria-labelledby": `${id}-h` }, h("h3", { id: `${id}-h`, text: title }), ...body);
}

// <dl> of [label, value] pairs; empty values are left out.
function facts(pairs, cls = "facts") {
  return h("dl", { class: cls }, pairs.filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .flatMap(([label, value]) => [h("dt", { text: label }), h("dd", {}, value)]));
}

function person(p) {
  return p ? p.name : "";
}

// --- sections, shared with the legal reviewer's screen ---------------------------------------

export function ruleSection(d) {
  const c = d.classification;
  const explanation = lang() === "en" ? c.explanation.en || c.explanation.zh : c.explanation.zh || c.explanation.en;
  return section("rule", t("detail.rule"),
    h("p", { class: "rule-line" }, tierChange(c.suggested_tier, c.final_tier, c.rule_id), " ", flagBadges(d)),
    h("p", { id: "rule-explanation", class: "explanation", text: explanation }),
    facts([
      [t("detail.rule.id"), c.rule_id],
      [t("detail.rule.suggested"), tierBadge(c.suggested_tier, c.rule_id)],
      [t("detail.rule.final"), tierBadge(c.final_tier)],
      [t("detail.rule.reason"), c.tier_reason],
      [t("detail.rule.path"), word("path", c.tolerance_path)],
      [t("detail.rule.deadline"), c.correction_deadline ? formatDay(c.correction_deadline) : ""],
      [t("detail.rule.policy"), c.policy_version ? String(c.policy_version) : ""],
    ]));
}

export function inputsSection(d) {
  const f = d.facts;
  const l = d.lookup;
  return section("inputs", t("detail.inputs"),
    h("div", { class: "two" },
      facts([
        [t("detail.fact.severity"), word("severity", f.severity)],
        [t("detail.fact.harm"), word("harm", f.harm)],
        [t("detail.fact.intentional"), yesNo(f.intentional)],
        [t("detail.fact.obstruction"), yesNo(f.obstruction)],
        [t("detail.fact.suspected_crime"), yesNo(f.suspected_crime)],
        [t("detail.fact.no_fault_proven"), yesNo(f.no_fault_proven)],
        [t("detail.fact.corrected_on_spot"), yesNo(f.corrected_on_spot)],
      ]),
      h("div", {},
        h("h4", { text: t("detail.lookup") }),
        facts([
          [t("detail.lookup.repeats", { days: l.window_days }), String(l.repeats)],
          [t("detail.lookup.tolerance"), yesNo(l.earlier_tolerance_closed)],
          [t("detail.lookup.order_failed"), yesNo(l.earlier_order_failed)],
        ]))),
    d.note ? h("p", { class: "note" }, h("strong", { text: t("detail.note") }), " ", d.note) : null);
}

export function violationSection(d) {
  const v = d.violation_type;
  if (!v) return section("violation", t("detail.violation"), h("p", { class: "muted", text: t("finding.advisory") }));
  const unit = v.correction_unit === "calendar_days" ? "detail.days.calendar" : "detail.days.working";
  return section("violation", t("detail.violation"),
    h("p", {}, h("strong", { text: violationName(v) }), " ", h("code", { text: v.code })),
    facts([
      [t("detail.violation.domain"), word("domain", v.domain)],
      [t("detail.violation.violated"), v.violated_provision],
      [t("detail.violation.penalty"), v.penalty_provision],
      [t("detail.violation.trigger"), word("trigger", v.penalty_trigger)],
      [t("detail.violation.tolerance"), word("tolerance", v.tolerance_type)],
      [t("detail.violation.conditions"), v.list_conditions],
      [t("detail.violation.period"), t(unit, { n: v.correction_days })],
    ]));
}

export function photosSection(d, photos) {
  const list = d.photos || [];
  return section("photos", t("detail.photos", { n: list.length }),
    list.length ? h("ul", { class: "photo-grid" }, list.map((p) => h("li", {},
      p.thumb
        ? h("button", { type: "button", class: "thumb-button", "aria-label": t("detail.photo.open"),
          onclick: () => photos.show(`/api/photos/${p.id}/display`, t("detail.photo.alt")) },
        photos.img(p.thumb, t("detail.photo.alt"), "thumb thumb-large"))
        : h("span", { class: "thumb thumb-large thumb-waiting", text: t("detail.photo.waiting") }),
      h("span", { class: "sub", text: when(p.captured_at) }))))
      : h("p", { class: "muted", text: t("detail.photos.none") }));
}

function mapSection(d, maps, token) {
  const m = d.map || {};
  const v = d.visit;
  const box = h("div", { id: "detail-map", class: "map small-map", role: "img", "aria-label": t("detail.map") });
  const words = facts([
    [t("detail.visit.geofence"), word("geofence", v.geofence)],
    [t("detail.visit.distance"), v.distance_m === null ? "" : t("detail.metres", { n: Math.round(v.distance_m) })],
    [t("detail.visit.accuracy"), v.fix_accuracy_m === null ? "" : t("detail.metres", { n: Math.round(v.fix_accuracy_m) })],
    [t("detail.visit.started"), when(v.started_at)],
    [t("detail.visit.by"), person(v.recorded_by)],
    [t("detail.visit.kind"), word("visit", v.kind)],
    [t("detail.visit.certificates"), yesNo(v.certificates_shown)],
    [t("detail.visit.refused"), v.party_refused ? t("detail.yes") : ""],
  ]);
  maps.push(async () => {
    if (!m.site) {
      box.replaceChildren(h("p", { class: "muted", text: t("home.map.unavailable") }));
      return null;
    }
    const L = await loadLeaflet();
    const map = L.map(box, { attributionControl: false, zoomControl: true, zoomSnap: 0.25 });
    const site = L.circleMarker([m.site.lat, m.site.lon], { radius: 9, color: "#111", weight: 2, fillColor: "#0b3d91", fillOpacity: 0.9 })
      .bindTooltip(t("detail.map.site"), { permanent: true, direction: "top" }).addTo(map);
    const points = [site.getLatLng()];
    if (m.visit_fix) {
      const fix = L.circleMarker([m.visit_fix.lat, m.visit_fix.lon], { radius: 6, color: "#7f0000", weight: 2, fillColor: "#fff", fillOpacity: 1 })
        .bindTooltip(t("detail.map.fix"), { permanent: true, direction: "bottom" }).addTo(map);
      points.push(fix.getLatLng());
      if (m.fix_accuracy_m) {
        L.circle(fix.getLatLng(), { radius: m.fix_accuracy_m, color: "#7f0000", weight: 1, fillOpacity: 0.08, interactive: false }).addTo(map);
      }
    }
    // From the points, not the layers: a circle has no bounds before the map has a view.
    const bounds = L.latLngBounds(points);
    if (bounds.getNorthEast().equals(bounds.getSouthWest())) map.setView(bounds.getCenter(), 16);
    else map.fitBounds(bounds, { paddingTopLeft: [72, 48], paddingBottomRight: [72, 48], maxZoom: 18 });
    return map;
  });
  return section("where", t("detail.where"), box, words,
    pdfButton(t("doc.record"), `/api/visits/${encodeURIComponent(v.id)}/record.pdf`, token));
}

export function checklistSection(d) {
  const c = d.tolerance_checklist;
  if (!c) return null;
  const items = (c.items || []).map((item) => h("li", { class: `check-item check-${item.status}`, "data-key": item.key },
    h("span", { class: "check-mark", text: word("check.status", item.status) }),
    h("span", { class: "check-what", text: word("check", item.key) }),
    item.detail ? h("span", { class: "sub", text: item.detail }) : null));
  const missing = (c.missing || []).map((k) => word("check", k));
  return section("checklist", t("detail.checklist"),
    h("p", { class: c.applies ? "" : "muted", text: c.applies ? t("detail.checklist.applies") : t("detail.checklist.not_applies") }),
    c.why ? h("p", { class: "sub", text: c.why }) : null,
    c.applies ? h("p", { id: "checklist-missing", class: missing.length ? "warning" : "ok",
      text: missing.length ? t("detail.checklist.missing", { items: joinList(missing) }) : t("detail.checklist.complete") }) : null,
    items.length ? h("ul", { class: "checklist" }, items) : null);
}

function ordersSection(d, token) {
  if (!d.orders.length && !d.case && !d.legal_reviews.length && !d.education_records.length) return null;
  const orders = d.orders.map((o) => h("article", { class: "record", "data-order": o.number },
    h("h4", {}, t("detail.order", { number: o.number }), " ", h("span", { class: "status", text: word("order", o.status) })),
    facts([
      [t("detail.order.issued"), `${when(o.issued_at)} · ${person(o.issued_by)}`],
      [t("detail.order.deadline"), formatDay(o.deadline)],
      [t("detail.order.reinspection_due"), formatDay(o.reinspection_due)],
      [t("detail.order.commitment"), word("commitment", o.commitment)],
      [t("detail.order.closed"), when(o.closed_at)],
    ]),
    pdfButton(t("doc.notice"), `/api/orders/${o.id}/notice.pdf`, token),
    o.reinspections.length ? h("ul", { class: "sublist" }, o.reinspections.map((r) => h("li", {},
      t("detail.reinspection", { when: when(r.at), outcome: word("reinspection", r.outcome), by: person(r.recorded_by) }),
      r.note ? h("span", { class: "sub", text: r.note }) : null))) : null));
  const c = d.case;
  const kase = c ? h("article", { class: "record", id: "case" },
    h("h4", {}, t("detail.case", { number: c.number }), " ", h("span", { class: "status", text: word("case", c.status) })),
    facts([
      [t("detail.case.filed"), `${when(c.filed_at)} · ${person(c.filed_by)}`],
      [t("detail.case.investigators"), joinList(c.investigators.map(person))],
      [t("detail.case.decision_due"), formatDay(c.decision_due)],
      [t("detail.case.notified"), when(c.notified_at)],
      [t("detail.case.statement"), c.party_statement],
      [t("detail.case.hearing_requested"), when(c.hearing_requested_at)],
      [t("detail.case.hearing_held"), when(c.hearing_held_at)],
      [t("detail.case.review_required"), yesNo(c.legal_review_required)],
      [t("detail.case.decision"), c.decision ? word("decision", c.decision) : ""],
      [t("detail.case.decision_note"), c.decision_note],
      [t("detail.case.fine"), c.fine_yuan ? t("detail.yuan", { n: c.fine_yuan }) : ""],
      [t("detail.case.decided"), when(c.decided_at)],
      [t("detail.case.served"), when(c.served_at)],
      [t("detail.case.paid"), when(c.paid_at)],
      [t("detail.case.closed"), when(c.closed_at)],
      [t("detail.case.transferred"), when(c.transferred_at)],
    ])) : null;
  const reviews = d.legal_reviews.map((r) => h("article", { class: "record legal-review" },
    h("h4", { text: t(r.case_id ? "detail.review.case" : "detail.review.finding") }),
    facts([
      [t("detail.review.outcome"), word("review", r.outcome)],
      [t("detail.review.reason"), r.reason],
      [t("detail.review.by"), `${when(r.at)} · ${person(r.reviewer)}`],
    ])));
  const education = d.education_records.map((e) => h("article", { class: "record" },
    h("h4", { text: t("detail.education") }),
    h("p", { text: e.text }), h("p", { class: "sub", text: `${when(e.at)} · ${person(e.by)}` })));
  return section("records", t("detail.records"), orders, kase, reviews, education);
}

// The audit entries of the finding and what hangs off it, oldest first, as a timeline.
const SUMMARY_TEXT = ["reason", "note", "statement", "education", "number", "outcome", "decision"];

export function historySection(d) {
  const entries = d.history.map((e) => {
    const s = e.summary || {};
    const bits = [];
    if (s.from && s.to && s.from !== s.to) bits.push(h("span", { class: "tier-change" }, tierBadge(s.from), "→", tierBadge(s.to)));
    if (s.rule_id) bits.push(h("span", { text: t("detail.history.rule", { rule: s.rule_id }) }));
    if (s.deadline) bits.push(h("span", { text: t("detail.history.deadline", { day: formatDay(s.deadline) }) }));
    for (const k of SUMMARY_TEXT) {
      if (typeof s[k] === "string" && s[k]) bits.push(h("span", { class: "history-text", text: t("detail.history.pair", { label: t(`detail.history.${k}`), value: s[k] }) }));
    }
    if (s.status) bits.push(h("span", { class: "sub", text: t("detail.history.status", { status: word("status", s.status) }) }));
    return h("li", { class: "history-entry", "data-action": e.action },
      h("time", { datetime: e.at, text: when(e.at) }),
      h("div", {},
        h("strong", { text: word("audit", e.action) }), " ",
        h("span", { class: "muted", text: e.actor ? e.actor.name : t("detail.history.system") }),
        bits.length ? h("div", { class: "history-bits" }, bits) : null));
  });
  return section("history", t("detail.history"), h("ol", { id: "timeline", class: "timeline" }, entries));
}

// --- actions ---------------------------------------------------------------------------------

const area = (name, label, { required = false, hint = null } = {}) => ({ name, label, required, hint, kind: "text" });
const choice = (name, label, values, prefix) => ({ name, label, values, prefix, kind: "choice" });
const check = (name, label) => ({ name, label, kind: "check" });
const note = () => area("note", "action.field.note");

// What each action asks for; the server checks everything again and says why when it refuses.
function fieldsFor(action, d) {
  switch (action) {
    case "confirm-tier": return [note()];
    case "change-tier": return [choice("tier", "action.field.tier", TIERS.filter((x) => x !== d.final_tier), "tier"),
      area("reason", "action.field.reason", { hint: "action.hint.downgrade" })];
    case "issue-order": return [{ kind: "info", text: "action.hint.order" }, note()];
    case "record-commitment": return [choice("commitment", "action.field.commitment", ["signed", "refused"], "commitment"), note()];
    case "record-reinspection": return [choice("outcome", "action.field.outcome", ["passed", "failed", "partly"], "reinspection"), note()];
    case "legal-review": return [choice("outcome", "action.field.review", ["confirm_enforcement", "no_penalty"], "review"),
      area("reason", "action.field.reason", { required: true })];
    case "file-case": return [{ kind: "investigators", name: "investigator_ids" },
      check("legal_review_required", "action.field.review_required"), note()];
    case "close": return [area("education", "action.field.education", { hint: "action.hint.education" }),
      ...(d.tolerance_checklist && d.tolerance_checklist.applies ? [check("conditions_confirmed", "action.field.conditions")] : []),
      note()];
    case "reopen": return [area("reason", "action.field.reason", { required: true })];
    case "case/notify": return [area("statement", "action.field.statement", { required: true }), note()];
    case "case/decide": return [choice("decision", "action.field.decision", ["penalty", "no_penalty", "not_established"], "decision"),
      { kind: "number", name: "fine_yuan", label: "action.field.fine" },
      area("note", "action.field.grounds", { required: true })];
    case "case/close": return [area("education", "action.field.education", { hint: "action.hint.case_education" }), note()];
    case "case/transfer": return [area("reason", "action.field.transfer", { required: true })];
    default: return [note()];
  }
}

function fieldControl(f, id, d) {
  if (f.kind === "info") return h("p", { class: "muted", text: t(f.text) });
  if (f.kind === "text") {
    return h("label", { class: "field", for: id }, h("span", { text: t(f.label) + (f.required ? t("action.required") : "") }),
      h("textarea", { id, name: f.name, rows: "3", "data-required": f.required ? "1" : null }),
      f.hint ? h("span", { class: "sub", text: t(f.hint) }) : null);
  }
  if (f.kind === "choice") {
    return h("fieldset", { class: "field choice", "data-name": f.name }, h("legend", { text: t(f.label) }),
      f.values.map((v) => h("label", { class: "radio" },
        h("input", { type: "radio", name: f.name, value: v }), word(f.prefix, v))));
  }
  if (f.kind === "check") {
    return h("label", { class: "field check" }, h("input", { type: "checkbox", name: f.name }), h("span", { text: t(f.label) }));
  }
  if (f.kind === "number") {
    return h("label", { class: "field", for: id }, h("span", { text: t(f.label) }),
      h("input", { id, type: "number", name: f.name, min: "1", step: "1", inputmode: "numeric" }));
  }
  // Two investigators: the officers of the visit to choose from, or any officer's number.
  const officers = (d.visit.officers || (d.visit.recorded_by ? [d.visit.recorded_by] : []));
  const list = h("datalist", { id: `${id}-list` }, officers.map((o) => h("option", { value: String(o.id), label: o.name })));
  const one = (n) => h("label", { class: "field", for: `${id}-${n}` }, h("span", { text: t("action.field.investigator", { n }) }),
    h("input", { id: `${id}-${n}`, type: "number", name: `investigator${n}`, min: "1", step: "1", list: `${id}-list`, inputmode: "numeric" }));
  return h("fieldset", { class: "field investigators" }, h("legend", { text: t("action.field.investigators") }),
    one(1), one(2), list, h("span", { class: "sub", text: t("action.hint.investigators",
      { names: joinList(officers.map((o) => `${o.name} (${o.id})`)) || t("detail.none") }) }));
}

function readForm(form, fields) {
  const body = {};
  for (const f of fields) {
    if (f.kind === "info") continue;
    if (f.kind === "text") {
      const v = form.elements[f.name].value.trim();
      if (v || f.required) body[f.name] = v;
    } else if (f.kind === "choice") {
      const chosen = form.querySelector(`input[name="${f.name}"]:checked`);
      if (chosen) body[f.name] = chosen.value;
    } else if (f.kind === "check") {
      body[f.name] = form.elements[f.name].checked;
    } else if (f.kind === "number") {
      const v = form.elements[f.name].value;
      if (v !== "") body[f.name] = Number(v);
    } else if (f.kind === "investigators") {
      body.investigator_ids = [form.elements.investigator1.value, form.elements.investigator2.value]
        .filter((v) => v !== "").map(Number);
    }
  }
  return body;
}

// The server's refusal in words: its message, then the fields it names.
export function refusalText(err) {
  if (!(err instanceof ApiError) || err.offline || err.status === 403) return describeError(err);
  const fields = err.errors && (err.errors.json || err.errors);
  // Field messages the main message does not already say.
  const named = fields && typeof fields === "object"
    ? Object.entries(fields).filter(([, v]) => Array.isArray(v))
      .map(([k, v]) => [k, v.filter((m) => !String(err.message).includes(m))])
      .filter(([, v]) => v.length).map(([k, v]) => `${k}: ${v.join(" ")}`) : [];
  return [t("action.refused", { message: err.message }), ...named].join(" ");
}

// The buttons of the actions `yours` lists (GET .../actions), and the form of the one chosen.
export function actionPanel(d, yours, { onDone }) {
  const holder = h("div", { id: "action-form" });
  const buttons = yours.map((action) => h("button", {
    type: "button", class: action === yours[0] ? "primary small" : "secondary small", "data-action": action,
    onclick: () => openForm(action),
  }, t(`action.${key(action)}`)));

  function openForm(action) {
    const fields = fieldsFor(action, d);
    const error = h("p", { id: "action-error", class: "error", role: "alert" });
    const submit = h("button", { id: "action-submit", type: "submit", class: "primary small", text: t("action.submit", { action: t(`action.${key(action)}`) }) });
    const form = h("form", { class: "action-form", novalidate: true, "data-action": action, onsubmit: send },
      h("h4", { text: t(`action.${key(action)}`) }),
      h("p", { class: "sub", text: t(`action.help.${key(action)}`) }),
      fields.map((f, i) => fieldControl(f, `af-${i}`, d)),
      error,
      h("div", { class: "form-buttons" }, submit,
        h("button", { type: "button", class: "secondary small", text: t("action.cancel"), onclick: () => holder.replaceChildren() })));
    holder.replaceChildren(form);
    const first = form.querySelector("textarea, input");
    if (first) first.focus();

    async function send(e) {
      e.preventDefault();
      const body = readForm(form, fields);
      // Nothing chosen for a decision, or a required text left empty: asked here, before the server.
      const unchosen = fields.find((f) => f.kind === "choice" && !body[f.name]);
      const empty = fields.find((f) => f.required && !body[f.name]);
      if (unchosen || empty) {
        const f = unchosen || empty;
        error.textContent = t(unchosen ? "action.choose" : "action.missing", { field: t(f.label) });
        (unchosen ? form.querySelector(`input[name="${f.name}"]`) : form.elements[f.name]).focus();
        return;
      }
      submit.disabled = true;
      error.textContent = "";
      try {
        const state = await api.post(`/api/findings/${d.id}/${action}`, body);
        holder.replaceChildren();
        onDone(t("action.done", { status: word("status", state.status) }));
      } catch (err) {
        submit.disabled = false;
        error.textContent = refusalText(err);
        // A 409: the finding moved on meanwhile; the screen follows it and keeps the reason in view.
        if (err.status === 409) onDone(error.textContent);
      }
    }
  }

  return h("section", { id: "actions", class: "panel actions-panel", "aria-labelledby": "actions-h" },
    h("h3", { id: "actions-h", text: t("detail.actions") }),
    buttons.length ? h("div", { class: "action-buttons" }, buttons) : h("p", { class: "muted", text: t("detail.actions.none") }),
    holder);
}

// --- the screen ------------------------------------------------------------------------------

export function findingHeader(d) {
  return h("header", { class: "finding-head" },
    h("div", {},
      h("h2", { id: "finding-title", text: d.enterprise.name }),
      h("p", { class: "muted", text: [parkName(d.park), word("domain", d.domain), violationName(d.violation)].join(" · ") })),
    h("div", { class: "finding-state" },
      tierChange(d.suggested_tier, d.final_tier, d.rule_id),
      h("span", { id: "finding-status", class: `status status-${d.status}`, text: word("status", d.status) }),
      h("span", { id: "finding-deadline" }, deadline(d.next_deadline, d.days_left))));
}

export function render(root, ctx, id) {
  let alive = true;
  const photos = photoLoader(ctx.session.token);
  let map = null;
  const status = h("p", { id: "detail-status", class: "muted", role: "status", text: t("queue.loading") });
  const body = h("div", { id: "finding", class: "finding" });
  root.append(h("div", { class: "screen desk detail" },
    deskNav(ctx, null),
    h("p", {}, h("a", { href: "#/queue", class: "back", text: t("detail.back") })),
    status, body));

  async function load(note = "") {
    try {
      const [{ data: d }, { data: allowed }] = await Promise.all([
        api.get(`/api/findings/${encodeURIComponent(id)}`),
        api.get(`/api/findings/${encodeURIComponent(id)}/actions`),
      ]);
      if (!alive) return;
      show(d, allowed.yours || []);
      status.textContent = note;
    } catch (err) {
      if (alive) status.textContent = describeError(err);
    }
  }

  function show(d, yours) {
    if (map) map.remove();
    map = null;
    const maps = [];
    body.replaceChildren(
      findingHeader(d),
      h("div", { class: "detail-grid" },
        h("div", { class: "detail-main" },
          ruleSection(d), inputsSection(d), violationSection(d), checklistSection(d), ordersSection(d, ctx.session.token), historySection(d)),
        h("div", { class: "detail-side" },
          actionPanel(d, yours, { onDone: (message) => load(message) }),
          photosSection(d, photos), mapSection(d, maps, ctx.session.token))));
    document.title = `${d.enterprise.name} · ${t("app.title")}`;
    for (const draw of maps) {
      draw().then((m) => { if (alive) map = m; else if (m) m.remove(); },
        () => { const box = body.querySelector("#detail-map"); if (box) box.replaceChildren(h("p", { class: "muted", text: t("home.map.unavailable") })); });
    }
  }

  load();
  return () => {
    alive = false;
    if (map) map.remove();
    photos.destroy();
  };
}

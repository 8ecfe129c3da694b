// A visit: the fix and the on-site verdict, the officers, certificates shown, the checklist by
// domain (one tap per item), a finding for each fail, the party's signature or refusal, finish.
// Every tap is saved to the draft at once; leaving asks nothing; the last action can be undone.
// #/visit/<id> is the visit, #/visit/<id>/finding/<finding id> one of its findings (js/screens/finding.js).
import { keptDay, siteOf } from "../day.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { back, itemText, named, preliminaryCard, proofText, word } from "../field.js";
import { prove } from "../onsite.js";
import { prepareSignature } from "../photos.js";
import { tierBadge } from "../tier.js";
import {
  OUTCOMES, blockers, certifiedCount, change, discard, earlierVisits, enforcementCapable, findingReady, finish,
  keepPhoto, lastAction, loadDraft, photoOf, preliminary, setOutcome, undo,
} from "../visits.js";
import * as findingScreen from "./finding.js";

const FIX_TIMEOUT_MS = 20000;
// The checklists in the order an inspector usually walks a plant; a building site starts with construction.
const DOMAIN_ORDER = ["safety", "fire", "environment", "illegal_construction", "city_appearance", "market", "other"];

function ordered(lists, siteKind) {
  const rank = (l) => (siteKind === "project" && l.domain === "illegal_construction" ? -1 : DOMAIN_ORDER.indexOf(l.domain));
  return [...lists].sort((a, b) => rank(a) - rank(b) || a.code.localeCompare(b.code));
}
const REINSPECTION_OUTCOMES = ["passed", "failed", "partly"];

// One fix from the Geolocation API, always with a timeout (a phone indoors may never answer).
export function locate() {
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) {
      resolve({ fix: null, state: "failed" });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => resolve({ fix: { lon: pos.coords.longitude, lat: pos.coords.latitude,
        accuracy_m: Math.round(pos.coords.accuracy * 10) / 10, at: new Date(pos.timestamp).toISOString() }, state: "ok" }),
      (err) => resolve({ fix: null, state: err.code === 1 ? "denied" : "failed" }),
      { enableHighAccuracy: true, timeout: FIX_TIMEOUT_MS, maximumAge: 30000 });
  });
}

function pressed(on) {
  return on ? "true" : "false";
}

export function render(root, ctx, arg) {
  const [visitId, sub, findingId] = String(arg || "").split("/");
  if (sub === "finding") return findingScreen.render(root, ctx, visitId, findingId);

  let alive = true;
  let draft = null;
  let day = null;
  let site = null;
  let earlier = [];
  let discardArmed = false;
  const urls = [];
  const box = h("div", { class: "screen visit" });
  root.append(box);

  const fixLine = h("p", { id: "fix-status", class: "fix", role: "status" });
  const fixRetry = h("button", { id: "fix-retry", type: "button", class: "secondary small", hidden: true,
    onclick: () => takeFix() }, t("fix.retry"));
  const officers = h("section", { id: "officers", class: "block" });
  const certs = h("button", { id: "certs-shown", type: "button", class: "toggle",
    onclick: () => act("action.certs", (d) => { d.certificates_shown = !d.certificates_shown; }) });
  const reinspection = h("section", { id: "reinspection", class: "block", hidden: true });
  const checklists = h("section", { id: "checklists", class: "block" });
  const findings = h("section", { id: "findings", class: "block" });
  const signature = h("section", { id: "signature", class: "block" });
  const blockList = h("ul", { id: "blockers", class: "blockers", role: "alert", hidden: true });
  const undoButton = h("button", { id: "undo", type: "button", class: "secondary", onclick: () => undoLast() });
  const finishButton = h("button", { id: "finish-visit", type: "button", class: "primary", onclick: () => done() },
    t("visit.finish"));
  const discardButton = h("button", { id: "discard-visit", type: "button", class: "link-button", onclick: () => dropVisit() },
    t("visit.discard"));

  async function act(action, fn, opts) {
    const next = await change(visitId, action, fn, opts);
    if (!alive || !next) return;
    draft = next;
    update();
  }

  async function undoLast() {
    const next = await undo(visitId);
    if (!alive || !next) return;
    draft = next;
    update();
  }

  async function takeFix() {
    await act(null, (d) => { d.fix_state = "pending"; }, { undoable: false });
    const { fix, state } = await locate();
    // Saved even if the inspector has moved on to another screen: the draft is read afresh.
    const next = await change(visitId, null, (d) => { d.fix = fix || d.fix; d.fix_state = fix ? "ok" : (d.fix ? "ok" : state); },
      { undoable: false });
    if (alive && next) {
      draft = next;
      update();
    }
  }

  function showFix() {
    const proof = draft.fix ? prove(draft.fix, site, day.geofence) : null;
    fixLine.textContent = proofText(proof, draft.fix_state === "pending" ? "pending" : draft.fix_state);
    fixLine.dataset.verdict = draft.fix_state === "pending" ? "pending" : (proof ? proof.verdict : "no_fix");
    fixRetry.hidden = draft.fix_state === "pending";
  }

  function showOfficers() {
    const capable = enforcementCapable(draft);
    const count = certifiedCount(day, draft);
    const me = ctx.session.user.id;
    const chosen = new Set(draft.officer_ids);
    officers.replaceChildren(
      h("h3", { text: t("visit.officers") }),
      h("ul", { class: "officer-list" }, (day.team || []).map((m) => {
        const state = m.auxiliary ? t("officer.auxiliary")
          : m.certificate_valid ? t("officer.certificate", { no: m.certificate_no }) : t("officer.no_certificate");
        return h("li", {}, h("button", {
          type: "button", class: "toggle officer", "data-user-id": m.id, "aria-pressed": pressed(chosen.has(m.id)),
          disabled: m.id === me,
          onclick: () => act("action.officer", (d) => {
            d.officer_ids = d.officer_ids.includes(m.id) ? d.officer_ids.filter((id) => id !== m.id) : [...d.officer_ids, m.id];
          }),
        }, h("span", { class: "officer-name", text: m.me ? t("officer.me", { name: m.name }) : m.name }),
        h("span", { class: `officer-state${m.certificate_valid || m.auxiliary ? "" : " weak"}`, text: state })));
      })),
      h("p", { id: "officer-count", class: capable && count < 2 ? "warning" : "muted",
        text: capable && count < 2 ? t("visit.officers.short", { n: count }) : t("visit.officers.count", { n: count }) }));
    certs.setAttribute("aria-pressed", pressed(draft.certificates_shown));
    certs.textContent = t("visit.certs_shown");
  }

  function showReinspection() {
    reinspection.hidden = draft.kind !== "reinspection";
    if (reinspection.hidden) return;
    const stop = (day.stops || []).find((s) => s.site_id === draft.site_id);
    const order = ((stop && stop.site.open_orders) || []).find((o) => o.id === draft.order_id);
    // replaceChildren would write a null as the text "null": only elements go in.
    reinspection.replaceChildren(...[
      h("h3", { text: t("visit.reinspection.heading") }),
      order ? h("p", { text: [order.number, named(order.finding)].filter(Boolean).join(t("list.separator")) }) : null,
      h("div", { class: "segmented", role: "group", "aria-label": t("visit.reinspection.outcome") },
        REINSPECTION_OUTCOMES.map((o) => h("button", {
          type: "button", "data-value": o, "aria-pressed": pressed(draft.outcome === o),
          onclick: () => act("action.outcome", (d) => { d.outcome = d.outcome === o ? null : o; }),
        }, t(`reinspection.${o}`)))),
    ].filter(Boolean));
  }

  function findingSlot(item) {
    const f = draft.findings.find((x) => x.item === item.code);
    if (!f) return null;
    const href = `#/visit/${visitId}/finding/${f.id}`;
    if (!findingReady(f)) return h("a", { class: "finding-link todo", href, id: `finding-${f.id}` }, t("visit.finding.todo"));
    const p = preliminary(day, draft, f, earlier);
    return h("a", { class: "finding-link", href, id: `finding-${f.id}` },
      h("span", { text: f.advisory ? t("finding.advisory") : named((day.catalogue || []).find((r) => r.code === f.violation_code)) }),
      p ? tierBadge(p.tier, p.rule_id) : null);
  }

  const open = new Set(); // checklists the inspector opened, kept across updates

  function showChecklists() {
    const lists = ordered(day.checklists || [], site.kind);
    if (!open.size) {
      const answered = lists.filter((l) => l.items.some((i) => draft.results[i.code]));
      (answered.length ? answered : lists.slice(0, 1)).forEach((l) => open.add(l.code));
    }
    checklists.replaceChildren(h("h3", { text: t("visit.checklists") }), ...lists.map((list) => {
      const answers = list.items.map((i) => draft.results[i.code]).filter(Boolean);
      const fails = answers.filter((a) => a === "fail").length;
      const details = h("details", { class: "checklist-group", "data-code": list.code, open: open.has(list.code),
        ontoggle: () => (details.open ? open.add(list.code) : open.delete(list.code)) },
      h("summary", {},
        h("span", { class: "checklist-name", text: named(list) }),
        h("span", { class: "checklist-count", text: t("visit.checklist.count", { done: answers.length, total: list.items.length })
          + (fails ? t("list.separator") + t("visit.checklist.fails", { n: fails }) : "") })),
      h("ol", { class: "items" }, list.items.map((item) => h("li", { class: "item", "data-item": item.code },
        h("p", { class: "item-text" }, h("span", { class: "item-code", text: item.code }), itemText(item)),
        h("div", { class: "segmented outcomes", role: "group", "aria-label": itemText(item) },
          OUTCOMES.map((o) => h("button", {
            type: "button", class: `outcome outcome-${o}`, "data-outcome": o,
            "aria-pressed": pressed(draft.results[item.code] === o),
            onclick: () => act("action.result", (d) => setOutcome(d, item, o)),
          }, t(`outcome.${o}`)))),
        findingSlot(item)))));
      return details;
    }));
  }

  function showFindings() {
    findings.hidden = !draft.findings.length;
    findings.replaceChildren(h("h3", { text: t("visit.findings", { n: draft.findings.length }) }),
      h("ul", { class: "finding-list" }, draft.findings.map((f) => {
        const p = preliminary(day, draft, f, earlier);
        const row = (day.catalogue || []).find((r) => r.code === f.violation_code);
        return h("li", { class: "finding-summary", "data-finding-id": f.id },
          h("a", { href: `#/visit/${visitId}/finding/${f.id}` },
            h("span", { class: "item-code", text: f.item }),
            h("span", { class: "finding-what", text: f.advisory ? t("finding.advisory") : (row ? named(row) : t("visit.finding.todo")) }),
            h("span", { class: "finding-photos", text: t("visit.finding.photos", { n: f.photo_ids.length }) }),
            p ? preliminaryCard(p) : null));
      })));
  }

  // The party's signature on the screen, or the refusal noted.
  let pad = null;
  function showSignature() {
    const { record } = draft;
    const parts = [h("h3", { text: t("visit.signature") })];
    if (record.party_signature_photo_id) {
      const img = h("img", { id: "signature-image", class: "signature-image", alt: t("visit.signature.alt") });
      photoOf(record.party_signature_photo_id).then((photo) => {
        if (!photo) return;
        const url = URL.createObjectURL(photo.blob);
        urls.push(url);
        img.src = url;
      });
      parts.push(img, h("button", { id: "sig-redo", type: "button", class: "secondary small",
        onclick: () => act("action.signature", (d) => { d.record.party_signature_photo_id = null; }) }, t("visit.signature.redo")));
    } else if (!record.party_refused) {
      const canvas = h("canvas", { id: "signature-pad", class: "signature-pad", "aria-label": t("visit.signature.pad") });
      pad = drawing(canvas);
      parts.push(h("p", { class: "muted", text: t("visit.signature.hint") }), canvas,
        h("div", { class: "row" },
          h("button", { id: "sig-clear", type: "button", class: "secondary small", onclick: () => pad.clear() }, t("visit.signature.clear")),
          h("button", { id: "sig-save", type: "button", class: "secondary small", onclick: () => saveSignature(canvas) },
            t("visit.signature.save"))));
    }
    parts.push(h("button", { id: "sig-refused", type: "button", class: "toggle", "aria-pressed": pressed(record.party_refused),
      disabled: Boolean(record.party_signature_photo_id),
      onclick: () => act("action.party_refused", (d) => { d.record.party_refused = !d.record.party_refused; }) }, t("visit.signature.refused")));
    signature.replaceChildren(...parts);
    if (pad) requestAnimationFrame(() => pad && pad.fit());
  }

  async function saveSignature(canvas) {
    if (!pad || pad.empty()) {
      blockList.hidden = false;
      blockList.replaceChildren(h("li", { text: t("visit.signature.empty") }));
      return;
    }
    const prepared = await prepareSignature(canvas);
    const photo = await keepPhoto(draft, prepared, { purpose: "party_signature", fix: draft.fix });
    await act("action.signature", (d) => { d.record.party_signature_photo_id = photo.id; d.record.party_refused = false; });
  }

  function update() {
    // The screen's parts are rebuilt: keep the focus on the control that had it (keyboard, screen readers).
    const focused = document.activeElement;
    const again = focused && focused.closest && focused.closest("[data-item], [data-user-id], #reinspection")
      ? [focused.closest("[data-item]"), focused].map((el) => el && el.dataset && { ...el.dataset }) : null;
    showFix();
    showOfficers();
    showReinspection();
    showChecklists();
    showFindings();
    if (signatureShown !== signatureKey()) {
      signatureShown = signatureKey();
      showSignature();
    }
    const action = lastAction(draft);
    undoButton.disabled = !action;
    undoButton.textContent = action ? t("visit.undo.action", { action: t(action) }) : t("visit.undo");
    if (!blockList.hidden) showBlockers();
    if (again) refocus(again);
  }

  function refocus([item, control]) {
    const scope = item && item.item ? box.querySelector(`[data-item="${item.item}"]`) : box;
    if (!scope || !control) return;
    const pick = ["outcome", "userId", "value"].find((k) => control[k] !== undefined);
    if (!pick) return;
    const attr = pick === "userId" ? "data-user-id" : `data-${pick}`;
    const el = scope.querySelector(`[${attr}="${control[pick]}"]`);
    if (el) el.focus({ preventScroll: true });
  }
  let signatureShown = null;
  const signatureKey = () => `${draft.record.party_signature_photo_id}|${draft.record.party_refused}`;

  function showBlockers() {
    const why = blockers(day, draft);
    blockList.hidden = !why.length;
    blockList.replaceChildren(...why.map((b) => h("li", {},
      h("a", { href: `#${b.target}`, onclick: (e) => { e.preventDefault(); focusTarget(b.target); } }, t(b.key, b.params || {})))));
    return why;
  }

  function focusTarget(id) {
    const el = document.getElementById(id);
    if (!el) return;
    const list = el.closest("details");
    if (list) list.open = true;
    el.scrollIntoView({ block: "center" });
  }

  async function done() {
    if (showBlockers().length) {
      blockList.scrollIntoView({ block: "center" });
      return;
    }
    finishButton.disabled = true;
    await finish(day, visitId, ctx.session.user);
    ctx.go("today");
  }

  async function dropVisit() {
    if (!discardArmed) {
      discardArmed = true;
      discardButton.textContent = t("visit.discard.confirm");
      return;
    }
    await discard(draft);
    ctx.go("today");
  }

  async function start() {
    const [kept, stored, known] = await Promise.all([keptDay(), loadDraft(visitId), earlierVisits()]);
    if (!alive) return;
    day = kept && kept.body;
    draft = stored;
    earlier = known;
    site = day && draft && siteOf(day, draft.site_id);
    if (!draft || !day || !site) {
      box.replaceChildren(back("#/today", t("nav.today")), h("p", { class: "muted", text: t("visit.unknown") }));
      return;
    }
    box.replaceChildren(
      back(`#/site/${draft.site_id}`, t("nav.site")),
      h("p", { class: "muted", text: word("kind", draft.kind) }),
      h("h2", { id: "visit-site", text: draft.site_name }),
      h("div", { class: "fix-row" }, fixLine, fixRetry),
      officers, certs, reinspection, checklists, findings, signature, blockList,
      h("div", { class: "actions" },
        finishButton,
        h("div", { class: "row" }, undoButton, discardButton)));
    update();
    if (draft.fix_state === "pending" && !draft.fix) takeFix();
  }

  start();
  return () => {
    alive = false;
    if (pad) pad.stop();
    urls.forEach((u) => URL.revokeObjectURL(u));
  };
}

// A finger (or mouse) drawing on the canvas; { fit, clear, empty, stop }.
function drawing(canvas) {
  const g = canvas.getContext("2d");
  let strokes = 0;
  let last = null;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  const down = (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    strokes += 1;
    g.beginPath();
    g.arc(last[0], last[1], g.lineWidth / 2, 0, Math.PI * 2);
    g.fill();
  };
  const move = (e) => {
    if (!last) return;
    const p = at(e);
    g.beginPath();
    g.moveTo(last[0], last[1]);
    g.lineTo(p[0], p[1]);
    g.stroke();
    last = p;
  };
  const up = () => { last = null; };
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  function paper() {
    g.fillStyle = "#fff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#000";
    g.strokeStyle = "#000";
    g.lineWidth = Math.max(2, canvas.width / 160);
    g.lineCap = "round";
    g.lineJoin = "round";
  }
  return {
    fit() {
      const ratio = Math.min(2, window.devicePixelRatio || 1);
      canvas.width = Math.round(canvas.clientWidth * ratio);
      canvas.height = Math.round(canvas.clientHeight * ratio);
      strokes = 0;
      paper();
    },
    clear() {
      strokes = 0;
      paper();
    },
    empty: () => strokes === 0,
    stop() {
      canvas.removeEventListener("pointerdown", down);
      canvas.removeEventListener("pointermove", move);
    },
  };
}

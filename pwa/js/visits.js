// A visit being recorded (a draft) and the record it becomes. The draft is saved to IndexedDB
// on every change, so closing the app or leaving the screen loses nothing and asks nothing;
// each change keeps the state before it, so the last action can be undone.
import { classify } from "./classify.js";
import { catalogueRow, isoWithOffset, localDay } from "./day.js";
import { enqueue } from "./outbox.js";
import { store, transaction } from "./store.js";

const UNDO_DEPTH = 30;
export const ENFORCEMENT_KINDS = ["reinspection", "case"];
export const OUTCOMES = ["pass", "fail", "na"];
export const SEVERITIES = ["minor", "general", "serious", "major_hazard"];
export const HARMS = ["none", "minor", "significant"];
export const CIRCUMSTANCES = ["corrected_on_spot", "intentional", "obstruction", "suspected_crime", "no_fault_proven"];

const uuid = () => crypto.randomUUID();

export function newDraft(day, stop, user) {
  const now = new Date();
  const onPlan = day.plan && day.plan.officer_ids && day.plan.officer_ids.includes(user.id);
  const team = new Set((day.team || []).map((m) => m.id));
  const officers = onPlan ? day.plan.officer_ids.filter((id) => team.has(id) || id === user.id) : [user.id];
  return {
    id: uuid(),
    site_id: stop.site_id,
    site_name: stop.site.name,
    kind: stop.kind || "routine",
    plan_stop_id: stop.plan_stop_id ?? null,
    order_id: stop.kind === "reinspection" ? stop.order_id ?? null : null,
    outcome: null,
    started_at: isoWithOffset(now),
    day: localDay(now, day.timezone),
    fix: null,
    fix_state: "pending",
    officer_ids: officers.includes(user.id) ? officers : [user.id, ...officers],
    certificates_shown: false,
    results: {},
    findings: [],
    photo_ids: [],
    record: { party_signature_photo_id: null, party_refused: false },
    undo: [],
    updated_at: now.toISOString(),
  };
}

export const loadDraft = (id) => store.get("drafts", id);
export const allDrafts = () => store.getAll("drafts");

export async function saveDraft(draft) {
  draft.updated_at = new Date().toISOString();
  await store.put("drafts", draft);
  return draft;
}

function snapshot(draft) {
  const { undo, ...rest } = draft;
  return JSON.parse(JSON.stringify(rest));
}

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

// Read the stored draft, change it and write it back in one transaction: a screen never saves a
// stale copy over a change another screen (or a late GPS fix) made meanwhile. Answers the draft.
async function update(id, fn) {
  return transaction("drafts", "readwrite", async ({ drafts }) => {
    const draft = await done(drafts.get(id));
    if (!draft) return null;
    fn(draft);
    draft.updated_at = new Date().toISOString();
    drafts.put(draft);
    return draft;
  });
}

// Apply fn to the draft, keeping the state before it for undo. `action` names it (an i18n key
// shown on the undo button); `undoable: false` for what is not the user's doing (a GPS fix
// arriving) or would flood the undo (each letter of a note).
export function change(id, action, fn, { undoable = true } = {}) {
  return update(id, (draft) => {
    if (undoable) draft.undo = [...(draft.undo || []), { action, state: snapshot(draft) }].slice(-UNDO_DEPTH);
    fn(draft);
  });
}

export function lastAction(draft) {
  const stack = (draft && draft.undo) || [];
  return stack.length ? stack[stack.length - 1].action : null;
}

export function undo(id) {
  return update(id, (draft) => {
    const stack = draft.undo || [];
    if (!stack.length) return;
    const { state } = stack[stack.length - 1];
    // The fix is the phone's observation, not the user's action: an undo never takes it back.
    const restored = { ...state, fix: draft.fix, fix_state: draft.fix_state, undo: stack.slice(0, -1) };
    Object.keys(draft).forEach((k) => delete draft[k]);
    Object.assign(draft, restored);
  });
}

export async function discard(draft) {
  await transaction(["drafts", "photos"], "readwrite", async ({ drafts, photos }) => {
    const own = await done(photos.index("record_id").getAllKeys(draft.id));
    for (const key of own) photos.delete(key);
    drafts.delete(draft.id);
  });
}

// --- results and findings ---------------------------------------------------------------

export function newFinding(item) {
  return {
    id: uuid(), item: item.code, domain: item.domain, violation_code: null, advisory: false, severity: null,
    harm: "none", intentional: false, obstruction: false, suspected_crime: false, no_fault_proven: false,
    corrected_on_spot: false, note: "", photo_ids: [],
  };
}

// One tap on an item: its outcome; a fail opens a finding, leaving fail drops the item's findings.
export function setOutcome(draft, item, outcome) {
  const before = draft.results[item.code];
  if (before === outcome) delete draft.results[item.code]; // a second tap on the same answer clears it
  else draft.results[item.code] = outcome;
  const now = draft.results[item.code];
  if (now === "fail" && !draft.findings.some((f) => f.item === item.code)) draft.findings.push(newFinding(item));
  if (now !== "fail") draft.findings = draft.findings.filter((f) => f.item !== item.code);
}

export function findingOf(draft, id) {
  return draft.findings.find((f) => f.id === id) || null;
}

// A finding is ready when its violation is chosen (a catalogue row, or none: advisory) and a severity.
export function findingReady(f) {
  return Boolean((f.violation_code || f.advisory) && f.severity);
}

// What the phone knows of earlier findings of the type at the site: the open orders (an overdue one
// is an order that failed) and the visits recorded on this phone before this one. A lower bound of
// the server's count, which also sees the findings closed since: hence a *preliminary* tier.
export function historyFor(day, draft, code, earlier = []) {
  const stop = (day.stops || []).find((s) => s.site_id === draft.site_id);
  const orders = ((stop && stop.site.open_orders) || []).filter((o) => o.finding && o.finding.violation_code === code);
  const before = earlier.filter((v) => v.site_id === draft.site_id && v.id !== draft.id && v.started_at < draft.started_at)
    .flatMap((v) => v.codes).filter((c) => c === code).length;
  return { repeats: orders.length + before, earlier_tolerance_closed: false,
    earlier_order_failed: orders.some((o) => o.status === "overdue") };
}

// The preliminary tier (预判) of a finding, or null until it is ready.
export function preliminary(day, draft, f, earlier = []) {
  if (!findingReady(f) || !day.rules) return null;
  const row = f.advisory ? null : catalogueRow(day, f.violation_code);
  if (!f.advisory && !row) return null;
  const facts = { severity: f.severity, harm: f.harm, intentional: f.intentional, obstruction: f.obstruction,
    suspected_crime: f.suspected_crime, no_fault_proven: f.no_fault_proven, corrected_on_spot: f.corrected_on_spot };
  const rowFacts = row && { code: row.code, domain: row.domain, penalty_trigger: row.penalty_trigger,
    tolerance_type: row.tolerance_type, correction_days: row.correction_days, correction_unit: row.correction_unit };
  try {
    const result = classify(day.rules, rowFacts, facts, historyFor(day, draft, f.violation_code, earlier),
      (day.policy && day.policy.values) || {});
    const rule = day.rules.rules.find((r) => r.id === result.rule_id);
    return { ...result, title: rule ? rule.title : null };
  } catch {
    return null; // facts the table refuses (the server would say why): no guess rather than a wrong one
  }
}

// The visits this phone recorded (queued or acknowledged): their site, start and violation codes.
export async function earlierVisits() {
  const [queued, acked] = await Promise.all([store.getAll("outbox"), store.getAll("receipts")]);
  return [
    ...queued.map((e) => ({ id: e.id, site_id: e.record.site_id, started_at: e.record.started_at,
      codes: e.record.findings.map((f) => f.violation_code).filter(Boolean) })),
    ...acked.filter((r) => r.receipt).map((r) => ({ id: r.id, site_id: r.site_id, started_at: r.started_at || "",
      codes: (r.receipt.findings || []).map((f) => f.violation_code).filter(Boolean) })),
  ];
}

// --- officers ---------------------------------------------------------------------------

export function enforcementCapable(draft) {
  return ENFORCEMENT_KINDS.includes(draft.kind) || draft.findings.some((f) => f.violation_code && !f.advisory);
}

// Certified officers named, counted as the server counts them: valid today, not auxiliary,
// distinct certificate numbers.
export function certifiedCount(day, draft) {
  const team = new Map((day.team || []).map((m) => [m.id, m]));
  const numbers = new Set();
  for (const id of draft.officer_ids) {
    const m = team.get(id);
    if (m && m.certificate_valid && !m.auxiliary && m.certificate_no) numbers.add(m.certificate_no);
  }
  return numbers.size;
}

// --- finishing --------------------------------------------------------------------------

// Why the visit cannot be finished yet: a list of { key, params, target } (i18n keys).
export function blockers(day, draft) {
  const out = [];
  const answered = Object.keys(draft.results).length;
  if (!answered && !draft.findings.length && draft.kind !== "reinspection") out.push({ key: "visit.block.empty", target: "checklists" });
  for (const f of draft.findings) {
    if (!findingReady(f)) out.push({ key: "visit.block.finding", params: { item: f.item }, target: `finding-${f.id}` });
  }
  if (draft.kind === "reinspection" && !draft.outcome) out.push({ key: "visit.block.outcome", target: "reinspection" });
  if (enforcementCapable(draft) && certifiedCount(day, draft) < 2) out.push({ key: "visit.block.officers", target: "officers" });
  if (draft.findings.length && !draft.record.party_signature_photo_id && !draft.record.party_refused) {
    out.push({ key: "visit.block.signature", target: "signature" });
  }
  return out;
}

export function buildRecord(draft, finishedAt) {
  const record = {
    id: draft.id,
    site_id: draft.site_id,
    kind: draft.kind,
    plan_stop_id: draft.plan_stop_id,
    officer_ids: draft.officer_ids,
    certificates_shown: draft.certificates_shown,
    started_at: draft.started_at,
    finished_at: finishedAt,
    location: draft.fix ? { lon: draft.fix.lon, lat: draft.fix.lat, accuracy_m: draft.fix.accuracy_m } : null,
    results: Object.entries(draft.results).map(([item, outcome]) => ({ item, outcome })),
    findings: draft.findings.map((f) => ({
      id: f.id, item: f.item, violation_code: f.advisory ? null : f.violation_code, domain: f.domain,
      severity: f.severity, harm: f.harm, intentional: f.intentional, obstruction: f.obstruction,
      suspected_crime: f.suspected_crime, no_fault_proven: f.no_fault_proven, corrected_on_spot: f.corrected_on_spot,
      note: f.note, photo_ids: f.photo_ids,
    })),
    record: { ...draft.record },
    photo_ids: draft.photo_ids,
  };
  if (draft.kind === "reinspection") Object.assign(record, { order_id: draft.order_id, outcome: draft.outcome });
  return record;
}

// The visit joins the outbox with each finding's preliminary tier (to compare with the server's).
export async function finish(day, id, user) {
  const [draft, earlier] = await Promise.all([loadDraft(id), earlierVisits()]);
  const record = buildRecord(draft, isoWithOffset(new Date()));
  const prelim = {};
  for (const f of draft.findings) {
    const p = preliminary(day, draft, f, earlier);
    if (p) prelim[f.id] = { tier: p.tier, rule_id: p.rule_id };
  }
  const photoIds = [...record.findings.flatMap((f) => f.photo_ids), ...record.photo_ids,
    ...(record.record.party_signature_photo_id ? [record.record.party_signature_photo_id] : [])];
  await enqueue({ id: draft.id, record, site_name: draft.site_name, day: draft.day, preliminary: prelim,
    user: { id: user.id, name: user.name } }, photoIds);
}

// A photo joins the draft's store right away (state "draft"): it survives the app closing, and
// leaves with the record once the visit is finished.
export async function keepPhoto(draft, prepared, { findingId = null, purpose, fix = null }) {
  const photo = {
    id: uuid(), record_id: draft.id, finding_id: findingId, purpose, state: "draft",
    blob: prepared.blob, type: prepared.type, size: prepared.size, sha256: prepared.sha256,
    width: prepared.width, height: prepared.height, captured_at: isoWithOffset(new Date()),
    fix: fix ? { lon: fix.lon, lat: fix.lat, accuracy_m: fix.accuracy_m } : null,
    filename: `${purpose}.${prepared.type === "image/png" ? "png" : prepared.type.split("/")[1] || "jpg"}`,
  };
  await store.put("photos", photo);
  return photo;
}

export const photoOf = (id) => store.get("photos", id);

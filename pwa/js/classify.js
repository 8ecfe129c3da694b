// The 721 classifier on the phone: the preliminary tier (预判) of a finding, from the very
// rule table the server evaluates (server/domain/rules.json, sent inside /api/me/today).
// This reads the table exactly as server/domain/classify.py does (docs/rules.md, "The
// table's format"); tests/test_classify_js.py runs every shared vector through both.
// Pure: no DOM, no clock, no storage, so a worker could run it too.

export class InvalidFacts extends Error {
  constructor(errors) {
    super(Object.entries(errors).map(([name, message]) => `${name}: ${message}`).join("; "));
    this.errors = errors; // fact name -> what is wrong with it
  }
}

export class InvalidPolicy extends Error {}

const LANGUAGES = ["zh", "en"];
const PLACEHOLDER = /\{(\w+)\}/g;
const ROW_FIELDS = { code: undefined, domain: undefined, penalty_trigger: undefined, tolerance_type: undefined,
  correction_days: undefined, correction_unit: "working_days" };
const FINDING_FIELDS = { severity: undefined, harm: "none", intentional: false, obstruction: false,
  suspected_crime: false, no_fault_proven: false, corrected_on_spot: false };
const HISTORY_FIELDS = { repeats: 0, earlier_tolerance_closed: false, earlier_order_failed: false };

const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isInt = (v) => typeof v === "number" && Number.isInteger(v);

// A mapping as the server's dataclasses take it: unknown keys refused, missing required
// keys refused, the rest defaulted.
function fieldsOf(spec, source) {
  const unknown = Object.keys(source).filter((k) => !own(spec, k)).sort();
  if (unknown.length) throw new InvalidFacts(Object.fromEntries(unknown.map((k) => [k, "not a fact the classifier knows"])));
  const missing = Object.keys(spec).filter((k) => spec[k] === undefined && !own(source, k));
  if (missing.length) throw new InvalidFacts(Object.fromEntries(missing.map((k) => [k, "missing"])));
  return Object.fromEntries(Object.keys(spec).map((k) => [k, own(source, k) ? source[k] : spec[k]]));
}

function factError(table, value, spec, hasRow) {
  if (value === null || value === undefined) {
    if (spec.nullable && !hasRow) return null;
    return "required";
  }
  if (spec.type === "boolean" && typeof value !== "boolean") return "must be true or false";
  if (spec.type === "integer") {
    if (!isInt(value)) return "must be a whole number";
    if (own(spec, "minimum") && value < spec.minimum) return `must be at least ${spec.minimum}`;
  }
  if (spec.type === "string" && (typeof value !== "string" || !value)) return "must be a non-empty text";
  if (spec.type === "enum" && !table.vocabularies[spec.values].includes(value)) {
    return `must be one of ${table.vocabularies[spec.values].join(", ")}`;
  }
  return null;
}

// The flat facts the predicates read, checked against the table's vocabulary.
export function facts(table, row, finding, history = {}) {
  const r = row === null || row === undefined ? null : fieldsOf(ROW_FIELDS, row);
  const all = {
    violation_code: r ? r.code : null,
    domain: r ? r.domain : null,
    penalty_trigger: r ? r.penalty_trigger : null,
    tolerance_type: r ? r.tolerance_type : null,
    correction_days: r ? r.correction_days : null,
    correction_unit: r ? r.correction_unit : null,
    ...fieldsOf(FINDING_FIELDS, finding || {}),
    ...fieldsOf(HISTORY_FIELDS, history || {}),
  };
  const errors = {};
  for (const [name, spec] of Object.entries(table.facts)) {
    const message = factError(table, all[name], spec, r !== null);
    if (message) errors[name] = message;
  }
  if (r !== null && all.severity === "advisory") {
    errors.severity = "'advisory' is for a risk without a violation type; a breach is minor or worse";
  }
  if (Object.keys(errors).length) throw new InvalidFacts(errors);
  return all;
}

// The knobs the rules read; a key an older policy lacks takes the table's default.
export function policyValues(table, policy) {
  const given = policy || {};
  const values = {};
  for (const [key, spec] of Object.entries(table.policy_keys)) values[key] = own(given, key) ? given[key] : spec.default;
  const excluded = values.excluded_domains;
  if (!Array.isArray(excluded) || excluded.some((d) => !table.vocabularies.domains.includes(d))) {
    throw new InvalidPolicy(`excluded_domains must be a list of domains (${table.vocabularies.domains.join(", ")})`);
  }
  if (!isInt(values.repeat_threshold) || values.repeat_threshold < 1) {
    throw new InvalidPolicy("repeat_threshold must be a whole number of at least 1");
  }
  values.excluded_domains = [...new Set(excluded)].sort();
  return values;
}

function compare(spec, f, policy) {
  const value = f[spec.fact];
  if (spec.op === "is_true") return value === true;
  if (spec.op === "is_null") return value === null;
  const operand = own(spec, "policy") ? policy[spec.policy] : spec.value;
  if (value === null) return false;
  if (spec.op === "eq") return value === operand;
  if (spec.op === "in") return operand.includes(value);
  if (spec.op === "gte") return value >= operand;
  throw new Error(`unknown op ${spec.op}`);
}

export function holds(table, cond, f, policy) {
  if (typeof cond === "string") {
    const spec = table.predicates[cond];
    if (spec && typeof spec === "object" && own(spec, "fact")) return compare(spec, f, policy);
    return holds(table, spec, f, policy);
  }
  const [[key, value]] = Object.entries(cond);
  if (key === "all") return value.every((c) => holds(table, c, f, policy));
  if (key === "any") return value.some((c) => holds(table, c, f, policy));
  return !holds(table, value, f, policy);
}

function render(table, template, lang, f, policy, cited) {
  return template.replace(PLACEHOLDER, (m, name) => {
    if (name === "cited") return cited.map((p) => table.labels.predicate[p][lang]).join(table.list_separator[lang]);
    const value = own(f, name) ? f[name] : policy[name];
    if (value === null || value === undefined) return table.null_text[lang];
    const key = String(value); // a boolean reads "true" / "false", as the labels are keyed
    const label = own(table.labels, name) && own(table.labels[name], key) ? table.labels[name][key] : null;
    return label ? label[lang] : key;
  });
}

// One finding: { tier, rule_id, flags, tolerance_path, explanation_zh, explanation_en }.
// row: the catalogue row ({code, domain, penalty_trigger, tolerance_type, correction_days,
// correction_unit}) or null for an advisory finding; finding: what the inspector observed;
// history: what is known of earlier findings; policy: the policy values in force.
export function classify(table, row, finding, history, policy) {
  const f = facts(table, row, finding, history);
  const knobs = policyValues(table, policy);
  for (const rule of table.rules) {
    if (own(rule, "when") && !holds(table, rule.when, f, knobs)) continue;
    const outcome = rule.outcomes.find((o) => !own(o, "when") || holds(table, o.when, f, knobs));
    const cited = (rule.cite || []).filter((name) => holds(table, name, f, knobs));
    const texts = [rule.explain, outcome.explain, ...outcome.flags.map((flag) => table.flags[flag].explain)];
    const [zh, en] = LANGUAGES.map((lang) => texts.map((t) => render(table, t[lang], lang, f, knobs, cited))
      .join(table.joiner[lang]));
    return { tier: outcome.tier, rule_id: rule.id, flags: [...outcome.flags], tolerance_path: outcome.tolerance_path,
      explanation_zh: zh, explanation_en: en };
  }
  throw new Error("no rule matched"); // the server refuses a table whose last rule is conditional
}

// Escalation only goes up (rule E4 for an overdue order or a failed re-inspection).
export function escalate(table, currentTier, reason) {
  const esc = table.escalations[reason];
  if (!esc) throw new Error(`an escalation reason is one of ${Object.keys(table.escalations).join(", ")}, not ${reason}`);
  const rank = (tier) => table.vocabularies.tiers.indexOf(tier);
  if (rank(currentTier) < 0) throw new Error(`unknown tier ${currentTier}`);
  if (rank(esc.tier) <= rank(currentTier)) {
    return { tier: currentTier, changed: false, rule_id: null, explanation_zh: "", explanation_en: "" };
  }
  return { tier: esc.tier, changed: true, rule_id: esc.rule_id, explanation_zh: esc.explain.zh, explanation_en: esc.explain.en };
}

"""The 721 classifier (DOMAIN.md section 3): a finding's facts, its history and the policy in,
a tier, the rule that decided it, flags, the tolerance path and a reason in zh-CN and en out.

The rules live as data in rules.json beside this module, so that the phone evaluates the very
same table for its preliminary tier (预判); this module checks the input and interprets the
table. The evaluation semantics are written into the table itself ('evaluation') and in
docs/rules.md. Same input, same result: nothing here reads a clock, a database or a random
source.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .policy import DEFAULT_POLICY

RULES_PATH = Path(__file__).with_name("rules.json")
LANGUAGES = ("zh", "en")
OPS_WITH_OPERAND = ("eq", "in", "gte")
OPS_WITHOUT_OPERAND = ("is_true", "is_null")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class InvalidFacts(ValueError):
    """The finding's facts break the vocabulary; `errors` maps each fact to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))


class InvalidPolicy(ValueError):
    pass


class InvalidRules(ValueError):
    pass


@dataclass(frozen=True)
class ViolationTypeFacts:
    """What the classifier needs of a catalogue row."""

    code: str
    domain: str
    penalty_trigger: str
    tolerance_type: str
    correction_days: int
    correction_unit: str = "working_days"

    @classmethod
    def of(cls, source: Any) -> ViolationTypeFacts:
        """From a mapping (unknown keys refused) or an object with these attributes (a catalogue row)."""
        return cls(**_fields_of(cls, source))


@dataclass(frozen=True)
class FindingFacts:
    """What the inspector observed."""

    severity: str
    harm: str = "none"
    intentional: bool = False
    obstruction: bool = False
    suspected_crime: bool = False
    no_fault_proven: bool = False
    corrected_on_spot: bool = False

    @classmethod
    def of(cls, source: Any) -> FindingFacts:
        return cls(**_fields_of(cls, source))


@dataclass(frozen=True)
class History:
    """What the server looked up when the finding arrived (DOMAIN.md section 2)."""

    repeats: int = 0
    earlier_tolerance_closed: bool = False
    earlier_order_failed: bool = False

    @classmethod
    def of(cls, source: Any) -> History:
        return cls(**_fields_of(cls, source))


@dataclass(frozen=True)
class Classification:
    tier: str
    rule_id: str
    flags: tuple[str, ...]
    tolerance_path: str
    explanation_zh: str
    explanation_en: str


@dataclass(frozen=True)
class Escalation:
    """`changed` is False when the finding already stood at or above the target tier; then
    there is nothing to record, `rule_id` is None and the explanations are empty."""

    tier: str
    changed: bool
    rule_id: str | None
    explanation_zh: str
    explanation_en: str


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass instance's fields by name, in order (dataclasses.asdict without the copies)."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return {name: getattr(obj, name) for name in names}


_REQUIRED: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type, source: Any) -> dict:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if isinstance(source, Mapping):
        unknown = sorted(set(source).difference(names))
        if unknown:
            raise InvalidFacts({name: "not a fact the classifier knows" for name in unknown})
        required = _REQUIRED.get(cls)
        if required is None:
            required = _REQUIRED[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING)
        missing = [name for name in required if name not in source]
        if missing:
            raise InvalidFacts({name: "missing" for name in missing})
        return {name: source[name] for name in names if name in source}
    return {name: getattr(source, name) for name in names if hasattr(source, name)}


class RuleTable:
    """rules.json, checked when loaded so that a bad edit fails at start-up, not on a finding."""

    def __init__(self, data: Mapping):
        self.data = data
        self.version: int = data["version"]
        self.vocabularies: dict[str, list[str]] = data["vocabularies"]
        self.fact_specs: dict[str, dict] = data["facts"]
        self.policy_keys: dict[str, dict] = data["policy_keys"]
        self.predicates: dict[str, Any] = data["predicates"]
        self.flags: dict[str, dict] = data["flags"]
        self.labels: dict[str, dict] = data["labels"]
        self.rules: list[dict] = data["rules"]
        self.escalations: dict[str, dict] = data["escalations"]
        self.tiers: list[str] = self.vocabularies["tiers"]
        self._check()

    @classmethod
    def load(cls, path: Path = RULES_PATH) -> RuleTable:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @property
    def rule_ids(self) -> list[str]:
        return [rule["id"] for rule in self.rules]

    # -- checking the table -------------------------------------------------------------

    def _check(self) -> None:
        for name, spec in self.fact_specs.items():
            if spec["type"] == "enum" and spec["values"] not in self.vocabularies:
                raise InvalidRules(f"fact {name}: no vocabulary {spec['values']!r}")
        for name, spec in self.predicates.items():
            if isinstance(spec, Mapping) and "fact" in spec:
                self._check_comparison(name, spec)
            else:
                self._check_condition(spec, f"predicate {name}")
        for name in self.predicates:
            self._check_acyclic(name, ())
        seen = set()
        for i, rule in enumerate(self.rules):
            rid = rule.get("id")
            if not rid or rid in seen:
                raise InvalidRules(f"rule {i}: an id is required and must be unique ({rid!r})")
            seen.add(rid)
            if "when" in rule:
                self._check_condition(rule["when"], f"rule {rid}")
            elif i != len(self.rules) - 1:
                raise InvalidRules(f"rule {rid}: only the last rule may omit 'when' "
                                   "(the rules after it could never match)")
            for name in rule.get("cite", []):
                if name not in self.predicates or name not in self.labels.get("predicate", {}):
                    raise InvalidRules(f"rule {rid}: cites {name!r}, which is not a predicate with a label")
            self._check_texts(rule["explain"], f"rule {rid}")
            outcomes = rule.get("outcomes") or []
            if not outcomes or "when" in outcomes[-1]:
                raise InvalidRules(f"rule {rid}: the last outcome must have no 'when', so that the rule always decides")
            for outcome in outcomes:
                if "when" in outcome:
                    self._check_condition(outcome["when"], f"rule {rid} outcome")
                if outcome["tier"] not in self.tiers:
                    raise InvalidRules(f"rule {rid}: unknown tier {outcome['tier']!r}")
                if outcome["tolerance_path"] not in self.vocabularies["tolerance_paths"]:
                    raise InvalidRules(f"rule {rid}: unknown tolerance path {outcome['tolerance_path']!r}")
                for flag in outcome["flags"]:
                    if flag not in self.flags:
                        raise InvalidRules(f"rule {rid}: unknown flag {flag!r}")
                self._check_texts(outcome["explain"], f"rule {rid} outcome")
        if self.rules and "when" in self.rules[-1]:
            raise InvalidRules("the last rule must have no 'when', so that every finding gets a tier")
        for name, flag in self.flags.items():
            self._check_texts(flag["explain"], f"flag {name}")
        for reason, esc in self.escalations.items():
            if esc["tier"] not in self.tiers or esc["rule_id"] not in seen:
                raise InvalidRules(f"escalation {reason}: unknown tier or rule")
            self._check_texts(esc["explain"], f"escalation {reason}")

    def _check_comparison(self, name: str, spec: Mapping) -> None:
        if spec["fact"] not in self.fact_specs:
            raise InvalidRules(f"predicate {name}: unknown fact {spec['fact']!r}")
        op = spec.get("op")
        has_operand = ("value" in spec) + ("policy" in spec)
        if op in OPS_WITHOUT_OPERAND and has_operand == 0:
            return
        if op in OPS_WITH_OPERAND and has_operand == 1:
            if "policy" in spec and spec["policy"] not in self.policy_keys:
                raise InvalidRules(f"predicate {name}: unknown policy key {spec['policy']!r}")
            return
        raise InvalidRules(f"predicate {name}: op {op!r} with {has_operand} operands")

    def _check_condition(self, cond: Any, where: str) -> None:
        if isinstance(cond, str):
            if cond not in self.predicates:
                raise InvalidRules(f"{where}: unknown predicate {cond!r}")
            return
        if isinstance(cond, Mapping) and len(cond) == 1:
            (key, value), = cond.items()
            if key in ("all", "any") and isinstance(value, list):
                for c in value:
                    self._check_condition(c, where)
                return
            if key == "not":
                self._check_condition(value, where)
                return
        raise InvalidRules(f"{where}: a condition is a predicate name, {{all: [...]}}, {{any: [...]}} or {{not: ...}}")

    def _check_acyclic(self, name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise InvalidRules(f"predicates refer to themselves: {' -> '.join(path + (name,))}")
        spec = self.predicates[name]
        if isinstance(spec, Mapping) and "fact" in spec:
            return
        for ref in _names_in(spec):
            self._check_acyclic(ref, path + (name,))

    def _check_texts(self, texts: Mapping, where: str) -> None:
        allowed = set(self.fact_specs) | {"cited"} | {
            key for key, spec in self.policy_keys.items() if spec["type"] == "integer"}
        for lang in LANGUAGES:
            if lang not in texts:
                raise InvalidRules(f"{where}: no text in {lang}")
            for name in _PLACEHOLDER.findall(texts[lang]):
                if name not in allowed:
                    raise InvalidRules(f"{where}: unknown placeholder {{{name}}}")

    # -- input ---------------------------------------------------------------------------

    def facts(self, violation_type: ViolationTypeFacts | None, finding: FindingFacts,
              history: History) -> dict[str, Any]:
        """The flat facts the predicates read, checked against the table's vocabulary."""
        # The dataclasses' fields read as they are (not dataclasses.asdict, which deep-copies
        # every value on every call): the facts are only read.
        row = _shallow(violation_type) if violation_type is not None else {}
        facts = {
            "violation_code": row.get("code"),
            "domain": row.get("domain"),
            "penalty_trigger": row.get("penalty_trigger"),
            "tolerance_type": row.get("tolerance_type"),
            "correction_days": row.get("correction_days"),
            "correction_unit": row.get("correction_unit"),
            **_shallow(finding),
            **_shallow(history),
        }
        errors = {}
        for name, spec in self.fact_specs.items():
            message = self._fact_error(facts[name], spec, violation_type is not None)
            if message:
                errors[name] = message
        if violation_type is not None and facts["severity"] == "advisory":
            errors["severity"] = "'advisory' is for a risk without a violation type; a breach is minor or worse"
        if errors:
            raise InvalidFacts(errors)
        return facts

    def _fact_error(self, value: Any, spec: Mapping, has_row: bool) -> str | None:
        if value is None:
            if spec.get("nullable") and not has_row:
                return None
            return "required"
        kind = spec["type"]
        if kind == "boolean" and type(value) is not bool:
            return "must be true or false"
        if kind == "integer":
            if type(value) is not int:
                return "must be a whole number"
            if value < spec.get("minimum", value):
                return f"must be at least {spec['minimum']}"
        if kind == "string" and (not isinstance(value, str) or not value):
            return "must be a non-empty text"
        if kind == "enum" and value not in self.vocabularies[spec["values"]]:
            return f"must be one of {', '.join(self.vocabularies[spec['values']])}"
        return None

    def policy_values(self, policy: Mapping | None) -> dict[str, Any]:
        """The knobs the rules read; a key missing from an older policy version takes its default."""
        policy = policy or {}
        values = {key: policy.get(key, DEFAULT_POLICY[key]) for key in self.policy_keys}
        excluded = values["excluded_domains"]
        if not isinstance(excluded, (list, tuple, set, frozenset)) or any(
                d not in self.vocabularies["domains"] for d in excluded):
            known = ", ".join(self.vocabularies["domains"])
            raise InvalidPolicy(f"excluded_domains must be a list of domains ({known})")
        threshold = values["repeat_threshold"]
        if type(threshold) is not int or threshold < 1:
            raise InvalidPolicy("repeat_threshold must be a whole number of at least 1")
        values["excluded_domains"] = sorted(set(excluded))
        return values

    # -- evaluation ----------------------------------------------------------------------

    def holds(self, cond: Any, facts: Mapping, policy: Mapping) -> bool:
        if isinstance(cond, str):
            spec = self.predicates[cond]
            if isinstance(spec, Mapping) and "fact" in spec:
                return _compare(spec, facts, policy)
            return self.holds(spec, facts, policy)
        (key, value), = cond.items()
        if key == "all":
            return all(self.holds(c, facts, policy) for c in value)
        if key == "any":
            return any(self.holds(c, facts, policy) for c in value)
        return not self.holds(value, facts, policy)

    def classify(self, violation_type: ViolationTypeFacts | None, finding: FindingFacts,
                 history: History, policy: Mapping | None) -> Classification:
        facts = self.facts(violation_type, finding, history)
        knobs = self.policy_values(policy)
        for rule in self.rules:
            if "when" in rule and not self.holds(rule["when"], facts, knobs):
                continue
            outcome = next(o for o in rule["outcomes"] if "when" not in o or self.holds(o["when"], facts, knobs))
            cited = [name for name in rule.get("cite", []) if self.holds(name, facts, knobs)]
            texts = [rule["explain"], outcome["explain"], *(self.flags[f]["explain"] for f in outcome["flags"])]
            zh, en = (self.data["joiner"][lang].join(self._render(t[lang], lang, facts, knobs, cited) for t in texts)
                      for lang in LANGUAGES)
            return Classification(tier=outcome["tier"], rule_id=rule["id"], flags=tuple(outcome["flags"]),
                                  tolerance_path=outcome["tolerance_path"], explanation_zh=zh, explanation_en=en)
        raise InvalidRules("no rule matched")  # unreachable: _check demands an unconditional last rule

    def _render(self, template: str, lang: str, facts: Mapping, policy: Mapping, cited: list[str]) -> str:
        def fill(match: re.Match) -> str:
            name = match.group(1)
            if name == "cited":
                return self.data["list_separator"][lang].join(self.labels["predicate"][p][lang] for p in cited)
            value = facts[name] if name in facts else policy[name]
            if value is None:
                return self.data["null_text"][lang]
            key = ("true" if value else "false") if isinstance(value, bool) else str(value)
            label = self.labels.get(name, {}).get(key)
            return label[lang] if label else key

        return _PLACEHOLDER.sub(fill, template)

    def tier_rank(self, tier: str) -> int:
        if tier not in self.tiers:
            raise ValueError(f"a tier is one of {', '.join(self.tiers)}, not {tier!r}")
        return self.tiers.index(tier)

    def escalate(self, current_tier: str, reason: str) -> Escalation:
        if reason not in self.escalations:
            raise ValueError(f"an escalation reason is one of {', '.join(self.escalations)}, not {reason!r}")
        esc = self.escalations[reason]
        if self.tier_rank(esc["tier"]) <= self.tier_rank(current_tier):
            return Escalation(tier=current_tier, changed=False, rule_id=None, explanation_zh="", explanation_en="")
        return Escalation(tier=esc["tier"], changed=True, rule_id=esc["rule_id"],
                          explanation_zh=esc["explain"]["zh"], explanation_en=esc["explain"]["en"])


def _names_in(cond: Any) -> list[str]:
    if isinstance(cond, str):
        return [cond]
    (key, value), = cond.items()
    if key == "not":
        return _names_in(value)
    return [name for c in value for name in _names_in(c)]


def _compare(spec: Mapping, facts: Mapping, policy: Mapping) -> bool:
    value = facts[spec["fact"]]
    op = spec["op"]
    if op == "is_true":
        return value is True
    if op == "is_null":
        return value is None
    operand = policy[spec["policy"]] if "policy" in spec else spec["value"]
    if value is None:
        return False
    if op == "eq":
        return value == operand
    if op == "in":
        return value in operand
    return value >= operand  # gte; the facts were checked to be numbers where gte reads them


RULES = RuleTable.load()


def _as(cls: type, source: Any) -> Any:
    return source if isinstance(source, cls) else cls.of(source)


def classify(violation_type: Any, finding: Any, history: Any = None, policy: Mapping | None = None,
             *, table: RuleTable = RULES) -> Classification:
    """Classify one finding. `violation_type` is None for an advisory finding, else a
    ViolationTypeFacts, a mapping or a catalogue row; `finding` and `history` likewise take
    their dataclass, a mapping or an object with those attributes (a stored Finding has both).
    `policy` is the policy in force; keys it lacks take their defaults."""
    row = None if violation_type is None else _as(ViolationTypeFacts, violation_type)
    return table.classify(row, _as(FindingFacts, finding), _as(History, history or History()), policy)


def escalate(current_tier: str, reason: str, *, table: RuleTable = RULES) -> Escalation:
    """Escalation only goes up: an order overdue or a failed re-inspection makes a finding
    enforcement (rule E4); a finding already there stays, unchanged."""
    return table.escalate(current_tier, reason)


def tier_rank(tier: str) -> int:
    """service 0 < management 1 < enforcement 2."""
    return RULES.tier_rank(tier)

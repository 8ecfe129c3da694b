"""The 721 classifier: the shared vectors (which the phone runs too), the rule table as data,
and properties that must hold for any finding, history and policy."""
from __future__ import annotations

import copy
import csv
import json
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import classify as c
from server.domain.classify import (
    RULES, Classification, FindingFacts, History, InvalidFacts, InvalidPolicy, InvalidRules, RuleTable,
    ViolationTypeFacts, classify, escalate, tier_rank,
)
from server.domain.policy import DEFAULT_POLICY

VECTORS = json.loads((Path(__file__).parent / "vectors" / "classification.json").read_text(encoding="utf-8"))
BY_ID = {v["id"]: v for v in VECTORS["vectors"]}
RULE_ORDER = ["E1", "E2", "E3", "E4", "E5", "S0", "N1", "X1", "X2", "T1", "T2", "T4", "T5"]
WORKED_EXAMPLES = [  # DOMAIN.md section 3, in its order: (catalogue code, tier, rule)
    ("SAF-EXIT-BLOCKED", "enforcement", "X1"), ("FIRE-EXIT-BLOCKED", "service", "T1"),
    ("FIRE-EXIT-BLOCKED", "enforcement", "T5"), ("FIRE-HYDRANT-BLOCKED", "service", "T1"),
    ("FIRE-HYDRANT-BLOCKED", "enforcement", "E5"), ("CITY-CARWASH", "service", "T2"),
    ("CON-ACCEPT-DOCS", "management", "X2"), ("ENV-HW-LABEL", "enforcement", "X1"),
    ("FIRE-ELEC-WIRING", "management", "T4"), ("MKT-PRICE-TAG", "management", "N1"),
    (None, "service", "S0"), ("ENV-HIDDEN-PIPE", "enforcement", "E3"),
]


def run(vector: dict, table: RuleTable = RULES) -> Classification:
    return classify(vector["violation_type"], vector["finding"], vector["history"], vector["policy"], table=table)


# -- the shared vectors -----------------------------------------------------------------------

@pytest.mark.parametrize("vid", list(BY_ID))
def test_vector(vid):
    vector = BY_ID[vid]
    result = run(vector)
    expect = vector["expect"]
    assert (result.tier, result.rule_id, list(result.flags), result.tolerance_path) == (
        expect["tier"], expect["rule_id"], expect["flags"], expect["tolerance_path"]), vector["about"]
    # The supervisor sees which rule decided, in both languages.
    assert result.explanation_zh.startswith(result.rule_id + "：")
    assert result.explanation_en.startswith(result.rule_id + ": ")
    for lang, texts in expect.get("explanation_mentions", {}).items():
        explanation = getattr(result, f"explanation_{lang}")
        for text in texts:
            assert text in explanation, (lang, text, explanation)


def test_every_worked_example_is_a_vector_with_its_stated_result():
    worked = [v for v in VECTORS["vectors"] if v["id"].startswith("W")]
    assert [v["id"] for v in worked] == [f"W{i:02d}" for i in range(1, 13)]
    got = [((v["violation_type"] or {}).get("code"), v["expect"]["tier"], v["expect"]["rule_id"]) for v in worked]
    assert got == WORKED_EXAMPLES
    # Two carry the statutory minor review flag in DOMAIN.md: the exit (safety) and the labels.
    assert [v["id"] for v in worked if "statutory_minor_review" in v["expect"]["flags"]] == ["W01", "W08"]


def test_vector_rows_are_the_catalogue_rows(shared_fixtures):
    with open(shared_fixtures / "catalogue.csv", encoding="utf-8", newline="") as f:
        catalogue = {row["code"]: row for row in csv.DictReader(f)}
    checked = set()
    for vector in VECTORS["vectors"]:
        row = vector["violation_type"]
        if row is None:
            continue
        if row["code"].startswith("TEST-"):
            assert row["code"] not in catalogue
            continue
        real = catalogue[row["code"]]
        for field in ("domain", "penalty_trigger", "tolerance_type"):
            assert row[field] == real[field], (row["code"], field)
        assert row["correction_days"] == int(real["correction_days"]), row["code"]
        assert row["correction_unit"] == "working_days"  # the CSV has no unit column: the default
        checked.add(row["code"])
    assert len(checked) >= 20


def test_vectors_cover_every_rule_flag_path_and_refinement():
    expects = [v["expect"] for v in VECTORS["vectors"]]
    assert {e["rule_id"] for e in expects} == set(RULE_ORDER)
    assert {f for e in expects for f in e["flags"]} == set(RULES.flags)
    assert {e["tolerance_path"] for e in expects} == set(RULES.vocabularies["tolerance_paths"])
    sources = {v["source"] for v in VECTORS["vectors"]}
    assert {"zero-day rows", "no second waiver", "statutory minor review", "boundary"} <= sources
    # Threshold exactly 2 is enforcement; one below is not E5.
    assert BY_ID["E5-a"]["history"]["repeats"] == BY_ID["E5-a"]["policy"]["repeat_threshold"] == 2
    assert BY_ID["E5-b"]["history"]["repeats"] == 1 and BY_ID["E5-b"]["expect"]["rule_id"] != "E5"


@pytest.mark.parametrize("case", VECTORS["escalations"], ids=lambda e: f"{e['current_tier']}-{e['reason']}")
def test_escalation_vector(case):
    result = escalate(case["current_tier"], case["reason"])
    assert (result.tier, result.changed, result.rule_id) == (
        case["expect"]["tier"], case["expect"]["changed"], case["expect"]["rule_id"])
    assert bool(result.explanation_zh) == bool(result.explanation_en) == result.changed


# -- the table as data ------------------------------------------------------------------------

def test_rules_are_in_the_order_of_domain_md():
    assert RULES.rule_ids == RULE_ORDER
    assert RULES.version == VECTORS["rules_version"]


def test_table_vocabularies_match_the_data_model():
    from server.domain import workdays
    from server.models import vocab

    expected = {
        "domains": vocab.DOMAINS, "severities": vocab.SEVERITIES, "harms": vocab.HARMS, "tiers": vocab.TIERS,
        "penalty_triggers": vocab.PENALTY_TRIGGERS, "tolerance_types": vocab.TOLERANCE_TYPES,
        "correction_units": vocab.CORRECTION_UNITS, "tolerance_paths": vocab.TOLERANCE_PATHS,
    }
    assert {k: tuple(v) for k, v in RULES.vocabularies.items()} == expected
    assert workdays.CORRECTION_UNITS == vocab.CORRECTION_UNITS


def test_policy_knobs_of_the_table_are_the_policy_defaults():
    for key, spec in RULES.policy_keys.items():
        assert spec["default"] == DEFAULT_POLICY[key]


def test_the_table_decides_not_the_code():
    data = copy.deepcopy(RULES.data)
    data["rules"] = [r for r in data["rules"] if r["id"] != "E5"]
    without_e5 = RuleTable(data)
    # The hydrant fenced in a third time, not cleared: without E5 it falls to T5.
    assert run(BY_ID["W05"], without_e5).rule_id == "T5"
    data = copy.deepcopy(RULES.data)
    next(r for r in data["rules"] if r["id"] == "T4")["outcomes"][0]["tier"] = "service"
    assert run(BY_ID["W09"], RuleTable(data)).tier == "service"


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["rules"][0].update(when="no_such_predicate"), "unknown predicate"),
    (lambda d: d["predicates"].update(loop_a={"all": ["loop_b"]}, loop_b={"not": "loop_a"}), "refer to themselves"),
    (lambda d: d["rules"][-1].update(when="suspected_crime"), "last rule"),
    (lambda d: d["rules"][3].pop("when"), "only the last rule"),
    (lambda d: d["rules"][0]["outcomes"][0]["flags"].append("no_such_flag"), "unknown flag"),
    (lambda d: d["rules"][0]["outcomes"][0].update(tier="punishment"), "unknown tier"),
    (lambda d: d["rules"][0]["explain"].update(en="E1: {no_such_fact}"), "unknown placeholder"),
    (lambda d: d["rules"][0]["explain"].pop("zh"), "no text in zh"),
    (lambda d: d["predicates"]["major_hazard"].update(op="matches"), "op 'matches'"),
    (lambda d: d["predicates"]["excluded_domain"].update(policy="no_such_knob"), "unknown policy key"),
    (lambda d: d["rules"][1].update(id="E1"), "unique"),
    (lambda d: d["rules"][7]["outcomes"].reverse(), "last outcome"),
])
def test_a_broken_table_is_refused_when_loaded(breakage, message):
    data = copy.deepcopy(RULES.data)
    breakage(data)
    with pytest.raises(InvalidRules, match=message):
        RuleTable(data)


# -- input --------------------------------------------------------------------------------------

ROW = BY_ID["W01"]["violation_type"]


@pytest.mark.parametrize("row, finding, history, field", [
    (ROW, {"severity": "advisory"}, {}, "severity"),
    (ROW, {"severity": "tiny"}, {}, "severity"),
    (ROW, {"severity": "minor", "harm": "some"}, {}, "harm"),
    (ROW, {"severity": "minor", "intentional": "yes"}, {}, "intentional"),
    (ROW, {"severity": "minor"}, {"repeats": -1}, "repeats"),
    (ROW, {"severity": "minor"}, {"repeats": True}, "repeats"),
    (ROW, {"severity": "minor", "corected_on_spot": True}, {}, "corected_on_spot"),
    (ROW, {"harm": "none"}, {}, "severity"),
    ({**ROW, "domain": "space"}, {"severity": "minor"}, {}, "domain"),
    ({**ROW, "correction_days": -1}, {"severity": "minor"}, {}, "correction_days"),
    ({**ROW, "correction_unit": "weeks"}, {"severity": "minor"}, {}, "correction_unit"),
    ({**ROW, "code": ""}, {"severity": "minor"}, {}, "violation_code"),
])
def test_bad_facts_are_refused_naming_the_fact(row, finding, history, field):
    with pytest.raises(InvalidFacts) as caught:
        classify(row, finding, history)
    assert field in caught.value.errors


@pytest.mark.parametrize("policy", [
    {"repeat_threshold": 0}, {"repeat_threshold": "2"}, {"excluded_domains": ["space"]}, {"excluded_domains": "safety"},
])
def test_bad_policy_is_refused(policy):
    with pytest.raises(InvalidPolicy):
        classify(ROW, {"severity": "minor"}, {}, policy)


def test_missing_policy_keys_take_their_defaults():
    vector = BY_ID["W05"]
    assert classify(vector["violation_type"], vector["finding"], vector["history"], {}) == run(vector)
    assert classify(vector["violation_type"], vector["finding"], vector["history"], None) == run(vector)


def test_stored_rows_and_findings_classify_like_mappings():
    """The service passes a catalogue row and a stored Finding (which carries the history too)."""
    vector = BY_ID["T1-b"]
    row = types.SimpleNamespace(id=7, name_zh="…", **vector["violation_type"])
    finding = types.SimpleNamespace(note="…", **vector["finding"], **vector["history"])
    assert classify(row, finding, finding, vector["policy"]) == run(vector)
    typed = classify(ViolationTypeFacts(**vector["violation_type"]), FindingFacts(**vector["finding"]),
                     History(**vector["history"]), vector["policy"])
    assert typed == run(vector)


def test_e3_names_only_the_facts_that_are_true():
    result = run(BY_ID["E3-b"])
    assert "obstruction" in result.explanation_en and "intentional" not in result.explanation_en
    assert "阻碍" in result.explanation_zh and "故意" not in result.explanation_zh


# -- escalation ---------------------------------------------------------------------------------

def test_tier_rank_orders_the_tiers():
    assert [tier_rank(t) for t in ("service", "management", "enforcement")] == [0, 1, 2]
    with pytest.raises(ValueError):
        tier_rank("punishment")


def test_escalation_refuses_unknown_reasons_and_tiers():
    with pytest.raises(ValueError, match="reason"):
        escalate("management", "supervisor_felt_like_it")
    with pytest.raises(ValueError, match="tier"):
        escalate("punishment", "order_overdue")


# -- properties -----------------------------------------------------------------------------------

DOMAINS = RULES.vocabularies["domains"]
TIERS = RULES.tiers
E_RULES = {"E1", "E2", "E3", "E4", "E5"}


@st.composite
def cases(draw, row_required: bool = False):
    row = draw(st.builds(
        ViolationTypeFacts,
        code=st.sampled_from(["SAF-EXIT-BLOCKED", "FIRE-EXIT-BLOCKED", "CITY-CARWASH", "TEST-ROW"]),
        domain=st.sampled_from(DOMAINS),
        penalty_trigger=st.sampled_from(RULES.vocabularies["penalty_triggers"]),
        tolerance_type=st.sampled_from(RULES.vocabularies["tolerance_types"]),
        correction_days=st.sampled_from([0, 0, 1, 5, 10, 30]),
        correction_unit=st.sampled_from(RULES.vocabularies["correction_units"]),
    ))
    if not row_required and draw(st.integers(0, 9)) == 0:
        row = None
    severities = RULES.vocabularies["severities"] if row is None else RULES.vocabularies["severities"][1:]
    rare = st.integers(0, 5).map(lambda n: n == 0)  # the aggravating facts are rare, so T-rules get reached
    finding = FindingFacts(
        severity=draw(st.sampled_from(severities)), harm=draw(st.sampled_from(RULES.vocabularies["harms"])),
        intentional=draw(rare), obstruction=draw(rare), suspected_crime=draw(rare),
        no_fault_proven=draw(rare), corrected_on_spot=draw(st.booleans()),
    )
    history = History(repeats=draw(st.integers(0, 4)), earlier_tolerance_closed=draw(st.booleans()),
                      earlier_order_failed=draw(rare))
    policy = {"excluded_domains": sorted(draw(st.sets(st.sampled_from(DOMAINS)))),
              "repeat_threshold": draw(st.integers(1, 4))}
    return row, finding, history, policy


def statutory_minor(finding: FindingFacts) -> bool:
    return finding.severity == "minor" and finding.harm == "none" and finding.corrected_on_spot


@given(st.sampled_from(TIERS), st.sampled_from(list(RULES.escalations)))
def test_escalation_never_lowers_a_tier(tier, reason):
    result = escalate(tier, reason)
    assert tier_rank(result.tier) >= tier_rank(tier)
    assert result.tier == "enforcement"
    assert result.changed == (result.tier != tier)


@settings(max_examples=200)
@given(cases(row_required=True))
def test_an_excluded_domain_never_takes_the_tolerance_path(case):
    row, finding, history, policy = case
    policy = {**policy, "excluded_domains": sorted(set(policy["excluded_domains"]) | {row.domain})}
    result = classify(row, finding, history, policy)
    assert result.tolerance_path == "none"
    assert result.rule_id not in ("T1", "T2")
    assert result.tier != "service"  # service comes only from S0, T1 and T2


@settings(max_examples=200)
@given(cases())
def test_statutory_minor_review_flag_exactly_when_x1_or_t5_meets_a_minor_harmless_corrected_finding(case):
    row, finding, history, policy = case
    result = classify(row, finding, history, policy)
    flagged = "statutory_minor_review" in result.flags
    assert flagged == (result.rule_id in ("X1", "T5") and statutory_minor(finding))


@settings(max_examples=200)
@given(cases())
def test_the_same_facts_and_policy_always_give_the_same_result(case):
    row, finding, history, policy = case
    first = classify(row, finding, history, policy)
    # Equal input built afresh, the policy's keys in another order with unrelated knobs changed,
    # and a table loaded afresh from the file.
    again = classify(None if row is None else ViolationTypeFacts(**vars(row)), FindingFacts(**vars(finding)),
                     History(**vars(history)),
                     {**dict(reversed(list(policy.items()))), "geofence_radius_m": 1, "target_mix": {}},
                     table=RuleTable.load())
    assert again == first


@settings(max_examples=200)
@given(cases(row_required=True), st.sets(st.sampled_from(DOMAINS)))
def test_excluding_a_domain_moves_its_findings_to_x1_or_x2_unless_an_earlier_rule_decides(case, others):
    row, finding, history, policy = case
    others = others - {row.domain}
    inside = classify(row, finding, history, {**policy, "excluded_domains": sorted(others | {row.domain})})
    outside = classify(row, finding, history, {**policy, "excluded_domains": sorted(others)})
    assert outside.rule_id not in ("X1", "X2")
    if outside.rule_id in E_RULES | {"N1"}:
        assert inside == outside
    else:
        assert inside.rule_id == ("X1" if row.penalty_trigger == "immediate" else "X2")
    # Only the finding's own domain matters: excluding other domains or not changes nothing.
    assert classify(row, finding, history, {**policy, "excluded_domains": [row.domain]}) == inside
    assert classify(row, finding, history, {**policy, "excluded_domains": []}) == outside


@settings(max_examples=200)
@given(cases())
def test_the_refinements_hold_for_every_finding(case):
    row, finding, history, policy = case
    result = classify(row, finding, history, policy)
    if row is not None and row.correction_days == 0 and not finding.corrected_on_spot:
        assert result.rule_id not in ("T1", "T2")  # zero-day rows admit only on-the-spot correction
    if history.earlier_tolerance_closed:
        assert result.rule_id not in ("T1", "T2")  # no second waiver
    if result.tolerance_path != "none":
        assert result.rule_id in ("T1", "T2")
    if result.tier == "service":
        assert result.rule_id in ("S0", "T1", "T2")
    if history.repeats >= policy["repeat_threshold"]:
        assert result.rule_id in E_RULES


def domain_md(row, f: FindingFacts, h: History, p: dict) -> tuple:
    """DOMAIN.md section 3 written out as plain code, with the decisions of docs/rules.md:
    an oracle that shares nothing with the table or its interpreter."""
    review = ["statutory_minor_review"] if statutory_minor(f) else []
    if f.suspected_crime:
        return "E1", "enforcement", "none", ["transfer_judicial"]
    if f.severity == "major_hazard":
        return "E2", "enforcement", "none", ["immediate_measures"]
    if f.harm == "significant" or f.intentional or f.obstruction:
        return "E3", "enforcement", "none", []
    if h.earlier_order_failed:
        return "E4", "enforcement", "none", []
    if h.repeats >= p["repeat_threshold"]:
        return "E5", "enforcement", "none", []
    if row is None:
        return "S0", "service", "none", []
    if f.no_fault_proven:
        return "N1", "management", "none", ["no_penalty_decision"]
    if row.domain in p["excluded_domains"]:
        if row.penalty_trigger == "immediate":
            return "X1", "enforcement", "none", review
        return "X2", "management", "none", []
    in_time = f.corrected_on_spot or row.correction_days > 0
    if (row.tolerance_type == "minor_no_harm" and f.severity == "minor" and f.harm == "none"
            and not h.earlier_tolerance_closed and in_time):
        if f.corrected_on_spot:
            return "T1", "service", "service_on_spot", []
        return "T1", "management", "no_penalty_if_corrected", []
    if (row.tolerance_type == "first_offense" and h.repeats == 0 and not h.earlier_tolerance_closed
            and f.severity == "minor" and f.harm in ("none", "minor") and not f.intentional and in_time):
        if f.corrected_on_spot and f.harm == "none":
            return "T2", "service", "service_on_spot", []
        return "T2", "management", "no_penalty_if_corrected", []
    if row.penalty_trigger in ("on_overdue", "none"):
        return "T4", "management", "none", []
    return "T5", "enforcement", "none", review


@settings(max_examples=400)
@given(cases())
def test_the_table_agrees_with_domain_md_written_as_code(case):
    row, finding, history, policy = case
    result = classify(row, finding, history, policy)
    assert (result.rule_id, result.tier, result.tolerance_path, list(result.flags)) == domain_md(*case)


def test_docs_list_every_rule_and_the_result_of_every_worked_example():
    text = (Path(__file__).parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert all(rule_id in rows for rule_id in RULE_ORDER)
    for vid in [f"W{i:02d}" for i in range(1, 13)]:
        expect = BY_ID[vid]["expect"]
        assert f"{expect['tier']} {expect['rule_id']}" in rows[vid], vid
        for flag in expect["flags"]:
            assert flag in rows[vid], vid


def test_module_table_is_the_file_beside_it():
    assert c.RULES_PATH.name == "rules.json" and c.RULES_PATH.parent.name == "domain"
    assert RuleTable.load().data == RULES.data

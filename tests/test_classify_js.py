"""The phone's preliminary tier (预判) and on-site verdict, run in real Chromium.

pwa/js/classify.js must read server/domain/rules.json exactly as server/domain/classify.py
does: every shared vector of tests/vectors/classification.json (the same file the server's
tests run) gives the expected tier, rule, flags and path, and the very explanation the server
writes; so do a few thousand generated findings, bad facts are refused naming the same facts,
and escalations agree. pwa/js/onsite.js gives the server's distance and verdict
(server/domain/geofence.py) for fixes around a site. No database: only the app's static files
are served.
"""
from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from server.domain import geofence
from server.domain.classify import RULES, InvalidFacts, InvalidPolicy, classify, escalate
from server.domain.geo import destination
from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
VECTORS = json.loads((Path(__file__).parent / "vectors" / "classification.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def static_url():
    from flask import Flask

    from server.pwa_static import bp

    app = Flask(__name__)
    app.register_blueprint(bp)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(static_url):
    need(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing (Debian package chromium), so the browser tests cannot run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page()
        # A same-origin document that is not the app (which would start its service worker).
        pg.goto(f"{static_url}/manifest.webmanifest")
        pg.evaluate("""async () => {
            window.classifier = await import("/js/classify.js");
            window.onsite = await import("/js/onsite.js");
        }""")
        yield pg
        browser.close()


def run_js(page, cases: list[dict]) -> list[dict]:
    """Each case {row, finding, history, policy} through classify.js: its result, or its error."""
    return page.evaluate("""([table, cases]) => cases.map((c) => {
        try {
            return { result: window.classifier.classify(table, c.row, c.finding, c.history, c.policy) };
        } catch (err) {
            return { error: err.constructor.name, errors: err.errors || null, message: err.message };
        }
    })""", [RULES.data, cases])


def run_py(case: dict) -> dict:
    try:
        r = classify(case["row"], case["finding"], case["history"], case["policy"])
    except InvalidFacts as e:
        return {"error": "InvalidFacts", "errors": e.errors}
    except InvalidPolicy as e:
        return {"error": "InvalidPolicy", "message": str(e)}
    return {"result": {"tier": r.tier, "rule_id": r.rule_id, "flags": list(r.flags), "tolerance_path": r.tolerance_path,
                       "explanation_zh": r.explanation_zh, "explanation_en": r.explanation_en}}


def as_case(vector: dict) -> dict:
    return {"row": vector["violation_type"], "finding": vector["finding"], "history": vector["history"],
            "policy": vector["policy"]}


def test_every_shared_vector_gives_the_expected_result_and_the_servers_explanation(page):
    vectors = VECTORS["vectors"]
    assert len(vectors) >= 60
    answers = run_js(page, [as_case(v) for v in vectors])
    for vector, answer in zip(vectors, answers):
        assert "result" in answer, (vector["id"], answer)
        got = answer["result"]
        expect = vector["expect"]
        assert (got["tier"], got["rule_id"], got["flags"], got["tolerance_path"]) == (
            expect["tier"], expect["rule_id"], expect["flags"], expect["tolerance_path"]), (vector["id"], vector["about"])
        for lang, texts in expect.get("explanation_mentions", {}).items():
            for text in texts:
                assert text in got[f"explanation_{lang}"], (vector["id"], lang, text)
        # Word for word what the server stores, in both languages.
        assert got == run_py(as_case(vector))["result"], vector["id"]


def test_the_escalation_vectors(page):
    cases = VECTORS["escalations"]
    got = page.evaluate("""([table, cases]) => cases.map((c) => window.classifier.escalate(table, c.current_tier, c.reason))""",
                        [RULES.data, cases])
    for case, result in zip(cases, got):
        assert (result["tier"], result["changed"], result["rule_id"]) == (
            case["expect"]["tier"], case["expect"]["changed"], case["expect"]["rule_id"]), case
        server = escalate(case["current_tier"], case["reason"])
        assert (result["explanation_zh"], result["explanation_en"]) == (server.explanation_zh, server.explanation_en)


def _random_case(rng: random.Random, rows: list[dict]) -> dict:
    voc = RULES.vocabularies
    row = None if rng.random() < 0.15 else dict(rng.choice(rows))
    if row is not None and rng.random() < 0.3:
        row["correction_days"] = rng.choice([0, 0, 3, 15])
        row["penalty_trigger"] = rng.choice(voc["penalty_triggers"])
        row["tolerance_type"] = rng.choice(voc["tolerance_types"])
        row["correction_unit"] = rng.choice(voc["correction_units"])
    severities = voc["severities"] if row is None else [s for s in voc["severities"] if s != "advisory"]
    finding = {"severity": rng.choice(severities), "harm": rng.choice(voc["harms"])}
    for flag in ("intentional", "obstruction", "suspected_crime", "no_fault_proven", "corrected_on_spot"):
        # Mostly false, as in the field: the later rules only decide when the early ones do not match.
        finding[flag] = rng.random() < (0.5 if flag == "corrected_on_spot" else 0.1)
    history = {"repeats": rng.choice([0, 0, 0, 1, 2, 3]), "earlier_tolerance_closed": rng.random() < 0.2,
               "earlier_order_failed": rng.random() < 0.1}
    policy = {"excluded_domains": rng.sample(voc["domains"], rng.randint(0, 3)), "repeat_threshold": rng.randint(1, 4)}
    if rng.random() < 0.2:
        policy = {}  # an older policy version without the knobs: the table's defaults
    return {"row": row, "finding": finding, "history": history, "policy": policy}


def test_generated_findings_are_classified_as_the_server_does(page):
    rows = [v["violation_type"] for v in VECTORS["vectors"] if v["violation_type"]]
    rng = random.Random(721)
    cases = [_random_case(rng, rows) for _ in range(3000)]
    answers = run_js(page, cases)
    rules_seen = set()
    for case, answer in zip(cases, answers):
        expected = run_py(case)
        assert answer.get("result") == expected.get("result"), (case, answer, expected)
        rules_seen.add(expected["result"]["rule_id"])
    assert rules_seen == set(RULES.rule_ids), "the generated findings must reach every rule"


@pytest.mark.parametrize("case", [
    {"row": None, "finding": {"harm": "none"}, "history": {}, "policy": {}},  # no severity
    {"row": None, "finding": {"severity": "minor", "mood": "bad"}, "history": {}, "policy": {}},
    {"row": {"code": "SAF-EXIT-BLOCKED", "domain": "safety", "penalty_trigger": "immediate", "tolerance_type": "none",
             "correction_days": 5}, "finding": {"severity": "advisory"}, "history": {}, "policy": {}},
    {"row": None, "finding": {"severity": "catastrophic", "harm": "some", "intentional": "yes"},
     "history": {"repeats": -1}, "policy": {}},
    {"row": None, "finding": {"severity": "minor"}, "history": {"repeats": 1.5, "earlier_order_failed": None},
     "policy": {}},
    {"row": {"code": "", "domain": "space", "penalty_trigger": "immediate", "tolerance_type": "none",
             "correction_days": -2}, "finding": {"severity": "minor"}, "history": {}, "policy": {}},
], ids=["missing-severity", "unknown-fact", "advisory-with-row", "bad-values", "bad-history", "bad-row"])
def test_bad_facts_are_refused_naming_the_same_facts(page, case):
    answer = run_js(page, [case])[0]
    expected = run_py(case)
    assert answer.get("error") == "InvalidFacts", answer
    assert answer["errors"] == expected["errors"]


@pytest.mark.parametrize("policy", [{"repeat_threshold": 0}, {"repeat_threshold": "2"},
                                    {"excluded_domains": ["space"]}, {"excluded_domains": "safety"}])
def test_a_bad_policy_is_refused(page, policy):
    case = {"row": None, "finding": {"severity": "minor"}, "history": {}, "policy": policy}
    answer = run_js(page, [case])[0]
    assert answer.get("error") == "InvalidPolicy" == run_py(case)["error"]
    assert answer["message"] == run_py(case)["message"]


SITE = (119.160, 32.260)
RADIUS, THRESHOLD = 150.0, 50.0


def _fixes() -> list[tuple[float, float, float | None] | None]:
    fixes: list = [None]
    for metres in (0, 3, 149.9, 150.0, 150.04, 150.06, 151, 299.9, 300, 300.1, 2500, 40_000):
        for bearing in (0, 45, 137, 270):
            lon, lat = destination(SITE[0], SITE[1], bearing, metres)
            for accuracy in (8.0, 50.0, 50.5, None):
                fixes.append((lon, lat, accuracy))
    return fixes


def test_the_phone_proves_presence_as_the_server_does(page):
    fixes = _fixes()
    got = page.evaluate("""([fixes, site, fence]) => fixes.map((f) => window.onsite.prove(
            f && { lon: f[0], lat: f[1], accuracy_m: f[2] }, { lon: site[0], lat: site[1] }, fence))""",
                        [fixes, SITE, {"radius_m": RADIUS, "accuracy_threshold_m": THRESHOLD,
                                       "near_factor": geofence.NEAR_FACTOR}])
    verdicts = set()
    for fix, phone in zip(fixes, got):
        server = geofence.prove(fix, SITE, RADIUS, THRESHOLD)
        assert (phone["verdict"], phone["distance_m"]) == (server.verdict, server.distance_m), fix
        verdicts.add(server.verdict)
    assert verdicts == set(geofence.VERDICTS)

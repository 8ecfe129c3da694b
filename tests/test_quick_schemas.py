"""The quick paths of the sync schemas answer exactly as marshmallow does.

`QuickLoad` (schemas/common.py) reads a valid visit record without marshmallow's per-load
bookkeeping and hands anything else to the schema; `QuickDumpSchema` dumps the sync answer
without it where a value is already what its field makes of it. Both are checked against
the plain marshmallow path on the same input: records as the phone sends them, each with
one of many changes (wrong types, unknown keys, NUL, missing fields, defaults, values the
fields convert), and answers with every status and every kind of value.
"""
from __future__ import annotations

import copy
import datetime as dt
import uuid

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import common
from schemas.common import QuickLoad
from schemas.sync import SyncAnswerSchema, VisitRecordSchema

SCHEMA = VisitRecordSchema()
QUICK = QuickLoad(SCHEMA)


def record(n_findings: int = 2) -> dict:
    start = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return {
        "id": str(uuid.uuid4()), "site_id": 7, "kind": "routine", "officer_ids": [3, 4],
        "certificates_shown": True, "started_at": start.isoformat(),
        "finished_at": (start + dt.timedelta(minutes=20)).isoformat(),
        "location": {"lon": 119.2, "lat": 32.3, "accuracy_m": 12.5},
        "results": [{"item": "SAF-012", "outcome": "fail"}, {"item": "SAF-001", "outcome": "pass"}],
        "findings": [{
            "id": str(uuid.uuid4()), "item": "SAF-012", "violation_code": "SAF-EXIT-BLOCKED", "domain": "safety",
            "severity": "minor", "harm": "none", "corrected_on_spot": True, "note": "通道堵塞",
            "photo_ids": [str(uuid.uuid4())],
        } for _ in range(n_findings)],
        "record": {"party_signature_photo_id": None, "party_refused": False},
    }


def full_load(raw):
    try:
        return "ok", SCHEMA.load(raw)
    except ma.ValidationError as e:
        return "error", e.messages


def assert_same(raw) -> bool:
    """The quick load answers None (the schema decides) or exactly the schema's result, keys in
    the same order; answers whether it took the quick path."""
    quick = QUICK(copy.deepcopy(raw))
    status, full = full_load(copy.deepcopy(raw))
    if quick is None:
        return False
    assert status == "ok", f"quick accepted what the schema refuses: {full}"
    assert repr(quick) == repr(full)  # the values, their types and the keys' order
    return True


def _set(path, value):
    def change(r):
        node = r
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop(path):
    def change(r):
        node = r
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
    return change


CHANGES = [
    lambda r: None,
    _drop(("kind",)), _drop(("id",)), _drop(("record",)), _drop(("results",)), _drop(("location",)),
    _drop(("findings", 0, "harm")), _drop(("findings", 0, "note")), _drop(("findings", 0, "severity")),
    _set(("site_id",), "5"), _set(("site_id",), True), _set(("site_id",), 2.0), _set(("site_id",), 0),
    _set(("site_id",), 2**40), _set(("surprise",), 1), _set(("findings", 0, "surprise"), 1),
    _set(("findings", 0, "note"), "  padded  "), _set(("findings", 0, "note"), "a\x00b"),
    _set(("record", "x"), "\x00"), _set(("findings", 0, "item"), "   "), _set(("findings", 0, "item"), None),
    _set(("findings", 0, "photo_ids"), ["not-a-uuid"]), _set(("findings", 0, "photo_ids"), None),
    _set(("location",), None), _set(("location",), {"lon": 1, "lat": 2}), _set(("location",), [1, 2]),
    _set(("location", "lat"), 91), _set(("location", "accuracy_m"), None), _set(("location", "lon"), "1.5"),
    _set(("started_at",), "2026-11-26T09:00:00"), _set(("finished_at",), "1960-01-01T00:00:00Z"),
    _set(("finished_at",), "2026-11-26T08:00:00+08:00"), _set(("kind",), "reinspection"), _set(("kind",), "nope"),
    _set(("order_id",), 4), _set(("checklist_id",), 3), _set(("certificates_shown",), "yes"),
    _set(("certificates_shown",), 1), _set(("officer_ids",), []), _set(("officer_ids",), [3, 3]),
    _set(("officer_ids",), ["3"]), _set(("results",), None), _set(("results",), "x"), _set(("results",), ["x"]),
    _set(("results", 0, "outcome"), "maybe"), _set(("findings",), [{}]), _set(("findings", 0, "domain"), "fire"),
    _set(("findings", 0, "severity"), None), _set(("findings", 0, "intentional"), "true"),
    _set(("record", "party_signature_photo_id"), str(uuid.uuid4())),
    _set(("record", "party_refused"), True),
    _set(("id",), "{%s}" % uuid.uuid4()), _set(("id",), uuid.uuid4().hex), _set(("id",), str(uuid.uuid4()).upper()),
    _set(("location", "lon"), float("nan")), _set(("location", "lat"), float("inf")), _set(("location", "lat"), 32),
    _set(("findings", 0, "photo_ids"), [5]), _set(("findings", 0, "photo_ids"), [str(uuid.uuid4()).upper()]),
    _set(("findings", 0, "id"), "urn:uuid:" + str(uuid.uuid4())), _set(("findings", 0, "id"), 7),
    _set(("note",), "x" * 4001), _set(("note",), "  \t "), _set(("note",), 4), _set(("photo_ids",), [str(uuid.uuid4())] * 2), _set(("corrects_id",), None),
]


@pytest.mark.parametrize("change", range(len(CHANGES)))
def test_a_record_loads_quickly_only_as_the_schema_loads_it(change):
    raw = record()
    CHANGES[change](raw)
    assert_same(raw)


def test_a_plain_record_takes_the_quick_path():
    assert QUICK.usable
    assert assert_same(record())
    assert assert_same(record(0))
    raw = record()
    raw["corrects_id"] = raw["id"]  # refused by the schema's own check: the quick path steps aside
    assert not assert_same(raw)


def test_nul_anywhere_is_refused_with_its_path():
    raw = record()
    raw["findings"][1]["note"] = "x\x00"
    raw["results"][0]["item"] = "\x00"
    assert QUICK(raw) is None
    with pytest.raises(ma.ValidationError) as e:
        SCHEMA.load(raw)
    assert e.value.messages == {"findings.1.note": ["must not contain the NUL character (\\u0000)"],
                                "results.0.item": ["must not contain the NUL character (\\u0000)"]}
    # The walk of a nested schema is skipped only inside the load whose hook walked it: the
    # next load walks again.
    assert SCHEMA.load(record())["kind"] == "routine"
    with pytest.raises(ma.ValidationError):
        SCHEMA.load(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**33) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6)
KEYS = ["id", "site_id", "kind", "officer_ids", "started_at", "finished_at", "location", "results", "findings",
        "record", "note", "photo_ids", "certificates_shown", "plan_stop_id", "checklist_id"]
FINDING_KEYS = ["id", "item", "violation_code", "domain", "severity", "harm", "note", "photo_ids", "intentional"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(KEYS), json_values, st.sampled_from(FINDING_KEYS), json_values)
def test_any_value_anywhere_loads_as_the_schema_loads_it(key, value, fkey, fvalue):
    raw = record()
    raw[key] = value
    assert_same(raw)
    raw = record()
    raw["findings"][0][fkey] = fvalue
    assert_same(raw)


def answer() -> dict:
    receipt = {
        "id": str(uuid.uuid4()), "received_at": "2026-11-26T01:00:00+00:00", "site_id": 7, "plan_stop_id": None,
        "on_site": {"verdict": "on_site", "distance_m": 12.25, "accuracy_m": 10, "radius_m": 150,
                    "accuracy_threshold_m": 50.0, "extra": "not in the schema"},
        "clock": {"skew_s": 3.5, "flagged": False, "tolerance_h": 2},
        "findings": [{"id": str(uuid.uuid4()), "domain": "safety", "violation_code": None, "suggested_tier": "service",
                      "final_tier": "service", "rule_id": "S1", "flags": ["a", "b"], "tolerance_path": "none",
                      "explanation_zh": "说明", "explanation_en": "why", "correction_deadline": "2026-12-01",
                      "policy_version": 1, "photos_waiting": 1}],
        "reinspection": None,
        "photos_waiting": [str(uuid.uuid4())],
    }
    return {"received_at": "2026-11-26T01:00:00+00:00",
            "counts": {"created": 1, "duplicate": 1, "conflict": 1, "rejected": 1},
            "results": [
                {"index": 0, "id": receipt["id"], "status": "created", "visit": receipt},
                {"index": 1, "id": None, "status": "duplicate", "visit": {**receipt, "reinspection": {
                    "id": 4, "order_id": 5, "outcome": "passed", "finding_id": str(uuid.uuid4()),
                    "finding_status": "closed", "final_tier": "management"}}},
                {"index": 2, "id": "x", "status": "conflict", "message": "m", "stored_id": str(uuid.uuid4())},
                {"index": 3, "id": "y", "status": "rejected", "message": "m",
                 "errors": {"findings": {"0": {"violation_code": ["bad"]}}}},
                {"index": True, "id": 5, "status": uuid.uuid4(), "visit": {"findings": None, "on_site": None,
                                                                          "clock": {"flagged": 1, "skew_s": 2}}},
            ]}


def test_the_answer_dumps_as_marshmallow_dumps_it(monkeypatch):
    schema = SyncAnswerSchema()
    quick = schema.dump(answer_data := answer())
    monkeypatch.setattr(common, "_dumps_quickly", lambda _schema: False)  # marshmallow all the way down
    full = schema.dump(copy.deepcopy(answer_data))
    assert repr(quick) == repr(full)  # the values, their types and the keys' order
    assert quick["results"][0]["visit"]["on_site"]["radius_m"] == 150.0
    assert "extra" not in quick["results"][0]["visit"]["on_site"]

"""POST /api/sync: each visit record stored exactly once, whole or not at all, on both engines.

What an inspector would notice: a record sent twice is answered the same and stored once;
a record that reuses an id with other content never overwrites the first; a bad record is
refused with a message that says what to fix and never blocks the others in its batch; the
on-site verdict and a wrong device clock are reported, never refused.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from tests.sync_helpers import (
    HENGDA, HUARUI, JIANGHAI, RUNZE, failing, finding, fix_near, load_field_data, now_cst, post_sync, visit,
)


@pytest.fixture
def field(app):
    return load_field_data(app)


@pytest.fixture
def insp1(auth):
    return auth.headers("insp1")


def team(field, *names):
    return [field["users"][n] for n in names]


def only(resp, status=None) -> dict:
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    assert len(results) == 1
    if status:
        assert results[0]["status"] == status, results[0]
    return results[0]


def rows(app, model, *where):
    from server.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(model).where(*where)).scalars().all()


def count(app, model) -> int:
    from server.extensions import db

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def tables(app) -> dict:
    from server.models import CheckResult, Finding, Photo, SyncConflict, Visit, visit_officers

    return {getattr(m, "__tablename__", None) or m.name: count(app, m) for m in (Visit, CheckResult, Finding, Photo, SyncConflict, visit_officers)}


# --- accepted ------------------------------------------------------------------------------


def test_a_visit_without_findings_is_stored_with_its_results_officers_and_audit(client, app, auth, field, insp1):
    from server.models import AuditEntry, CheckResult, Visit, visit_officers

    rec = visit(field["sites"][HENGDA], team(field, "insp1", "aux1"), location=fix_near(HENGDA, 20))
    r = only(post_sync(client, insp1, [rec]), "created")
    assert r["index"] == 0 and r["id"] == rec["id"]
    receipt = r["visit"]
    assert receipt["on_site"]["verdict"] == "on_site"
    assert receipt["on_site"]["distance_m"] == pytest.approx(20, abs=0.2)
    assert receipt["clock"]["flagged"] is False
    assert receipt["findings"] == [] and receipt["photos_waiting"] == []

    (stored,) = rows(app, Visit, Visit.id == uuid.UUID(rec["id"]))
    assert stored.geofence == "on_site" and stored.recorded_by == field["users"]["insp1"]
    assert stored.device_id == "phone-1" and stored.receipt == receipt
    assert stored.started_at == dt.datetime.fromisoformat(rec["started_at"])
    assert sorted((c.item_code, c.outcome) for c in rows(app, CheckResult, CheckResult.visit_id == stored.id)) == [
        ("SAF-004", "pass"), ("SAF-012", "pass")]
    from server.extensions import db

    with app.app_context():
        counted = dict(db.session.execute(sa.select(visit_officers.c.user_id, visit_officers.c.counted)).all())
    assert counted == {field["users"]["insp1"]: True, field["users"]["aux1"]: False}
    actions = [e.action for e in rows(app, AuditEntry, AuditEntry.entity_id == rec["id"])]
    assert actions == ["visit.create"]
    assert client.get("/api/audit/verify", headers=auth.headers("admin1")).get_json()["ok"] is True


def test_an_empty_batch_is_answered_with_no_results(client, field, insp1):
    r = post_sync(client, insp1, [])
    assert r.status_code == 200
    assert r.get_json()["results"] == [] and r.get_json()["counts"]["created"] == 0


def test_only_inspectors_sync(client, auth, field):
    rec = visit(field["sites"][HENGDA], team(field, "insp1"))
    assert post_sync(client, auth.headers("sup1"), [rec]).status_code == 403
    assert post_sync(client, {}, [rec]).status_code == 401


# --- duplicates and conflicts --------------------------------------------------------------


def test_a_replay_is_a_duplicate_answered_exactly_as_the_first_time(client, app, field, insp1):
    rec = visit(field["sites"][HENGDA], team(field, "insp1"), location=fix_near(HENGDA, 300))
    first = only(post_sync(client, insp1, [rec]), "created")
    before = tables(app)
    again = only(post_sync(client, insp1, [rec], device_id="phone-2"), "duplicate")
    assert again["visit"] == first["visit"]
    # The same content spelt differently (keys in another order, the id in capitals) is the same record.
    shuffled = json.loads(json.dumps(dict(reversed(list(rec.items())))))
    shuffled["id"] = rec["id"].upper()
    assert only(post_sync(client, insp1, [shuffled]), "duplicate")["visit"] == first["visit"]
    assert tables(app) == before


def test_same_id_other_content_is_a_conflict_that_overwrites_nothing(client, app, field, insp1):
    from server.models import SyncConflict, Visit

    rec = visit(field["sites"][HENGDA], team(field, "insp1"))
    only(post_sync(client, insp1, [rec]), "created")
    changed = {**rec, "results": [{"item": "SAF-012", "outcome": "na"}]}
    r = only(post_sync(client, insp1, [changed]), "conflict")
    assert r["stored_id"] == rec["id"] and "nothing was overwritten" in r["message"]
    (stored,) = rows(app, Visit)
    assert [x["outcome"] for x in stored.payload["results"]] == ["pass", "pass"]
    (kept,) = rows(app, SyncConflict)
    assert str(kept.record_id) == rec["id"] and kept.payload["results"] == changed["results"]
    # Sent again, the same conflicting content is answered the same and kept once.
    assert only(post_sync(client, insp1, [changed]), "conflict")["stored_id"] == rec["id"]
    assert count(app, SyncConflict) == 1
    # The original itself is still a duplicate.
    only(post_sync(client, insp1, [rec]), "duplicate")


# --- rejected --------------------------------------------------------------------------------


def _reject_cases(field):
    s = field["sites"]
    pair = team(field, "insp1", "insp2")
    breach = failing(visit(s[HENGDA], pair, findings=[finding()]), "SAF-012")
    return {
        "unknown site": (visit(999999, pair), "site_id", "there is no site 999999"),
        "site of another park": (visit(s[HUARUI], pair), "site_id", "park you are not assigned to"),
        "unknown plan stop": (visit(s[HENGDA], pair, plan_stop_id=424242), "plan_stop_id", "no plan stop 424242"),
        "unknown officer": (visit(s[HENGDA], [*pair, 777777]), "officer_ids", "there is no user 777777"),
        "violation of another domain": (
            {**breach, "findings": [finding(domain="fire")]}, "findings",
            "SAF-EXIT-BLOCKED is a violation in the domain safety, but the finding is filed under fire"),
        "unknown violation code": (
            {**breach, "findings": [finding(violation_code="SAF-NO-SUCH")]}, "findings",
            "SAF-NO-SUCH is not in the violation catalogue"),
        "officer without a certificate on an enforcement-capable visit": (
            {**breach, "officer_ids": team(field, "insp1", "insp2", "sup1")}, "officer_ids",
            "sup1 holds no law-enforcement certificate"),
        "one certified officer and an auxiliary": (
            {**breach, "officer_ids": team(field, "insp1", "aux1")}, "officer_ids",
            "needs two certified officers with distinct certificates"),
        "a re-inspection alone": (
            visit(s[HENGDA], team(field, "insp1"), kind="reinspection", order_id=1, outcome="passed"), "officer_ids",
            "reinspection visit"),
        "a finding on an item that passed": (
            {**breach, "results": [{"item": "SAF-012", "outcome": "pass"}]}, "findings",
            "SAF-012 is recorded as pass"),
        "unknown checklist item": (
            visit(s[HENGDA], pair, results=[{"item": "SAF-999", "outcome": "pass"}]), "results",
            "SAF-999 is not an item of any checklist"),
        "a time without its offset": (
            visit(s[HENGDA], pair, started_at="2026-11-26T09:12:03"), "started_at", "needs its UTC offset"),
        "finished before it started": (
            visit(s[HENGDA], pair, started_at=now_cst().isoformat(),
                  finished_at=(now_cst() - dt.timedelta(hours=1)).isoformat()), "finished_at", "finished before"),
        "an order on a routine visit": (visit(s[HENGDA], pair, order_id=3), "order_id", "only a visit of kind reinspection"),
        "an unknown field": (visit(s[HENGDA], pair, tier="service"), "tier", "Unknown field"),
        "signed and refused": (
            visit(s[HENGDA], pair, record={"party_signature_photo_id": str(uuid.uuid4()), "party_refused": True}),
            "record", "either signed or refused"),
    }


CASES = ("unknown site", "site of another park", "unknown plan stop", "unknown officer", "violation of another domain",
         "unknown violation code", "officer without a certificate on an enforcement-capable visit",
         "one certified officer and an auxiliary", "a re-inspection alone", "a finding on an item that passed",
         "unknown checklist item", "a time without its offset", "finished before it started",
         "an order on a routine visit", "an unknown field", "signed and refused")


@pytest.mark.parametrize("case", CASES)
def test_each_rule_rejects_the_record_with_a_message(client, app, field, insp1, case):
    rec, field_name, words = _reject_cases(field)[case]
    before = tables(app)
    r = only(post_sync(client, insp1, [rec]), "rejected")
    assert words in r["message"], r
    assert field_name in r["errors"], r
    assert tables(app) == before


def test_a_bad_record_never_blocks_the_others_and_leaves_nothing_behind(client, app, field, insp1):
    from server.models import CheckResult, Visit

    s, pair = field["sites"], team(field, "insp1", "insp2")
    good1 = visit(s[HENGDA], pair)
    bad = visit(s[JIANGHAI], [*pair, 777777])
    good2 = visit(s[RUNZE], pair)
    r = post_sync(client, insp1, [good1, bad, good2])
    assert r.status_code == 200
    body = r.get_json()
    assert [x["status"] for x in body["results"]] == ["created", "rejected", "created"]
    assert body["counts"] == {"created": 2, "duplicate": 0, "conflict": 0, "rejected": 1}
    assert {str(v.id) for v in rows(app, Visit)} == {good1["id"], good2["id"]}
    assert count(app, CheckResult) == 4
    # The phone fixes the bad one and sends it again: now it is stored.
    only(post_sync(client, insp1, [{**bad, "officer_ids": pair}]), "created")


# --- limits --------------------------------------------------------------------------------


def test_a_batch_over_the_limit_is_413_naming_the_limit(client, app, field, insp1):
    app.config["SYNC_MAX_VISITS_PER_BATCH"] = 2
    recs = [visit(field["sites"][HENGDA], team(field, "insp1")) for _ in range(3)]
    r = post_sync(client, insp1, recs)
    assert r.status_code == 413
    body = r.get_json()
    assert "at most 2 visits" in body["message"] and body["max_visits_per_batch"] == 2
    assert tables(app)["visits"] == 0


def test_a_body_over_the_limit_is_413(client, app, field, insp1):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    recs = [visit(field["sites"][HENGDA], team(field, "insp1")) for _ in range(10)]
    r = post_sync(client, insp1, recs)
    assert r.status_code == 413 and r.get_json()["message"]


def test_too_many_findings_rejects_the_visit(client, app, field, insp1):
    app.config["SYNC_MAX_FINDINGS_PER_VISIT"] = 1
    rec = failing(visit(field["sites"][HENGDA], team(field, "insp1", "insp2"),
                        findings=[finding(), finding(item="SAF-004", violation_code="SAF-WARN-SIGN")]),
                  "SAF-012", "SAF-004")
    r = only(post_sync(client, insp1, [rec]), "rejected")
    assert "at most 1 findings" in r["message"]


# --- clocks and the on-site proof ------------------------------------------------------------


def test_a_device_clock_two_days_off_is_flagged_not_trusted(client, app, field, insp1):
    from server.models import Visit

    then = now_cst() - dt.timedelta(days=2)
    rec = visit(field["sites"][HENGDA], team(field, "insp1"), started_at=(then - dt.timedelta(minutes=30)).isoformat(),
                finished_at=then.isoformat())
    r = only(post_sync(client, insp1, [rec]), "created")
    assert r["visit"]["clock"]["flagged"] is True
    assert r["visit"]["clock"]["skew_s"] == pytest.approx(2 * 86400, abs=120)
    (stored,) = rows(app, Visit)
    assert stored.clock_flagged is True
    # The device's time is kept beside the server's.
    assert stored.finished_at == then and abs((stored.received_at - stored.finished_at).days) == 2
    honest = visit(field["sites"][HENGDA], team(field, "insp1"))
    assert only(post_sync(client, insp1, [honest]), "created")["visit"]["clock"]["flagged"] is False


def test_a_clock_reset_to_1970_is_flagged_and_a_time_no_clock_shows_is_refused(client, app, field, insp1):
    epoch = visit(field["sites"][HENGDA], team(field, "insp1"), started_at="1970-01-01T08:00:00+08:00",
                  finished_at="1970-01-01T08:20:00+08:00")
    assert only(post_sync(client, insp1, [epoch]), "created")["visit"]["clock"]["flagged"] is True
    for when in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"):
        r = only(post_sync(client, insp1, [visit(field["sites"][HENGDA], team(field, "insp1"), finished_at=when)]),
                 "rejected")
        assert "between 1970 and 2200" in r["message"]


def test_an_untrusted_clock_does_not_date_the_certificates(client, app, field, insp1):
    """insp2's certificate expired yesterday. A phone claiming the visit was a week ago is
    flagged, so the visit is dated today and insp2 does not count."""
    from server.extensions import db
    from server.models import User

    with app.app_context():
        db.session.get(User, field["users"]["insp2"]).certificate_expires = dt.date.today() - dt.timedelta(days=1)
        db.session.commit()
    week_ago = now_cst() - dt.timedelta(days=7)
    rec = failing(visit(field["sites"][HENGDA], team(field, "insp1", "insp2"), findings=[finding()],
                        started_at=(week_ago - dt.timedelta(minutes=30)).isoformat(), finished_at=week_ago.isoformat()),
                  "SAF-012")
    r = only(post_sync(client, insp1, [rec]), "rejected")
    assert "insp2 holds certificate JS-3210-0002, which expired on" in r["message"]


@pytest.mark.parametrize("location,verdict", [
    (None, "no_fix"),
    ({"metres": 140, "accuracy": 10}, "on_site"),
    ({"metres": 250, "accuracy": 10}, "near"),
    ({"metres": 2000, "accuracy": 10}, "off_site"),
    ({"metres": 20, "accuracy": 80}, "poor_fix"),
    ({"metres": 20, "accuracy": None}, "poor_fix"),
])
def test_the_on_site_verdict_is_stored_and_answered_and_never_refuses(client, app, field, insp1, location, verdict):
    from server.models import Visit

    fix = None if location is None else fix_near(HENGDA, location["metres"], location["accuracy"])
    r = only(post_sync(client, insp1, [visit(field["sites"][HENGDA], team(field, "insp1"), location=fix)]), "created")
    assert r["visit"]["on_site"]["verdict"] == verdict
    (stored,) = rows(app, Visit)
    assert stored.geofence == verdict
    if fix is None:
        assert stored.distance_m is None and stored.fix is None
    else:
        assert stored.distance_m == pytest.approx(location["metres"], abs=0.2)
        assert stored.fix_accuracy_m == location["accuracy"]


# --- plan stops ------------------------------------------------------------------------------


def _publish_plan(app, field, site_name, status="published"):
    from server.extensions import db
    from server.models import Plan, PlanStop, Route
    from server.services.sync import policy_in_force
    from server.domain.workdays import local_date
    from server.models.types import utcnow

    with app.app_context():
        day = local_date(utcnow(), policy_in_force()[1]["timezone"])
        plan = Plan(day=day, status=status)
        db.session.add(plan)
        db.session.flush()
        route = Route(plan_id=plan.id, team_lead_id=field["users"]["insp1"])
        db.session.add(route)
        db.session.flush()
        stop = PlanStop(plan_id=plan.id, route_id=route.id, site_id=field["sites"][site_name], seq=1, kind="routine")
        db.session.add(stop)
        db.session.commit()
        return stop.id


def test_a_visit_fulfils_its_plan_stop_once(client, app, field, insp1):
    from server.models import PlanStop

    stop_id = _publish_plan(app, field, HENGDA)
    rec = visit(field["sites"][HENGDA], team(field, "insp1"), plan_stop_id=stop_id)
    assert only(post_sync(client, insp1, [rec]), "created")["visit"]["plan_stop_id"] == stop_id
    (stop,) = rows(app, PlanStop)
    assert stop.status == "visited" and str(stop.visit_id) == rec["id"]
    other = visit(field["sites"][HENGDA], team(field, "insp1"), plan_stop_id=stop_id)
    assert "already visited" in only(post_sync(client, insp1, [other]), "rejected")["message"]
    elsewhere = visit(field["sites"][JIANGHAI], team(field, "insp1"), plan_stop_id=stop_id)
    assert "not at site" in only(post_sync(client, insp1, [elsewhere]), "rejected")["message"]


def test_a_draft_plans_stop_is_refused(client, app, field, insp1):
    stop_id = _publish_plan(app, field, HENGDA, status="draft")
    rec = visit(field["sites"][HENGDA], team(field, "insp1"), plan_stop_id=stop_id)
    assert "not published" in only(post_sync(client, insp1, [rec]), "rejected")["message"]


# --- findings, photos and re-inspections -----------------------------------------------------


def _two_findings(field, photo_ids=()):
    exit_blocked = finding(photo_ids=[str(p) for p in photo_ids])
    fire_exit = finding(item="FIRE-003", violation_code="FIRE-EXIT-BLOCKED", domain="fire", severity="minor",
                        corrected_on_spot=True, note="boxes in the fire exit, moved")
    rec = visit(field["sites"][HENGDA], team(field, "insp1", "insp2", "aux1"), findings=[exit_blocked, fire_exit],
                location=fix_near(HENGDA, 60))
    return failing(rec, "SAF-012", "FIRE-003")


def test_findings_are_classified_and_answered_with_their_tiers_and_waiting_photos(client, app, field, insp1):
    from server.models import AuditEntry, Finding, Photo

    photo = uuid.uuid4()
    rec = _two_findings(field, [photo])
    r = only(post_sync(client, insp1, [rec]), "created")
    receipts = {f["id"]: f for f in r["visit"]["findings"]}
    stored = {str(f.id): f for f in rows(app, Finding)}
    assert set(receipts) == set(stored) == {f["id"] for f in rec["findings"]}
    for fid, f in stored.items():
        assert receipts[fid]["suggested_tier"] == f.suggested_tier == f.final_tier
        assert receipts[fid]["rule_id"] == f.rule_id and receipts[fid]["flags"] == f.flags
        assert f.visit_id == uuid.UUID(rec["id"]) and f.site_id == field["sites"][HENGDA]
    exit_id, fire_id = (f["id"] for f in rec["findings"])
    # Safety is excluded from tolerance and the row is penalised at once: enforcement, flagged
    # for the statutory minor review (harmless, minor, corrected on the spot). Fire is not excluded:
    # a harmless minor breach corrected on the spot is served on the spot.
    assert (receipts[exit_id]["suggested_tier"], receipts[exit_id]["rule_id"]) == ("enforcement", "X1")
    assert "statutory_minor_review" in receipts[exit_id]["flags"]
    assert (receipts[fire_id]["suggested_tier"], receipts[fire_id]["rule_id"]) == ("service", "T1")
    # The photo has not arrived: the finding is accepted and counts it.
    assert receipts[exit_id]["photos_waiting"] == 1 and receipts[fire_id]["photos_waiting"] == 0
    assert r["visit"]["photos_waiting"] == [str(photo)]
    (waiting,) = rows(app, Photo)
    assert waiting.id == photo and waiting.status == "waiting" and str(waiting.finding_id) == exit_id
    assert str(waiting.visit_id) == rec["id"]
    assert stored[exit_id].photos_waiting == 1
    actions = sorted(e.action for e in rows(app, AuditEntry, AuditEntry.action.in_(("visit.create", "finding.create"))))
    assert actions == ["finding.create", "finding.create", "visit.create"]
    # A replay answers the same tiers even after a supervisor changed the finding since.
    from server.extensions import db

    with app.app_context():
        db.session.get(Finding, uuid.UUID(fire_id)).final_tier = "management"
        db.session.commit()
    assert only(post_sync(client, insp1, [rec]), "duplicate")["visit"] == r["visit"]


def test_a_finding_id_stored_in_another_visit_is_a_conflict(client, app, field, insp1):
    from server.models import SyncConflict, Visit

    first = _two_findings(field)
    only(post_sync(client, insp1, [first]), "created")
    again = {**_two_findings(field), "findings": first["findings"]}
    r = only(post_sync(client, insp1, [again]), "conflict")
    assert r["stored_id"] == first["id"] and first["findings"][0]["id"] in r["message"]
    assert {str(v.id) for v in rows(app, Visit)} == {first["id"]}
    (kept,) = rows(app, SyncConflict)
    assert str(kept.record_id) == again["id"]


def test_a_record_refused_half_way_leaves_no_half_record(client, app, field, insp1):
    """The classifier refuses 'advisory' on a finding with a violation type; by then the visit,
    its results and its first finding were written: the savepoint takes them all back."""
    rec = _two_findings(field, [uuid.uuid4()])
    rec["findings"][1]["severity"] = "advisory"
    good = visit(field["sites"][JIANGHAI], team(field, "insp1"))
    before = tables(app)
    r = post_sync(client, insp1, [rec, good])
    statuses = [x["status"] for x in r.get_json()["results"]]
    assert statuses == ["rejected", "created"]
    bad = r.get_json()["results"][0]
    assert "severity" in bad["errors"]["findings"]["1"] and "advisory" in bad["message"]
    after = tables(app)
    assert after["visits"] == before["visits"] + 1
    assert after["findings"] == before["findings"] and after["photos"] == before["photos"]
    assert after["check_results"] == before["check_results"] + 2


def test_a_photo_uploaded_for_another_finding_rejects_the_record(client, app, field, insp1):
    photo = uuid.uuid4()
    only(post_sync(client, insp1, [_two_findings(field, [photo])]), "created")
    r = only(post_sync(client, insp1, [_two_findings(field, [photo])]), "rejected")
    assert f"photo {photo} already belongs to another visit or finding" in r["message"]


def _order_for(app, field, rec, finding_index=1):
    """A supervisor raises the (fire, service) finding to management and issues an order; its
    deadline is then made to have passed."""
    from server.extensions import db
    from server.models import Finding, Order, User
    from server.services import lifecycle

    with app.app_context():
        f = db.session.get(Finding, uuid.UUID(rec["findings"][finding_index]["id"]))
        sup = db.session.get(User, field["users"]["sup1"])
        lifecycle.change_tier(f, sup, "management", reason="the exit was blocked again within the hour")
        order_id = lifecycle.issue_order(f, sup).id
        order = db.session.get(Order, order_id)
        order.issued_at = order.issued_at - dt.timedelta(days=30)
        order.deadline = dt.date.today() - dt.timedelta(days=1)
        db.session.commit()
        return order_id


def test_a_failed_reinspection_visit_escalates_its_finding(client, app, field, insp1):
    from server.models import Finding, Reinspection

    first = _two_findings(field)
    only(post_sync(client, insp1, [first]), "created")
    order_id = _order_for(app, field, first)
    proof = uuid.uuid4()
    rec = visit(field["sites"][HENGDA], team(field, "insp1", "insp2"), kind="reinspection", order_id=order_id,
                outcome="failed", photo_ids=[str(proof)], note="exit still blocked")
    r = only(post_sync(client, insp1, [rec]), "created")
    re = r["visit"]["reinspection"]
    assert re["order_id"] == order_id and re["outcome"] == "failed" and re["final_tier"] == "enforcement"
    assert r["visit"]["photos_waiting"] == [str(proof)]
    (row,) = rows(app, Reinspection)
    assert str(row.visit_id) == rec["id"] and row.outcome == "failed"
    (f,) = rows(app, Finding, Finding.id == uuid.UUID(first["findings"][1]["id"]))
    assert f.final_tier == "enforcement" and f.status == "escalated"
    only(post_sync(client, insp1, [rec]), "duplicate")
    assert len(rows(app, Reinspection)) == 1


def test_a_reinspection_at_another_site_is_rejected(client, app, field, insp1):
    first = _two_findings(field)
    only(post_sync(client, insp1, [first]), "created")
    order_id = _order_for(app, field, first)
    rec = visit(field["sites"][JIANGHAI], team(field, "insp1", "insp2"), kind="reinspection", order_id=order_id,
                outcome="passed")
    assert "is for another site" in only(post_sync(client, insp1, [rec]), "rejected")["message"]


# --- the verdict itself (pure) ---------------------------------------------------------------

R, A = 150.0, 50.0


@pytest.mark.parametrize("distance,accuracy,expected", [
    (None, None, "no_fix"),
    (None, 5.0, "no_fix"),
    (0.0, 5.0, "on_site"),
    (150.0, 5.0, "on_site"),          # the radius itself is on site
    (150.1, 5.0, "near"),
    (300.0, 5.0, "near"),             # twice the radius is still near
    (300.1, 5.0, "off_site"),
    (10.0, 50.0, "on_site"),          # the threshold itself is good enough
    (10.0, 50.01, "poor_fix"),
    (5000.0, 80.0, "poor_fix"),       # a poor fix proves nothing, even far away
    (10.0, None, "poor_fix"),         # no accuracy reported: an unbounded error
    (10.0, float("nan"), "poor_fix"),
])
def test_verdict_boundaries(distance, accuracy, expected):
    from server.domain.geofence import verdict

    assert verdict(distance, accuracy, R, A) == expected


def test_verdict_follows_the_policy_numbers():
    from server.domain.geofence import verdict

    assert verdict(200.0, 5.0, 150.0, 50.0) == "near"
    assert verdict(200.0, 5.0, 250.0, 50.0) == "on_site"
    assert verdict(10.0, 30.0, 150.0, 20.0) == "poor_fix"


def test_verdict_refuses_nonsense():
    from server.domain.geofence import verdict

    for args in ((-1.0, 5.0, R, A), (float("inf"), 5.0, R, A), (10.0, 5.0, 0.0, A), (10.0, 5.0, R, -1.0)):
        with pytest.raises(ValueError):
            verdict(*args)


def test_prove_measures_the_geodesic_distance_to_the_site():
    from server.domain.geo import destination
    from server.domain.geofence import prove

    site = (119.16, 32.26)
    for metres, expected in ((149.9, "on_site"), (150.3, "near"), (299.9, "near"), (301.0, "off_site")):
        lon, lat = destination(*site, 123.0, metres)
        proof = prove((lon, lat, 10.0), site, R, A)
        assert proof.distance_m == pytest.approx(metres, abs=0.05) and proof.verdict == expected, metres
    assert prove(None, site, R, A).as_dict() == {"verdict": "no_fix", "distance_m": None, "accuracy_m": None,
                                                 "radius_m": R, "accuracy_threshold_m": A}


def test_records_of_one_batch_see_each_other(client, app, field, insp1):
    """The batch reads what its records name once; a record must still see those stored before it."""
    from server.models import Visit

    first = _two_findings(field, [uuid.uuid4()])
    reused_finding = {**_two_findings(field), "findings": [first["findings"][0]]}
    reused_photo = _two_findings(field, first["findings"][0]["photo_ids"])
    r = post_sync(client, insp1, [first, first, reused_finding, reused_photo])
    answers = r.get_json()["results"]
    assert [a["status"] for a in answers] == ["created", "duplicate", "conflict", "rejected"]
    assert answers[1]["visit"] == answers[0]["visit"]
    assert answers[2]["stored_id"] == first["id"]
    assert "already belongs to another visit or finding" in answers[3]["message"]
    assert {str(v.id) for v in rows(app, Visit)} == {first["id"]}


def test_two_tabs_sending_the_same_batch_at_once_store_it_once(client, app, auth, field, insp1):
    """Four requests race with the same records (two tabs, a retry on a flaky network): each
    record is created by one of them and a duplicate for the others, answered the same."""
    import threading

    from server.models import Finding, Visit

    records = [_two_findings(field, [uuid.uuid4()]), visit(field["sites"][JIANGHAI], team(field, "insp1")),
               _two_findings(field)]
    start = threading.Barrier(4)
    answers: list = [None] * 4

    def send(k):
        c = app.test_client()
        start.wait()
        answers[k] = post_sync(c, insp1, records, device_id=f"tab-{k}")

    threads = [threading.Thread(target=send, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(a is not None and a.status_code == 200 for a in answers), [a and a.get_json() for a in answers]
    for i, rec in enumerate(records):
        results = [a.get_json()["results"][i] for a in answers]
        assert sorted(r["status"] for r in results) == ["created", "duplicate", "duplicate", "duplicate"]
        assert all(r["visit"] == results[0]["visit"] for r in results)
    assert {str(v.id) for v in rows(app, Visit)} == {r["id"] for r in records}
    assert len(rows(app, Finding)) == 4


# --- a batch stored together ---------------------------------------------------------------


def test_findings_count_the_earlier_records_of_their_batch_but_not_a_rejected_one(client, app, field, insp1):
    """A batch's records are classified together: a finding's history holds the findings of the
    records before it in the batch (as if each had been stored before the next was read), and
    nothing of a rejected record."""
    from server.models import Finding

    now = now_cst()
    site = field["sites"][HENGDA]
    officers = team(field, "insp1", "insp2")

    def hydrant_visit(minutes_ago, **finding_over):
        start = now - dt.timedelta(minutes=minutes_ago)
        rec = visit(site, officers, started_at=start.isoformat(), finished_at=(start + dt.timedelta(minutes=5)).isoformat(),
                    findings=[finding(item="FIRE-006", violation_code="FIRE-HYDRANT-BLOCKED", domain="fire",
                                      **finding_over)])
        return failing(rec, "FIRE-006")

    first = hydrant_visit(300)
    refused = hydrant_visit(200, severity="advisory")  # the classifier refuses it: the record is rejected
    third = hydrant_visit(100)
    fourth = hydrant_visit(50)
    answers = post_sync(client, insp1, [first, refused, third, fourth]).get_json()["results"]
    assert [a["status"] for a in answers] == ["created", "rejected", "created", "created"], answers
    repeats = {str(f.id): f.repeats for f in rows(app, Finding)}
    assert [repeats.get(r["findings"][0]["id"]) for r in (first, refused, third, fourth)] == [0, None, 1, 2]


@pytest.mark.parametrize("with_findings", [True, False], ids=["findings", "no-findings"])
def test_when_a_runs_insert_fails_each_record_is_stored_on_its_own(client, app, field, insp1, monkeypatch,
                                                                   with_findings):
    """Another request stored one of the batch's records between the batch's look-up and its
    inserts (a retry racing the first try): the batch's inserts fail together (without findings,
    at the visit's row; with them, already when its findings are found stored), and each record
    is then stored on its own, the raced one answered as the duplicate it is, the others created,
    and nothing twice (visits, findings, audit entries)."""
    from server.models import AuditEntry, Finding, Visit
    from server.services import sync
    from server.services.audit import verify_chain

    raced = _two_findings(field, [uuid.uuid4()]) if with_findings else visit(field["sites"][RUNZE], team(field, "insp1"))
    first = only(post_sync(client, insp1, [raced]), "created")
    before, after = _two_findings(field), visit(field["sites"][JIANGHAI], team(field, "insp1"))
    prefetch = sync.Batch.prefetch

    def blind_prefetch(self, records):  # the look-up ran before the raced record was stored
        prefetch(self, records)
        self.stored.pop(uuid.UUID(raced["id"]), None)
        for f in raced["findings"]:
            self.finding_visit.pop(uuid.UUID(f["id"]), None)
        for pid in (raced["findings"][0]["photo_ids"] if with_findings else ()):
            self.photos.pop(uuid.UUID(pid), None)

    monkeypatch.setattr(sync.Batch, "prefetch", blind_prefetch)
    answers = post_sync(client, insp1, [before, raced, after]).get_json()["results"]
    assert [a["status"] for a in answers] == ["created", "duplicate", "created"], answers
    assert answers[1]["visit"] == first["visit"]
    assert {str(v.id) for v in rows(app, Visit)} == {raced["id"], before["id"], after["id"]}
    findings = 4 if with_findings else 2
    assert len(rows(app, Finding)) == findings
    creates = [e.entity_id for e in rows(app, AuditEntry, AuditEntry.action == "visit.create")]
    assert sorted(creates) == sorted([raced["id"], before["id"], after["id"]])
    assert len(rows(app, AuditEntry, AuditEntry.action == "finding.create")) == findings
    from server.extensions import db

    with app.app_context():
        assert verify_chain()["ok"]
        db.session.rollback()

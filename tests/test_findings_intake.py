"""The one way in: record_finding looks up the history, classifies with the policy in force and
stores everything with an audit entry; repeats are counted as DOMAIN.md section 2 defines them."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEntry, Finding, Order, ToleranceRecord, User, Visit
from server.models.types import utcnow
from server.services.errors import ServiceError
from tests.findings_helpers import add_finding, finding_at, get_finding, load_reference, make_visit

DAY = dt.timedelta(days=1)


@pytest.fixture
def world(app):
    return load_reference(app)


def _record(app, visit_id, data):
    from server.services.findings import record_finding

    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        try:
            return record_finding(visit, data, visit.recorded_by)
        finally:
            db.session.rollback()


def test_intake_stores_facts_history_classification_and_audit(app, world):
    site = world["sites"]["EDZ"][0]
    started = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Friday
    fid = finding_at(app, site, "SAF-EXIT-BLOCKED", started, corrected_on_spot=True, item="SAF-012",
                     note="pallets in the exit, moved")
    f = get_finding(app, fid)
    # Worked example W01: enforcement X1, flagged for the legal reviewer.
    assert (f.suggested_tier, f.final_tier, f.rule_id) == ("enforcement", "enforcement", "X1")
    assert f.flags == ["statutory_minor_review"] and f.status == "legal_review"
    assert f.domain == "safety" and f.item_code == "SAF-012" and f.note == "pallets in the exit, moved"
    assert f.explanation_zh.startswith("X1") and f.explanation_en.startswith("X1")
    assert f.repeats == 0 and not f.earlier_tolerance_closed and not f.earlier_order_failed
    # 5 working days from Friday 20 November: 23, 24, 25, 26, 27 November.
    assert f.correction_deadline == dt.date(2026, 11, 27)
    assert f.next_deadline is None  # no running clock for an enforcement suggestion
    with app.app_context():
        from server.services.policy import current

        assert f.policy_version == current().version
        entry = db.session.execute(sa.select(AuditEntry).where(
            AuditEntry.action == "finding.create", AuditEntry.entity_id == str(fid))).scalar_one()
        assert entry.summary["rule_id"] == "X1" and entry.summary["history"]["repeats"] == 0
        assert entry.summary["history"]["window_days"] == 365


def test_a_management_findings_clock_is_its_correction_deadline(app, world):
    fid = finding_at(app, world["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    f = get_finding(app, fid)
    assert (f.final_tier, f.rule_id, f.status) == ("management", "T4", "awaiting_review")
    assert f.next_deadline == f.correction_deadline and f.correction_deadline > dt.date.today() - DAY


def test_domain_comes_from_the_catalogue_row_and_a_different_one_is_refused(app, world):
    visit = make_visit(app, world["sites"]["EDZ"][0])
    with pytest.raises(ServiceError) as e:
        _record(app, visit, {"id": str(uuid.uuid4()), "violation_code": "FIRE-EXIT-BLOCKED", "domain": "safety",
                             "severity": "minor", "corrected_on_spot": True})
    assert "fire" in str(e.value) and "safety" in str(e.value) and e.value.fields == ("domain",)
    # The same domain as the row's is accepted; an advisory finding takes the domain it is given.
    add_finding(app, visit, "FIRE-EXIT-BLOCKED", domain="fire", corrected_on_spot=True)
    advisory = add_finding(app, visit, None, domain="safety", note="a better storage layout")
    assert (get_finding(app, advisory).rule_id, get_finding(app, advisory).domain) == ("S0", "safety")


@pytest.mark.parametrize("data,field,words", [
    ({"violation_code": "NO-SUCH-CODE", "severity": "minor"}, "violation_code", "NO-SUCH-CODE"),
    ({"violation_code": "FIRE-EXIT-BLOCKED"}, "severity", "severity"),
    ({"violation_code": "FIRE-EXIT-BLOCKED", "severity": "dreadful"}, "severity", "severity"),
    ({"violation_code": "FIRE-EXIT-BLOCKED", "severity": "minor", "intentional": "yes"}, "intentional", "intentional"),
    ({"violation_code": "FIRE-EXIT-BLOCKED", "severity": "advisory"}, "severity", "advisory"),
    ({"violation_code": "FIRE-EXIT-BLOCKED", "severity": "minor", "colour": "red"}, "colour", "colour"),
])
def test_bad_findings_are_refused_naming_the_field(app, world, data, field, words):
    visit = make_visit(app, world["sites"]["EDZ"][0])
    with pytest.raises(ServiceError) as e:
        _record(app, visit, {"id": str(uuid.uuid4()), **data})
    assert field in e.value.fields and words in str(e.value)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Finding.id))).scalar() == 0


def test_a_row_not_in_force_on_the_discovery_day_is_refused(app, world):
    # FIRE-EXIT-BLOCKED takes force on 2021-04-29.
    visit = make_visit(app, world["sites"]["EDZ"][0], dt.datetime(2020, 6, 1, 9, tzinfo=dt.timezone.utc))
    with pytest.raises(ServiceError) as e:
        _record(app, visit, {"id": str(uuid.uuid4()), "violation_code": "FIRE-EXIT-BLOCKED", "severity": "minor"})
    assert "2020-06-01" in str(e.value)


def test_a_stored_id_is_a_conflict(app, world):
    visit = make_visit(app, world["sites"]["EDZ"][0])
    fid = add_finding(app, visit, "FIRE-EXIT-BLOCKED", corrected_on_spot=True)
    with pytest.raises(ServiceError) as e:
        _record(app, visit, {"id": str(fid), "violation_code": "FIRE-EXIT-BLOCKED", "severity": "minor"})
    assert e.value.status == 409


def test_repeats_are_counted_inside_the_window_at_the_same_site_of_the_same_type(app, world):
    site, other_site = world["sites"]["EDZ"][0], world["sites"]["EDZ"][1]
    now = utcnow()
    hydrant = {"corrected_on_spot": True}
    finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 366 * DAY, **hydrant)  # outside the window
    finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 364 * DAY, **hydrant)  # inside
    finding_at(app, other_site, "FIRE-HYDRANT-BLOCKED", now - 10 * DAY, **hydrant)  # another site
    finding_at(app, site, "FIRE-EXIT-BLOCKED", now - 10 * DAY, **hydrant)  # another type
    visit = make_visit(app, site, now)
    first = add_finding(app, visit, "FIRE-HYDRANT-BLOCKED", **hydrant)
    second = add_finding(app, visit, "FIRE-HYDRANT-BLOCKED", **hydrant)  # the same visit never counts
    for fid in (first, second):
        f = get_finding(app, fid)
        assert f.repeats == 1, "only the finding 364 days before counts"
        assert (f.final_tier, f.rule_id) == ("service", "T1")  # W04: one earlier finding leaves the waiver
    # A second earlier finding inside the window reaches the threshold: W05, enforcement E5.
    finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 100 * DAY, **hydrant)
    third = finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now + dt.timedelta(minutes=5), **hydrant)
    f = get_finding(app, third)
    # 364 and 100 days before, and the two findings of the visit before it.
    assert (f.repeats, f.final_tier, f.rule_id) == (4, "enforcement", "E5")


def test_the_window_follows_the_policy(app, world):
    from server.services import policy

    site = world["sites"]["EDZ"][0]
    now = utcnow()
    finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 200 * DAY, corrected_on_spot=True)
    with app.app_context():
        policy.change({"repeat_window_days": 180}, "a shorter look-back", None)
        db.session.commit()
    fid = finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now, corrected_on_spot=True)
    f = get_finding(app, fid)
    assert f.repeats == 0 and f.policy_version == 2


def test_a_late_finding_does_not_reclassify_stored_ones(app, world):
    site = world["sites"]["EDZ"][0]
    now = utcnow()
    finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 30 * DAY, corrected_on_spot=True)
    stored = finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now, corrected_on_spot=True)
    before = get_finding(app, stored)
    # A phone syncs a visit made ten days ago only now.
    late = finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - 10 * DAY, corrected_on_spot=True)
    assert get_finding(app, late).repeats == 1, "only the finding discovered before it counts"
    after = get_finding(app, stored)
    assert (after.repeats, after.suggested_tier, after.rule_id) == (before.repeats, before.suggested_tier,
                                                                    before.rule_id) == (1, "service", "T1")


def test_an_earlier_waiver_and_an_earlier_failed_order_are_looked_up(app, world):
    site = world["sites"]["EDZ"][0]
    now = utcnow()
    waived = finding_at(app, site, "FIRE-EQUIP-FAULT", now - 40 * DAY, corrected_on_spot=True)
    ordered = finding_at(app, site, "FIRE-ELEC-WIRING", now - 40 * DAY, severity="general")
    with app.app_context():
        supervisor = db.session.execute(sa.select(User.id).where(User.username == "sup1")).scalar()
        f = db.session.get(Finding, waived)
        db.session.add(ToleranceRecord(finding_id=waived, site_id=site, violation_type_id=f.violation_type_id,
                                       conditions_confirmed_by=supervisor))
        db.session.add(Order(finding_id=ordered, number="仪执责改〔2026〕9001号", issued_by=supervisor,
                             deadline=(now - 30 * DAY).date(), reinspection_due=(now - 20 * DAY).date(),
                             status="overdue"))
        db.session.commit()
    again = get_finding(app, finding_at(app, site, "FIRE-EQUIP-FAULT", now, corrected_on_spot=True))
    # No second waiver: T1 is closed to it, and the breach is penalised as found (T5, flagged).
    assert again.earlier_tolerance_closed and again.repeats == 1
    assert (again.rule_id, again.flags) == ("T5", ["statutory_minor_review"])
    wiring = get_finding(app, finding_at(app, site, "FIRE-ELEC-WIRING", now, severity="general"))
    assert wiring.earlier_order_failed and (wiring.final_tier, wiring.rule_id) == ("enforcement", "E4")


def test_photos_named_by_the_finding_wait_for_their_bytes(app, world):
    from server.models import Photo

    visit = make_visit(app, world["sites"]["EDZ"][0])
    photos = [uuid.uuid4(), uuid.uuid4()]
    fid = add_finding(app, visit, "FIRE-EXIT-BLOCKED", corrected_on_spot=True, photo_ids=[str(p) for p in photos])
    assert get_finding(app, fid).photos_waiting == 2
    with app.app_context():
        rows = db.session.execute(sa.select(Photo).where(Photo.finding_id == fid)).scalars().all()
        assert {p.id for p in rows} == set(photos) and {p.status for p in rows} == {"waiting"}


# --- what one transaction reads once -----------------------------------------------------------


def test_a_policy_change_in_the_same_transaction_is_used_by_the_next_finding(app, world):
    from server.services import policy
    from server.services.findings import record_finding

    vid = make_visit(app, world["sites"]["EDZ"][0])
    with app.app_context():
        visit = db.session.get(Visit, vid)
        data = {"violation_code": "FIRE-HYDRANT-BLOCKED", "severity": "minor", "corrected_on_spot": True}
        before = record_finding(visit, {"id": str(uuid.uuid4()), **data}, None).policy_version
        policy.change({"repeat_window_days": 180}, "a shorter look-back", None)
        after = record_finding(visit, {"id": str(uuid.uuid4()), **data}, None).policy_version
        db.session.rollback()
    assert after == before + 1


def test_a_calendar_loaded_in_the_same_transaction_counts_at_once(app, world):
    from server.services import calendar

    with app.app_context():
        day = dt.date(2026, 12, 2)  # a Wednesday: a working day in the bundled calendar
        assert calendar.work_calendar().is_working_day(day)
        doc = calendar.read_bundled(2026)
        doc["holidays"] = [*doc["holidays"], {"name": "测试假日", "from": day.isoformat(), "to": day.isoformat()}]
        calendar.load_year(doc, record_audit=False)
        assert not calendar.work_calendar().is_working_day(day)
        db.session.rollback()
        assert calendar.work_calendar().is_working_day(day), "the rolled-back year is forgotten"
        db.session.rollback()


def test_a_policy_version_committed_by_another_request_is_read_by_the_next_transaction(app, world):
    from server.services import policy

    with app.app_context():
        first = policy.current().version
        db.session.commit()
        with app.app_context():  # another request: its own session
            policy.change({"repeat_window_days": 200}, "another admin's change", None)
            db.session.commit()
        assert policy.current().version == first + 1
        db.session.rollback()


def test_findings_alike_in_one_batch_are_classified_alike_and_a_bad_fact_is_still_refused(app, world):
    """The batch form classifies findings alike once; a fact that only looks alike (0 for false)
    is still refused."""
    from server.services.findings import Intake

    vid = make_visit(app, world["sites"]["EDZ"][0])
    with app.app_context():
        visit = db.session.get(Visit, vid)
        base = {"violation_code": "FIRE-HYDRANT-BLOCKED", "severity": "minor", "corrected_on_spot": True,
                "intentional": False}
        datas = [{"id": str(uuid.uuid4()), **base} for _ in range(2)]
        bad = {"id": str(uuid.uuid4()), **base, "intentional": 0}
        intake = Intake([(visit, d) for d in [*datas, bad]])
        first, second = intake.take(visit, datas, None)
        assert (first["suggested_tier"], first["rule_id"]) == (second["suggested_tier"], second["rule_id"])
        with pytest.raises(ServiceError) as e:
            intake.take(visit, [bad], None)
        assert "intentional" in e.value.fields and e.value.finding_index == 0
        db.session.rollback()

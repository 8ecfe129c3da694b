"""The finding's life as rules (pure: which action each state admits, and the clocks of DOMAIN.md
section 6) and the hourly job that moves the clocks on (idempotent)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from server.domain import lifecycle as rules
from server.domain.workdays import WorkCalendar
from server.extensions import db
from server.models import AuditEntry, Finding, Order, User
from tests.findings_helpers import finding_at, get_finding, load_reference, make_visit

TODAY = dt.date(2026, 11, 26)  # a Thursday
POLICY = {"reinspection_within_days": 10, "case_decision_days": 90, "hearing_request_days": 5,
          "decision_service_days": 7, "fine_payment_days": 15}


def _state(status, tier="enforcement", **kw):
    return rules.FindingState(status=status, final_tier=tier, today=kw.pop("today", TODAY), **kw)


def _case(status, **kw):
    return rules.CaseState(number="仪执立〔2026〕0001号", status=status, **kw)


# --- the rules, pure -----------------------------------------------------------------------


def test_each_status_admits_its_next_steps():
    assert rules.allowed(_state("awaiting_review", "management")) == ["confirm-tier", "change-tier"]
    assert rules.allowed(_state("legal_review", flags=("statutory_minor_review",))) == ["legal-review"]
    assert rules.allowed(_state("open", "management")) == ["change-tier", "issue-order"]
    assert rules.allowed(_state("open", "service")) == ["change-tier", "close"]
    assert rules.allowed(_state("open", "enforcement")) == ["change-tier", "file-case"]
    order = rules.OrderState("仪执责改〔2026〕0001号", "open", "pending", TODAY, TODAY)
    assert rules.allowed(_state("order_issued", "management", order=order)) == [
        "record-commitment", "record-reinspection"]
    assert rules.allowed(_state("closed", "service")) == ["reopen"]
    assert rules.allowed(_state("closed", has_case=True)) == []


def test_nothing_flagged_is_filed_before_the_legal_reviewer_confirms():
    flagged = ("statutory_minor_review",)
    assert "legal reviewer" in rules.refusal(_state("open", flags=flagged), "file-case")
    assert rules.refusal(_state("open", flags=flagged, legal_review="confirm_enforcement"), "file-case") is None
    assert rules.refusal(_state("open", flags=flagged, legal_review="no_penalty"), "file-case") is not None


def test_a_decision_needs_the_notice_and_the_required_legal_review():
    filed = _state("case_open", case=_case("filed"), has_case=True)
    assert "notice" in rules.refusal(filed, "case/decide")
    assert rules.allowed(filed) == ["case/notify", "case/transfer"]
    window_over = TODAY - dt.timedelta(days=1)
    notified = _state("case_open", case=_case("notified", hearing_request_ends=window_over), has_case=True)
    assert rules.refusal(notified, "case/decide") is None
    required = _state("case_open", case=_case("notified", hearing_request_ends=window_over,
                                              legal_review_required=True), has_case=True)
    assert "legal review" in rules.refusal(required, "case/decide")
    submitted = _state("case_open", case=_case("legal_review", legal_review_required=True), has_case=True)
    assert "awaits the legal reviewer" in rules.refusal(submitted, "case/decide")
    assert rules.allowed(submitted) == ["legal-review", "case/transfer"]
    reviewed = _state("case_open", case=_case("legal_review", legal_review_required=True,
                                              review="confirm_enforcement"), has_case=True)
    assert rules.refusal(reviewed, "case/decide") is None


def test_the_hearing_window_and_the_payment_period_are_clocks():
    open_window = _case("notified", hearing_request_ends=TODAY)
    assert rules.refusal(_state("case_open", case=open_window, has_case=True), "case/request-hearing") is None
    assert "2026-11-26" in rules.refusal(_state("case_open", case=open_window, has_case=True), "case/decide")
    late = _state("case_open", case=open_window, has_case=True, today=TODAY + dt.timedelta(days=1))
    assert "until 2026-11-26" in rules.refusal(late, "case/request-hearing")
    fined = _case("served", decision="penalty", fine_yuan=5000, payment_due=TODAY)
    assert "pay until" in rules.refusal(_state("case_open", case=fined, has_case=True), "case/record-enforcement")
    assert "neither paid nor enforced" in rules.refusal(_state("case_open", case=fined, has_case=True), "case/close")
    after = _state("case_open", case=fined, has_case=True, today=TODAY + dt.timedelta(days=1))
    assert rules.allowed(after) == ["case/record-payment", "case/record-enforcement"]
    warning = _case("served", decision="penalty", fine_yuan=None)
    assert rules.allowed(_state("case_open", case=warning, has_case=True)) == ["case/close"]


def test_only_the_legal_reviewer_reviews():
    assert rules.roles_for("legal-review") == ("legal_reviewer", "admin")
    assert all(rules.roles_for(a) == ("supervisor", "admin") for a in rules.ACTIONS if a != "legal-review")


def test_clocks_count_working_days_where_the_law_says_days_are_working_days():
    # 2026: National Day holiday 1-8 October; Saturday 26 September and 10 October are make-up working days.
    calendar = WorkCalendar.from_entries([(dt.date(2026, 10, d), "holiday") for d in range(1, 9)]
                                         + [(dt.date(2026, 9, 26), "workday"), (dt.date(2026, 10, 10), "workday")])
    friday = dt.date(2026, 11, 20)
    assert rules.hearing_request_ends(friday, POLICY, calendar) == dt.date(2026, 11, 27)  # 5 working days
    assert rules.service_due(friday, POLICY, calendar) == dt.date(2026, 12, 1)  # 7 working days
    assert rules.hearing_request_ends(dt.date(2026, 9, 29), POLICY, calendar) == dt.date(2026, 10, 13)
    # Calendar days that end on a rest day end on the next working day.
    assert rules.reinspection_due(dt.date(2026, 11, 18), POLICY, calendar) == dt.date(2026, 11, 30)  # Sat 28 -> Mon
    assert rules.decision_due(dt.date(2026, 7, 3), POLICY, calendar) == dt.date(2026, 10, 9)  # 1 Oct -> 9 Oct
    assert rules.payment_due(dt.date(2026, 11, 26), POLICY, calendar) == dt.date(2026, 12, 11)


def test_document_numbers_per_year():
    assert rules.document_number("仪执责改", 2026, 1) == "仪执责改〔2026〕0001号"
    assert rules.parse_seq("仪执责改〔2026〕0012号", "仪执责改", 2026) == 12
    assert rules.parse_seq("仪执责改〔2025〕0012号", "仪执责改", 2026) is None


# --- the services and the hourly job -------------------------------------------------------------


@pytest.fixture
def world(app):
    return load_reference(app)


def _user(name: str) -> User:
    return db.session.execute(sa.select(User).where(User.username == name)).scalar_one()


def _ordered_finding(app, world) -> tuple:
    """A management finding (W09: frayed wiring, T4) with its order issued."""
    from server.services import lifecycle

    fid = finding_at(app, world["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
    with app.app_context():
        f = lifecycle.load(fid)
        lifecycle.confirm_tier(f, _user("sup1"))
        order = lifecycle.issue_order(f, _user("sup1"))
        return fid, order.id, order.deadline, order.reinspection_due


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar()


def test_the_job_makes_the_reinspection_due_then_escalates_an_overdue_order_once(app, world):
    from server.services.lifecycle import sweep_clocks

    fid, order_id, deadline, reinspection_due = _ordered_finding(app, world)
    assert (reinspection_due - deadline).days >= 10
    with app.app_context():
        quiet = sweep_clocks(today=deadline)
        assert quiet["escalated"] == [] and quiet["reinspection_due"] == []
        assert quiet["expiring"] == 1 and quiet["clocks"][0]["due"] == deadline.isoformat()
        moved = sweep_clocks(today=deadline + dt.timedelta(days=1))
        assert moved["reinspection_due"] == [str(fid)]
    f = get_finding(app, fid)
    assert (f.status, f.next_deadline, f.final_tier) == ("reinspection_due", reinspection_due, "management")
    before = _audit_count(app)
    with app.app_context():
        again = sweep_clocks(today=deadline + dt.timedelta(days=1))
    assert again["reinspection_due"] == [] and again["escalated"] == [] and _audit_count(app) == before
    with app.app_context():
        assert sweep_clocks(today=reinspection_due)["escalated"] == []
        overdue = sweep_clocks(today=reinspection_due + dt.timedelta(days=1))
    assert overdue["escalated"] == [str(fid)]
    f = get_finding(app, fid)
    assert (f.suggested_tier, f.final_tier, f.rule_id, f.status) == ("management", "enforcement", "T4", "escalated")
    assert f.tier_reason.startswith("E4") and f.next_deadline is None
    with app.app_context():
        assert db.session.get(Order, order_id).status == "overdue"
        actions = [a for (a,) in db.session.execute(sa.select(AuditEntry.action).order_by(AuditEntry.id)).all()]
        assert actions[-2:] == ["order.overdue", "finding.escalate"]
    before = _audit_count(app)
    with app.app_context():
        second = sweep_clocks(today=reinspection_due + dt.timedelta(days=1))
        db.session.remove()
    assert second["escalated"] == [] and second["reinspection_due"] == [] and _audit_count(app) == before
    assert get_finding(app, fid).status == "escalated"


def test_a_passed_reinspection_after_the_deadline_is_not_escalated(app, world):
    from server.services import lifecycle

    fid, order_id, deadline, reinspection_due = _ordered_finding(app, world)
    with app.app_context():
        lifecycle.sweep_clocks(today=deadline + dt.timedelta(days=1))
        lifecycle.record_reinspection(lifecycle.load(fid), _user("sup1"), "passed")
        result = lifecycle.sweep_clocks(today=reinspection_due + dt.timedelta(days=30))
    assert result["escalated"] == []
    f = get_finding(app, fid)
    assert (f.status, f.final_tier) == ("open", "management")
    with app.app_context():
        assert db.session.get(Order, order_id).status == "passed"


def test_a_field_reinspection_names_the_order_and_its_visit(app, world):
    from server.services import lifecycle

    fid, order_id, _deadline, _due = _ordered_finding(app, world)
    visit = make_visit(app, world["sites"]["EDZ"][0], kind="reinspection")
    with app.app_context():
        row = lifecycle.record_reinspection_of_order(order_id, _user("insp1"), "partly", visit_id=visit,
                                                     note="two of three sockets replaced", commit=False)
        db.session.commit()
        assert row.visit_id == visit
    f = get_finding(app, fid)
    assert (f.status, f.final_tier) == ("escalated", "enforcement"), "a partial correction escalates (E4)"


def test_the_job_is_registered_hourly(app):
    from apscheduler.triggers.interval import IntervalTrigger

    from server.jobs import jobs
    from server.services.lifecycle import sweep_clocks

    found = {name: (trigger, fn) for name, trigger, fn in jobs(app)}
    trigger, fn = found["finding-clocks"]
    assert fn is sweep_clocks and isinstance(trigger, IntervalTrigger)
    assert trigger.interval == dt.timedelta(hours=1)


def test_the_job_on_an_empty_bureau_changes_nothing(app):
    from server.services.lifecycle import sweep_clocks

    before = _audit_count(app)
    with app.app_context():
        result = sweep_clocks()
        assert db.session.execute(sa.select(sa.func.count(Finding.id))).scalar() == 0
    assert result["escalated"] == [] and result["expired"] == 0 and _audit_count(app) == before

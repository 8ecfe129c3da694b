"""A finding's life after intake: the supervisor's and the legal reviewer's actions, orders and
re-inspections, cases, and the hourly sweep of the clocks (DOMAIN.md sections 1 to 4 and 6).

Which action a finding admits, and why the others are refused, is decided in
server/domain/lifecycle.py; this module reads the state, asks there, writes, appends an audit
entry in the same transaction and commits (the field sync calls the same functions with
commit=False inside its own transaction). A refused transition raises Conflict (409) with
`allowed_next`, the actions the finding admits now; a request whose content is wrong raises
ServiceError (422) naming the field.

The order's clocks. A rectification notice runs to its deadline (the catalogue row's
correction period in its unit, counted from the day it is issued, unless the supervisor
gives an earlier day); the re-inspection (复查) is due within the policy's
`reinspection_within_days` after the deadline. Once the deadline has passed the finding is
`reinspection_due`; a re-inspection that fails (or passes only partly) escalates it at once;
when the re-inspection window closes without a passed re-inspection, the order is overdue
and the finding escalates (rule E4, both tiers kept). A passed re-inspection ends the order;
the supervisor then closes the finding, on the no-penalty path only when every condition of
DOMAIN.md section 4 is met (server/domain/tolerance.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid

import sqlalchemy as sa

from ..domain import classify as classifier, lifecycle as rules, tolerance
from ..domain.certificates import normalised_number
from ..domain.policy import default_policy
from ..domain.workdays import correction_deadline, local_date
from ..extensions import db
from ..models import (
    Case, EducationRecord, Finding, LegalReview, Order, Photo, PolicyVersion, Reinspection, ToleranceRecord, User,
    ViolationType, Visit,
)
from ..models.types import utcnow
from ..models.vocab import TIERS
from . import audit, numbering, webhooks
from .calendar import work_calendar
from .errors import Conflict, NotFound, ServiceError
from .findings import attach_photos

log = logging.getLogger("fieldcheck.lifecycle")

# How far ahead of the server's clock a re-inspection time may be (a phone's clock drifts).
FUTURE_SKEW = dt.timedelta(minutes=10)


def now() -> dt.datetime:
    return utcnow()


def _policy() -> dict:
    """The policy in force, read without writing (any stored finding made the first version)."""
    row = db.session.execute(
        sa.select(PolicyVersion.values).order_by(PolicyVersion.version.desc()).limit(1)).scalar()
    return {**default_policy(), **(row or {})}


def _today(policy: dict) -> dt.date:
    return local_date(now(), policy["timezone"])


# --- reading the state ---------------------------------------------------------------------


def load(finding_id: uuid.UUID, lock: bool = True) -> Finding:
    """The finding, locked for the action on PostgreSQL (SQLite's writers are serialised already)."""
    stmt = sa.select(Finding).where(Finding.id == finding_id)
    if lock:
        # The row as committed once the lock is held, not an older copy the session kept.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    finding = db.session.execute(stmt).scalar()
    if finding is None:
        raise NotFound(f"no finding with id {finding_id}")
    return finding


def latest_order(finding: Finding) -> Order | None:
    return db.session.execute(sa.select(Order).where(Order.finding_id == finding.id)
                              .order_by(Order.issued_at.desc(), Order.id.desc()).limit(1)).scalar()


def case_of(finding: Finding) -> Case | None:
    return db.session.execute(sa.select(Case).where(Case.finding_id == finding.id)).scalar()


def _finding_review(finding: Finding) -> LegalReview | None:
    return db.session.execute(sa.select(LegalReview).where(
        LegalReview.finding_id == finding.id, LegalReview.case_id.is_(None))
        .order_by(LegalReview.id.desc()).limit(1)).scalar()


def _case_review(case: Case) -> LegalReview | None:
    return db.session.execute(sa.select(LegalReview).where(LegalReview.case_id == case.id)
                              .order_by(LegalReview.id.desc()).limit(1)).scalar()


def _case_clocks(case: Case, policy: dict, calendar) -> tuple[dt.date | None, dt.date | None]:
    tz = policy["timezone"]
    hearing_ends = (rules.hearing_request_ends(local_date(case.notified_at, tz), policy, calendar)
                    if case.notified_at else None)
    pay_by = rules.payment_due(local_date(case.served_at, tz), policy, calendar) if case.served_at else None
    return hearing_ends, pay_by


def state_of(finding: Finding, policy: dict | None = None, today: dt.date | None = None) -> rules.FindingState:
    policy = policy or _policy()
    today = today or _today(policy)
    order = latest_order(finding)
    case = case_of(finding)
    review = _finding_review(finding)
    case_state = None
    if case is not None:
        hearing_ends, pay_by = _case_clocks(case, policy, work_calendar())
        case_review = _case_review(case)
        case_state = rules.CaseState(
            number=case.number, status=case.status, decision=case.decision, fine_yuan=case.fine_yuan,
            legal_review_required=case.legal_review_required,
            review=case_review.outcome if case_review else None,
            hearing_request_ends=hearing_ends, payment_due=pay_by)
    return rules.FindingState(
        status=finding.status, final_tier=finding.final_tier, today=today, flags=tuple(finding.flags or ()),
        legal_review=review.outcome if review else None,
        order=None if order is None else rules.OrderState(
            number=order.number, status=order.status, commitment=order.commitment, deadline=order.deadline,
            reinspection_due=order.reinspection_due),
        case=case_state, has_case=case is not None)


def allowed_actions(finding: Finding, role: str | None = None) -> list[str]:
    """The actions the finding admits now; with a role, only those that role may take."""
    names = rules.allowed(state_of(finding))
    if role is not None:
        names = [a for a in names if role in rules.roles_for(a)]
    return names


def _require(finding: Finding, action: str, policy: dict) -> rules.FindingState:
    state = state_of(finding, policy)
    why = rules.refusal(state, action)
    if why is not None:
        raise Conflict(f"{action} is not allowed now: {why}", allowed_next=rules.allowed(state))
    return state


def summary(finding: Finding) -> dict:
    """What an action answers: the finding's state after it and what may follow."""
    order = latest_order(finding)
    case = case_of(finding)
    return {
        "id": finding.id, "status": finding.status, "suggested_tier": finding.suggested_tier,
        "final_tier": finding.final_tier, "rule_id": finding.rule_id, "tier_reason": finding.tier_reason,
        "flags": list(finding.flags or []), "tolerance_path": finding.tolerance_path,
        "next_deadline": finding.next_deadline, "allowed_next": rules.allowed(state_of(finding)),
        "order": None if order is None else {
            "id": order.id, "number": order.number, "status": order.status, "commitment": order.commitment,
            "issued_at": order.issued_at, "deadline": order.deadline, "reinspection_due": order.reinspection_due},
        "case": None if case is None else {
            "id": case.id, "number": case.number, "status": case.status, "filed_at": case.filed_at,
            "decision_due": case.decision_due, "legal_review_required": case.legal_review_required,
            "decision": case.decision, "fine_yuan": case.fine_yuan},
    }


def _audit(action: str, finding: Finding, actor: User | None, entity: tuple[str, object] | None = None,
           **details) -> None:
    entity_type, entity_id = entity or ("finding", finding.id)
    body = {"finding": str(finding.id), "status": finding.status, "final_tier": finding.final_tier, **details}
    audit.record(action, entity_type, entity_id, _jsonable(body), actor.id if actor else None)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _done(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def _next_number(model, prefix: str, year: int) -> str:
    """The next number from the per-year counter of orders or cases (services/numbering.py)."""

    def highest_taken() -> int:  # only when the year's counter is first made
        head = f"{prefix}〔{year}〕"
        taken = db.session.execute(sa.select(model.number).where(model.number.startswith(head, autoescape=True)))
        return max((rules.parse_seq(n, prefix, year) or 0 for n in taken.scalars()), default=0)

    kind = "order" if model is Order else "case"
    return rules.document_number(prefix, year, numbering.next_seq(kind, year, highest_taken))


# --- the tier ------------------------------------------------------------------------------


def confirm_tier(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Finding:
    policy = _policy()
    _require(finding, "confirm-tier", policy)
    finding.status = "open"
    _audit("finding.confirm_tier", finding, actor, tier=finding.final_tier, note=note)
    _done(commit)
    return finding


def change_tier(finding: Finding, actor: User, tier: str, reason: str = "", commit: bool = True) -> Finding:
    """A supervisor's decision: both tiers are kept; a downgrade needs a written reason; an
    excluded domain (policy) never goes below management by discretion (DOMAIN.md section 2)."""
    policy = _policy()
    _require(finding, "change-tier", policy)
    if tier not in TIERS:
        raise ServiceError(f"a tier is one of {', '.join(TIERS)}", ("tier",))
    if tier == finding.final_tier:
        raise ServiceError(f"the finding is {tier} already: confirm the tier instead", ("tier",))
    reason = (reason or "").strip()
    downgrade = classifier.tier_rank(tier) < classifier.tier_rank(finding.final_tier)
    if downgrade and not reason:
        raise ServiceError(f"a downgrade from {finding.final_tier} to {tier} needs a written reason", ("reason",))
    if downgrade and tier == "service" and finding.domain in policy["excluded_domains"]:
        raise ServiceError(f"{finding.domain} is outside the tolerance path (policy): its findings are never "
                           "waived by discretion; a minor one corrected on the spot goes to the legal reviewer",
                           ("tier",))
    before = finding.final_tier
    finding.final_tier = tier
    finding.tier_reason = reason
    finding.status = "open"
    finding.next_deadline = finding.correction_deadline if tier == "management" else None
    _audit("finding.change_tier", finding, actor, **{"from": before, "to": tier, "reason": reason,
                                                     "downgrade": downgrade})
    webhooks.emit("finding.tier_changed", finding=finding, before=before, by="supervisor")
    _done(commit)
    return finding


def _escalate(finding: Finding, reason: str, actor: User | None, **details) -> bool:
    esc = classifier.escalate(finding.final_tier, reason)
    if not esc.changed:
        return False
    before = finding.final_tier
    finding.final_tier = esc.tier
    finding.tier_reason = f"{esc.explanation_zh} {esc.explanation_en}"
    finding.status = "escalated"
    finding.next_deadline = None
    _audit("finding.escalate", finding, actor, **{"from": before, "to": esc.tier, "rule_id": esc.rule_id,
                                                  "reason": reason, **details})
    webhooks.emit("finding.tier_changed", finding=finding, before=before, by="escalation")
    return True


# --- orders and re-inspections ------------------------------------------------------------------


def issue_order(finding: Finding, actor: User, deadline: dt.date | None = None, note: str = "",
                commit: bool = True) -> Order:
    """A rectification notice (责令限期改正): its per-year number, its deadline (the catalogue
    row's period from today unless an earlier day is given), its re-inspection due date."""
    policy = _policy()
    _require(finding, "issue-order", policy)
    issued = now()
    tz = policy["timezone"]
    today = local_date(issued, tz)
    calendar = work_calendar()
    row = db.session.get(ViolationType, finding.violation_type_id) if finding.violation_type_id else None
    longest = (correction_deadline(issued, row.correction_days, row.correction_unit, calendar, tz)
               if row is not None else None)
    if deadline is None:
        if longest is None:
            raise ServiceError("an advisory finding has no catalogue row to take a correction period from: "
                               "give the deadline", ("deadline",))
        deadline = longest
    elif deadline < today:
        raise ServiceError(f"the deadline {deadline.isoformat()} is before today ({today.isoformat()})", ("deadline",))
    elif longest is not None and deadline > longest:
        unit = "working days" if row.correction_unit == "working_days" else "calendar days"
        raise ServiceError(f"{row.code} allows at most {row.correction_days} {unit} to correct: the deadline can be "
                           f"{longest.isoformat()} at the latest", ("deadline",))
    order = Order(finding_id=finding.id, number=_next_number(Order, policy["order_number_prefix"], today.year),
                  issued_at=issued, issued_by=actor.id, deadline=deadline,
                  reinspection_due=rules.reinspection_due(deadline, policy, calendar))
    db.session.add(order)
    db.session.flush()
    finding.status = "order_issued"
    finding.next_deadline = deadline
    _audit("order.issue", finding, actor, ("order", order.id), number=order.number, deadline=deadline,
           reinspection_due=order.reinspection_due, note=note)
    _done(commit)
    return order


def record_commitment(finding: Finding, actor: User, commitment: str, note: str = "", commit: bool = True) -> Order:
    """The commitment letter (承诺书): signed, or the party's refusal noted."""
    policy = _policy()
    _require(finding, "record-commitment", policy)
    if commitment not in ("signed", "refused"):
        raise ServiceError("the commitment letter is signed or refused", ("commitment",))
    order = latest_order(finding)
    order.commitment = commitment
    _audit("order.commitment", finding, actor, ("order", order.id), number=order.number, commitment=commitment,
           note=note)
    _done(commit)
    return order


def record_reinspection(finding: Finding, actor: User, outcome: str, at: dt.datetime | None = None,
                        photo_ids=(), visit_id: uuid.UUID | None = None, note: str = "",
                        commit: bool = True) -> Reinspection:
    """The re-inspection (复查) of the running order. Passed ends the order (the supervisor then
    closes the finding); failed, or passed only in part, escalates the finding to enforcement
    at once (rule E4): what is left uncorrected after the deadline is the overdue breach."""
    policy = _policy()
    _require(finding, "record-reinspection", policy)
    if outcome not in ("passed", "failed", "partly"):
        raise ServiceError("a re-inspection is passed, failed or partly", ("outcome",))
    order = latest_order(finding)
    moment = now()
    at = at or moment
    if at.tzinfo is None or at.utcoffset() is None:
        raise ServiceError("the re-inspection time needs its UTC offset", ("at",))
    if at > moment + FUTURE_SKEW:
        raise ServiceError(f"the re-inspection time {at.isoformat()} is in the future", ("at",))
    if at < order.issued_at:
        raise ServiceError(f"the re-inspection time {at.isoformat()} is before order {order.number} was issued "
                           f"({order.issued_at.isoformat()})", ("at",))
    if visit_id is not None:
        visit = db.session.get(Visit, visit_id)
        if visit is None:
            raise ServiceError(f"there is no visit {visit_id}", ("visit_id",))
        if visit.site_id != finding.site_id:
            raise ServiceError(f"visit {visit_id} was made at another site", ("visit_id",))
    ids = [str(p) for p in photo_ids or ()]
    if len(set(ids)) != len(ids):
        raise ServiceError("a photo is named twice", ("photo_ids",))
    attach_photos(finding.id, visit_id, ids, "reinspection")
    row = Reinspection(order_id=order.id, visit_id=visit_id, outcome=outcome, at=at, recorded_by=actor.id,
                       note=note, photo_ids=ids)
    db.session.add(row)
    db.session.flush()
    if outcome == "passed":
        order.status = "passed"
        finding.status = "open"
        finding.next_deadline = None
    else:
        order.status = "failed"
        order.closed_at = moment
    _audit("order.reinspection", finding, actor, ("reinspection", row.id), order=order.number, outcome=outcome,
           at=at, photo_ids=ids, visit=visit_id, note=note)
    if outcome != "passed":
        _escalate(finding, "reinspection_failed", actor, order=order.number, outcome=outcome)
    _done(commit)
    return row


def record_reinspection_of_order(order_id: int, actor: User, outcome: str, at: dt.datetime | None = None,
                                 photo_ids=(), visit_id: uuid.UUID | None = None, note: str = "",
                                 commit: bool = True) -> Reinspection:
    """The same, from a field visit that names the order (a visit of kind `reinspection`)."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order with id {order_id}")
    finding = load(order.finding_id)
    latest = latest_order(finding)
    if latest is None or latest.id != order.id:
        raise Conflict(f"order {order.number} was followed by order {latest.number}: re-inspect that one",
                       allowed_next=allowed_actions(finding))
    return record_reinspection(finding, actor, outcome, at, photo_ids, visit_id, note, commit)


# --- the legal reviewer ------------------------------------------------------------------------


def legal_review(finding: Finding, actor: User, outcome: str, reason: str, commit: bool = True) -> LegalReview:
    """法制审核: of a finding flagged for statutory minor review (confirm enforcement, or no penalty
    under art. 33 para. 1, which leaves the finding to close with an education record), or of a
    case submitted before its decision."""
    policy = _policy()
    state = _require(finding, "legal-review", policy)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("a legal review records its reason", ("reason",))
    if outcome not in ("confirm_enforcement", "no_penalty"):
        raise ServiceError("the outcome is confirm_enforcement or no_penalty", ("outcome",))
    if state.status == "legal_review":
        review = LegalReview(finding_id=finding.id, reviewer_id=actor.id, outcome=outcome, reason=reason, at=now())
        db.session.add(review)
        db.session.flush()
        before = finding.final_tier
        if outcome == "no_penalty":
            # No penalty, no order: corrected on the spot and educated, which is the service tier.
            finding.final_tier = "service"
            finding.tier_reason = reason
        finding.status = "open"
        _audit("finding.legal_review", finding, actor, ("legal_review", review.id), outcome=outcome, reason=reason,
               **{"from": before, "to": finding.final_tier})
        if finding.final_tier != before:
            webhooks.emit("finding.tier_changed", finding=finding, before=before, by="legal_review")
    else:
        case = case_of(finding)
        review = LegalReview(finding_id=finding.id, case_id=case.id, reviewer_id=actor.id, outcome=outcome,
                             reason=reason, at=now())
        db.session.add(review)
        db.session.flush()
        _audit("case.legal_review", finding, actor, ("legal_review", review.id), case=case.number, outcome=outcome,
               reason=reason)
    _done(commit)
    return review


# --- cases -----------------------------------------------------------------------------------


def _check_investigators(ids: list[int], day: dt.date) -> list[User]:
    if len(ids) != 2:
        raise ServiceError("a case needs exactly two investigators", ("investigator_ids",))
    if ids[0] == ids[1]:
        raise ServiceError("the two investigators must be two different officers: the same one is named twice",
                           ("investigator_ids",))
    users, problems = [], []
    for uid in ids:
        user = db.session.get(User, uid)
        if user is None or not user.active:
            problems.append(f"there is no active user {uid}")
        elif user.auxiliary:
            problems.append(f"{user.name} is auxiliary staff (协管员), who never count as an investigator")
        elif not normalised_number(user.certificate_no):
            problems.append(f"{user.name} holds no law-enforcement certificate (执法证)")
        elif not user.certified_on(day):
            expired = user.certificate_expires.isoformat() if user.certificate_expires else "an unknown day"
            problems.append(f"{user.name}'s certificate {user.certificate_no} expired on {expired}")
        users.append(user)
    if problems:
        raise ServiceError("two certified officers, not auxiliary staff, with certificates valid today, investigate "
                           "a case: " + "; ".join(problems), ("investigator_ids",), problems=problems)
    return users


def file_case(finding: Finding, actor: User, investigator_ids: list[int], legal_review_required: bool = False,
              note: str = "", commit: bool = True) -> Case:
    """立案: a supervisor files the enforcement suggestion as a case; the 90-day clock starts."""
    policy = _policy()
    _require(finding, "file-case", policy)
    filed = now()
    today = local_date(filed, policy["timezone"])
    first, second = _check_investigators(list(investigator_ids), today)
    case = Case(finding_id=finding.id, number=_next_number(Case, policy["case_number_prefix"], today.year),
                status="filed", filed_at=filed, filed_by=actor.id, investigator1_id=first.id,
                investigator2_id=second.id, decision_due=rules.decision_due(today, policy, work_calendar()),
                legal_review_required=bool(legal_review_required))
    db.session.add(case)
    db.session.flush()
    finding.status = "case_open"
    finding.next_deadline = case.decision_due
    _audit("case.file", finding, actor, ("case", case.id), number=case.number, investigators=[first.id, second.id],
           decision_due=case.decision_due, legal_review_required=case.legal_review_required, note=note)
    webhooks.emit("case.opened", case=case, finding=finding)
    _done(commit)
    return case


def _case_step(finding: Finding, step: str, policy: dict) -> Case:
    _require(finding, f"case/{step}", policy)
    return case_of(finding)


def notify(finding: Finding, actor: User, statement: str, note: str = "", commit: bool = True) -> Case:
    """告知: the party is told the facts, the grounds and its rights; its statement and defence
    (陈述申辩) are recorded. The hearing-request period starts."""
    policy = _policy()
    case = _case_step(finding, "notify", policy)
    statement = (statement or "").strip()
    if not statement:
        raise ServiceError("record the party's statement and defence (陈述申辩), or that it made none", ("statement",))
    case.notified_at = now()
    case.party_statement = statement
    case.status = "notified"
    hearing_ends, _ = _case_clocks(case, policy, work_calendar())
    _audit("case.notify", finding, actor, ("case", case.id), number=case.number, statement=statement,
           hearing_request_ends=hearing_ends, note=note)
    _done(commit)
    return case


def request_hearing(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    policy = _policy()
    case = _case_step(finding, "request-hearing", policy)
    case.hearing_requested_at = now()
    case.status = "hearing_requested"
    _audit("case.request_hearing", finding, actor, ("case", case.id), number=case.number, note=note)
    _done(commit)
    return case


def hold_hearing(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    """A case decided after a hearing goes to the legal review first (行政处罚法 art. 58)."""
    policy = _policy()
    case = _case_step(finding, "hold-hearing", policy)
    case.hearing_held_at = now()
    case.status = "hearing_held"
    case.legal_review_required = True
    _audit("case.hold_hearing", finding, actor, ("case", case.id), number=case.number, note=note)
    _done(commit)
    return case


def submit_legal_review(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    policy = _policy()
    case = _case_step(finding, "submit-legal-review", policy)
    case.status = "legal_review"
    _audit("case.submit_legal_review", finding, actor, ("case", case.id), number=case.number, note=note)
    _done(commit)
    return case


def decide(finding: Finding, actor: User, decision: str, note: str, fine_yuan: int | None = None,
           commit: bool = True) -> Case:
    policy = _policy()
    state = _require(finding, "case/decide", policy)
    case = case_of(finding)
    note = (note or "").strip()
    if decision not in ("penalty", "no_penalty", "not_established"):
        raise ServiceError("a decision is penalty, no_penalty or not_established", ("decision",))
    if not note:
        raise ServiceError("a decision states its facts and grounds", ("note",))
    if fine_yuan is not None and decision != "penalty":
        raise ServiceError(f"a {decision} decision imposes no fine", ("fine_yuan",))
    if decision == "penalty" and state.case.review == "no_penalty":
        raise Conflict("the legal review found that no penalty applies: decide no_penalty or not_established",
                       ("decision",), allowed_next=rules.allowed(state))
    decided = now()
    case.decision, case.decision_note, case.fine_yuan, case.decided_at = decision, note, fine_yuan, decided
    case.status = "decided"
    finding.next_deadline = rules.service_due(local_date(decided, policy["timezone"]), policy, work_calendar())
    _audit("case.decide", finding, actor, ("case", case.id), number=case.number, decision=decision,
           fine_yuan=fine_yuan, note=note, serve_by=finding.next_deadline)
    _done(commit)
    return case


def serve(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    policy = _policy()
    case = _case_step(finding, "serve", policy)
    case.served_at = now()
    case.status = "served"
    _, pay_by = _case_clocks(case, policy, work_calendar())
    finding.next_deadline = pay_by if case.decision == "penalty" and case.fine_yuan else None
    _audit("case.serve", finding, actor, ("case", case.id), number=case.number, pay_by=finding.next_deadline,
           note=note)
    _done(commit)
    return case


def record_payment(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    policy = _policy()
    case = _case_step(finding, "record-payment", policy)
    case.paid_at = now()
    case.status = "paid"
    finding.next_deadline = None
    _audit("case.payment", finding, actor, ("case", case.id), number=case.number, fine_yuan=case.fine_yuan, note=note)
    _done(commit)
    return case


def record_enforcement(finding: Finding, actor: User, note: str = "", commit: bool = True) -> Case:
    """Compulsory enforcement (强制执行) of an unpaid fine, once the payment period is over."""
    policy = _policy()
    case = _case_step(finding, "record-enforcement", policy)
    case.status = "enforced"
    finding.next_deadline = None
    _audit("case.enforcement", finding, actor, ("case", case.id), number=case.number, note=note)
    _done(commit)
    return case


def close_case(finding: Finding, actor: User, education: str = "", note: str = "", commit: bool = True) -> Case:
    """Whoever is not penalised is educated (art. 33 para. 3): a no-penalty decision closes with
    an education record."""
    policy = _policy()
    case = _case_step(finding, "close", policy)
    education = (education or "").strip()
    if case.decision == "no_penalty" and not education:
        raise ServiceError("a case decided without penalty closes with an education record", ("education",))
    record = _educate(finding, actor, education) if education else None
    case.status = "closed"
    case.closed_at = now()
    finding.status = "closed_no_penalty" if case.decision == "no_penalty" else "closed"
    finding.next_deadline = None
    _audit("case.close", finding, actor, ("case", case.id), number=case.number, decision=case.decision,
           education_record=record.id if record else None, note=note)
    _done(commit)
    return case


def transfer(finding: Finding, actor: User, reason: str, commit: bool = True) -> Case:
    """Suspected crime: the case goes to the judicial organs (rule E1), and leaves the bureau."""
    policy = _policy()
    case = _case_step(finding, "transfer", policy)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("a transfer states why a crime is suspected and to whom it goes", ("reason",))
    case.transferred_at = now()
    case.status = "transferred"
    case.decision_note = reason
    finding.status = "closed"
    finding.next_deadline = None
    _audit("case.transfer", finding, actor, ("case", case.id), number=case.number, reason=reason)
    _done(commit)
    return case


# --- closing --------------------------------------------------------------------------------


def _educate(finding: Finding, actor: User, text: str) -> EducationRecord:
    record = EducationRecord(finding_id=finding.id, by_user=actor.id, at=now(), text=text)
    db.session.add(record)
    db.session.flush()
    return record


def _photos_stored(ids: set[str]) -> int:
    if not ids:
        return 0
    uuids = [uuid.UUID(i) for i in ids]
    return db.session.execute(sa.select(sa.func.count(Photo.id)).where(
        Photo.id.in_(uuids), Photo.status == "stored")).scalar_one()


def _reinspection_photo_ids(r: Reinspection) -> set[str]:
    ids = set(r.photo_ids or [])
    if r.visit_id is not None:
        ids |= {str(p) for p in db.session.execute(sa.select(Photo.id).where(Photo.visit_id == r.visit_id)).scalars()}
    return ids


def tolerance_checklist(finding: Finding, conditions_confirmed: bool = False,
                        new_education: bool = False) -> tolerance.Checklist:
    """DOMAIN.md section 4's conditions for this finding, as they stand (plus what a closing
    request brings: the supervisor's confirmation and an education record)."""
    policy = _policy()
    row = db.session.get(ViolationType, finding.violation_type_id) if finding.violation_type_id else None
    order = latest_order(finding)
    order_facts = None
    if order is not None:
        reinspections = db.session.execute(sa.select(Reinspection).where(Reinspection.order_id == order.id)
                                           .order_by(Reinspection.at, Reinspection.id)).scalars()
        order_facts = tolerance.OrderFacts(
            number=order.number, issued_at=order.issued_at, deadline=order.deadline, commitment=order.commitment,
            reinspections=tuple(tolerance.ReinspectionFacts(
                outcome=r.outcome, at=r.at, stored_photos=_photos_stored(_reinspection_photo_ids(r)))
                for r in reinspections))
    ledger = db.session.execute(sa.select(ToleranceRecord).where(ToleranceRecord.finding_id == finding.id)).scalar()
    lookup_values = db.session.get(PolicyVersion, finding.policy_version)
    window = {**default_policy(), **(lookup_values.values if lookup_values else {})}["repeat_window_days"]
    educated = db.session.execute(sa.select(sa.func.count(EducationRecord.id))
                                  .where(EducationRecord.finding_id == finding.id)).scalar_one()
    facts = tolerance.ToleranceFacts(
        discovered_at=finding.discovered_at, tolerance_path=finding.tolerance_path, final_tier=finding.final_tier,
        row=None if row is None else tolerance.RowFacts(
            code=row.code, tolerance_type=row.tolerance_type, correction_days=row.correction_days,
            correction_unit=row.correction_unit, effective_from=row.effective_from, effective_to=row.effective_to),
        repeats=finding.repeats, earlier_tolerance_closed=finding.earlier_tolerance_closed,
        repeat_window_days=window, lookup_policy_version=finding.policy_version,
        conditions_confirmed=conditions_confirmed or ledger is not None, order=order_facts,
        education_records=educated + (1 if new_education else 0))
    return tolerance.checklist(facts, work_calendar(), policy["timezone"])


def close(finding: Finding, actor: User, education: str = "", conditions_confirmed: bool = False, note: str = "",
          commit: bool = True) -> Finding:
    """Close a service finding, or a management finding whose order passed its re-inspection.

    On the tolerance path (service on the spot, or no penalty if corrected) every condition of
    DOMAIN.md section 4 must hold, or the closing is refused with the list of what is missing;
    it then writes the ledger entry that makes the next occurrence a repeat that cannot be
    waived again. A service finding, a no-fault finding (N1) and one the legal reviewer cleared
    close with an education record: whoever is not penalised is educated (art. 33 para. 3).
    """
    policy = _policy()
    _require(finding, "close", policy)
    education = (education or "").strip()
    check = tolerance_checklist(finding, conditions_confirmed, new_education=bool(education))
    if check.applies and check.missing:
        items = [{"key": i.key, "status": i.status, "detail": i.detail} for i in check.items]
        details = "; ".join(i.detail for i in check.items if i.status == tolerance.MISSING)
        raise Conflict(f"cannot close without penalty: {details}", missing=check.missing, checklist=items,
                       allowed_next=allowed_actions(finding))
    cleared = _finding_review(finding)
    no_penalty = (check.applies or rules.NO_PENALTY_FLAG in (finding.flags or [])
                  or (cleared is not None and cleared.outcome == "no_penalty"))
    if (no_penalty or finding.final_tier == "service") and not education:
        raise ServiceError("whoever is not penalised is educated (行政处罚法 art. 33 para. 3): write the education "
                           "record", ("education",))
    record = _educate(finding, actor, education) if education else None
    order = latest_order(finding)
    if order is not None and order.status == "passed":
        order.status = "closed"
        order.closed_at = now()
    ledger = None
    if check.applies:
        passed = None
        if order is not None:
            passed = db.session.execute(sa.select(Reinspection).where(
                Reinspection.order_id == order.id, Reinspection.outcome == "passed")
                .order_by(Reinspection.at.desc()).limit(1)).scalar()
        ledger = ToleranceRecord(
            finding_id=finding.id, site_id=finding.site_id, violation_type_id=finding.violation_type_id,
            conditions_confirmed_by=actor.id,
            first_offence_lookup={"repeats": finding.repeats,
                                  "earlier_tolerance_closed": finding.earlier_tolerance_closed,
                                  "earlier_order_failed": finding.earlier_order_failed,
                                  "policy_version": finding.policy_version},
            order_id=order.id if order is not None and finding.tolerance_path == "no_penalty_if_corrected" else None,
            reinspection_id=passed.id if passed is not None else None,
            education_record_id=record.id if record else None, closed_at=now())
        db.session.add(ledger)
        db.session.flush()
    finding.status = "closed_no_penalty" if no_penalty else "closed"
    finding.next_deadline = None
    _audit("finding.close", finding, actor, conditions_confirmed=bool(check.applies and conditions_confirmed),
           education_record=record.id if record else None, tolerance_record=ledger.id if ledger else None,
           checklist=[i.key for i in check.items if i.status == tolerance.MET], note=note)
    _done(commit)
    return finding


def reopen(finding: Finding, actor: User, reason: str, commit: bool = True) -> Finding:
    """Undo a closing made in error: the finding is open again at its final tier; a ledger entry
    written by the closing is withdrawn (the audit entry keeps what it said), so it no longer
    bars the next waiver; an order that had passed is passed again."""
    policy = _policy()
    _require(finding, "reopen", policy)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reopening a closed finding needs a written reason", ("reason",))
    ledger = db.session.execute(sa.select(ToleranceRecord).where(ToleranceRecord.finding_id == finding.id)).scalar()
    withdrawn = None
    if ledger is not None:
        withdrawn = {"id": ledger.id, "closed_at": ledger.closed_at, "order_id": ledger.order_id,
                     "reinspection_id": ledger.reinspection_id, "first_offence_lookup": ledger.first_offence_lookup}
        db.session.delete(ledger)
    order = latest_order(finding)
    if order is not None and order.status == "closed":
        order.status = "passed"
        order.closed_at = None
    before = finding.status
    finding.status = "open"
    finding.next_deadline = None
    _audit("finding.reopen", finding, actor, reason=reason, **{"from": before}, withdrawn_tolerance_record=withdrawn)
    _done(commit)
    return finding


ACTIONS = {
    "confirm-tier": confirm_tier, "change-tier": change_tier, "issue-order": issue_order,
    "record-commitment": record_commitment, "record-reinspection": record_reinspection,
    "legal-review": legal_review, "file-case": file_case, "close": close, "reopen": reopen,
    "case/notify": notify, "case/request-hearing": request_hearing, "case/hold-hearing": hold_hearing,
    "case/submit-legal-review": submit_legal_review, "case/decide": decide, "case/serve": serve,
    "case/record-payment": record_payment, "case/record-enforcement": record_enforcement,
    "case/close": close_case, "case/transfer": transfer,
}
if set(ACTIONS) != set(rules.ACTIONS):  # every action the rules know has its service, and no other
    raise RuntimeError("server/services/lifecycle.py and server/domain/lifecycle.py name different actions")


def act(finding_id: uuid.UUID, action: str, actor: User, check_park, **fields) -> dict:
    """Load the finding (locked), check the actor's park through `check_park(actor, park_id)`,
    take the action and answer the finding's state after it."""
    finding = load(finding_id)
    check_park(actor, finding.park_id)
    ACTIONS[action](finding, actor, **fields)
    return summary(finding)


# --- the hourly job ----------------------------------------------------------------------------


def sweep_clocks(today: dt.date | None = None) -> dict:
    """Move the clocks on (hourly; idempotent: a second run on the same day changes nothing).

    - An order whose re-inspection window has closed without a passed re-inspection is
      overdue: the finding escalates to enforcement (rule E4).
    - A finding whose order's deadline has passed is `reinspection_due`, its clock the
      re-inspection due date.
    - Clocks that expire within the policy's `clock_warning_days`, or have expired, are logged.
    """
    policy = _policy()
    today = today or _today(policy)
    escalated, due = [], []
    overdue = db.session.execute(sa.select(Order.id, Order.finding_id).where(
        Order.status == "open", Order.reinspection_due < today).order_by(Order.id)).all()
    for order_id, finding_id in overdue:
        # The finding first, then its order, as every action takes them: no lock-order deadlock.
        finding = load(finding_id)
        order = db.session.execute(sa.select(Order).where(Order.id == order_id).with_for_update()
                                   .execution_options(populate_existing=True)).scalar_one()
        if order.status != "open":  # a re-inspection was recorded meanwhile
            continue
        order.status = "overdue"
        order.closed_at = now()
        _audit("order.overdue", finding, None, ("order", order.id), number=order.number, deadline=order.deadline,
               reinspection_due=order.reinspection_due, today=today)
        webhooks.emit("order.overdue", order=order, finding=finding)
        if _escalate(finding, "order_overdue", None, order=order.number):
            escalated.append(str(finding.id))
    running = db.session.execute(
        sa.select(Finding, Order).join(Order, Order.finding_id == Finding.id)
        .where(Finding.status == "order_issued", Order.status == "open", Order.deadline < today)
        .order_by(Order.id).with_for_update(of=Finding).execution_options(populate_existing=True)).all()
    for finding, order in running:
        if finding.status != "order_issued" or order.status != "open":
            continue
        finding.status = "reinspection_due"
        finding.next_deadline = order.reinspection_due
        _audit("finding.reinspection_due", finding, None, ("order", order.id), number=order.number,
               deadline=order.deadline, reinspection_due=order.reinspection_due)
        due.append(str(finding.id))
    db.session.commit()
    horizon = today + dt.timedelta(days=int(policy["clock_warning_days"]))
    clocks = db.session.execute(
        sa.select(Finding.id, Finding.status, Finding.next_deadline, Finding.park_id)
        .where(Finding.status.not_in(rules.CLOSED), Finding.next_deadline.is_not(None),
               Finding.next_deadline <= horizon)
        .order_by(Finding.next_deadline, Finding.id)).all()
    expired = [c for c in clocks if c.next_deadline < today]
    expiring = [c for c in clocks if c.next_deadline >= today]
    for c in clocks:
        left = (c.next_deadline - today).days
        log.warning("clock %s: finding %s (%s, park %s) due %s", "expired" if left < 0 else f"expires in {left} d",
                    c.id, c.status, c.park_id, c.next_deadline.isoformat())
    return {"today": today.isoformat(), "escalated": escalated, "reinspection_due": due,
            "expired": len(expired), "expiring": len(expiring),
            "clocks": [{"finding": str(c.id), "status": c.status, "due": c.next_deadline.isoformat()}
                       for c in clocks[:100]]}

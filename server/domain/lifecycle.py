"""A finding's life after classification (DOMAIN.md sections 1 to 4 and 6), as pure rules:
which actions a finding admits in its present state, why the others are refused, and the
clocks of section 6. The services (server/services/lifecycle.py) read the state from the
database, ask here, and write; nothing here reads a clock or a database.

A finding's status:

| status | meaning | next |
| --- | --- | --- |
| awaiting_review | classified; a supervisor has not confirmed or changed the tier | confirm-tier, change-tier |
| legal_review | flagged `statutory_minor_review`; the legal reviewer has not decided | legal-review |
| open | tier settled; the tier's next step is due | service: close; management: issue-order (once its order passed: close, record-commitment); enforcement: file-case |
| order_issued | a rectification notice runs; its deadline has not passed | record-commitment, record-reinspection |
| reinspection_due | the deadline passed; the re-inspection is due by the order's reinspection_due | record-commitment, record-reinspection |
| escalated | the order went overdue or failed its re-inspection: enforcement by rule E4 | file-case, change-tier |
| case_open | an administrative case (立案) runs | case/... |
| closed, closed_no_penalty | done (closed_no_penalty: no penalty, with an education record) | reopen (not after a case) |

Action names are the paths under /api/findings/<id>/ that carry them out.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .workdays import WorkCalendar

FINDING_ACTIONS = (
    "confirm-tier", "change-tier", "issue-order", "record-commitment", "record-reinspection", "legal-review",
    "file-case", "close", "reopen",
)
CASE_ACTIONS = (
    "case/notify", "case/request-hearing", "case/hold-hearing", "case/submit-legal-review", "case/decide",
    "case/serve", "case/record-payment", "case/record-enforcement", "case/close", "case/transfer",
)
ACTIONS = FINDING_ACTIONS + CASE_ACTIONS
# Who may act (admins may do everything); park scope is checked besides.
LEGAL_REVIEWER_ACTIONS = frozenset({"legal-review"})

OPEN_CASE = ("filed", "notified", "hearing_requested", "hearing_held", "legal_review")
CLOSED = ("closed", "closed_no_penalty")
STATUTORY_FLAG = "statutory_minor_review"
NO_PENALTY_FLAG = "no_penalty_decision"


def roles_for(action: str) -> tuple[str, ...]:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return ("legal_reviewer", "admin") if action in LEGAL_REVIEWER_ACTIONS else ("supervisor", "admin")


@dataclass(frozen=True)
class OrderState:
    """The finding's latest order."""

    number: str
    status: str  # open, passed, failed, overdue, closed
    commitment: str  # pending, signed, refused
    deadline: dt.date
    reinspection_due: dt.date


@dataclass(frozen=True)
class CaseState:
    number: str
    status: str
    decision: str | None = None
    fine_yuan: int | None = None
    legal_review_required: bool = False
    review: str | None = None  # the legal reviewer's outcome on the case, once given
    hearing_request_ends: dt.date | None = None  # the party's last day to ask for a hearing
    payment_due: dt.date | None = None


@dataclass(frozen=True)
class FindingState:
    status: str
    final_tier: str
    today: dt.date
    flags: tuple[str, ...] = ()
    legal_review: str | None = None  # the legal reviewer's outcome on the flagged finding, once given
    order: OrderState | None = None
    case: CaseState | None = None
    has_case: bool = field(default=False)

    @property
    def flagged(self) -> bool:
        return STATUTORY_FLAG in self.flags


def _collects_fine(case: CaseState) -> bool:
    return case.decision == "penalty" and bool(case.fine_yuan)


def refusal(state: FindingState, action: str) -> str | None:
    """Why `action` cannot be taken now, or None when it can."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if action.startswith("case/"):
        return _case_refusal(state, action)
    s, order = state.status, state.order
    if action == "confirm-tier":
        if s != "awaiting_review":
            return f"the tier is confirmed only while the finding awaits review; it is {s}"
    elif action == "change-tier":
        if s == "legal_review":
            return "the finding is flagged for statutory minor review: the legal reviewer decides first"
        if s not in ("awaiting_review", "open", "escalated"):
            return (f"the tier can change only before an order runs or a case is filed, or after escalation; "
                    f"the finding is {s}")
    elif action == "issue-order":
        if s != "open":
            return f"an order is issued once the tier is confirmed and nothing else runs; the finding is {s}"
        if state.final_tier != "management":
            return f"an order (责令限期改正) is the management tier's step; this finding's tier is {state.final_tier}"
        if order is not None and order.status in ("open", "passed"):
            return f"order {order.number} is {order.status}: one order at a time"
    elif action == "record-reinspection":
        if s not in ("order_issued", "reinspection_due") or order is None or order.status != "open":
            return f"no order is running (the finding is {s})"
    elif action == "record-commitment":
        # The letter may be filed after the re-inspection passed, before the finding closes.
        running = s in ("order_issued", "reinspection_due") and order is not None and order.status == "open"
        passed = s == "open" and order is not None and order.status == "passed"
        if not (running or passed):
            return f"no order is running or waiting to close (the finding is {s})"
        if order.commitment != "pending":
            return f"the commitment letter of order {order.number} is already recorded ({order.commitment})"
    elif action == "legal-review":
        case = state.case
        if s == "legal_review":
            return None
        if case is not None and case.status == "legal_review" and case.review is None:
            return None
        if case is not None and case.status == "legal_review":
            return f"case {case.number} was reviewed already ({case.review})"
        return ("the legal reviewer decides a finding flagged for statutory minor review, or a case submitted "
                f"for legal review; this finding is {s}")
    elif action == "file-case":
        if s not in ("open", "escalated"):
            return f"a case is filed once the enforcement tier is settled; the finding is {s}"
        if state.final_tier != "enforcement":
            return f"a case (立案) is the enforcement tier's step; this finding's tier is {state.final_tier}"
        if state.has_case:
            return "this finding already has a case"
        if state.flagged and state.legal_review != "confirm_enforcement":
            return "flagged for statutory minor review: no case before the legal reviewer confirms enforcement"
    elif action == "close":
        if s in ("order_issued", "reinspection_due") and order is not None:
            return f"order {order.number} is running: a management finding closes after its order's re-inspection passed"
        if s != "open":
            return f"only a finding whose next step is its closing can close; the finding is {s}"
        if state.final_tier == "enforcement":
            return "an enforcement finding closes through its case (or change its tier, with a reason)"
        if state.final_tier == "management" and (order is None or order.status != "passed"):
            what = "no order was issued" if order is None else f"order {order.number} is {order.status}"
            return f"a management finding closes after its order's re-inspection passed; {what}"
    elif action == "reopen":
        if s not in CLOSED:
            return f"only a closed finding can be reopened; the finding is {s}"
        if state.has_case:
            return "a finding closed through a case is not reopened here: its case is the record"
    return None


def _case_refusal(state: FindingState, action: str) -> str | None:
    case = state.case
    if case is None or state.status != "case_open":
        return f"no case runs for this finding (it is {state.status}); a supervisor files one first (file-case)"
    c = case.status
    step = action.removeprefix("case/")
    if step == "notify":
        if c != "filed":
            return f"the notice (告知) is given once, after filing; case {case.number} is {c}"
    elif step == "request-hearing":
        if c != "notified":
            return f"a hearing is asked for after the notice and before the decision; case {case.number} is {c}"
        if case.hearing_request_ends is not None and state.today > case.hearing_request_ends:
            return f"the party could ask for a hearing until {case.hearing_request_ends.isoformat()}"
    elif step == "hold-hearing":
        if c != "hearing_requested":
            return f"a hearing is held when one was asked for; case {case.number} is {c}"
    elif step == "submit-legal-review":
        if c not in ("notified", "hearing_held"):
            return f"a case goes to legal review after its notice (and hearing); case {case.number} is {c}"
        if c == "notified" and case.hearing_request_ends is not None and state.today <= case.hearing_request_ends:
            return (f"the party may ask for a hearing until {case.hearing_request_ends.isoformat()}: "
                    "submit for legal review after that")
    elif step == "decide":
        if c == "filed":
            return "a decision needs the notice (告知) first: the party is told the facts and may state a defence"
        if c == "hearing_requested":
            return "the party asked for a hearing: hold it before deciding"
        if c not in ("notified", "hearing_held", "legal_review"):
            return f"case {case.number} is {c}: nothing left to decide"
        if c == "notified" and case.hearing_request_ends is not None and state.today <= case.hearing_request_ends:
            return (f"the party may ask for a hearing until {case.hearing_request_ends.isoformat()}: "
                    "decide after that")
        if c == "legal_review" and case.review is None:
            return "the case awaits the legal reviewer (法制审核)"
        if c != "legal_review" and case.legal_review_required:
            return "this case needs the legal review (法制审核) before its decision: submit it first"
    elif step == "serve":
        if c != "decided":
            return f"a decision is served once it is made; case {case.number} is {c}"
    elif step in ("record-payment", "record-enforcement"):
        if c != "served":
            return f"payment or enforcement follows a served decision; case {case.number} is {c}"
        if not _collects_fine(case):
            return "the decision imposes no fine to pay or to enforce"
        if step == "record-enforcement" and case.payment_due is not None and state.today <= case.payment_due:
            return (f"the party may pay until {case.payment_due.isoformat()}: compulsory enforcement "
                    "comes only after that")
    elif step == "close":
        if c == "served" and _collects_fine(case):
            return "the fine is neither paid nor enforced yet"
        if c not in ("served", "paid", "enforced"):
            return f"a case closes after its decision is served (and the fine paid or enforced); it is {c}"
    elif step == "transfer":
        if c not in OPEN_CASE:
            return f"a case is transferred for suspected crime before its decision; case {case.number} is {c}"
    return None


def allowed(state: FindingState) -> list[str]:
    """Every action the finding admits now, in a stable order."""
    return [a for a in ACTIONS if refusal(state, a) is None]


# --- clocks (DOMAIN.md section 6) ----------------------------------------------------------
#
# 行政处罚法 art. 85: its periods of 2, 3, 5 and 7 days are working days, so the hearing
# request (art. 64, 5 days) and the service of a decision (art. 61, 7 days) count working days;
# the other clocks count calendar days, and one that ends on a rest day ends on the next
# working day (民法典 art. 203).


def _calendar_days(start: dt.date, days: int, calendar: WorkCalendar) -> dt.date:
    return calendar.on_or_after(start + dt.timedelta(days=days))


def reinspection_due(deadline: dt.date, policy: dict, calendar: WorkCalendar) -> dt.date:
    return _calendar_days(deadline, int(policy["reinspection_within_days"]), calendar)


def decision_due(filed_on: dt.date, policy: dict, calendar: WorkCalendar) -> dt.date:
    return _calendar_days(filed_on, int(policy["case_decision_days"]), calendar)


def hearing_request_ends(notified_on: dt.date, policy: dict, calendar: WorkCalendar) -> dt.date:
    return calendar.add_working_days(notified_on, int(policy["hearing_request_days"]))


def service_due(decided_on: dt.date, policy: dict, calendar: WorkCalendar) -> dt.date:
    return calendar.add_working_days(decided_on, int(policy["decision_service_days"]))


def payment_due(served_on: dt.date, policy: dict, calendar: WorkCalendar) -> dt.date:
    return _calendar_days(served_on, int(policy["fine_payment_days"]), calendar)


def document_number(prefix: str, year: int, seq: int) -> str:
    """仪执责改〔2026〕0001号: the per-year number of a notice or a case."""
    return f"{prefix}〔{year}〕{seq:04d}号"


def parse_seq(number: str, prefix: str, year: int) -> int | None:
    head = f"{prefix}〔{year}〕"
    if not number.startswith(head) or not number.endswith("号"):
        return None
    digits = number[len(head):-1]
    return int(digits) if digits.isdigit() else None

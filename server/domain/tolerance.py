"""The no-penalty path's checklist (DOMAIN.md section 4), from the stored facts.

A finding closes as "no penalty" only with all of: the catalogue row in force on the
discovery date; the list's conditions confirmed by the supervisor; the first-offence
look-up stored (and allowing a waiver); the commitment letter signed or its refusal noted;
the order served with a deadline no longer than the row's correction period; a
re-inspection that passed, with a photo, inside the deadline; an education record.

`checklist()` answers each item as met, missing or not applicable, with a sentence that
says what is there or what is missing, and the keys of the missing ones. It is the same
answer whoever asks: the finding's detail shows it, and a closing on the no-penalty path
can refuse with its `missing`.

A finding corrected on the spot (tolerance path `service_on_spot`) had no order: the three
items about the order do not apply to it. A finding off the tolerance path (path `none`,
or escalated to enforcement since) has no checklist.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .workdays import DEFAULT_TIMEZONE, WorkCalendar, correction_deadline, local_date

ITEMS = (
    "row_in_force", "conditions_confirmed", "first_offence_lookup", "commitment_letter", "order_deadline",
    "reinspection_passed", "education_record",
)
ORDER_ITEMS = ("commitment_letter", "order_deadline", "reinspection_passed")
MET, MISSING, NOT_APPLICABLE = "met", "missing", "not_applicable"


@dataclass(frozen=True)
class RowFacts:
    """The catalogue row the finding was classified with."""

    code: str
    tolerance_type: str
    correction_days: int
    correction_unit: str
    effective_from: dt.date
    effective_to: dt.date | None = None


@dataclass(frozen=True)
class ReinspectionFacts:
    outcome: str  # passed, failed, partly
    at: dt.datetime
    stored_photos: int  # photos of the re-inspection whose bytes the server holds


@dataclass(frozen=True)
class OrderFacts:
    number: str
    issued_at: dt.datetime
    deadline: dt.date
    commitment: str  # pending, signed, refused
    reinspections: tuple[ReinspectionFacts, ...] = ()


@dataclass(frozen=True)
class ToleranceFacts:
    discovered_at: dt.datetime
    tolerance_path: str
    final_tier: str
    row: RowFacts | None
    # The look-up the server stored when the finding arrived (DOMAIN.md section 2).
    repeats: int
    earlier_tolerance_closed: bool
    repeat_window_days: int
    lookup_policy_version: int | None
    conditions_confirmed: bool = False
    order: OrderFacts | None = None  # the finding's latest order
    education_records: int = 0


@dataclass(frozen=True)
class Item:
    key: str
    status: str
    detail: str


@dataclass(frozen=True)
class Checklist:
    applies: bool
    why: str
    items: tuple[Item, ...] = field(default_factory=tuple)

    @property
    def missing(self) -> list[str]:
        return [i.key for i in self.items if i.status == MISSING]

    @property
    def complete(self) -> bool:
        return self.applies and not self.missing


def checklist(facts: ToleranceFacts, calendar: WorkCalendar, timezone: str = DEFAULT_TIMEZONE) -> Checklist:
    if facts.tolerance_path == "none":
        return Checklist(False, "not on the tolerance path: its rule gives no waiver")
    if facts.final_tier == "enforcement":
        return Checklist(False, "escalated to enforcement: the tolerance path is closed")
    on_spot = facts.tolerance_path == "service_on_spot"
    items = [
        _row_in_force(facts, timezone),
        _conditions(facts),
        _lookup(facts),
    ]
    if on_spot:
        items += [Item(key, NOT_APPLICABLE, "corrected on the spot: no order") for key in ORDER_ITEMS]
    else:
        items += [_commitment(facts.order), _order_deadline(facts, calendar, timezone),
                  _reinspection(facts.order, timezone)]
    items.append(_education(facts))
    why = ("corrected on the spot: closes with an education record, no penalty" if on_spot
           else "no penalty if corrected: closes without penalty only when every item is met")
    return Checklist(True, why, tuple(items))


def _row_in_force(facts: ToleranceFacts, timezone: str) -> Item:
    row = facts.row
    if row is None:
        return Item("row_in_force", MISSING, "no catalogue row: the finding names no violation type")
    day = local_date(facts.discovered_at, timezone)
    until = row.effective_to.isoformat() if row.effective_to else "no end"
    if row.effective_from <= day and (row.effective_to is None or day <= row.effective_to):
        return Item("row_in_force", MET, f"{row.code} in force on {day.isoformat()} "
                                         f"({row.effective_from.isoformat()} to {until})")
    return Item("row_in_force", MISSING, f"{row.code} was not in force on the discovery date {day.isoformat()} "
                                         f"({row.effective_from.isoformat()} to {until})")


def _conditions(facts: ToleranceFacts) -> Item:
    if facts.conditions_confirmed:
        return Item("conditions_confirmed", MET, "the supervisor confirmed the list's conditions")
    return Item("conditions_confirmed", MISSING, "the supervisor has not yet confirmed the list's conditions "
                                                 "(confirmed in closing)")


def _lookup(facts: ToleranceFacts) -> Item:
    if facts.lookup_policy_version is None:
        return Item("first_offence_lookup", MISSING, "no look-up of earlier findings is stored")
    found = (f"looked up on arrival (policy version {facts.lookup_policy_version}): {facts.repeats} earlier "
             f"finding{'s' if facts.repeats != 1 else ''} of the type within {facts.repeat_window_days} days")
    if facts.earlier_tolerance_closed:
        return Item("first_offence_lookup", MISSING, found + ", one closed on the tolerance path: no second waiver")
    if facts.row is not None and facts.row.tolerance_type == "first_offense" and facts.repeats > 0:
        return Item("first_offence_lookup", MISSING, found + ": not a first offence")
    return Item("first_offence_lookup", MET, found + ", none closed on the tolerance path")


def _commitment(order: OrderFacts | None) -> Item:
    if order is None:
        return Item("commitment_letter", MISSING, "no order yet, so no commitment letter")
    if order.commitment == "signed":
        return Item("commitment_letter", MET, f"commitment letter signed (order {order.number})")
    if order.commitment == "refused":
        return Item("commitment_letter", MET, f"the party refused to sign; the refusal is noted (order {order.number})")
    return Item("commitment_letter", MISSING, f"commitment letter neither signed nor refused (order {order.number})")


def _order_deadline(facts: ToleranceFacts, calendar: WorkCalendar, timezone: str) -> Item:
    order = facts.order
    if order is None:
        return Item("order_deadline", MISSING, "no order served")
    if facts.row is None:
        return Item("order_deadline", MISSING, f"order {order.number}: no catalogue row to bound its deadline")
    row = facts.row
    unit = "working days" if row.correction_unit == "working_days" else "calendar days"
    limit = correction_deadline(order.issued_at, row.correction_days, row.correction_unit, calendar, timezone)
    period = f"the row's period is {row.correction_days} {unit}, so at most {limit.isoformat()}"
    if order.deadline <= limit:
        return Item("order_deadline", MET, f"order {order.number} due {order.deadline.isoformat()}; {period}")
    return Item("order_deadline", MISSING, f"order {order.number} due {order.deadline.isoformat()} is longer "
                                           f"than allowed: {period}")


def _reinspection(order: OrderFacts | None, timezone: str) -> Item:
    if order is None:
        return Item("reinspection_passed", MISSING, "no order, so no re-inspection")
    deadline = order.deadline.isoformat()
    passed = [r for r in order.reinspections if r.outcome == "passed"]
    in_time = [r for r in passed if local_date(r.at, timezone) <= order.deadline]
    with_photo = [r for r in in_time if r.stored_photos > 0]
    if with_photo:
        day = local_date(with_photo[0].at, timezone).isoformat()
        return Item("reinspection_passed", MET, f"re-inspection passed on {day}, by the deadline {deadline}, "
                                                f"with {with_photo[0].stored_photos} photo(s)")
    if in_time:
        return Item("reinspection_passed", MISSING, f"the re-inspection passed by the deadline {deadline} "
                                                    "but no photo of it is stored")
    if passed:
        day = local_date(passed[0].at, timezone).isoformat()
        return Item("reinspection_passed", MISSING, f"the re-inspection passed on {day}, after the deadline {deadline}")
    if order.reinspections:
        last = order.reinspections[-1]
        return Item("reinspection_passed", MISSING, f"the re-inspection on {local_date(last.at, timezone).isoformat()} "
                                                    f"did not pass ({last.outcome})")
    return Item("reinspection_passed", MISSING, f"no re-inspection recorded yet (deadline {deadline})")


def _education(facts: ToleranceFacts) -> Item:
    if facts.education_records:
        return Item("education_record", MET, "education record written")
    return Item("education_record", MISSING, "no education record yet")

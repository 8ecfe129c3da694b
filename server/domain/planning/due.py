"""What is due on a day (DOMAIN.md section 5): the candidate visits a plan chooses from.

Per site, pending *checks* are collected, then merged into at most one *candidate* visit:

- **routine** (日常巡查): the yearly budget from the site's grades (policy
  `yearly_max_visits`), spread evenly over the year: visit k of n is due in the k-th of n
  equal slices of the year, and only while fewer than n visits counted this year. Once n
  visits counted, nothing more is proposed until next year.
- **key** (重点检查): a key object (hazardous-chemical plant, major hazard source, key
  polluter) with fewer than `key_object_min_per_quarter` counted visits this quarter.
  Its yearly budget is raised to at least four quarters' worth, so the floor and the
  cap never contradict each other.
- **none proactive** for the sites `no_proactive_visit` names (low risk and credit class
  A by default) unless they are key objects: they get triggered visits only.
- **reinspection** (复查), from an order: from the day after its correction deadline to its
  re-inspection date. Outside the budget.
- **case**: a complaint, data alert or referral a supervisor entered. Outside the budget.
- **random** (双随机): a site drawn by lot, from the day the draw becomes visible. It counts
  toward the budget (it is a proactive inspection the bureau makes).

Merging (综合查一次): checks for the same site become one visit. On a day, a site's
candidate holds every check already open, plus any routine or key check that opens within
`merge_window_days` working days (it is done a little early rather than visiting twice).
When a re-inspection or a drawn visit opens within that window and every open check can
still wait for it, the open checks wait: they are listed as *deferred*, with that day,
never dropped silently.

Each candidate has its reasons (one per check), a priority (higher is more urgent) and a
latest date, always a working day of the bureau's calendar. Pure: nothing here reads a
clock or a database.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..workdays import WorkCalendar

KINDS = ("routine", "key", "random", "reinspection", "case")
# Budget checks may be done a few days early to share a visit; the others may not: a
# re-inspection before the correction deadline checks nothing, and a drawn visit stays
# secret until its day.
PULLABLE = frozenset({"routine", "key"})
COUNTED = frozenset({"routine", "key", "random"})
# Priorities: higher is more urgent. Legal deadlines first, then the key-object floor and
# the draw, then the budget. See docs/planning.md for the table.
PRIORITY_LEVELS = 5
SLACK_HORIZON = 10  # working days; further slack does not change a priority


class DueError(ValueError):
    """Input that the due rules cannot use, with what is wrong."""


@dataclass(frozen=True)
class SiteFacts:
    """What the due rules need of a site (an enterprise or a project site)."""

    site_id: int
    risk_grade: str = "low"
    credit_class: str = "B"
    is_hazchem: bool = False
    safety_std_grade: str | None = None
    is_major_hazard: bool = False
    is_key_polluter: bool = False
    active: bool = True

    @property
    def is_key_object(self) -> bool:
        return self.is_hazchem or self.is_major_hazard or self.is_key_polluter

    @classmethod
    def of(cls, site: Any) -> SiteFacts:
        """From a Site row or anything with the same attributes."""
        return cls(site_id=site.id, risk_grade=site.risk_grade, credit_class=site.credit_class,
                   is_hazchem=bool(site.is_hazchem), safety_std_grade=site.safety_std_grade,
                   is_major_hazard=bool(site.is_major_hazard), is_key_polluter=bool(site.is_key_polluter),
                   active=bool(site.active))


@dataclass(frozen=True)
class ReinspectionDue:
    """An open order whose correction is to be checked."""

    order_id: int
    site_id: int
    deadline: dt.date  # last day to correct
    due: dt.date  # re-inspection by this day


@dataclass(frozen=True)
class CaseVisit:
    """A complaint, data alert or referral asking for a visit."""

    case_request_id: int
    site_id: int
    source: str
    due_by: dt.date
    opened: dt.date


@dataclass(frozen=True)
class DrawnVisit:
    """A site drawn by lot (双随机), to be visited between the two dates."""

    draw_id: int
    site_id: int
    visible_from: dt.date
    latest: dt.date


@dataclass(frozen=True)
class Check:
    """One pending reason to visit a site."""

    kind: str
    site_id: int
    earliest: dt.date
    latest: dt.date
    code: str
    params: tuple[tuple[str, Any], ...] = ()
    order_id: int | None = None
    case_request_id: int | None = None
    draw_id: int | None = None

    @property
    def counts_toward_budget(self) -> bool:
        return self.kind in COUNTED

    def as_dict(self) -> dict:
        """The reason as the plan stores it (JSON-ready)."""
        out = {"code": self.code, "kind": self.kind, "earliest": self.earliest.isoformat(),
               "latest": self.latest.isoformat(), **dict(self.params)}
        for name in ("order_id", "case_request_id", "draw_id"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class Candidate:
    """One visit a plan may make: a site, why (every merged check), how urgent, and by when."""

    site_id: int
    kind: str  # the most urgent check's kind
    priority: int
    latest: dt.date
    checks: tuple[Check, ...]

    @property
    def counts_toward_budget(self) -> bool:
        """A visit counts against the yearly cap when it does a routine, key or drawn check."""
        return any(c.counts_toward_budget for c in self.checks)

    @property
    def reasons(self) -> list[dict]:
        return [c.as_dict() for c in self.checks]

    @property
    def order_ids(self) -> tuple[int, ...]:
        return tuple(c.order_id for c in self.checks if c.order_id is not None)

    @property
    def case_request_ids(self) -> tuple[int, ...]:
        return tuple(c.case_request_id for c in self.checks if c.case_request_id is not None)

    @property
    def draw_ids(self) -> tuple[int, ...]:
        return tuple(c.draw_id for c in self.checks if c.draw_id is not None)


@dataclass(frozen=True)
class Deferred:
    """Checks open today that wait to be done in one visit with a check opening on `until`."""

    site_id: int
    until: dt.date
    checks: tuple[Check, ...]
    waits_for: tuple[Check, ...]


@dataclass(frozen=True)
class DueList:
    day: dt.date
    candidates: tuple[Candidate, ...]
    deferred: tuple[Deferred, ...] = field(default=())


# --- the yearly budget ----------------------------------------------------------------


def yearly_budget(site: SiteFacts, policy: Mapping) -> int:
    """Proactive visits (routine, key and drawn) a site may get in a year."""
    table = policy["yearly_max_visits"]
    if site.is_hazchem:
        grade = site.safety_std_grade or "ungraded"
        try:
            cap = int(table["hazchem_std_grade"][grade])
        except KeyError:
            raise DueError(f"the policy has no yearly maximum for safety-standardisation grade {grade!r}") from None
    else:
        try:
            cap = int(table["risk_grade"][site.risk_grade])
        except KeyError:
            raise DueError(f"the policy has no yearly maximum for risk grade {site.risk_grade!r}") from None
    if site.is_key_object:
        # The quarterly floor is the stricter duty (full coverage of key objects).
        return max(cap, 4 * int(policy["key_object_min_per_quarter"]))
    if _no_proactive(site, policy):
        return 0
    return cap


def _no_proactive(site: SiteFacts, policy: Mapping) -> bool:
    rule = policy.get("no_proactive_visit") or {}
    if not rule:
        return False
    for name, wanted in rule.items():
        value = getattr(site, name, None)
        if isinstance(wanted, (list, tuple)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def budget_slot(year: int, k: int, n: int) -> tuple[dt.date, dt.date]:
    """The k-th (from 0) of n equal slices of the year: first and last calendar day."""
    start = dt.date(year, 1, 1)
    days = (dt.date(year + 1, 1, 1) - start).days
    return start + dt.timedelta(days=k * days // n), start + dt.timedelta(days=(k + 1) * days // n - 1)


def quarter_of(day: dt.date) -> tuple[dt.date, dt.date]:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = dt.date(day.year, first_month, 1)
    end = dt.date(day.year + 1, 1, 1) if first_month == 10 else dt.date(day.year, first_month + 3, 1)
    return start, end - dt.timedelta(days=1)


def last_working_on_or_before(calendar: WorkCalendar, day: dt.date) -> dt.date:
    while not calendar.is_working_day(day):
        day -= dt.timedelta(days=1)
    return day


def _latest(calendar: WorkCalendar, earliest: dt.date, latest: dt.date) -> dt.date:
    """The last working day by `latest`, but never before the first working day from `earliest`."""
    return max(last_working_on_or_before(calendar, latest), calendar.on_or_after(earliest))


def slack(calendar: WorkCalendar, day: dt.date, latest: dt.date, horizon: int = SLACK_HORIZON) -> int:
    """Working days left after `day` up to `latest` (0 when due on the day, negative when late),
    counted up to `horizon` either way."""
    count = 0
    if latest >= day:
        cur = day
        while count < horizon:
            cur = calendar.next_working_day(cur)
            if cur > latest:
                break
            count += 1
        return count
    cur = day
    while count > -horizon:
        cur -= dt.timedelta(days=1)
        if cur < latest:
            break
        if calendar.is_working_day(cur):
            count -= 1
    return min(count, -1)


def check_priority(kind: str, slack_days: int) -> int:
    """0 (least urgent) to 4 (must be done today)."""
    if kind in ("reinspection", "case"):
        return 4 if slack_days <= 0 else 3 if slack_days <= 2 else 2
    if kind == "key":
        return 3 if slack_days <= 0 else 2 if slack_days <= 5 else 1
    if kind == "random":
        return 3 if slack_days <= 0 else 1
    if kind == "routine":
        return 1 if slack_days <= 0 else 0
    raise DueError(f"unknown kind of visit {kind!r}; one of {', '.join(KINDS)}")


# --- checks ---------------------------------------------------------------------------


def budget_checks(site: SiteFacts, day: dt.date, counted: Sequence[dt.date], calendar: WorkCalendar,
                  policy: Mapping) -> list[Check]:
    """The site's next routine visit and, for a key object, its quarterly check (if any)."""
    if not site.active:
        return []
    n = yearly_budget(site, policy)
    this_year = sorted(d for d in counted if d.year == day.year)
    made = len(this_year)
    if made >= n:
        return []
    out = []
    start, end = budget_slot(day.year, made, n)
    out.append(Check("routine", site.site_id, start, _latest(calendar, start, end), "budget",
                     (("visit", made + 1), ("of", n))))
    floor = int(policy["key_object_min_per_quarter"])
    if site.is_key_object and floor > 0:
        q_start, q_end = quarter_of(day)
        in_quarter = sum(1 for d in this_year if q_start <= d <= q_end)
        if in_quarter < floor:
            out.append(Check("key", site.site_id, q_start, _latest(calendar, q_start, q_end), "key_quarter",
                             (("made", in_quarter), ("floor", floor))))
    return out


def reinspection_check(item: ReinspectionDue, calendar: WorkCalendar) -> Check:
    earliest = item.deadline + dt.timedelta(days=1)
    return Check("reinspection", item.site_id, earliest, _latest(calendar, earliest, item.due), "reinspection",
                 (("deadline", item.deadline.isoformat()),), order_id=item.order_id)


def case_check(item: CaseVisit, calendar: WorkCalendar) -> Check:
    return Check("case", item.site_id, item.opened, _latest(calendar, item.opened, item.due_by), item.source,
                 case_request_id=item.case_request_id)


def drawn_check(item: DrawnVisit, calendar: WorkCalendar) -> Check:
    return Check("random", item.site_id, item.visible_from, _latest(calendar, item.visible_from, item.latest),
                 "drawn", draw_id=item.draw_id)


# --- the day's list -------------------------------------------------------------------


def due_on(day: dt.date, sites: Iterable[SiteFacts], calendar: WorkCalendar, policy: Mapping, *,
           counted_visits: Mapping[int, Sequence[dt.date]] | None = None,
           reinspections: Iterable[ReinspectionDue] = (), cases: Iterable[CaseVisit] = (),
           drawn: Iterable[DrawnVisit] = ()) -> DueList:
    """The candidate visits for `day`.

    `counted_visits` maps a site to the dates of this year's visits that counted toward its
    budget (routine, key or drawn checks done; re-inspections and case visits alone do
    not). Checks for sites not in `sites` are refused: a plan must know every site it
    sends a team to.
    """
    counted_visits = counted_visits or {}
    facts = {}
    for site in sites:
        if site.site_id in facts:
            raise DueError(f"site {site.site_id} is listed twice")
        facts[site.site_id] = site
    checks: dict[int, list[Check]] = {sid: [] for sid in facts}
    for site in facts.values():
        checks[site.site_id].extend(budget_checks(site, day, counted_visits.get(site.site_id, ()), calendar, policy))
    triggered = [reinspection_check(r, calendar) for r in reinspections]
    triggered += [case_check(c, calendar) for c in cases]
    triggered += [drawn_check(d, calendar) for d in drawn]
    for check in triggered:
        if check.site_id not in checks:
            raise DueError(f"a {check.kind} check names site {check.site_id}, which is not among the sites given")
        checks[check.site_id].append(check)

    horizon = calendar.add_working_days(day, int(policy["merge_window_days"]))
    candidates, deferred = [], []
    for site_id in sorted(checks):
        open_now = [c for c in checks[site_id] if c.earliest <= day]
        if not open_now:
            continue
        soon = [c for c in checks[site_id] if day < c.earliest <= horizon]
        fixed_soon = [c for c in soon if c.kind not in PULLABLE]
        if fixed_soon:
            until = calendar.on_or_after(min(c.earliest for c in fixed_soon))
            if all(c.latest >= until for c in open_now):
                deferred.append(Deferred(site_id, until, tuple(_ordered(open_now)),
                                         tuple(_ordered([c for c in fixed_soon if c.earliest <= until]))))
                continue
        merged = open_now + [c for c in soon if c.kind in PULLABLE]
        candidates.append(_candidate(site_id, merged, day, calendar))
    candidates.sort(key=lambda c: (-c.priority, c.latest, c.site_id))
    return DueList(day, tuple(candidates), tuple(deferred))


def _ordered(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda c: (c.latest, KINDS.index(c.kind), c.code, c.order_id or 0,
                                         c.case_request_id or 0, c.draw_id or 0))


def _candidate(site_id: int, checks: list[Check], day: dt.date, calendar: WorkCalendar) -> Candidate:
    ordered = _ordered(checks)
    scored = [(check_priority(c.kind, slack(calendar, day, c.latest)), KINDS.index(c.kind), c) for c in ordered]
    top = max(scored, key=lambda s: (s[0], s[1]))
    return Candidate(site_id=site_id, kind=top[2].kind, priority=top[0], latest=min(c.latest for c in ordered),
                     checks=tuple(ordered))

"""Shared inputs for the planning tests: the bureau's 2026 calendar, the demo office, points
around it, and a year of daily planning over the due rules."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from server.domain.geo import destination
from server.domain.planning.due import Candidate, Check, due_on
from server.domain.policy import default_policy
from server.domain.workdays import WorkCalendar
from server.services.calendar import expand_notice

DATA = Path(__file__).resolve().parent.parent / "server" / "data"
CAL2026 = WorkCalendar.from_entries(
    (day, kind) for day, kind, _ in expand_notice(json.loads((DATA / "calendar_2026.json").read_text("utf-8"))))
_DEMO = json.loads((DATA / "demo_city.json").read_text("utf-8"))
OFFICE = (_DEMO["office"]["lon"], _DEMO["office"]["lat"])
POLICY = default_policy()


def days_of(year: int):
    day = dt.date(year, 1, 1)
    while day.year == year:
        yield day
        day += dt.timedelta(days=1)


def point(bearing: float, km: float, origin=OFFICE) -> tuple[float, float]:
    return destination(origin[0], origin[1], bearing, km * 1000)


def candidate(site_id: int, priority: int = 0, kind: str = "routine", latest: dt.date | None = None,
              day: dt.date = dt.date(2026, 3, 10)) -> Candidate:
    latest = latest or day + dt.timedelta(days=7)
    return Candidate(site_id, kind, priority, latest, (Check(kind, site_id, day, latest, "test"),))


def simulate_year(sites, year: int = 2026, calendar: WorkCalendar = CAL2026, policy=None, take=None,
                  reinspections=(), cases=(), drawn=()):
    """Plan every working day of the year over the due rules; a candidate taken is visited that day.

    `take(day, candidate)` decides whether the day's plan visits it (default: always).
    Returns {site_id: [(day, candidate), ...]} and the counted visit dates per site.
    """
    policy = policy or POLICY
    counted = {s.site_id: [] for s in sites}
    visits = {s.site_id: [] for s in sites}
    done_orders, done_cases, done_draws = set(), set(), set()
    for day in days_of(year):
        if not calendar.is_working_day(day):
            continue
        due = due_on(day, sites, calendar, policy, counted_visits=counted,
                     reinspections=[r for r in reinspections if r.order_id not in done_orders],
                     cases=[c for c in cases if c.case_request_id not in done_cases],
                     drawn=[d for d in drawn if d.draw_id not in done_draws])
        seen = set()
        for c in due.candidates:
            assert c.site_id not in seen, "one site, one candidate a day"
            seen.add(c.site_id)
            if take is not None and not take(day, c):
                continue
            visits[c.site_id].append((day, c))
            if c.counts_toward_budget:
                counted[c.site_id].append(day)
            done_orders.update(c.order_ids)
            done_cases.update(c.case_request_ids)
            done_draws.update(c.draw_ids)
    return visits, counted

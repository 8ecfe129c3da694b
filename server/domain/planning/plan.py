"""A day's plan: the due candidates, the day's teams and a travel matrix in; each team's
ordered route and the not-scheduled list out (DOMAIN.md section 5).

`make_plan` never drops a candidate silently: each one is either a stop on exactly one
route or in `not_scheduled` with a reason code (`NOT_SCHEDULED_REASONS`, with words in
zh-CN and en). What does not fit rolls to the next working day: the due rules propose it
again, more urgent as its latest date nears.

Before a route is returned it is checked again (`plan_problems`): no team goes to a site one
of its members declared a conflict with, no route runs past the working day, every
candidate is accounted for once. A plan that breaks one raises PlanningError rather than
reaching a scheduler.

Deterministic: the same inputs and seed give the same plan (PyVRP stops after a fixed
number of iterations; a plan that hit the time limit instead says so in its settings).
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..canonical import content_hash
from ..workdays import WorkCalendar
from .due import Candidate
from .routing import (
    DEFAULT_ITERATIONS, DEFAULT_NO_IMPROVEMENT, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S, HaversineMatrix, LonLat,
    RoutingProblem, Travel, TravelMatrix, solve,
)
from .teams import Team

NOT_SCHEDULED_REASONS = {
    "not_working_day": {"zh": "当天不是工作日", "en": "the day is not a working day"},
    "no_team": {"zh": "当天没有可出勤的执法小组", "en": "no team is available on the day"},
    "no_location": {"zh": "该单位没有坐标", "en": "the site has no location"},
    "conflict_every_team": {"zh": "每个小组都有成员申报了回避",
                            "en": "every team has a member who declared a conflict of interest with the site"},
    "locked_team_absent": {"zh": "锁定的小组当天不出勤", "en": "the team the stop is locked to is not working on the day"},
    "locked_team_full": {"zh": "锁定的小组当天已排满", "en": "the stop does not fit in the day of the team it is locked to"},
    "beyond_working_day": {"zh": "往返加现场时间超过一个工作日",
                           "en": "going there and back with the time on site takes longer than a working day"},
    "day_full": {"zh": "当天各小组已排满更紧急或更顺路的检查", "en": "the teams' days are full with more urgent or nearer visits"},
}


class PlanningError(ValueError):
    """Inputs a plan cannot be made from, or a plan that breaks a rule."""


@dataclass(frozen=True)
class PlanSettings:
    solver: str = DEFAULT_SOLVER
    seed: int = 0
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    iterations: int | None = DEFAULT_ITERATIONS
    no_improvement: int | None = DEFAULT_NO_IMPROVEMENT
    # What the soft rule weighs: sending the same pair back to a site costs as much as
    # driving this much further.
    repeat_pair_m: int = 2000

    def as_dict(self) -> dict:
        return {"solver": self.solver, "seed": self.seed, "time_limit_s": self.time_limit_s,
                "iterations": self.iterations, "no_improvement": self.no_improvement,
                "repeat_pair_m": self.repeat_pair_m}


@dataclass(frozen=True)
class PlannedStop:
    candidate: Candidate
    seq: int  # 1, 2, ... in visiting order
    arrive_min: float  # minutes after the day starts
    leave_min: float
    travel_km: float  # from the previous stop (or the office)
    repeats_pair: bool = False  # the soft rule could not be kept here


@dataclass(frozen=True)
class TeamRoute:
    team: Team
    stops: tuple[PlannedStop, ...]
    distance_km: float  # office, the stops, back to the office
    duration_min: float  # leaving the office to coming back

    def clock(self, minutes: float, day_start: str) -> str:
        """'HH:MM' of a time given in minutes after the day's start."""
        h, m = (int(x) for x in day_start.split(":"))
        total = round(h * 60 + m + minutes)
        return f"{total // 60:02d}:{total % 60:02d}"


@dataclass(frozen=True)
class NotScheduled:
    candidate: Candidate
    reason: str  # a key of NOT_SCHEDULED_REASONS
    rolls_to: dt.date | None  # the next working day, when the due rules will propose it again
    late: bool  # its latest date is the plan's day or earlier: it will be late

    def words(self, lang: str = "zh") -> str:
        return NOT_SCHEDULED_REASONS[self.reason][lang]


@dataclass(frozen=True)
class DayPlan:
    day: dt.date
    routes: tuple[TeamRoute, ...]
    not_scheduled: tuple[NotScheduled, ...]
    solver: str
    settings: dict
    seconds: float
    inputs: dict = field(default_factory=dict)
    inputs_sha256: str = ""

    @property
    def distance_km(self) -> float:
        return round(sum(r.distance_km for r in self.routes), 3)

    @property
    def stops(self) -> int:
        return sum(len(r.stops) for r in self.routes)


def make_plan(day: dt.date, candidates: Sequence[Candidate], teams: Sequence[Team], office: LonLat,
              locations: Mapping[int, LonLat], policy: Mapping, calendar: WorkCalendar, *,
              matrix: TravelMatrix | None = None, settings: PlanSettings = PlanSettings(),
              locked: Mapping[int, int] | None = None,
              last_pairs: Mapping[int, frozenset[int]] | None = None) -> DayPlan:
    """Routes for `teams` on `day` over `candidates`.

    `locations` maps site id to (lon, lat). `locked` maps a site id to the lead of the team it
    must go with (a scheduler's lock); `last_pairs` maps a site id to the two officers of its
    last visit (the soft rule). The travel matrix defaults to the policy's haversine one.
    """
    started = time.perf_counter()
    locked = dict(locked or {})
    last_pairs = dict(last_pairs or {})
    shift_s = int(round(float(policy["working_day_hours"]) * 3600))
    service_s = int(round(float(policy["minutes_on_site"]) * 60))
    matrix = matrix or HaversineMatrix.from_policy(policy)
    by_site: dict[int, Candidate] = {}
    for c in candidates:
        if c.site_id in by_site:
            raise PlanningError(f"site {c.site_id} has two candidates; merge them into one visit first")
        by_site[c.site_id] = c
    leads = [t.lead_id for t in teams]
    if len(set(leads)) != len(leads):
        raise PlanningError("two teams have the same lead")
    members = [m for t in teams for m in t.member_ids]
    if len(set(members)) != len(members):
        raise PlanningError("a person is on two teams")
    team_of_lead = {t.lead_id: k for k, t in enumerate(teams)}
    rolls_to = calendar.next_working_day(day)

    def out(c: Candidate, reason: str) -> NotScheduled:
        return NotScheduled(c, reason, rolls_to, c.latest <= day)

    not_scheduled: list[NotScheduled] = []
    routable: list[Candidate] = []
    for site_id in sorted(by_site):
        c = by_site[site_id]
        if not calendar.is_working_day(day):
            not_scheduled.append(out(c, "not_working_day"))
        elif not teams:
            not_scheduled.append(out(c, "no_team"))
        elif site_id not in locations:
            not_scheduled.append(out(c, "no_location"))
        elif site_id in locked and locked[site_id] not in team_of_lead:
            not_scheduled.append(out(c, "locked_team_absent"))
        elif not any(t.may_visit(site_id) for t in teams):
            not_scheduled.append(out(c, "conflict_every_team"))
        else:
            routable.append(c)

    travel = matrix.between([office] + [tuple(locations[c.site_id]) for c in routable])
    routes_idx: tuple[tuple[int, ...], ...] = tuple(() for _ in teams)
    solver_settings: dict = {}
    if routable and teams:
        # A stop nobody can reach and return from inside the day is reported, not routed.
        alone = travel.duration_s[0, 1:] + travel.duration_s[1:, 0] + service_s
        reachable = [k for k, c in enumerate(routable) if alone[k] <= shift_s]
        for k, c in enumerate(routable):
            if alone[k] > shift_s:
                not_scheduled.append(out(c, "beyond_working_day"))
        sub = [routable[k] for k in reachable]
        points = [0] + [k + 1 for k in reachable]
        travel = Travel(travel.distance_m[points][:, points], travel.duration_s[points][:, points])
        routable = sub
        problem = _problem(routable, teams, travel, service_s, shift_s, locked, team_of_lead, last_pairs, settings)
        result = solve(problem, settings.solver, seed=settings.seed, time_limit_s=settings.time_limit_s,
                       iterations=settings.iterations, no_improvement=settings.no_improvement)
        routes_idx = result.routes
        solver_settings = result.settings
        for i in result.dropped:
            c = routable[i]
            not_scheduled.append(out(c, "locked_team_full" if c.site_id in locked else "day_full"))

    routes = tuple(_route(team, [routable[i] for i in idx], [i + 1 for i in idx], travel, service_s, last_pairs)
                   for team, idx in zip(teams, routes_idx))
    not_scheduled.sort(key=lambda n: (-n.candidate.priority, n.candidate.latest, n.candidate.site_id))
    inputs = _inputs(day, candidates, teams, office, locations, policy, matrix, locked, last_pairs)
    plan = DayPlan(day=day, routes=routes, not_scheduled=tuple(not_scheduled), solver=settings.solver,
                   settings={**settings.as_dict(), "matrix": getattr(matrix, "name", type(matrix).__name__),
                             "working_day_hours": policy["working_day_hours"],
                             "minutes_on_site": policy["minutes_on_site"], "day_start": policy["day_start"],
                             "solver_run": solver_settings},
                   seconds=round(time.perf_counter() - started, 3), inputs=inputs,
                   inputs_sha256=content_hash(inputs))
    problems = plan_problems(plan, candidates, shift_s / 60, locked)
    if problems:
        raise PlanningError("the plan breaks a rule: " + "; ".join(problems))
    return plan


def _problem(routable: list[Candidate], teams: Sequence[Team], travel: Travel, service_s: int, shift_s: int,
             locked: Mapping[int, int], team_of_lead: Mapping[int, int],
             last_pairs: Mapping[int, frozenset[int]], settings: PlanSettings) -> RoutingProblem:
    forbidden, discouraged = [], []
    for v, team in enumerate(teams):
        no = set()
        soft = set()
        for i, c in enumerate(routable):
            if not team.may_visit(c.site_id):
                no.add(i)
            elif c.site_id in locked and team_of_lead[locked[c.site_id]] != v:
                no.add(i)
            elif team.repeats_pair(c.site_id, last_pairs):
                soft.add(i)
        forbidden.append(frozenset(no))
        discouraged.append(frozenset(soft))
    # A locked stop outranks everything the due rules rank: the scheduler put it there.
    top = max((c.priority for c in routable), default=0) + 1
    priority = tuple(top if c.site_id in locked else c.priority for c in routable)
    return RoutingProblem(travel=travel, service_s=tuple(service_s for _ in routable), priority=priority,
                          vehicles=len(teams), shift_s=shift_s, forbidden=tuple(forbidden),
                          discouraged=tuple(discouraged), discouraged_m=settings.repeat_pair_m)


def _route(team: Team, stops: list[Candidate], points: list[int], travel: Travel, service_s: int,
           last_pairs: Mapping[int, frozenset[int]]) -> TeamRoute:
    planned = []
    clock_s = 0
    metres = 0
    here = 0
    for seq, (c, p) in enumerate(zip(stops, points), start=1):
        leg = int(travel.distance_m[here, p])
        clock_s += int(travel.duration_s[here, p])
        metres += leg
        planned.append(PlannedStop(c, seq, round(clock_s / 60, 1), round((clock_s + service_s) / 60, 1),
                                   round(leg / 1000, 3), team.repeats_pair(c.site_id, last_pairs)))
        clock_s += service_s
        here = p
    if stops:
        metres += int(travel.distance_m[here, 0])
        clock_s += int(travel.duration_s[here, 0])
    return TeamRoute(team, tuple(planned), round(metres / 1000, 3), round(clock_s / 60, 1))


def plan_problems(plan: DayPlan, candidates: Sequence[Candidate], working_day_min: float,
                  locked: Mapping[int, int] | None = None) -> list[str]:
    """Every hard rule the plan breaks (empty for a good plan)."""
    problems = []
    locked = locked or {}
    seen: dict[int, int] = {}
    for route in plan.routes:
        if route.duration_min > working_day_min + 1e-6:
            problems.append(f"the route of team {route.team.lead_id} takes {route.duration_min} min, "
                            f"longer than the working day ({working_day_min} min)")
        for stop in route.stops:
            sid = stop.candidate.site_id
            seen[sid] = seen.get(sid, 0) + 1
            if not route.team.may_visit(sid):
                problems.append(f"team {route.team.lead_id} has a member with a declared conflict at site {sid}")
            if sid in locked and locked[sid] != route.team.lead_id:
                problems.append(f"site {sid} is locked to team {locked[sid]} but planned for team {route.team.lead_id}")
    for n in plan.not_scheduled:
        seen[n.candidate.site_id] = seen.get(n.candidate.site_id, 0) + 1
    for c in candidates:
        count = seen.get(c.site_id, 0)
        if count != 1:
            problems.append(f"site {c.site_id} appears {count} times in the plan; it must appear once")
    return problems


def _inputs(day: dt.date, candidates: Sequence[Candidate], teams: Sequence[Team], office: LonLat,
            locations: Mapping[int, LonLat], policy: Mapping, matrix: TravelMatrix,
            locked: Mapping[int, int], last_pairs: Mapping[int, frozenset[int]]) -> dict:
    """What the plan was made from, compact enough to store with it and hash."""
    sites = {c.site_id for c in candidates}
    return {
        "day": day.isoformat(),
        "office": list(office),
        "candidates": [{"site_id": c.site_id, "kind": c.kind, "priority": c.priority,
                        "latest": c.latest.isoformat(), "location": list(locations.get(c.site_id) or [])}
                       for c in sorted(candidates, key=lambda c: c.site_id)],
        "teams": [t.as_dict() | {"conflicts": sorted(t.conflicts)} for t in teams],
        "locked": {str(k): v for k, v in sorted(locked.items())},
        "last_pairs": {str(k): sorted(v) for k, v in sorted(last_pairs.items()) if k in sites},
        "policy": {k: policy[k] for k in ("working_day_hours", "minutes_on_site", "road_speed_kmh", "road_factor",
                                          "day_start")},
        "matrix": getattr(matrix, "name", type(matrix).__name__),
    }

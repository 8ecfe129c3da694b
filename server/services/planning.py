"""A day's patrol plan from the database (DOMAIN.md section 5; docs/planning.md).

The rules are pure (server/domain/planning): this module reads what they need, hands it to
them, stores what they answer and lets a scheduler edit it.

- **Generate** (`generate`): the active sites of the parks in scope, this year's visits that
  counted toward each site's budget, open orders whose re-inspection is due, open case
  requests, sites drawn by lot (双随机), declared conflicts (回避), leave, the bureau's calendar,
  certificates, the office and the policy in force go through `due_on`, the day's teams and
  `make_plan`. The Plan row records the inputs, the solver, its settings and the seconds it
  took; a Route per team; a PlanStop per stop (its place, arrival, reasons, priority, latest
  date, order/draw/case request) and per visit not scheduled (with the reason, in words).
- **Teams visit the parks both officers work in**: the team lead's phone records the visit and
  the field sync accepts a visit only in the recorder's parks. Teams are formed park by park
  (the parks with most due first) unless a scheduler names them; on a regeneration the teams
  already on the plan are kept (checked again) so that locked stops keep their team.
- **Regeneration keeps locked stops** on their route and in their place (the same PlanStop
  row, so its id stays valid) and replaces the rest. A published plan is not regenerated or
  edited: unpublish it first (409 with `allowed_next`).
- **Edits** (`edit_stop`): move a stop to another route or another day, reorder, lock or
  unlock; each is checked (the team may visit the site: its parks, declared conflicts,
  certificates and leave on the day; the day stays within the working day) and refused in
  words.
- **Publish** makes the plan the inspectors' today (GET /api/me/today reads it).

Generation reads and solves outside any write transaction (so the embedded engine's write
lock is not held while the solver works), then stores under a per-day lock, refusing when
the plan changed meanwhile. Every write appends an audit entry in its transaction.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..db import read_only
from ..domain.canonical import content_hash
from ..domain.planning.due import (
    COUNTED, KINDS, CaseVisit, Candidate, Check, DrawnVisit, DueError, ReinspectionDue, SiteFacts, check_priority,
    due_on, slack,
)
from ..domain.planning.plan import NOT_SCHEDULED_REASONS, PlanningError, PlanSettings, make_plan
from ..domain.planning.routing import SOLVERS, HaversineMatrix, RoutingError
from ..domain.planning.teams import (
    Officer, Team, TeamError, form_teams, make_team, team_problems, why_unavailable,
)
from ..domain.route_edits import insert_at, place_pinned, time_route
from ..domain.workdays import WorkCalendar, local_date
from ..extensions import db
from ..models import (
    CaseRequest, ConflictDeclaration, Draw, Finding, Leave, Office, Order, Park, Plan, PlanStop, Route, Site, User,
    Visit, visit_officers,
)
from ..models.types import utcnow
from . import audit, webhooks
from .calendar import work_calendar
from .errors import Conflict, NotFound, ServiceError
from .today import policy_in_force

log = logging.getLogger("fieldcheck.planning")

PLAN_LOCK_KEY = 0x706C616E  # "plan": one writer of a day's plan at a time on PostgreSQL
PLANNERS = ("scheduler", "admin")
# Why a visit is not on a route, beyond the planner's own reasons (NOT_SCHEDULED_REASONS).
# Some carry a day: stored as "code:YYYY-MM-DD".
EXTRA_REASONS = {
    "no_team_in_park": {"zh": "当天没有在该园区执勤的执法小组", "en": "no team on the day works in the site's park"},
    "deferred": {"zh": "待{day}与即将到期的复查或抽查合并检查（综合查一次）",
                 "en": "waits for {day}, to be done in one visit with a re-inspection or drawn visit opening then"},
    "planned_other_day": {"zh": "已排入{day}已发布的计划", "en": "already on the published plan of {day}"},
    "moved_to_day": {"zh": "调度员已改到{day}", "en": "a scheduler moved it to {day}"},
    "moved_here": {"zh": "调度员从其他日期移来，重新生成或指定路线后安排",
                   "en": "a scheduler moved it here from another day; regenerate or put it on a route"},
    "removed": {"zh": "调度员已从路线中移出", "en": "a scheduler took it off the routes"},
}
# Rows a regeneration keeps as they are: what a scheduler decided about other days.
KEPT_REASONS = ("moved_to_day",)
MAX_TEAMS = 50
HORIZON_DAYS = 366  # a plan, or a stop moved, at most a year ahead


def reason_words(reason: str) -> dict:
    code, _, day = (reason or "").partition(":")
    words = NOT_SCHEDULED_REASONS.get(code) or EXTRA_REASONS.get(code) or {"zh": code, "en": code}
    return {k: v.replace("{day}", day) for k, v in words.items()}


def _reason_code(reason: str) -> str:
    return (reason or "").partition(":")[0]


# --- scope ----------------------------------------------------------------------------


def _all_parks() -> list[int]:
    return list(db.session.execute(sa.select(Park.id).order_by(Park.id)).scalars())


def _scope_of(actor: User | None, park_ids: Iterable[int] | None) -> list[int]:
    """The parks a plan covers: those asked for (each in the actor's scope), or all of the actor's."""
    mine = None if actor is None or actor.role == "admin" else set(actor.park_ids)
    known = set(_all_parks())
    if park_ids:
        asked = sorted(set(park_ids))
        unknown = [p for p in asked if p not in known]
        if unknown:
            raise ServiceError(f"no park with id {unknown[0]}", ("park_ids",))
        outside = [p for p in asked if mine is not None and p not in mine]
        if outside:
            raise ServiceError(f"park {outside[0]} is not one of your parks", ("park_ids",), status=403)
        return asked
    scope = sorted(known if mine is None else mine & known)
    if not scope:
        raise ServiceError("you are assigned to no park, so there is nothing for you to plan", ("park_ids",),
                           status=403)
    return scope


def _plan_parks(plan: Plan) -> list[int]:
    return list((plan.inputs or {}).get("park_ids") or [])


def _check_covers(actor: User | None, plan: Plan) -> None:
    """A scheduler changes only a plan whose parks are all theirs."""
    if actor is None or actor.role == "admin":
        return
    mine = set(actor.park_ids)
    outside = [p for p in _plan_parks(plan) if p not in mine]
    if outside:
        raise ServiceError(f"the plan of {plan.day.isoformat()} covers park {outside[0]}, which is not one of yours; "
                           "ask a scheduler of every park in it or an admin", status=403)


# --- reading the world ----------------------------------------------------------------


@dataclass
class SiteInfo:
    id: int
    park_id: int
    name: str
    address: str
    lon: float
    lat: float
    risk_grade: str
    key_object: bool
    facts: SiteFacts


@dataclass
class World:
    """Everything a day's plan is made from, read from the database in one go."""

    day: dt.date
    today: dt.date
    scope: list[int]
    policy: dict
    policy_version: int | None
    calendar: WorkCalendar
    office: tuple[float, float]
    sites: dict[int, SiteInfo]
    counted: dict[int, list[dt.date]]
    reinspections: list[ReinspectionDue]
    cases: list[CaseVisit]
    drawn: list[DrawnVisit]
    staff: dict[int, Officer]
    staff_parks: dict[int, set[int]]
    names: dict[int, str]
    last_pairs: dict[int, frozenset[int]]
    inspector_drawn: set[int] | None
    elsewhere: dict[int, dt.date]  # sites on another day's published plan, not yet visited
    plan: dict | None = None  # the stored plan of the day, as plain data
    fingerprint: str = ""


def _tz(policy: dict) -> ZoneInfo:
    return ZoneInfo(policy["timezone"])


def _bureau_today(policy: dict) -> dt.date:
    return local_date(utcnow(), policy["timezone"])


def _office() -> tuple[float, float]:
    row = db.session.execute(
        sa.select(sa.func.ST_X(Office.location), sa.func.ST_Y(Office.location))
        .order_by(Office.is_default.desc(), Office.id).limit(1)).first()
    if row is None:
        raise ServiceError("the bureau's office is not set: every route starts and ends there; an admin adds it first")
    return float(row[0]), float(row[1])


def _sites(scope: list[int]) -> dict[int, SiteInfo]:
    rows = db.session.execute(
        sa.select(Site, sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom))
        .where(Site.park_id.in_(scope), Site.active.is_(True)).order_by(Site.id)).all()
    return {s.id: SiteInfo(s.id, s.park_id, s.name, s.address, float(x), float(y), s.risk_grade, s.is_key_object,
                           SiteFacts.of(s)) for s, x, y in rows}


def _reason_dicts(reasons) -> list[dict]:
    return [r for r in (reasons or []) if isinstance(r, dict)]


def _counted_and_done(sites: dict[int, SiteInfo], day: dt.date, policy: dict):
    """This year's visits that counted toward each site's budget (routine, key or drawn checks
    made, whether the visit's own kind says so or the plan stop it fulfilled), and the orders,
    case requests and draws whose visit was made on a plan stop."""
    tz = _tz(policy)
    since = dt.datetime.combine(dt.date(day.year, 1, 1), dt.time(0), tz)
    counted: dict[int, list[dt.date]] = defaultdict(list)
    rows = db.session.execute(
        sa.select(Visit.site_id, Visit.started_at, Visit.kind, PlanStop.reasons)
        .join(Site, Site.id == Visit.site_id)
        .outerjoin(PlanStop, PlanStop.visit_id == Visit.id)
        .where(Site.park_id.in_(sorted({s.park_id for s in sites.values()}) or [0]), Visit.started_at >= since,
               Visit.corrects_id.is_(None))).all()
    for site_id, started, kind, reasons in rows:
        if site_id not in sites:
            continue
        kinds = {kind} | {r.get("kind") for r in _reason_dicts(reasons)}
        if kinds & COUNTED:
            counted[site_id].append(local_date(started, policy["timezone"]))
    done_orders, done_cases, done_draws = set(), set(), set()
    visited = db.session.execute(
        sa.select(PlanStop.site_id, PlanStop.reasons, PlanStop.order_id, PlanStop.case_request_id, PlanStop.draw_id)
        .where(PlanStop.visit_id.is_not(None), PlanStop.site_id.in_(list(sites) or [0]))).all()
    for site_id, reasons, order_id, case_id, draw_id in visited:
        for r in _reason_dicts(reasons) + [{"order_id": order_id, "case_request_id": case_id, "draw_id": draw_id}]:
            if r.get("order_id"):
                done_orders.add(r["order_id"])
            if r.get("case_request_id"):
                done_cases.add(r["case_request_id"])
            if r.get("draw_id"):
                done_draws.add((r["draw_id"], site_id))
    return counted, done_orders, done_cases, done_draws


def _triggers(sites: dict[int, SiteInfo], day: dt.date, policy: dict, done_orders, done_cases, done_draws):
    ids = list(sites) or [0]
    reinspections = [ReinspectionDue(order_id, site_id, deadline, due) for order_id, site_id, deadline, due in
                     db.session.execute(
                         sa.select(Order.id, Finding.site_id, Order.deadline, Order.reinspection_due)
                         .join(Finding, Finding.id == Order.finding_id)
                         .where(Order.status == "open", Finding.site_id.in_(ids)).order_by(Order.id)).all()
                     if order_id not in done_orders]
    cases = [CaseVisit(c.id, c.site_id, c.source, c.due_by, local_date(c.created_at, policy["timezone"]))
             for c in db.session.execute(sa.select(CaseRequest).where(
                 CaseRequest.closed_at.is_(None), CaseRequest.site_id.in_(ids)).order_by(CaseRequest.id)).scalars()
             if c.id not in done_cases]
    drawn = []
    for d in db.session.execute(sa.select(Draw).where(
            Draw.subject == "sites", Draw.drawn.is_not(None), Draw.visible_from.is_not(None)).order_by(Draw.id)).scalars():
        for site_id in d.drawn or []:
            if site_id in sites and (d.id, site_id) not in done_draws:
                drawn.append(DrawnVisit(d.id, site_id, d.visible_from, d.visit_by or d.visible_from))
    inspector_drawn = None
    for d in db.session.execute(sa.select(Draw).where(
            Draw.subject == "inspectors", Draw.drawn.is_not(None), Draw.visible_from <= day,
            sa.func.coalesce(Draw.visit_by, Draw.visible_from) >= day)).scalars():
        inspector_drawn = (inspector_drawn or set()) | set(d.drawn or [])
    return reinspections, cases, drawn, inspector_drawn


def _staff(scope: list[int], day: dt.date):
    users = [u for u in db.session.execute(
        sa.select(User).where(User.role == "inspector", User.active.is_(True)).options(selectinload(User.parks))
        .order_by(User.id)).scalars()
        if set(u.park_ids) & set(scope)]
    ids = [u.id for u in users] or [0]
    leave = defaultdict(list)
    for lv in db.session.execute(sa.select(Leave).where(
            Leave.user_id.in_(ids), Leave.start_date <= day, Leave.end_date >= day)).scalars():
        leave[lv.user_id].append((lv.start_date, lv.end_date))
    conflicts = defaultdict(set)
    for uid, site_id in db.session.execute(sa.select(ConflictDeclaration.user_id, ConflictDeclaration.site_id)
                                           .where(ConflictDeclaration.user_id.in_(ids))).all():
        conflicts[uid].add(site_id)
    staff = {u.id: Officer.of(u, leave[u.id], conflicts[u.id]) for u in users}
    parks = {u.id: set(u.park_ids) & set(scope) for u in users}
    names = {u.id: u.name for u in users}
    return staff, parks, names


def _last_pairs(sites: dict[int, SiteInfo]) -> dict[int, frozenset[int]]:
    """The two counted officers of each site's last visit (the soft rule avoids sending them back)."""
    if not sites:
        return {}
    last = (sa.select(Visit.site_id, sa.func.max(Visit.started_at).label("at"))
            .where(Visit.site_id.in_(list(sites))).group_by(Visit.site_id).subquery())
    officers = defaultdict(set)
    for site_id, user_id in db.session.execute(
            sa.select(Visit.site_id, visit_officers.c.user_id)
            .join(last, sa.and_(last.c.site_id == Visit.site_id, last.c.at == Visit.started_at))
            .join(visit_officers, visit_officers.c.visit_id == Visit.id)
            .where(visit_officers.c.counted.is_(True))).all():
        officers[site_id].add(user_id)
    return {sid: frozenset(ids) for sid, ids in officers.items() if len(ids) == 2}


def _elsewhere(sites: dict[int, SiteInfo], day: dt.date, today: dt.date) -> dict[int, dt.date]:
    rows = db.session.execute(
        sa.select(PlanStop.site_id, Plan.day).join(Plan, Plan.id == PlanStop.plan_id)
        .where(Plan.status == "published", Plan.day >= today, Plan.day != day, PlanStop.status == "planned",
               PlanStop.route_id.is_not(None), PlanStop.visit_id.is_(None),
               PlanStop.site_id.in_(list(sites) or [0])).order_by(Plan.day)).all()
    out: dict[int, dt.date] = {}
    for site_id, other in rows:
        out.setdefault(site_id, other)
    return out


def _plan_row(day: dt.date, lock: bool = False) -> Plan | None:
    stmt = sa.select(Plan).where(Plan.day == day)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(stmt).scalar()


def _stops_of(plan: Plan) -> list[PlanStop]:
    return list(db.session.execute(sa.select(PlanStop).where(PlanStop.plan_id == plan.id)
                                   .order_by(PlanStop.route_id, PlanStop.seq, PlanStop.id)
                                   .execution_options(populate_existing=True)).scalars())


def _routes_of(plan: Plan) -> list[Route]:
    return list(db.session.execute(sa.select(Route).where(Route.plan_id == plan.id).order_by(Route.id)
                                   .options(selectinload(Route.officers))
                                   .execution_options(populate_existing=True)).scalars())


def _fingerprint(plan: Plan | None) -> str:
    """What a regeneration read; a change between reading and storing is a concurrent edit."""
    if plan is None:
        return "none"
    stops = [[s.id, s.route_id, s.seq, s.locked, s.status, s.not_scheduled_reason, s.visit_id is not None]
             for s in _stops_of(plan)]
    return content_hash({"id": plan.id, "status": plan.status, "at": plan.generated_at.isoformat(),
                         "edits": (plan.settings or {}).get("edits") or {}, "stops": sorted(stops)})


def _plan_data(plan: Plan) -> dict:
    """The stored plan as plain data (read once; the solver works outside the transaction)."""
    routes = _routes_of(plan)
    return {
        "id": plan.id, "status": plan.status, "park_ids": _plan_parks(plan),
        "edits": (plan.settings or {}).get("edits") or {},
        "routes": [{"id": r.id, "lead": r.team_lead_id,
                    "officers": [u.id for u in r.officers if not u.auxiliary and u.id != r.team_lead_id],
                    "auxiliaries": [u.id for u in r.officers if u.auxiliary]} for r in routes],
        "stops": [{"id": s.id, "site_id": s.site_id, "route_id": s.route_id, "seq": s.seq, "locked": s.locked,
                   "status": s.status, "reason": s.not_scheduled_reason, "kind": s.kind, "priority": s.priority,
                   "latest": s.latest_date, "reasons": list(s.reasons or []), "visited": s.visit_id is not None}
                  for s in _stops_of(plan)],
    }


def read_world(day: dt.date, scope: list[int]) -> World:
    version, policy = policy_in_force()
    calendar = work_calendar()
    today = _bureau_today(policy)
    sites = _sites(scope)
    counted, done_orders, done_cases, done_draws = _counted_and_done(sites, day, policy)
    reinspections, cases, drawn, inspector_drawn = _triggers(sites, day, policy, done_orders, done_cases, done_draws)
    staff, staff_parks, names = _staff(scope, day)
    plan = _plan_row(day)
    return World(day=day, today=today, scope=scope, policy=policy, policy_version=version, calendar=calendar,
                 office=_office(), sites=sites, counted=dict(counted), reinspections=reinspections, cases=cases,
                 drawn=drawn, staff=staff, staff_parks=staff_parks, names=names, last_pairs=_last_pairs(sites),
                 inspector_drawn=inspector_drawn, elsewhere=_elsewhere(sites, day, today),
                 plan=_plan_data(plan) if plan else None, fingerprint=_fingerprint(plan))


# --- teams ----------------------------------------------------------------------------


@dataclass
class Staffing:
    teams: list[Team]
    parks: dict[int, set[int]]  # team lead -> the parks the team may visit
    unavailable: dict[int, str]
    source: str  # chosen, kept or formed
    dropped: list[dict] = field(default_factory=list)


def team_parks(world: World, officer_ids: Iterable[int]) -> set[int]:
    """The parks every officer of the team works in (the lead records the visit there)."""
    parks = None
    for uid in officer_ids:
        mine = world.staff_parks.get(uid, set())
        parks = set(mine) if parks is None else parks & mine
    return parks or set()


def _chosen_teams(world: World, chosen: list[dict]) -> Staffing:
    teams, parks, problems = [], {}, {}
    seen: set[int] = set()
    for k, choice in enumerate(chosen):
        officers, aux = list(choice["officer_ids"]), list(choice.get("auxiliary_ids") or [])
        unknown = [uid for uid in officers + aux if uid not in world.staff]
        if unknown:
            problems[str(k)] = [f"user {uid} is not an inspector of the parks planned" for uid in unknown]
            continue
        twice = [uid for uid in officers + aux if uid in seen]
        if twice:
            problems[str(k)] = [f"{world.names[uid]} is on another team already" for uid in twice]
            continue
        try:
            team = make_team(officers, aux, world.staff, world.day, world.calendar)
        except TeamError as e:
            problems[str(k)] = list(e.problems)
            continue
        shared = team_parks(world, officers)
        if not shared:
            problems[str(k)] = [f"{' and '.join(world.names[u] for u in officers)} share no park: a team visits the "
                                "sites of the parks both officers work in"]
            continue
        seen.update(team.member_ids)
        teams.append(team)
        parks[team.lead_id] = shared
    if problems:
        first = next(iter(problems.values()))[0]
        raise ServiceError(f"a team cannot be made: {first}", ("teams",), problems=problems)
    unavailable = {uid: why_unavailable(o, world.day, world.calendar) or "not_needed"
                   for uid, o in world.staff.items() if uid not in seen}
    return Staffing(teams, parks, unavailable, "chosen")


def _kept_teams(world: World) -> Staffing | None:
    """The teams already on the day's plan, each checked again for the day (leave or an expired
    certificate since takes a team off); None when the plan has no routes."""
    if not world.plan or not world.plan["routes"]:
        return None
    teams, parks, dropped = [], {}, []
    seen: set[int] = set()
    for r in world.plan["routes"]:
        officers = [r["lead"], *r["officers"]]
        members = officers + r["auxiliaries"]
        problems = [f"user {uid} is no longer an inspector of the parks planned" for uid in members
                    if uid not in world.staff]
        if not problems:
            problems = team_problems(officers, r["auxiliaries"], world.staff, world.day, world.calendar)
        shared = team_parks(world, officers) if not problems else set()
        if not problems and not shared:
            problems = ["the two officers share no park of the plan"]
        if problems or seen & set(members):
            dropped.append({"lead_id": r["lead"], "problems": problems or ["a member is on another team"]})
            continue
        team = make_team(officers, r["auxiliaries"], world.staff, world.day, world.calendar)
        seen.update(members)
        teams.append(team)
        parks[team.lead_id] = shared
    unavailable = {uid: why_unavailable(o, world.day, world.calendar) or "not_needed"
                   for uid, o in world.staff.items() if uid not in seen}
    return Staffing(teams, parks, unavailable, "kept", dropped)


def _formed_teams(world: World, candidates: list[Candidate], seed: int, max_teams: int | None,
                  kept: Staffing | None = None) -> Staffing:
    """Teams formed park by park: the park with the most urgent work first, from the officers
    of that park not yet on a team (auxiliary staff join a team of their park). Teams `kept`
    from the plan stay as they are; the others are formed from whoever is not on one."""
    weight = defaultdict(int)
    for c in candidates:
        weight[world.sites[c.site_id].park_id] += c.priority + 1
    order = sorted(world.scope, key=lambda p: (-weight[p], p))
    teams = list(kept.teams) if kept else []
    parks = dict(kept.parks) if kept else {}
    reasons: dict[int, str] = {}
    taken: set[int] = {m for t in teams for m in t.member_ids}
    aux_per_team = int(world.policy.get("auxiliaries_per_team", 1))
    for park in order:
        room = None if max_teams is None else max(max_teams - len(teams), 0)
        people = [o for uid, o in world.staff.items() if uid not in taken and park in world.staff_parks[uid]]
        if not people:
            continue
        staffing = form_teams(world.day, people, world.calendar, seed=seed, max_teams=room,
                              drawn=world.inspector_drawn, auxiliaries_per_team=aux_per_team)
        for team in staffing.teams:
            shared = team_parks(world, team.officer_ids)
            teams.append(team)
            parks[team.lead_id] = shared
            taken.update(team.member_ids)
        for u in staffing.unavailable:
            reasons[u.user_id] = u.reason
    unavailable = {uid: reasons.get(uid, "no_team") for uid in world.staff if uid not in taken}
    return Staffing(teams, parks, unavailable, "kept" if kept and kept.teams else "formed",
                    kept.dropped if kept else [])


# --- candidates -----------------------------------------------------------------------


def _candidate_from_row(stop: dict, day: dt.date) -> Candidate | None:
    """A stored stop's visit, rebuilt from its reasons (a locked stop whose site the due rules
    no longer propose today, or one a scheduler moved here from another day)."""
    checks = []
    for r in _reason_dicts(stop["reasons"]):
        if r.get("kind") not in KINDS:
            continue
        base = {"code", "kind", "earliest", "latest", "order_id", "case_request_id", "draw_id"}
        try:
            checks.append(Check(
                kind=r["kind"], site_id=stop["site_id"], earliest=dt.date.fromisoformat(r["earliest"]),
                latest=dt.date.fromisoformat(r["latest"]), code=str(r.get("code", "")),
                params=tuple((k, v) for k, v in r.items() if k not in base),
                order_id=r.get("order_id"), case_request_id=r.get("case_request_id"), draw_id=r.get("draw_id")))
        except (KeyError, TypeError, ValueError):
            continue
    if not checks:
        return None
    return Candidate(site_id=stop["site_id"], kind=stop["kind"], priority=int(stop["priority"]),
                     latest=stop["latest"] or day, checks=tuple(checks))


@dataclass
class Prepared:
    """A day's plan ready to solve: candidates, teams, locks and what stays off the routes."""

    candidates: list[Candidate]
    staffing: Staffing
    locked: dict[int, int]  # site -> team lead
    pinned_seq: dict[int, int]  # site -> the place it held on its route
    kept_rows: dict[int, int]  # site -> PlanStop id kept
    extra_rows: list[tuple[Candidate, str]]  # visits shown as not scheduled before solving, with the reason
    deferred: list
    options: dict
    gathered_sha256: str = ""


def prepare(world: World, chosen_teams: list[dict] | None, options: dict) -> Prepared:
    due = due_on(world.day, [s.facts for s in world.sites.values()], world.calendar, world.policy,
                 counted_visits=world.counted, reinspections=world.reinspections, cases=world.cases, drawn=world.drawn)
    by_site = {c.site_id: c for c in due.candidates}
    plan = world.plan or {"stops": [], "edits": {}, "routes": []}
    edits = plan.get("edits") or {}
    moved_out = {int(k) for k in (edits.get("moved_out") or {})}
    moved_in = {int(k) for k in (edits.get("moved_in") or {})}
    route_lead = {r["id"]: r["lead"] for r in plan["routes"]}
    locked, pinned, kept = {}, {}, {}
    for stop in plan["stops"]:
        sid = stop["site_id"]
        if _reason_code(stop["reason"]) in KEPT_REASONS or stop["visited"]:
            kept[sid] = stop["id"]
            by_site.pop(sid, None)
            continue
        if stop["locked"] and stop["route_id"] in route_lead and sid in world.sites:
            locked[sid] = route_lead[stop["route_id"]]
            pinned[sid] = stop["seq"] or 1
            kept[sid] = stop["id"]
        if (stop["locked"] or sid in moved_in) and sid not in by_site and sid in world.sites:
            rebuilt = _candidate_from_row(stop, world.day)
            if rebuilt is not None:
                by_site[sid] = rebuilt
        if sid in moved_in and sid in by_site and not stop["locked"]:
            # A scheduler moved it to this day: it is done today if it fits at all.
            by_site[sid] = dataclasses.replace(by_site[sid], priority=max(by_site[sid].priority, 4))
    extra: list[tuple[Candidate, str]] = []
    for sid in sorted(by_site):
        if sid in moved_out:
            by_site.pop(sid)
        elif sid in world.elsewhere and sid not in locked:
            extra.append((by_site.pop(sid), f"planned_other_day:{world.elsewhere[sid].isoformat()}"))
    candidates = sorted(by_site.values(), key=lambda c: (-c.priority, c.latest, c.site_id))

    seed = int(options.get("seed", world.day.toordinal()))
    max_teams = options.get("max_teams")
    if chosen_teams:
        staffing = _chosen_teams(world, chosen_teams)
    else:
        kept_teams = None if options.get("reform_teams") else _kept_teams(world)
        staffing = _formed_teams(world, candidates, seed, max_teams, kept_teams)
    prepared = Prepared(candidates=candidates, staffing=staffing, locked=locked, pinned_seq=pinned, kept_rows=kept,
                        extra_rows=extra, deferred=list(due.deferred), options={**options, "seed": seed})
    prepared.gathered_sha256 = content_hash({
        "day": world.day.isoformat(), "scope": world.scope, "policy_version": world.policy_version,
        "candidates": [[c.site_id, c.kind, c.priority, c.latest.isoformat(), c.reasons] for c in candidates],
        "teams": [[list(t.officer_ids), list(t.auxiliary_ids), sorted(t.conflicts)] for t in staffing.teams],
        "locked": sorted(locked.items()), "pinned": sorted(pinned.items()),
        "extra": [[c.site_id, why] for c, why in extra],
        "deferred": [[d.site_id, d.until.isoformat()] for d in prepared.deferred],
        "last_pairs": sorted([k, sorted(v)] for k, v in world.last_pairs.items()),
        "options": {k: v for k, v in sorted(prepared.options.items())},
    })
    return prepared


# --- solving --------------------------------------------------------------------------


@dataclass
class Solved:
    dayplan: object
    routes: list[dict]  # per team: team, stops [(candidate, arrive_min)], distance_km, duration_min
    not_scheduled: list[tuple[Candidate, str]]
    locks_in_place: bool
    seconds: float


def _restricted(team: Team, parks: set[int], world: World, candidates: list[Candidate]) -> Team:
    """The team as the routing sees it: the sites outside its parks are out of bounds, like a
    declared conflict."""
    outside = {c.site_id for c in candidates if world.sites[c.site_id].park_id not in parks}
    return dataclasses.replace(team, conflicts=frozenset(team.conflicts | outside))


def solve(world: World, prepared: Prepared) -> Solved:
    started = time.perf_counter()
    opts = prepared.options
    settings = PlanSettings(solver=opts.get("solver") or PlanSettings.solver, seed=int(opts["seed"]),
                            time_limit_s=float(opts.get("time_limit_s") or PlanSettings.time_limit_s),
                            iterations=int(opts["iterations"]) if opts.get("iterations") else PlanSettings.iterations)
    staffing = prepared.staffing
    teams = [_restricted(t, staffing.parks[t.lead_id], world, prepared.candidates) for t in staffing.teams]
    locations = {sid: (s.lon, s.lat) for sid, s in world.sites.items()}
    try:
        dayplan = make_plan(world.day, prepared.candidates, teams, world.office, locations, world.policy,
                            world.calendar, settings=settings, locked=prepared.locked, last_pairs=world.last_pairs)
    except (PlanningError, RoutingError, DueError, TeamError) as e:
        raise ServiceError(f"the plan cannot be made: {e}") from e
    matrix = HaversineMatrix.from_policy(world.policy)
    working_day_min = float(world.policy["working_day_hours"]) * 60
    routes, in_place = [], True
    for route in dayplan.routes:
        order = [s.candidate for s in route.stops]
        arrive = [s.arrive_min for s in route.stops]
        distance, duration = route.distance_km, route.duration_min
        pins = {prepared.pinned_seq[c.site_id]: c for c in order if c.site_id in prepared.pinned_seq}
        if pins:
            wanted = place_pinned([c for c in order if c.site_id not in prepared.pinned_seq], pins)
            if wanted != order:
                timed = time_route(world.office, [locations[c.site_id] for c in wanted], matrix,
                                   world.policy["minutes_on_site"])
                if timed.fits(working_day_min):
                    order, arrive = wanted, list(timed.arrive_min)
                    distance, duration = timed.distance_km, timed.duration_min
                else:
                    in_place = False
        routes.append({"team": staffing.teams[len(routes)], "stops": list(zip(order, arrive)),
                       "distance_km": distance, "duration_min": duration})
    covered = set().union(*staffing.parks.values()) if staffing.parks else set()
    not_scheduled = []
    for n in dayplan.not_scheduled:
        reason = n.reason
        if reason == "conflict_every_team" and world.sites[n.candidate.site_id].park_id not in covered:
            reason = "no_team_in_park"
        not_scheduled.append((n.candidate, reason))
    return Solved(dayplan, routes, not_scheduled, in_place, round(time.perf_counter() - started, 3))


# --- storing --------------------------------------------------------------------------


def _lock_days(*days: dt.date) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        for day in sorted(set(days)):
            db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k, :d)"), {"k": PLAN_LOCK_KEY, "d": day.toordinal()})


def _first(ids: tuple[int, ...]) -> int | None:
    return ids[0] if ids else None


def _fill(stop: PlanStop, c: Candidate) -> None:
    stop.kind = c.kind
    stop.reasons = c.reasons
    stop.priority = c.priority
    stop.latest_date = c.latest
    stop.order_id = _first(c.order_ids)
    stop.case_request_id = _first(c.case_request_ids)
    stop.draw_id = _first(c.draw_ids)


def _deferred_candidate(d, world: World) -> Candidate:
    checks = tuple(d.checks) + tuple(d.waits_for)
    scored = [check_priority(c.kind, slack(world.calendar, world.day, c.latest)) for c in d.checks]
    top = max(d.checks, key=lambda c: check_priority(c.kind, slack(world.calendar, world.day, c.latest)))
    return Candidate(site_id=d.site_id, kind=top.kind, priority=max(scored), latest=min(c.latest for c in d.checks),
                     checks=checks)


def store(world: World, prepared: Prepared, solved: Solved, actor: User | None) -> Plan:
    """Write the plan (the caller holds the day's lock and has checked nothing changed)."""
    day = world.day
    plan = _plan_row(day, lock=True)
    creating = plan is None
    edits = (world.plan or {}).get("edits") or {}
    if creating:
        plan = Plan(day=day, status="draft")
        db.session.add(plan)
        db.session.flush()
    kept_ids = set(prepared.kept_rows.values())
    rows = {s.id: s for s in _stops_of(plan)}
    for sid, row in list(rows.items()):
        if sid not in kept_ids:
            db.session.delete(row)
            rows.pop(sid)
    db.session.flush()
    kept_by_site = {row.site_id: row for row in rows.values()}
    old_routes = {r.team_lead_id: r for r in _routes_of(plan)}
    used = set()
    users = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_([m for r in solved.routes for m in r["team"].member_ids] or [0]))).scalars()}
    new_rows = []
    for r in solved.routes:
        team = r["team"]
        route = old_routes.get(team.lead_id)
        if route is None:
            route = Route(plan_id=plan.id, team_lead_id=team.lead_id)
            db.session.add(route)
        used.add(team.lead_id)
        route.officers = [users[m] for m in team.member_ids]
        route.distance_km = r["distance_km"]
        route.duration_min = r["duration_min"]
        db.session.flush()
        for seq, (c, arrive) in enumerate(r["stops"], start=1):
            row = kept_by_site.pop(c.site_id, None)
            if row is None:
                row = PlanStop(plan_id=plan.id, site_id=c.site_id, locked=False)
                new_rows.append(row)
            _fill(row, c)
            row.route_id, row.seq, row.eta_min = route.id, seq, arrive
            row.status, row.not_scheduled_reason = "planned", ""
    for lead, route in old_routes.items():
        if lead not in used:
            db.session.execute(sa.update(PlanStop).where(PlanStop.route_id == route.id).values(route_id=None))
            db.session.delete(route)
    not_scheduled = list(solved.not_scheduled) + list(prepared.extra_rows)
    not_scheduled += [(_deferred_candidate(d, world), f"deferred:{d.until.isoformat()}") for d in prepared.deferred]
    for c, reason in not_scheduled:
        row = kept_by_site.pop(c.site_id, None)
        if row is None:
            row = PlanStop(plan_id=plan.id, site_id=c.site_id)
            new_rows.append(row)
        _fill(row, c)
        row.route_id, row.seq, row.eta_min, row.locked = None, None, None, False
        row.status, row.not_scheduled_reason = "not_scheduled", reason
    db.session.add_all(new_rows)
    # Kept rows for sites now nowhere: a moved-out marker or a visited stop, left as they were.
    dp = solved.dayplan
    plan.status = "draft"
    plan.generated_at = utcnow()
    plan.generated_by = actor.id if actor else None
    plan.solver = dp.solver
    staffing = prepared.staffing
    plan.settings = {
        **dp.settings, "edits": edits, "teams_source": staffing.source, "teams_dropped": staffing.dropped,
        "team_parks": {str(lead): sorted(p) for lead, p in staffing.parks.items()},
        "unavailable": [{"user_id": uid, "reason": why} for uid, why in sorted(staffing.unavailable.items())],
        "locks_in_place": solved.locks_in_place, "options": prepared.options,
    }
    plan.inputs = {**dp.inputs, "inputs_sha256": dp.inputs_sha256, "gathered_sha256": prepared.gathered_sha256,
                   "park_ids": world.scope, "policy_version": world.policy_version,
                   "counts": {"sites": len(world.sites), "candidates": len(prepared.candidates),
                              "reinspections": len(world.reinspections), "case_requests": len(world.cases),
                              "drawn": len(world.drawn), "deferred": len(prepared.deferred),
                              "planned_other_day": len(prepared.extra_rows)}}
    plan.solve_seconds = dp.seconds
    plan.published_at = None
    db.session.flush()
    audit.record("plan.generate", "plan", plan.id, {
        "day": day.isoformat(), "created": creating, "stops": sum(len(r["stops"]) for r in solved.routes),
        "teams": len(solved.routes), "not_scheduled": len(not_scheduled), "locked_kept": len(prepared.locked),
        "solver": dp.solver, "seconds": dp.seconds, "inputs_sha256": dp.inputs_sha256,
        "park_ids": world.scope}, actor.id if actor else None)
    return plan


def generate(day: dt.date, actor: User | None, *, park_ids: list[int] | None = None, teams: list[dict] | None = None,
             options: dict | None = None, only_if_changed: bool = False) -> dict:
    """Generate (or regenerate) the plan of `day`; answers {"plan_id", "changed"}.

    `only_if_changed` (the evening job): a stored draft whose inputs are the same is left alone.
    """
    options = dict(options or {})
    if options.get("solver") and options["solver"] not in SOLVERS:
        raise ServiceError(f"solver is one of {', '.join(SOLVERS)}", ("options",))
    with read_only():
        _version, policy = policy_in_force()
        calendar = work_calendar()
        today = _bureau_today(policy)
        if day < today:
            raise ServiceError(f"{day.isoformat()} has passed; plan today ({today.isoformat()}) or a later day",
                               ("date",))
        if (day - today).days > HORIZON_DAYS:
            raise ServiceError(f"{day.isoformat()} is more than a year ahead; plan a nearer day", ("date",))
        if not calendar.is_working_day(day):
            raise ServiceError(f"{day.isoformat()} is not a working day in the bureau's calendar; the next one is "
                               f"{calendar.next_working_day(day).isoformat()}", ("date",))
        existing = _plan_row(day)
        if existing is not None:
            _check_covers(actor, existing)
            if existing.status == "published":
                raise Conflict(f"the plan of {day.isoformat()} is published; unpublish it before generating it again",
                               allowed_next=["unpublish"])
        scope = _scope_of(actor, park_ids or (_plan_parks(existing) if existing is not None else None))
        world = read_world(day, scope)
        prepared = prepare(world, teams, options)
        made_from = (existing.inputs or {}).get("gathered_sha256") if existing is not None else None
        db.session.commit()  # ends the read; the solver works outside any transaction
    if only_if_changed and made_from == prepared.gathered_sha256:
        return {"plan_id": world.plan["id"], "changed": False}
    solved = solve(world, prepared)
    _lock_days(day)
    current = _plan_row(day, lock=True)
    if _fingerprint(current) != world.fingerprint:
        raise Conflict(f"the plan of {day.isoformat()} changed while this one was being made (another scheduler or "
                       "the evening job); generate it again", allowed_next=["regenerate"])
    plan = store(world, prepared, solved, actor)
    db.session.commit()
    log.info("plan of %s generated: %d teams, %d stops, %d locked kept", day, len(solved.routes),
             sum(len(r["stops"]) for r in solved.routes), len(prepared.locked))
    return {"plan_id": plan.id, "changed": True}


# --- reading a plan -------------------------------------------------------------------


def _clock(minutes: float | None, day_start: str) -> str | None:
    if minutes is None:
        return None
    h, m = (int(x) for x in day_start.split(":"))
    total = round(h * 60 + m + minutes)
    return f"{total // 60:02d}:{total % 60:02d}"


def load(day: dt.date) -> Plan:
    plan = _plan_row(day)
    if plan is None:
        raise NotFound(f"there is no plan for {day.isoformat()}; a scheduler generates it with POST /api/plans")
    return plan


def _office_of(plan: Plan) -> dict | None:
    """Where the plan's routes start and end, as it was planned (the office now, for an empty plan)."""
    lonlat = (plan.inputs or {}).get("office")
    if not lonlat:
        try:
            lonlat = _office()
        except ServiceError:
            return None
    return {"lon": float(lonlat[0]), "lat": float(lonlat[1])}


def allowed_next(plan: Plan, visited: bool) -> list[str]:
    if plan.status == "published":
        return [] if visited else ["unpublish"]
    return ["regenerate", "edit", "publish"]


def describe(plan: Plan, user: User | None) -> dict:
    """The plan as a scheduler sees it: routes with their ordered stops, not-scheduled visits with
    their reasons, who is not on a team and why. Stops outside the reader's parks are left out."""
    scope = None if user is None or user.role == "admin" else set(user.park_ids)
    stops = _stops_of(plan)
    routes = _routes_of(plan)
    site_ids = sorted({s.site_id for s in stops})
    sites = {s.id: (s, x, y) for s, x, y in db.session.execute(
        sa.select(Site, sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom)).where(Site.id.in_(site_ids or [0]))).all()}
    settings = plan.settings or {}
    day_start = settings.get("day_start") or "08:30"
    calendar = work_calendar()
    rolls_to = calendar.next_working_day(plan.day)
    unavailable_ids = [u["user_id"] for u in settings.get("unavailable") or []]
    people = {u.id: u for u in db.session.execute(sa.select(User).where(
        User.id.in_(list({m.id for r in routes for m in r.officers} | set(unavailable_ids)) or [0]))).scalars()}

    def site(sid: int) -> dict:
        s, x, y = sites[sid]
        return {"id": s.id, "name": s.name, "address": s.address, "park_id": s.park_id, "lon": float(x), "lat": float(y),
                "risk_grade": s.risk_grade, "key_object": s.is_key_object}

    def visible(stop: PlanStop) -> bool:
        return scope is None or sites[stop.site_id][0].park_id in scope

    def stop_out(s: PlanStop) -> dict:
        return {"id": s.id, "seq": s.seq, "site": site(s.site_id), "kind": s.kind, "priority": s.priority,
                "latest_date": s.latest_date, "late": s.latest_date is not None and s.latest_date < plan.day,
                "eta_min": s.eta_min, "eta": _clock(s.eta_min, day_start), "reasons": list(s.reasons or []),
                "order_id": s.order_id, "draw_id": s.draw_id, "case_request_id": s.case_request_id,
                "locked": s.locked, "status": s.status, "visit_id": str(s.visit_id) if s.visit_id else None}

    by_route = defaultdict(list)
    for s in stops:
        if s.route_id is not None and visible(s):
            by_route[s.route_id].append(s)
    routes_out = []
    for n, r in enumerate(routes, start=1):
        members = sorted(r.officers, key=lambda u: (u.id != r.team_lead_id, u.auxiliary, u.id))
        ordered = sorted(by_route.get(r.id, []), key=lambda s: (s.seq or 0, s.id))
        routes_out.append({
            "id": r.id, "team_no": n, "team_lead_id": r.team_lead_id,
            "officers": [{"id": u.id, "name": u.name, "auxiliary": u.auxiliary, "lead": u.id == r.team_lead_id}
                         for u in members],
            "parks": (settings.get("team_parks") or {}).get(str(r.team_lead_id), []),
            "distance_km": r.distance_km, "duration_min": r.duration_min, "start": day_start,
            "end": _clock(r.duration_min, day_start) if ordered else day_start,
            "stops": [stop_out(s) for s in ordered]})
    not_scheduled = []
    for s in sorted((s for s in stops if s.route_id is None and visible(s)),
                    key=lambda s: (-s.priority, s.latest_date or plan.day, s.site_id)):
        out = stop_out(s)
        code = _reason_code(s.not_scheduled_reason)
        out.update(reason=code, reason_day=s.not_scheduled_reason.partition(":")[2] or None,
                   late=s.latest_date is not None and s.latest_date <= plan.day,
                   reason_words=reason_words(s.not_scheduled_reason),
                   rolls_to=rolls_to if code in NOT_SCHEDULED_REASONS else None)
        not_scheduled.append(out)
    visited = any(s.visit_id is not None for s in stops)
    return {
        "id": plan.id, "day": plan.day, "status": plan.status, "generated_at": plan.generated_at,
        "generated_by": plan.generated_by, "published_at": plan.published_at, "solver": plan.solver,
        "solve_seconds": plan.solve_seconds, "park_ids": _plan_parks(plan),
        "settings": {k: v for k, v in settings.items() if k not in ("unavailable", "team_parks")},
        "inputs_sha256": (plan.inputs or {}).get("inputs_sha256"),
        "office": _office_of(plan),
        "counts": (plan.inputs or {}).get("counts") or {},
        "routes": routes_out, "not_scheduled": not_scheduled,
        "unavailable": [{"user_id": u["user_id"], "name": people[u["user_id"]].name if u["user_id"] in people else "",
                         "reason": u["reason"]} for u in settings.get("unavailable") or []],
        "totals": {"teams": len(routes_out), "stops": sum(len(r["stops"]) for r in routes_out),
                   "not_scheduled": len(not_scheduled),
                   "distance_km": round(sum(r["distance_km"] for r in routes_out), 3),
                   "duration_min": round(sum(r["duration_min"] for r in routes_out), 1)},
        "allowed_next": allowed_next(plan, visited) if user is None or user.role in PLANNERS else [],
    }


def read(day: dt.date, user: User) -> dict:
    """GET /api/plans/<day>. Schedulers and admins read any plan; other staff a published one,
    and inspectors only from its day (a drawn visit stays secret until then)."""
    plan = _plan_row(day)
    if user.role not in PLANNERS:
        if plan is None or plan.status != "published":
            raise NotFound(f"there is no published plan for {day.isoformat()}")
        if user.role == "inspector":
            _version, policy = policy_in_force()
            if day > _bureau_today(policy):
                raise ServiceError(f"the plan of {day.isoformat()} is shown to inspectors from that day: random "
                                   "inspections stay secret until then", status=403)
    if plan is None:
        load(day)
    return describe(plan, user)


# --- a scheduler's edits --------------------------------------------------------------


def _editable(plan: Plan, actor: User | None) -> None:
    _check_covers(actor, plan)
    if plan.status == "published":
        raise Conflict(f"the plan of {plan.day.isoformat()} is published; unpublish it before changing it",
                       allowed_next=["unpublish"])


def _site_point(site_id: int) -> tuple[float, float]:
    x, y = db.session.execute(sa.select(sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom))
                              .where(Site.id == site_id)).one()
    return float(x), float(y)


def _retime(plan: Plan, route: Route, order: list[PlanStop], policy: dict, office) -> None:
    timed = time_route(office, [_site_point(s.site_id) for s in order], HaversineMatrix.from_policy(policy),
                       policy["minutes_on_site"])
    for seq, (stop, arrive) in enumerate(zip(order, timed.arrive_min), start=1):
        stop.seq, stop.eta_min = seq, arrive
    route.distance_km, route.duration_min = timed.distance_km, timed.duration_min


def _route_order(route: Route) -> list[PlanStop]:
    return list(db.session.execute(sa.select(PlanStop).where(PlanStop.route_id == route.id)
                                   .order_by(PlanStop.seq, PlanStop.id)).scalars())


def _check_day_length(route: Route, order: list[PlanStop], policy: dict, office, names: str) -> None:
    timed = time_route(office, [_site_point(s.site_id) for s in order], HaversineMatrix.from_policy(policy),
                       policy["minutes_on_site"])
    limit = float(policy["working_day_hours"]) * 60
    if not timed.fits(limit):
        raise ServiceError(f"the day of {names} would take {timed.duration_min:.0f} min ({timed.distance_km:.1f} km), "
                           f"longer than the working day ({limit:.0f} min); move another stop off it first",
                           ("route_id",))


def _team_of(route: Route) -> tuple[list[int], list[int]]:
    members = sorted(route.officers, key=lambda u: (u.id != route.team_lead_id, u.id))
    officers = [u.id for u in members if not u.auxiliary]
    return officers, [u.id for u in members if u.auxiliary]


def _check_team_for_site(route: Route, site: Site, day: dt.date, calendar: WorkCalendar) -> None:
    """The route's team may visit the site on the day: both officers work in its park, nobody
    declared a conflict with it, certificates valid and nobody on leave."""
    officers, auxiliaries = _team_of(route)
    members = officers + auxiliaries
    users = {u.id: u for u in route.officers}
    leave = defaultdict(list)
    for lv in db.session.execute(sa.select(Leave).where(Leave.user_id.in_(members or [0]), Leave.start_date <= day,
                                                        Leave.end_date >= day)).scalars():
        leave[lv.user_id].append((lv.start_date, lv.end_date))
    conflicted = set(db.session.execute(sa.select(ConflictDeclaration.user_id).where(
        ConflictDeclaration.site_id == site.id, ConflictDeclaration.user_id.in_(members or [0]))).scalars())
    staff = {uid: Officer.of(users[uid], leave[uid]) for uid in members}
    problems = team_problems(officers, auxiliaries, staff, day, calendar)
    for uid in sorted(conflicted):
        problems.append(f"{users[uid].name} declared a conflict of interest with {site.name} (回避)")
    outside = [users[uid].name for uid in officers if site.park_id not in users[uid].park_ids]
    if outside:
        problems.append(f"{'、'.join(outside)} do not work in the park of {site.name}; the team lead records the visit "
                        "there")
    if problems:
        raise ServiceError(f"team {route.team_lead_id} cannot visit {site.name} on {day.isoformat()}: "
                           + "; ".join(problems), ("route_id",))


def _team_names(route: Route) -> str:
    return "、".join(u.name for u in sorted(route.officers, key=lambda u: (u.id != route.team_lead_id, u.id)))


def _plan_for_move(day: dt.date, actor: User | None, today: dt.date, calendar: WorkCalendar, scope: list[int]) -> Plan:
    if day < today:
        raise ServiceError(f"{day.isoformat()} has passed", ("day",))
    if (day - today).days > HORIZON_DAYS:
        raise ServiceError(f"{day.isoformat()} is more than a year ahead", ("day",))
    if not calendar.is_working_day(day):
        raise ServiceError(f"{day.isoformat()} is not a working day in the bureau's calendar", ("day",))
    plan = _plan_row(day, lock=True)
    if plan is None:
        # An empty draft holds the moved stop until the day is generated.
        plan = Plan(day=day, status="draft", generated_by=actor.id if actor else None, solver="",
                    settings={"edits": {}}, inputs={"park_ids": scope})
        db.session.add(plan)
        db.session.flush()
        audit.record("plan.create", "plan", plan.id, {"day": day.isoformat(), "why": "a stop moved to this day"},
                     actor.id if actor else None)
    _editable(plan, actor)
    return plan


def _set_edit(plan: Plan, kind: str, site_id: int, value: str | None) -> None:
    settings = dict(plan.settings or {})
    edits = {k: dict(v) for k, v in (settings.get("edits") or {}).items()}
    bucket = edits.setdefault(kind, {})
    if value is None:
        bucket.pop(str(site_id), None)
    else:
        bucket[str(site_id)] = value
    settings["edits"] = edits
    plan.settings = settings


def edit_stop(day: dt.date, stop_id: int, actor: User | None, changes: dict) -> Plan:
    """PATCH a stop: {route_id (null: off the routes), day, seq, locked}, checked; audited."""
    if not changes:
        raise ServiceError("say what to change: route_id, day, seq or locked", ("_schema",))
    _lock_days(day, *([changes["day"]] if changes.get("day") else []))
    plan = _plan_row(day, lock=True)
    if plan is None:
        load(day)
    _editable(plan, actor)
    stop = db.session.execute(sa.select(PlanStop).where(PlanStop.id == stop_id, PlanStop.plan_id == plan.id)
                              .with_for_update().execution_options(populate_existing=True)).scalar()
    if stop is None:
        raise NotFound(f"the plan of {day.isoformat()} has no stop {stop_id}")
    if stop.visit_id is not None:
        raise Conflict(f"stop {stop.id} was visited already; it stays as it is", allowed_next=[])
    if _reason_code(stop.not_scheduled_reason) in ("moved_to_day", "planned_other_day", "deferred"):
        raise Conflict(f"stop {stop.id} only records that the visit is {reason_words(stop.not_scheduled_reason)['en']}; "
                       "it cannot be moved from here", allowed_next=[])
    site = db.session.get(Site, stop.site_id)
    policy = {**policy_in_force()[1]}
    calendar = work_calendar()
    office = _office()
    before = {"route_id": stop.route_id, "seq": stop.seq, "locked": stop.locked, "status": stop.status,
              "reason": stop.not_scheduled_reason}
    old_route = db.session.get(Route, stop.route_id) if stop.route_id else None
    target_day = changes.get("day")
    moved_to = None
    if target_day is not None and target_day != day:
        moved_to = _move_to_day(plan, stop, site, target_day, changes, actor, policy, calendar, office)
    elif "route_id" in changes:
        new_route_id = changes["route_id"]
        if new_route_id is None:
            stop.route_id, stop.seq, stop.eta_min, stop.locked = None, None, None, False
            stop.status, stop.not_scheduled_reason = "not_scheduled", "removed"
        else:
            route = db.session.execute(sa.select(Route).where(Route.id == new_route_id, Route.plan_id == plan.id)
                                       ).scalar()
            if route is None:
                raise ServiceError(f"the plan of {day.isoformat()} has no route {new_route_id}", ("route_id",))
            if route is not old_route:
                _check_team_for_site(route, site, day, calendar)
            order = insert_at([s for s in _route_order(route) if s.id != stop.id], stop, changes.get("seq"))
            _check_day_length(route, order, policy, office, _team_names(route))
            stop.route_id, stop.status, stop.not_scheduled_reason = route.id, "planned", ""
            _retime(plan, route, order, policy, office)
    elif "seq" in changes:
        if old_route is None:
            raise ServiceError("the stop is on no route; give a route_id to put it on one", ("seq",))
        order = insert_at(_route_order(old_route), stop, changes["seq"])
        _check_day_length(old_route, order, policy, office, _team_names(old_route))
        _retime(plan, old_route, order, policy, office)
    if "locked" in changes:
        if changes["locked"] and stop.route_id is None:
            raise ServiceError("only a stop on a route can be locked; put it on a route first", ("locked",))
        stop.locked = bool(changes["locked"])
    db.session.flush()
    if old_route is not None and old_route.id != stop.route_id:
        _retime(plan, old_route, _route_order(old_route), policy, office)
    db.session.flush()
    after = {"route_id": stop.route_id, "seq": stop.seq, "locked": stop.locked, "status": stop.status,
             "reason": stop.not_scheduled_reason, "plan_id": stop.plan_id}
    audit.record("plan.stop.edit", "plan_stop", stop.id, {
        "day": day.isoformat(), "site_id": stop.site_id, "before": before, "after": after,
        "moved_to": moved_to.isoformat() if moved_to else None}, actor.id if actor else None)
    db.session.commit()
    return plan


def _move_to_day(plan: Plan, stop: PlanStop, site: Site, target_day: dt.date, changes: dict, actor: User | None,
                 policy: dict, calendar: WorkCalendar, office) -> dt.date:
    """The stop leaves this plan for the plan of `target_day` (the same row, so its id holds);
    this plan keeps a line saying where it went, and a regeneration here leaves the site out."""
    today = _bureau_today(policy)
    target = _plan_for_move(target_day, actor, today, calendar, _plan_parks(plan))
    if site.park_id not in (_plan_parks(target) or [site.park_id]):
        raise ServiceError(f"the plan of {target_day.isoformat()} does not cover the park of {site.name}", ("day",))
    clash = db.session.execute(sa.select(PlanStop.id).where(PlanStop.plan_id == target.id,
                                                            PlanStop.site_id == stop.site_id)).scalar()
    if clash is not None:
        raise Conflict(f"the plan of {target_day.isoformat()} already has a stop at {site.name} (stop {clash}); "
                       "move or lock that one instead", allowed_next=["edit"])
    route = None
    if changes.get("route_id") is not None:
        route = db.session.execute(sa.select(Route).where(Route.id == changes["route_id"],
                                                          Route.plan_id == target.id)).scalar()
        if route is None:
            raise ServiceError(f"the plan of {target_day.isoformat()} has no route {changes['route_id']}", ("route_id",))
        _check_team_for_site(route, site, target_day, calendar)
        order = insert_at(_route_order(route), stop, changes.get("seq"))
        _check_day_length(route, order, policy, office, _team_names(route))
    marker = PlanStop(plan_id=plan.id, site_id=stop.site_id, kind=stop.kind, reasons=list(stop.reasons or []),
                      priority=stop.priority, latest_date=stop.latest_date, order_id=stop.order_id,
                      draw_id=stop.draw_id, case_request_id=stop.case_request_id, status="not_scheduled",
                      not_scheduled_reason=f"moved_to_day:{target_day.isoformat()}", locked=False)
    db.session.add(marker)
    stop.plan_id = target.id
    _set_edit(plan, "moved_out", stop.site_id, target_day.isoformat())
    _set_edit(plan, "moved_in", stop.site_id, None)
    _set_edit(target, "moved_in", stop.site_id, plan.day.isoformat())
    _set_edit(target, "moved_out", stop.site_id, None)
    if route is not None:
        # A scheduler put it on that team's day: locked, so generating that day keeps it there.
        stop.route_id, stop.status, stop.not_scheduled_reason, stop.locked = route.id, "planned", "", True
        db.session.flush()
        _retime(target, route, order, policy, office)
    else:
        stop.route_id, stop.seq, stop.eta_min, stop.locked = None, None, None, False
        stop.status, stop.not_scheduled_reason = "not_scheduled", "moved_here"
    # A marker left on the target day by an earlier move the other way is now void.
    db.session.execute(sa.delete(PlanStop).where(
        PlanStop.plan_id == target.id, PlanStop.site_id == stop.site_id, PlanStop.id != stop.id,
        PlanStop.not_scheduled_reason.startswith("moved_to_day:")))
    return target_day


# --- publishing -----------------------------------------------------------------------


def publish(day: dt.date, actor: User | None) -> Plan:
    _lock_days(day)
    plan = _plan_row(day, lock=True)
    if plan is None:
        load(day)
    _check_covers(actor, plan)
    if plan.status == "published":
        raise Conflict(f"the plan of {day.isoformat()} is published already", allowed_next=["unpublish"])
    _version, policy = policy_in_force()
    if day < _bureau_today(policy):
        raise Conflict(f"{day.isoformat()} has passed; a plan is published for today or a later day", allowed_next=[])
    if not db.session.execute(sa.select(Route.id).where(Route.plan_id == plan.id)).first():
        raise Conflict(f"the plan of {day.isoformat()} has no route yet; generate it first", allowed_next=["regenerate"])
    plan.status = "published"
    plan.published_at = utcnow()
    routes = db.session.execute(sa.select(sa.func.count(Route.id)).where(Route.plan_id == plan.id)).scalar_one()
    stops = db.session.execute(sa.select(sa.func.count(PlanStop.id)).where(
        PlanStop.plan_id == plan.id, PlanStop.route_id.is_not(None))).scalar_one()
    audit.record("plan.publish", "plan", plan.id, {"day": day.isoformat(), "routes": routes, "stops": stops},
                 actor.id if actor else None)
    webhooks.emit("plan.published", plan=plan, routes=routes, stops=stops)
    db.session.commit()
    return plan


def unpublish(day: dt.date, actor: User | None) -> Plan:
    _lock_days(day)
    plan = _plan_row(day, lock=True)
    if plan is None:
        load(day)
    _check_covers(actor, plan)
    if plan.status != "published":
        raise Conflict(f"the plan of {day.isoformat()} is not published", allowed_next=["publish"])
    visited = db.session.execute(sa.select(sa.func.count(PlanStop.id)).where(
        PlanStop.plan_id == plan.id, PlanStop.visit_id.is_not(None))).scalar_one()
    if visited:
        raise Conflict(f"{visited} stop(s) of the plan of {day.isoformat()} were visited already: the teams are out "
                       "working it, so it stays published", allowed_next=[])
    plan.status = "draft"
    plan.published_at = None
    audit.record("plan.unpublish", "plan", plan.id, {"day": day.isoformat()}, actor.id if actor else None)
    db.session.commit()
    return plan


# --- the evening job ------------------------------------------------------------------


def next_working_day(now: dt.datetime | None = None) -> dt.date:
    """The working day after the bureau's today: the day the evening plans."""
    with read_only():
        _version, policy = policy_in_force()
        calendar = work_calendar()
        db.session.commit()
    return calendar.next_working_day(local_date(now or utcnow(), policy["timezone"]))


def plan_next_day(now: dt.datetime | None = None) -> dict:
    """The scheduler's evening job: the plan of the next working day for every park. A
    published plan is left alone; a draft is made again (its locked stops kept) only when
    what it is made from changed, so a second run changes nothing."""
    day = next_working_day(now)
    existing = _plan_row(day)
    if existing is not None and existing.status == "published":
        db.session.commit()
        return {"day": day.isoformat(), "result": "published_kept", "plan_id": existing.id}
    db.session.commit()
    if not _all_parks():
        return {"day": day.isoformat(), "result": "no_parks"}
    answer = generate(day, None, park_ids=None, only_if_changed=True)
    stops = db.session.execute(sa.select(sa.func.count(PlanStop.id)).where(
        PlanStop.plan_id == answer["plan_id"], PlanStop.route_id.is_not(None))).scalar_one()
    db.session.commit()
    return {"day": day.isoformat(), "result": "generated" if answer["changed"] else "unchanged",
            "plan_id": answer["plan_id"], "stops": stops}


__all__ = ["generate", "read", "describe", "edit_stop", "publish", "unpublish", "plan_next_day", "reason_words",
           "EXTRA_REASONS", "PLANNERS", "MAX_TEAMS"]

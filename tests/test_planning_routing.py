"""Routes for a day: the travel matrix, both solvers, and the plan's guarantees: inside the
working day, conflicts/leave/holidays never broken, the most urgent kept, nothing dropped
silently, the same plan from the same seed."""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.domain.geo import geodesic_m
from server.domain.planning.due import ReinspectionDue, SiteFacts, due_on
from server.domain.planning.plan import (
    NOT_SCHEDULED_REASONS, PlanningError, PlanSettings, make_plan, plan_problems,
)
from server.domain.planning.routing import (
    SOLVERS, HaversineMatrix, RoutingError, RoutingProblem, Travel, lexicographic_prizes, solve,
)
from server.domain.planning.teams import Officer, Team, form_teams
from tests.planning_helpers import CAL2026, OFFICE, POLICY, candidate, point

DAY = dt.date(2026, 3, 10)
WORKING_DAY_MIN = POLICY["working_day_hours"] * 60
# Short, iteration-bounded runs: deterministic and quick.
FAST = PlanSettings(iterations=300, time_limit_s=20)


def fast(solver: str) -> PlanSettings:
    return FAST if solver == "pyvrp" else PlanSettings(solver="ortools", time_limit_s=1.0)


def ring(n: int, km: float, first_id: int = 1, spread: float = 360.0) -> dict[int, tuple[float, float]]:
    return {first_id + k: point(k * spread / n, km) for k in range(n)}


def plan(candidates, teams, locations, settings=FAST, **kw):
    return make_plan(DAY, candidates, teams, OFFICE, locations, POLICY, CAL2026, settings=settings, **kw)


def accounted(p, candidates):
    """Every candidate once: on a route or not scheduled."""
    ids = [s.candidate.site_id for r in p.routes for s in r.stops] + [n.candidate.site_id for n in p.not_scheduled]
    assert sorted(ids) == sorted(c.site_id for c in candidates)
    assert all(n.reason in NOT_SCHEDULED_REASONS for n in p.not_scheduled)


# --- the travel matrix ----------------------------------------------------------------


def test_the_haversine_matrix_is_road_distance_at_road_speed():
    pts = [OFFICE, point(45, 5), point(200, 12)]
    t = HaversineMatrix.from_policy(POLICY).between(pts)
    assert t.distance_m.dtype == np.int64 and t.distance_m.shape == (3, 3)
    assert (np.diag(t.distance_m) == 0).all() and (t.distance_m == t.distance_m.T).all()
    straight = geodesic_m(*pts[0], *pts[2])
    assert t.distance_m[0, 2] == pytest.approx(straight * POLICY["road_factor"], rel=0.006)
    assert t.duration_s[0, 2] == pytest.approx(t.distance_m[0, 2] / (POLICY["road_speed_kmh"] / 3.6), abs=1)


def test_a_road_network_matrix_drops_in_behind_the_same_interface():
    class OneWayStreets:
        """Like a routing engine's table: going out is slow, coming back is quick."""
        name = "one-way"

        def between(self, points):
            base = HaversineMatrix().between(points)
            dur = base.duration_s.copy()
            dur[0, :] *= 3
            return Travel(base.distance_m, dur)

    locations = ring(3, 4)
    p = plan([candidate(i) for i in locations], [Team((1, 2))], locations, matrix=OneWayStreets())
    assert p.settings["matrix"] == "one-way" and p.inputs["matrix"] == "one-way"
    (route,) = p.routes
    first = route.stops[0]
    expected = OneWayStreets().between([OFFICE, locations[first.candidate.site_id]]).duration_s[0, 1] / 60
    assert first.arrive_min == pytest.approx(expected, abs=0.1)


# --- the working day and the most urgent ----------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_routes_respect_the_working_day_and_nothing_is_dropped_silently(solver):
    locations = ring(60, 6) | ring(20, 14, first_id=100)
    candidates = [candidate(i, priority=i % 3) for i in locations]
    p = plan(candidates, [Team((1, 2)), Team((3, 4))], locations, settings=fast(solver))
    accounted(p, candidates)
    assert p.not_scheduled and all(n.reason == "day_full" for n in p.not_scheduled)
    assert all(n.rolls_to == dt.date(2026, 3, 11) for n in p.not_scheduled)
    for route in p.routes:
        assert 0 < route.duration_min <= WORKING_DAY_MIN
        times = [(s.arrive_min, s.leave_min) for s in route.stops]
        assert all(b - a == pytest.approx(POLICY["minutes_on_site"], abs=0.11) for a, b in times)
        assert all(t1[1] <= t2[0] for t1, t2 in zip(times, times[1:]))
        assert [s.seq for s in route.stops] == list(range(1, len(route.stops) + 1))
        assert route.distance_km >= sum(s.travel_km for s in route.stops)
    assert plan_problems(p, candidates, WORKING_DAY_MIN) == []


@pytest.mark.parametrize("solver", SOLVERS)
def test_when_the_day_is_full_the_most_urgent_are_kept(solver):
    # 40 routine visits next door, 8 urgent ones 12 km out: one team cannot do them all,
    # and the nearby ones would make a shorter day.
    locations = ring(40, 1.5) | ring(8, 12, first_id=100, spread=60)
    candidates = [candidate(i, priority=0) for i in range(1, 41)]
    candidates += [candidate(i, priority=4, kind="reinspection", latest=DAY) for i in range(100, 108)]
    p = plan(candidates, [Team((1, 2))], locations, settings=fast(solver))
    accounted(p, candidates)
    kept = {s.candidate.site_id for s in p.routes[0].stops}
    assert set(range(100, 108)) <= kept
    assert len(kept) > 8  # and the rest of the day is filled
    late = [n for n in p.not_scheduled]
    assert late and all(n.candidate.priority == 0 and not n.late for n in late)


def test_a_reinspection_due_tomorrow_is_planned_tomorrow_whatever_the_budget():
    tomorrow = dt.date(2026, 3, 11)
    far = 200
    sites = [SiteFacts(i, risk_grade="very_high") for i in range(1, 41)]
    sites.append(SiteFacts(far, risk_grade="low"))
    order = ReinspectionDue(order_id=1, site_id=far, deadline=dt.date(2026, 3, 1), due=tomorrow)
    # The far site has had its one visit this year; the forty nearby are all due too.
    due = due_on(tomorrow, sites, CAL2026, POLICY, counted_visits={far: [dt.date(2026, 1, 6)]},
                 reinspections=[order])
    locations = ring(40, 2) | {far: point(300, 15)}
    p = make_plan(tomorrow, due.candidates, [Team((1, 2))], OFFICE, locations, POLICY, CAL2026, settings=FAST)
    accounted(p, due.candidates)
    stops = {s.candidate.site_id: s for s in p.routes[0].stops}
    assert far in stops and stops[far].candidate.order_ids == (1,)
    assert len(p.not_scheduled) > 0  # the day was full: routine visits rolled instead


def test_a_site_too_far_for_a_day_is_reported_not_routed():
    locations = {1: point(90, 3), 2: point(90, 130)}  # 130 km out: over 8 h there and back at 30 km/h
    candidates = [candidate(1), candidate(2, priority=4)]
    p = plan(candidates, [Team((1, 2))], locations)
    (n,) = p.not_scheduled
    assert (n.candidate.site_id, n.reason) == (2, "beyond_working_day")
    assert n.words("en").startswith("going there and back") and n.words("zh")


# --- conflicts, leave, holidays -------------------------------------------------------


def test_no_plan_sends_a_team_to_a_site_a_member_declared_a_conflict_with():
    locations = ring(30, 3)
    staff = [Officer(1, certificate_no="A1", certificate_expires=dt.date(2027, 1, 1), conflicts=set(range(1, 16))),
             Officer(2, certificate_no="A2", certificate_expires=dt.date(2027, 1, 1)),
             Officer(3, certificate_no="A3", certificate_expires=dt.date(2027, 1, 1)),
             Officer(4, certificate_no="A4", certificate_expires=dt.date(2027, 1, 1)),
             Officer(5, auxiliary=True, conflicts={16, 17})]
    teams = form_teams(DAY, staff, CAL2026, seed=3).teams
    assert len(teams) == 2
    candidates = [candidate(i) for i in locations]
    for solver in SOLVERS:
        p = plan(candidates, teams, locations, settings=fast(solver))
        accounted(p, candidates)
        for route in p.routes:
            for stop in route.stops:
                assert route.team.may_visit(stop.candidate.site_id)
        assert plan_problems(p, candidates, WORKING_DAY_MIN) == []


def test_a_site_every_team_is_in_conflict_with_is_reported():
    locations = ring(3, 3)
    teams = [Team((1, 2), conflicts=frozenset({2})), Team((3, 4), conflicts=frozenset({2, 3}))]
    p = plan([candidate(i) for i in locations], teams, locations)
    assert [(n.candidate.site_id, n.reason) for n in p.not_scheduled] == [(2, "conflict_every_team")]
    routes = {r.team.lead_id: [s.candidate.site_id for s in r.stops] for r in p.routes}
    assert 3 not in routes[3]


def test_no_plan_uses_anyone_on_leave_or_works_on_a_holiday():
    locations = ring(10, 3)
    candidates = [candidate(i) for i in locations]
    leave = ((DAY, DAY),)
    staff = [Officer(i, certificate_no=f"B{i}", certificate_expires=dt.date(2027, 1, 1),
                     leave=leave if i in (2, 3) else ()) for i in range(1, 7)]
    teams = form_teams(DAY, staff, CAL2026).teams
    p = plan(candidates, teams, locations)
    on_routes = {m for r in p.routes for m in r.team.member_ids}
    assert on_routes and not on_routes & {2, 3}
    holiday = dt.date(2026, 10, 2)
    teams = form_teams(holiday, staff, CAL2026).teams
    p = make_plan(holiday, candidates, teams, OFFICE, locations, POLICY, CAL2026, settings=FAST)
    assert p.routes == () and {n.reason for n in p.not_scheduled} == {"not_working_day"}
    assert p.not_scheduled[0].rolls_to == dt.date(2026, 10, 8)  # the first working day after National Day


def test_a_day_without_teams_lists_every_candidate_as_not_scheduled():
    locations = ring(4, 3)
    candidates = [candidate(i, priority=4 if i == 1 else 0, latest=DAY if i == 1 else None) for i in locations]
    p = plan(candidates, [], locations)
    assert {n.reason for n in p.not_scheduled} == {"no_team"}
    assert p.not_scheduled[0].candidate.site_id == 1 and p.not_scheduled[0].late


# --- locks and the soft rule ----------------------------------------------------------


def test_a_locked_stop_stays_with_its_team_and_a_lock_to_an_absent_team_is_reported():
    locations = ring(12, 3)
    candidates = [candidate(i) for i in locations]
    teams = [Team((1, 2)), Team((3, 4))]
    p = plan(candidates, teams, locations, locked={5: 3, 6: 3, 7: 1, 8: 99})
    routes = {r.team.lead_id: {s.candidate.site_id for s in r.stops} for r in p.routes}
    assert {5, 6} <= routes[3] and 7 in routes[1]
    assert [(n.candidate.site_id, n.reason) for n in p.not_scheduled] == [(8, "locked_team_absent")]


def test_the_soft_rule_sends_another_pair_when_it_costs_nothing():
    locations = {1: point(0, 3)}
    teams = [Team((1, 2)), Team((3, 4))]
    for last in ({1, 2}, {3, 4}):
        p = plan([candidate(1)], teams, locations, last_pairs={1: frozenset(last)})
        (route,) = [r for r in p.routes if r.stops]
        assert route.team.pair != frozenset(last) and not route.stops[0].repeats_pair


# --- determinism and the record -------------------------------------------------------


def test_the_same_seed_gives_the_same_plan_and_the_plan_records_how_it_was_made():
    locations = ring(50, 5) | ring(25, 11, first_id=100)
    candidates = [candidate(i, priority=i % 5) for i in locations]
    teams = [Team((1, 2)), Team((3, 4))]
    a = plan(candidates, teams, locations)
    b = plan(list(reversed(candidates)), teams, locations)

    def shape(p):
        return ([[s.candidate.site_id for s in r.stops] for r in p.routes],
                [(n.candidate.site_id, n.reason) for n in p.not_scheduled])

    assert shape(a) == shape(b)
    assert a.inputs_sha256 == b.inputs_sha256
    assert a.solver == "pyvrp" and a.settings["seed"] == 0 and a.settings["iterations"] == 300
    assert a.settings["solver_run"]["stopped_by_time"] is False
    assert a.seconds > 0 and a.inputs["teams"][0]["lead_id"] == 1
    moved = locations | {1: point(10, 20)}
    assert plan(candidates, teams, moved).inputs_sha256 != a.inputs_sha256


def test_bad_inputs_are_refused():
    locations = ring(2, 3)
    with pytest.raises(PlanningError, match="two candidates"):
        plan([candidate(1), candidate(1)], [Team((1, 2))], locations)
    with pytest.raises(PlanningError, match="on two teams"):
        plan([candidate(1)], [Team((1, 2)), Team((3, 2))], locations)
    with pytest.raises(RoutingError, match="unknown solver"):
        plan([candidate(1)], [Team((1, 2))], locations, settings=PlanSettings(solver="guess"))
    with pytest.raises(RoutingError, match="road factor"):
        HaversineMatrix(road_factor=0.5)


def test_a_plan_that_breaks_a_rule_is_named():
    locations = ring(3, 3)
    candidates = [candidate(i) for i in locations]
    p = plan(candidates, [Team((1, 2))], locations)
    team = p.routes[0].team
    conflicted = dataclasses.replace(p.routes[0], team=dataclasses.replace(team, conflicts=frozenset({1, 2, 3})))
    broken = dataclasses.replace(p, routes=(conflicted,), not_scheduled=p.not_scheduled + p.not_scheduled[:0])
    problems = plan_problems(broken, candidates, WORKING_DAY_MIN)
    assert any("declared conflict" in m for m in problems)
    assert any("appears 0 times" in m for m in plan_problems(p, candidates + [candidate(9)], WORKING_DAY_MIN))


# --- the solvers directly -------------------------------------------------------------


def test_lexicographic_prizes_put_one_urgent_stop_above_any_number_of_lesser_ones():
    t = HaversineMatrix().between([OFFICE] + list(ring(30, 5).values()))
    problem = RoutingProblem(t, tuple([1200] * 30), tuple([0] * 25 + [1] * 4 + [3]), 2, 8 * 3600)
    prizes = lexicographic_prizes(problem)
    assert prizes[29] > 25 * prizes[25] > 25 * 25 * prizes[0]
    assert prizes[0] > 2 * 8 * 3600 * 9  # more than both teams could drive all day


def test_an_empty_day_and_a_stop_no_team_may_visit():
    t = HaversineMatrix().between([OFFICE, point(0, 2), point(90, 2)])
    problem = RoutingProblem(t, (1200, 1200), (0, 0), 1, 8 * 3600, forbidden=(frozenset({1}),))
    for solver in SOLVERS:
        r = solve(problem, solver, time_limit_s=1, iterations=100)
        assert r.routes == ((0,),) and r.dropped == (1,)
    empty = RoutingProblem(Travel(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64)), (), (), 2, 3600)
    assert solve(empty).routes == ((), ())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), st.integers(1, 3), st.integers(5, 40))
def test_random_days_keep_every_hard_rule(seed, n_teams, n_sites):
    rng = np.random.default_rng(seed)
    locations = {i: point(float(rng.uniform(0, 360)), float(rng.uniform(0.5, 25))) for i in range(1, n_sites + 1)}
    candidates = [candidate(i, priority=int(rng.integers(0, 5))) for i in locations]
    teams = [Team((10 * k + 1, 10 * k + 2), conflicts=frozenset(int(x) for x in rng.integers(1, n_sites + 1, 3)))
             for k in range(n_teams)]
    p = plan(candidates, teams, locations, settings=PlanSettings(iterations=60, time_limit_s=20, seed=seed))
    accounted(p, candidates)
    assert plan_problems(p, candidates, WORKING_DAY_MIN) == []
    kept = [s.candidate.priority for r in p.routes for s in r.stops]
    for n in p.not_scheduled:
        if n.reason == "day_full" and kept:
            # Nothing left out for lack of time is more urgent than everything kept.
            assert n.candidate.priority <= max(kept)

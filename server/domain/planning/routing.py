"""A day's routes (DOMAIN.md section 5): each team's stops ordered to minimise travel from and
back to the bureau's office, inside the working day, with the most urgent visits kept when
not everything fits.

Two layers:

- `TravelMatrix` answers distances (metres) and travel times (seconds) between points. The
  product's `HaversineMatrix` is the great-circle distance times the policy's road factor at
  the policy's road speed; a real road-network matrix (an OSRM or Valhalla table) implements
  the same one method and drops in.
- `solve(problem, ...)` hands a solver-neutral `RoutingProblem` to a maintained
  vehicle-routing solver: PyVRP (the default, chosen by measurement: docs/planning.md) or
  Google OR-Tools, selectable by name. Nothing here is a hand-written routing heuristic.

The problem is prize-collecting: every stop is optional. The objective is lexicographic:
first the most urgent stops, level by level, then more stops, then fewer kilometres. No
number of less urgent stops, and no saving in kilometres, is worth one more urgent stop.
PyVRP reaches it in stages, one per priority level; OR-Tools by prizes that grow by
orders of magnitude per level (`lexicographic_prizes`). What a solver leaves out is
reported by the caller (plan.py) with its reason, never dropped silently.

Units: distances in whole metres, times in whole seconds, both int64, as both solvers want.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..geo import MEAN_RADIUS

SOLVERS = ("pyvrp", "ortools")
# Chosen by measurement on bench/planning.py (docs/planning.md, docs/performance.md).
DEFAULT_SOLVER = "pyvrp"
# The production limits: the planner answers a scheduler within seconds. PyVRP stops after
# a number of iterations, or earlier after a run of iterations without improvement (small
# days converge fast), both counted, so a plan is reproducible from its seed; the time
# limit is a safety net on a slow machine (a plan that hit it says so in its settings).
DEFAULT_TIME_LIMIT_S = 4.5
DEFAULT_ITERATIONS = 3000
DEFAULT_NO_IMPROVEMENT = 500

LonLat = tuple[float, float]


class RoutingError(ValueError):
    """A routing problem that cannot be solved as given, with what to change."""


# --- travel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Travel:
    """Distances (m) and travel times (s) between points, as square int64 arrays."""

    distance_m: np.ndarray
    duration_s: np.ndarray

    def __post_init__(self) -> None:
        d, t = self.distance_m, self.duration_s
        if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape != t.shape:
            raise RoutingError("a travel matrix must be square, with distances and times of the same shape")
        if (d < 0).any() or (t < 0).any():
            raise RoutingError("a travel matrix cannot hold negative distances or times")

    @property
    def size(self) -> int:
        return int(self.distance_m.shape[0])


class TravelMatrix(Protocol):
    """Where travel figures come from. `between(points)[i][j]` is the way from point i to point j."""

    name: str

    def between(self, points: Sequence[LonLat]) -> Travel: ...


@dataclass(frozen=True)
class HaversineMatrix:
    """Great-circle distance times a road factor, driven at a constant road speed.

    Roads are longer than the straight line: the factor (1.3 by default) is the usual
    ratio for a city grid. The matrix is symmetric and obeys the triangle inequality,
    which a real road network does only roughly; the solvers need neither.
    """

    road_factor: float = 1.3
    speed_kmh: float = 30.0
    name: str = "haversine"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.road_factor) and self.road_factor >= 1):
            raise RoutingError("the road factor must be a number of at least 1 (roads are never shorter "
                               "than the straight line)")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh > 0):
            raise RoutingError("the road speed must be a positive number of km/h")

    @classmethod
    def from_policy(cls, policy: dict) -> HaversineMatrix:
        return cls(road_factor=float(policy["road_factor"]), speed_kmh=float(policy["road_speed_kmh"]))

    def between(self, points: Sequence[LonLat]) -> Travel:
        if not points:
            raise RoutingError("a travel matrix needs at least one point")
        pts = np.asarray(points, dtype=float)
        lon, lat = np.radians(pts[:, 0]), np.radians(pts[:, 1])
        dlat = lat[:, None] - lat[None, :]
        dlon = lon[:, None] - lon[None, :]
        h = np.sin(dlat / 2) ** 2 + np.cos(lat)[:, None] * np.cos(lat)[None, :] * np.sin(dlon / 2) ** 2
        metres = 2 * MEAN_RADIUS * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))) * self.road_factor
        seconds = metres / (self.speed_kmh / 3.6)
        return Travel(np.rint(metres).astype(np.int64), np.rint(seconds).astype(np.int64))


# --- the problem and its answer -------------------------------------------------------


@dataclass(frozen=True)
class RoutingProblem:
    """One day's routing, solver-neutral.

    Point 0 of `travel` is the office; point i + 1 is stop i. Vehicles are teams: vehicle v
    may not visit the stops in `forbidden[v]` (a declared conflict, or a stop locked to
    another team), and visiting a stop in `discouraged[v]` costs `discouraged_m` extra metres
    (the soft rule: not the same pair at the same enterprise twice running).
    """

    travel: Travel
    service_s: tuple[int, ...]
    priority: tuple[int, ...]
    vehicles: int
    shift_s: int
    forbidden: tuple[frozenset[int], ...] = ()
    discouraged: tuple[frozenset[int], ...] = ()
    discouraged_m: int = 2000

    def __post_init__(self) -> None:
        n = len(self.service_s)
        if self.travel.size != n + 1:
            raise RoutingError(f"the travel matrix has {self.travel.size} points; "
                               f"the office and {n} stops need {n + 1}")
        if len(self.priority) != n:
            raise RoutingError("every stop needs a priority")
        if any(s < 0 for s in self.service_s):
            raise RoutingError("time on site cannot be negative")
        if self.vehicles < 1:
            raise RoutingError("routing needs at least one team")
        if self.shift_s <= 0:
            raise RoutingError("the working day must be longer than zero")
        if not self.forbidden:
            object.__setattr__(self, "forbidden", tuple(frozenset() for _ in range(self.vehicles)))
        if not self.discouraged:
            object.__setattr__(self, "discouraged", tuple(frozenset() for _ in range(self.vehicles)))
        if len(self.forbidden) != self.vehicles or len(self.discouraged) != self.vehicles:
            raise RoutingError("forbidden and discouraged stops are given per team")
        for sets in (self.forbidden, self.discouraged):
            for s in sets:
                if any(not 0 <= i < n for i in s):
                    raise RoutingError("a forbidden or discouraged stop is not one of the stops")

    @property
    def stops(self) -> int:
        return len(self.service_s)

    def prizes(self) -> list[int]:
        return lexicographic_prizes(self)

    def profiles(self) -> tuple[list[tuple[frozenset[int], frozenset[int]]], list[int]]:
        """The distinct (forbidden, discouraged) pairs and each vehicle's index into them.

        Teams without restrictions share one travel matrix: a solver then holds one copy,
        not one per team.
        """
        kinds: list[tuple[frozenset[int], frozenset[int]]] = []
        of_vehicle = []
        for v in range(self.vehicles):
            key = (self.forbidden[v], self.discouraged[v])
            if key not in kinds:
                kinds.append(key)
            of_vehicle.append(kinds.index(key))
        return kinds, of_vehicle

    def matrices(self, profile: tuple[frozenset[int], frozenset[int]]) -> tuple[np.ndarray, np.ndarray]:
        """The distance (cost) and time matrices one profile drives on.

        A forbidden stop cannot be reached inside the working day; a discouraged one costs
        extra. Only arcs into the stop change, so leaving it is as before.
        """
        forbidden, discouraged = profile
        dist, dur = self.travel.distance_m, self.travel.duration_s
        if discouraged:
            dist = dist.copy()
            cols = [i + 1 for i in sorted(discouraged)]
            dist[:, cols] += self.discouraged_m
            dist[cols, cols] = 0  # staying put costs nothing (the solvers require a zero diagonal)
        if forbidden:
            dur = dur.copy()
            cols = [i + 1 for i in sorted(forbidden)]
            dur[:, cols] = self.shift_s + 1
            dur[cols, cols] = 0
        return dist, dur


@dataclass(frozen=True)
class RoutingResult:
    """Stop indices per vehicle, in visiting order; the stops left out; how it was solved."""

    routes: tuple[tuple[int, ...], ...]
    dropped: tuple[int, ...]
    solver: str
    seconds: float
    settings: dict = field(default_factory=dict)


def lexicographic_prizes(problem: RoutingProblem) -> list[int]:
    """A prize per stop such that urgency is strictly lexicographic (the OR-Tools formulation).

    The least urgent level is worth more than all teams can drive in a day, so one more stop
    always beats any saving in distance. Leaving out one stop frees room for at most K
    others (K stops fit in a team's day), so each next level is worth K + 1 times the one
    below plus that distance: giving up an urgent stop never buys back enough lesser ones.
    """
    n = problem.stops
    if n == 0:
        return []
    levels = sorted(set(problem.priority))
    bound = _distance_bound(problem)
    per_route = _stops_per_day(problem)
    worth = [bound]
    for _ in levels[1:]:
        worth.append(worth[-1] * (per_route + 1) + bound)
    # The solver adds prizes in int64: a sum that could overflow is refused rather than wrapped.
    if worth[-1] * n >= 2**62:
        raise RoutingError(f"{len(levels)} priority levels over {n} stops are too many to keep strictly in "
                           "order; use fewer priority levels")
    level_worth = dict(zip(levels, worth))
    return [level_worth[p] for p in problem.priority]


def _stops_per_day(problem: RoutingProblem) -> int:
    """At most this many stops fit in one team's day."""
    shortest = min(problem.service_s) if problem.service_s else 0
    return problem.stops if shortest <= 0 else min(problem.stops, problem.shift_s // shortest)


def _distance_bound(problem: RoutingProblem) -> int:
    """More than all teams together can drive in a day: one more visit always beats fewer metres.

    A team's day holds at most the whole shift of driving; at the fastest speed the matrix
    shows anywhere, that bounds its metres (and it drives at least out and back).
    """
    dist, dur = problem.travel.distance_m, problem.travel.duration_s
    moving = dur > 0
    fastest = float((dist[moving] / dur[moving]).max()) if moving.any() else 0.0
    longest = int(dist.max())
    per_team = max(2 * longest, math.ceil(fastest * problem.shift_s)) + _stops_per_day(problem) * problem.discouraged_m
    return problem.vehicles * per_team + 1


# --- the solvers ----------------------------------------------------------------------


def solve(problem: RoutingProblem, solver: str = DEFAULT_SOLVER, *, seed: int = 0,
          time_limit_s: float = DEFAULT_TIME_LIMIT_S, iterations: int | None = DEFAULT_ITERATIONS,
          no_improvement: int | None = DEFAULT_NO_IMPROVEMENT) -> RoutingResult:
    """Routes for `problem` from the named solver.

    `iterations` (PyVRP only) stops the search after that many iterations, and
    `no_improvement` after that many in a row without a better answer, which makes the
    answer a function of the seed alone; None for both searches until the time limit.
    OR-Tools always stops at the time limit.
    """
    if solver not in SOLVERS:
        raise RoutingError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise RoutingError("the time limit must be a positive number of seconds")
    if problem.stops == 0:
        return RoutingResult(tuple(() for _ in range(problem.vehicles)), (), solver, 0.0,
                             {"seed": seed, "time_limit_s": time_limit_s})
    started = time.perf_counter()
    if solver == "pyvrp":
        routes, settings = _solve_pyvrp(problem, seed, time_limit_s, iterations, no_improvement)
    else:
        routes, settings = _solve_ortools(problem, seed, time_limit_s)
    seconds = time.perf_counter() - started
    visited = {i for r in routes for i in r}
    dropped = tuple(i for i in range(problem.stops) if i not in visited)
    return RoutingResult(tuple(tuple(r) for r in routes), dropped, solver, seconds, settings)


def _solve_pyvrp(problem: RoutingProblem, seed: int, time_limit_s: float, iterations: int | None,
                 no_improvement: int | None) -> tuple[list[list[int]], dict]:
    """PyVRP, one stage per priority level, most urgent first.

    PyVRP keeps the working day by a penalty on lateness that it tunes as it searches, so
    prizes many orders of magnitude apart (the lexicographic prizes OR-Tools takes) swamp
    that penalty and the search stops finding feasible days. Stages keep every prize on
    the scale of kilometres instead: each level is added to what the levels above kept,
    which stays required, and the previous stage's routes are the starting solution. The
    order of urgency is then kept by construction, not by the size of a number.
    """
    levels = sorted(set(problem.priority), reverse=True)
    n = problem.stops
    kept: list[list[int]] = [[] for _ in range(problem.vehicles)]
    stages = []
    started = time.perf_counter()
    used_iterations = 0
    for k, level in enumerate(levels):
        last = k == len(levels) - 1
        held = {i for r in kept for i in r}
        members = [i for i in range(n) if problem.priority[i] == level or i in held]
        # A level above the last only decides which of its stops fit; it stops as soon as
        # all do (the usual case) and the last stage orders everything. Iterations (or,
        # without an iteration limit, seconds) are shared out, and what is left goes to
        # the last stage. With iterations, the time limit is a safety net over all stages
        # together, not a share, so a busy machine does not cut a stage short.
        share = 1.0 if last else len(members) / (2 * n)
        remaining = time_limit_s - (time.perf_counter() - started)
        budget = max(0.05, remaining if iterations is not None else remaining * share)
        stage_iterations = None
        if iterations is not None:
            stage_iterations = max(1, iterations - used_iterations if last else round(iterations * share))
        kept, info = _pyvrp_stage(problem, members, kept, seed, budget, stage_iterations, no_improvement,
                                  until_all_fit=not last)
        used_iterations += info["iterations_run"]
        stages.append({"priority": level, "stops": len(members), **info})
    settings = {"seed": seed, "time_limit_s": time_limit_s, "iterations": iterations,
                "no_improvement": no_improvement, "stages": stages, "iterations_run": used_iterations,
                "stopped_by_time": any(s["stopped_by_time"] for s in stages)}
    return kept, settings


def _pyvrp_stage(problem: RoutingProblem, members: list[int], kept: list[list[int]], seed: int,
                 time_limit_s: float, iterations: int | None, no_improvement: int | None,
                 until_all_fit: bool) -> tuple[list[list[int]], dict]:
    import pyvrp
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.PenaltyManager import PenaltyParams
    from pyvrp.solve import SolveParams
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, NoImprovement

    required = {i for r in kept for i in r}
    prize = _distance_bound(problem)
    points = [0] + [i + 1 for i in members]
    index = {stop: k for k, stop in enumerate(members)}
    profiles, of_vehicle = problem.profiles()
    locations = [pyvrp.Location(x=0, y=0) for _ in points]
    clients = [pyvrp.Client(location=k + 1, service_duration=int(problem.service_s[i]),
                            prize=0 if i in required else prize, required=i in required)
               for k, i in enumerate(members)]
    vehicle_types = [pyvrp.VehicleType(num_available=1, start_depot=0, end_depot=0, tw_early=0,
                                       tw_late=problem.shift_s, shift_duration=problem.shift_s,
                                       profile=of_vehicle[v], name=str(v))
                     for v in range(problem.vehicles)]
    grid = np.ix_(points, points)
    mats = [problem.matrices(p) for p in profiles]
    data = pyvrp.ProblemData(locations, clients, [pyvrp.Depot(location=0)], vehicle_types,
                             [np.ascontiguousarray(m[0][grid]) for m in mats],
                             [np.ascontiguousarray(m[1][grid]) for m in mats])
    initial = None
    if required:
        initial = pyvrp.Solution(data, [pyvrp.Route(data, [index[i] for i in r], v)
                                        for v, r in enumerate(kept) if r])
    clock = _Clock(MaxRuntime(time_limit_s))
    criteria = [clock]
    if iterations is not None:
        criteria.append(MaxIterations(iterations))
    if no_improvement is not None:
        criteria.append(NoImprovement(no_improvement))
    if until_all_fit:
        # The prize exceeds any day's distance, so a cost below it means nothing is left out.
        criteria.append(lambda best_cost: best_cost < prize)
    # Lateness is penalised per second; capped at the prize, a second late can never pay
    # for a visit, so the search is steered back to days that end on time (the default cap
    # suits distances of a few hundred units, not metres).
    params = SolveParams(penalty=PenaltyParams(max_penalty=float(prize)))
    with warnings.catch_warnings():
        # PyVRP warns when its penalty sits at the cap; on a full day that is expected (most
        # moves overrun the day), and the answer is checked for feasibility below.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(data, MultipleCriteria(criteria), seed=seed, collect_stats=False, display=False,
                             initial_solution=initial, params=params)
    best = result.best
    if not best.is_feasible():
        # Only reachable when no feasible day was found at all: keep what the stage above kept.
        return kept, {"iterations_run": int(result.num_iterations), "stopped_by_time": clock.fired,
                      "feasible": False}
    routes: list[list[int]] = [[] for _ in range(problem.vehicles)]
    for route in best.routes():
        # Client activities are numbered among the stage's clients, in `members` order.
        routes[route.vehicle_type()] = [members[a.idx] for a in route.schedule() if a.is_client()]
    return routes, {"iterations_run": int(result.num_iterations), "stopped_by_time": clock.fired,
                    "feasible": True}


class _Clock:
    """A time limit that remembers whether it ended the search (then the answer depends on
    the machine's speed, not only on the seed)."""

    def __init__(self, limit):
        self.limit = limit
        self.fired = False

    def __call__(self, best_cost: int) -> bool:
        self.fired = self.fired or bool(self.limit(best_cost))
        return self.fired


def _solve_ortools(problem: RoutingProblem, seed: int, time_limit_s: float) -> tuple[list[list[int]], dict]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    prizes = problem.prizes()
    profiles, of_vehicle = problem.profiles()
    n, vehicles = problem.stops, problem.vehicles
    manager = pywrapcp.RoutingIndexManager(n + 1, vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    service = np.concatenate([[0], np.asarray(problem.service_s, dtype=np.int64)])
    # Node order equals point order (node 0 is the office), so matrices register as they are.
    base_dist, base_dur = problem.travel.distance_m, problem.travel.duration_s
    dist_cb = model.RegisterTransitMatrix(base_dist.tolist())
    time_cb = model.RegisterTransitMatrix((base_dur + service[:, None]).tolist())
    model.SetArcCostEvaluatorOfAllVehicles(dist_cb)
    # The working day counts travel and time on site; a route ends back at the office.
    model.AddDimension(time_cb, 0, problem.shift_s, True, "time")
    for k, (forbidden, discouraged) in enumerate(profiles):
        if not discouraged:
            continue
        dist, _ = problem.matrices((frozenset(), discouraged))
        cb = model.RegisterTransitMatrix(dist.tolist())
        for v in range(vehicles):
            if of_vehicle[v] == k:
                model.SetArcCostEvaluatorOfVehicle(cb, v)
    for i in range(n):
        index = manager.NodeToIndex(i + 1)
        model.AddDisjunction([index], int(prizes[i]))
        barred = [v for v in range(vehicles) if i in problem.forbidden[v]]
        if len(barred) == vehicles:
            model.ActiveVar(index).SetValue(0)
        elif barred:
            # The stop's vehicle variable loses the barred teams (-1, not visited, stays allowed).
            model.VehicleVar(index).RemoveValues(barred)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    solution = model.SolveWithParameters(params)
    routes: list[list[int]] = [[] for _ in range(vehicles)]
    if solution is not None:
        for v in range(vehicles):
            index = model.Start(v)
            while not model.IsEnd(index):
                node = manager.IndexToNode(index)
                if node != 0:
                    routes[v].append(node - 1)
                index = solution.Value(model.NextVar(index))
    settings = {"seed": seed, "time_limit_s": time_limit_s, "first_solution": "PARALLEL_CHEAPEST_INSERTION",
                "metaheuristic": "GUIDED_LOCAL_SEARCH", "feasible": solution is not None,
                "stopped_by_time": True}
    return routes, settings

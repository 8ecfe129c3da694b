"""Benchmark: the product's day planner against PyVRP and OR-Tools given 30 s each.

Seeded instances of 50, 200 and 1000 candidate sites (random points inside the demo city's
parks, server/data/demo_city.json) with 1, 4 and 8 teams starting and ending at the demo
office, a working day of 8 h and 20 min on site (the default policy), and a mix of
priorities like a real due list. For each instance it prints, side by side in one run:

- the product: `make_plan` with its default solver and production limits;
- PyVRP and OR-Tools, each given the reference time on the same instance;
- sites visited, total km and seconds of each, and the product's visits and km against
  the best reference (more visits, then fewer km).

Target (issue 5): for 200 candidates and 8 teams, the product's plan in at most 5 s, with
as many sites visited and at most 2% more km than the best reference.

    .venv/bin/python bench/planning.py            # full size (about 10 minutes)
    .venv/bin/python bench/planning.py --quick    # the 50-site instances, short limits (CI)
    .venv/bin/python bench/planning.py --solver ortools --sizes 200   # OR-Tools as the product would run it

It never asserts a time: it prints figures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shapely.geometry import Point, Polygon  # noqa: E402

from server.domain.planning.due import Candidate, Check  # noqa: E402
from server.domain.planning.plan import PlanSettings, make_plan  # noqa: E402
from server.domain.planning.routing import (  # noqa: E402
    DEFAULT_ITERATIONS, DEFAULT_NO_IMPROVEMENT, DEFAULT_SOLVER, DEFAULT_TIME_LIMIT_S, SOLVERS,
)
from server.domain.planning.teams import Team  # noqa: E402
from server.domain.policy import default_policy  # noqa: E402
from server.domain.workdays import WorkCalendar  # noqa: E402

DAY = dt.date(2026, 3, 10)  # a Tuesday, a working day
# Share of each priority (0 least urgent .. 4 due today) in a day's due list: mostly the
# budget, a few re-inspections and cases near their deadline.
PRIORITY_MIX = {0: 60, 1: 20, 2: 10, 3: 6, 4: 4}
KIND_OF = {0: "routine", 1: "routine", 2: "key", 3: "reinspection", 4: "reinspection"}


def city() -> tuple[tuple[float, float], list[Polygon]]:
    doc = json.loads((ROOT / "server" / "data" / "demo_city.json").read_text(encoding="utf-8"))
    office = (doc["office"]["lon"], doc["office"]["lat"])
    return office, [Polygon(p["boundary"]) for p in doc["parks"]]


def instance(n: int, teams: int, seed: int):
    """n candidates at random points in the parks, and `teams` teams without conflicts."""
    office, parks = city()
    rng = random.Random(f"planning-bench:{n}:{teams}:{seed}")
    weights = [p.area for p in parks]
    locations, candidates = {}, []
    levels, shares = zip(*PRIORITY_MIX.items())
    for site_id in range(1, n + 1):
        park = rng.choices(parks, weights)[0]
        x0, y0, x1, y1 = park.bounds
        while True:
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if park.contains(Point(lon, lat)):
                break
        locations[site_id] = (round(lon, 6), round(lat, 6))
        priority = rng.choices(levels, shares)[0]
        kind = KIND_OF[priority]
        check = Check(kind, site_id, DAY, DAY + dt.timedelta(days=7 if priority < 3 else 0), "bench")
        candidates.append(Candidate(site_id, kind, priority, check.latest, (check,)))
    team_list = [Team((1000 + 2 * k, 1001 + 2 * k)) for k in range(teams)]
    return office, locations, candidates, team_list


def run(n: int, teams: int, settings: PlanSettings, seed: int = 1):
    office, locations, candidates, team_list = instance(n, teams, seed)
    started, cpu = time.perf_counter(), time.process_time()
    plan = make_plan(DAY, candidates, team_list, office, locations, default_policy(), WorkCalendar(),
                     settings=settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    by_level = [0] * len(PRIORITY_MIX)
    for route in plan.routes:
        for stop in route.stops:
            by_level[stop.candidate.priority] += 1
    return {"visited": plan.stops, "km": plan.distance_km, "s": seconds, "cpu": cpu, "by_level": by_level[::-1],
            "by_time": plan.settings["solver_run"].get("stopped_by_time", False)}


def better(a: dict, b: dict) -> bool:
    """a beats b: more of the most urgent visits, level by level, then fewer km."""
    return (a["by_level"], -a["km"]) > (b["by_level"], -b["km"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the 50-site instances with short reference limits (CI)")
    ap.add_argument("--reference-seconds", type=float, default=None,
                    help="time given to each reference solver (default 30, or 3 with --quick)")
    ap.add_argument("--solver", choices=SOLVERS, default=DEFAULT_SOLVER,
                    help="run the product's planner with this solver at the production time limit "
                         "(to compare the solvers for the default)")
    ap.add_argument("--sizes", type=int, nargs="+", help="candidate counts to run (default 50 200 1000)")
    args = ap.parse_args(argv)
    sizes = args.sizes or ([50] if args.quick else [50, 200, 1000])
    ref_s = args.reference_seconds or (3.0 if args.quick else 30.0)
    product = PlanSettings(solver=args.solver)
    limits = (f"at most {DEFAULT_ITERATIONS} iterations ({DEFAULT_NO_IMPROVEMENT} without improvement end it), "
              if args.solver == "pyvrp" else "")
    print(f"product: {args.solver}, {limits}time limit {DEFAULT_TIME_LIMIT_S} s; "
          f"references: PyVRP and OR-Tools, {ref_s:g} s each")
    print("visits by priority are listed most urgent first (4..0)")
    ref = format(ref_s, "g") + " s"
    header = (f"{'sites':>5} {'teams':>5} | {'product':^46} | {'PyVRP ' + ref:^34} | {'OR-Tools ' + ref:^34} | "
              f"{'vs best':^16}")
    print(header)
    print(f"{'':>11} | {'visited':>7} {'km':>8} {'s':>5} {'cpu s':>5} {'by priority':>16} | {'visited':>7} {'km':>8} "
          f"{'s':>5} {'cpu s':>5} {'':>5} | {'visited':>7} {'km':>8} {'s':>5} {'cpu s':>5} {'':>5} | "
          f"{'visits':>6} {'km':>8}")
    for n in sizes:
        for teams in (1, 4, 8):
            mine = run(n, teams, product)
            pyvrp = run(n, teams, PlanSettings(solver="pyvrp", iterations=None, no_improvement=None,
                                               time_limit_s=ref_s))
            ortools = run(n, teams, PlanSettings(solver="ortools", time_limit_s=ref_s))
            best = pyvrp if better(pyvrp, ortools) else ortools
            km_ratio = mine["km"] / best["km"] if best["km"] else 1.0
            flag = "*" if mine["by_level"] >= best["by_level"] else " "
            print(f"{n:>5} {teams:>5} | {mine['visited']:>7} {mine['km']:>8.1f} {mine['s']:>5.1f} {mine['cpu']:>5.1f} "
                  f"{'/'.join(map(str, mine['by_level'])):>16} | "
                  f"{pyvrp['visited']:>7} {pyvrp['km']:>8.1f} {pyvrp['s']:>5.1f} {pyvrp['cpu']:>5.1f} "
                  f"{'<' if best is pyvrp else '':>5} | "
                  f"{ortools['visited']:>7} {ortools['km']:>8.1f} {ortools['s']:>5.1f} {ortools['cpu']:>5.1f} "
                  f"{'<' if best is ortools else '':>5} | "
                  f"{mine['visited'] - best['visited']:>+6d} {100 * (km_ratio - 1):>+7.1f}% {flag}"
                  f"{' (product stopped by its time limit)' if mine['by_time'] else ''}", flush=True)
    print("'<' marks the better reference; '*' marks a product plan whose visits, counted per priority from the "
          "most urgent down, are at least the better reference's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

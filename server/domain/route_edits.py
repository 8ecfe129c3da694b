"""A scheduler's edits to a day's routes, as pure rules (docs/planning.md, "Editing a plan").

The solver orders each team's day (server/domain/planning); a scheduler then moves a stop
to another team, reorders a route or locks a stop. Two questions follow, answered here
without a database:

- **How long is the day now?** `time_route` walks a route from the office through its
  stops and back, over the same travel matrix the planner used: arrival at each stop in
  minutes after the day starts, kilometres from the previous stop, the day's distance and
  duration. A route longer than the working day is refused by the caller, with the figures.
- **Where do locked stops go when the day is planned again?** A lock keeps a stop on its
  team's route (the planner sees to that) and in its place: `place_pinned` puts each locked
  stop back at the position it held and lets the solver's order fill the others around it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .planning.routing import LonLat, TravelMatrix

T = TypeVar("T")


@dataclass(frozen=True)
class TimedRoute:
    arrive_min: tuple[float, ...]  # at each stop, minutes after the day starts
    travel_km: tuple[float, ...]  # to each stop from the previous one (or the office)
    distance_km: float  # office, the stops, back to the office
    duration_min: float  # leaving the office to coming back

    def fits(self, working_day_min: float) -> bool:
        return self.duration_min <= working_day_min + 1e-6


def time_route(office: LonLat, points: Sequence[LonLat], matrix: TravelMatrix, minutes_on_site: float) -> TimedRoute:
    """The day of a team that leaves the office, visits `points` in order and comes back."""
    if not points:
        return TimedRoute((), (), 0.0, 0.0)
    travel = matrix.between([office, *points])
    service_s = int(round(float(minutes_on_site) * 60))
    clock_s = metres = 0
    here = 0
    arrive, legs = [], []
    for k in range(1, len(points) + 1):
        metres += int(travel.distance_m[here, k])
        clock_s += int(travel.duration_s[here, k])
        legs.append(round(int(travel.distance_m[here, k]) / 1000, 3))
        arrive.append(round(clock_s / 60, 1))
        clock_s += service_s
        here = k
    metres += int(travel.distance_m[here, 0])
    clock_s += int(travel.duration_s[here, 0])
    return TimedRoute(tuple(arrive), tuple(legs), round(metres / 1000, 3), round(clock_s / 60, 1))


def place_pinned(free: Sequence[T], pinned: Mapping[int, T]) -> list[T]:
    """`free` in its order, with each pinned item at its position (1 for the first).

    A position beyond the route's end puts the item last; two pins at one position keep the
    order of their positions' keys. Every item given comes out once.
    """
    total = len(free) + len(pinned)
    slots: list[list[T]] = [[] for _ in range(total)]
    for position in sorted(pinned):
        slot = min(max(int(position), 1), total) - 1
        slots[slot].append(pinned[position])
    out: list[T] = []
    rest = iter(free)
    for slot in slots:
        out.extend(slot)
        # a slot holds one stop: a pinned one, or the next free one
        if not slot:
            nxt = next(rest, None)
            if nxt is not None:
                out.append(nxt)
    out.extend(rest)
    return out


def insert_at(items: Sequence[T], item: T, position: int | None) -> list[T]:
    """`items` with `item` at `position` (1 for the first; None or beyond the end: last)."""
    out = [x for x in items if x != item]
    if position is None or position > len(out):
        out.append(item)
    else:
        out.insert(max(position, 1) - 1, item)
    return out

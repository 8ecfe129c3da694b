"""Teams for a day (DOMAIN.md sections 5 and 7).

A team is two certified officers with distinct certificate numbers valid on the day (one of
them the team lead, whose phone records the visit), plus at most a few auxiliary staff
(协管员), who are recorded but never count toward the two. Nobody on leave works, and
nobody works on a day the bureau's calendar says is not a working day.

Conflicts of interest (回避) are a property of the team: the union of its members' declared
sites. The routing never sends a team to one of them (`may_visit`), and `plan.py` checks the
result again. The soft rule, not the same pair at the same enterprise twice running, is a
preference the routing weighs (`repeats_pair`).

Who pairs with whom is decided by a seeded order (SHA-256 of the seed and the officer's id),
so the same seed and staff give the same teams, and no random-number library is involved.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..certificates import certified_on, normalised_number
from ..workdays import WorkCalendar

UNAVAILABLE_REASONS = (
    "not_working_day",  # the bureau's calendar: a weekend or a public holiday
    "inactive",  # the account is switched off
    "on_leave",
    "no_certificate",  # an officer without a certificate number cannot count toward two
    "certificate_expired",
    "not_drawn",  # a draw of inspectors was given and this officer was not drawn
    "no_partner",  # no second certified officer left to pair with
    "not_needed",  # more officers than the teams asked for
    "no_team",  # an auxiliary with no team to join
)


class TeamError(ValueError):
    """A team that breaks a rule; `problems` lists each, in words a scheduler can act on."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Officer:
    """A member of staff as team forming sees them on one day."""

    user_id: int
    name: str = ""
    certificate_no: str | None = None
    certificate_expires: dt.date | None = None
    auxiliary: bool = False
    active: bool = True
    leave: tuple[tuple[dt.date, dt.date], ...] = ()
    conflicts: frozenset[int] = frozenset()  # site ids declared (回避)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conflicts", frozenset(self.conflicts))
        object.__setattr__(self, "leave", tuple((a, b) for a, b in self.leave))
        for start, end in self.leave:
            if end < start:
                raise TeamError([f"a leave of user {self.user_id} ends ({end}) before it starts ({start})"])

    @classmethod
    def of(cls, user: Any, leave: Iterable[tuple[dt.date, dt.date]] = (), conflicts: Iterable[int] = ()) -> Officer:
        """From a User row, its Leave ranges and its ConflictDeclaration site ids."""
        return cls(user_id=user.id, name=user.name, certificate_no=user.certificate_no,
                   certificate_expires=user.certificate_expires, auxiliary=bool(user.auxiliary),
                   active=bool(user.active), leave=tuple(leave), conflicts=frozenset(conflicts))

    @property
    def certificate(self) -> str:
        """The certificate number as compared: blanks and case do not make two numbers distinct."""
        return normalised_number(self.certificate_no)

    def certified_on(self, day: dt.date) -> bool:
        """Counts toward the two on that day (auxiliary staff never do)."""
        return certified_on(self.auxiliary, self.certificate_no, self.certificate_expires, day)

    def on_leave(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.leave)


@dataclass(frozen=True)
class Team:
    """Two certified officers (the lead first) and any auxiliaries."""

    officer_ids: tuple[int, int]
    auxiliary_ids: tuple[int, ...] = ()
    conflicts: frozenset[int] = frozenset()

    @property
    def lead_id(self) -> int:
        return self.officer_ids[0]

    @property
    def member_ids(self) -> tuple[int, ...]:
        return self.officer_ids + self.auxiliary_ids

    @property
    def pair(self) -> frozenset[int]:
        return frozenset(self.officer_ids)

    def may_visit(self, site_id: int) -> bool:
        """False when any member declared a conflict of interest with the site."""
        return site_id not in self.conflicts

    def repeats_pair(self, site_id: int, last_pairs: Mapping[int, frozenset[int]]) -> bool:
        """True when this pair made the site's last visit (the soft rule prefers another)."""
        return last_pairs.get(site_id) == self.pair

    def as_dict(self) -> dict:
        return {"lead_id": self.lead_id, "officer_ids": list(self.officer_ids),
                "auxiliary_ids": list(self.auxiliary_ids)}


@dataclass(frozen=True)
class Unavailable:
    user_id: int
    reason: str


@dataclass(frozen=True)
class Staffing:
    """The day's teams and, for everyone not on one, why."""

    day: dt.date
    teams: tuple[Team, ...]
    unavailable: tuple[Unavailable, ...]


def why_unavailable(officer: Officer, day: dt.date, calendar: WorkCalendar) -> str | None:
    """Why this person cannot work in a team on the day, or None."""
    if not calendar.is_working_day(day):
        return "not_working_day"
    if not officer.active:
        return "inactive"
    if officer.on_leave(day):
        return "on_leave"
    if officer.auxiliary:
        return None
    if not officer.certificate:
        return "no_certificate"
    if not officer.certified_on(day):
        return "certificate_expired"
    return None


def team_problems(officer_ids: Sequence[int], auxiliary_ids: Sequence[int], staff: Mapping[int, Officer],
                  day: dt.date, calendar: WorkCalendar) -> list[str]:
    """Every rule a proposed team breaks on `day` (empty when it is a valid team)."""
    problems = []
    if not calendar.is_working_day(day):
        problems.append(f"{day.isoformat()} is not a working day in the bureau's calendar")
    if len(officer_ids) != 2:
        problems.append("a team has exactly two certified officers (auxiliary staff are added separately)")
    members = list(officer_ids) + list(auxiliary_ids)
    if len(set(members)) != len(members):
        problems.append("a person is listed twice in the team")
    for uid in members:
        if uid not in staff:
            problems.append(f"user {uid} is not known")
    if problems:
        return problems
    for uid in officer_ids:
        o = staff[uid]
        if o.auxiliary:
            problems.append(f"{o.name or uid} is auxiliary staff and never counts toward the two officers")
        elif not o.certificate:
            problems.append(f"{o.name or uid} has no law-enforcement certificate")
        elif not o.certified_on(day):
            problems.append(f"the certificate of {o.name or uid} is not valid on {day.isoformat()}")
    for uid in auxiliary_ids:
        if not staff[uid].auxiliary:
            problems.append(f"{staff[uid].name or uid} is an officer; list officers among the two")
    for uid in members:
        o = staff[uid]
        if not o.active:
            problems.append(f"the account of {o.name or uid} is switched off")
        if o.on_leave(day):
            problems.append(f"{o.name or uid} is on leave on {day.isoformat()}")
    a, b = (staff[uid] for uid in officer_ids)
    if a.certificate and a.certificate == b.certificate:
        problems.append("the two officers show the same certificate number; a team needs two distinct certificates")
    return problems


def make_team(officer_ids: Sequence[int], auxiliary_ids: Sequence[int], staff: Mapping[int, Officer],
              day: dt.date, calendar: WorkCalendar) -> Team:
    """A team a scheduler chose, checked; TeamError lists what is wrong."""
    problems = team_problems(officer_ids, auxiliary_ids, staff, day, calendar)
    if problems:
        raise TeamError(problems)
    members = list(officer_ids) + list(auxiliary_ids)
    conflicts = frozenset().union(*(staff[uid].conflicts for uid in members))
    return Team(tuple(officer_ids), tuple(auxiliary_ids), conflicts)


def _order(seed: int | str, user_id: int) -> str:
    return hashlib.sha256(f"{seed}:{user_id}".encode()).hexdigest()


def form_teams(day: dt.date, staff: Iterable[Officer], calendar: WorkCalendar, *, seed: int | str = 0,
               max_teams: int | None = None, drawn: Collection[int] | None = None,
               auxiliaries_per_team: int = 1) -> Staffing:
    """Pair the day's certified officers into teams and add auxiliaries.

    `drawn`, when given, limits officers to those drawn by lot (a draw of inspectors);
    auxiliary staff are not drawn. `max_teams` stops after that many teams.
    """
    people = {}
    for o in staff:
        if o.user_id in people:
            raise TeamError([f"user {o.user_id} is listed twice"])
        people[o.user_id] = o
    if max_teams is not None and max_teams < 0:
        raise TeamError(["the number of teams cannot be negative"])
    unavailable: list[Unavailable] = []
    officers, auxiliaries = [], []
    for uid in sorted(people):
        o = people[uid]
        why = why_unavailable(o, day, calendar)
        if why is None and drawn is not None and not o.auxiliary and uid not in drawn:
            why = "not_drawn"
        if why is not None:
            unavailable.append(Unavailable(uid, why))
        elif o.auxiliary:
            auxiliaries.append(o)
        else:
            officers.append(o)
    officers.sort(key=lambda o: (_order(seed, o.user_id), o.user_id))
    auxiliaries.sort(key=lambda o: (_order(seed, o.user_id), o.user_id))

    pairs: list[tuple[Officer, Officer]] = []
    waiting = list(officers)
    while waiting:
        first = waiting.pop(0)
        if max_teams is not None and len(pairs) >= max_teams:
            unavailable.append(Unavailable(first.user_id, "not_needed"))
            continue
        partner = next((o for o in waiting if o.certificate != first.certificate), None)
        if partner is None:
            unavailable.append(Unavailable(first.user_id, "no_partner"))
            continue
        waiting.remove(partner)
        pairs.append((first, partner))

    extra: list[list[Officer]] = [[] for _ in pairs]
    for k, aux in enumerate(auxiliaries):
        slot = k % len(pairs) if pairs else None
        if slot is None or len(extra[slot]) >= auxiliaries_per_team:
            unavailable.append(Unavailable(aux.user_id, "no_team"))
        else:
            extra[slot].append(aux)

    teams = []
    for (lead, second), aux in zip(pairs, extra):
        members = [lead, second, *aux]
        teams.append(Team((lead.user_id, second.user_id), tuple(a.user_id for a in aux),
                          frozenset().union(*(m.conflicts for m in members))))
    unavailable.sort(key=lambda u: u.user_id)
    return Staffing(day, tuple(teams), tuple(unavailable))

"""Teams for a day: two certified officers with distinct certificates valid on the day,
auxiliaries never counted, nobody on leave or on a holiday, conflicts carried by the team."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.teams import Officer, Team, TeamError, form_teams, make_team, team_problems
from tests.planning_helpers import CAL2026

DAY = dt.date(2026, 3, 10)  # a Tuesday
NEXT_YEAR = dt.date(2027, 1, 1)


def officer(uid, cert=None, expires=NEXT_YEAR, **kw):
    return Officer(uid, name=f"officer {uid}", certificate_no=f"32100{uid:04d}" if cert is None else cert,
                   certificate_expires=expires, **kw)


def aux(uid, **kw):
    return Officer(uid, name=f"auxiliary {uid}", auxiliary=True, **kw)


def reasons(staffing):
    return {u.user_id: u.reason for u in staffing.unavailable}


def test_an_auxiliary_never_makes_a_team_of_two():
    staffing = form_teams(DAY, [officer(1), aux(2), aux(3), aux(4)], CAL2026)
    assert staffing.teams == ()
    assert reasons(staffing) == {1: "no_partner", 2: "no_team", 3: "no_team", 4: "no_team"}
    # Even an auxiliary who holds a certificate number.
    staffing = form_teams(DAY, [officer(1), Officer(2, certificate_no="321009999", certificate_expires=NEXT_YEAR,
                                                    auxiliary=True)], CAL2026)
    assert staffing.teams == ()
    problems = team_problems([1, 2], [], {1: officer(1), 2: aux(2)}, DAY, CAL2026)
    assert problems == ["auxiliary 2 is auxiliary staff and never counts toward the two officers"]


def test_an_auxiliary_joins_as_a_third_member_and_is_not_counted():
    staffing = form_teams(DAY, [officer(1), officer(2), aux(3)], CAL2026)
    (team,) = staffing.teams
    assert sorted(team.officer_ids) == [1, 2] and team.auxiliary_ids == (3,)
    assert team.lead_id in (1, 2)


def test_an_expired_certificate_never_counts():
    staffing = form_teams(DAY, [officer(1), officer(2, expires=DAY - dt.timedelta(days=1))], CAL2026)
    assert staffing.teams == ()
    assert reasons(staffing) == {1: "no_partner", 2: "certificate_expired"}
    # Valid through the day it expires.
    assert len(form_teams(DAY, [officer(1), officer(2, expires=DAY)], CAL2026).teams) == 1
    # No expiry date on record is not a valid certificate either.
    assert reasons(form_teams(DAY, [officer(1), officer(2, expires=None)], CAL2026))[2] == "certificate_expired"
    with pytest.raises(TeamError, match="not valid on 2026-03-10"):
        make_team([1, 2], [], {1: officer(1), 2: officer(2, expires=DAY - dt.timedelta(days=1))}, DAY, CAL2026)


def test_two_officers_need_two_distinct_certificate_numbers():
    same = [officer(1, cert="32100 0001"), officer(2, cert="321000001")]  # one number typed twice
    staffing = form_teams(DAY, same, CAL2026)
    assert staffing.teams == ()
    with pytest.raises(TeamError, match="same certificate number"):
        make_team([1, 2], [], {o.user_id: o for o in same}, DAY, CAL2026)
    assert reasons(form_teams(DAY, [officer(1, cert="")], CAL2026)) == {1: "no_certificate"}


def test_nobody_on_leave_works():
    leave = ((DAY - dt.timedelta(days=2), DAY),)
    staffing = form_teams(DAY, [officer(1), officer(2), officer(3, leave=leave), aux(4, leave=leave)], CAL2026)
    (team,) = staffing.teams
    assert 3 not in team.member_ids and 4 not in team.member_ids
    assert reasons(staffing) == {3: "on_leave", 4: "on_leave"}
    # The day after the leave ends they are back.
    back = form_teams(DAY + dt.timedelta(days=1), [officer(1), officer(3, leave=leave)], CAL2026)
    assert len(back.teams) == 1
    with pytest.raises(TeamError, match="on leave"):
        make_team([1, 3], [], {1: officer(1), 3: officer(3, leave=leave)}, DAY, CAL2026)


@pytest.mark.parametrize("day", [dt.date(2026, 10, 1), dt.date(2026, 3, 14)], ids=["national-day", "saturday"])
def test_nobody_works_on_a_calendar_holiday_or_weekend(day):
    staffing = form_teams(day, [officer(1), officer(2), aux(3)], CAL2026)
    assert staffing.teams == ()
    assert set(reasons(staffing).values()) == {"not_working_day"}
    assert "not a working day" in team_problems([1, 2], [], {1: officer(1), 2: officer(2)}, day, CAL2026)[0]


def test_a_make_up_working_day_is_worked():
    assert len(form_teams(dt.date(2026, 1, 4), [officer(1), officer(2)], CAL2026).teams) == 1  # Sunday 调休


def test_a_team_carries_every_member_s_declared_conflicts():
    staff = [officer(1, conflicts={100}), officer(2), aux(3, conflicts={200})]
    (team,) = form_teams(DAY, staff, CAL2026).teams
    assert team.conflicts == {100, 200}
    assert not team.may_visit(100) and not team.may_visit(200) and team.may_visit(300)
    chosen = make_team([2, 1], [3], {o.user_id: o for o in staff}, DAY, CAL2026)
    assert chosen.lead_id == 2 and chosen.conflicts == {100, 200}


def test_the_same_seed_gives_the_same_teams_and_max_teams_is_kept():
    staff = [officer(i) for i in range(1, 11)]
    a = form_teams(DAY, staff, CAL2026, seed=7)
    assert a == form_teams(DAY, list(reversed(staff)), CAL2026, seed=7)
    assert len(a.teams) == 5
    other = [form_teams(DAY, staff, CAL2026, seed=s).teams for s in range(10)]
    assert len({tuple(t.officer_ids for t in teams) for teams in other}) > 1
    limited = form_teams(DAY, staff, CAL2026, seed=7, max_teams=2)
    assert len(limited.teams) == 2
    assert sorted(reasons(limited).values()) == ["not_needed"] * 6


def test_a_draw_of_inspectors_limits_who_is_teamed():
    staff = [officer(i) for i in range(1, 7)] + [aux(7)]
    staffing = form_teams(DAY, staff, CAL2026, drawn={2, 5})
    (team,) = staffing.teams
    assert sorted(team.officer_ids) == [2, 5] and team.auxiliary_ids == (7,)
    assert {u for u, r in reasons(staffing).items() if r == "not_drawn"} == {1, 3, 4, 6}


def test_the_soft_rule_knows_the_last_pair():
    team = Team((1, 2))
    assert team.repeats_pair(50, {50: frozenset({2, 1})})
    assert not team.repeats_pair(50, {50: frozenset({1, 3})}) and not team.repeats_pair(51, {})


def test_a_chosen_team_lists_every_problem():
    staff = {1: officer(1, active=False), 2: aux(2)}
    problems = team_problems([1, 2, 9], [], staff, DAY, CAL2026)
    assert problems == ["a team has exactly two certified officers (auxiliary staff are added separately)",
                        "user 9 is not known"]
    with pytest.raises(TeamError) as err:
        make_team([1, 2], [], staff, DAY, CAL2026)
    assert "auxiliary staff" in str(err.value) and "switched off" in str(err.value)


people = st.builds(
    lambda uid, cert, days, is_aux, leave, active: Officer(
        uid, certificate_no=None if cert is None else f"C{cert}",
        certificate_expires=None if days is None else DAY + dt.timedelta(days=days), auxiliary=is_aux,
        active=active,
        leave=() if leave is None else ((DAY + dt.timedelta(days=leave), DAY + dt.timedelta(days=leave + 2)),)),
    st.integers(1, 10**6), st.one_of(st.none(), st.integers(0, 8)), st.one_of(st.none(), st.integers(-3, 3)),
    st.booleans(), st.one_of(st.none(), st.integers(-4, 2)), st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(people, max_size=25, unique_by=lambda o: o.user_id), st.integers(0, 3), st.integers(0, 1000))
def test_teams_for_random_staff_are_always_valid(staff, per_team, seed):
    staffing = form_teams(DAY, staff, CAL2026, seed=seed, auxiliaries_per_team=per_team)
    by_id = {o.user_id: o for o in staff}
    placed = [m for t in staffing.teams for m in t.member_ids]
    assert len(placed) == len(set(placed))
    assert sorted(placed + [u.user_id for u in staffing.unavailable]) == sorted(by_id)
    for team in staffing.teams:
        assert team_problems(team.officer_ids, team.auxiliary_ids, by_id, DAY, CAL2026) == []
        a, b = (by_id[i] for i in team.officer_ids)
        assert a.certified_on(DAY) and b.certified_on(DAY) and a.certificate != b.certificate
        assert len(team.auxiliary_ids) <= per_team
        assert team.conflicts == frozenset().union(*(by_id[m].conflicts for m in team.member_ids))
    # Nobody who could have made a team is left without a partner.
    alone = [by_id[u.user_id] for u in staffing.unavailable if u.reason == "no_partner"]
    assert len({o.certificate for o in alone}) <= 1

"""What is due (DOMAIN.md section 5): the yearly budget and its spread, key objects each
quarter, no proactive visit for low-risk class-A sites, re-inspections and case visits
outside the budget, merging, priorities and latest working days."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.planning.due import (
    CaseVisit, DrawnVisit, DueError, ReinspectionDue, SiteFacts, budget_slot, due_on, quarter_of, yearly_budget,
)
from server.domain.workdays import WorkCalendar
from tests.planning_helpers import CAL2026, POLICY, days_of, simulate_year

D = dt.date.fromisoformat
WORST_HAZCHEM = SiteFacts(1, risk_grade="very_high", credit_class="D", is_hazchem=True, safety_std_grade="ungraded")


def test_the_worst_graded_hazchem_plant_is_planned_up_to_its_yearly_maximum_and_never_beyond():
    visits, counted = simulate_year([WORST_HAZCHEM])
    assert len(counted[1]) == POLICY["yearly_max_visits"]["hazchem_std_grade"]["ungraded"] == 12


def test_triggered_visits_do_not_use_up_the_cap_and_do_not_push_it_over():
    reinspections = [ReinspectionDue(10 + k, 1, D(f"2026-{m:02d}-10"), D(f"2026-{m:02d}-20"))
                     for k, m in enumerate((2, 5, 8, 11))]
    cases = [CaseVisit(20 + k, 1, "complaint", D(f"2026-{m:02d}-25"), D(f"2026-{m:02d}-15"))
             for k, m in enumerate((3, 6, 9))]
    drawn = [DrawnVisit(30, 1, D("2026-07-20"), D("2026-07-31"))]
    visits, counted = simulate_year([WORST_HAZCHEM], reinspections=reinspections, cases=cases, drawn=drawn)
    assert len(counted[1]) == 12  # the drawn visit counts, re-inspections and cases do not
    done = {o for _, c in visits[1] for o in c.order_ids}
    assert done == {10, 11, 12, 13}
    assert {r for _, c in visits[1] for r in c.case_request_ids} == {20, 21, 22}


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, 364), max_size=200), st.sampled_from(["1", "2", "3", "ungraded"]))
def test_whatever_days_the_planner_misses_the_cap_is_never_exceeded(missed, grade):
    site = SiteFacts(1, is_hazchem=True, safety_std_grade=grade)
    visits, counted = simulate_year([site], take=lambda day, c: day.timetuple().tm_yday - 1 not in missed)
    assert len(counted[1]) <= yearly_budget(site, POLICY)


@pytest.mark.parametrize("facts, expected", [
    (dict(risk_grade="low", credit_class="B"), 1),
    (dict(risk_grade="medium"), 2),
    (dict(risk_grade="high"), 4),
    (dict(risk_grade="very_high"), 6),
    (dict(is_hazchem=True, safety_std_grade="3"), 8),
    (dict(is_hazchem=True, safety_std_grade=None), 12),  # a plant not yet graded counts as ungraded
    (dict(risk_grade="low", credit_class="A"), 0),
])
def test_a_year_of_daily_planning_gives_each_grade_its_budget(facts, expected):
    site = SiteFacts(7, **facts)
    visits, counted = simulate_year([site])
    assert yearly_budget(site, POLICY) == expected
    assert len(counted[7]) == expected


def test_visits_are_spread_evenly_each_in_its_own_slice_of_the_year():
    site = SiteFacts(3, risk_grade="very_high")  # 6 a year: one every two months
    visits, counted = simulate_year([site])
    assert len(counted[3]) == 6
    for k, day in enumerate(counted[3]):
        start, end = budget_slot(2026, k, 6)
        assert start <= day <= end, f"visit {k + 1} on {day} is outside its slice {start}..{end}"


def test_a_key_object_is_visited_every_quarter_even_when_its_grade_allows_fewer():
    site = SiteFacts(4, is_hazchem=True, safety_std_grade="1")  # at most 2 a year by its grade
    visits, counted = simulate_year([site])
    quarters = {quarter_of(day)[0] for day in counted[4]}
    assert len(quarters) == 4
    assert len(counted[4]) == yearly_budget(site, POLICY) == 4


def test_a_key_object_behind_in_its_quarter_gets_a_key_check_before_the_quarter_ends():
    site = SiteFacts(5, risk_grade="low", is_key_polluter=True)
    # Visited in January only: by June the second quarter's check is open and urgent near its end.
    due = due_on(D("2026-06-29"), [site], CAL2026, POLICY, counted_visits={5: [D("2026-01-05")]})
    (c,) = due.candidates
    assert "key" in {ch.kind for ch in c.checks}
    assert c.latest == D("2026-06-30")
    assert c.priority >= 2


def test_a_low_risk_class_a_enterprise_gets_no_proactive_visit_but_a_complaint_triggers_one():
    site = SiteFacts(6, risk_grade="low", credit_class="A")
    visits, counted = simulate_year([site])
    assert visits[6] == []
    complaint = CaseVisit(99, 6, "complaint", D("2026-05-20"), D("2026-05-11"))
    visits, counted = simulate_year([site], cases=[complaint])
    assert [(day, c.kind) for day, c in visits[6]] == [(D("2026-05-11"), "case")]
    assert counted[6] == []


def test_a_low_risk_class_a_key_object_is_still_covered_every_quarter():
    site = SiteFacts(8, risk_grade="low", credit_class="A", is_major_hazard=True)
    visits, counted = simulate_year([site])
    assert len({quarter_of(d)[0] for d in counted[8]}) == 4


def test_a_reinspection_due_tomorrow_is_due_tomorrow_whatever_the_budget():
    today, tomorrow = D("2026-06-10"), D("2026-06-11")
    site = SiteFacts(9, risk_grade="low")  # 1 a year, already made
    order = ReinspectionDue(order_id=5, site_id=9, deadline=D("2026-06-01"), due=tomorrow)
    due = due_on(tomorrow, [site], CAL2026, POLICY, counted_visits={9: [D("2026-02-02")]}, reinspections=[order])
    (c,) = due.candidates
    assert (c.kind, c.latest, c.order_ids, c.counts_toward_budget) == ("reinspection", tomorrow, (5,), False)
    assert c.priority == 4  # the highest: due on the day
    # The day before it is already due and urgent, but not yet at its last day.
    (before,) = due_on(today, [site], CAL2026, POLICY, counted_visits={9: [D("2026-02-02")]},
                       reinspections=[order]).candidates
    assert before.priority == 3


def test_a_reinspection_is_not_due_before_the_correction_deadline_has_passed():
    site = SiteFacts(9, risk_grade="low", credit_class="A")
    order = ReinspectionDue(order_id=5, site_id=9, deadline=D("2026-06-10"), due=D("2026-06-24"))
    assert due_on(D("2026-06-10"), [site], CAL2026, POLICY, reinspections=[order]).candidates == ()
    (c,) = due_on(D("2026-06-11"), [site], CAL2026, POLICY, reinspections=[order]).candidates
    assert c.kind == "reinspection"


def test_latest_dates_are_working_days_of_the_bureau_calendar():
    site = SiteFacts(11, risk_grade="low", credit_class="A")
    sunday = D("2026-06-14")
    holiday = D("2026-10-05")  # National Day week
    due = due_on(D("2026-06-08"), [site], CAL2026, POLICY,
                 cases=[CaseVisit(1, 11, "alert", sunday, D("2026-06-08"))])
    assert due.candidates[0].latest == D("2026-06-12")  # the Friday before
    due = due_on(D("2026-09-28"), [site], CAL2026, POLICY,
                 reinspections=[ReinspectionDue(3, 11, D("2026-09-20"), holiday)])
    assert due.candidates[0].latest == D("2026-09-30")  # the last working day before the holiday


def test_checks_for_one_site_inside_the_window_become_one_visit():
    site = SiteFacts(12, risk_grade="medium")  # 2 a year: the second slice opens on 2 July
    day = D("2026-06-29")  # Monday; 2 July is 3 working days later, inside the 5-day window
    complaint = CaseVisit(40, 12, "complaint", D("2026-07-10"), D("2026-06-26"))
    due = due_on(day, [site], CAL2026, POLICY, counted_visits={12: [D("2026-01-05")]}, cases=[complaint])
    (c,) = due.candidates
    assert [ch.kind for ch in c.checks] == ["case", "routine"]  # ordered by latest date
    assert c.kind == "case" and c.counts_toward_budget
    assert {r["code"] for r in c.reasons} == {"budget", "complaint"}
    assert c.latest == D("2026-07-10")
    # Outside the window, the routine check stays for later: the complaint goes alone.
    earlier = CaseVisit(39, 12, "complaint", D("2026-06-19"), D("2026-06-12"))
    (alone,) = due_on(D("2026-06-15"), [site], CAL2026, POLICY, counted_visits={12: [D("2026-01-05")]},
                      cases=[earlier]).candidates
    assert [ch.kind for ch in alone.checks] == ["case"]


def test_open_checks_wait_for_a_reinspection_opening_inside_the_window_and_are_listed_meanwhile():
    site = SiteFacts(13, risk_grade="high")  # its first visit of the year is open until 1 April
    order = ReinspectionDue(order_id=7, site_id=13, deadline=D("2026-03-11"), due=D("2026-03-25"))
    day = D("2026-03-09")  # the re-inspection opens on the 12th, 3 working days later
    due = due_on(day, [site], CAL2026, POLICY, reinspections=[order])
    assert due.candidates == ()
    (waiting,) = due.deferred
    assert waiting.site_id == 13 and waiting.until == D("2026-03-12")
    assert [c.kind for c in waiting.checks] == ["routine"]
    assert [c.order_id for c in waiting.waits_for] == [7]
    (c,) = due_on(D("2026-03-12"), [site], CAL2026, POLICY, reinspections=[order]).candidates
    assert sorted(ch.kind for ch in c.checks) == ["reinspection", "routine"]


def test_a_check_that_cannot_wait_is_not_deferred():
    site = SiteFacts(14, risk_grade="low", credit_class="A")
    complaint = CaseVisit(41, 14, "complaint", D("2026-03-10"), D("2026-03-05"))
    order = ReinspectionDue(order_id=8, site_id=14, deadline=D("2026-03-11"), due=D("2026-03-25"))
    due = due_on(D("2026-03-09"), [site], CAL2026, POLICY, cases=[complaint], reinspections=[order])
    (c,) = due.candidates
    assert [ch.kind for ch in c.checks] == ["case"] and due.deferred == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 300), st.integers(0, 30), st.sampled_from(["r", "c"])),
                max_size=12),
       st.integers(0, 300))
def test_nothing_open_is_dropped_silently(items, offset):
    """Every open triggered check is in a candidate or listed as deferred."""
    sites = [SiteFacts(i, risk_grade=g) for i, g in zip(range(1, 5), ("low", "medium", "high", "very_high"))]
    start = D("2026-01-01")
    day = CAL2026.on_or_after(start + dt.timedelta(days=offset))
    reinspections, cases = [], []
    for k, (site_id, begin, length, kind) in enumerate(items):
        a = start + dt.timedelta(days=begin)
        b = a + dt.timedelta(days=length)
        if kind == "r":
            reinspections.append(ReinspectionDue(k + 1, site_id, a, b))
        else:
            cases.append(CaseVisit(k + 1, site_id, "alert", b, a))
    due = due_on(day, sites, CAL2026, POLICY, reinspections=reinspections, cases=cases)
    listed = {(ch.order_id, ch.case_request_id) for c in due.candidates for ch in c.checks}
    listed |= {(ch.order_id, ch.case_request_id) for d in due.deferred for ch in d.checks}
    for r in reinspections:
        if r.deadline < day:
            assert (r.order_id, None) in listed
    for c in cases:
        if c.opened <= day:
            assert (None, c.case_request_id) in listed
    for c in due.candidates:
        assert CAL2026.is_working_day(c.latest)
        assert 0 <= c.priority <= 4


def test_more_urgent_candidates_come_first():
    sites = [SiteFacts(1, risk_grade="medium"), SiteFacts(2, risk_grade="medium")]
    order = ReinspectionDue(1, 2, D("2026-03-01"), D("2026-03-10"))
    due = due_on(D("2026-03-10"), sites, CAL2026, POLICY, reinspections=[order])
    assert [c.site_id for c in due.candidates] == [2, 1]


def test_bad_inputs_are_refused_with_what_is_wrong():
    with pytest.raises(DueError, match="site 5"):
        due_on(D("2026-03-10"), [SiteFacts(1)], CAL2026, POLICY,
               reinspections=[ReinspectionDue(1, 5, D("2026-03-01"), D("2026-03-10"))])
    with pytest.raises(DueError, match="listed twice"):
        due_on(D("2026-03-10"), [SiteFacts(1), SiteFacts(1)], CAL2026, POLICY)
    with pytest.raises(DueError, match="risk grade 'extreme'"):
        yearly_budget(SiteFacts(1, risk_grade="extreme"), POLICY)


def test_the_budget_reads_the_policy_in_force():
    policy = dict(POLICY, yearly_max_visits={"hazchem_std_grade": {"1": 1, "2": 2, "3": 3, "ungraded": 5},
                                             "risk_grade": {"low": 0, "medium": 3, "high": 3, "very_high": 3}},
                  no_proactive_visit={})
    visits, counted = simulate_year([SiteFacts(1, risk_grade="medium"), SiteFacts(2, credit_class="A")],
                                    policy=policy, calendar=WorkCalendar())
    assert (len(counted[1]), len(counted[2])) == (3, 0)


def test_every_year_starts_a_new_budget():
    site = SiteFacts(1, risk_grade="low")
    last_year = [D("2025-12-30")]
    (c,) = due_on(D("2026-01-05"), [site], CAL2026, POLICY, counted_visits={1: last_year}).candidates
    assert c.reasons[0]["visit"] == 1 and c.reasons[0]["of"] == 1
    assert list(days_of(2026))[0] == D("2026-01-01")

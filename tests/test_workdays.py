"""Working days over the bureau's calendar and the correction deadline (DOMAIN.md section 6)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.workdays import WorkCalendar, add_calendar_days, correction_deadline, local_date

VECTORS = json.loads((Path(__file__).parent / "vectors" / "classification.json").read_text(encoding="utf-8"))
CALENDARS = {
    name: WorkCalendar(holidays=frozenset(map(dt.date.fromisoformat, cal["holidays"])),
                       workdays=frozenset(map(dt.date.fromisoformat, cal["workdays"])))
    for name, cal in VECTORS["calendars"].items()
}
CN2025 = CALENDARS["cn2025"]
PLAIN = WorkCalendar()
D = dt.date.fromisoformat


@pytest.mark.parametrize("case", VECTORS["deadlines"], ids=lambda c: c["about"])
def test_deadline_vector(case):
    got = correction_deadline(dt.datetime.fromisoformat(case["discovered"]), case["days"], case["unit"],
                              CALENDARS[case["calendar"]], case["timezone"])
    assert got == D(case["expect"])


def test_weekends_are_skipped():
    friday = D("2025-11-14")
    assert PLAIN.add_working_days(friday, 1) == D("2025-11-17")  # Monday
    assert PLAIN.add_working_days(friday, 5) == D("2025-11-21")  # the next Friday
    assert PLAIN.add_working_days(D("2025-11-15"), 1) == D("2025-11-17")  # from a Saturday


def test_a_holiday_is_skipped():
    assert CN2025.add_working_days(D("2025-04-03"), 1) == D("2025-04-07")  # Qingming, Friday 4 April
    assert PLAIN.add_working_days(D("2025-04-03"), 1) == D("2025-04-04")
    assert not CN2025.is_working_day(D("2025-10-01"))


def test_a_make_up_saturday_is_counted():
    make_up = D("2025-10-11")
    assert make_up.weekday() == 5 and CN2025.is_working_day(make_up)
    assert not CN2025.is_working_day(D("2025-10-12"))  # the Sunday after is a rest day
    assert CN2025.add_working_days(D("2025-10-10"), 2) == D("2025-10-13")


def test_the_start_day_is_not_counted_and_zero_is_that_day():
    monday = D("2025-11-10")
    assert PLAIN.add_working_days(monday, 1) == D("2025-11-11")
    assert PLAIN.add_working_days(monday, 0) == monday
    assert correction_deadline(monday, 0, "working_days", PLAIN) == monday
    assert correction_deadline(D("2025-11-15"), 0, "calendar_days", PLAIN) == D("2025-11-15")


def test_calendar_days_count_every_day_and_end_on_a_working_day():
    assert add_calendar_days(D("2025-11-14"), 3) == D("2025-11-17")
    assert correction_deadline(D("2025-11-14"), 3, "calendar_days", PLAIN) == D("2025-11-17")
    assert correction_deadline(D("2025-11-14"), 3, "working_days", PLAIN) == D("2025-11-19")
    # Ending on Saturday 15 November: Monday 17 is the last day.
    assert correction_deadline(D("2025-11-10"), 5, "calendar_days", PLAIN) == D("2025-11-17")
    assert add_calendar_days(D("2025-11-10"), 5) == D("2025-11-15")


def test_the_day_is_the_bureaus_day():
    late_utc = dt.datetime(2025, 11, 13, 17, 30, tzinfo=dt.timezone.utc)
    assert local_date(late_utc) == D("2025-11-14")  # 01:30 on Friday in Shanghai
    assert local_date(late_utc, "UTC") == D("2025-11-13")
    assert correction_deadline(late_utc, 1, "working_days", PLAIN) == D("2025-11-17")
    assert correction_deadline(late_utc, 1, "working_days", PLAIN, "UTC") == D("2025-11-14")
    with pytest.raises(ValueError, match="UTC offset"):
        local_date(dt.datetime(2025, 11, 13, 17, 30))


def test_calendar_from_stored_entries():
    cal = WorkCalendar.from_entries([(D("2025-10-01"), "holiday"), (D("2025-10-11"), "workday")])
    assert not cal.is_working_day(D("2025-10-01")) and cal.is_working_day(D("2025-10-11"))
    with pytest.raises(ValueError, match="holiday"):
        WorkCalendar.from_entries([(D("2025-10-01"), "festival")])


@pytest.mark.parametrize("make", [
    lambda: WorkCalendar(holidays=frozenset({D("2025-10-11")}), workdays=frozenset({D("2025-10-11")})),
    lambda: WorkCalendar(weekend=frozenset(range(7))),
    lambda: WorkCalendar(weekend=frozenset({7})),
    lambda: PLAIN.add_working_days(D("2025-11-10"), -1),
    lambda: add_calendar_days(D("2025-11-10"), -1),
    lambda: correction_deadline(D("2025-11-10"), 5, "weeks", PLAIN),
])
def test_impossible_calendars_and_periods_are_refused(make):
    with pytest.raises(ValueError):
        make()


days_2025 = st.dates(min_value=D("2024-12-01"), max_value=D("2025-12-31"))


@given(days_2025, st.integers(0, 40))
def test_n_working_days_later_has_exactly_n_working_days_after_the_start(start, n):
    end = CN2025.add_working_days(start, n)
    between = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(CN2025.is_working_day(day) for day in between) == n
    assert n == 0 or CN2025.is_working_day(end)


@given(days_2025, st.integers(0, 40))
def test_a_calendar_day_deadline_is_never_earlier_than_the_plain_count(start, n):
    end = correction_deadline(start, n, "calendar_days", CN2025)
    assert end >= add_calendar_days(start, n)
    assert n == 0 or CN2025.is_working_day(end)

"""Working days over the bureau's calendar (DOMAIN.md section 6), and the correction deadline.

A day is a working day unless it falls on a weekend or is a public holiday, and a make-up
working day (调休) is one even on a weekend. The holidays and make-up days come from the
State Council's yearly notice, entered by an admin; nothing here knows any year.

Periods are counted the way Chinese law counts them: the day on which the period starts is
not counted (民法典 art. 201), so N working days from a Friday end on the Nth working day
after it. Dates are the bureau's local dates: an instant is converted in the bureau's
time zone before anything is counted.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

CORRECTION_UNITS = ("working_days", "calendar_days")
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    workdays: frozenset[dt.date] = field(default_factory=frozenset)  # make-up working days (调休)
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday, Sunday

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "weekend", frozenset(self.weekend))
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(f"a day cannot be both a holiday and a make-up working day: {both[0].isoformat()}")
        if not self.weekend <= set(range(7)) or len(self.weekend) == 7:
            raise ValueError("the weekend must be some of the weekdays 0 (Monday) to 6 (Sunday), not all of them")

    @classmethod
    def from_entries(cls, entries: Iterable[tuple[dt.date, str]]) -> WorkCalendar:
        """From (day, kind) pairs as the calendar table stores them: kind 'holiday' or 'workday'."""
        holidays, workdays = set(), set()
        for day, kind in entries:
            if kind == "holiday":
                holidays.add(day)
            elif kind == "workday":
                workdays.add(day)
            else:
                raise ValueError(f"a calendar day is a 'holiday' or a 'workday', not {kind!r}")
        return cls(holidays=frozenset(holidays), workdays=frozenset(workdays))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() not in self.weekend

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        day += dt.timedelta(days=1)
        while not self.is_working_day(day):
            day += dt.timedelta(days=1)
        return day

    def on_or_after(self, day: dt.date) -> dt.date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The Nth working day after `start` (`start` itself is not counted); `start` when N is 0."""
        if n < 0:
            raise ValueError("a period cannot be negative")
        day = start
        for _ in range(n):
            day = self.next_working_day(day)
        return day


def add_calendar_days(start: dt.date, n: int) -> dt.date:
    if n < 0:
        raise ValueError("a period cannot be negative")
    return start + dt.timedelta(days=n)


def local_date(when: dt.datetime | dt.date, timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """The bureau's date of an instant. A naive datetime is refused: its day is unknowable."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("a time needs its UTC offset to fall on a day in the bureau's time zone")
        return when.astimezone(ZoneInfo(timezone)).date()
    return when


def correction_deadline(discovered: dt.datetime | dt.date, days: int, unit: str, calendar: WorkCalendar,
                        timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """The last day to correct, from the discovery and the catalogue row's period.

    0 days means on the spot: the discovery day. A period in calendar days that ends on a
    rest day or holiday ends on the next working day instead (民法典 art. 203: a period
    whose last day is a statutory holiday ends on the day after it).
    """
    if unit not in CORRECTION_UNITS:
        raise ValueError(f"a correction unit is one of {', '.join(CORRECTION_UNITS)}, not {unit!r}")
    start = local_date(discovered, timezone)
    if unit == "working_days":
        return calendar.add_working_days(start, days)
    end = add_calendar_days(start, days)
    return end if days == 0 else calendar.on_or_after(end)

"""The bureau's working-day calendar: loading a year's public holidays and make-up working
days (调休) from the State Council's yearly notice, kept as a small JSON document:

    {"year": 2026, "source": "...", "note": "...",
     "holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23"}, ...],
     "workdays": [{"name": "春节调休上班", "day": "2026-02-14"}, ...]}

`server/data/calendar_<year>.json` ships the years transcribed so far; an admin loads a
new year the same way. Loading a year replaces that year's CalendarDay rows, so a
corrected notice is loaded by loading it again.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa

from ..extensions import db
from ..domain.workdays import WorkCalendar
from ..models import CalendarDay
from . import audit, txmemo

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


class CalendarError(ValueError):
    """A calendar document that cannot be loaded; `errors` names the entries and why."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


def _date(value, where: str, errors: dict) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        errors.setdefault(where, []).append(f"{value!r} is not a date as YYYY-MM-DD")
        return None


def expand_notice(doc: dict) -> list[tuple[dt.date, str, str]]:
    """The notice as (day, kind, name) rows, checked: every day inside the year, holiday
    periods in order, make-up working days on a weekend, no day both."""
    errors: dict[str, list[str]] = {}
    year = doc.get("year")
    if not isinstance(year, int) or not 1990 <= year <= 2200:
        raise CalendarError("the document needs a 'year' (a number such as 2026)", {"year": ["required"]})
    days: dict[dt.date, tuple[str, str]] = {}
    for i, period in enumerate(doc.get("holidays") or []):
        where = f"holidays[{i}]"
        start = _date(period.get("from"), where, errors)
        end = _date(period.get("to"), where, errors)
        name = str(period.get("name") or "").strip()
        if not name:
            errors.setdefault(where, []).append("a holiday needs a name")
        if start is None or end is None:
            continue
        if end < start:
            errors.setdefault(where, []).append(f"ends ({end}) before it starts ({start})")
            continue
        if (end - start).days > 14:
            errors.setdefault(where, []).append("a holiday period longer than 15 days is surely a typing error")
            continue
        day = start
        while day <= end:
            if day.year != year:
                errors.setdefault(where, []).append(f"{day} is outside {year}")
            elif day in days:
                errors.setdefault(where, []).append(f"{day} is already listed")
            else:
                days[day] = ("holiday", name)
            day += dt.timedelta(days=1)
    for i, entry in enumerate(doc.get("workdays") or []):
        where = f"workdays[{i}]"
        day = _date(entry.get("day"), where, errors)
        name = str(entry.get("name") or "").strip() or "调休上班"
        if day is None:
            continue
        if day.year != year:
            errors.setdefault(where, []).append(f"{day} is outside {year}")
        elif day.weekday() < 5:
            errors.setdefault(where, []).append(f"{day} is a weekday: only a weekend day can be a make-up working day")
        elif day in days:
            errors.setdefault(where, []).append(f"{day} is also listed as a holiday")
        else:
            days[day] = ("workday", name)
    if errors:
        raise CalendarError(f"the {year} calendar has {len(errors)} bad entr{'y' if len(errors) == 1 else 'ies'}; "
                            "nothing was loaded", errors)
    if not days:
        raise CalendarError(f"the {year} calendar lists no holidays and no working days", {"holidays": ["empty"]})
    return [(day, kind, name) for day, (kind, name) in sorted(days.items())]


def load_year(doc: dict, actor_id: int | None = None, record_audit: bool = True) -> dict:
    """Replace one year's calendar with the notice's, inside the caller's transaction."""
    rows = expand_notice(doc)
    year = doc["year"]
    db.session.execute(sa.delete(CalendarDay).where(
        CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31)))
    db.session.add_all(CalendarDay(day=day, kind=kind, name=name[:80]) for day, kind, name in rows)
    db.session.flush()
    summary = {
        "year": year,
        "holidays": sum(1 for _, kind, _ in rows if kind == "holiday"),
        "workdays": sum(1 for _, kind, _ in rows if kind == "workday"),
        "source": str(doc.get("source") or "")[:200],
    }
    if record_audit:
        audit.record("calendar.load", "calendar", year, summary, actor_id)
    return summary


def bundled_years() -> list[int]:
    years = []
    for path in DATA_DIR.glob("calendar_*.json"):
        stem = path.stem.removeprefix("calendar_")
        if stem.isdigit():
            years.append(int(stem))
    return sorted(years)


def read_bundled(year: int) -> dict:
    path = DATA_DIR / f"calendar_{year}.json"
    if not path.exists():
        raise CalendarError(f"no calendar for {year} is shipped; load the State Council's notice for it",
                            {"year": [f"shipped: {', '.join(map(str, bundled_years())) or 'none'}"]})
    return json.loads(path.read_text(encoding="utf-8"))


def load_bundled(actor_id: int | None = None, record_audit: bool = True) -> list[dict]:
    """Load every year shipped in server/data."""
    return [load_year(read_bundled(year), actor_id, record_audit) for year in bundled_years()]


def work_calendar() -> WorkCalendar:
    """The bureau's working days as stored: every deadline in working days is counted on this.
    Read once per transaction (services/txmemo.py; loading a year forgets it)."""
    return txmemo.remember((CalendarDay.__tablename__,), "calendar.work_calendar", _read_calendar)


def _read_calendar() -> WorkCalendar:
    rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.kind)).all()
    return WorkCalendar.from_entries((r.day, r.kind) for r in rows)

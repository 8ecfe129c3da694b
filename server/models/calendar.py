"""The bureau's working-day calendar and the policy (every number of DOMAIN.md as data)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import CALENDAR_KINDS


class CalendarDay(db.Model):
    """An exception to the weekend rule: a public holiday, or a make-up working day (调休)
    from the State Council's yearly notice."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(choice(*CALENDAR_KINDS, name="calendar_kind"))
    name: Mapped[str] = mapped_column(sa.String(80), default="")


class PolicyVersion(db.Model):
    """One version of the policy. The newest is in force; every classification
    records the version it used."""

    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    values: Mapped[dict] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

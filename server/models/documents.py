"""Official documents: the per-year counters their numbers come from, and the numbers given to
documents that are not rows of their own (an inspection record is the visit printed)."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import DOCUMENT_KINDS


class DocumentCounter(db.Model):
    """The last number given for one kind of document in one year: numbers follow each other
    without gaps, and the row's lock serialises two writers asking at once."""

    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(choice(*DOCUMENT_KINDS, name="document_kind"), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.Integer, default=0)


class InspectionRecordNumber(db.Model):
    """The number of a visit's inspection record (现场检查笔录), given the first time the record
    is asked for and never again: every later copy carries the same number."""

    __tablename__ = "inspection_record_numbers"
    __table_args__ = (sa.UniqueConstraint("year", "seq"),)

    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    seq: Mapped[int] = mapped_column(sa.Integer)
    numbered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    numbered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

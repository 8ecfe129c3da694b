"""What follows a finding: orders (责令限期改正) and re-inspections (复查), the legal
reviewer's decisions (法制审核), administrative cases (立案), education records and the
tolerance ledger whose entries make the next occurrence a repeat."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import (
    CASE_DECISIONS, CASE_STATUSES, COMMITMENT, LEGAL_REVIEW_OUTCOMES, ORDER_STATUSES, REINSPECTION_OUTCOMES,
)


class Order(db.Model):
    """A rectification notice with its deadline (in the catalogue row's unit)."""

    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_status_deadline", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)  # per-year document number
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    deadline: Mapped[dt.date] = mapped_column(sa.Date)
    reinspection_due: Mapped[dt.date] = mapped_column(sa.Date)
    commitment: Mapped[str] = mapped_column(choice(*COMMITMENT, name="commitment"), default="pending")
    status: Mapped[str] = mapped_column(choice(*ORDER_STATUSES, name="order_status"), default="open")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Reinspection(db.Model):
    __tablename__ = "reinspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    outcome: Mapped[str] = mapped_column(choice(*REINSPECTION_OUTCOMES, name="reinspection_outcome"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # The photos that show the result, as recorded (a desk record has no visit to find them by).
    photo_ids: Mapped[list] = mapped_column(sa.JSON, default=list)


class LegalReview(db.Model):
    """The legal reviewer's decision on a flagged finding or a case before decision."""

    __tablename__ = "legal_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    outcome: Mapped[str] = mapped_column(choice(*LEGAL_REVIEW_OUTCOMES, name="legal_review_outcome"))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Case(db.Model):
    """An administrative case; filing (立案) starts the 90-day decision clock."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.CheckConstraint("investigator1_id <> investigator2_id", name="distinct_investigators"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), unique=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    status: Mapped[str] = mapped_column(choice(*CASE_STATUSES, name="case_status"), default="filed", index=True)
    filed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filed_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    investigator1_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    investigator2_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decision_due: Mapped[dt.date] = mapped_column(sa.Date)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    party_statement: Mapped[str] = mapped_column(sa.Text, default="")  # 陈述申辩
    hearing_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    hearing_held_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    legal_review_required: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[str | None] = mapped_column(choice(*CASE_DECISIONS, name="case_decision"))
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")
    fine_yuan: Mapped[int | None] = mapped_column(sa.Integer)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    served_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    transferred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class EducationRecord(db.Model):
    """Whoever is not penalised must be educated (行政处罚法 art. 33 para. 3)."""

    __tablename__ = "education_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    by_user: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(sa.Text)


class ToleranceRecord(db.Model):
    """The ledger entry written when a finding closes on the no-penalty path
    (DOMAIN.md section 4); the next occurrence of the type there is then a repeat
    that cannot be waived again."""

    __tablename__ = "tolerance_records"
    __table_args__ = (sa.Index("ix_tolerance_records_site_type", "site_id", "violation_type_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), unique=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    violation_type_id: Mapped[int] = mapped_column(sa.ForeignKey("violation_types.id"))
    conditions_confirmed_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    first_offence_lookup: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"))
    reinspection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reinspections.id"))
    education_record_id: Mapped[int | None] = mapped_column(sa.ForeignKey("education_records.id"))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

"""The violation catalogue and the checklists."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import CHECKLIST_STATUSES, CORRECTION_UNITS, DOMAINS, PENALTY_TRIGGERS, TOLERANCE_TYPES


class ViolationType(db.Model):
    """A catalogue row: one breach, the article it breaks and the one that penalises it.
    Rows are versioned by their effective dates; a finding uses the row in force on
    its discovery date."""

    __tablename__ = "violation_types"
    __table_args__ = (
        sa.UniqueConstraint("code", "effective_from"),
        sa.CheckConstraint("correction_days >= 0", name="correction_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), index=True)
    domain: Mapped[str] = mapped_column(choice(*DOMAINS, name="domain"))
    name_zh: Mapped[str] = mapped_column(sa.Text)
    name_en: Mapped[str] = mapped_column(sa.Text)
    violated_provision: Mapped[str] = mapped_column(sa.Text)
    penalty_provision: Mapped[str] = mapped_column(sa.Text)
    penalty_trigger: Mapped[str] = mapped_column(choice(*PENALTY_TRIGGERS, name="penalty_trigger"))
    tolerance_type: Mapped[str] = mapped_column(choice(*TOLERANCE_TYPES, name="tolerance_type"))
    list_conditions: Mapped[str] = mapped_column(sa.Text, default="")
    correction_days: Mapped[int] = mapped_column(default=10)
    correction_unit: Mapped[str] = mapped_column(
        choice(*CORRECTION_UNITS, name="correction_unit"), default="working_days"
    )
    penalty_range_zh: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[str] = mapped_column(sa.Text, default="")
    effective_from: Mapped[dt.date] = mapped_column(sa.Date)
    effective_to: Mapped[dt.date | None] = mapped_column(sa.Date)


class ChecklistTemplate(db.Model):
    """A versioned checklist; visits keep the version they were made with."""

    __tablename__ = "checklist_templates"
    __table_args__ = (sa.UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int] = mapped_column(default=1)
    domain: Mapped[str] = mapped_column(choice(*DOMAINS, name="domain"))
    name_zh: Mapped[str] = mapped_column(sa.String(120))
    name_en: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(choice(*CHECKLIST_STATUSES, name="checklist_status"), default="draft")
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    items: Mapped[list["ChecklistItem"]] = relationship(
        back_populates="template", order_by="ChecklistItem.position", cascade="all, delete-orphan"
    )


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"
    __table_args__ = (sa.UniqueConstraint("template_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("checklist_templates.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    position: Mapped[int] = mapped_column(default=0)
    domain: Mapped[str] = mapped_column(choice(*DOMAINS, name="domain"))
    text_zh: Mapped[str] = mapped_column(sa.Text)
    text_en: Mapped[str] = mapped_column(sa.Text)
    legal_basis: Mapped[str] = mapped_column(sa.Text, default="")
    # The catalogue rows (codes) a failed item usually leads to: the phone offers them first.
    violation_codes: Mapped[list] = mapped_column(sa.JSON, default=list)

    template: Mapped[ChecklistTemplate] = relationship(back_populates="items")

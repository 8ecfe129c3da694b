"""Visits made by a team at a site, their checklist results, and sync conflicts."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, choice, point, utcnow
from .vocab import GEOFENCE_VERDICTS, OUTCOMES, VISIT_KINDS

visit_officers = sa.Table(
    "visit_officers",
    db.metadata,
    sa.Column("visit_id", sa.ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    # Whether the officer counted as certified on the day (auxiliary staff never do).
    sa.Column("counted", sa.Boolean, nullable=False, default=False),
)


class Visit(db.Model):
    """One visit, recorded on the team lead's phone; its id is made on the phone."""

    __tablename__ = "visits"
    __table_args__ = (
        sa.Index("ix_visits_site_started", "site_id", "started_at"),
        # The queue's off-site filter asks this of each finding's visit: answered from the index alone.
        sa.Index("ix_visits_id_geofence", "id", "geofence"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(choice(*VISIT_KINDS, name="visit_kind"))
    # The plan stop a visit fulfils is PlanStop.visit_id, and a re-inspection visit's order
    # and outcome are a Reinspection row: links point one way, so the tables have no cycle.
    recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    device_id: Mapped[str] = mapped_column(sa.String(64), default="")
    checklist_template_id: Mapped[int | None] = mapped_column(sa.ForeignKey("checklist_templates.id"))
    certificates_shown: Mapped[bool] = mapped_column(default=False)  # 出示执法证件 (art. 55)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A device clock far from the server's is flagged, not trusted.
    clock_skew_s: Mapped[float | None] = mapped_column(sa.Float)
    clock_flagged: Mapped[bool] = mapped_column(default=False)
    fix = mapped_column(point(), nullable=True)
    fix_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    geofence: Mapped[str] = mapped_column(choice(*GEOFENCE_VERDICTS, name="geofence_verdict"), default="no_fix")
    party_signature_photo_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    party_refused: Mapped[bool] = mapped_column(default=False)
    # SHA-256 of the record's canonical JSON: a replay with the same hash is a duplicate.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    # What the server answered when it accepted the record (tiers, on-site proof, clock):
    # a replay is answered with exactly this, whatever has happened to the findings since.
    receipt: Mapped[dict | None] = mapped_column(sa.JSON)
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)

    officers: Mapped[list["User"]] = relationship(secondary=visit_officers)  # noqa: F821
    results: Mapped[list["CheckResult"]] = relationship(back_populates="visit", cascade="all, delete-orphan")


class CheckResult(db.Model):
    __tablename__ = "check_results"
    __table_args__ = (sa.UniqueConstraint("visit_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(sa.String(40))
    outcome: Mapped[str] = mapped_column(choice(*OUTCOMES, name="check_outcome"))

    visit: Mapped[Visit] = relationship(back_populates="results")


class SyncConflict(db.Model):
    """A record that arrived with a known id but other content: kept for a supervisor,
    never written over the stored one."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (sa.UniqueConstraint("record_id", "content_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    device_id: Mapped[str] = mapped_column(sa.String(64), default="")
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

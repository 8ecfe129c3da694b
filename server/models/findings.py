"""Findings (a problem found on a visit, with every classifier input and its tier) and photos."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, choice, point, utcnow
from .vocab import DOMAINS, FINDING_STATUSES, HARMS, PHOTO_STATUSES, SEVERITIES, TIERS, TOLERANCE_PATHS

# queue_due of a finding without a running clock: after every real deadline.
QUEUE_NO_DEADLINE = dt.date(9999, 12, 31)


class Finding(db.Model):
    __tablename__ = "findings"
    __table_args__ = (
        # The repeat look-up (DOMAIN.md section 2): same type, same enterprise, in a window.
        sa.Index("ix_findings_site_type_discovered", "site_id", "violation_type_id", "discovered_at"),
        sa.Index("ix_findings_status_final_tier", "status", "final_tier"),
        sa.Index("ix_findings_park_status", "park_id", "status"),
        # The supervisor's queue (server/services/queue.py): each index starts with the column of
        # one filter (none for the first) and goes on with the urgency order's key, so a page is
        # read in order off one index and nothing is sorted; the trailing columns are checked in
        # the index, without reading the row (docs/performance.md has the measurements).
        sa.Index("ix_findings_queue", "queue_due", "queue_rank", "id", "park_id", "visit_id"),
        sa.Index("ix_findings_park_queue", "park_id", "queue_due", "queue_rank", "id", "visit_id"),
        sa.Index("ix_findings_site_queue", "site_id", "queue_due", "queue_rank", "id"),
        sa.Index("ix_findings_tier_queue", "final_tier", "queue_due", "queue_rank", "id", "park_id"),
        sa.Index("ix_findings_status_queue", "status", "queue_due", "queue_rank", "id", "park_id"),
        sa.Index("ix_findings_domain_queue", "domain", "queue_due", "queue_rank", "id", "park_id"),
        sa.Index("ix_findings_flag_queue", "legal_flag", "queue_due", "queue_rank", "id", "park_id"),
        # The 721 mix (server/services/stats.py): counted from the index alone.
        sa.Index("ix_findings_stats", "discovered_at", "park_id", "final_tier", "domain"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    park_id: Mapped[int] = mapped_column(sa.ForeignKey("parks.id"))  # denormalised for the queue's scope
    item_code: Mapped[str | None] = mapped_column(sa.String(40))
    violation_type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("violation_types.id"))
    domain: Mapped[str] = mapped_column(choice(*DOMAINS, name="domain"))
    discovered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Classifier inputs (DOMAIN.md section 3), as observed.
    severity: Mapped[str] = mapped_column(choice(*SEVERITIES, name="severity"))
    harm: Mapped[str] = mapped_column(choice(*HARMS, name="harm"), default="none")
    intentional: Mapped[bool] = mapped_column(default=False)
    obstruction: Mapped[bool] = mapped_column(default=False)
    suspected_crime: Mapped[bool] = mapped_column(default=False)
    no_fault_proven: Mapped[bool] = mapped_column(default=False)
    corrected_on_spot: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # Classifier inputs the server looked up when the finding arrived, kept as evidence.
    repeats: Mapped[int] = mapped_column(default=0)
    earlier_tolerance_closed: Mapped[bool] = mapped_column(default=False)
    earlier_order_failed: Mapped[bool] = mapped_column(default=False)
    # Classification: the suggestion is never recomputed; the final tier changes only
    # by escalation (upward, automatic) or a supervisor's reasoned decision.
    suggested_tier: Mapped[str] = mapped_column(choice(*TIERS, name="suggested_tier"))
    final_tier: Mapped[str] = mapped_column(choice(*TIERS, name="final_tier"))
    rule_id: Mapped[str] = mapped_column(sa.String(8))
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)
    tolerance_path: Mapped[str] = mapped_column(choice(*TOLERANCE_PATHS, name="tolerance_path"), default="none")
    explanation_zh: Mapped[str] = mapped_column(sa.Text, default="")
    explanation_en: Mapped[str] = mapped_column(sa.Text, default="")
    policy_version: Mapped[int] = mapped_column(sa.ForeignKey("policy_versions.version"))
    correction_deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    tier_reason: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(choice(*FINDING_STATUSES, name="finding_status"), default="open")
    next_deadline: Mapped[dt.date | None] = mapped_column(sa.Date, index=True)
    photos_waiting: Mapped[int] = mapped_column(default=0)
    # Derived by the database, never written: whoever changes a finding (a service, the hourly
    # job, a bulk update), the queue's order and its legal-review filter stay right, and both
    # engines can read them from an index (a CASE in ORDER BY or a JSON test cannot).
    # The clock that orders the queue: the next deadline of a finding still being worked;
    # none (last, as 9999-12-31) when it has no deadline or is closed.
    queue_due: Mapped[dt.date] = mapped_column(sa.Date, sa.Computed(
        "COALESCE(CASE WHEN status IN ('closed', 'closed_no_penalty') THEN NULL ELSE next_deadline END, "
        f"'{QUEUE_NO_DEADLINE.isoformat()}')", persisted=True))
    # Enforcement before management before service, then severity from major hazard down.
    queue_rank: Mapped[int] = mapped_column(sa.SmallInteger, sa.Computed(
        "CASE final_tier WHEN 'enforcement' THEN 0 WHEN 'management' THEN 10 ELSE 20 END + "
        "CASE severity WHEN 'major_hazard' THEN 0 WHEN 'serious' THEN 1 WHEN 'general' THEN 2 "
        "WHEN 'minor' THEN 3 ELSE 4 END", persisted=True))
    # The classification flagged it for statutory minor review (flags is a JSON list of words,
    # none of which contains another in quotes).
    legal_flag: Mapped[bool] = mapped_column(sa.Boolean, sa.Computed(
        "CAST(flags AS TEXT) LIKE '%\"statutory_minor_review\"%'", persisted=True))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    photos: Mapped[list["Photo"]] = relationship(back_populates="finding")


class Photo(db.Model):
    """A photo's metadata. The original bytes are kept as uploaded, under their SHA-256;
    thumbnails and display copies are derived and never replace them."""

    __tablename__ = "photos"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    status: Mapped[str] = mapped_column(choice(*PHOTO_STATUSES, name="photo_status"), default="waiting")
    purpose: Mapped[str] = mapped_column(sa.String(80), default="")  # what it is meant to prove
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    content_type: Mapped[str | None] = mapped_column(sa.String(40))
    size_bytes: Mapped[int | None] = mapped_column(sa.Integer)
    width: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the device's clock
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # the server's clock
    fix = mapped_column(point(), nullable=True)
    fix_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    exif_lon: Mapped[float | None] = mapped_column(sa.Float)
    exif_lat: Mapped[float | None] = mapped_column(sa.Float)
    exif_captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The phone's fix against the EXIF's, in metres, and what disagrees beyond the thresholds
    # ("gps_differs", "time_differs"): both claims are kept, neither is trusted over the other.
    exif_offset_m: Mapped[float | None] = mapped_column(sa.Float)
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)
    # The record the phone named, as sent. A photo may arrive before its record (a phone that
    # crashed between sending them), so these carry no foreign key; finding_id / visit_id are
    # set once that record exists (server/services/photos.py).
    claimed_finding_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    claimed_visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    finding: Mapped[Finding | None] = relationship(back_populates="photos")

"""Imports: an uploaded file, its dry-run report and whether it was applied."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import IMPORT_ACTIONS, IMPORT_KINDS, IMPORT_STATUSES


class ImportJob(db.Model):
    """One uploaded file: stored as uploaded (its SHA-256 kept, so apply uses exactly that file),
    its dry run's counts and file-level findings, and when it was applied."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(choice(*IMPORT_KINDS, name="import_kind"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    options: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(choice(*IMPORT_STATUSES, name="import_status"), default="checking")
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    file_issues: Mapped[list] = mapped_column(sa.JSON, default=list)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class ImportRow(db.Model):
    """A row of the dry-run report: every refused or changed row; created rows up to a limit
    (their count is always exact); unchanged rows only counted."""

    __tablename__ = "import_rows"
    __table_args__ = (sa.Index("ix_import_rows_job_row", "job_id", "row_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_no: Mapped[int]
    action: Mapped[str] = mapped_column(choice(*IMPORT_ACTIONS, name="import_action"))
    key: Mapped[str] = mapped_column(sa.String(120), default="")
    label: Mapped[str] = mapped_column(sa.String(255), default="")
    issues: Mapped[list] = mapped_column(sa.JSON, default=list)
    warnings: Mapped[int] = mapped_column(default=0)  # how many of the issues are warnings
    changes: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class ImportKey(db.Model):
    """A key already met in the file during one pass (dry run or apply) and the row it was first
    on, so a later row with the same key is refused naming that row. Kept in the database, not in
    memory, so a pass holds one batch whatever the file's length; emptied when the pass ends (an
    apply's rows vanish with its transaction if it fails). scope: credit_code, username,
    certificate_no."""

    __tablename__ = "import_keys"

    job_id: Mapped[int] = mapped_column(sa.ForeignKey("import_jobs.id", ondelete="CASCADE"), primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    row_no: Mapped[int]

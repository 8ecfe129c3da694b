"""People: users and their roles, parks and certificates; tokens; login throttling;
conflict-of-interest declarations (回避) and leave."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.certificates import certified_on
from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import ROLES

user_parks = sa.Table(
    "user_parks",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("park_id", sa.ForeignKey("parks.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    role: Mapped[str] = mapped_column(choice(*ROLES, name="role"))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    is_demo: Mapped[bool] = mapped_column(default=False)
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # Law-enforcement certificate (执法证): distinct numbers make a valid team of two.
    certificate_no: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    certified_domains: Mapped[list] = mapped_column(sa.JSON, default=list)
    certificate_expires: Mapped[dt.date | None] = mapped_column(sa.Date)
    auxiliary: Mapped[bool] = mapped_column(default=False)  # 协管员: recorded, never counted
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parks: Mapped[list["Park"]] = relationship(secondary=user_parks)  # noqa: F821

    @property
    def park_ids(self) -> list[int]:
        return sorted(p.id for p in self.parks)

    def certified_on(self, day: dt.date) -> bool:
        """Counts as a certified officer on that day (auxiliary staff never do)."""
        return certified_on(self.auxiliary, self.certificate_no, self.certificate_expires, day)


class AuthToken(db.Model):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """Failed logins, counted per username and per client address to throttle guessing."""

    __tablename__ = "login_failures"
    __table_args__ = (
        sa.Index("ix_login_failures_username_at", "username", "at"),
        sa.Index("ix_login_failures_addr_at", "client_addr", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    client_addr: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConflictDeclaration(db.Model):
    """An inspector's declared conflict of interest: never sent to that site (回避)."""

    __tablename__ = "conflict_declarations"
    __table_args__ = (sa.UniqueConstraint("user_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(255), default="")
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Leave(db.Model):
    __tablename__ = "leaves"
    __table_args__ = (sa.CheckConstraint("end_date >= start_date", name="range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    end_date: Mapped[dt.date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(255), default="")

"""Patrol planning: plans for a day, team routes, ordered stops, random draws (双随机)
and case-visit requests (complaints, data alerts)."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import CASE_REQUEST_SOURCES, DRAW_SUBJECTS, PLAN_STATUSES, STOP_STATUSES, VISIT_KINDS

route_officers = sa.Table(
    "route_officers",
    db.metadata,
    sa.Column("route_id", sa.ForeignKey("plan_routes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
)


class Plan(db.Model):
    """A day's plan; it records its inputs, the solver, its settings and how long it took."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(sa.Date, unique=True)
    status: Mapped[str] = mapped_column(choice(*PLAN_STATUSES, name="plan_status"), default="draft")
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    generated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    solver: Mapped[str] = mapped_column(sa.String(40), default="")
    settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    inputs: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    solve_seconds: Mapped[float | None] = mapped_column(sa.Float)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    routes: Mapped[list["Route"]] = relationship(back_populates="plan", cascade="all, delete-orphan")


class Route(db.Model):
    """One team's route for the day, from and back to the office."""

    __tablename__ = "plan_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    team_lead_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    distance_km: Mapped[float] = mapped_column(sa.Float, default=0.0)
    duration_min: Mapped[float] = mapped_column(sa.Float, default=0.0)

    plan: Mapped[Plan] = relationship(back_populates="routes")
    officers: Mapped[list["User"]] = relationship(secondary=route_officers)  # noqa: F821


class PlanStop(db.Model):
    __tablename__ = "plan_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    route_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plan_routes.id", ondelete="SET NULL"), index=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    seq: Mapped[int | None] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(choice(*VISIT_KINDS, name="visit_kind"))
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    priority: Mapped[int] = mapped_column(default=0)
    latest_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id"))
    draw_id: Mapped[int | None] = mapped_column(sa.ForeignKey("draws.id"))
    case_request_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_requests.id"))
    status: Mapped[str] = mapped_column(choice(*STOP_STATUSES, name="stop_status"), default="planned")
    not_scheduled_reason: Mapped[str] = mapped_column(sa.Text, default="")
    locked: Mapped[bool] = mapped_column(default=False)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"), unique=True)
    eta_min: Mapped[float | None] = mapped_column(sa.Float)  # minutes after the day starts


class Draw(db.Model):
    """A random draw (双随机), replayable: the seed's hash is recorded before the pool is
    frozen, the pool's hash when it is frozen; members with the smallest
    HMAC-SHA256(seed, member id) are drawn."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(choice(*DRAW_SUBJECTS, name="draw_subject"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    seed: Mapped[str] = mapped_column(sa.String(128))
    seed_sha256: Mapped[str] = mapped_column(sa.String(64))
    pool: Mapped[list | None] = mapped_column(sa.JSON)
    pool_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(default=0)
    drawn: Mapped[list | None] = mapped_column(sa.JSON)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    visible_from: Mapped[dt.date | None] = mapped_column(sa.Date)  # hidden from inspectors until then
    # Drawn sites are visited from visible_from to visit_by (a draw of inspectors: the days they work).
    visit_by: Mapped[dt.date | None] = mapped_column(sa.Date)
    # What the pool was made of (parks, grades, ...), so that anyone can rebuild and compare it.
    pool_filter: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    note: Mapped[str] = mapped_column(sa.Text, default="")


class CaseRequest(db.Model):
    """A reason to visit from outside the plan: a complaint, a data alert, a referral."""

    __tablename__ = "case_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    source: Mapped[str] = mapped_column(choice(*CASE_REQUEST_SOURCES, name="case_request_source"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    due_by: Mapped[dt.date] = mapped_column(sa.Date)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

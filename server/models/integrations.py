"""Integrations: webhook subscriptions and their deliveries (an outbox written in the same
transaction as the change it announces), and the phones' own reports of their sync health."""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, choice, utcnow
from .vocab import DELIVERY_STATUSES


class WebhookSubscription(db.Model):
    """An admin's URL for some events. The secret signs every delivery (HMAC-SHA256); it is
    kept as given because signing needs it, and is shown only when the subscription is made."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list] = mapped_column(sa.JSON, default=list)
    secret: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one subscription: written with the change, sent by the scheduler's worker,
    retried with backoff, replayable under the same id (receivers deduplicate on it)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The worker's question: what is pending and due now.
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_subscription", "subscription_id", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(40))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(choice(*DELIVERY_STATUSES, name="delivery_status"), default="pending")
    # Attempts in the current round (a replay starts a new round); the log keeps every attempt.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    replays: Mapped[int] = mapped_column(default=0)
    log: Mapped[list] = mapped_column(sa.JSON, default=list)


class Device(db.Model):
    """What a phone last reported about its outbox and storage, per device and inspector
    (a phone may be shared), and when it was last heard from."""

    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("device_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_contact_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outbox_records: Mapped[int] = mapped_column(default=0)
    outbox_photos: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    oldest_item_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    quota_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    usage_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    persisted: Mapped[bool | None] = mapped_column()
    app_version: Mapped[str] = mapped_column(sa.String(40), default="")
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_sync_error: Mapped[str] = mapped_column(sa.String(300), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")

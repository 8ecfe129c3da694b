"""Sync health: what each phone says of itself, and which ones need a person (docs/integrations.md).

After every sync attempt the PWA reports its outbox (records and photos waiting, what the
server refused and the phone holds for a person, the oldest item), its storage (quota, usage,
whether the browser keeps it), its app version and how the attempt ended: one row per device
and inspector, overwritten by each report. The last contact is the later of the last report
and the last visit the server received from that device (read from the visits, so the sync
service itself is untouched).

A row needs attention when: it went silent (no contact for SYNC_HEALTH_SILENT_HOURS) while
items waited; its oldest waiting item is older than SYNC_HEALTH_OLDEST_HOURS; its storage is
not persistent (the browser may evict the outbox); it is nearly full; the phone holds records
the server rejected or answered as a conflict; or the server keeps unresolved sync conflicts
from it. A report is telemetry, not a decision: it is not written to the audit trail.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Device, Park, SyncConflict, User, Visit, user_parks
from ..models.types import utcnow

REPORT_FIELDS = ("outbox_records", "outbox_photos", "held", "oldest_item_at", "quota_bytes", "usage_bytes",
                 "persisted", "app_version", "last_sync_at", "last_sync_error")
REASONS = ("silent", "old_outbox", "not_persistent", "near_quota", "held", "conflicts")


def report(user: User, device_id: str, data: dict, user_agent: str = "", now: dt.datetime | None = None) -> dict:
    """Store a phone's report (upsert on device and inspector) and answer the server's time."""
    now = now or utcnow()
    values = {k: data[k] for k in REPORT_FIELDS if k in data}
    values["app_version"] = (values.get("app_version") or "")[:40]
    values["last_sync_error"] = (values.get("last_sync_error") or "")[:300]
    for attempt in (1, 2):
        row = db.session.execute(sa.select(Device).where(Device.device_id == device_id, Device.user_id == user.id)
                                 .with_for_update()).scalar()
        try:
            with db.session.begin_nested():
                if row is None:
                    row = Device(device_id=device_id, user_id=user.id, first_seen_at=now)
                    db.session.add(row)
                for k, v in values.items():
                    setattr(row, k, v)
                row.last_contact_at = now
                row.user_agent = (user_agent or "")[:300]
            break
        except IntegrityError:  # the same phone's other report made the row meanwhile
            if attempt == 2:
                raise
    db.session.commit()
    return {"device_id": device_id, "received_at": now}


def _thresholds() -> dict:
    cfg = current_app.config
    return {"silent_hours": float(cfg.get("SYNC_HEALTH_SILENT_HOURS", 8)),
            "oldest_hours": float(cfg.get("SYNC_HEALTH_OLDEST_HOURS", 24)),
            "near_quota": float(cfg.get("SYNC_HEALTH_NEAR_QUOTA", 0.8))}


def reasons_for(row: dict, now: dt.datetime, limits: dict) -> list[str]:
    """Why a device needs attention (empty: it does not)."""
    why = []
    waiting = (row["outbox_records"] or 0) + (row["outbox_photos"] or 0)
    contact = row["last_contact_at"]
    if waiting and contact is not None and now - contact > dt.timedelta(hours=limits["silent_hours"]):
        why.append("silent")
    oldest = row["oldest_item_at"]
    if oldest is not None and (waiting or row["held"]) and now - oldest > dt.timedelta(hours=limits["oldest_hours"]):
        why.append("old_outbox")
    if row["persisted"] is False:
        why.append("not_persistent")
    if row["quota_bytes"] and row["usage_bytes"] is not None and row["usage_bytes"] / row["quota_bytes"] >= limits["near_quota"]:
        why.append("near_quota")
    if row["held"]:
        why.append("held")
    if row["conflicts"]:
        why.append("conflicts")
    return why


def _empty(device_id: str) -> dict:
    return {"device_id": device_id, "first_seen_at": None, "reported_at": None, "last_visit_received_at": None,
            "last_contact_at": None, "outbox_records": 0, "outbox_photos": 0, "held": 0, "oldest_item_at": None,
            "quota_bytes": None, "usage_bytes": None, "persisted": None, "app_version": "", "last_sync_at": None,
            "last_sync_error": "", "conflicts": 0}


def health(scope: set[int] | None, now: dt.datetime | None = None, attention_only: bool = False) -> dict:
    """Every active inspector of the parks in `scope` (None: all) with each device they used:
    what it reported, its last contact, unresolved conflicts, and why it needs attention."""
    now = now or utcnow()
    limits = _thresholds()
    q = sa.select(User).where(User.role == "inspector", User.active).order_by(User.name, User.id)
    if scope is not None:
        q = q.where(User.id.in_(sa.select(user_parks.c.user_id).where(user_parks.c.park_id.in_(sorted(scope)))))
    inspectors = list(db.session.execute(q).scalars())
    ids = [u.id for u in inspectors]
    rows: dict[tuple[int, str], dict] = {}
    if ids:
        for d in db.session.execute(sa.select(Device).where(Device.user_id.in_(ids))).scalars():
            r = rows.setdefault((d.user_id, d.device_id), _empty(d.device_id))
            r.update({k: getattr(d, k) for k in REPORT_FIELDS}, first_seen_at=d.first_seen_at,
                     reported_at=d.last_contact_at)
        for uid, device, last in db.session.execute(
                sa.select(Visit.recorded_by, Visit.device_id, sa.func.max(Visit.received_at))
                .where(Visit.recorded_by.in_(ids)).group_by(Visit.recorded_by, Visit.device_id)):
            rows.setdefault((uid, device or ""), _empty(device or ""))["last_visit_received_at"] = last
        for uid, device, n in db.session.execute(
                sa.select(SyncConflict.user_id, SyncConflict.device_id, sa.func.count())
                .where(SyncConflict.user_id.in_(ids), SyncConflict.resolved_at.is_(None))
                .group_by(SyncConflict.user_id, SyncConflict.device_id)):
            rows.setdefault((uid, device or ""), _empty(device or ""))["conflicts"] = n
    parks = {}
    if inspectors:
        for uid, code in db.session.execute(sa.select(user_parks.c.user_id, Park.code)
                                            .join(Park, Park.id == user_parks.c.park_id)
                                            .where(user_parks.c.user_id.in_(ids)).order_by(Park.code)):
            parks.setdefault(uid, []).append(code)
    items = []
    for user in inspectors:
        devices = sorted(((k[1], r) for k, r in rows.items() if k[0] == user.id),
                         key=lambda kv: (kv[1]["reported_at"] or kv[1]["last_visit_received_at"]
                                         or dt.datetime.min.replace(tzinfo=dt.timezone.utc)), reverse=True)
        out = []
        for _device, r in devices:
            times = [t for t in (r["reported_at"], r["last_visit_received_at"]) if t is not None]
            r["last_contact_at"] = max(times) if times else None
            r["reasons"] = reasons_for(r, now, limits)
            r["needs_attention"] = bool(r["reasons"])
            out.append(r)
        entry = {"user_id": user.id, "username": user.username, "name": user.name, "parks": parks.get(user.id, []),
                 "devices": out, "needs_attention": any(r["needs_attention"] for r in out),
                 "last_contact_at": max((r["last_contact_at"] for r in out if r["last_contact_at"]), default=None)}
        if attention_only and not entry["needs_attention"]:
            continue
        items.append(entry)
    return {"now": now, "thresholds": limits, "items": items,
            "needing_attention": sum(1 for i in items if i["needs_attention"])}

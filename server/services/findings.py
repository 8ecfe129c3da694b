"""The one way in for findings: every path (field sync, the demo city, imports) stores a
finding through `record_finding`, which looks up its history, classifies it with the policy
in force and stores facts, history and classification together, in the caller's
transaction, with an audit entry.

The classification is made once. The suggested tier and its rule id are never recomputed:
the final tier changes only by escalation (upward, automatic, rule E4) or by a supervisor's
or the legal reviewer's recorded decision (server/services/lifecycle.py).

Late findings. The history is the server's knowledge *when the finding arrives* (DOMAIN.md
section 2): the findings of the same violation type (catalogue code, any version of its
row) at the same site, discovered inside the policy's look-back window before this one's
discovery, not counting this visit's own. A finding that arrives late (a phone that synced
days afterwards) is classified against what is stored by then, which may include findings
made after it in the field; they are not counted, because only earlier discoveries are. The
findings already stored are never reclassified by its arrival: their suggestion stands as
made, and the late one counts as an earlier finding only for findings that arrive after it.

Discovery time is the visit's start, or the time the caller passes as `discovered_at` (field
sync passes the server's receive time when the device clock could not be trusted).
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from ..domain import classify as classifier
from ..domain.lifecycle import STATUTORY_FLAG
from ..domain.policy import default_policy
from ..domain.workdays import correction_deadline, local_date
from ..extensions import db
from ..models import (
    ChecklistItem, Finding, Order, Photo, Reinspection, Site, ToleranceRecord, ViolationType, Visit,
)
from ..models.vocab import DOMAINS
from . import audit, catalogue, policy as policy_service, webhooks
from .calendar import work_calendar
from .errors import Conflict, ServiceError

FACT_KEYS = ("severity", "harm", "intentional", "obstruction", "suspected_crime", "no_fault_proven",
             "corrected_on_spot")
FINDING_KEYS = frozenset({"id", "item", "violation_code", "domain", "note", "photo_ids", "discovered_at", *FACT_KEYS})
FAILED_REINSPECTIONS = ("failed", "partly")
FAILED_ORDERS = ("failed", "overdue")


def lookup_history(site_id: int, code: str | None, discovered_at: dt.datetime, visit_id: uuid.UUID,
                   window_days: int) -> dict:
    """The classifier's history of a finding (DOMAIN.md section 2), with the ids it counted.

    The earlier findings are those of the same code at the same site discovered in
    [discovered_at - window, discovered_at), on other visits. Among them: whether one closed on
    the tolerance path (it has a ledger entry), and whether one's order went overdue or failed
    its re-inspection (the same matter: same type, same site, same window).
    """
    since = discovered_at - dt.timedelta(days=window_days)
    if code is None:  # an advisory finding has no type, so nothing repeats it
        return {"repeats": 0, "earlier_tolerance_closed": False, "earlier_order_failed": False,
                "earlier_finding_ids": [], "window_days": window_days, "since": since.isoformat()}
    versions = sa.select(ViolationType.id).where(ViolationType.code == code).scalar_subquery()
    earlier = list(db.session.execute(
        sa.select(Finding.id).where(
            Finding.site_id == site_id, Finding.violation_type_id.in_(versions),
            Finding.discovered_at >= since, Finding.discovered_at < discovered_at, Finding.visit_id != visit_id,
        ).order_by(Finding.discovered_at, Finding.id)
    ).scalars())
    tolerance_closed = failed = False
    if earlier:
        tolerance_closed = db.session.execute(
            sa.select(sa.exists().where(ToleranceRecord.finding_id.in_(earlier)))).scalar()
        failed_reinspection = sa.exists().where(Reinspection.order_id == Order.id,
                                                Reinspection.outcome.in_(FAILED_REINSPECTIONS))
        failed = db.session.execute(sa.select(sa.exists().where(
            Order.finding_id.in_(earlier), sa.or_(Order.status.in_(FAILED_ORDERS), failed_reinspection)))).scalar()
    return {"repeats": len(earlier), "earlier_tolerance_closed": bool(tolerance_closed),
            "earlier_order_failed": bool(failed), "earlier_finding_ids": [str(i) for i in earlier],
            "window_days": window_days, "since": since.isoformat()}


def _uuid(value: Any, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise ServiceError(f"{field} must be a UUID, not {value!r}", (field,)) from None


def _discovered_at(visit: Visit, data: dict) -> dt.datetime:
    when = data.get("discovered_at") or visit.started_at
    if not isinstance(when, dt.datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ServiceError("the discovery time needs its UTC offset: its day decides the catalogue row and "
                           "the deadline", ("discovered_at",))
    return when


def _item_domain(visit: Visit, item: str | None) -> str | None:
    if not item or visit.checklist_template_id is None:
        return None
    return db.session.execute(sa.select(ChecklistItem.domain).where(
        ChecklistItem.template_id == visit.checklist_template_id, ChecklistItem.code == item)).scalar()


def _domain(visit: Visit, data: dict, row: ViolationType | None) -> str:
    sent = data.get("domain")
    if row is not None:
        if sent is not None and sent != row.domain:
            raise ServiceError(f"the domain of {row.code} is {row.domain}, the catalogue row's; the finding says "
                               f"{sent}: send {row.domain} or no domain", ("domain",))
        return row.domain
    domain = sent or _item_domain(visit, data.get("item")) or "other"
    if domain not in DOMAINS:
        raise ServiceError(f"domain must be one of {', '.join(DOMAINS)}", ("domain",))
    return domain


def attach_photos(finding_id: uuid.UUID, visit_id: uuid.UUID | None, photo_ids, purpose: str) -> int:
    """Link named photos to a finding; a photo not uploaded yet gets a row waiting for its bytes.
    A photo of another finding is refused. Answers how many still wait for their bytes."""
    waiting = 0
    for raw in photo_ids or ():
        pid = _uuid(raw, "photo_ids")
        photo = db.session.get(Photo, pid)
        if photo is None:
            photo = Photo(id=pid, finding_id=finding_id, visit_id=visit_id, status="waiting", purpose=purpose)
            db.session.add(photo)
        elif photo.finding_id not in (None, finding_id):
            raise Conflict(f"photo {pid} belongs to finding {photo.finding_id}", ("photo_ids",))
        else:
            photo.finding_id = finding_id
            photo.visit_id = photo.visit_id or visit_id
            photo.purpose = photo.purpose or purpose
        waiting += photo.status == "waiting"
    return waiting


def record_finding(visit: Visit, data: dict, actor_id: int | None) -> Finding:
    """Store and classify one finding of `visit` in the caller's transaction (no commit).

    `data` holds the finding's own fields as the sync record carries them: id, item,
    violation_code (None for an advisory finding), severity, harm, intentional, obstruction,
    suspected_crime, no_fault_proven, corrected_on_spot, note, photo_ids, and optionally
    domain (refused when it differs from the catalogue row's) and discovered_at.
    """
    unknown = sorted(set(data) - FINDING_KEYS)
    if unknown:
        raise ServiceError(f"a finding has no field {', '.join(unknown)}", tuple(unknown))
    if "id" not in data:
        raise ServiceError("a finding needs its id (a UUID made on the phone)", ("id",))
    finding_id = _uuid(data["id"], "id")
    if db.session.get(Finding, finding_id) is not None:
        raise Conflict(f"finding {finding_id} is already stored", ("id",))
    version = policy_service.current()
    policy = {**default_policy(), **version.values}
    timezone = policy["timezone"]
    discovered_at = _discovered_at(visit, data)
    day = local_date(discovered_at, timezone)
    site = db.session.get(Site, visit.site_id)
    code = data.get("violation_code") or None
    row = None
    if code is not None:
        row = catalogue.in_force(code, day)
        if row is None:
            raise ServiceError(f"no catalogue row {code} is in force on {day.isoformat()}", ("violation_code",))
    domain = _domain(visit, data, row)
    facts = {"harm": "none", **{k: data[k] for k in FACT_KEYS if k in data}}
    facts.setdefault("severity", None)
    history = lookup_history(site.id, code, discovered_at, visit.id, int(policy["repeat_window_days"]))
    classifier_history = {k: history[k] for k in ("repeats", "earlier_tolerance_closed", "earlier_order_failed")}
    try:
        result = classifier.classify(row, facts, classifier_history, policy)
    except classifier.InvalidFacts as e:
        raise ServiceError(f"the finding's facts cannot be classified: {e}", tuple(e.errors)) from None
    deadline = (correction_deadline(discovered_at, row.correction_days, row.correction_unit, work_calendar(),
                                    timezone) if row is not None else None)
    flags = list(result.flags)
    status = "legal_review" if STATUTORY_FLAG in flags else "awaiting_review"
    finding = Finding(
        id=finding_id, visit_id=visit.id, site_id=site.id, park_id=site.park_id, item_code=data.get("item"),
        violation_type_id=row.id if row is not None else None, domain=domain, discovered_at=discovered_at,
        **{k: facts[k] for k in FACT_KEYS if k in facts}, note=data.get("note") or "",
        repeats=history["repeats"], earlier_tolerance_closed=history["earlier_tolerance_closed"],
        earlier_order_failed=history["earlier_order_failed"],
        suggested_tier=result.tier, final_tier=result.tier, rule_id=result.rule_id, flags=flags,
        tolerance_path=result.tolerance_path, explanation_zh=result.explanation_zh,
        explanation_en=result.explanation_en, policy_version=version.version, correction_deadline=deadline,
        status=status,
        # A management finding's clock is its correction deadline until an order sets its own.
        next_deadline=deadline if result.tier == "management" else None,
    )
    db.session.add(finding)
    db.session.flush()
    if data.get("photo_ids"):
        finding.photos_waiting = attach_photos(finding.id, visit.id, data["photo_ids"], "finding")
    audit.record("finding.create", "finding", finding.id, {
        "visit": str(visit.id), "site": site.id, "violation_code": code, "domain": domain,
        "facts": {k: facts[k] for k in FACT_KEYS if k in facts}, "history": history,
        "suggested_tier": result.tier, "rule_id": result.rule_id, "flags": flags,
        "tolerance_path": result.tolerance_path, "policy_version": version.version,
        "correction_deadline": deadline.isoformat() if deadline else None, "status": status,
    }, actor_id)
    webhooks.emit("finding.created", finding=finding)
    return finding

"""The supervisor's queue (GET /api/findings) and a finding's detail (GET /api/findings/<id>).

The queue's order is urgency: expired clocks first (the longest expired at the top), then
the nearest deadline, then findings with no running clock; inside a day, enforcement before
management before service, then severity from major hazard down; then the id, so that the
order is total and a keyset page never skips or repeats a row. The database derives the
key (`queue_due`, `queue_rank`: see server/models/findings.py) and keeps it in an index, so
the first page is read off the index whatever else changed the finding.

"Today" is the bureau's date in the policy's time zone: a deadline expires after its day.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from ..domain.policy import DEFAULT_POLICY, default_policy
from ..extensions import db
from ..models import (
    AuditEntry, Case, EducationRecord, Finding, LegalReview, Order, Park, Photo, PolicyVersion, Reinspection, Site,
    ToleranceRecord, User, ViolationType, Visit,
)
from ..models.findings import QUEUE_NO_DEADLINE
from . import cursors
from .errors import NotFound, ServiceError
from .lifecycle import tolerance_checklist as gather_checklist

CLOSED_STATUSES = ("closed", "closed_no_penalty")
_CURSOR_KEY = (cursors.a_date, cursors.a_small_int, cursors.a_uuid)


@dataclasses.dataclass(frozen=True)
class QueueFilters:
    """Each narrows the queue; any may be combined with the others."""

    tier: str | None = None  # the final tier
    status: str | None = None
    park: int | None = None
    domain: str | None = None
    enterprise: int | None = None  # a site id
    overdue: bool | None = None  # true: the clock has expired; false: it has not (or there is none)
    due_within: int | None = None  # the clock runs out today or within this many days, not yet expired
    flagged: bool | None = None  # true: flagged for statutory minor review and not yet reviewed
    off_site: bool | None = None  # true: found on a visit the geofence judged off site


def policy_values() -> dict:
    """The policy in force, read without writing (a GET never creates the first version)."""
    row = db.session.execute(
        sa.select(PolicyVersion.values).order_by(PolicyVersion.version.desc()).limit(1)).scalar()
    return {**DEFAULT_POLICY, **(row or {})}  # read only: the defaults are shared, not copied


def bureau_today(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


def photo_thumb_url(photo_id: uuid.UUID) -> str:
    return f"/api/photos/{photo_id}/thumb"


def photo_url(photo_id: uuid.UUID) -> str:
    return f"/api/photos/{photo_id}"


# --- the queue ----------------------------------------------------------------------------


# EXISTS (SELECT 1 ...), not SQLAlchemy's default SELECT *: SQLite answers the former from an
# index alone (ix_visits_id_geofence) and reads the table row for the latter.
def _not_reviewed():
    """No legal review of the finding itself yet (a review of a case before decision is another matter)."""
    return ~sa.select(sa.literal(1)).where(LegalReview.finding_id == Finding.id, LegalReview.case_id.is_(None)).exists()


def _off_site():
    return sa.select(sa.literal(1)).where(Visit.id == Finding.visit_id, Visit.geofence == "off_site").exists()


# Which filter the engine walks the urgency order by: the first of these present. Each has
# an index that starts with its column and continues with the order's key, so the engine reads
# the page in order, stops after it, and never sorts (the indexes are in server/models/findings.py
# and docs/performance.md). SQLite keeps no statistics to tell which of two such indexes narrows
# more, and a wrong guess costs a scan of tens of thousands of entries: so only the walked
# filter is written as an indexable comparison, and the others as expressions no index serves
# (`col + 0`, `col || ''`), which SQLite checks against the columns the walked index carries.
# PostgreSQL, whose planner has statistics, is served by the same indexes.
DRIVERS = ("enterprise", "flagged", "status", "tier", "domain", "park")
_COLUMNS = {"enterprise": Finding.site_id, "status": Finding.status, "tier": Finding.final_tier,
            "domain": Finding.domain, "park": Finding.park_id}


def _unindexed(column):
    """The column as an expression no index serves (the same value)."""
    return column + 0 if isinstance(column.type, sa.Integer) else column.concat("")


def driver(filters: QueueFilters, scope: set[int] | None) -> str | None:
    """The filter whose index the queue's query walks (None: the urgency order's own index)."""
    values = dataclasses.asdict(filters)
    for name in DRIVERS:
        if name == "flagged" and filters.flagged:
            return name
        if name != "flagged" and values[name] is not None:
            return name
    if scope is not None and len(scope) == 1:
        return "park"
    return None


def queue_conditions(filters: QueueFilters, scope: set[int] | None, today: dt.date) -> list:
    walked = driver(filters, scope)
    conds = []

    def equal(name: str, value) -> None:
        column = _COLUMNS[name]
        conds.append((column if name == walked else _unindexed(column)) == value)

    if scope is not None:
        if len(scope) == 1 and walked == "park" and filters.park is None:
            equal("park", next(iter(scope)))
        else:
            conds.append(_unindexed(Finding.park_id).in_(sorted(scope)))
    for name in ("park", "tier", "status", "domain", "enterprise"):
        value = getattr(filters, name)
        if value is not None:
            equal(name, value)
    if filters.overdue is not None:
        conds.append(Finding.queue_due < today if filters.overdue else Finding.queue_due >= today)
    if filters.due_within is not None:
        conds.append(Finding.queue_due.between(today, today + dt.timedelta(days=filters.due_within)))
    if filters.flagged is not None:
        flag = Finding.legal_flag if walked == "flagged" else sa.case((Finding.legal_flag, 1), else_=0) == 1
        awaiting = sa.and_(flag, _not_reviewed())
        conds.append(awaiting if filters.flagged else ~awaiting)
    if filters.off_site is not None:
        conds.append(_off_site() if filters.off_site else ~_off_site())
    return conds


def queue_select(filters: QueueFilters, scope: set[int] | None, today: dt.date, after: tuple | None = None,
                 limit: int | None = None) -> sa.Select:
    """The page's keys, in urgency order (the benchmark and the tests explain this statement)."""
    key = (Finding.queue_due, Finding.queue_rank, Finding.id)
    conds = queue_conditions(filters, scope, today)
    if after is not None:
        conds.append(sa.tuple_(*key) > sa.tuple_(
            sa.literal(after[0], sa.Date), sa.literal(after[1], sa.SmallInteger), sa.literal(after[2], sa.Uuid)))
    stmt = sa.select(*key).where(*conds).order_by(*key)
    return stmt if limit is None else stmt.limit(limit)


def check_filters(filters: QueueFilters, scope: set[int] | None) -> None:
    """Refuse filters that name nothing, contradict each other, or reach outside the caller's parks."""
    if filters.overdue and filters.due_within is not None:
        raise ServiceError("overdue=true and due_within exclude each other: due_within counts clocks "
                           "that have not expired yet; send one of them", ("due_within",), location="query")
    if filters.park is not None:
        if db.session.get(Park, filters.park) is None:
            raise ServiceError(f"no park with id {filters.park}", ("park",), location="query")
        if scope is not None and filters.park not in scope:
            raise ServiceError("this park is not one you are assigned to", ("park",), status=403,
                               location="query")
    if filters.enterprise is not None:
        site = db.session.execute(
            sa.select(Site.id, Site.park_id).where(Site.id == filters.enterprise)).first()
        if site is None:
            raise ServiceError(f"no enterprise (site) with id {filters.enterprise}", ("enterprise",),
                               location="query")
        if scope is not None and site.park_id not in scope:
            raise ServiceError("this enterprise is in a park you are not assigned to", ("enterprise",),
                               status=403, location="query")
        if filters.park is not None and site.park_id != filters.park:
            raise ServiceError(f"enterprise {filters.enterprise} is in park {site.park_id}, not in park "
                               f"{filters.park}: nothing can match both", ("enterprise",), location="query")


def list_findings(filters: QueueFilters, scope: set[int] | None, limit: int = 50, cursor: str | None = None,
                  today: dt.date | None = None) -> dict:
    """One page of the queue and the cursor of the next (None on the last page)."""
    check_filters(filters, scope)
    after = cursors.decode("findings", filters, cursor, _CURSOR_KEY) if cursor else None
    if today is None:
        today = bureau_today(policy_values()["timezone"])
    keys = db.session.execute(queue_select(filters, scope, today, after, limit + 1)).all()
    more = len(keys) > limit
    keys = keys[:limit]
    next_cursor = None
    if more:
        due, rank, last_id = keys[-1]
        next_cursor = cursors.encode("findings", filters, [due.isoformat(), rank, str(last_id)])
    return {"items": rows_for([k.id for k in keys], today), "next_cursor": next_cursor}


# The page's rows and photos, for a list of ids: built once (a statement built per request
# costs more CPU than the query does).
_ROW_SELECT = (
    sa.select(
        Finding.id, Finding.domain, Finding.severity, Finding.suggested_tier, Finding.final_tier,
        Finding.rule_id, Finding.flags, Finding.status, Finding.discovered_at, Finding.queue_due,
        Finding.legal_flag, _not_reviewed().label("not_reviewed"),
        Site.id, Site.name, Park.id, Park.code, Park.name_zh, Park.name_en,
        ViolationType.code, ViolationType.name_zh, ViolationType.name_en, Visit.geofence,
    )
    .join(Site, Site.id == Finding.site_id)
    .join(Park, Park.id == Finding.park_id)
    .join(Visit, Visit.id == Finding.visit_id)
    .outerjoin(ViolationType, ViolationType.id == Finding.violation_type_id)
    .where(Finding.id.in_(sa.bindparam("ids", expanding=True)))
)
_PHOTO_SELECT = (
    sa.select(Photo.id, Photo.finding_id)
    .where(Photo.finding_id.in_(sa.bindparam("ids", expanding=True)), Photo.status == "stored")
    .order_by(Photo.finding_id, Photo.captured_at, Photo.id)
)


def _stored_photos(finding_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The finding's photos whose bytes the server holds, in the order they were taken."""
    out: dict[uuid.UUID, list[dict]] = {}
    if finding_ids:
        for photo_id, finding_id in db.session.execute(_PHOTO_SELECT, {"ids": finding_ids}):
            out.setdefault(finding_id, []).append({"id": photo_id, "thumb": photo_thumb_url(photo_id)})
    return out


def clock(queue_due: dt.date, today: dt.date) -> tuple[dt.date | None, int | None]:
    """The next deadline and the days left to it (negative once expired), or none."""
    if queue_due == QUEUE_NO_DEADLINE:
        return None, None
    return queue_due, (queue_due - today).days


def _row(r, photos: list[dict], today: dt.date) -> dict:
    (fid, domain, severity, suggested_tier, final_tier, rule_id, flags, status, discovered_at, queue_due,
     legal_flag, not_reviewed, site_id, site_name, park_id, park_code, park_name_zh, park_name_en,
     vt_code, vt_name_zh, vt_name_en, geofence) = r
    deadline, days_left = clock(queue_due, today)
    return {
        "id": fid,
        "enterprise": {"id": site_id, "name": site_name},
        "park": {"id": park_id, "code": park_code, "name_zh": park_name_zh, "name_en": park_name_en},
        "domain": domain,
        "violation": None if vt_code is None else {"code": vt_code, "name_zh": vt_name_zh, "name_en": vt_name_en},
        "severity": severity,
        "suggested_tier": suggested_tier,
        "final_tier": final_tier,
        "rule_id": rule_id,
        "flags": list(flags or []),
        "legal_review_pending": bool(legal_flag and not_reviewed),
        "status": status,
        "discovered_at": discovered_at,
        "next_deadline": deadline,
        "days_left": days_left,
        "geofence": geofence,
        "photos": photos,
    }


def rows_for(ids: list[uuid.UUID], today: dt.date) -> list[dict]:
    """The queue's rows of these findings, in the order given."""
    if not ids:
        return []
    by_id = {r[0]: r for r in db.session.execute(_ROW_SELECT, {"ids": ids})}
    photos = _stored_photos(ids)
    return [_row(by_id[i], photos.get(i, []), today) for i in ids]


# --- one finding --------------------------------------------------------------------------


def _lonlat(geom) -> dict | None:
    if geom is None:
        return None
    p = to_shape(geom)
    return {"lon": p.x, "lat": p.y}


def _history(finding: Finding, related: dict[str, list]) -> list[dict]:
    """The audit entries of the finding and of what hangs off it, oldest first (chain order)."""
    ors = [sa.and_(AuditEntry.entity_type == "finding",
                   AuditEntry.entity_id.in_([str(finding.id), finding.id.hex]))]
    for entity_type, ids in related.items():
        if ids:
            ors.append(sa.and_(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_([str(i) for i in ids])))
    rows = db.session.execute(
        sa.select(AuditEntry, User.name).outerjoin(User, User.id == AuditEntry.actor_id)
        .where(sa.or_(*ors)).order_by(AuditEntry.id)
    ).all()
    return [{"id": e.id, "at": e.at, "action": e.action, "entity_type": e.entity_type, "entity_id": e.entity_id,
             "actor": None if e.actor_id is None else {"id": e.actor_id, "name": name},
             "summary": e.summary} for e, name in rows]


def _photo(p: Photo) -> dict:
    return {"id": p.id, "status": p.status, "purpose": p.purpose, "captured_at": p.captured_at,
            "received_at": p.received_at, "sha256": p.sha256, "visit_id": p.visit_id,
            "url": photo_url(p.id) if p.status == "stored" else None,
            "thumb": photo_thumb_url(p.id) if p.status == "stored" else None}


def _as_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _proves(r: Reinspection, p: Photo) -> bool:
    """A photo of this re-inspection: listed with it, or taken on its visit."""
    return (r.visit_id is not None and p.visit_id == r.visit_id) or str(p.id) in {
        str(_as_uuid(i)) for i in (r.photo_ids or [])}


def _names(user_ids) -> dict[int, str]:
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _person(names: dict[int, str], user_id: int | None) -> dict | None:
    return None if user_id is None else {"id": user_id, "name": names.get(user_id, "")}


def finding_or_404(finding_id: uuid.UUID) -> Finding:
    finding = db.session.get(Finding, finding_id)
    if finding is None:
        raise NotFound(f"no finding with id {finding_id}")
    return finding


def check_scope(finding: Finding, scope: set[int] | None) -> None:
    if scope is not None and finding.park_id not in scope:
        raise ServiceError("this finding belongs to a park you are not assigned to", status=403)


def finding_detail(finding_id: uuid.UUID, scope: set[int] | None, today: dt.date | None = None) -> dict:
    finding = finding_or_404(finding_id)
    check_scope(finding, scope)
    policy = policy_values()
    timezone = policy["timezone"]
    if today is None:
        today = bureau_today(timezone)
    fid = finding.id
    row = rows_for([fid], today)[0]
    visit = db.session.get(Visit, finding.visit_id)
    site = db.session.get(Site, finding.site_id)
    vt = db.session.get(ViolationType, finding.violation_type_id) if finding.violation_type_id else None
    orders = list(db.session.execute(
        sa.select(Order).where(Order.finding_id == fid).order_by(Order.issued_at, Order.id)).scalars())
    order_ids = [o.id for o in orders]
    reinspections = list(db.session.execute(
        sa.select(Reinspection).where(Reinspection.order_id.in_(order_ids)).order_by(Reinspection.at, Reinspection.id)
    ).scalars()) if order_ids else []
    case = db.session.execute(sa.select(Case).where(Case.finding_id == fid)).scalar()
    reviews = list(db.session.execute(
        sa.select(LegalReview).where(LegalReview.finding_id == fid).order_by(LegalReview.at, LegalReview.id)).scalars())
    education = list(db.session.execute(
        sa.select(EducationRecord).where(EducationRecord.finding_id == fid)
        .order_by(EducationRecord.at, EducationRecord.id)).scalars())
    ledger = db.session.execute(sa.select(ToleranceRecord).where(ToleranceRecord.finding_id == fid)).scalar()
    # The finding's own photos, and those of its re-inspections: the photos a re-inspection was
    # recorded with and those of its visit (not the photos of other findings on that visit).
    reinspection_visits = {r.visit_id for r in reinspections if r.visit_id}
    listed = {_as_uuid(i) for r in reinspections for i in (r.photo_ids or [])} - {None}
    photos = list(db.session.execute(
        sa.select(Photo).where(sa.or_(
            Photo.finding_id == fid,
            sa.and_(Photo.visit_id.in_(sorted(reinspection_visits, key=str)),
                    sa.or_(Photo.finding_id.is_(None), Photo.finding_id == fid)),
            Photo.id.in_(sorted(listed, key=str)),
        )).order_by(Photo.captured_at, Photo.id)).scalars())
    photos_of = {r.id: [p for p in photos if _proves(r, p)] for r in reinspections}
    names = _names([o.issued_by for o in orders] + [r.recorded_by for r in reinspections]
                   + [r.reviewer_id for r in reviews] + [e.by_user for e in education]
                   + ([case.filed_by, case.investigator1_id, case.investigator2_id] if case else [])
                   + ([ledger.conditions_confirmed_by] if ledger else []) + [visit.recorded_by])
    history = _history(finding, {
        "order": order_ids, "case": [case.id] if case else [], "legal_review": [r.id for r in reviews],
        "reinspection": [r.id for r in reinspections], "education_record": [e.id for e in education],
        "tolerance_record": [ledger.id] if ledger else [], "photo": [p.id for p in photos],
    })
    lookup_policy = db.session.get(PolicyVersion, finding.policy_version)
    window = {**default_policy(), **(lookup_policy.values if lookup_policy else {})}["repeat_window_days"]
    checklist = tolerance_checklist(finding)
    of_reinspections = {p.id for ps in photos_of.values() for p in ps}
    finding_photos = [p for p in photos if p.id not in of_reinspections]
    reinspection_rows = {o.id: [] for o in orders}
    for r in reinspections:
        reinspection_rows[r.order_id].append({
            "id": r.id, "outcome": r.outcome, "at": r.at, "visit_id": r.visit_id, "note": r.note,
            "recorded_by": _person(names, r.recorded_by),
            "photos": [_photo(p) for p in photos_of[r.id]],
        })
    return {
        **row,
        "photos": [_photo(p) for p in finding_photos],
        "item_code": finding.item_code,
        "note": finding.note,
        "facts": {
            "severity": finding.severity, "harm": finding.harm, "intentional": finding.intentional,
            "obstruction": finding.obstruction, "suspected_crime": finding.suspected_crime,
            "no_fault_proven": finding.no_fault_proven, "corrected_on_spot": finding.corrected_on_spot,
        },
        "lookup": {
            "repeats": finding.repeats, "earlier_tolerance_closed": finding.earlier_tolerance_closed,
            "earlier_order_failed": finding.earlier_order_failed,
            "window_days": window,
        },
        "classification": {
            "suggested_tier": finding.suggested_tier, "final_tier": finding.final_tier, "rule_id": finding.rule_id,
            "flags": list(finding.flags or []), "tolerance_path": finding.tolerance_path,
            "explanation": {"zh": finding.explanation_zh, "en": finding.explanation_en},
            "policy_version": finding.policy_version, "tier_reason": finding.tier_reason,
            "correction_deadline": finding.correction_deadline,
        },
        "violation_type": None if vt is None else {
            "id": vt.id, "code": vt.code, "domain": vt.domain, "name_zh": vt.name_zh, "name_en": vt.name_en,
            "violated_provision": vt.violated_provision, "penalty_provision": vt.penalty_provision,
            "penalty_trigger": vt.penalty_trigger, "tolerance_type": vt.tolerance_type,
            "list_conditions": vt.list_conditions, "correction_days": vt.correction_days,
            "correction_unit": vt.correction_unit, "effective_from": vt.effective_from,
            "effective_to": vt.effective_to,
        },
        "visit": {
            "id": visit.id, "kind": visit.kind, "started_at": visit.started_at, "finished_at": visit.finished_at,
            "recorded_by": _person(names, visit.recorded_by), "geofence": visit.geofence,
            "distance_m": visit.distance_m, "fix_accuracy_m": visit.fix_accuracy_m,
            "certificates_shown": visit.certificates_shown, "party_refused": visit.party_refused,
        },
        "map": {
            "visit_fix": _lonlat(visit.fix), "fix_accuracy_m": visit.fix_accuracy_m,
            "site": _lonlat(site.geom),
        },
        "tolerance_checklist": checklist,
        "orders": [{
            "id": o.id, "number": o.number, "issued_at": o.issued_at, "issued_by": _person(names, o.issued_by),
            "deadline": o.deadline, "reinspection_due": o.reinspection_due, "commitment": o.commitment,
            "status": o.status, "closed_at": o.closed_at, "reinspections": reinspection_rows[o.id],
        } for o in orders],
        "case": None if case is None else {
            "id": case.id, "number": case.number, "status": case.status, "filed_at": case.filed_at,
            "filed_by": _person(names, case.filed_by),
            "investigators": [_person(names, case.investigator1_id), _person(names, case.investigator2_id)],
            "decision_due": case.decision_due, "notified_at": case.notified_at,
            "party_statement": case.party_statement, "hearing_requested_at": case.hearing_requested_at,
            "hearing_held_at": case.hearing_held_at, "legal_review_required": case.legal_review_required,
            "decision": case.decision, "decision_note": case.decision_note, "fine_yuan": case.fine_yuan,
            "decided_at": case.decided_at, "served_at": case.served_at, "paid_at": case.paid_at,
            "closed_at": case.closed_at, "transferred_at": case.transferred_at,
        },
        "legal_reviews": [{
            "id": r.id, "case_id": r.case_id, "reviewer": _person(names, r.reviewer_id), "outcome": r.outcome,
            "reason": r.reason, "at": r.at,
        } for r in reviews],
        "education_records": [{"id": e.id, "by": _person(names, e.by_user), "at": e.at, "text": e.text}
                              for e in education],
        "tolerance_record": None if ledger is None else {
            "id": ledger.id, "closed_at": ledger.closed_at,
            "conditions_confirmed_by": _person(names, ledger.conditions_confirmed_by),
            "first_offence_lookup": ledger.first_offence_lookup,
        },
        "history": history,
    }


def tolerance_checklist(finding: Finding) -> dict:
    """DOMAIN.md section 4's checklist as it stands: the same facts the closing checks
    (server/services/lifecycle.py gathers them, server/domain/tolerance.py decides)."""
    result = gather_checklist(finding)
    return {"applies": result.applies, "why": result.why, "complete": result.complete,
            "items": [dataclasses.asdict(i) for i in result.items], "missing": result.missing}

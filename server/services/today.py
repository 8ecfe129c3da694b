"""Today's work for an inspector: everything the phone needs to work offline for the day
(DESIGN.md "How data flows", step 1).

The stops come from the day's published plan when the inspector is on one of its routes
(`source: "plan"`). Until a plan is published for the day (or when the inspector is on
none of its routes) the phone gets a working list instead (`source: "fallback"`): the
sites of the inspector's parks with a re-inspection due (an open order whose correction
period is over, the earliest re-inspection date first), then the sites unvisited for
longest (never visited first, the riskiest first among equals), at most `FALLBACK_LIMIT`,
never a site the inspector declared a conflict of interest with (回避).

The answer is a pure function of the stored data and the day, so its hash is an ETag: a
re-fetch that changed nothing answers 304.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import selectinload

from ..domain import geofence
from ..domain.canonical import content_hash
from ..domain.classify import RULES
from ..domain.workdays import local_date
from ..extensions import db
from ..models import (
    ChecklistTemplate, ConflictDeclaration, Finding, Order, Plan, PlanStop, Reinspection, Route, Site,
    ToleranceRecord, User, ViolationType, Visit, route_officers, user_parks,
)
from ..models.types import utcnow
from . import sync
from .sync import policy_in_force  # planning and draws read the policy through here too
from .findings import FAILED_ORDERS, FAILED_REINSPECTIONS

FALLBACK_LIMIT = 30
OPEN_ORDER_STATUSES = ("open", "overdue")
RISK_ORDER = ("very_high", "high", "medium", "low")
# The policy values the phone reads: the classifier's knobs (for its preliminary tier),
# the clock and the on-site proof.
PHONE_POLICY_KEYS = tuple(RULES.policy_keys) + (
    "timezone", "repeat_window_days", "device_clock_tolerance_h", "geofence_radius_m", "gps_accuracy_threshold_m",
)
# Photo limits the phone shrinks to before upload (the photo service enforces the byte limit).
DEFAULT_PHOTO_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_PHOTO_LONG_EDGE_PX = 2048
DEFAULT_PHOTO_JPEG_QUALITY = 0.85


def upload_limits() -> dict:
    cfg = current_app.config
    return {
        **sync.limits(),
        "photo_max_bytes": int(cfg.get("PHOTO_MAX_BYTES", DEFAULT_PHOTO_MAX_BYTES)),
        "photo_long_edge_px": int(cfg.get("PHOTO_LONG_EDGE_PX", DEFAULT_PHOTO_LONG_EDGE_PX)),
        "photo_jpeg_quality": float(cfg.get("PHOTO_JPEG_QUALITY", DEFAULT_PHOTO_JPEG_QUALITY)),
    }


def today(user: User, now: dt.datetime | None = None) -> dict:
    """Everything the phone needs for the day, and its ETag."""
    version, values = policy_in_force()
    now = now or utcnow()
    day = local_date(now, values["timezone"])
    source, plan_info, stops = _plan_stops(user, day)
    if source is None:
        source, plan_info, stops = "fallback", None, _fallback_stops(user, day)
    _describe_sites(stops, day, now, int(values["repeat_window_days"]))
    body = {
        "day": day.isoformat(),
        "timezone": values["timezone"],
        "source": source,
        "plan": plan_info,
        "stops": stops,
        "checklists": _checklists(),
        "catalogue": _catalogue(day),
        "rules": RULES.data,
        "policy": {"version": version, "values": {k: values[k] for k in PHONE_POLICY_KEYS}},
        "geofence": {"radius_m": float(values["geofence_radius_m"]),
                     "accuracy_threshold_m": float(values["gps_accuracy_threshold_m"]),
                     "near_factor": geofence.NEAR_FACTOR},
        "limits": upload_limits(),
        "team": _team(user, day),
    }
    return {"etag": content_hash(body), "body": body}


# --- stops -------------------------------------------------------------------------------


def _plan_stops(user: User, day: dt.date) -> tuple[str | None, dict | None, list[dict]]:
    plan = db.session.execute(sa.select(Plan).where(Plan.day == day, Plan.status == "published")).scalar()
    if plan is None:
        return None, None, []
    on_route = sa.select(route_officers.c.route_id).where(route_officers.c.user_id == user.id)
    route = db.session.execute(sa.select(Route).where(
        Route.plan_id == plan.id, sa.or_(Route.team_lead_id == user.id, Route.id.in_(on_route)))
        .order_by(Route.id).limit(1)).scalar()
    if route is None:
        return None, None, []
    officer_ids = sorted({route.team_lead_id, *(u.id for u in route.officers)})
    rows = db.session.execute(sa.select(PlanStop).where(PlanStop.route_id == route.id)
                              .order_by(PlanStop.seq, PlanStop.id)).scalars()
    stops = [{
        "seq": n, "plan_stop_id": s.id, "site_id": s.site_id, "kind": s.kind,
        # A generated plan keeps each reason with its dates (server/services/planning.py); the phone reads its code.
        "reasons": [r.get("code", "") if isinstance(r, dict) else r for r in (s.reasons or [])],
        "order_id": s.order_id, "status": s.status, "visit_id": str(s.visit_id) if s.visit_id else None,
        "eta_min": s.eta_min,
    } for n, s in enumerate(rows, start=1)]
    info = {"id": plan.id, "route_id": route.id, "team_lead_id": route.team_lead_id, "officer_ids": officer_ids,
            "distance_km": route.distance_km, "duration_min": route.duration_min}
    return "plan", info, stops


def _fallback_stops(user: User, day: dt.date) -> list[dict]:
    scope = user.park_ids
    if not scope:
        return []
    avoided = sa.select(ConflictDeclaration.site_id).where(ConflictDeclaration.user_id == user.id)
    due = db.session.execute(
        sa.select(Order.id, Finding.site_id)
        .join(Finding, Finding.id == Order.finding_id)
        .join(Site, Site.id == Finding.site_id)
        .where(Order.status.in_(OPEN_ORDER_STATUSES), Order.deadline < day, Site.park_id.in_(scope),
               Site.active.is_(True), Site.id.not_in(avoided))
        .order_by(Order.reinspection_due, Order.id)).all()
    stops: list[dict] = []
    by_site: dict[int, dict] = {}
    for order_id, site_id in due:
        if site_id in by_site:
            by_site[site_id]["order_ids"].append(order_id)
            continue
        if len(stops) == FALLBACK_LIMIT:
            continue
        stop = {"site_id": site_id, "kind": "reinspection", "reasons": ["reinspection_due"], "order_id": order_id,
                "order_ids": [order_id]}
        by_site[site_id] = stop
        stops.append(stop)
    room = FALLBACK_LIMIT - len(stops)
    if room > 0:
        last = (sa.select(Visit.site_id, sa.func.max(Visit.started_at).label("at"))
                .group_by(Visit.site_id).subquery())
        risk = sa.case({g: i for i, g in enumerate(RISK_ORDER)}, value=Site.risk_grade, else_=len(RISK_ORDER))
        rows = db.session.execute(
            sa.select(Site.id, last.c.at).outerjoin(last, last.c.site_id == Site.id)
            .where(Site.park_id.in_(scope), Site.active.is_(True), Site.id.not_in(avoided),
                   Site.id.not_in(list(by_site) or [0]))
            .order_by(sa.nulls_first(last.c.at.asc()), risk, Site.id).limit(room)).all()
        for site_id, at in rows:
            stops.append({"site_id": site_id, "kind": "routine",
                          "reasons": ["never_visited" if at is None else "longest_unvisited"],
                          "order_id": None, "order_ids": []})
    for n, stop in enumerate(stops, start=1):
        stop.update(seq=n, plan_stop_id=None, status="planned", visit_id=None, eta_min=None)
        del stop["order_ids"]
    return stops


def _describe_sites(stops: list[dict], day: dt.date, now: dt.datetime, window_days: int) -> None:
    """Each stop's site: location, grades, flags, last visit, open orders, and the history the
    classifier reads for a finding made there now."""
    ids = sorted({s["site_id"] for s in stops})
    if not ids:
        return
    sites = {s.id: s for s in db.session.execute(sa.select(Site).where(Site.id.in_(ids))).scalars()}
    last_at = (sa.select(Visit.site_id, sa.func.max(Visit.started_at).label("at"))
               .where(Visit.site_id.in_(ids)).group_by(Visit.site_id).subquery())
    last_visits = {}
    for v in db.session.execute(sa.select(Visit).join(
            last_at, sa.and_(last_at.c.site_id == Visit.site_id, last_at.c.at == Visit.started_at))
            .order_by(Visit.id)).scalars():
        last_visits.setdefault(v.site_id, {
            "id": str(v.id), "started_at": v.started_at.isoformat(), "kind": v.kind, "geofence": v.geofence})
    orders: dict[int, list[dict]] = {}
    for order, finding, vt in db.session.execute(
            sa.select(Order, Finding, ViolationType)
            .join(Finding, Finding.id == Order.finding_id)
            .outerjoin(ViolationType, ViolationType.id == Finding.violation_type_id)
            .where(Finding.site_id.in_(ids), Order.status.in_(OPEN_ORDER_STATUSES))
            .order_by(Order.deadline, Order.id)).all():
        orders.setdefault(finding.site_id, []).append({
            "id": order.id, "number": order.number, "status": order.status, "commitment": order.commitment,
            "deadline": order.deadline.isoformat(), "reinspection_due": order.reinspection_due.isoformat(),
            "reinspection_open": order.deadline < day,
            "finding": {"id": str(finding.id), "domain": finding.domain, "severity": finding.severity,
                        "violation_code": vt.code if vt else None,
                        "name_zh": vt.name_zh if vt else "", "name_en": vt.name_en if vt else "",
                        "final_tier": finding.final_tier, "note": finding.note},
        })
    history = _history(ids, now, window_days)
    for stop in stops:
        site = sites[stop["site_id"]]
        point = to_shape(site.geom)
        stop["site"] = {
            "id": site.id, "park_id": site.park_id, "kind": site.kind, "name": site.name,
            "credit_code": site.credit_code, "address": site.address, "industry": site.industry,
            "lon": point.x, "lat": point.y,
            "grades": {"risk": site.risk_grade, "credit_class": site.credit_class, "safety_std": site.safety_std_grade},
            "flags": {"hazchem": site.is_hazchem, "major_hazard": site.is_major_hazard,
                      "key_polluter": site.is_key_polluter, "key_object": site.is_key_object},
            "contact_name": site.contact_name, "contact_phone": site.contact_phone,
            "last_visit": last_visits.get(site.id),
            "open_orders": orders.get(site.id, []),
            "history": history.get(site.id, []),
        }


def _history(site_ids: list[int], now: dt.datetime, window_days: int) -> dict[int, list[dict]]:
    """Per site and violation code, what the findings service looks up when a finding of that
    code arrives (server/services/findings.py, lookup_history): the earlier findings of the
    code there inside the policy's window, whether one of them closed on the tolerance path, and
    whether an order on one of them went overdue or failed its re-inspection. With it the
    phone's preliminary tier (预判) agrees with the server's for repeats too; a code not listed
    has no history there. The window is counted back from now (the server counts it back from
    the visit's start, a little later, so a finding may leave the window in between)."""
    since = now - dt.timedelta(days=window_days)
    rows = db.session.execute(
        sa.select(Finding.id, Finding.site_id, ViolationType.code)
        .join(ViolationType, ViolationType.id == Finding.violation_type_id)
        .where(Finding.site_id.in_(site_ids), Finding.discovered_at >= since)).all()
    if not rows:
        return {}
    ids = [r.id for r in rows]
    tolerated = set(db.session.execute(
        sa.select(ToleranceRecord.finding_id).where(ToleranceRecord.finding_id.in_(ids))).scalars())
    failed_reinspection = sa.exists().where(Reinspection.order_id == Order.id,
                                            Reinspection.outcome.in_(FAILED_REINSPECTIONS))
    failed = set(db.session.execute(sa.select(Order.finding_id).where(
        Order.finding_id.in_(ids), sa.or_(Order.status.in_(FAILED_ORDERS), failed_reinspection))).scalars())
    by_code: dict[tuple[int, str], dict] = {}
    for r in rows:
        h = by_code.setdefault((r.site_id, r.code), {"violation_code": r.code, "repeats": 0,
                                                    "earlier_tolerance_closed": False, "earlier_order_failed": False})
        h["repeats"] += 1
        h["earlier_tolerance_closed"] |= r.id in tolerated
        h["earlier_order_failed"] |= r.id in failed
    out: dict[int, list[dict]] = {}
    for (site_id, _code), h in sorted(by_code.items()):
        out.setdefault(site_id, []).append(h)
    return out


# --- reference data ----------------------------------------------------------------------


def _checklists() -> list[dict]:
    """The newest published version of each checklist, with its items in order."""
    rows = db.session.execute(sa.select(ChecklistTemplate).where(ChecklistTemplate.status == "published")
                              .order_by(ChecklistTemplate.code, ChecklistTemplate.version.desc())).scalars()
    out, seen = [], set()
    for t in rows:
        if t.code in seen:
            continue
        seen.add(t.code)
        out.append({
            "id": t.id, "code": t.code, "version": t.version, "domain": t.domain,
            "name_zh": t.name_zh, "name_en": t.name_en,
            "items": [{"code": i.code, "position": i.position, "domain": i.domain, "text_zh": i.text_zh,
                       "text_en": i.text_en, "legal_basis": i.legal_basis,
                       "violation_codes": list(i.violation_codes or [])} for i in t.items],
        })
    return sorted(out, key=lambda t: (t["domain"], t["code"]))


def _catalogue(day: dt.date) -> list[dict]:
    """The catalogue rows in force on the day."""
    rows = db.session.execute(sa.select(ViolationType).where(
        ViolationType.effective_from <= day,
        sa.or_(ViolationType.effective_to.is_(None), ViolationType.effective_to >= day),
    ).order_by(ViolationType.code)).scalars()
    return [{
        "code": vt.code, "domain": vt.domain, "name_zh": vt.name_zh, "name_en": vt.name_en,
        "violated_provision": vt.violated_provision, "penalty_provision": vt.penalty_provision,
        "penalty_trigger": vt.penalty_trigger, "tolerance_type": vt.tolerance_type,
        "correction_days": vt.correction_days, "correction_unit": vt.correction_unit,
        "penalty_range_zh": vt.penalty_range_zh, "effective_from": vt.effective_from.isoformat(),
        "effective_to": vt.effective_to.isoformat() if vt.effective_to else None,
    } for vt in rows]


def _team(user: User, day: dt.date) -> list[dict]:
    """The inspectors who share a park with the user (the user included), for the officer
    picker: each with the certificate's validity today, auxiliary staff marked."""
    scope = user.park_ids
    shares = sa.select(user_parks.c.user_id).where(user_parks.c.park_id.in_(scope or [0]))
    rows = db.session.execute(sa.select(User).where(
        User.active.is_(True), User.role == "inspector", sa.or_(User.id.in_(shares), User.id == user.id))
        .options(selectinload(User.parks)).order_by(User.name, User.id)).scalars()
    return [{
        "id": u.id, "name": u.name, "auxiliary": u.auxiliary, "certificate_no": u.certificate_no,
        "certificate_expires": u.certificate_expires.isoformat() if u.certificate_expires else None,
        "certificate_valid": u.certified_on(day), "certified_domains": list(u.certified_domains or []),
        "park_ids": u.park_ids, "me": u.id == user.id,
    } for u in rows]

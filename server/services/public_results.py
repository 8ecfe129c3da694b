"""The public results of random inspections (双随机一公开: the 一公开), per park, for anyone.

A random inspection is a visit made on a plan stop that a random draw of sites put there
(PlanStop.draw_id, server/services/draws.py), once the draw is drawn and visible. Only what
the bureau publishes is read: the enterprise's name, the day, the checklist and its items, the
fields of law, and the result in one word. Never the enterprise's contact, phone, address or
credit code, never a finding's note, photos, the visit's position, the party's statement or a
fine; the officers' names only when the policy's `public_results_show_inspectors` says so.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    Case, CheckResult, ChecklistItem, ChecklistTemplate, Draw, Finding, Order, Park, PlanStop, Site, User, Visit,
    visit_officers,
)
from .errors import NotFound, ServiceError
from .exports import WORDS_ZH
from .queue import CLOSED_STATUSES, bureau_today, policy_values

PARK_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # schemas/parks.py's rule for a park code
DEFAULT_MONTHS = 3
MAX_SPAN_DAYS = 366
MAX_ITEMS = 500  # one answer's inspections, newest first; `truncated` says when there were more

RESULT_WORDS = {
    "no_problem": ("未发现问题", "No problems found"),
    "rectified": ("发现问题，已整改", "Problems found and rectified"),
    "rectifying": ("发现问题，整改中", "Problems found, being rectified"),
    "order": ("责令限期改正", "Ordered to rectify within a time limit"),
    "case": ("立案查处", "Case filed"),
}
DOMAIN_EN = {"safety": "Safety", "environment": "Environment", "fire": "Fire", "city_appearance": "City appearance",
             "illegal_construction": "Illegal construction", "market": "Market", "other": "Other"}


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier (the month's last day when it has fewer)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def result_of(statuses: list[str], has_order: bool, has_case: bool) -> str:
    """One word for a visit: the strongest measure taken on what it found."""
    if not statuses:
        return "no_problem"
    if has_case:
        return "case"
    if has_order:
        return "order"
    return "rectified" if all(s in CLOSED_STATUSES for s in statuses) else "rectifying"


def park_results(park_code: str, date_from: dt.date | None, date_to: dt.date | None,
                 today: dt.date | None = None) -> dict:
    policy = policy_values()
    zone = ZoneInfo(policy["timezone"])
    if today is None:
        today = bureau_today(policy["timezone"])
    park = None
    if PARK_CODE.fullmatch(park_code):  # anything else (a NUL, a path) names no park, unread
        park = db.session.execute(sa.select(Park).where(Park.code == park_code)).scalar()
    if park is None:
        raise NotFound(f"no park with code {park_code!r}")
    if date_to is None:
        date_to = today
    if date_from is None:
        date_from = months_before(date_to, DEFAULT_MONTHS)
    if date_from > date_to:
        raise ServiceError(f"from ({date_from}) is after to ({date_to})", ("from",), location="query")
    if (date_to - date_from).days >= MAX_SPAN_DAYS:
        raise ServiceError(f"a period is at most {MAX_SPAN_DAYS} days: ask for a shorter one", ("from",),
                           location="query")
    start = dt.datetime.combine(date_from, dt.time(0), zone).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(0), zone).astimezone(dt.timezone.utc)
    rows = db.session.execute(
        sa.select(Visit.id, Visit.started_at, Site.name, ChecklistTemplate.name_zh, ChecklistTemplate.name_en,
                  ChecklistTemplate.domain)
        .select_from(Visit)
        .join(PlanStop, PlanStop.visit_id == Visit.id)
        .join(Draw, Draw.id == PlanStop.draw_id)
        .join(Site, Site.id == Visit.site_id)
        .outerjoin(ChecklistTemplate, ChecklistTemplate.id == Visit.checklist_template_id)
        .where(Site.park_id == park.id, Draw.subject == "sites", Draw.drawn_at.is_not(None),
               Draw.visible_from <= today, Visit.started_at >= start, Visit.started_at < end)
        .order_by(Visit.started_at.desc(), Visit.id)
        .limit(MAX_ITEMS + 1)
    ).all()
    truncated = len(rows) > MAX_ITEMS
    rows = rows[:MAX_ITEMS]
    ids = [r.id for r in rows]
    found = _findings(ids)
    items = _items(ids)
    names = _inspectors(ids) if policy.get("public_results_show_inspectors") else None
    out = []
    for visit_id, started_at, site_name, cl_zh, cl_en, cl_domain in rows:
        statuses, domains, has_order, has_case = found.get(visit_id, ([], set(), False, False))
        checked = items.get(visit_id, [])
        all_domains = sorted(domains | {d for _c, _z, _e, d in checked} | ({cl_domain} if cl_domain else set()))
        result = result_of(statuses, has_order, has_case)
        entry = {
            "date": started_at.astimezone(zone).date(),
            "enterprise": site_name,
            "domains": all_domains,
            "domain_names": [{"zh": WORDS_ZH["domain"][d], "en": DOMAIN_EN[d]} for d in all_domains],
            "checklist": None if cl_zh is None else {"zh": cl_zh, "en": cl_en},
            "items": [{"code": c, "zh": z, "en": e} for c, z, e, _d in checked],
            "result": result,
            "result_name": {"zh": RESULT_WORDS[result][0], "en": RESULT_WORDS[result][1]},
        }
        if names is not None:
            entry["inspectors"] = names.get(visit_id, [])
        out.append(entry)
    return {"park": {"code": park.code, "name_zh": park.name_zh, "name_en": park.name_en},
            "date_from": date_from, "date_to": date_to, "items": out, "truncated": truncated}


def _findings(ids: list[uuid.UUID]) -> dict:
    """Per visit: its findings' statuses and domains, and whether any led to an order or a case."""
    out: dict = {}
    if not ids:
        return out
    has_order = sa.select(sa.literal(1)).where(Order.finding_id == Finding.id).exists()
    has_case = sa.select(sa.literal(1)).where(Case.finding_id == Finding.id).exists()
    for visit_id, status, domain, order, case in db.session.execute(
            sa.select(Finding.visit_id, Finding.status, Finding.domain, has_order, has_case)
            .where(Finding.visit_id.in_(ids))):
        statuses, domains, any_order, any_case = out.get(visit_id, ([], set(), False, False))
        statuses.append(status)
        domains.add(domain)
        out[visit_id] = (statuses, domains, any_order or bool(order), any_case or bool(case))
    return out


def _items(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple]]:
    """Per visit: the checklist items it checked (code, words, domain), in the checklist's order."""
    out: dict = {}
    if not ids:
        return out
    rows = db.session.execute(
        sa.select(CheckResult.visit_id, ChecklistItem.code, ChecklistItem.text_zh, ChecklistItem.text_en,
                  ChecklistItem.domain)
        .join(Visit, Visit.id == CheckResult.visit_id)
        .join(ChecklistItem, sa.and_(ChecklistItem.template_id == Visit.checklist_template_id,
                                     ChecklistItem.code == CheckResult.item_code))
        .where(CheckResult.visit_id.in_(ids)).order_by(CheckResult.visit_id, ChecklistItem.position, ChecklistItem.id))
    for visit_id, code, zh, en, domain in rows:
        out.setdefault(visit_id, []).append((code, zh, en, domain))
    return out


def _inspectors(ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Per visit: the officers' names (the one who recorded it when no officer is listed)."""
    out: dict = {}
    if not ids:
        return out
    for visit_id, name in db.session.execute(
            sa.select(visit_officers.c.visit_id, User.name).join(User, User.id == visit_officers.c.user_id)
            .where(visit_officers.c.visit_id.in_(ids)).order_by(visit_officers.c.visit_id, User.name)):
        out.setdefault(visit_id, []).append(name)
    missing = [i for i in ids if i not in out]
    if missing:
        for visit_id, name in db.session.execute(
                sa.select(Visit.id, User.name).join(User, User.id == Visit.recorded_by).where(Visit.id.in_(missing))):
            out[visit_id] = [name]
    return out

"""The 721 mix (DOMAIN.md section 1), measured after the fact, never used to classify.

Each finding counts once, under its final tier: an automatic escalation counts upward, a
supervisor's reasoned downgrade at the lower tier (the final tier is exactly that). A
finding belongs to the period of its discovery date in the bureau's time zone. The domains
the policy excludes from the tolerance path are shown inside the total (`all`), and beside
it: the mix without them (`without_excluded`) and their own counts (`excluded`).

The distance from the target is each share minus its target, in percentage points (signed:
positive means more than the target), and the largest of the three in size.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..extensions import db
from ..models import Finding, Park, PolicyVersion
from ..models.vocab import DOMAINS, TIERS
from .errors import ServiceError
from .queue import bureau_today, policy_values

MAX_SPAN_DAYS = 3660  # ten years: 120 months at most in one answer
DEFAULT_MONTHS = 12


def _first_of_month(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _months(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    months, day = [], _first_of_month(date_from)
    while day <= date_to:
        months.append(day)
        day = _first_of_month(day, -1)
    return months


def _local_midnight_utc(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.timezone.utc)


def mix(counts: dict[str, int], target: dict[str, float]) -> dict:
    """Counts, shares (percent) and the distance from the target (percentage points) of one group."""
    total = sum(counts.get(t, 0) for t in TIERS)
    out = {"total": total, "counts": {t: counts.get(t, 0) for t in TIERS}}
    if total == 0:
        out.update(shares={t: None for t in TIERS}, distance={t: None for t in TIERS}, largest_distance=None)
        return out
    shares = {t: 100.0 * counts.get(t, 0) / total for t in TIERS}
    distance = {t: shares[t] - float(target.get(t, 0)) for t in TIERS}
    worst = max(TIERS, key=lambda t: (abs(distance[t]), -TIERS.index(t)))
    out.update(
        shares={t: round(shares[t], 1) for t in TIERS},
        distance={t: round(distance[t], 1) for t in TIERS},
        largest_distance={"tier": worst, "pp": round(abs(distance[worst]), 1)},
    )
    return out


def _section(by_domain_tier: dict[tuple[str, str], int], excluded: set[str], target: dict) -> dict:
    inside: dict[str, int] = {}
    beside: dict[str, int] = {}
    only_excluded: dict[str, int] = {}
    for (domain, tier), n in by_domain_tier.items():
        inside[tier] = inside.get(tier, 0) + n
        bucket = only_excluded if domain in excluded else beside
        bucket[tier] = bucket.get(tier, 0) + n
    return {"all": mix(inside, target), "without_excluded": mix(beside, target),
            "excluded": mix(only_excluded, target)}


def tier_mix(date_from: dt.date | None, date_to: dt.date | None, park: int | None, group_by: str | None,
             scope: set[int] | None) -> dict:
    policy = policy_values()
    zone = ZoneInfo(policy["timezone"])
    if date_to is None:
        date_to = bureau_today(policy["timezone"])
    if date_from is None:
        date_from = _first_of_month(date_to, DEFAULT_MONTHS - 1)
    if date_from > date_to:
        raise ServiceError(f"from ({date_from.isoformat()}) is after to ({date_to.isoformat()})", ("from",),
                           location="query")
    if (date_to - date_from).days >= MAX_SPAN_DAYS:
        raise ServiceError(f"a period of at most {MAX_SPAN_DAYS} days (ten years) per request", ("from",),
                           location="query")
    if park is not None:
        if db.session.get(Park, park) is None:
            raise ServiceError(f"no park with id {park}", ("park",), location="query")
        if scope is not None and park not in scope:
            raise ServiceError("this park is not one you are assigned to", ("park",), status=403, location="query")
    excluded = set(policy["excluded_domains"])
    target = policy["target_mix"]
    start, end = _local_midnight_utc(date_from, zone), _local_midnight_utc(date_to + dt.timedelta(days=1), zone)
    # Counted off ix_findings_stats alone (discovered_at, then the columns counted by): the parks
    # are written `park_id + 0` so that SQLite, which has no statistics, never walks a park index
    # and reads every row's table entry instead.
    conds = [Finding.discovered_at >= start, Finding.discovered_at < end]
    if scope is not None:
        conds.append((Finding.park_id + 0).in_(sorted(scope)))
    if park is not None:
        conds.append(Finding.park_id + 0 == park)

    months = _months(date_from, date_to)
    if group_by == "month":
        # Each month's start as a UTC instant in the bureau's zone; the first bucket starts at `from`.
        bounds = [start] + [_local_midnight_utc(m, zone) for m in months[1:]]
        key = sa.case(*[(Finding.discovered_at >= b, i) for i, b in reversed(list(enumerate(bounds)))], else_=0)
    elif group_by == "park":
        key = Finding.park_id
    elif group_by == "domain":
        key = Finding.domain
    else:
        key = sa.literal(0)
    key = key.label("g")
    rows = db.session.execute(
        sa.select(key, Finding.domain, Finding.final_tier, sa.func.count().label("n"))
        .where(*conds).group_by(key, Finding.domain, Finding.final_tier)
    ).all()
    grouped: dict = {}
    overall: dict[tuple[str, str], int] = {}
    for g, domain, tier, n in rows:
        grouped.setdefault(g, {})
        grouped[g][(domain, tier)] = grouped[g].get((domain, tier), 0) + n
        overall[(domain, tier)] = overall.get((domain, tier), 0) + n

    groups = None
    if group_by == "month":
        groups = [{"key": m.strftime("%Y-%m"), **_section(grouped.get(i, {}), excluded, target)}
                  for i, m in enumerate(months)]
    elif group_by == "park":
        stmt = sa.select(Park.id, Park.code, Park.name_zh, Park.name_en).order_by(Park.id)
        if scope is not None:
            stmt = stmt.where(Park.id.in_(sorted(scope)))
        if park is not None:
            stmt = stmt.where(Park.id == park)
        groups = [{"key": str(p.id), "park": {"id": p.id, "code": p.code, "name_zh": p.name_zh,
                                              "name_en": p.name_en},
                   **_section(grouped.get(p.id, {}), excluded, target)}
                  for p in db.session.execute(stmt).all()]
    elif group_by == "domain":
        groups = [{"key": d, "excluded_domain": d in excluded, **_section(grouped.get(d, {}), excluded, target)}
                  for d in DOMAINS]
    version = db.session.execute(sa.select(sa.func.max(PolicyVersion.version))).scalar()
    return {
        "date_from": date_from, "date_to": date_to, "timezone": policy["timezone"], "park": park, "group_by": group_by,
        "policy_version": version, "target": {t: target.get(t, 0) for t in TIERS},
        "excluded_domains": sorted(excluded), **_section(overall, excluded, target),
        "groups": groups,
    }

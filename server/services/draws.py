"""Random draws (双随机, DOMAIN.md section 5) made, kept and replayed from the database.

The steps are the pure module's (server/domain/planning/draw.py), each committed as it is
made, so the order DOMAIN.md pins is the order of the record and of the audit trail:

1. the seed is made and its SHA-256 committed (`draw.open`) before the pool is read;
2. the pool (sites or inspectors matching the filter, in the scheduler's parks) is read,
   frozen and its SHA-256 committed (`draw.freeze`);
3. the members with the smallest HMAC-SHA256(seed, id) are drawn and committed (`draw.draw`).

Drawn sites become random inspections (kind `random`) in the plans of the days from
`visible_from` to `visit_by`; a draw of inspectors limits the teams of those days. Until
`visible_from` only schedulers and admins see the seed and the members drawn; from that day
everyone of the draw's parks does, and anyone holding the record can replay it.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..domain.planning import draw as lot
from ..extensions import db
from ..models import Draw, Site, User
from ..models.types import utcnow
from ..models.vocab import CREDIT_CLASSES, RISK_GRADES, SITE_KINDS
from . import audit
from .errors import Conflict, NotFound, ServiceError
from .planning import HORIZON_DAYS, PLANNERS, _all_parks, _bureau_today, _scope_of
from .today import policy_in_force


def _pool(subject: str, pool_filter: dict, day: dt.date) -> list[int]:
    """The members a draw is made from: active sites of the parks matching the filter, or the
    active certified inspectors (never auxiliary staff) of the parks, certified on `day`."""
    parks = pool_filter["park_ids"]
    if subject == "sites":
        stmt = sa.select(Site.id).where(Site.park_id.in_(parks), Site.active.is_(True))
        if pool_filter.get("risk_grades"):
            stmt = stmt.where(Site.risk_grade.in_(pool_filter["risk_grades"]))
        if pool_filter.get("credit_classes"):
            stmt = stmt.where(Site.credit_class.in_(pool_filter["credit_classes"]))
        if pool_filter.get("site_kinds"):
            stmt = stmt.where(Site.kind.in_(pool_filter["site_kinds"]))
        if pool_filter.get("key_objects") is not None:
            key = sa.or_(Site.is_hazchem, Site.is_major_hazard, Site.is_key_polluter)
            stmt = stmt.where(key if pool_filter["key_objects"] else sa.not_(key))
        return sorted(db.session.execute(stmt).scalars())
    users = db.session.execute(sa.select(User).where(
        User.role == "inspector", User.active.is_(True), User.auxiliary.is_(False))
        .options(selectinload(User.parks))).scalars()
    return sorted(u.id for u in users if set(u.park_ids) & set(parks) and u.certified_on(day))


def _clean_filter(subject: str, pool_filter: dict, actor: User | None) -> dict:
    out = {"park_ids": _scope_of(actor, pool_filter.get("park_ids"))}
    if subject == "sites":
        for name, allowed in (("risk_grades", RISK_GRADES), ("credit_classes", CREDIT_CLASSES),
                              ("site_kinds", SITE_KINDS)):
            values = sorted(set(pool_filter.get(name) or []))
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ServiceError(f"{name} takes {', '.join(allowed)}, not {bad[0]!r}", ("pool",))
            if values:
                out[name] = values
        if pool_filter.get("key_objects") is not None:
            out["key_objects"] = bool(pool_filter["key_objects"])
    else:
        extra = sorted(k for k in pool_filter if k != "park_ids")
        if extra:
            raise ServiceError(f"a draw of inspectors is filtered by park only, not by {extra[0]}", ("pool",))
    return out


def create(actor: User | None, subject: str, count: int, pool_filter: dict, visible_from: dt.date,
           visit_by: dt.date | None = None, note: str = "") -> Draw:
    """Open, freeze and draw, committing each step before the next."""
    if subject not in lot.SUBJECTS:
        raise ServiceError(f"a draw is of {' or '.join(lot.SUBJECTS)}", ("subject",))
    _version, policy = policy_in_force()
    today = _bureau_today(policy)
    if visible_from < today:
        raise ServiceError(f"visible_from ({visible_from.isoformat()}) has passed; a draw is made for today or later",
                           ("visible_from",))
    visit_by = visit_by or visible_from
    if visit_by < visible_from:
        raise ServiceError("visit_by cannot come before visible_from", ("visit_by",))
    if (visit_by - today).days > HORIZON_DAYS:
        raise ServiceError("a draw's visits are planned at most a year ahead", ("visit_by",))
    pool_filter = _clean_filter(subject, pool_filter or {}, actor)
    # Whether the draw can be made at all is known before the seed: the pool's size tells nothing
    # about a seed not yet made.
    size = len(_pool(subject, pool_filter, visible_from))
    if size == 0:
        raise ServiceError("the pool is empty: nothing matches the filter in these parks", ("pool",))
    if count > size:
        raise ServiceError(f"the pool has {size} members; draw at most {size}", ("count",))
    actor_id = actor.id if actor else None

    record = lot.open_draw(subject)
    row = Draw(subject=subject, created_by=actor_id, created_at=utcnow(), seed=record.seed,
               seed_sha256=record.seed_sha256, pool_filter=pool_filter, visible_from=visible_from, visit_by=visit_by,
               note=note, count=0)
    db.session.add(row)
    db.session.flush()
    audit.record("draw.open", "draw", row.id, {"subject": subject, "seed_sha256": record.seed_sha256,
                                               "pool_filter": pool_filter}, actor_id)
    db.session.commit()  # the seed's hash is on record before anyone reads the pool

    members = _pool(subject, pool_filter, visible_from)
    if len(members) < count:
        raise Conflict(f"the pool shrank to {len(members)} while the draw was opened (draw {row.id} stays open, "
                       "unfrozen); make a new draw", allowed_next=[])
    record = lot.freeze(record, members)
    row.pool, row.pool_sha256, row.frozen_at = list(record.pool), record.pool_sha256, utcnow()
    audit.record("draw.freeze", "draw", row.id, {"pool_sha256": record.pool_sha256, "size": len(record.pool)},
                 actor_id)
    db.session.commit()

    record = lot.draw(record, count)
    row.count, row.drawn, row.drawn_at = count, list(record.drawn), utcnow()
    audit.record("draw.draw", "draw", row.id, {"count": count, "drawn": list(record.drawn),
                                               "visible_from": visible_from.isoformat(),
                                               "visit_by": visit_by.isoformat()}, actor_id)
    db.session.commit()
    return row


def _load(draw_id: int) -> Draw:
    row = db.session.get(Draw, draw_id)
    if row is None:
        raise NotFound(f"there is no draw {draw_id}")
    return row


def _revealed(row: Draw, user: User | None) -> bool:
    """Schedulers and admins see the seed and the result at once; everyone else from visible_from."""
    if user is None or user.role in PLANNERS:
        return True
    _version, policy = policy_in_force()
    return row.visible_from is not None and _bureau_today(policy) >= row.visible_from


def _check_reader(row: Draw, user: User | None) -> None:
    if user is None or user.role == "admin":
        return
    parks = set((row.pool_filter or {}).get("park_ids") or _all_parks())
    if not parks & set(user.park_ids):
        raise ServiceError("this draw was made for parks you are not assigned to", status=403)


def _member_names(row: Draw, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    if row.subject == "sites":
        names = dict(db.session.execute(sa.select(Site.id, Site.name).where(Site.id.in_(ids))).all())
    else:
        names = dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())
    return [{"id": i, "name": names.get(i, "")} for i in ids]


def describe(row: Draw, user: User | None) -> dict:
    shown = _revealed(row, user)
    return {
        "id": row.id, "subject": row.subject, "created_at": row.created_at, "created_by": row.created_by,
        "seed_sha256": row.seed_sha256, "seed": row.seed if shown else None,
        "pool_filter": row.pool_filter or {}, "pool": row.pool, "pool_size": len(row.pool or []),
        "pool_sha256": row.pool_sha256, "frozen_at": row.frozen_at, "count": row.count,
        "drawn": (row.drawn if shown else None), "drawn_members": _member_names(row, row.drawn or []) if shown else None,
        "drawn_at": row.drawn_at, "visible_from": row.visible_from, "visit_by": row.visit_by, "note": row.note,
        "hidden": not shown,
    }


def read(draw_id: int, user: User | None) -> dict:
    row = _load(draw_id)
    _check_reader(row, user)
    return describe(row, user)


def record_of(row: Draw) -> lot.DrawRecord:
    return lot.DrawRecord(subject=row.subject, seed=row.seed, seed_sha256=row.seed_sha256,
                          pool=tuple(row.pool) if row.pool is not None else None, pool_sha256=row.pool_sha256,
                          count=row.count, drawn=tuple(row.drawn) if row.drawn is not None else None)


def replay(draw_id: int, user: User | None) -> dict:
    """Recompute the draw from its record (seed hash, pool hash, members drawn) and say whether
    every recorded value is reproduced."""
    row = _load(draw_id)
    _check_reader(row, user)
    if not _revealed(row, user):
        raise ServiceError(f"draw {row.id} can be replayed from {row.visible_from.isoformat()}, when its seed is "
                           "shown", status=403)
    result = lot.replay(record_of(row))
    return {"id": row.id, "matches": result.ok, "problems": list(result.problems), "drawn": list(result.drawn),
            "recorded": {"seed_sha256": row.seed_sha256, "pool_sha256": row.pool_sha256, "count": row.count,
                         "drawn": row.drawn},
            "recomputed": {"seed_sha256": lot.seed_sha256(row.seed),
                           "pool_sha256": lot.pool_sha256(row.pool) if row.pool is not None else None,
                           "drawn": list(result.drawn)}}

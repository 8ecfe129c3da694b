"""The policy in force: every number of DOMAIN.md as data (defaults in server/domain/policy.py),
versioned; the newest version is in force and each change is audited with its reason."""
from __future__ import annotations

import sqlalchemy as sa

from ..domain.classify import RULES, InvalidPolicy
from ..domain.policy import DEFAULT_POLICY, default_policy
from ..extensions import db
from ..models import PolicyVersion
from . import audit, txmemo
from .errors import ServiceError


def current() -> PolicyVersion:
    """The version in force; version 1 with the defaults is made the first time it is asked for.
    Read once per transaction (services/txmemo.py; storing a version forgets it)."""
    return txmemo.remember((PolicyVersion.__tablename__,), "policy.current", _current)


def _current() -> PolicyVersion:
    newest = sa.select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)
    row = db.session.execute(newest).scalar()
    if row is None:
        # Two first requests on a new database may both get here: the loser's insert fails
        # on the primary key inside its savepoint, and it reads the winner's version 1.
        try:
            with db.session.begin_nested():
                row = PolicyVersion(version=1, values=default_policy(), reason="defaults of DOMAIN.md")
                db.session.add(row)
                db.session.flush()
                audit.record("policy.create", "policy", 1, {"reason": row.reason})
        except sa.exc.IntegrityError:
            row = db.session.execute(newest).scalar_one()
    return row


def values() -> dict:
    """The values in force, with a default for any key an older version lacks."""
    return {**default_policy(), **current().values}


def change(changes: dict, reason: str, actor_id: int | None) -> PolicyVersion:
    """A new version with these keys changed; keys must be known and keep their type."""
    if not reason or not reason.strip():
        raise ServiceError("a policy change needs a reason", ("reason",))
    unknown = sorted(set(changes) - set(DEFAULT_POLICY))
    if unknown:
        raise ServiceError(f"unknown policy keys: {', '.join(unknown)}", tuple(unknown))
    for key, value in changes.items():
        expected = type(DEFAULT_POLICY[key])
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not ok or (expected is int and isinstance(value, bool)):
            raise ServiceError(f"{key} must be a {expected.__name__}, like its default {DEFAULT_POLICY[key]!r}", (key,))
    before = current()
    new_values = {**before.values, **changes}
    row = PolicyVersion(version=before.version + 1, values=new_values, reason=reason.strip(), created_by=actor_id)
    db.session.add(row)
    db.session.flush()
    audit.record("policy.change", "policy", row.version,
                 {"reason": row.reason, "changes": {k: {"from": before.values.get(k), "to": v} for k, v in changes.items()}},
                 actor_id)
    return row


def update(values: dict, reason: str, actor_id: int | None) -> tuple[PolicyVersion, bool]:
    """An admin's change (PUT or PATCH /api/policy), committed: a new version holding the knobs
    that differ from the version in force. When none differs nothing is stored (a repeated PUT
    changes nothing) and the answer says so."""
    in_force = {**default_policy(), **current().values}
    changes = {k: v for k, v in values.items() if in_force.get(k) != v}
    if not changes:
        row = current()
        db.session.commit()  # the first version, when this made it
        return row, False
    try:
        RULES.policy_values({**in_force, **changes})  # the classifier must be able to read it
    except InvalidPolicy as e:
        raise ServiceError(str(e), tuple(changes)) from None
    row = change(changes, reason, actor_id)
    db.session.commit()
    return row, True


def versions() -> dict:
    """Every version, newest first: who made it, when, why, and what it changed from the one
    before (the policy screen's history)."""
    from ..models import User

    rows = db.session.execute(sa.select(PolicyVersion, User.name).outerjoin(User, User.id == PolicyVersion.created_by)
                              .order_by(PolicyVersion.version)).all()
    out, previous = [], None
    for row, name in rows:
        values = {**default_policy(), **row.values}
        changes = {} if previous is None else {
            k: {"from": previous.get(k), "to": v} for k, v in values.items() if previous.get(k) != v}
        out.append({"version": row.version, "reason": row.reason, "created_at": row.created_at,
                    "created_by": row.created_by, "created_by_name": name, "changes": changes})
        previous = values
    return {"items": out[::-1], "defaults": default_policy()}

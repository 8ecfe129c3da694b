"""People: creating, editing, disabling and resetting users; conflict declarations and leave;
certificates running out; password hashing (Argon2id, memory-hard).

Every change is audited in the caller's transaction; the functions an admin calls through the
API (the ones taking a user id) commit. Whether a person counts as a certified officer is the
one rule of server/domain/certificates.py."""
from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..domain import certificates
from ..domain.workdays import local_date
from ..extensions import db
from ..models import AuditEntry, ConflictDeclaration, Leave, Park, Site, User
from ..models.types import utcnow
from ..models.vocab import ROLES
from . import audit
from .errors import Conflict, NotFound, ServiceError

_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile
MIN_PASSWORD_LENGTH = 10


class UserError(ServiceError):
    """A request about a user that cannot be carried out, with a message a person can act on
    (a ServiceError, so the API answers it as a 4xx)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when the username is unknown, so that the answer takes as
# long as for a known user and does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("fieldcheck-no-such-user")


def verify_dummy(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters", ("password",))


def create_user(username: str, name: str, role: str, password: str, park_codes: list[str] | None = None,
                actor_id: int | None = None, is_demo: bool = False, check_strength: bool = True,
                password_hash: str | None = None, **fields) -> User:
    """Create a user and audit it. `password_hash`, when given, must be hash_password(password):
    Argon2 is deliberately slow, so a caller creating many users with one password (the demo
    city) hashes it once and passes the hash."""
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if check_strength:
        check_password_strength(password)
    if db.session.execute(sa.select(User.id).where(User.username == username)).first():
        raise UserError(f"the username {username!r} is taken: choose another", ("username",), status=409)
    parks = []
    for code in park_codes or []:
        park = db.session.execute(sa.select(Park).where(Park.code == code)).scalar()
        if park is None:
            raise UserError(f"no park with code {code!r}")
        parks.append(park)
    user = User(username=username, name=name, role=role,
                password_hash=password_hash or hash_password(password),
                is_demo=is_demo, parks=parks, **fields)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id,
                 {"username": username, "role": role, "parks": [p.code for p in parks]}, actor_id)
    return user


def get_by_username(username: str) -> User:
    user = db.session.execute(sa.select(User).where(User.username == username)).scalar()
    if user is None:
        raise UserError(f"no user named {username!r}")
    return user


def set_active(username: str, active: bool, actor_id: int | None = None) -> User:
    from .auth import revoke_all_tokens

    user = get_by_username(username)
    user.active = active
    if not active:
        revoke_all_tokens(user.id)
    audit.record("user.enable" if active else "user.disable", "user", user.id, {"username": username}, actor_id)
    return user


def reset_password(username: str, password: str, actor_id: int | None = None) -> User:
    from .auth import revoke_all_tokens

    check_password_strength(password)
    user = get_by_username(username)
    user.password_hash = hash_password(password)
    revoke_all_tokens(user.id)
    audit.record("user.reset_password", "user", user.id, {"username": username}, actor_id)
    return user


def demo_accounts_exist() -> bool:
    return db.session.execute(sa.select(User.id).where(User.is_demo.is_(True)).limit(1)).first() is not None


def certified_on(user: User, day: dt.date) -> bool:
    return user.certified_on(day)


# --- the admin's people screen -----------------------------------------------------------

MAX_ID = 2**31 - 1
# The fields an admin edits in place (PATCH /api/users/<id>); parks, active and the password
# have their own paths because each has consequences (scope, tokens).
EDITABLE = ("name", "role", "phone", "certificate_no", "certificate_expires", "certified_domains", "auxiliary")


def _policy() -> dict:
    """The policy in force, read without writing (policy.current() stores version 1 when there is
    none, which a read request must not do)."""
    from .sync import policy_in_force

    return policy_in_force()[1]


def bureau_today() -> dt.date:
    return local_date(utcnow(), _policy()["timezone"])


def warning_days() -> int:
    return int(_policy()["certificate_warning_days"])


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def user_row(user: User, day: dt.date, window: int) -> dict:
    expires = user.certificate_expires
    return {
        "id": user.id, "username": user.username, "name": user.name, "role": user.role, "active": user.active,
        "is_demo": user.is_demo, "phone": user.phone, "auxiliary": user.auxiliary,
        "certificate_no": user.certificate_no, "certificate_expires": expires,
        "certified_domains": list(user.certified_domains or []),
        "certificate_status": certificates.status(user.auxiliary, user.certificate_no, expires, day, window),
        "certified_today": user.certified_on(day),
        "certificate_days_left": (expires - day).days if expires else None,
        "park_ids": user.park_ids, "parks": sorted(p.code for p in user.parks), "created_at": user.created_at,
    }


def list_users(q: str | None = None, role: str | None = None, park_id: int | None = None,
               active: bool | None = None, certificate: str | None = None) -> dict:
    """Everyone, filtered: q matches username, name, phone or certificate number."""
    query = sa.select(User).options(selectinload(User.parks)).order_by(User.role, User.name, User.id)
    if q:
        like = f"%{q}%"
        query = query.where(sa.or_(User.username.ilike(like), User.name.ilike(like), User.phone.ilike(like),
                                   User.certificate_no.ilike(like)))
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    day, window = bureau_today(), warning_days()
    rows = [user_row(u, day, window) for u in db.session.execute(query).scalars()]
    if park_id is not None:
        rows = [r for r in rows if park_id in r["park_ids"]]
    if certificate:
        rows = [r for r in rows if r["certificate_status"] == certificate]
    return {"items": rows, "today": day, "warning_days": window}


def user_detail(user_id: int) -> dict:
    user = _user_or_404(user_id)
    row = user_row(user, bureau_today(), warning_days())
    conflicts = db.session.execute(
        sa.select(ConflictDeclaration, Site.name).join(Site, Site.id == ConflictDeclaration.site_id)
        .where(ConflictDeclaration.user_id == user.id).order_by(ConflictDeclaration.id)).all()
    row["conflicts"] = [{"id": c.id, "site_id": c.site_id, "site_name": name, "reason": c.reason,
                         "declared_at": c.declared_at} for c, name in conflicts]
    leaves = db.session.execute(sa.select(Leave).where(Leave.user_id == user.id)
                                .order_by(Leave.start_date, Leave.id)).scalars()
    row["leaves"] = [_leave_row(lv) for lv in leaves]
    return row


def _parks_by_id(park_ids: list[int]) -> list[Park]:
    parks = list(db.session.execute(sa.select(Park).where(Park.id.in_(park_ids or [0]))).scalars())
    missing = sorted(set(park_ids) - {p.id for p in parks})
    if missing:
        raise ServiceError(f"no park with id {', '.join(map(str, missing))}", ("park_ids",))
    return parks


def _check_certificate(user_id: int | None, state: dict) -> None:
    number = certificates.normalised_number(state.get("certificate_no"))
    if state.get("certificate_no") is not None and not number:
        state["certificate_no"] = None
    if number:
        taken = db.session.execute(sa.select(User.username).where(
            User.id != (user_id or 0),
            sa.func.upper(sa.func.replace(User.certificate_no, " ", "")) == number)).scalar()
        if taken:
            raise Conflict(f"certificate {state['certificate_no']} is already {taken}'s: each officer's number "
                           "is their own (two officers must show two distinct certificates)", ("certificate_no",))
        if state.get("certificate_expires") is None:
            raise ServiceError("a certificate needs its expiry date (有效期至), or it never counts",
                               ("certificate_expires",))
    if state.get("auxiliary") and number:
        raise ServiceError("auxiliary staff (协管员) hold no law-enforcement certificate: clear the number or "
                           "the auxiliary flag", ("auxiliary", "certificate_no"))


def admin_create(data: dict, actor_id: int) -> dict:
    """POST /api/users: a new user with a password the admin set or one made here (answered once)."""
    password = data.get("password")
    generated = password is None
    if generated:
        password = generate_password()
    state = {k: data.get(k) for k in EDITABLE if k in data}
    _check_certificate(None, state)
    parks = _parks_by_id(data.get("park_ids", []))
    user = create_user(data["username"], data["name"], data["role"], password, [p.code for p in parks],
                       actor_id=actor_id, **{k: v for k, v in state.items() if k not in ("name", "role")})
    db.session.commit()
    row = user_detail(user.id)
    if generated:
        row["password"] = password
    return row


def admin_update(user_id: int, changes: dict, actor_id: int) -> dict:
    """PATCH /api/users/<id>: only the fields sent; each change audited with before and after."""
    user = _user_or_404(user_id)
    before = {k: getattr(user, k) for k in EDITABLE}
    before["park_ids"] = user.park_ids
    after = {**before, **changes}
    if "certified_domains" in after:
        after["certified_domains"] = list(after["certified_domains"] or [])
    _check_certificate(user.id, after)
    if "park_ids" in changes:
        after["park_ids"] = sorted(set(changes["park_ids"]))
    changed = [k for k in after if after[k] != before[k]]
    if not changed:
        return user_detail(user.id)
    for k in changed:
        if k == "park_ids":
            user.parks = _parks_by_id(after["park_ids"])
        else:
            setattr(user, k, after[k])
    db.session.flush()

    def plain(v):
        return v.isoformat() if isinstance(v, dt.date) else v

    audit.record("user.update", "user", user.id, {
        "username": user.username,
        "before": {k: plain(before[k]) for k in changed}, "after": {k: plain(after[k]) for k in changed}}, actor_id)
    db.session.commit()
    return user_detail(user.id)


def generate_password() -> str:
    """A password an admin reads out once: 16 characters, no look-alikes (0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def admin_reset_password(user_id: int, password: str | None, actor_id: int) -> dict:
    """Set the admin's password or make one (answered once, never stored in clear); every token
    the user holds is revoked, so a phone logged in with the old one must log in again."""
    user = _user_or_404(user_id)
    generated = password is None
    if generated:
        password = generate_password()
    reset_password(user.username, password, actor_id)
    db.session.commit()
    return {"id": user.id, "username": user.username, "password": password if generated else None,
            "generated": generated}


def admin_set_active(user_id: int, active: bool, actor_id: int) -> dict:
    user = _user_or_404(user_id)
    if not active and user.id == actor_id:
        raise Conflict("you cannot disable your own account: ask another admin")
    if user.active != active:
        set_active(user.username, active, actor_id)
        db.session.commit()
    return user_detail(user.id)


def add_conflict(user_id: int, site_id: int, reason: str, actor_id: int) -> dict:
    user = _user_or_404(user_id)
    site = db.session.get(Site, site_id) if 0 < site_id <= MAX_ID else None
    if site is None:
        raise ServiceError(f"no site with id {site_id}", ("site_id",))
    exists = db.session.execute(sa.select(ConflictDeclaration.id).where(
        ConflictDeclaration.user_id == user.id, ConflictDeclaration.site_id == site.id)).scalar()
    if exists:
        raise Conflict(f"{user.name} has already declared a conflict with {site.name}", ("site_id",))
    row = ConflictDeclaration(user_id=user.id, site_id=site.id, reason=reason)
    db.session.add(row)
    db.session.flush()
    audit.record("user.conflict.add", "user", user.id,
                 {"username": user.username, "site_id": site.id, "site": site.name, "reason": reason}, actor_id)
    db.session.commit()
    return user_detail(user.id)


def remove_conflict(user_id: int, conflict_id: int, actor_id: int) -> dict:
    user = _user_or_404(user_id)
    row = db.session.get(ConflictDeclaration, conflict_id) if 0 < conflict_id <= MAX_ID else None
    if row is None or row.user_id != user.id:
        raise NotFound(f"{user.name} has no conflict declaration {conflict_id}")
    audit.record("user.conflict.remove", "user", user.id,
                 {"username": user.username, "site_id": row.site_id, "reason": row.reason}, actor_id)
    db.session.delete(row)
    db.session.commit()
    return user_detail(user.id)


def _leave_row(lv: Leave) -> dict:
    return {"id": lv.id, "user_id": lv.user_id, "start_date": lv.start_date, "end_date": lv.end_date, "note": lv.note}


def add_leave(user_id: int, start: dt.date, end: dt.date, note: str, actor_id: int) -> dict:
    user = _user_or_404(user_id)
    if end < start:
        raise ServiceError(f"the leave ends ({end}) before it starts ({start})", ("end_date",))
    overlap = db.session.execute(sa.select(Leave).where(
        Leave.user_id == user.id, Leave.start_date <= end, Leave.end_date >= start)).scalar()
    if overlap:
        raise Conflict(f"{user.name} is already on leave from {overlap.start_date} to {overlap.end_date}: "
                       "change that leave instead", ("start_date", "end_date"))
    lv = Leave(user_id=user.id, start_date=start, end_date=end, note=note)
    db.session.add(lv)
    db.session.flush()
    audit.record("user.leave.add", "user", user.id, {"username": user.username, "start_date": start.isoformat(),
                                                     "end_date": end.isoformat(), "note": note}, actor_id)
    db.session.commit()
    return user_detail(user.id)


def remove_leave(user_id: int, leave_id: int, actor_id: int) -> dict:
    user = _user_or_404(user_id)
    lv = db.session.get(Leave, leave_id) if 0 < leave_id <= MAX_ID else None
    if lv is None or lv.user_id != user.id:
        raise NotFound(f"{user.name} has no leave {leave_id}")
    audit.record("user.leave.remove", "user", user.id, {"username": user.username,
                                                        "start_date": lv.start_date.isoformat(),
                                                        "end_date": lv.end_date.isoformat()}, actor_id)
    db.session.delete(lv)
    db.session.commit()
    return user_detail(user.id)


def leave_calendar(start: dt.date, end: dt.date, scope: set[int] | None = None) -> dict:
    """Every leave overlapping [start, end], with the person's name: the leave calendar."""
    if end < start:
        raise ServiceError(f"the range ends ({end}) before it starts ({start})", ("to",), location="query")
    if (end - start).days > 366:
        raise ServiceError("ask for at most a year of leave at a time", ("to",), location="query")
    rows = db.session.execute(
        sa.select(Leave, User).join(User, User.id == Leave.user_id).options(selectinload(User.parks))
        .where(Leave.start_date <= end, Leave.end_date >= start).order_by(Leave.start_date, User.name)).all()
    items = []
    for lv, user in rows:
        if scope is not None and not (set(user.park_ids) & scope):
            continue
        items.append({**_leave_row(lv), "name": user.name, "username": user.username, "park_ids": user.park_ids})
    return {"date_from": start, "date_to": end, "items": items}


def expiring_certificates(day: dt.date | None = None, window: int | None = None) -> dict:
    """Active officers whose certificate runs out within the policy's warning window (and those
    already expired, who no longer count as certified): what the admin is warned about."""
    day = day or bureau_today()
    window = warning_days() if window is None else window
    users = db.session.execute(sa.select(User).options(selectinload(User.parks)).where(
        User.active.is_(True), User.auxiliary.is_(False), User.certificate_expires.is_not(None),
        User.certificate_expires <= day + dt.timedelta(days=window)).order_by(User.certificate_expires, User.name)
    ).scalars()
    rows = [user_row(u, day, window) for u in users]
    rows = [r for r in rows if r["certificate_status"] in ("expiring", "expired")]
    return {"today": day, "warning_days": window, "items": rows,
            "expiring": sum(r["certificate_status"] == "expiring" for r in rows),
            "expired": sum(r["certificate_status"] == "expired" for r in rows)}


def warn_expiring_certificates() -> dict:
    """The daily job: one audit entry per certificate entering the warning window or expiring
    (never twice for the same person, expiry date and state), so the trail shows who was warned when."""
    found = expiring_certificates()
    warned = 0
    for row in found["items"]:
        key = {"username": row["username"], "certificate_no": row["certificate_no"],
               "expires": row["certificate_expires"].isoformat(), "state": row["certificate_status"]}
        action = "certificate.expired" if row["certificate_status"] == "expired" else "certificate.expiring"
        seen = db.session.execute(sa.select(AuditEntry.summary).where(
            AuditEntry.action == action, AuditEntry.entity_type == "user",
            AuditEntry.entity_id == str(row["id"]))).scalars()
        if any(s.get("expires") == key["expires"] for s in seen):
            continue
        audit.record(action, "user", row["id"], {**key, "days_left": row["certificate_days_left"],
                                                 "warning_days": found["warning_days"]})
        warned += 1
    db.session.commit()
    return {"expiring": found["expiring"], "expired": found["expired"], "warned": warned}

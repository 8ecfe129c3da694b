"""People: creating, disabling and resetting users; password hashing (Argon2id, memory-hard)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..extensions import db
from ..models import Park, User
from ..models.vocab import ROLES
from . import audit

_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A request about a user that cannot be carried out, with a message a person can act on."""


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
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


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
        raise UserError(f"the username {username!r} is taken")
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

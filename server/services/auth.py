"""Logging in: opaque random tokens stored as SHA-256, expiry, revocation, and throttling
of failed logins per username and per client address (kept in the database so every
worker process sees the same counts)."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app

from ..extensions import db
from ..models import AuthToken, LoginFailure, User
from ..models.types import utcnow
from . import audit
from .users import verify_dummy, verify_password


class LoginThrottled(Exception):
    def __init__(self, retry_after_s: int, which: str):
        super().__init__(which)
        self.retry_after_s = retry_after_s
        self.which = which


class LoginFailed(Exception):
    pass


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_throttle(username: str, client_addr: str, now: dt.datetime) -> None:
    cfg = current_app.config
    window = dt.timedelta(seconds=cfg["LOGIN_WINDOW_S"])
    since = now - window
    for column, value, limit, which in (
        (LoginFailure.username, username, cfg["LOGIN_MAX_PER_USER"], "username"),
        (LoginFailure.client_addr, client_addr, cfg["LOGIN_MAX_PER_ADDR"], "address"),
    ):
        count, oldest = db.session.execute(
            sa.select(sa.func.count(LoginFailure.id), sa.func.min(LoginFailure.at))
            .where(column == value, LoginFailure.at >= since)
        ).one()
        if count >= limit:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.timezone.utc)
            retry = max(1, int((oldest + window - now).total_seconds()) + 1)
            raise LoginThrottled(retry, which)


def login(username: str, password: str, client_addr: str) -> tuple[str, AuthToken]:
    """Answer a new token and its row, or raise LoginFailed / LoginThrottled.

    A failure is recorded and committed even though the caller answers with an error.
    """
    now = utcnow()
    _check_throttle(username, client_addr, now)
    user = db.session.execute(sa.select(User).where(User.username == username)).scalar()
    if user is None:
        verify_dummy(password)
        ok = False
    else:
        ok = verify_password(user.password_hash, password) and user.active
    if not ok:
        db.session.add(LoginFailure(username=username, client_addr=client_addr, at=now))
        db.session.commit()
        raise LoginFailed()
    token = secrets.token_urlsafe(32)
    row = AuthToken(user_id=user.id, token_hash=_hash_token(token), created_at=now,
                    expires_at=now + dt.timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]),
                    client_addr=client_addr[:64])
    db.session.add(row)
    # A successful login clears the username's failures.
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.username == username))
    db.session.flush()
    audit.record("auth.login", "user", user.id, {"token_id": row.id}, user.id)
    db.session.commit()
    return token, row


def user_for_token(token: str) -> tuple[User | None, str]:
    """The active user a token belongs to, or None and why not."""
    row = db.session.execute(
        sa.select(AuthToken).where(AuthToken.token_hash == _hash_token(token))
    ).scalar()
    if row is None:
        return None, "the token is not known (log in again)"
    if row.revoked_at is not None:
        return None, "the token was revoked (log in again)"
    if row.expires_at <= utcnow():
        return None, "the token has expired (log in again)"
    if not row.user.active:
        return None, "the account is disabled"
    return row.user, ""


def revoke(token: str, actor_id: int) -> bool:
    row = db.session.execute(sa.select(AuthToken).where(AuthToken.token_hash == _hash_token(token))).scalar()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    audit.record("auth.revoke", "user", row.user_id, {"token_id": row.id}, actor_id)
    db.session.commit()
    return True


def revoke_all_tokens(user_id: int) -> int:
    result = db.session.execute(
        sa.update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def purge_expired(now: dt.datetime | None = None) -> dict:
    """Delete expired tokens and old failed-login rows (a scheduler job; idempotent)."""
    now = now or utcnow()
    tokens = db.session.execute(
        sa.delete(AuthToken).where(AuthToken.expires_at < now - dt.timedelta(days=30))
    ).rowcount
    failures = db.session.execute(
        sa.delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(days=1))
    ).rowcount
    db.session.commit()
    return {"tokens": tokens or 0, "login_failures": failures or 0}

"""Who may do what: authentication and role and park scope, in one place.

Every endpoint declares its roles with @require(...); object-level park checks go
through park_scope() / check_park(). 401 means "who are you?" (no, bad, expired or
revoked token); 403 means "you may not" (role or park).
"""
from __future__ import annotations

import functools

from flask import g, request
from flask_smorest import abort

from .models import User

STAFF = ("inspector", "supervisor", "legal_reviewer", "scheduler", "admin")
REVIEWERS = ("supervisor", "legal_reviewer", "admin")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fieldcheck"'}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> User:
    from .services.auth import user_for_token

    token = bearer_token()
    if token is None:
        abort(401, message="log in first: send 'Authorization: Bearer <token>' from POST /api/auth/token",
              headers=_CHALLENGE)
    user, why = user_for_token(token)
    if user is None:
        abort(401, message=why, headers=_CHALLENGE)
    g.user = user
    return user


def current_user() -> User:
    return g.user


def require(*roles: str):
    """Authenticate, then allow only these roles (all staff when none are named)."""
    allowed = roles or STAFF

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            user = authenticate()
            if user.role not in allowed:
                abort(403, message=f"your role ({user.role}) may not do this; it needs one of: {', '.join(allowed)}")
            return fn(*args, **kwargs)

        wrapper._fieldcheck_roles = allowed  # read by the access tests
        # Document the bearer scheme and the 401/403 answers in the OpenAPI document.
        doc = dict(getattr(wrapper, "_apidoc", {}))
        manual = dict(doc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        responses = dict(manual.get("responses", {}))
        # Names, not $ref dicts: apispec then registers flask-smorest's lazy components.
        responses.setdefault("401", "UNAUTHORIZED")
        responses.setdefault("403", "FORBIDDEN")
        manual["responses"] = responses
        doc["manual_doc"] = manual
        wrapper._apidoc = doc
        return wrapper

    return decorator


def park_scope(user: User) -> set[int] | None:
    """The park ids a user may see, or None for all (admins)."""
    if user.role == "admin":
        return None
    return set(user.park_ids)


def check_park(user: User, park_id: int) -> None:
    scope = park_scope(user)
    if scope is not None and park_id not in scope:
        abort(403, message="this belongs to a park you are not assigned to")


def scope_filter(user: User, park_column):
    """A WHERE clause limiting a query to the user's parks (None: no limit)."""
    scope = park_scope(user)
    if scope is None:
        return None
    return park_column.in_(sorted(scope))

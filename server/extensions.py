"""Shared extension objects, bound to an app in create_app()."""
from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Api as _Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import HTTPException


# Stable constraint names: the same migration then runs on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Headers a client needs to act on an error (405 Allow, 429 Retry-After, 401 challenge).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class Api(_Api):
    """flask-smorest's Api with an error handler that keeps the exception's own
    headers and always says something a person can act on."""

    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        payload.setdefault("errors", {})
        merged = {k: v for k, v in error.get_headers() if k in _KEPT_HEADERS}
        merged.update(headers or {})
        return payload, code, merged


api = Api()

from __future__ import annotations

import sqlalchemy as sa

from ..db import engine_kind, spatial_version
from ..extensions import db


def schema_revision(conn: sa.Connection) -> str | None:
    try:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        conn.rollback()
        return None


def health() -> dict:
    engine = db.engine
    with engine.connect() as conn:
        info = {
            "status": "ok",
            "database": engine_kind(engine),
            "sqlite_module": engine.dialect.dbapi.__name__ if engine.dialect.name == "sqlite" else None,
            "spatial_version": spatial_version(conn),
            "schema_revision": schema_revision(conn),
            "version": "0.1.0",
        }
    return info

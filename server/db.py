"""Engine set-up for SpatiaLite and PostGIS: one code path for both.

SQLite runs in WAL mode with synchronous=FULL (an acknowledged commit survives a
power cut), a busy timeout, and write transactions that take the write lock at
their start (BEGIN IMMEDIATE), so concurrent workers queue instead of failing
half way with "database is locked". Read-only requests begin DEFERRED so they
never wait for a writer (WAL lets them read alongside it).
"""
from __future__ import annotations

import contextlib
import contextvars
import os

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")

# True while the current unit of work may write (the default: safe). A GET request
# sets it to False so its transaction begins DEFERRED.
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("fieldcheck_write_intent", default=True)


@contextlib.contextmanager
def read_only():
    token = write_intent.set(False)
    try:
        yield
    finally:
        write_intent.reset(token)


def sqlite_module():
    """A DB-API module that can load SQLite extensions, or a clear error.

    pyenv's Python is built without loadable extensions; pysqlite3-binary has them.
    """
    try:
        import pysqlite3.dbapi2 as mod  # type: ignore

        return mod
    except ImportError:
        import sqlite3 as mod

        if hasattr(mod.connect(":memory:"), "enable_load_extension"):
            return mod
    raise RuntimeError(
        "This Python's sqlite3 cannot load extensions, so SpatiaLite cannot be used. "
        "Install pysqlite3-binary (pip install pysqlite3-binary) or use PostgreSQL "
        "with FIELDCHECK_DATABASE_URL=postgresql+psycopg://..."
    )


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def engine_options(url: str, busy_timeout_s: float = 30.0) -> dict:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return {
            "module": sqlite_module(),
            "connect_args": {"timeout": busy_timeout_s, "check_same_thread": False},
            "poolclass": sa.pool.NullPool if u.database in (None, "", ":memory:") else sa.pool.QueuePool,
        }
    return {"pool_pre_ping": True}


def _load_spatialite(dbapi_conn, busy_timeout_s: float) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see "begin" below)
    dbapi_conn.enable_load_extension(True)
    dbapi_conn.load_extension(os.environ["SPATIALITE_LIBRARY_PATH"])
    dbapi_conn.enable_load_extension(False)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")
    cur.execute("PRAGMA foreign_keys = ON")
    # WGS84-only spatial metadata: the full EPSG table takes seconds and we need one SRID.
    if cur.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        cur.execute("SELECT InitSpatialMetaData(1, 'WGS84')")
    cur.close()


def configure_engine(engine: sa.Engine, busy_timeout_s: float = 30.0) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        _load_spatialite(dbapi_conn, busy_timeout_s)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def engine_kind(engine_or_dialect) -> str:
    dialect = getattr(engine_or_dialect, "dialect", engine_or_dialect)
    return "spatialite" if dialect.name == "sqlite" else "postgis"


def spatial_version(conn: sa.Connection) -> str:
    if conn.dialect.name == "sqlite":
        return conn.execute(sa.text("SELECT spatialite_version()")).scalar_one()
    return conn.execute(sa.text("SELECT postgis_lib_version()")).scalar_one()


# --- Distances in metres, rendered per dialect, so services stay engine-free. ---
# SpatiaLite 5.0 has no ST_DWithin and answers two-argument ST_Distance in degrees;
# PostGIS answers in metres only on geography.


class distance_m(FunctionElement):
    """Geodesic distance in metres between two WGS 84 geometries."""

    type = sa.Float()
    inherit_cache = True
    name = "distance_m"


@compiles(distance_m, "sqlite")
def _distance_sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"ST_Distance({compiler.process(a, **kw)}, {compiler.process(b, **kw)}, 1)"


@compiles(distance_m, "postgresql")
def _distance_pg(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"ST_Distance(({compiler.process(a, **kw)})::geography, ({compiler.process(b, **kw)})::geography)"


class dwithin_m(FunctionElement):
    """True when two WGS 84 geometries are within a distance in metres."""

    type = sa.Boolean()
    inherit_cache = True
    name = "dwithin_m"


@compiles(dwithin_m, "sqlite")
def _dwithin_sqlite(element, compiler, **kw):
    a, b, m = list(element.clauses)
    # The fourth argument measures on the ellipsoid, as distance_m does: without it a point
    # shown 998 m away fell outside a 1000 m search.
    return f"(PtDistWithin({compiler.process(a, **kw)}, {compiler.process(b, **kw)}, {compiler.process(m, **kw)}, 1) = 1)"


@compiles(dwithin_m, "postgresql")
def _dwithin_pg(element, compiler, **kw):
    a, b, m = list(element.clauses)
    return (
        f"ST_DWithin(({compiler.process(a, **kw)})::geography, "
        f"({compiler.process(b, **kw)})::geography, {compiler.process(m, **kw)})"
    )


class make_point(FunctionElement):
    """A WGS 84 point from longitude and latitude."""

    inherit_cache = True
    name = "make_point"


@compiles(make_point, "sqlite")
def _point_sqlite(element, compiler, **kw):
    x, y = list(element.clauses)
    return f"MakePoint({compiler.process(x, **kw)}, {compiler.process(y, **kw)}, 4326)"


@compiles(make_point, "postgresql")
def _point_pg(element, compiler, **kw):
    x, y = list(element.clauses)
    return f"ST_SetSRID(ST_MakePoint({compiler.process(x, **kw)}, {compiler.process(y, **kw)}), 4326)"

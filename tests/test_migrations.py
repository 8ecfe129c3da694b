"""`upgrade head` on an empty database yields exactly what the models declare, on both engines."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.db import configure_engine, engine_options, normalise_url
from server.extensions import db
from server.migrate import schema_diff, upgrade
from tests.conftest import PG_URL, _admin_engine, need


@pytest.fixture
def empty_url(engine, tmp_path):
    if engine == "spatialite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    need(bool(PG_URL), "FIELDCHECK_TEST_DATABASE_URL is not set, so the PostGIS tests cannot run")
    base = normalise_url(PG_URL)
    name = f"fc_mig_{uuid.uuid4().hex[:8]}"
    with _admin_engine(base).connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    eng.dispose()
    yield url
    with _admin_engine(base).connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _engine(url):
    opts = engine_options(url)
    opts["poolclass"] = sa.pool.NullPool
    eng = sa.create_engine(url, **opts)
    configure_engine(eng)
    return eng


def test_upgrade_head_matches_the_models(empty_url):
    import server.models  # noqa: F401

    upgrade(empty_url)
    eng = _engine(empty_url)
    try:
        with eng.connect() as c:
            assert schema_diff(c, db.metadata) == []
            tables = set(sa.inspect(c).get_table_names())
            assert {"parks", "sites", "users", "findings", "orders", "cases", "plans", "plan_stops",
                    "audit_entries", "violation_types", "checklist_items", "calendar_days"} <= tables
            assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
    finally:
        eng.dispose()


def test_upgrade_is_idempotent(empty_url):
    upgrade(empty_url)
    upgrade(empty_url)  # a second `fieldcheck init` changes nothing
    eng = _engine(empty_url)
    try:
        with eng.connect() as c:
            assert c.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    finally:
        eng.dispose()


def test_a_model_change_would_be_detected(empty_url):
    """The comparison can fail: a column the migrations lack is reported."""
    upgrade(empty_url)
    md = sa.MetaData()
    for table in db.metadata.sorted_tables:
        table.to_metadata(md)
    md.tables["parks"].append_column(sa.Column("extra_note", sa.Text))
    eng = _engine(empty_url)
    try:
        with eng.connect() as c:
            diff = schema_diff(c, md)
    finally:
        eng.dispose()
    assert any(d[0] == "add_column" and d[3].name == "extra_note" for d in diff if isinstance(d, tuple))

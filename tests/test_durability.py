"""Durable writes: several processes write at once and nothing fails or is lost;
SQLite runs with WAL, synchronous=FULL and a busy timeout."""
from __future__ import annotations

import multiprocessing as mp

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_SECRET
from tests.workers import append_writes, read_loop

WRITERS = 4
WRITES_EACH = 60


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_and_fork_no_chain(app, db_url, tmp_path):
    from server.extensions import db
    from server.models import AuditEntry, LoginFailure
    from server.services.audit import verify_chain

    with app.app_context():
        before = db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one()
        db.session.remove()
    ctx = mp.get_context("spawn")
    with ctx.Pool(WRITERS + 1) as pool:
        reader = pool.apply_async(read_loop, (db_url, str(tmp_path / "r"), 3.0, TEST_SECRET))
        writers = [pool.apply_async(append_writes, (db_url, str(tmp_path / f"w{w}"), w, WRITES_EACH, TEST_SECRET))
                   for w in range(WRITERS)]
        results = [w.get(timeout=300) for w in writers]
        read = reader.get(timeout=300)
    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors[0]
    assert read["errors"] == [], read["errors"][0]
    assert read["reads"] > 0
    assert sum(r["done"] for r in results) == WRITERS * WRITES_EACH
    with app.app_context():
        rows = db.session.execute(sa.select(sa.func.count(LoginFailure.id))).scalar_one()
        entries = db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one()
        report = verify_chain()
    assert rows == WRITERS * WRITES_EACH
    assert entries == before + WRITERS * WRITES_EACH
    assert report["ok"], report
    assert report["verified"] == entries


def test_sqlite_connections_are_durable(sqlite_app):
    from server.extensions import db

    with sqlite_app.app_context():
        with db.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

"""Functions run in child processes by the concurrency tests (top level, so `spawn` can import them)."""
from __future__ import annotations

import traceback


def append_writes(db_url: str, data_dir: str, worker: int, count: int, secret: str) -> dict:
    """Each transaction writes a row and an audit entry, as every service write does."""
    from server import create_app
    from server.extensions import db
    from server.models import LoginFailure
    from server.services import audit

    app = create_app({"DATABASE_URL": db_url, "DATA_DIR": data_dir, "SECRET_KEY": secret})
    errors = []
    done = 0
    with app.app_context():
        for i in range(count):
            try:
                db.session.add(LoginFailure(username=f"w{worker}", client_addr=f"{worker}:{i}"))
                audit.record("test.write", "worker", worker, {"i": i})
                db.session.commit()
                done += 1
            except Exception:  # every failure is reported, none hidden
                db.session.rollback()
                errors.append(traceback.format_exc(limit=3))
        db.session.remove()
        db.engine.dispose()
    return {"worker": worker, "done": done, "errors": errors}


def read_loop(db_url: str, data_dir: str, seconds: float, secret: str) -> dict:
    """Readers alongside the writers: they must never fail or wait for the write lock."""
    import time

    import sqlalchemy as sa

    from server import create_app
    from server.db import read_only
    from server.extensions import db
    from server.models import AuditEntry

    app = create_app({"DATABASE_URL": db_url, "DATA_DIR": data_dir, "SECRET_KEY": secret})
    errors, reads = [], 0
    end = time.monotonic() + seconds
    with app.app_context(), read_only():
        while time.monotonic() < end:
            try:
                db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one()
                db.session.rollback()
                reads += 1
            except Exception:
                db.session.rollback()
                errors.append(traceback.format_exc(limit=3))
        db.session.remove()
        db.engine.dispose()
    return {"reads": reads, "errors": errors}


def hold_scheduler_lock(db_url: str, data_dir: str, hold_s: float, secret: str,
                        marker: str | None = None) -> tuple[float, float]:
    """Take the one-scheduler lock, hold it, and answer when it was acquired and released
    (writing `marker` once it holds the lock, so a test knows when to start a rival)."""
    import pathlib
    import time

    from server import create_app
    from server.jobs import single_scheduler

    app = create_app({"DATABASE_URL": db_url, "DATA_DIR": data_dir, "SECRET_KEY": secret})
    with single_scheduler(app, poll_s=0.1):
        got = time.time()
        if marker:
            pathlib.Path(marker).write_text(str(got))
        time.sleep(hold_s)
        released = time.time()
    return got, released

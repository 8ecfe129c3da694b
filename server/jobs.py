"""The scheduler process: APScheduler 3 in a process of its own (`fieldcheck scheduler`).

Only one scheduler may run jobs against a database: on PostgreSQL a session-level
advisory lock held on a dedicated connection (never a pooled one, where the lock
would outlive its use), on SQLite an exclusive lock on a file beside the database.
A second scheduler waits for the lock. Every job is idempotent and logs what it did.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("fieldcheck.jobs")

SCHEDULER_LOCK_KEY = 0x6663736368  # "fcsch"


@contextlib.contextmanager
def single_scheduler(app, poll_s: float = 5.0):
    """Hold the one-scheduler lock for the life of the block; wait while another holds it."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        conn = engine.connect()
        try:
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK_KEY}).scalar():
                conn.commit()
                log.info("another scheduler holds the lock; waiting")
                time.sleep(poll_s)
            conn.commit()
            yield
        finally:
            conn.close()  # closing the session releases the lock
            engine.dispose()
    else:
        path = Path(app.config["DATA_DIR"]) / "scheduler.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    log.info("another scheduler holds %s; waiting", path)
                    time.sleep(poll_s)
            yield
        finally:
            os.close(fd)


def _job(app, name, fn):
    def run():
        with app.app_context():
            try:
                result = fn()
                log.info("job %s: %s", name, result)
            except Exception:  # a failed run is logged and retried at the next tick
                log.exception("job %s failed", name)
                from .extensions import db

                db.session.rollback()
            finally:
                from .extensions import db

                db.session.remove()

    return run


def jobs(app) -> list[tuple[str, object, object]]:
    """(name, trigger, function) for every scheduled job."""
    from .services.auth import purge_expired
    from .services.audit import verify_chain
    from .services.photos import sweep as sweep_photos
    from .services.lifecycle import sweep_clocks
    from .services.planning import plan_next_day
    from .services.webhooks import deliver_due
    from .services.users import warn_expiring_certificates

    tz = app.config["TIMEZONE"]
    plan_hour, _, plan_minute = str(app.config.get("PLAN_NEXT_DAY_AT", "18:00")).partition(":")
    return [
        ("purge-expired-logins", IntervalTrigger(hours=1, timezone=tz), purge_expired),
        # Overdue orders escalate (E4), passed deadlines make re-inspections due, expiring clocks are logged.
        ("finding-clocks", IntervalTrigger(hours=1, timezone=tz), sweep_clocks),
        ("audit-verify", CronTrigger(hour=2, minute=30, timezone=tz), verify_chain),
        # Temporary files of uploads that died and photo files no row points to (older than an hour).
        ("photo-sweep", CronTrigger(hour=3, minute=10, timezone=tz), sweep_photos),
        # The next working day's plan, each evening: a published plan is left alone, a draft is made again
        # (locked stops kept) only when what it is made from changed.
        # Certificates (执法证) expiring within the policy's certificate_warning_days, or expired: one audit
        # entry per person and expiry date, so the admin's warning is on record.
        ("certificate-warnings", CronTrigger(hour=6, minute=40, timezone=tz), warn_expiring_certificates),
        ("plan-next-day", CronTrigger(hour=int(plan_hour), minute=int(plan_minute or 0), timezone=tz), plan_next_day),
        # Webhook deliveries that are due (new ones, and retries after their backoff): POSTed, signed.
        ("webhook-deliveries", IntervalTrigger(seconds=int(app.config.get("WEBHOOK_POLL_S", 30)), timezone=tz),
         deliver_due),
    ]


def run_scheduler(app, *, run_now: tuple[str, ...] = (), run_for_s: float | None = None, poll_s: float = 5.0) -> None:
    """Hold the one-scheduler lock and run the jobs on their triggers.

    `run_now` names jobs to run once right after start-up as well, and `run_for_s` stops the
    scheduler after that many seconds (both for tests and for a one-off run by hand).
    """
    with single_scheduler(app, poll_s=poll_s):
        sched = (BlockingScheduler if run_for_s is None else BackgroundScheduler)(timezone=app.config["TIMEZONE"])
        table = jobs(app)
        for name, trigger, fn in table:
            sched.add_job(_job(app, name, fn), trigger, id=name, name=name, coalesce=True,
                          max_instances=1, misfire_grace_time=3600)
        # The photo sweep runs at start-up too, so what a crash left mid-upload goes on restart.
        from .services.photos import sweep as sweep_photos

        _job(app, "photo-sweep", sweep_photos)()
        for name, _trigger, fn in table:
            if name in run_now:
                _job(app, name, fn)()
        log.info("scheduler started with %d jobs", len(sched.get_jobs()))
        sched.start()
        if run_for_s is not None:
            time.sleep(run_for_s)
            sched.shutdown(wait=True)

"""The scheduler process's planning job (issue 5, "Done when"): two scheduler processes against one
database run each job once. Two real processes run `run_scheduler` (the one-scheduler lock:
PostgreSQL's advisory lock, SQLite's file lock), each running the evening plan job at start-up:
the first makes the next working day's plan, the second waits for the lock and, the plan's
inputs unchanged, leaves it alone. One plan, one audit entry."""
from __future__ import annotations

import multiprocessing as mp
import time

import sqlalchemy as sa

from tests.conftest import TEST_SECRET

RUN_FOR_S = 3.0


def scheduler_process(db_url: str, data_dir: str, secret: str, run_for_s: float) -> dict:
    """A scheduler process: the lock, the start-up run of the plan job, `run_for_s` of ticking."""
    import logging

    from server import create_app
    from server.jobs import run_scheduler

    results = []

    class Keep(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("job plan-next-day:"):
                results.append({"at": time.time(), "message": record.getMessage()})

    log = logging.getLogger("fieldcheck.jobs")
    log.setLevel(logging.INFO)
    log.addHandler(Keep())
    app = create_app({"DATABASE_URL": db_url, "DATA_DIR": data_dir, "SECRET_KEY": secret})
    started = time.time()
    run_scheduler(app, run_now=("plan-next-day",), run_for_s=run_for_s, poll_s=0.1)
    ended = time.time()
    with app.app_context():
        from server.extensions import db

        db.session.remove()
        db.engine.dispose()
    return {"started": started, "ended": ended, "runs": results}


def test_two_scheduler_processes_run_the_plan_job_once(app, db_url, tmp_path):
    from server.extensions import db
    from server.models import AuditEntry, Plan, PlanStop
    from server.services import calendar, policy

    with app.app_context():
        calendar.load_bundled(record_audit=False)
        policy.current()
        db.session.commit()
    data_dir = str(tmp_path / "shared-data")  # one data dir, as on one machine
    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        first = pool.apply_async(scheduler_process, (db_url, data_dir, TEST_SECRET, RUN_FOR_S))
        second = pool.apply_async(scheduler_process, (db_url, data_dir, TEST_SECRET, RUN_FOR_S))
        results = [first.get(timeout=180), second.get(timeout=180)]
    runs = sorted((run | {"ended": r["ended"]} for r in results for run in r["runs"]), key=lambda x: x["at"])
    assert len(runs) == 2, runs  # each process ran the job once, under the lock
    assert "'result': 'generated'" in runs[0]["message"] and "'result': 'unchanged'" in runs[1]["message"]
    # The second ran only after the first had let the lock go.
    assert runs[1]["at"] >= runs[0]["ended"] - 0.05
    with app.app_context():
        plans = db.session.execute(sa.select(Plan)).scalars().all()
        assert len(plans) == 1 and plans[0].status == "draft"
        stops = db.session.execute(sa.select(sa.func.count(PlanStop.id)).where(
            PlanStop.plan_id == plans[0].id, PlanStop.route_id.is_not(None))).scalar_one()
        assert stops > 0
        generated = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "plan.generate")).scalars().all()
        assert len(generated) == 1 and generated[0].actor_id is None
        assert generated[0].summary["day"] == plans[0].day.isoformat()


def test_the_plan_job_is_registered_for_the_evening(app):
    from apscheduler.triggers.cron import CronTrigger

    from server.jobs import jobs

    table = {name: trigger for name, trigger, _fn in jobs(app)}
    trigger = table["plan-next-day"]
    assert isinstance(trigger, CronTrigger)
    fields = {f.name: str(f) for f in trigger.fields}
    assert fields["hour"] == "18" and fields["minute"] == "0"
    assert str(trigger.timezone) == app.config["TIMEZONE"]
    assert "finding-clocks" in table  # the 721 engine's overdue sweep runs in the same process

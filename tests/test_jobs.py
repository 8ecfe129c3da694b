"""The scheduler process: only one runs jobs against a database; a second one waits."""
from __future__ import annotations

import multiprocessing as mp

from tests.conftest import TEST_SECRET
from tests.workers import hold_scheduler_lock


def test_second_scheduler_waits_for_the_first(app, db_url, tmp_path):
    data_dir = str(tmp_path / "shared-data")  # one data dir, as on one machine
    ctx = mp.get_context("spawn")
    marker = tmp_path / "first-holds-the-lock"
    with ctx.Pool(2) as pool:
        first = pool.apply_async(hold_scheduler_lock, (db_url, data_dir, 2.0, TEST_SECRET, str(marker)))
        import time

        deadline = time.monotonic() + 120
        while not marker.exists():  # start the rival only once the first holds the lock
            assert time.monotonic() < deadline, "the first scheduler never took the lock"
            time.sleep(0.05)
        second = pool.apply_async(hold_scheduler_lock, (db_url, data_dir, 0.1, TEST_SECRET))
        (got1, released1), (got2, _released2) = first.get(timeout=120), second.get(timeout=120)
    assert got2 >= released1 - 0.05, "the second scheduler ran while the first held the lock"


def test_jobs_are_registered_and_idempotent(app):
    from server.extensions import db
    from server.jobs import jobs
    from server.services.auth import purge_expired

    names = [name for name, _trigger, _fn in jobs(app)]
    assert "purge-expired-logins" in names and "audit-verify" in names
    with app.app_context():
        purge_expired()
        again = purge_expired()
        db.session.remove()
    assert again == {"tokens": 0, "login_failures": 0}

"""Load: many phones syncing a day's work at once while supervisors page the queue, on SQLite
and on PostgreSQL, raising the number of phones until the sync's p99 passes 1 s or errors appear.

For each engine: a fresh database (SQLite: a file; PostgreSQL: a new database with PostGIS on
--pg-url, dropped at the end), the schema, the demo city without its history
(`build_demo(seed=1, history=False)`), then gunicorn (`--workers`, sync workers, the argv of
`fieldcheck serve`) on 127.0.0.1. Each step:

- baseline: GET /api/health from as many threads as there are phones (the server's bare
  request rate in the same run, beside which the sync's is read);
- the load: N phones, each a thread that sends its day (8 visits: 7 checklist results each, a
  finding on 4 of them, two certified officers) as two POST /api/sync batches of 4, all
  starting at once; meanwhile 5 supervisors page GET /api/findings (limit 50) with its cursor,
  from the first page to the last, over and over until the phones are done (without pause
  unless --think-s);
- then it checks that nothing was lost: every visit acknowledged is stored once, with all its
  results and findings.

It prints, per step: throughput (visits/s and requests/s), p50/p95/p99 latency and errors for
the sync and for the queue, the baseline, the CPU seconds gunicorn's workers used in the step
(PostgreSQL's own processes not counted) and the load average (a busy machine inflates every
latency: read them beside it). It never asserts a time: it prints figures.

    .venv/bin/python bench/load.py                  # 10, 25, 50, 100, 200, 400 phones on each engine
    .venv/bin/python bench/load.py --quick          # 5 and 20 phones (CI)
    .venv/bin/python bench/load.py --engines sqlite --phones 50,100 --workers 4

The PostgreSQL part needs --pg-url or FIELDCHECK_TEST_DATABASE_URL (a server where this user may
create databases and PostGIS is installed); without one it is skipped with a note.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
# The project instead of bench/ first on the path: a bench/NAME.py must not shadow a standard module.
sys.path[0] = str(ROOT)

from bench._server import SECRET, Server, request  # noqa: E402

CST = dt.timezone(dt.timedelta(hours=8))
VISITS_PER_DAY = 8
BATCH = 4
SUPERVISORS = 5
# (checklist item, catalogue code, domain) of a breach; the items that pass.
BREACHES = [("SAF-012", "SAF-EXIT-BLOCKED", "safety"), ("SAF-004", "SAF-WARN-SIGN", "safety"),
            ("FIRE-003", "FIRE-EXIT-BLOCKED", "fire"), ("ENV-009", "ENV-HW-LABEL", "environment")]
PASSED = ["SAF-001", "SAF-002", "SAF-003", "SAF-005", "SAF-008", "FIRE-001", "ENV-010"]


def pct(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


# --- the database -----------------------------------------------------------------------------


def fresh_database(engine: str, work: Path, pg_url: str | None) -> str | None:
    if engine == "sqlite":
        return f"sqlite:///{work / 'load.db'}"
    if not pg_url:
        return None
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from server.db import normalise_url

    base = normalise_url(pg_url)
    name = f"fc_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE EXTENSION postgis")
    eng.dispose()
    return url


def drop_database(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    admin.dispose()


def build(url: str, data_dir: Path) -> dict:
    """The demo city; answers the teams (two certified inspectors sharing a park, the lead's
    token, the sites they may visit) and the supervisors' tokens."""
    import sqlalchemy as sa
    from geoalchemy2.shape import to_shape

    from server import create_app
    from server.extensions import db
    from server.migrate import upgrade
    from server.models import Site, User
    from server.services.auth import login
    from server.services.demo import DEMO_PASSWORD, build_demo

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})
    with app.app_context():
        build_demo(seed=1, history=False)
        db.session.commit()
        today = dt.date.today()
        inspectors = [u for u in db.session.execute(
            sa.select(User).where(User.role == "inspector", User.active.is_(True)).order_by(User.username)).scalars()
            if not u.auxiliary and u.certificate_no and (u.certificate_expires or today) > today
            and {"safety", "fire", "environment"} <= set(u.certified_domains or [])]
        teams, used = [], set()
        for lead in inspectors:
            parks = {p.id for p in lead.parks}
            partner = next((u for u in inspectors if u.id != lead.id and parks & {p.id for p in u.parks}), None)
            if partner is None or lead.id in used:
                continue
            shared = sorted(parks & {p.id for p in partner.parks})
            sites = [(s.id, to_shape(s.geom).x, to_shape(s.geom).y) for s in db.session.execute(
                sa.select(Site).where(Site.park_id.in_(shared), Site.active.is_(True)).order_by(Site.id)).scalars()]
            token, _row = login(lead.username, DEMO_PASSWORD, "127.0.0.1")
            teams.append({"lead": lead.username, "officers": [lead.id, partner.id], "sites": sites, "token": token})
            used.add(lead.id)
        sups = [u.username for u in db.session.execute(
            sa.select(User).where(User.role.in_(("supervisor", "admin"))).order_by(User.username)).scalars()]
        # Five supervisors' desks: the demo city's supervisors and admin, each logged in on as
        # many desks as it takes (every desk its own token).
        sup_tokens = [login(sups[i % len(sups)], DEMO_PASSWORD, "127.0.0.1")[0] for i in range(SUPERVISORS)]
        db.session.remove()
        db.engine.dispose()
    if not teams:
        raise RuntimeError("the demo city has no pair of certified inspectors sharing a park")
    return {"teams": teams, "supervisors": sup_tokens}


def day_of_work(rng: random.Random, team: dict, now: dt.datetime) -> list[dict]:
    """A phone's day: 8 visits, 7 results each, a finding on half of them."""
    visits = []
    start = now - dt.timedelta(hours=8)
    for i in range(VISITS_PER_DAY):
        site_id, lon, lat = rng.choice(team["sites"])
        breach = [rng.choice(BREACHES)] if i % 2 == 0 else []
        passed = rng.sample(PASSED, 7 - len(breach))
        t = start + dt.timedelta(minutes=50 * i)
        visits.append({
            "id": str(uuid.uuid4()), "site_id": site_id, "kind": "routine", "officer_ids": team["officers"],
            "certificates_shown": True, "started_at": t.isoformat(),
            "finished_at": (t + dt.timedelta(minutes=25)).isoformat(),
            "location": {"lon": lon + rng.uniform(-0.0003, 0.0003), "lat": lat + rng.uniform(-0.0003, 0.0003),
                         "accuracy_m": round(rng.uniform(4, 25), 1)},
            "results": [{"item": item, "outcome": "fail"} for item, _c, _d in breach]
                       + [{"item": item, "outcome": "pass"} for item in passed],
            "findings": [{
                "id": str(uuid.uuid4()), "item": item, "violation_code": code, "domain": domain,
                "severity": rng.choice(("minor", "general")), "harm": "none",
                "corrected_on_spot": rng.random() < 0.5, "note": "load", "photo_ids": [],
            } for item, code, domain in breach],
            "record": {"party_signature_photo_id": None, "party_refused": False},
        })
    return visits


# --- one step ---------------------------------------------------------------------------------


class Step:
    def __init__(self):
        self.lock = threading.Lock()
        self.sync_ms: list[float] = []
        self.queue_ms: list[float] = []
        self.sync_errors: list[str] = []
        self.queue_errors: list[str] = []
        self.acked: dict[str, dict] = {}
        self.pages = 0


def phone(port: int, token: str, device: str, day: list[dict], step: Step, go: threading.Event) -> None:
    go.wait()
    for i in range(0, len(day), BATCH):
        batch = day[i:i + BATCH]
        t = time.perf_counter()
        try:
            status, data = request(port, "POST", "/api/sync", {"device_id": device, "visits": batch}, token,
                                   timeout=120)
        except OSError as e:
            with step.lock:
                step.sync_errors.append(f"{type(e).__name__}: {e}")
            continue
        ms = (time.perf_counter() - t) * 1000
        with step.lock:
            step.sync_ms.append(ms)
            if status != 200:
                step.sync_errors.append(f"{status}: {data[:200]!r}")
                continue
            for r, rec in zip(json.loads(data)["results"], batch):
                if r["status"] in ("created", "duplicate"):
                    step.acked[rec["id"]] = rec
                else:
                    step.sync_errors.append(f"{r['status']}: {r.get('message')}")


def supervisor(port: int, token: str, step: Step, done: threading.Event, go: threading.Event,
               think_s: float = 0.0) -> None:
    go.wait()
    cursor = None
    while not done.is_set():
        path = "/api/findings?limit=50" + (f"&cursor={quote(cursor)}" if cursor else "")
        t = time.perf_counter()
        try:
            status, data = request(port, "GET", path, token=token, timeout=120)
        except OSError as e:
            with step.lock:
                step.queue_errors.append(f"{type(e).__name__}: {e}")
            time.sleep(0.1)
            continue
        ms = (time.perf_counter() - t) * 1000
        with step.lock:
            step.queue_ms.append(ms)
            step.pages += 1
            if status != 200:
                step.queue_errors.append(f"{status}: {data[:200]!r}")
                cursor = None
                continue
        cursor = json.loads(data).get("next_cursor")  # the last page: start again from the first
        done.wait(think_s)  # a person reading the page (0: a desk that pages without pause)


def baseline(port: int, threads: int, per_thread: int) -> tuple[float, float, float, int]:
    """GET /api/health from `threads` threads at once: requests/s, p50 and p99 ms, errors."""
    times, errors, lock = [], [0], threading.Lock()

    def run():
        for _ in range(per_thread):
            t = time.perf_counter()
            try:
                status, _ = request(port, "GET", "/api/health", timeout=60)
                ok = status == 200
            except OSError:
                ok = False
            with lock:
                times.append((time.perf_counter() - t) * 1000)
                errors[0] += 0 if ok else 1

    ts = [threading.Thread(target=run) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return len(times) / wall, pct(times, 50), pct(times, 99), errors[0]


def run_step(port: int, world: dict, n_phones: int, rng: random.Random, think_s: float = 0.0) -> dict:
    now = dt.datetime.now(CST).replace(microsecond=0)
    step, go, done = Step(), threading.Event(), threading.Event()
    days = []
    phones = []
    for i in range(n_phones):
        team = world["teams"][i % len(world["teams"])]
        day = day_of_work(rng, team, now)
        days.append(day)
        phones.append(threading.Thread(target=phone, args=(port, team["token"], f"load-{n_phones}-{i}", day, step, go)))
    sups = [threading.Thread(target=supervisor, args=(port, tok, step, done, go, think_s))
            for tok in world["supervisors"]]
    for t in phones + sups:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in phones:
        t.join()
    wall = time.perf_counter() - t0
    done.set()
    for t in sups:
        t.join()
    sent = [rec for day in days for rec in day]
    return {"phones": n_phones, "wall": wall, "step": step, "sent": sent}


def lost(url: str, data_dir: Path, step: Step) -> list[str]:
    """What is missing or doubled among the acknowledged visits: each once, with all its results and findings."""
    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db
    from server.models import CheckResult, Finding, Visit

    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})
    problems = []
    with app.app_context():
        ids = [uuid.UUID(v) for v in step.acked]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            visits = db.session.execute(sa.select(Visit.id, sa.func.count()).where(Visit.id.in_(chunk))
                                        .group_by(Visit.id)).all()
            results = dict(db.session.execute(sa.select(CheckResult.visit_id, sa.func.count())
                                              .where(CheckResult.visit_id.in_(chunk)).group_by(CheckResult.visit_id)).all())
            findings = dict(db.session.execute(sa.select(Finding.visit_id, sa.func.count())
                                               .where(Finding.visit_id.in_(chunk)).group_by(Finding.visit_id)).all())
            stored = {str(v): n for v, n in visits}
            for vid in map(str, chunk):
                rec = step.acked[vid]
                if stored.get(vid) != 1:
                    problems.append(f"visit {vid} stored {stored.get(vid, 0)} times")
                elif results.get(uuid.UUID(vid), 0) != len(rec["results"]) or \
                        findings.get(uuid.UUID(vid), 0) != len(rec["findings"]):
                    problems.append(f"visit {vid} is not whole")
        db.session.remove()
        db.engine.dispose()
    return problems


def run_engine(engine: str, args, steps: list[int]) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix=f"fieldcheck-bench-load-{engine}-"))
    url = fresh_database(engine, work, args.pg_url)
    if url is None:
        print(f"\n{engine}: skipped (no --pg-url and no FIELDCHECK_TEST_DATABASE_URL)")
        return []
    rows = []
    try:
        t = time.perf_counter()
        world = build(url, work)
        print(f"\n{engine}: demo city built in {time.perf_counter() - t:.1f} s; {len(world['teams'])} teams; "
              f"gunicorn {args.workers} sync workers; load average {os.getloadavg()[0]:.1f}", flush=True)
        rng = random.Random(1)
        with Server(url, work, workers=args.workers, timeout_s=300) as server:
            # Warm up every worker: imports, caches, the policy's first version.
            run_step(server.port, world, args.workers, rng)
            print(f"{'phones':>6} | {'health req/s':>12} {'p99':>6} | {'sync visits/s':>13} {'req/s':>6} {'p50':>6} "
                  f"{'p95':>6} {'p99':>6} {'err':>4} | {'queue pages/s':>13} {'p50':>6} {'p95':>6} {'p99':>6} "
                  f"{'err':>4} | lost | {'web CPU s':>9} {'load':>5}")
            for n in steps:
                h_rate, _h50, h99, h_err = baseline(server.port, min(n, 50), max(4, 200 // min(n, 50)))
                cpu0 = server.worker_cpu_s()
                r = run_step(server.port, world, n, rng, args.think_s)
                cpu = server.worker_cpu_s() - cpu0
                s = r["step"]
                missing = lost(url, work, s)
                sync_p = [pct(s.sync_ms, p) for p in (50, 95, 99)]
                queue_p = [pct(s.queue_ms, p) for p in (50, 95, 99)]
                errors = len(s.sync_errors) + h_err
                row = {"engine": engine, "phones": n, "health_rps": h_rate, "health_p99": h99,
                       "visits_s": len(s.acked) / r["wall"], "sync_rps": len(s.sync_ms) / r["wall"],
                       "sync_p": sync_p, "sync_errors": errors, "queue_rps": s.pages / r["wall"],
                       "queue_p": queue_p, "queue_errors": len(s.queue_errors), "lost": len(missing),
                       "load": os.getloadavg()[0], "cpu_s": cpu}
                rows.append(row)
                print(f"{n:6d} | {h_rate:12.0f} {h99:6.0f} | {row['visits_s']:13.1f} {row['sync_rps']:6.1f} "
                      f"{sync_p[0]:6.0f} {sync_p[1]:6.0f} {sync_p[2]:6.0f} {errors:4d} | {row['queue_rps']:13.1f} "
                      f"{queue_p[0]:6.0f} {queue_p[1]:6.0f} {queue_p[2]:6.0f} {len(s.queue_errors):4d} | "
                      f"{len(missing):4d} | {cpu:9.1f} {row['load']:5.1f}", flush=True)
                for e in (s.sync_errors[:3] + s.queue_errors[:3] + missing[:3]):
                    print(f"       {e}")
                if sync_p[2] > args.p99_limit_ms or errors or s.queue_errors or missing:
                    why = "errors" if (errors or s.queue_errors or missing) else f"sync p99 over {args.p99_limit_ms} ms"
                    print(f"{engine}: stopped at {n} phones ({why})")
                    break
    finally:
        drop_database(url)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 and 20 phones on each engine (CI)")
    parser.add_argument("--phones", help="comma-separated steps (default 10,25,50,100,200,400; 5,20 quick)")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4: two per core)")
    parser.add_argument("--pg-url", default=os.environ.get("FIELDCHECK_TEST_DATABASE_URL"),
                        help="a PostgreSQL server with PostGIS (default: FIELDCHECK_TEST_DATABASE_URL)")
    parser.add_argument("--think-s", type=float, default=0.0,
                        help="each supervisor's pause between pages (default 0: paging without pause, the worst case)")
    parser.add_argument("--p99-limit-ms", type=float, default=1000,
                        help="stop raising the phones once the sync's p99 passes this (default 1000)")
    args = parser.parse_args()
    steps = [int(x) for x in (args.phones or ("5,20" if args.quick else "10,25,50,100,200,400")).split(",")]
    print(f"fieldcheck bench/load.py: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{platform.platform()}; steps {steps} phones; a phone's day: {VISITS_PER_DAY} visits in batches of "
          f"{BATCH}; {SUPERVISORS} supervisors paging the queue (limit 50, {args.think_s:g} s between pages); "
          f"times in ms")
    results = []
    for engine in args.engines.split(","):
        results += run_engine(engine.strip(), args, steps)
    print(f"\nlast step each engine held (sync p99 <= {args.p99_limit_ms:.0f} ms, no error, nothing lost):")
    for engine in args.engines.split(","):
        held = [r["phones"] for r in results if r["engine"] == engine.strip() and r["sync_p"][2] <= args.p99_limit_ms
                and not r["sync_errors"] and not r["queue_errors"] and not r["lost"]]
        print(f"  {engine.strip()}: {max(held) if held else 'none'} phones")
    if any(r["lost"] for r in results):
        sys.exit("acknowledged visits were lost or doubled")


if __name__ == "__main__":
    main()

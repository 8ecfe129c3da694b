"""Benchmark: the supervisor's queue, GET /api/findings, on SpatiaLite.

Builds the demo city (4 parks, 314 enterprises, the catalogue, the calendar, users of every
role) and adds findings as rows (bulk inserts, classified by the real rule table from
made-up facts): 100,000 over two years, with their visits, photos and legal reviews; older
findings mostly closed, recent ones open with deadlines around today, some expired.

Then it serves the app with gunicorn, as `make run` does (`fieldcheck run`: gunicorn, two
sync workers, the same `server:create_app()`), on loopback, and asks for the first page of
50 rows with no filter and with each single filter, as the admin (every park) and as a
supervisor of two parks: each request on a new connection (gunicorn's sync workers close it
after every answer, as they would behind nginx), one after another. Beside it, in this
process, the same page through the service function (`queue.list_findings`, no HTTP, no
JSON) is timed the same number of times: the ratio is what HTTP, the WSGI stack, the
authentication and the JSON cost on top of the query.

    .venv/bin/python bench/queue.py            # 100,000 findings, 200 requests per filter
    .venv/bin/python bench/queue.py --quick    # 5,000 findings, 20 requests per filter

It prints p50/p95 per filter and user with the CPU time per request (on a machine shared
with other work the wall times swell with its load; CPU time much less), the load average,
and each filter's query plan (the index it reads).
It never asserts a time. The figures are in docs/performance.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

# This script shares its name with the standard library's `queue`: with its own folder first on
# the import path, `import queue` anywhere (concurrent.futures, in the photo store) would find it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

SEED = 20261126
from bench._server import SECRET, Server, request  # noqa: E402
# Advisory findings (risks, no breach: service S0) are the bulk of a bureau's service tier;
# breaches are drawn from the catalogue, tolerated and on-overdue rows more often than others.
SEVERITY = (("advisory", 42), ("minor", 45), ("general", 9), ("serious", 3), ("major_hazard", 1))
HARM = (("none", 86), ("minor", 12), ("significant", 2))
# (The excluded domains' rows take no waiver: most of their breaches are enforcement, X1.)
ROW_WEIGHT = {"excluded": 1, "minor_no_harm": 8, "first_offense": 8, "on_overdue": 6, "other": 1}
GEOFENCE = (("on_site", 85), ("near", 7), ("off_site", 3), ("poor_fix", 3), ("no_fix", 2))


def pick(rng: random.Random, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


# --- building ---------------------------------------------------------------------------


def build(url: str, data_dir: Path, n_findings: int) -> dict:
    from geoalchemy2.shape import to_shape

    from server import create_app
    from server.domain.classify import classify
    from server.extensions import db
    from server.migrate import upgrade
    from server.models import Finding, LegalReview, Photo, Site, User, ViolationType, Visit
    from server.services import policy
    from server.services.demo import build_demo

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})
    rng = random.Random(SEED)
    tz = ZoneInfo("Asia/Shanghai")
    today = dt.datetime.now(tz).date()
    with app.app_context():
        build_demo(seed=1, history=False)  # the city only: the bench makes its own findings
        db.session.commit()
        version = policy.current().version
        policy_values = policy.values()
        db.session.commit()
        sites = [(s.id, s.park_id, *to_shape(s.geom).coords[0]) for s in db.session.execute(sa.select(Site)).scalars()]
        rows = list(db.session.execute(sa.select(ViolationType).where(ViolationType.effective_to.is_(None))).scalars())
        excluded = set(policy_values["excluded_domains"])
        row_weights = [ROW_WEIGHT["excluded"] if r.domain in excluded else ROW_WEIGHT.get(
            r.tolerance_type, ROW_WEIGHT["on_overdue"] if r.penalty_trigger == "on_overdue" else ROW_WEIGHT["other"])
            for r in rows]
        inspectors = list(db.session.execute(sa.select(User.id).where(User.role == "inspector")).scalars())
        reviewer = db.session.execute(sa.select(User.id).where(User.role == "legal_reviewer")).scalars().first()
        existing = db.session.execute(sa.select(sa.func.count(Finding.id))).scalar_one()

        cache: dict = {}

        def classified(vt, facts, repeats):
            key = (vt.id if vt else None, tuple(sorted(facts.items())), repeats)
            if key not in cache:
                cache[key] = classify(vt, facts, {"repeats": repeats}, policy_values)
            return cache[key]

        visits, findings, photos, reviews = [], [], [], []
        t0 = time.perf_counter()
        while len(findings) < n_findings:
            site_id, park_id, lon, lat = rng.choice(sites)
            age = int(rng.triangular(0, 730, 0))  # more recent findings than old ones
            started = dt.datetime.combine(today - dt.timedelta(days=age), dt.time(8, 30), tz) + dt.timedelta(
                minutes=rng.randrange(0, 8 * 60))
            geofence = pick(rng, GEOFENCE)
            off = {"off_site": 0.006, "near": 0.0012}.get(geofence, 0.0002)
            visit_id = uuid.uuid4()
            visits.append({
                "id": visit_id, "site_id": site_id, "kind": rng.choice(("routine", "routine", "key", "random")),
                "recorded_by": rng.choice(inspectors), "device_id": "bench", "certificates_shown": True,
                "started_at": started, "finished_at": started + dt.timedelta(minutes=25), "received_at": started,
                "fix": f"SRID=4326;POINT({lon + off} {lat})", "fix_accuracy_m": round(rng.uniform(4, 30), 1),
                "distance_m": off * 94000, "geofence": geofence,
                "content_hash": hashlib.sha256(visit_id.bytes).hexdigest(), "payload": {"site_id": site_id},
            })
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                severity = pick(rng, SEVERITY)
                vt = None if severity == "advisory" else rng.choices(rows, row_weights)[0]
                facts = {"severity": severity, "harm": pick(rng, HARM), "intentional": rng.random() < 0.01,
                         "obstruction": rng.random() < 0.005, "suspected_crime": rng.random() < 0.001,
                         "no_fault_proven": rng.random() < 0.01, "corrected_on_spot": rng.random() < 0.7}
                repeats = rng.choices((0, 1, 2), (85, 13, 2))[0]
                c = classified(vt, facts, repeats)
                final, reason = c.tier, ""
                if final == "management" and rng.random() < 0.05:
                    final = "enforcement"  # an order went overdue: escalated (E4)
                elif final == "enforcement" and rng.random() < 0.02:
                    final, reason = "management", "当事人已主动消除危害后果，改为责令限期改正"
                status, deadline, reviewed = _state(rng, age, final, c, today)
                fid = uuid.uuid4()
                discovered = started + dt.timedelta(minutes=rng.randrange(1, 20))
                findings.append({
                    "id": fid, "visit_id": visit_id, "site_id": site_id, "park_id": park_id,
                    "violation_type_id": vt.id if vt else None, "domain": vt.domain if vt else "other",
                    "discovered_at": discovered, **facts, "note": "", "repeats": repeats,
                    "suggested_tier": c.tier, "final_tier": final, "rule_id": c.rule_id, "flags": list(c.flags),
                    "tolerance_path": c.tolerance_path, "explanation_zh": c.explanation_zh,
                    "explanation_en": c.explanation_en, "policy_version": version, "tier_reason": reason,
                    "status": status, "next_deadline": deadline, "correction_deadline": deadline,
                    "created_at": discovered, "updated_at": discovered,
                })
                for k in range(rng.choice((0, 1, 1, 2, 2, 3))):
                    photos.append({"id": uuid.uuid4(), "finding_id": fid, "visit_id": visit_id,
                                   "status": "stored" if age > 1 or rng.random() < 0.8 else "waiting",
                                   "purpose": "现场照片", "sha256": hashlib.sha256(fid.bytes + bytes([k])).hexdigest(),
                                   "captured_at": discovered + dt.timedelta(seconds=30 * k),
                                   "received_at": discovered + dt.timedelta(minutes=40)})
                if reviewed:
                    reviews.append({"finding_id": fid, "reviewer_id": reviewer, "outcome": rng.choice(
                        ("confirm_enforcement", "no_penalty")), "reason": "法制审核意见", "at": discovered + dt.timedelta(days=3)})
        t_made = time.perf_counter() - t0
        for model, batch in ((Visit, visits), (Finding, findings), (Photo, photos), (LegalReview, reviews)):
            for i in range(0, len(batch), 5000):
                db.session.execute(sa.insert(model), batch[i:i + 5000])
        db.session.commit()
        t_total = time.perf_counter() - t0
        counts = {name: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
                  for name, model in (("findings", Finding), ("visits", Visit), ("photos", Photo),
                                      ("legal_reviews", LegalReview))}
        shape = db.session.execute(sa.select(
            sa.func.sum(sa.case((Finding.queue_due < today, 1), else_=0)),
            sa.func.sum(sa.case((Finding.status.in_(("closed", "closed_no_penalty")), 1), else_=0)),
            sa.func.sum(sa.case((Finding.legal_flag, 1), else_=0)),
        )).one()
        tiers = dict(db.session.execute(sa.select(Finding.final_tier, sa.func.count()).group_by(Finding.final_tier)).all())
    print(f"built {counts} in {t_total:.1f} s (facts made in {t_made:.1f} s; demo city findings before: {existing}); "
          f"final tiers {tiers}; expired clocks {shape[0]}, closed {shape[1]}, flagged {shape[2]}")
    return counts


def _state(rng: random.Random, age: int, tier: str, c, today: dt.date):
    """Status, next deadline and whether a legal review exists, by age and tier."""
    flagged = "statutory_minor_review" in c.flags
    if age > 60 and rng.random() < 0.93:
        closed = "closed_no_penalty" if (c.tolerance_path != "none" or flagged and rng.random() < 0.5) else "closed"
        return closed, None, flagged
    due = today + dt.timedelta(days=rng.randint(-15, 45))
    if tier == "service":
        return rng.choice(("open", "awaiting_review", "closed")), None, False
    if tier == "management":
        status = rng.choice(("awaiting_review", "order_issued", "order_issued", "reinspection_due"))
        return status, None if status == "awaiting_review" else due, False
    if flagged and rng.random() < 0.6:
        return "legal_review", None, False
    status = rng.choice(("awaiting_review", "escalated", "case_open", "case_open"))
    return status, due if status == "case_open" else None, flagged


# --- measuring --------------------------------------------------------------------------


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def filters_for(app) -> list[tuple[str, dict]]:
    from server.extensions import db
    from server.models import Finding, Park

    with app.app_context():
        park = db.session.execute(sa.select(Park.id).where(Park.code == "EDZ")).scalar_one()
        # The enterprise with the most findings in EDZ: the hardest single-site page.
        site = db.session.execute(sa.select(Finding.site_id).where(Finding.park_id == park).group_by(Finding.site_id)
                                  .order_by(sa.func.count().desc()).limit(1)).scalar_one()
    return [
        ("none", {}), ("tier=enforcement", {"tier": "enforcement"}), ("status=order_issued", {"status": "order_issued"}),
        ("park=EDZ", {"park": park}), ("domain=fire", {"domain": "fire"}), ("enterprise", {"enterprise": site}),
        ("overdue=true", {"overdue": True}), ("due_within=7", {"due_within": 7}), ("flagged=true", {"flagged": True}),
        ("off_site=true", {"off_site": True}),
    ]


def query_plans(app, filters, scope) -> dict[str, str]:
    """The index each filter's page query reads (SQLite's EXPLAIN QUERY PLAN, first line)."""
    from server.extensions import db
    from server.services.queue import QueueFilters, bureau_today, queue_select

    plans = {}
    with app.app_context():
        today = bureau_today("Asia/Shanghai")
        for name, f in filters:
            stmt = queue_select(QueueFilters(**f), scope, today, limit=51)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            rows = db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()
            plans[name] = " / ".join(r[-1] for r in rows)
    return plans


def measure(args) -> None:
    from server import create_app
    from server.access import park_scope
    from server.extensions import db
    from server.services.queue import QueueFilters, list_findings
    from server.services.users import get_by_username

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fieldcheck-bench-queue-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "bench.db"
    url = f"sqlite:///{db_path}"
    data_dir = work / "data"
    try:
        if not db_path.exists():
            build(url, data_dir, args.findings)
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})
        filters = filters_for(app)
        # The argv of `fieldcheck run` (server/cli.py), without the access log.
        server = Server(url, data_dir, workers=args.workers, timeout_s=None).start()
        port = server.port
        try:
            tokens = {}
            for user in ("admin", "sup01"):
                status, data = request(port, "POST", "/api/auth/token",
                                       {"username": user, "password": "fieldcheck-demo"})
                assert status == 201, data
                tokens[user] = json.loads(data)["token"]
            with app.app_context():
                scopes = {u: park_scope(get_by_username(u)) for u in tokens}
            print(f"\n{args.requests} requests per row after {args.warmup} warm-up; first page, limit=50; "
                  f"gunicorn {args.workers} sync workers on 127.0.0.1; times in ms; CPU: ms of CPU per request "
                  f"(HTTP: gunicorn's workers; direct: this process); load average before: "
                  f"{os.getloadavg()[0]:.1f}")
            print(f"{'user':6} {'filter':21} {'rows':>4} {'HTTP p50':>9} {'p95':>7} {'CPU':>5} "
                  f"{'direct p50':>11} {'p95':>7} {'CPU':>5} {'ratio p50':>10} {'CPU':>5}")
            worst = (0.0, "")
            for user, token in tokens.items():
                for name, f in filters:
                    path = "/api/findings?" + "&".join(
                        f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in f.items())
                    http_ms, rows = [], 0
                    for i in range(args.warmup + args.requests):
                        if i == args.warmup:
                            cpu0 = server.worker_cpu_s()
                        t = time.perf_counter()
                        status, data = request(port, "GET", path, token=token)
                        elapsed = (time.perf_counter() - t) * 1000
                        assert status == 200, (path, status, data[:300])
                        if i >= args.warmup:
                            http_ms.append(elapsed)
                    http_cpu = (server.worker_cpu_s() - cpu0) * 1000 / args.requests
                    rows = len(json.loads(data)["items"])
                    direct_ms = []
                    with app.app_context():
                        for i in range(args.warmup + args.requests):
                            if i == args.warmup:
                                cpu0 = time.process_time()
                            t = time.perf_counter()
                            list_findings(QueueFilters(**f), scopes[user], 50)
                            db.session.remove()  # a new session per call, as per request
                            if i >= args.warmup:
                                direct_ms.append((time.perf_counter() - t) * 1000)
                        direct_cpu = (time.process_time() - cpu0) * 1000 / args.requests
                    h50, h95 = pct(http_ms, 50), pct(http_ms, 95)
                    d50, d95 = pct(direct_ms, 50), pct(direct_ms, 95)
                    worst = max(worst, (h95, f"{user} {name}"))
                    print(f"{user:6} {name:21} {rows:4d} {h50:9.1f} {h95:7.1f} {http_cpu:5.1f} {d50:11.1f} {d95:7.1f} "
                          f"{direct_cpu:5.1f} {h50 / d50:9.1f}x {http_cpu / direct_cpu:4.1f}x")
            print(f"\nworst HTTP p95: {worst[0]:.1f} ms ({worst[1]}); the issue's target: under 50 ms; "
                  f"load average after: {os.getloadavg()[0]:.1f}")
            print("\nquery plans (as admin, then as sup01 with its two parks):")
            for user in tokens:
                for name, plan in query_plans(app, filters, scopes[user]).items():
                    print(f"  {user:6} {name:21} {plan}")
        finally:
            server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 findings and 20 requests per filter (CI)")
    parser.add_argument("--findings", type=int, help="findings to build (default 100,000; 5,000 with --quick)")
    parser.add_argument("--requests", type=int, help="timed requests per filter and user (default 200; 20 quick)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run uses 2)")
    parser.add_argument("--keep", help="build into (or reuse) this directory instead of a temporary one")
    args = parser.parse_args()
    args.findings = args.findings or (5_000 if args.quick else 100_000)
    args.requests = args.requests or (20 if args.quick else 200)
    print(f"fieldcheck bench/queue.py: {args.findings} findings on SpatiaLite; Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    measure(args)


if __name__ == "__main__":
    main()

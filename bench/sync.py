"""Benchmark: findings per second through POST /api/sync against a raw bulk insert of the same rows.

On SpatiaLite, in one run, into one database (the demo city, `build_demo(seed=1)`):

- sync: batches of 50 visits, each with 2 findings and 5 checklist results, sent over HTTP on
  loopback to the real server (gunicorn, one sync worker, `server:create_app()`), with
  everything the product does: the record's validation, the officers' certificates, the
  catalogue row in force, the repeat look-up and the classification of each finding, the
  on-site proof, the receipt, and the audit entries (one per visit, one per finding); each
  record accepted or rejected whole (the batch's rows inserted together in a savepoint, a
  savepoint per record only when an insert fails), committed once per batch;
- raw: the same number of visits, results and findings (other ids) written by SQLAlchemy
  Core `insert()` of visits, results and findings in this process, one transaction per batch
  of 50 visits: no validation, no look-up, no classification, no audit.

The two alternate batch by batch, so a busy machine slows both alike. Each prints findings
per second of wall time, and per CPU second (the server worker's for sync, this process's
for the raw insert); the ratio sync / raw is the figure (target, issue 4: at least 0.20).

    .venv/bin/python bench/sync.py            # 20 batches each: 2,000 findings through each path
    .venv/bin/python bench/sync.py --quick    # 3 batches each (CI)

It never asserts a time: it prints figures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project instead of bench/ first on the path: a bench/NAME.py must not shadow a standard module.
sys.path[0] = str(ROOT)

from bench._server import SECRET, Server, request  # noqa: E402


VISITS_PER_BATCH = 50
CST = dt.timezone(dt.timedelta(hours=8))
# (checklist item, catalogue code, domain): the failed items of a visit and their findings.
BREACHES = [
    ("SAF-012", "SAF-EXIT-BLOCKED", "safety"),
    ("SAF-004", "SAF-WARN-SIGN", "safety"),
    ("FIRE-003", "FIRE-EXIT-BLOCKED", "fire"),
    ("ENV-009", "ENV-HW-LABEL", "environment"),
    ("SAF-010", "SAF-PPE", "safety"),
]
PASSED = ["SAF-001", "SAF-002", "SAF-003", "SAF-005", "SAF-008", "FIRE-001", "ENV-010"]


def build(url: str, data_dir: Path) -> dict:
    """The demo city; answers the team, the sites of its parks and the catalogue rows' ids."""
    import sqlalchemy as sa
    from geoalchemy2.shape import to_shape

    from server import create_app
    from server.extensions import db
    from server.migrate import upgrade
    from server.models import Site, User, ViolationType
    from server.services.demo import build_demo

    upgrade(url)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})
    with app.app_context():
        build_demo(seed=1, history=False)  # the city only: the bench makes its own findings
        db.session.commit()
        team = [db.session.execute(sa.select(User).where(User.username == u)).scalar_one() for u in ("insp02", "insp03")]
        parks = sorted(set(team[0].park_ids) & set(team[1].park_ids))
        sites = [(s.id, s.park_id, to_shape(s.geom).x, to_shape(s.geom).y) for s in db.session.execute(
            sa.select(Site).where(Site.park_id.in_(parks), Site.active.is_(True)).order_by(Site.id)).scalars()]
        rows = {vt.code: vt.id for vt in db.session.execute(sa.select(ViolationType)).scalars()}
        out = {"team": [u.id for u in team], "lead": team[0].username, "sites": sites, "rows": rows}
        db.session.remove()
        db.engine.dispose()
    return out


def make_batch(rng: random.Random, world: dict, now: dt.datetime) -> list[dict]:
    """50 visit records as the phone sends them: 5 results, 2 of them failed with a finding each."""
    visits = []
    for _ in range(VISITS_PER_BATCH):
        site_id, _park, lon, lat = rng.choice(world["sites"])
        breaches = rng.sample(BREACHES, 2)
        passed = rng.sample(PASSED, 3)
        start = now - dt.timedelta(minutes=rng.randint(30, 300))
        visits.append({
            "id": str(uuid.uuid4()), "site_id": site_id, "kind": "routine", "officer_ids": world["team"],
            "certificates_shown": True, "started_at": start.isoformat(),
            "finished_at": (start + dt.timedelta(minutes=20)).isoformat(),
            "location": {"lon": lon + rng.uniform(-0.0005, 0.0005), "lat": lat + rng.uniform(-0.0005, 0.0005),
                         "accuracy_m": round(rng.uniform(4, 30), 1)},
            "results": [{"item": item, "outcome": "fail"} for item, _c, _d in breaches]
                       + [{"item": item, "outcome": "pass"} for item in passed],
            "findings": [{
                "id": str(uuid.uuid4()), "item": item, "violation_code": code, "domain": domain,
                "severity": rng.choice(("minor", "general")), "harm": rng.choice(("none", "none", "minor")),
                "corrected_on_spot": rng.random() < 0.5, "note": "bench", "photo_ids": [str(uuid.uuid4())],
            } for item, code, domain in breaches],
            "record": {"party_signature_photo_id": None, "party_refused": rng.random() < 0.1},
        })
    return visits


def raw_rows(batch: list[dict], world: dict, received: dt.datetime) -> tuple[list, list, list]:
    """The same rows as the batch stores, for the Core insert (fresh ids: the sync stored the others)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    parks = {s[0]: s[1] for s in world["sites"]}
    visits, results, findings = [], [], []
    for rec in batch:
        vid = uuid.uuid4()
        started = dt.datetime.fromisoformat(rec["started_at"])
        loc = rec["location"]
        visits.append({
            "id": vid, "site_id": rec["site_id"], "kind": rec["kind"], "recorded_by": world["team"][0],
            "device_id": "bench-raw", "certificates_shown": True, "started_at": started,
            "finished_at": dt.datetime.fromisoformat(rec["finished_at"]), "received_at": received,
            "clock_skew_s": 0.0, "clock_flagged": False, "fix": from_shape(Point(loc["lon"], loc["lat"]), srid=4326),
            "fix_accuracy_m": loc["accuracy_m"], "distance_m": 30.0, "geofence": "on_site",
            "party_signature_photo_id": None, "party_refused": rec["record"]["party_refused"],
            "content_hash": "0" * 64, "payload": rec, "receipt": None, "corrects_id": None,
        })
        results += [{"visit_id": vid, "item_code": r["item"], "outcome": r["outcome"]} for r in rec["results"]]
        for f in rec["findings"]:
            findings.append({
                "id": uuid.uuid4(), "visit_id": vid, "site_id": rec["site_id"], "park_id": parks[rec["site_id"]],
                "item_code": f["item"], "violation_type_id": world["rows"][f["violation_code"]], "domain": f["domain"],
                "discovered_at": started, "severity": f["severity"], "harm": f["harm"], "intentional": False,
                "obstruction": False, "suspected_crime": False, "no_fault_proven": False,
                "corrected_on_spot": f["corrected_on_spot"], "note": f["note"], "repeats": 0,
                "earlier_tolerance_closed": False, "earlier_order_failed": False, "suggested_tier": "management",
                "final_tier": "management", "rule_id": "X2", "flags": [], "tolerance_path": "none",
                "explanation_zh": "", "explanation_en": "", "policy_version": 1, "correction_deadline": None,
                "tier_reason": "", "status": "awaiting_review", "next_deadline": None, "photos_waiting": 1,
            })
    return visits, results, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 batches each (CI)")
    parser.add_argument("--batches", type=int, help="batches of 50 visits through each path (default 20; 3 quick)")
    args = parser.parse_args()
    n_batches = args.batches or (3 if args.quick else 20)

    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db
    from server.models import CheckResult, Finding, Visit
    from server.services.demo import DEMO_PASSWORD

    tmp = Path(tempfile.mkdtemp(prefix="fieldcheck-bench-sync-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    print(f"building the demo city in {tmp} ...", flush=True)
    world = build(url, tmp)
    server = Server(url, tmp, workers=1).start()
    port = server.port
    try:
        status, data = request(port, "POST", "/api/auth/token", {"username": world["lead"], "password": DEMO_PASSWORD})
        assert status == 201, data
        token = json.loads(data)["token"]
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp), "SECRET_KEY": SECRET})
        rng = random.Random(1)
        now = dt.datetime.now(CST).replace(microsecond=0)
        # One warm-up batch through each path: imports, caches, the policy's first version.
        warm = make_batch(rng, world, now)
        request(port, "POST", "/api/sync", {"device_id": "bench", "visits": warm}, token)
        sync_s, raw_s, sync_cpu, raw_cpu = [], [], [], []
        with app.app_context():
            engine = db.engine
            tables = (Visit.__table__, CheckResult.__table__, Finding.__table__)
            for i in range(n_batches):
                batch = make_batch(rng, world, now)
                c0, t0 = server.worker_cpu_s(), time.perf_counter()
                status, data = request(port, "POST", "/api/sync", {"device_id": "bench", "visits": batch}, token)
                sync_s.append(time.perf_counter() - t0)
                sync_cpu.append(server.worker_cpu_s() - c0)
                answer = json.loads(data)
                if status != 200 or answer["counts"]["created"] != VISITS_PER_BATCH:
                    raise RuntimeError(f"sync batch {i}: {status} {json.dumps(answer)[:800]}")
                rows = raw_rows(batch, world, dt.datetime.now(dt.timezone.utc))
                c0, t0 = time.process_time(), time.perf_counter()
                with engine.begin() as conn:
                    for table, values in zip(tables, rows):
                        conn.execute(sa.insert(table), values)
                raw_s.append(time.perf_counter() - t0)
                raw_cpu.append(time.process_time() - c0)
            tiers = dict(db.session.execute(
                sa.select(Finding.suggested_tier, sa.func.count()).join(Visit, Visit.id == Finding.visit_id)
                .where(Visit.device_id == "bench").group_by(Finding.suggested_tier)).all())
            db.session.remove()
            engine.dispose()
    finally:
        server.stop()

    per_batch = VISITS_PER_BATCH * 2
    total = per_batch * n_batches
    sync_rate, raw_rate = total / sum(sync_s), total / sum(raw_s)
    print(f"\n{n_batches} batches of {VISITS_PER_BATCH} visits (2 findings, 5 results each): "
          f"{total} findings through each path, SpatiaLite, alternating batch by batch")
    sync_cpu_rate, raw_cpu_rate = total / sum(sync_cpu), total / sum(raw_cpu)
    print(f"{'':30} {'findings/s':>11} {'median ms/batch':>16} {'fastest ms/batch':>17} {'findings/CPU s':>15}")
    for label, times, rate, cpu_rate in (("sync over HTTP (the product)", sync_s, sync_rate, sync_cpu_rate),
                                         ("raw Core insert (baseline)", raw_s, raw_rate, raw_cpu_rate)):
        print(f"{label:30} {rate:11.0f} {statistics.median(times) * 1000:16.1f} {min(times) * 1000:17.1f}"
              f" {cpu_rate:15.0f}")
    print(f"{'sync / raw':30} {sync_rate / raw_rate:11.2f} {'':34} {sync_cpu_rate / raw_cpu_rate:15.2f}"
          "   (target: at least 0.20)")
    print("(CPU: the server worker's for sync, this process's for the raw insert; a busy machine disturbs it less)")
    print(f"suggested tiers of the synced findings (warm-up included): {tiers}")


if __name__ == "__main__":
    main()

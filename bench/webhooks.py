"""Benchmark: what announcing an event costs the transaction that makes the change (webhooks' outbox).

On SpatiaLite, in this process, into one fresh database: transactions that each append one
audit entry (the write every change makes) and commit, alternating round by round:

- baseline: the audit entry alone;
- none: the same, plus `webhooks.emit(...)` with no subscription (one look-up of the
  subscriptions per transaction, nothing written);
- three: the same, with three subscriptions to the event (three delivery rows written);
- batch: a sync-like transaction of 50 changes each emitting, against 50 without emitting
  (the subscription look-up is made once per transaction).

It prints the mean milliseconds per transaction of each and the ratio to the baseline.

    .venv/bin/python bench/webhooks.py            # 2,000 transactions per variant
    .venv/bin/python bench/webhooks.py --quick    # 100 (CI)

It never asserts a time: it prints figures (docs/performance.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # the project, not bench/, first: bench/NAME.py must not shadow a module

SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 transactions per variant (CI)")
    args = parser.parse_args()
    n = 100 if args.quick else 2000
    rounds = 10

    from server import create_app
    from server.extensions import db
    from server.migrate import upgrade
    from server.models import WebhookSubscription
    from server.services import audit, webhooks

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "DATA_DIR": tmp, "SECRET_KEY": SECRET})
        with app.app_context():
            def one(emit: bool):
                audit.record("bench.change", "bench", 1, {"x": 1})
                if emit:
                    webhooks.emit("finding.created", payload={"finding": {"id": "bench"}})
                db.session.commit()

            def batch(emit: bool):
                for i in range(50):
                    audit.record("bench.change", "bench", i, {"x": i})
                    if emit:
                        webhooks.emit("finding.created", payload={"finding": {"id": f"bench-{i}"}})
                db.session.commit()

            cpu = {}

            def timed(fn, count, name):
                start, start_cpu = time.perf_counter(), time.process_time()
                for _ in range(count):
                    fn()
                cpu.setdefault(name, []).append((time.process_time() - start_cpu) * 1000 / count)
                return (time.perf_counter() - start) * 1000 / count

            def subscribe(k):
                db.session.query(WebhookSubscription).delete()
                for i in range(k):
                    db.session.add(WebhookSubscription(url=f"https://r{i}.example/", events=["finding.created"],
                                                       secret="s" * 32))
                db.session.commit()
                webhooks._forget_cache()

            per = n // rounds
            figures = {"baseline": [], "none": [], "three": [], "batch50 without": [], "batch50 with none": []}
            for _ in range(rounds):
                subscribe(0)
                figures["baseline"].append(timed(lambda: one(False), per, "baseline"))
                figures["none"].append(timed(lambda: one(True), per, "none"))
                figures["batch50 without"].append(timed(lambda: batch(False), max(1, per // 20), "batch50 without"))
                figures["batch50 with none"].append(timed(lambda: batch(True), max(1, per // 20), "batch50 with none"))
                subscribe(3)
                figures["three"].append(timed(lambda: one(True), per, "three"))
                subscribe(0)
    mean = {k: statistics.mean(v) for k, v in figures.items()}
    mean_cpu = {k: statistics.mean(v) for k, v in cpu.items()}
    print(f"webhooks outbox, SpatiaLite (synchronous=FULL: each commit waits for the disk), {n} transactions "
          f"per variant in {rounds} alternating rounds; wall and CPU ms per transaction, ratio to the baseline")
    for name in ("baseline", "none", "three", "batch50 without", "batch50 with none"):
        base = "batch50 without" if name.startswith("batch") else "baseline"
        print(f"  {name:<18} wall {mean[name]:8.3f} ms ({mean[name] / mean[base]:4.2f})   "
              f"CPU {mean_cpu[name]:8.3f} ms ({mean_cpu[name] / mean_cpu[base]:4.2f})")


if __name__ == "__main__":
    main()

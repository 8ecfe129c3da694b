"""Benchmark: streaming exports, GET /api/exports/findings.csv, on SpatiaLite: memory and rows/s.

Builds two databases the way bench/queue.py does (the demo city, then findings as rows with
their visits, photos and legal reviews): a small one and a large one (1,000 and 100,000 findings;
1,000 and 5,000 with --quick). Each measurement runs in a fresh subprocess (so the peak
resident size is the export's and nothing before it) and reads every row:

- `endpoint`: the export as served, through the app (test client, unbuffered: the chunks are
  consumed as the WSGI server would send them, and dropped);
- `naive`: the baseline a first version would write: the same SELECT (the export's own statement)
  fetched whole with `fetchall()` and written by `csv.writer` into one string, then dropped;
- `raw`: the floor: the same SELECT streamed (yield_per) and written by `csv.writer` to a null
  sink with no formatting of ours, in the same kind of process.

For each, the Python heap's peak during the export (tracemalloc, a separate run, since tracing
slows it) and the process's peak RSS and rows/s (an untraced run). Memory that does not grow with
rows shows as the same peak for the small and the large database.

    .venv/bin/python bench/exports.py            # 1,000 and 100,000 findings (about 6 min to build)
    .venv/bin/python bench/exports.py --quick    # 1,000 and 5,000 (CI, about a minute)
    .venv/bin/python bench/exports.py --keep /tmp/be   # build once into /tmp/be, measure again without rebuilding

It never asserts a time. The figures are in docs/performance.md.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
METHODS = ("endpoint", "naive", "raw")


def _queue_bench():
    """bench/queue.py's builder (its file name shadows the standard library's `queue`: load it by path)."""
    spec = importlib.util.spec_from_file_location("bench_queue", HERE / "queue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(work: Path, n: int) -> str:
    db_path = work / f"findings-{n}.db"
    url = f"sqlite:///{db_path}"
    if not db_path.exists():
        _queue_bench().build(url, work / f"data-{n}", n)
    return url


class _Null:
    def write(self, s):
        return len(s)


def _export_statement(app):
    from server.services.exports import Period, findings_select
    from server.services.queue import QueueFilters, bureau_today

    from zoneinfo import ZoneInfo

    tz = "Asia/Shanghai"
    return findings_select(QueueFilters(), None, Period(), bureau_today(tz), ZoneInfo(tz))


def _rss_now_and_peak() -> tuple[int, int]:
    """This process's resident size now and its peak since the last reset (bytes, Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def _reset_rss_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the present size (Linux 4.0+)


def run_once(method: str, url: str, data_dir: str, trace: bool) -> dict:
    """One export in this process, after the app is built and its connection warm: rows, bytes,
    seconds, and what the export added to the heap's peak (traced runs) and to the RSS peak."""
    import gc

    import sqlalchemy as sa

    from server import create_app
    from server.extensions import db
    from server.models import Finding

    app = create_app({"DATABASE_URL": url, "DATA_DIR": data_dir, "SECRET_KEY": SECRET})
    client = app.test_client()
    token = client.post("/api/auth/token", json={"username": "admin", "password": "fieldcheck-demo"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    ctx = app.app_context()
    ctx.push()
    db.session.execute(sa.select(sa.func.count(Finding.id))).scalar_one()  # the connection made and warm
    stmt = _export_statement(app)
    gc.collect()
    if trace:
        tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0] if trace else 0
    _reset_rss_peak()
    rss0, _ = _rss_now_and_peak()
    rows = size = 0
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "endpoint":
        resp = client.get("/api/exports/findings.csv", headers=headers, buffered=False)
        assert resp.status_code == 200, resp.status_code
        for chunk in resp.response:
            size += len(chunk)
            rows += chunk.count(b"\n")
        resp.close()
        rows -= 1  # the header
    elif method == "naive":
        import io

        buf = io.StringIO()
        result = db.session.execute(stmt).fetchall()
        csv.writer(buf).writerows(result)
        rows, size = len(result), len(buf.getvalue().encode("utf-8"))
        del result, buf
    else:
        writer = csv.writer(_Null())
        for row in db.session.execute(stmt.execution_options(yield_per=1000)):
            writer.writerow(row)
            rows += 1
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    _, rss_peak = _rss_now_and_peak()
    out = {"rows": rows, "bytes": size, "seconds": seconds, "cpu": cpu, "rss_growth": rss_peak - rss0}
    if trace:
        out["heap_peak"] = tracemalloc.get_traced_memory()[1] - heap0
        tracemalloc.stop()
    db.session.remove()
    ctx.pop()
    return out


def worker(args) -> None:
    print(json.dumps(run_once(args.worker, args.url, args.data_dir, args.trace)))


def measure(method: str, url: str, data_dir: Path, trace: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--url", url, "--data-dir", str(data_dir)]
    if trace:
        cmd.append("--trace")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 findings (CI)")
    parser.add_argument("--sizes", type=int, nargs=2, help="small and large (default 1,000 and 100,000)")
    parser.add_argument("--keep", help="build into (or reuse) this directory instead of a temporary one")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sizes = args.sizes or ((1_000, 5_000) if args.quick else (1_000, 100_000))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fieldcheck-bench-exports-"))
    work.mkdir(parents=True, exist_ok=True)
    urls = {n: build(work, n) for n in sizes}
    print(f"\npython {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"SpatiaLite; every row of GET /api/exports/findings.csv (no filter, as admin)")
    print("heap: the Python heap's peak during the export, above what it held before (tracemalloc, a traced run); "
          "RSS: how far the process's peak resident size rose during the export (an untraced run)")
    print("rows/s: by the wall clock; rows/CPU s: by this process's CPU time (much less swayed by other work "
          "on the machine; the database is in this process too)")
    print(f"{'findings':>9} {'method':>9} {'rows':>8} {'MiB out':>8} {'rows/s':>9} {'rows/CPU s':>11} {'heap MiB':>9} "
          f"{'RSS MiB':>8}")
    results = {}
    for n in sizes:
        for method in METHODS:
            timed = measure(method, urls[n], work / f"data-{n}", trace=False)
            traced = measure(method, urls[n], work / f"data-{n}", trace=True)
            results[(n, method)] = {**timed, "heap_peak": traced["heap_peak"]}
            r = results[(n, method)]
            print(f"{n:>9,} {method:>9} {r['rows']:>8,} {mib(r['bytes']) if r['bytes'] else '-':>8} "
                  f"{r['rows'] / r['seconds']:>9,.0f} {r['rows'] / r['cpu']:>11,.0f} {mib(r['heap_peak']):>9} "
                  f"{mib(r['rss_growth']):>8}")
    small, large = sizes
    print()
    for method in METHODS:
        a, b = results[(small, method)], results[(large, method)]
        print(f"{method:>9}: heap peak {mib(a['heap_peak'])} -> {mib(b['heap_peak'])} MiB "
              f"(x{b['heap_peak'] / max(a['heap_peak'], 1):.1f}), RSS rise {mib(a['rss_growth'])} -> "
              f"{mib(b['rss_growth'])} MiB, for x{large / small:.0f} the rows")
    e, raw = results[(large, "endpoint")], results[(large, "raw")]
    print(f"endpoint against raw at {large:,}: {(e['rows'] / e['seconds']) / (raw['rows'] / raw['seconds']):.2f} "
          f"of the raw rows/s, {(e['rows'] / e['cpu']) / (raw['rows'] / raw['cpu']):.2f} of its rows per CPU second")


if __name__ == "__main__":
    main()

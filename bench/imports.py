"""Benchmark: importing enterprises from XLSX, time and peak memory, against a baseline.

On SpatiaLite, each measurement in a fresh child process (so its peak resident memory is its
own) on a fresh copy of one database (migrated, the first admin, two parks imported):

- import: the product's path, `fieldcheck import enterprises FILE --apply` as a function:
  the upload stored and hashed, the dry run (every row parsed, its credit code's check
  character verified, its point tested against every park, duplicates in the file and in the
  database looked up a batch at a time, the report stored), then apply (the file read again,
  every row checked again, rows inserted in batches, one transaction, one audit entry);
- baseline: openpyxl read-only iteration over the same file and a raw SQLAlchemy Core insert
  of the rows in batches of 500, one transaction: no validation, no look-up, no report.

Each prints wall seconds and the peak RSS growth over the process's own RSS before the work
(the kernel's high-water mark VmHWM, reset when the work starts, minus RSS then), at two file
sizes: if the import streams, its peak does not grow with the file as the file grows several-fold.
RSS moves with the allocator (arenas kept, SQLite's page cache filling), so the import is run a
second time under tracemalloc, which counts only the Python heap (a separate run: tracing slows
the work and its own bookkeeping would inflate the RSS): its peak over the heap at the start.

    .venv/bin/python bench/imports.py            # 10,000 and 50,000 enterprises
    .venv/bin/python bench/imports.py --quick    # 1,000 and 4,000 (CI)

It never asserts a time: it prints figures.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Start the peak (VmHWM) from the present RSS (Linux 4.0+): ru_maxrss would include what
    the parent held before exec."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _app(db_path: Path, data_dir: Path):
    from server import create_app

    return create_app({"DATABASE_URL": f"sqlite:///{db_path}", "DATA_DIR": str(data_dir), "SECRET_KEY": SECRET})


def _measure(kind: str, db_path: str, xlsx: str, data_dir: str, out, heap: bool = False) -> None:
    """In a child: run one path and send (seconds, peak growth in KiB, detail): of the RSS, or with
    `heap` of the Python heap as tracemalloc counts it."""
    import tracemalloc

    import sqlalchemy as sa

    app = _app(Path(db_path), Path(data_dir))
    with app.app_context():
        from server.extensions import db

        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
        if heap:
            tracemalloc.start()
            heap_before = tracemalloc.get_traced_memory()[0]
        _reset_peak()
        before = _status_kib("VmRSS")
        t0 = time.perf_counter()
        if kind == "import":
            from server.services import imports

            with open(xlsx, "rb") as fh:
                job = imports.store_upload("enterprises", "e.xlsx", fh, {"crs": "wgs84"}, None)
            t1 = time.perf_counter()
            job = imports.dry_run(job.id)
            t2 = time.perf_counter()
            job = imports.apply(job.id, None)
            t3 = time.perf_counter()
            detail = {"store": t1 - t0, "dry_run": t2 - t1, "apply": t3 - t2, "created": job.counts["create"]}
        else:
            import openpyxl
            from geoalchemy2.elements import WKTElement

            from server.models import Park, Site
            from server.models.types import utcnow

            park_id = db.session.execute(sa.select(Park.id).order_by(Park.id)).scalar()
            wb = openpyxl.load_workbook(xlsx, read_only=True, data_only=True)
            rows = wb.worksheets[0].iter_rows(values_only=True)
            next(rows)
            batch, n, now = [], 0, utcnow()
            for r in rows:
                batch.append({"park_id": park_id, "kind": "enterprise", "name": r[0], "credit_code": r[1],
                              "address": r[2] or "", "industry": r[4] or "", "risk_grade": "low", "credit_class": "B",
                              "is_hazchem": False, "is_major_hazard": False, "is_key_polluter": False,
                              "contact_name": r[8] or "", "contact_phone": r[9] or "", "active": True,
                              "geom": WKTElement(f"POINT({r[10]!r} {r[11]!r})", srid=4326),
                              "created_at": now, "updated_at": now})
                if len(batch) == 500:
                    db.session.execute(sa.insert(Site.__table__), batch)
                    n += len(batch)
                    batch = []
            if batch:
                db.session.execute(sa.insert(Site.__table__), batch)
                n += len(batch)
            db.session.commit()
            wb.close()
            detail = {"created": n}
        seconds = time.perf_counter() - t0
        if heap:
            heap_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out.send((seconds, max(0, heap_peak - heap_before) // 1024, detail))
            return
    peak = _status_kib("VmHWM")
    out.send((seconds, max(0, peak - before), detail))


def _prepare(work: Path) -> Path:
    from server.extensions import db
    from server.migrate import upgrade
    from server.services import imports
    from tests.import_helpers import first_admin, parks_geojson

    base = work / "base.db"
    upgrade(f"sqlite:///{base}")
    app = _app(base, work / "data-base")
    first_admin(app)
    with app.app_context():
        path = work / "parks.geojson"
        path.write_bytes(parks_geojson())
        with open(path, "rb") as fh:
            job = imports.store_upload("parks", "parks.geojson", fh, {}, None)
        imports.dry_run(job.id)
        imports.apply(job.id, None)
        db.session.remove()
        db.engine.dispose()
    return base


def _run(kind: str, base: Path, xlsx: Path, work: Path, tag: str, heap: bool = False):
    db_path = work / f"{tag}-{kind}.db"
    shutil.copyfile(base, db_path)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_measure, args=(kind, str(db_path), str(xlsx), str(work / f"data-{tag}-{kind}{heap:d}"),
                                           child, heap))
    p.start()
    result = parent.recv()
    p.join()
    db_path.unlink(missing_ok=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 and 4,000 enterprises (CI)")
    args = ap.parse_args()
    sizes = (1000, 4000) if args.quick else (10_000, 50_000)
    from tests.import_helpers import enterprises_xlsx

    with tempfile.TemporaryDirectory(prefix="fc-bench-imports-") as tmp:
        work = Path(tmp)
        base = _prepare(work)
        print(f"imports: enterprises from XLSX on SpatiaLite; sizes {sizes[0]:,} and {sizes[1]:,} rows")
        print(f"{'rows':>8} {'path':<9} {'seconds':>8} {'rows/s':>8} {'peak MiB':>9}  detail"
              "  (peak: RSS growth; heap: tracemalloc peak in a second, traced run)")
        peaks, heaps = {}, {}
        for n in sizes:
            data, _ = enterprises_xlsx(n, broken=False)
            xlsx = work / f"e{n}.xlsx"
            xlsx.write_bytes(data)
            for kind in ("baseline", "import"):
                seconds, peak_kib, detail = _run(kind, base, xlsx, work, str(n))
                peaks[(n, kind)] = (seconds, peak_kib)
                shown = ", ".join(f"{k} {v:.1f}s" if isinstance(v, float) else f"{k} {v}" for k, v in detail.items())
                print(f"{n:>8,} {kind:<9} {seconds:>8.1f} {n / seconds:>8.0f} {peak_kib / 1024:>9.1f}  {shown}"
                      f"  (file {len(data) / 1e6:.1f} MB)", flush=True)
                if kind == "baseline":
                    continue
                _s, heap_kib, _d = _run(kind, base, xlsx, work, str(n), heap=True)
                heaps[n] = heap_kib
                print(f"{'':>8} {'':<9} {'':>8} {'':>8} {heap_kib / 1024:>9.1f}  heap peak (tracemalloc)", flush=True)
        for n in sizes:
            (ts, ms), (tb, mb) = peaks[(n, "import")], peaks[(n, "baseline")]
            print(f"{n:>8,} rows: import / baseline time {ts / tb:.1f}x; peak memory growth import {ms / 1024:.1f} MiB,"
                  f" baseline {mb / 1024:.1f} MiB; import heap peak {heaps[n] / 1024:.1f} MiB")
        small, large = sizes
        grow = peaks[(large, "import")][1] / max(peaks[(small, "import")][1], 1)
        heap_grow = heaps[large] / max(heaps[small], 1)
        print(f"import peak at {large:,} rows / at {small:,} rows: RSS {grow:.2f}x, heap {heap_grow:.2f}x"
              f" for a file {large / small:.0f}x as long")


if __name__ == "__main__":
    os.environ.setdefault("FIELDCHECK_ENV", "development")
    main()

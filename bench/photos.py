"""Benchmark: one 12 MP phone JPEG through the product's photo pipeline against the bare minimum.

The photo: a fixture phone photo (../shared/fixtures/photos/mobile/jolla.jpg, or a drawn
scene when the fixtures are absent) scaled up to 4000x3000 with sensor-like noise, so that
it compresses like a real one, saved at quality 90 with EXIF (camera, time, GPS).

- the product: what PUT /api/photos/<id> does to the bytes, without HTTP and the database:
  spool the upload to the store's temporary area while hashing it, tell the type from the
  bytes, decode once in JPEG draft mode at the display copy's scale, read EXIF, make the
  upright 1600 px display copy and the 320 px thumbnail from it, and store all three in a
  LocalStore (temporary file, fsync, rename);
- the bare minimum: SHA-256 of the bytes, Pillow's draft decode to the same 1600 px scale,
  a 320 px thumbnail encoded as JPEG. Nothing stored, no display copy.

Time: the median of alternating runs of both, side by side in this process (wall time, and the
CPU time of all the process's threads, which a busy machine disturbs less). Memory: the peak
RSS of a fresh subprocess that runs one of them once (its VmHWM), less the RSS that
subprocess had before it started (its imports).

Targets (issue 4): the product within 1.3 times the bare minimum's time, and under 40 MB of
extra memory.

    .venv/bin/python bench/photos.py            # 25 alternating runs each
    .venv/bin/python bench/photos.py --quick    # 5 runs each (CI)

It never asserts a time: it prints figures.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project instead of bench/ first on the path: a bench/NAME.py must not shadow a standard
# module (bench/queue.py would hide the `queue` that concurrent.futures imports).
sys.path[0] = str(ROOT)

FIXTURE = Path(os.environ.get("FIELDCHECK_SHARED_DIR", ROOT.parent / "shared")) / "fixtures/photos/mobile/jolla.jpg"
SIZE = (4000, 3000)


def make_phone_jpeg(path: Path) -> None:
    from PIL import Image, ImageDraw

    if FIXTURE.exists():
        base = Image.open(FIXTURE).convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
    else:
        base = Image.new("RGB", SIZE, (120, 140, 160))
        draw = ImageDraw.Draw(base)
        for i in range(0, SIZE[0], 40):
            draw.line([(i, 0), (SIZE[0] - i, SIZE[1])], fill=(i % 255, 90, 200 - i % 200), width=7)
    noise = Image.effect_noise(SIZE, 40).convert("RGB")
    photo = Image.blend(base, noise, 0.2)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Jolla", "Jolla", 1  # make, model, orientation
    exif.get_ifd(0x8769)[0x9003] = "2026:11:26 09:15:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (32.0, 15.0, 36.0), 3: "E", 4: (119.0, 9.0, 36.0)})
    photo.save(path, "JPEG", quality=90, exif=exif)


def bare_minimum(path: Path) -> None:
    """SHA-256 of the bytes, a draft decode to the 1600 px image, a 320 px thumbnail from it."""
    from PIL import Image

    from server.domain.exif import fit_within

    data = path.read_bytes()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as im:
        target = fit_within(*im.size, 1600)
        im.draft("RGB", target)
        im.load()
        display = im.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
        thumb = display.resize(fit_within(*target, 320), Image.Resampling.BICUBIC, reducing_gap=2.0)
        thumb.save(io.BytesIO(), "JPEG")


def product(path: Path, store_dir: Path) -> None:
    from server.domain.photo_types import sniff
    from server.services.photos import Settings, spool, store_files
    from server.storage import LocalStore

    settings = Settings()
    store = LocalStore(store_dir)
    with open(path, "rb") as upload:  # werkzeug hands the view a file like this one
        spooled = spool(upload, store, settings.max_bytes)
    store_files(spooled, sniff(spooled.head), settings, store)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(which: str, path: Path, store_dir: Path) -> None:
    """Run one pipeline once in this fresh process; print its RSS before and its peak RSS."""
    import PIL.Image  # noqa: F401  (both sides pay for Pillow)

    if which == "product":
        import server.services.photos  # noqa: F401
        import server.storage  # noqa: F401
    else:
        import server.domain.exif  # noqa: F401
    before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    if which == "product":
        product(path, store_dir)
    else:
        bare_minimum(path)
    ms = (time.perf_counter() - t0) * 1000
    # VmHWM is this process's own peak. The parent's RUSAGE_CHILDREN (or wait4) ru_maxrss is not:
    # Linux carries the forking process's high-water mark into the child across exec, so every
    # child would report at least the parent's peak.
    print(json.dumps({"before_kb": before, "peak_kb": _status_kb("VmHWM"), "ms": ms}))


def measure_memory(which: str, path: Path, store_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, str(path), str(store_dir)],
                         capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    return {"peak_mb": report["peak_kb"] / 1024, "before_mb": report["before_kb"] / 1024,
            "extra_mb": (report["peak_kb"] - report["before_kb"]) / 1024, "cold_ms": report["ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (CI)")
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "PATH", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    reps = 5 if args.quick else 25
    with tempfile.TemporaryDirectory(prefix="fieldcheck-bench-photos-") as tmp:
        tmp = Path(tmp)
        path = tmp / "phone.jpg"
        make_phone_jpeg(path)
        from PIL import Image

        with Image.open(path) as im:
            print(f"photo: {im.size[0]}x{im.size[1]} JPEG, {path.stat().st_size / 1e6:.1f} MB, "
                  f"EXIF {len(im.getexif())} tags; {reps} alternating runs each")
        memory = {which: measure_memory(which, path, tmp / f"store-{which}") for which in ("bare", "product")}
        store_dir = tmp / "store"
        bare_minimum(path)
        product(path, store_dir)  # warm both (imports, the first decoder set-up)
        times = {"bare": [], "product": []}
        cpu = {"bare": [], "product": []}
        for _ in range(reps):
            for which, run in (("bare", lambda: bare_minimum(path)), ("product", lambda: product(path, store_dir))):
                t0, c0 = time.perf_counter(), time.process_time()
                run()
                times[which].append((time.perf_counter() - t0) * 1000)
                cpu[which].append((time.process_time() - c0) * 1000)
    bare_ms, product_ms = (statistics.median(times[k]) for k in ("bare", "product"))
    print(f"{'':20}{'median ms':>10}{'min ms':>9}{'CPU ms':>9}{'peak RSS MB':>13}{'extra MB':>10}")
    for which, label in (("bare", "bare minimum"), ("product", "product pipeline")):
        m = memory[which]
        print(f"{label:20}{statistics.median(times[which]):>10.1f}{min(times[which]):>9.1f}"
              f"{statistics.median(cpu[which]):>9.1f}{m['peak_mb']:>13.1f}{m['extra_mb']:>10.1f}")
    ratio = product_ms / bare_ms
    extra = memory["product"]["extra_mb"]
    best = min(times["product"]) / min(times["bare"])
    cpu_ratio = statistics.median(cpu["product"]) / statistics.median(cpu["bare"])
    print(f"time: product / bare minimum = {ratio:.2f} by the medians, {best:.2f} by the fastest runs, "
          f"{cpu_ratio:.2f} in CPU time (target <= 1.30: {'met' if ratio <= 1.3 else 'NOT met'})")
    print(f"memory: the product's run adds {extra:.1f} MB over its process before it "
          f"(target < 40 MB: {'met' if extra < 40 else 'NOT met'}); "
          f"{extra - memory['bare']['extra_mb']:+.1f} MB against the bare minimum's")


if __name__ == "__main__":
    main()

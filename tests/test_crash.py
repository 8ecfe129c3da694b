"""Crashes: the real server (gunicorn, two workers, SQLite) is killed with SIGKILL at random
moments while two phones sync visits and upload their photos; it is started again, and the
phones retry each item until it is acknowledged, as the PWA's outbox does.

Afterwards, what an auditor would check:
- every acknowledged visit, finding and photo is stored exactly once (one row, one audit entry);
- nothing is half-written: each visit has all its results, officers and findings, each photo
  row its three files, each finding's waiting count matches its photos;
- after the scheduler's start-up sweep no file in the photo store is unreferenced and no
  upload's temporary file is left;
- `fieldcheck audit-verify` finds the chain intact.

Three seeds, each its own kill times; the seed is in the test's name so a failure can be replayed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import io
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench._server import ROOT, Server, login, request, server_env, upload_photo
from tests.conftest import TEST_SECRET, need
from tests.sync_helpers import HENGDA, JIANGHAI, RUNZE, failing, finding, fix_near, load_field_data, visit
from tests.world import PASSWORD

PHONES = ("insp1", "insp2")
BATCHES = 3           # per phone
VISITS_PER_BATCH = 4  # each with two findings, the first with one photo
KILLS = 3             # per seed
DEADLINE_S = 300     # a cap for a very busy machine; a quiet one needs about 15 s a seed


def _photos(shared: Path, n: int, rng: random.Random) -> list[bytes]:
    """Real phone JPEGs (the GPS fixtures), scaled to 1600 px and marked so each is unique."""
    from PIL import Image, ImageDraw

    sources = sorted((shared / "photos" / "gps").glob("*.jpg"))
    need(bool(sources), f"no JPEG fixtures in {shared / 'photos' / 'gps'}")
    out = []
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            exif = im.info.get("exif", b"")
            im = im.convert("RGB").resize((1600, 1200))
        x, y = rng.randrange(1500), rng.randrange(1100)
        ImageDraw.Draw(im).rectangle([x, y, x + 60, y + 60], fill=(rng.randrange(256), i % 256, 40))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90, exif=exif)
        out.append(buf.getvalue())
    return out


class Phone(threading.Thread):
    """Sends its outbox in order; each item is retried until the server acknowledges it."""

    def __init__(self, port: int, username: str, outbox: list, stop_at: float):
        super().__init__(daemon=True)
        self.port, self.username, self.outbox, self.stop_at = port, username, outbox, stop_at
        self.acked_visits: set[str] = set()
        self.acked_photos: dict[str, str] = {}  # photo id -> sha256
        self.retries = 0
        self.acked = 0  # items of the outbox acknowledged so far
        self.problems: list[str] = []
        self.token: str | None = None

    def _try(self, fn):
        while time.monotonic() < self.stop_at:
            try:
                return fn()
            except (OSError, http.client.HTTPException):
                self.retries += 1  # the server is down or died mid-request: the outbox keeps the item
                time.sleep(0.1)
        raise TimeoutError(f"{self.username}: no acknowledgement before the deadline")

    def run(self):
        try:
            self.token = self._try(lambda: login(self.port, self.username, PASSWORD))
            for item in self.outbox:
                if item[0] == "sync":
                    self._sync(item[1])
                else:
                    self._photo(*item[1:])
                self.acked += 1
        except Exception as e:  # reported by the test, never lost
            self.problems.append(f"{type(e).__name__}: {e}")

    def _sync(self, records):
        status, data = self._try(lambda: request(self.port, "POST", "/api/sync",
                                                 {"device_id": f"crash-{self.username}", "visits": records},
                                                 self.token, timeout=60))
        if status != 200:
            self.problems.append(f"sync answered {status}: {data[:300]!r}")
            return
        results = json.loads(data)["results"]
        bad = [r for r in results if r["status"] not in ("created", "duplicate")]
        if bad:
            self.problems.append(f"sync: {bad[:2]}")
        self.acked_visits |= {r["id"] for r in results if r["status"] in ("created", "duplicate")}

    def _photo(self, photo_id, finding_id, data):
        status, body = self._try(lambda: upload_photo(self.port, self.token, photo_id, data, finding_id,
                                                      "2026-11-26T09:15:00+08:00", timeout=60))
        if status not in (200, 201):
            self.problems.append(f"photo {photo_id} answered {status}: {body[:300]!r}")
            return
        self.acked_photos[photo_id] = hashlib.sha256(data).hexdigest()


def _outbox(field: dict, photos: list[bytes], rng: random.Random) -> tuple[list, dict]:
    """Batches of visits, each batch followed by the photos its findings name."""
    team = [field["users"]["insp1"], field["users"]["insp2"]]
    sites = [HENGDA, JIANGHAI, RUNZE]
    outbox, records = [], {}
    for _ in range(BATCHES):
        batch, uploads = [], []
        for _ in range(VISITS_PER_BATCH):
            site = rng.choice(sites)
            pid = str(uuid.uuid4())
            exit_blocked = finding(photo_ids=[pid])
            fire = finding(item="FIRE-003", violation_code="FIRE-EXIT-BLOCKED", domain="fire", note="boxes, moved")
            rec = failing(visit(field["sites"][site], team, findings=[exit_blocked, fire],
                                location=fix_near(site, rng.uniform(5, 80))), "SAF-012", "FIRE-003")
            batch.append(rec)
            records[rec["id"]] = rec
            uploads.append(("photo", pid, exit_blocked["id"], photos.pop()))
        outbox.append(("sync", batch))
        outbox += uploads
    return outbox, records


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_during_sync_and_uploads_loses_nothing_and_leaves_nothing_half_done(
        seed, templates, tmp_path, shared_fixtures):
    from server import create_app
    from server.extensions import db
    from server.jobs import run_scheduler
    from server.models import AuditEntry, CheckResult, Finding, Photo, Visit, visit_officers
    from server.storage import derived_key, original_key, photo_store

    rng = random.Random(seed)
    url = templates.copy("spatialite", tmp_path)
    data_dir = tmp_path / "data"
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET})
    field = load_field_data(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    photos = _photos(shared_fixtures, len(PHONES) * BATCHES * VISITS_PER_BATCH, rng)
    server = Server(url, data_dir, workers=2, secret=TEST_SECRET, timeout_s=60).start()
    stop_at = time.monotonic() + DEADLINE_S
    phones, records = [], {}
    for name in PHONES:
        outbox, recs = _outbox(field, photos, rng)
        records.update(recs)
        phones.append(Phone(server.port, name, outbox, stop_at))
    kills, starts = [], []
    t0 = time.monotonic()
    try:
        for p in phones:
            p.start()
        # Kill when the phones have had a random number of items acknowledged, a random moment
        # later: within a request, between two, in a commit, in a photo's image work.
        total = sum(len(p.outbox) for p in phones)
        for threshold in sorted(rng.sample(range(total - 4), KILLS)):
            while sum(p.acked for p in phones) < threshold and any(p.is_alive() for p in phones):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))
            if not any(p.is_alive() for p in phones):
                break
            done = sum(p.acked for p in phones)
            server.kill()
            kills.append(done)
            time.sleep(rng.uniform(0.0, 0.5))
            t_start = time.monotonic()
            server.start()
            starts.append(round(time.monotonic() - t_start, 1))
        t_join = time.monotonic()
        for p in phones:
            p.join(timeout=max(1.0, stop_at - time.monotonic()))
        t_join = round(time.monotonic() - t_join, 1)
    finally:
        server.stop()
    t_run = round(time.monotonic() - t0, 1)
    problems = [f"{p.username}: {m}" for p in phones for m in p.problems]
    assert problems == [], problems
    assert not any(p.is_alive() for p in phones), "a phone was still sending at the deadline"
    assert kills, "the server was never killed: the phones finished before the first kill"
    retries = sum(p.retries for p in phones)

    acked_visits = set().union(*(p.acked_visits for p in phones))
    acked_photos = {k: v for p in phones for k, v in p.acked_photos.items()}
    assert acked_visits == set(records)  # every item of every outbox was acknowledged in the end
    assert len(acked_photos) == len(records)

    # The scheduler's start-up sweep, as after a restart an hour later (no file is too young to take).
    sweep_app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET,
                            "PHOTO_SWEEP_MIN_AGE_S": 0})
    store = photo_store(sweep_app)
    before = {"temp": len(store.temp_files()), "files": sum(1 for _ in store.list())}
    run_scheduler(sweep_app, run_for_s=0.1, poll_s=0.1)

    with sweep_app.app_context():
        ids = [uuid.UUID(v) for v in records]
        visits = db.session.execute(sa.select(Visit).where(Visit.device_id.like("crash-%"))).scalars().all()
        assert sorted(str(v.id) for v in visits) == sorted(records), "a visit is missing or stored twice"
        results = Counter(db.session.execute(sa.select(CheckResult.visit_id).where(CheckResult.visit_id.in_(ids)))
                          .scalars())
        officers = Counter(db.session.execute(sa.select(visit_officers.c.visit_id)
                                              .where(visit_officers.c.visit_id.in_(ids))).scalars())
        findings = db.session.execute(sa.select(Finding).where(Finding.visit_id.in_(ids))).scalars().all()
        by_visit = {}
        for f in findings:
            by_visit.setdefault(str(f.visit_id), set()).add(str(f.id))
        for vid, rec in records.items():
            assert results[uuid.UUID(vid)] == len(rec["results"]), f"visit {vid} has lost results"
            assert officers[uuid.UUID(vid)] == len(rec["officer_ids"]), f"visit {vid} has lost officers"
            assert by_visit.get(vid) == {f["id"] for f in rec["findings"]}, f"visit {vid} has lost findings"
        assert all(f.photos_waiting == 0 for f in findings), "a finding still waits for an acknowledged photo"

        stored = {str(p.id): p for p in db.session.execute(
            sa.select(Photo).where(Photo.id.in_([uuid.UUID(k) for k in acked_photos]))).scalars()}
        assert set(stored) == set(acked_photos)
        for pid, sha in acked_photos.items():
            p = stored[pid]
            assert p.status == "stored" and p.sha256 == sha, (pid, p.status)
            assert hashlib.sha256(store.get(original_key(sha))).hexdigest() == sha, f"photo {pid}'s file is torn"
            for kind in ("thumb", "display"):
                assert store.exists(derived_key(sha, kind)), f"photo {pid} has no {kind} copy"

        # Each record entered the audit trail once: a retry after a kill never wrote it twice.
        def entries(action):
            return Counter(db.session.execute(sa.select(AuditEntry.entity_id).where(AuditEntry.action == action))
                           .scalars())
        assert entries("visit.create") == Counter(set(records))
        assert entries("finding.create") == Counter({str(f.id) for f in findings})
        assert entries("photo.store") == Counter(set(acked_photos))

        referenced = set(db.session.execute(sa.select(Photo.sha256).where(Photo.sha256.is_not(None))).scalars())
        db.session.rollback()
    left = {o.key for o in store.list()}
    assert {k[:64] for k in left} <= referenced, f"orphaned photo files after the sweep: {left - referenced}"
    assert store.temp_files() == [], "an upload's temporary file survived the start-up sweep"

    verified = subprocess.run([sys.executable, "-m", "server.cli", "audit-verify"], cwd=ROOT, capture_output=True,
                              text=True, env=server_env(url, data_dir, TEST_SECRET), timeout=120)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout
    print(f"seed {seed}: {len(kills)} kills (after {kills} acknowledged items), {retries} retries; "
          f"{len(records)} visits, {len(acked_photos)} photos; before the sweep {before['temp']} temporary and "
          f"{before['files']} stored files, after {len(left)}; {verified.stdout.strip()}; restarts took {starts} s, the phones {t_run} s "
          f"(after the last restart {t_join} s), all {round(time.monotonic() - t0, 1)} s")

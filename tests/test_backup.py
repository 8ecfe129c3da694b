"""`fieldcheck backup` and `fieldcheck restore`, on both engines: a round trip gives back every row
of every table and every photo object byte for byte; a backup taken while phones keep syncing
restores to a consistent database (whole visits, an intact audit chain); a database or photo
store that holds data is not overwritten without --force."""
from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, TEST_SECRET, _admin_engine
from tests.test_storage import s3_endpoint  # noqa: F401  (the session's moto server)
from tests.photo_helpers import upload
from tests.sync_helpers import HENGDA, failing, finding, fix_near, load_field_data, post_sync, visit

pytestmark = pytest.mark.db


def _team(field):
    return [field["users"]["insp1"], field["users"]["insp2"]]


def _record(field, photo_ids=()):
    rec = visit(field["sites"][HENGDA], _team(field), location=fix_near(HENGDA, 30),
                findings=[finding(photo_ids=[str(p) for p in photo_ids]),
                          finding(item="FIRE-003", violation_code="FIRE-EXIT-BLOCKED", domain="fire")])
    return failing(rec, "SAF-012", "FIRE-003")


@pytest.fixture
def filled(app, client, auth, shared_fixtures):
    """Three synced visits, each with a real phone JPEG uploaded for its first finding."""
    field = load_field_data(app)
    headers = auth.headers("insp1")
    jpegs = sorted((shared_fixtures / "photos" / "gps").glob("*.jpg"))[:3]
    for path in jpegs:
        pid = uuid.uuid4()
        rec = _record(field, [pid])
        r = post_sync(client, headers, [rec])
        assert r.get_json()["results"][0]["status"] == "created", r.get_json()
        up = upload(client, headers, pid, path.read_bytes(), finding_id=rec["findings"][0]["id"])
        assert up.status_code == 201, up.get_json()
    return field


@pytest.fixture
def target(engine, tmp_path, templates):
    """Where to restore: a new data dir (SQLite) or a new database with PostGIS created (PostgreSQL)."""
    data_dir = tmp_path / "restored"
    if engine == "spatialite":
        yield f"sqlite:///{data_dir / 'fieldcheck.db'}", data_dir
        return
    from server.db import normalise_url

    name = f"fc_restore_{uuid.uuid4().hex[:10]}"
    base = normalise_url(PG_URL)
    with _admin_engine(base).connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with eng.begin() as c:
        c.exec_driver_sql("CREATE EXTENSION postgis")
    eng.dispose()
    yield url, data_dir
    templates.drop(url)


def _cli(monkeypatch, url, data_dir, *args):
    from server.cli import main

    monkeypatch.setenv("FIELDCHECK_DATABASE_URL", url)
    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FIELDCHECK_SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("FIELDCHECK_PHOTO_DIR", raising=False)
    return CliRunner().invoke(main, list(args))


def _contents(url, data_dir) -> tuple[dict, dict]:
    """Every row of every table (sorted, as text) and every photo object's SHA-256."""
    from server import create_app
    from server.extensions import db
    from server.storage import photo_store

    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET})
    with app.app_context():
        rows = {t.name: sorted(tuple(str(v) for v in r) for r in db.session.execute(sa.select(t)))
                for t in db.metadata.sorted_tables}
        store = photo_store(app)
        photos = {o.key: hashlib.sha256(store.get(o.key)).hexdigest() for o in store.list()}
        db.session.remove()
        db.engine.dispose()
    return rows, photos


@pytest.mark.slow
def test_a_round_trip_gives_back_every_row_and_every_photo(app, db_url, filled, target, tmp_path, monkeypatch):
    source_dir = Path(app.config["DATA_DIR"])
    before_rows, before_photos = _contents(db_url, source_dir)
    assert len(before_photos) == 9  # three originals, each with its display copy and thumbnail
    assert len(before_rows["visits"]) == 3 and len(before_rows["audit_entries"]) > 0

    dest = tmp_path / "backup-1"
    r = _cli(monkeypatch, db_url, source_dir, "backup", str(dest))
    assert r.exit_code == 0, r.output
    assert (dest / "manifest.json").exists() and "9 photo objects" in r.output

    url, data_dir = target
    r = _cli(monkeypatch, url, data_dir, "restore", str(dest))
    assert r.exit_code == 0, r.output
    assert "audit chain intact" in r.output

    after_rows, after_photos = _contents(url, data_dir)
    assert after_photos == before_photos
    for table, rows in before_rows.items():
        assert after_rows[table] == rows, f"table {table} differs after the round trip"

    # The restored database is not empty any more: a second restore is refused, --force replaces it.
    r = _cli(monkeypatch, url, data_dir, "restore", str(dest))
    assert r.exit_code != 0 and "not empty" in r.output and "--force" in r.output
    r = _cli(monkeypatch, url, data_dir, "restore", "--force", str(dest))
    assert r.exit_code == 0, r.output
    assert _contents(url, data_dir) == (before_rows, before_photos)


def test_a_damaged_backup_is_refused_before_anything_is_written(app, db_url, filled, target, tmp_path, monkeypatch):
    dest = tmp_path / "backup-1"
    assert _cli(monkeypatch, db_url, app.config["DATA_DIR"], "backup", str(dest)).exit_code == 0
    photo = next(p for p in (dest / "photos").rglob("*") if p.is_file() and len(p.name) == 64)
    photo.write_bytes(photo.read_bytes()[:-10])  # cut short on the way to the backup disk
    url, data_dir = target
    r = _cli(monkeypatch, url, data_dir, "restore", str(dest))
    assert r.exit_code != 0 and photo.name in r.output and "hash" in r.output
    from server.backup import _pg_is_empty, _sqlite_is_empty

    if url.startswith("sqlite"):
        assert _sqlite_is_empty(Path(make_url(url).database))
    else:
        assert _pg_is_empty(url)
    # A backup into a folder that holds something is refused too.
    r = _cli(monkeypatch, db_url, app.config["DATA_DIR"], "backup", str(dest))
    assert r.exit_code != 0 and "not empty" in r.output


@pytest.mark.slow
def test_a_backup_taken_while_phones_sync_restores_consistent(app, db_url, filled, target, tmp_path, monkeypatch):
    from server import create_app
    from server.extensions import db
    from server.models import CheckResult, Finding, Visit
    from tests.conftest import AuthActions

    stop = threading.Event()
    sent: list[str] = []
    errors: list = []

    def phone():
        client = app.test_client()
        headers = AuthActions(client).headers("insp2")
        while not stop.is_set() and len(sent) < 200:
            rec = _record(filled)
            r = post_sync(client, headers, [rec], device_id="phone-online")
            if r.status_code != 200 or r.get_json()["results"][0]["status"] != "created":
                errors.append(r.get_json())
                return
            sent.append(rec["id"])

    writer = threading.Thread(target=phone)
    writer.start()
    try:
        while len(sent) < 3 and writer.is_alive():
            threading.Event().wait(0.02)
        r = _cli(monkeypatch, db_url, app.config["DATA_DIR"], "backup", str(tmp_path / "online"))
        during = len(sent)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert errors == [] and r.exit_code == 0, (errors, r.output)
    assert len(sent) > 3, "the phone synced nothing while the backup ran"

    url, data_dir = target
    r = _cli(monkeypatch, url, data_dir, "restore", str(tmp_path / "online"))
    assert r.exit_code == 0 and "audit chain intact" in r.output, r.output
    restored = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET})
    with restored.app_context():
        visits = db.session.execute(sa.select(Visit.id).where(Visit.device_id == "phone-online")).scalars().all()
        results = dict(db.session.execute(sa.select(CheckResult.visit_id, sa.func.count()).group_by(
            CheckResult.visit_id)).all())
        findings = dict(db.session.execute(sa.select(Finding.visit_id, sa.func.count()).group_by(
            Finding.visit_id)).all())
        db.session.remove()
        db.engine.dispose()
    # A snapshot: the visits acknowledged before it started are in, none after it ended, each one whole.
    assert {str(v) for v in visits} <= set(sent)
    assert len(visits) >= 3 and len(visits) <= during + 1
    assert all(results[v] == 3 and findings[v] == 2 for v in visits)


def test_photos_in_an_s3_store_go_into_the_backup_and_back_into_another_bucket(
        templates, tmp_path, monkeypatch, s3_endpoint, shared_fixtures):  # noqa: F811
    import boto3

    from server import create_app
    from server.extensions import db
    from tests.conftest import AuthActions

    client_s3 = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test-key",
                             aws_secret_access_key="test-secret", region_name="us-east-1")
    buckets = [f"fieldcheck-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for b in buckets:
        client_s3.create_bucket(Bucket=b)
    s3 = {"PHOTO_STORE": "s3", "S3_ENDPOINT_URL": s3_endpoint, "S3_ACCESS_KEY_ID": "test-key",
          "S3_SECRET_ACCESS_KEY": "test-secret", "S3_REGION": "us-east-1"}
    url = templates.copy("spatialite", tmp_path)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": TEST_SECRET,
                      "S3_BUCKET": buckets[0], **s3})
    field = load_field_data(app)
    client = app.test_client()
    headers = AuthActions(client).headers("insp1")
    pid = uuid.uuid4()
    rec = _record(field, [pid])
    assert post_sync(client, headers, [rec]).status_code == 200
    jpeg = sorted((shared_fixtures / "photos" / "gps").glob("*.jpg"))[0].read_bytes()
    assert upload(client, headers, pid, jpeg, finding_id=rec["findings"][0]["id"]).status_code == 201
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    for k, v in s3.items():
        monkeypatch.setenv(f"FIELDCHECK_{k}", v)
    monkeypatch.setenv("FIELDCHECK_S3_BUCKET", buckets[0])
    dest = tmp_path / "backup"
    r = _cli(monkeypatch, url, tmp_path / "data", "backup", str(dest))
    assert r.exit_code == 0 and "3 photo objects" in r.output, r.output
    monkeypatch.setenv("FIELDCHECK_S3_BUCKET", buckets[1])
    restored_dir = tmp_path / "restored"
    r = _cli(monkeypatch, f"sqlite:///{restored_dir / 'fieldcheck.db'}", restored_dir, "restore", str(dest))
    assert r.exit_code == 0, r.output

    def objects(bucket):
        listed = client_s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {o["Key"]: hashlib.sha256(client_s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()).hexdigest()
                for o in listed}

    assert objects(buckets[1]) == objects(buckets[0]) and len(objects(buckets[0])) == 3
    assert hashlib.sha256(jpeg).hexdigest() in {k.rsplit("/", 1)[-1] for k in objects(buckets[1])}

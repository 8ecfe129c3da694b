"""`fieldcheck backup DEST` and `fieldcheck restore SRC`: the database and the photo store in one
folder, with a manifest of hashes, taken while the app runs.

A backup folder holds:

- `database.sqlite` (SQLite: the sqlite3 module's online backup API, page by page from a
  consistent snapshot while the app keeps writing) or `database.pgdump` (PostgreSQL:
  `pg_dump -Fc`, one repeatable-read snapshot);
- `photos/<ab>/<key>`: every object of the photo store (originals and their derived copies),
  read through the store's interface, so a local folder and an S3 bucket are backed up alike;
- `manifest.json`: the engine, the schema revision, the database file's SHA-256, and each photo
  object's key, size and SHA-256.

The database is copied first, the photos after: a photo's files are in place before the row
naming it commits, so every photo the copied database names is in the store when the photos are
copied. Objects stored after the database copy are copied too and are harmless (no row names
them; the sweep takes them an hour after a restore).

Restore goes into an empty database and an empty photo store (a new data dir, or a new
PostgreSQL database with PostGIS created) and refuses a non-empty one unless `force`; every
hash is checked before anything is written. Stop the web server and the scheduler first.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
PHOTOS = "photos"


class BackupError(Exception):
    """Something a person must act on (the message says what)."""


@dataclass
class Summary:
    engine: str
    database_bytes: int
    photos: int
    photo_bytes: int
    tables: dict[str, int]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _engine_name(url: str) -> str:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} is not installed: apt-get install postgresql-client (the same major version "
                          f"as the server or newer)")
    return path


def table_counts(app) -> dict[str, int]:
    from .extensions import db

    with app.app_context():
        counts = {t.name: db.session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                  for t in db.metadata.sorted_tables}
        db.session.rollback()
    return counts


def _schema_revision(app) -> str | None:
    from .extensions import db

    with app.app_context():
        try:
            return db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DBAPIError:
            db.session.rollback()
            return None
        finally:
            db.session.rollback()


# --- backup ---------------------------------------------------------------------------------------


def backup(app, dest: str | Path) -> Summary:
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: give a new folder for each backup")
    dest.mkdir(parents=True, exist_ok=True)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = _engine_name(url)
    started = dt.datetime.now(dt.timezone.utc)
    if engine == "sqlite":
        db_file = dest / SQLITE_FILE
        _sqlite_backup(make_url(url).database, db_file)
    else:
        db_file = dest / PG_FILE
        _pg_dump(url, db_file)
    photos = _copy_photos(app, dest / PHOTOS)
    manifest = {
        "format": FORMAT, "engine": engine, "created_at": started.isoformat(),
        "schema_revision": _schema_revision(app),
        "database": {"file": db_file.name, "bytes": db_file.stat().st_size, "sha256": _sha256_file(db_file)},
        "photo_store": app.config.get("PHOTO_STORE", "local"),
        "photos": photos,
    }
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, dest / MANIFEST)  # a folder with a manifest is a finished backup
    return Summary(engine, manifest["database"]["bytes"], len(photos), sum(p["size"] for p in photos),
                   table_counts(app))


def _sqlite_backup(src_path: str, dest: Path) -> None:
    """The online backup API: a consistent copy while other connections keep writing (WAL)."""
    from .db import sqlite_module

    mod = sqlite_module()
    src = mod.connect(src_path, timeout=30)
    dst = mod.connect(str(dest))
    try:
        src.backup(dst)  # all pages in one step: one snapshot, never restarted by a writer
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copied database fails its integrity check: {check}")
    finally:
        dst.close()
        src.close()


def _pg_dump(url: str, dest: Path) -> None:
    run = subprocess.run([_pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(dest), "-d", libpq_url(url)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise BackupError(f"pg_dump failed: {run.stderr.strip()[-1500:]}")


def _copy_photos(app, dest: Path) -> list[dict]:
    from .storage import photo_store

    store = photo_store(app)
    out = []
    for obj in sorted(store.list(), key=lambda o: o.key):
        try:
            data = store.get(obj.key)
        except FileNotFoundError:
            continue  # swept since it was listed: no row names it
        path = dest / obj.key[:2] / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append({"key": obj.key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return out


# --- restore --------------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a finished fieldcheck backup") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: backup format {manifest.get('format')!r}, this version reads {FORMAT}")
    return manifest


def verify(src: str | Path) -> dict:
    """Check every hash of a backup folder against its manifest; answer the manifest."""
    src = Path(src)
    manifest = read_manifest(src)
    db_file = src / manifest["database"]["file"]
    if not db_file.exists() or _sha256_file(db_file) != manifest["database"]["sha256"]:
        raise BackupError(f"{db_file} is missing or does not match the manifest's hash")
    for p in manifest["photos"]:
        path = src / PHOTOS / p["key"][:2] / p["key"]
        if not path.exists() or _sha256_file(path) != p["sha256"]:
            raise BackupError(f"photo object {p['key']} is missing from the backup or does not match its hash")
        if len(p["key"]) == 64 and p["sha256"] != p["key"]:
            raise BackupError(f"photo original {p['key']} holds other bytes than its name says")
    return manifest


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    from .db import sqlite_module

    con = sqlite_module().connect(str(path))
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0] == 0
    finally:
        con.close()


def _pg_is_empty(url: str) -> bool:
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as c:
            return c.execute(sa.text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name NOT IN ('spatial_ref_sys', 'geography_columns', 'geometry_columns')")).scalar() == 0
    finally:
        eng.dispose()


def restore(app, src: str | Path, force: bool = False) -> Summary:
    """Restore a backup folder into the app's database and photo store."""
    from .storage import photo_store

    src = Path(src)
    manifest = verify(src)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = _engine_name(url)
    if manifest["engine"] != engine:
        raise BackupError(f"this backup is of a {manifest['engine']} database; the configured database "
                          f"(FIELDCHECK_DATABASE_URL) is {engine}")
    store = photo_store(app)
    if engine == "sqlite":
        target = Path(make_url(url).database)
        empty = _sqlite_is_empty(target)
    else:
        empty = _pg_is_empty(url)
    has_photos = next(iter(store.list()), None) is not None
    if not force and (not empty or has_photos):
        what = "database" if not empty else "photo store"
        raise BackupError(f"the {what} to restore into is not empty: restore into a new data dir or a new "
                          f"database, or give --force to replace what is there")
    from .extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # no pooled connection of ours holds the old file or tables
    if engine == "sqlite":
        _sqlite_restore(src / SQLITE_FILE, target)
    else:
        _pg_restore(url, src / PG_FILE, clean=not empty)
    if force and has_photos:
        for obj in list(store.list()):
            store.delete(obj.key)
    total = 0
    for p in manifest["photos"]:
        data = (src / PHOTOS / p["key"][:2] / p["key"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != p["sha256"]:
            raise BackupError(f"photo object {p['key']} changed while being restored")
        store.put(p["key"], data)
        total += len(data)
    return Summary(engine, manifest["database"]["bytes"], len(manifest["photos"]), total, table_counts(app))


def _sqlite_restore(src: Path, target: Path) -> None:
    from .db import sqlite_module

    target.parent.mkdir(parents=True, exist_ok=True)
    mod = sqlite_module()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        # The backup API writes into the target through SQLite's own locking, so a stale WAL
        # beside it is taken care of, never mixed with the restored pages.
        work = Path(tmp) / "restore.sqlite"
        shutil.copyfile(src, work)
        s = mod.connect(str(work))
        d = mod.connect(str(target), timeout=30)
        try:
            s.backup(d)
            d.execute("PRAGMA journal_mode=WAL")
            check = d.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the restored database fails its integrity check: {check}")
        finally:
            d.close()
            s.close()


def _pg_restore(url: str, dump: Path, clean: bool) -> None:
    """pg_restore of everything but PostGIS itself: the extension (and its spatial_ref_sys) is
    created in the target by a superuser beforehand, as for a new database."""
    tool = _pg_tool("pg_restore")
    listing = subprocess.run([tool, "-l", str(dump)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore cannot read {dump}: {listing.stderr.strip()[-800:]}")
    keep = [line for line in listing.stdout.splitlines()
            if " EXTENSION " not in line and " spatial_ref_sys " not in line and " SCHEMA - public " not in line]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(keep) + "\n")
        list_path = fh.name
    try:
        argv = [tool, "--no-owner", "--exit-on-error", "--single-transaction", "-L", list_path,
                "-d", libpq_url(url), str(dump)]
        if clean:
            argv[1:1] = ["--clean", "--if-exists"]
        run = subprocess.run(argv, capture_output=True, text=True)
    finally:
        os.unlink(list_path)
    if run.returncode != 0:
        hint = ""
        if "postgis" in run.stderr.lower() or "geometry" in run.stderr.lower():
            hint = " (is PostGIS created in the target? CREATE EXTENSION postgis, as a superuser)"
        raise BackupError(f"pg_restore failed{hint}: {run.stderr.strip()[-1500:]}")

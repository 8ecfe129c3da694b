"""Imports for an admin: enterprises (CSV, XLSX), parks (GeoJSON, KML), people (CSV, XLSX),
the violation catalogue (CSV) and checklists (CSV, XLSX).

Every import is first a dry run: the file is stored as uploaded (SHA-256 kept) and read row
by row against the database without writing to it; the report says, for each row, whether it
would be created, updated, left unchanged or refused and why (message key + params, in
zh-CN and en). Apply reads exactly that stored file again and writes every row the dry run
accepted in ONE transaction with one audit entry, or nothing at all: if the database changed
since the dry run so that the outcome would differ, apply refuses and asks for a new dry run.

Matching: enterprises on credit code, parks on park code, people on username, catalogue rows
on (code, effective_from), checklists on template code. Importing the same file again finds
every row unchanged and writes nothing.

Large files stream: tables are read a row at a time (openpyxl read-only) and processed in
batches of BATCH rows, each batch looked up in the database with one query; memory holds one
batch whatever the file's length: the keys already met in the file (to refuse a duplicate naming
its first row) are kept in the import_keys table, one look-up and one insert a batch, and
emptied when the pass ends. Progress is written to a small
file beside the upload so any worker process can answer GET /api/imports/<id>.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import NamedTuple
from pathlib import Path

import shapely
import sqlalchemy as sa
from flask import current_app
from geoalchemy2.elements import WKTElement
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, Point, shape
from shapely.prepared import prep

from ..domain import coords
from ..domain import imports as rules
from ..domain.geo import approx_area_m2
from ..extensions import db
from ..models import (
    AuthToken, ChecklistItem, ChecklistTemplate, ImportJob, ImportKey, ImportRow, Office, Park, Site, User, ViolationType,
)
from ..models.types import utcnow
from . import audit
from . import catalogue as catalogue_service
from .errors import Conflict, NotFound, ServiceError
from .import_readers import OFFICE_WORDS, FileProblem, open_table, read_geojson, read_kml

log = logging.getLogger("fieldcheck.imports")

BATCH = 500
PROGRESS_EVERY = 1000
MAX_FILE_BYTES = 200 * 1024 * 1024
INLINE_BYTES = 512 * 1024          # the API checks smaller files inside the request
LISTED_CREATES = 500               # created rows listed one by one in the report (all are counted)
MAX_ID = 2**31 - 1
MIN_PASSWORD = 10


# --- storing the upload ------------------------------------------------------------------


def _dir() -> Path:
    d = Path(current_app.config["DATA_DIR"]) / "imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _ext(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _path(job: ImportJob) -> Path:
    return _dir() / job.stored_name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clean_options(kind: str, options: dict) -> dict:
    """The options kept with the job: crs, reference point, a hashed initial password."""
    out = {"crs": options.get("crs") or "wgs84"}
    if out["crs"] not in coords.CRS:
        raise ServiceError(f"crs is one of {', '.join(coords.CRS)}", ("crs",))
    lon, lat = options.get("reference_lon"), options.get("reference_lat")
    if (lon is None) != (lat is None):
        raise ServiceError("the reference point needs both reference_lon and reference_lat (WGS 84)",
                           ("reference_lon", "reference_lat"))
    if lon is not None:
        out["reference"] = [float(lon), float(lat)]
        if options.get("reference_key"):
            out["reference_key"] = str(options["reference_key"]).strip().upper()[:64]
    password = options.get("initial_password")
    if password:
        if kind != "people":
            raise ServiceError("initial_password is for a people import", ("initial_password",))
        if len(password) < MIN_PASSWORD:
            raise ServiceError(f"the initial password must have at least {MIN_PASSWORD} characters",
                               ("initial_password",))
        from .users import hash_password

        out["initial_password_hash"] = hash_password(password)
    return out


def store_upload(kind: str, filename: str, stream, options: dict, actor_id: int | None) -> ImportJob:
    """Save the uploaded bytes and make the job (status 'checking'); the caller runs the dry run."""
    if kind not in rules.KINDS:
        raise ServiceError(f"kind is one of {', '.join(rules.KINDS)}", ("kind",))
    filename = (filename or "").strip()[:255] or f"upload.{rules.FORMATS[kind][0]}"
    ext = _ext(filename)
    if ext not in rules.FORMATS[kind]:
        raise ServiceError(f"a {kind} import reads {', '.join(rules.FORMATS[kind])} files, not {filename!r}",
                           ("file",))
    opts = clean_options(kind, options)
    stored = f"{uuid.uuid4().hex}.{ext}"
    path = _dir() / stored
    h, size = hashlib.sha256(), 0
    with open(path, "wb") as out:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                out.close()
                path.unlink(missing_ok=True)
                raise ServiceError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", ("file",),
                                   status=413)
            h.update(chunk)
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ServiceError("the file is empty", ("file",))
    job = ImportJob(kind=kind, filename=filename, stored_name=stored, size=size, sha256=h.hexdigest(),
                    options=opts, status="checking", counts={}, file_issues=[], created_by=actor_id)
    db.session.add(job)
    db.session.flush()
    audit.record("import.upload", "import", job.id, {"kind": kind, "filename": filename, "size": size,
                                                     "sha256": job.sha256, "crs": opts["crs"]}, actor_id)
    db.session.commit()
    return job


# --- progress, beside the upload -------------------------------------------------------------


def _progress_path(job_id: int) -> Path:
    return _dir() / f"{job_id}.progress.json"


def _write_progress(job_id: int, phase: str, done: int, total: int | None) -> None:
    p = _progress_path(job_id)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps({"phase": phase, "done": done, "total": total}))
    os.replace(tmp, p)


def read_progress(job_id: int) -> dict | None:
    try:
        return json.loads(_progress_path(job_id).read_text())
    except (OSError, ValueError):
        return None


# --- the pipeline shared by every kind --------------------------------------------------------


class Outcome:
    """What one row would do (or did): action, its key and label, issues, changed fields."""

    __slots__ = ("row_no", "action", "key", "label", "issues", "changes")

    def __init__(self, row_no, action, key="", label="", issues=None, changes=None):
        self.row_no, self.action, self.key, self.label = row_no, action, key, label
        self.issues, self.changes = issues or [], changes or {}


def _refused(row_no, key, label, issues) -> Outcome:
    return Outcome(row_no, "refused", key, label, issues)


class Run:
    """One pass over the file: counts, report rows, progress."""

    def __init__(self, job: ImportJob, apply: bool, report: bool, on_progress: Callable | None = None):
        self.job_id, self.apply, self.report = job.id, apply, report
        self.opts = job.options or {}
        self.crs = self.opts.get("crs", "wgs84")
        self.counts = {"create": 0, "update": 0, "unchanged": 0, "refused": 0, "warnings": 0, "rows": 0}
        self.file_issues: list[dict] = []
        self.listed_creates = 0
        self.pending: list[ImportRow] = []
        self.total: int | None = None
        self.on_progress = on_progress
        self.phase = "apply" if apply else "check"
        self.headers: dict[str, str] = {}

    def add(self, o: Outcome) -> None:
        for i in o.issues:
            i["header"] = self.headers.get(i["column"], i["column"])
        self.counts[o.action] += 1
        self.counts["rows"] += 1
        warnings = sum(1 for i in o.issues if i["severity"] == "warning")
        self.counts["warnings"] += warnings
        if not self.report:
            return
        listed = o.action in ("refused", "update") or warnings
        if o.action == "create" and self.listed_creates < LISTED_CREATES:
            self.listed_creates += 1
            listed = True
        if listed:
            self.pending.append(ImportRow(job_id=self.job_id, row_no=o.row_no, action=o.action, key=o.key[:120],
                                          label=o.label[:255], issues=o.issues, warnings=warnings,
                                          changes=o.changes))

    def flush_report(self) -> None:
        """A dry run's batch done: its report rows and the keys it met committed (never holding
        SQLite's write lock across batches)."""
        if self.apply:
            return
        if self.pending:
            db.session.add_all(self.pending)
            db.session.flush()
            self.pending = []
        db.session.commit()

    def tick(self) -> None:
        n = self.counts["rows"]
        if n % PROGRESS_EVERY == 0:
            _write_progress(self.job_id, self.phase, n, self.total)
            if self.on_progress:
                self.on_progress(self.phase, n, self.total)

    def to_wgs84(self, lon: float, lat: float) -> tuple[float, float]:
        return coords.to_wgs84(lon, lat, self.crs)


def _batches(rows: Iterator, size: int | None = None) -> Iterator[list]:
    size = size or BATCH
    batch = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class SeenKeys:
    """The keys of one scope (credit_code, username, certificate_no) already met in this pass over
    the file, with the row each was first on. They live in import_keys, not in memory: a batch
    loads the ones it names (one query), adds its own, and saves them (one insert), so memory
    holds one batch whatever the file's length. Written in the pass's transaction: a dry run
    commits them with each batch's report, an apply's vanish with it if it fails; both passes
    start and end by forgetting the job's keys (forget_keys)."""

    def __init__(self, job_id: int, scope: str):
        self.job_id, self.scope = job_id, scope
        self.known: dict[str, int] = {}
        self.new: dict[str, int] = {}

    def load(self, keys) -> None:
        """Read which of this batch's keys earlier batches met (one query)."""
        keys = sorted({k for k in keys if k})
        self.known = dict(db.session.execute(
            sa.select(ImportKey.key, ImportKey.row_no).where(ImportKey.job_id == self.job_id,
                                                             ImportKey.scope == self.scope,
                                                             ImportKey.key.in_(keys))).all()) if keys else {}
        self.new = {}

    def first(self, key: str) -> int | None:
        """The row the key was first on, earlier in the file, or None."""
        row = self.known.get(key)
        return row if row is not None else self.new.get(key)

    def add(self, key: str, row_no: int) -> None:
        if key and key not in self.known:
            self.new.setdefault(key, row_no)

    def save(self) -> None:
        if self.new:
            db.session.execute(sa.insert(ImportKey.__table__), [
                {"job_id": self.job_id, "scope": self.scope, "key": k, "row_no": r} for k, r in self.new.items()])
        self.known, self.new = {}, {}


def forget_keys(job_id: int) -> None:
    db.session.execute(sa.delete(ImportKey).where(ImportKey.job_id == job_id))


class ParkRef(NamedTuple):
    id: int
    code: str
    name_zh: str
    name_en: str


class ParkIndex:
    """The parks as prepared shapes, for point-in-park tests of many rows (plain values: the
    session is cleared between batches)."""

    def __init__(self):
        self.parks = []
        self.by_word: dict[str, ParkRef] = {}
        for park in db.session.execute(sa.select(Park).order_by(Park.id)).scalars():
            area = to_shape(park.boundary)
            p = ParkRef(park.id, park.code, park.name_zh, park.name_en)
            self.parks.append((p, area, prep(area)))
            for w in (p.code, p.code.upper(), p.name_zh, p.name_en, (p.name_en or "").lower()):
                if w:
                    self.by_word.setdefault(w, p)

    def find(self, word: str) -> ParkRef | None:
        w = word.strip()
        return self.by_word.get(w) or self.by_word.get(w.upper()) or self.by_word.get(w.lower())

    def containing(self, lon: float, lat: float) -> list[ParkRef]:
        pt = Point(lon, lat)
        return [p for p, _a, pa in self.parks if pa.covers(pt)]


# --- enterprises ------------------------------------------------------------------------------

_SITE_COMPARED = ("name", "kind", "address", "industry", "risk_grade", "credit_class", "safety_std_grade", "is_hazchem",
                  "is_major_hazard", "is_key_polluter", "contact_name", "contact_phone", "park_id")
_COORD_EPS = 1e-9


def _enterprises(run: Run, path: Path, ext: str) -> None:
    table = open_table(path, ext, rules.ENTERPRISE_COLUMNS, rules.ENTERPRISE_REQUIRED)
    run.headers = table.headers
    run.total = table.total_estimate
    for col in table.unknown:
        run.file_issues.append(rules.issue(col, "unknown_column", "warning", column=col))
    parks = ParkIndex()
    has_park_col = "park" in table.present
    seen_codes = SeenKeys(run.job_id, "credit_code")
    gcj_rows = 0
    ref = run.opts.get("reference")
    ref_key = run.opts.get("reference_key")
    nearest = None  # (metres, row_no, lon, lat, label) of the row nearest the reference point
    for batch in _batches(table.rows):
        parsed = []
        for row_no, raw in batch:
            fields, problems = rules.enterprise_fields(raw)
            label = rules.text(raw.get("name"))[:200]
            key = fields.get("credit_code") or rules.text(raw.get("credit_code")).upper()
            park = None
            if not problems:
                file_lon, file_lat = fields["lon"], fields["lat"]
                if ref is not None:
                    if ref_key and key == ref_key:
                        nearest = (0.0, row_no, file_lon, file_lat, label)
                    elif not ref_key:
                        d = coords._metres(file_lon, file_lat, ref[0], ref[1])
                        if d < 2000 and (nearest is None or d < nearest[0]):
                            nearest = (d, row_no, file_lon, file_lat, label)
                lon, lat = run.to_wgs84(file_lon, file_lat)
                fields["lon"], fields["lat"] = lon, lat
                where = parks.containing(lon, lat)
                park_word = rules.text(raw.get("park")) if has_park_col else ""
                if park_word:
                    park = parks.find(park_word)
                    if park is None:
                        problems.append(rules.issue("park", "unknown_park", value=park_word))
                    elif park not in where:
                        others = ", ".join(f"{p.name_zh} ({p.code})" for p in where)
                        problems.append(rules.issue(
                            "lon", "outside_park", lon=round(lon, 6), lat=round(lat, 6),
                            park=f"{park.name_zh} ({park.code})",
                            elsewhere=f"；它在园区 {others} 内" if others else "",
                            elsewhere_en=f"; it is in park {others}" if others else ""))
                        park = None
                elif where:
                    park = where[0]
                else:
                    problems.append(rules.issue("lon", "outside_parks", lon=round(lon, 6), lat=round(lat, 6)))
                if not where and run.crs == "wgs84":
                    glon, glat = coords.gcj02_to_wgs84(file_lon, file_lat)
                    inside = parks.containing(glon, glat)
                    if inside:
                        gcj_rows += 1
                        problems = [p for p in problems if p["key"] not in ("outside_parks", "outside_park")]
                        problems.append(rules.issue("lon", "outside_parks_gcj02", lon=round(lon, 6),
                                                    lat=round(lat, 6), park=f"{inside[0].name_zh} ({inside[0].code})"))
            parsed.append((row_no, key, label, fields, park, problems))
        seen_codes.load(k for _r, k, _l, _f, _p, pr in parsed if not pr)
        for row_no, key, _l, _f, _p, problems in parsed:
            if not problems:
                first = seen_codes.first(key)
                if first is not None:
                    problems.append(rules.issue("credit_code", "duplicate_in_file", first=first, value=key))
                elif key:
                    seen_codes.add(key, row_no)
        seen_codes.save()
        codes = [k for _r, k, _l, _f, _p, pr in parsed if k and not pr]
        existing = {}
        if codes:
            for r in db.session.execute(
                sa.select(Site, sa.func.ST_X(Site.geom).label("lon"), sa.func.ST_Y(Site.geom).label("lat"))
                .where(Site.credit_code.in_(codes))
            ).all():
                existing[r.Site.credit_code] = r
        names = [(f.get("name"), p.id) for _r, _k, _l, f, p, pr in parsed if not pr and p is not None]
        name_clash = {}
        if names:
            for r in db.session.execute(
                sa.select(Site.id, Site.name, Site.park_id, Site.credit_code)
                .where(Site.name.in_([n for n, _ in names]))
            ).all():
                name_clash[(r.name, r.park_id)] = r
        inserts = []
        for row_no, key, label, fields, park, problems in parsed:
            if problems:
                run.add(_refused(row_no, key, label, problems))
                run.tick()
                continue
            state = {k: fields[k] for k in _SITE_COMPARED if k != "park_id"}
            state["park_id"] = park.id
            state["credit_code"] = key
            old = existing.get(key)
            if old is None:
                clash = name_clash.get((state["name"], park.id))
                if clash is not None and clash.credit_code != key:
                    run.add(_refused(row_no, key, label, [rules.issue(
                        "name", "duplicate_name_db", site_id=clash.id, other=clash.credit_code or "—")]))
                    run.tick()
                    continue
                run.add(Outcome(row_no, "create", key, label))
                if run.apply:
                    inserts.append({**state, "active": True,
                                    "geom": WKTElement(f"POINT({fields['lon']!r} {fields['lat']!r})", srid=4326)})
            else:
                site = old.Site
                changes = {k: [getattr(site, k), state[k]] for k in _SITE_COMPARED if getattr(site, k) != state[k]}
                if abs(old.lon - fields["lon"]) > _COORD_EPS or abs(old.lat - fields["lat"]) > _COORD_EPS:
                    changes["lonlat"] = [[old.lon, old.lat], [fields["lon"], fields["lat"]]]
                if not changes:
                    run.add(Outcome(row_no, "unchanged", key, label))
                else:
                    run.add(Outcome(row_no, "update", key, label, changes=changes))
                    if run.apply:
                        values = {k: state[k] for k in changes if k != "lonlat"}
                        if "lonlat" in changes:
                            values["geom"] = WKTElement(f"POINT({fields['lon']!r} {fields['lat']!r})", srid=4326)
                        values["updated_at"] = utcnow()
                        db.session.execute(sa.update(Site.__table__).where(Site.__table__.c.id == site.id)
                                           .values(**values))
            run.tick()
        if inserts:
            now = utcnow()
            for r in inserts:
                r["created_at"] = r["updated_at"] = now
            db.session.execute(sa.insert(Site.__table__), inserts)
        if run.apply:
            db.session.expunge_all()  # keep memory to one batch: nothing loaded is needed again
        else:
            run.flush_report()
            db.session.expunge_all()
    if gcj_rows:
        run.file_issues.append(rules.issue("lon", "looks_gcj02_rows", "warning", count=gcj_rows))
    _reference_check(run, nearest, ref)


def _reference_check(run: Run, nearest, ref) -> None:
    if ref is None or nearest is None or run.crs != "wgs84":
        return
    _d, row_no, lon, lat, label = nearest
    if coords.looks_like_gcj02(lon, lat, ref[0], ref[1]):
        glon, glat = coords.wgs84_to_gcj02(ref[0], ref[1])
        run.file_issues.append(rules.issue(
            "lon", "looks_gcj02_reference", "warning", what=f"{label} (row {row_no})",
            true_m=round(coords._metres(lon, lat, ref[0], ref[1])), gcj_m=round(coords._metres(lon, lat, glon, glat))))


# --- parks --------------------------------------------------------------------------------------


def _geometry(run: Run, geom: dict | None):
    """A GeoJSON geometry converted to WGS 84 as shapely, or an issue."""
    if not geom or geom.get("type") == "Invalid":
        return None, rules.issue("geometry", "geometry", why=(geom or {}).get("why", "none given"))

    def conv(c):
        if isinstance(c[0], (int, float)):
            x, y = run.to_wgs84(float(c[0]), float(c[1]))
            return [x, y]
        return [conv(x) for x in c]

    try:
        g = shape({"type": geom["type"], "coordinates": conv(geom["coordinates"])})
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        return None, rules.issue("geometry", "geometry", why=f"{type(e).__name__}: {e}")
    return g, None


def _parks(run: Run, path: Path, ext: str) -> None:
    features = read_kml(path) if ext == "kml" else read_geojson(path)
    run.total = len(features)
    existing = {p.code: p for p in db.session.execute(sa.select(Park)).scalars()}
    seen: dict[str, int] = {}
    accepted = []  # (code, area) of the file's parks, for overlaps between them
    office_row = None
    for n, props, geom in features:
        kind = rules.text(props.get("kind")).lower()
        label = rules.text(props.get("name_zh"))
        if geom and geom.get("type") == "Point" and (kind in OFFICE_WORDS or not props.get("code")):
            office_row = (n, props, geom)
            continue
        problems = []
        code = rules.text(props.get("code")).upper()
        if not code:
            problems.append(rules.issue("code", "required"))
        elif len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
            problems.append(rules.issue("code", "bad_code", max=32))
        if not label:
            problems.append(rules.issue("name_zh", "required"))
        area, problem = _geometry(run, geom)
        if problem:
            problems.append(problem)
        elif area.geom_type == "Polygon":
            area = MultiPolygon([area])
        if area is not None and not problems:
            if area.geom_type != "MultiPolygon":
                problems.append(rules.issue("geometry", "no_boundary"))
            elif not area.is_valid:
                problems.append(rules.issue("geometry", "geometry", why=shapely.is_valid_reason(area)))
        if code and code in seen:
            problems.append(rules.issue("code", "duplicate_in_file", first=seen[code], value=code))
        if problems:
            run.add(_refused(n, code, label, problems))
            continue
        seen[code] = n
        state = {"code": code, "name_zh": label[:120], "name_en": (rules.text(props.get("name_en")) or label)[:120],
                 "kind": (kind or "general")[:40]}
        issues = []
        for other_code, other in [(c, to_shape(p.boundary)) for c, p in existing.items() if c != code] + \
                [(c, a) for c, a in accepted if c != code]:
            shared = area.intersection(other)
            m2 = approx_area_m2(shared) if shared.area > 0 else 0.0
            if m2 >= 1.0:
                issues.append(rules.issue("geometry", "overlaps_park", "warning", other=other_code,
                                          ha=f"{m2 / 10000:.2f}"))
        accepted.append((code, area))
        old = existing.get(code)
        if old is None:
            run.add(Outcome(n, "create", code, label, issues))
            if run.apply:
                park = Park(**state, boundary=WKTElement(area.wkt, srid=4326))
                db.session.add(park)
            continue
        changes = {k: [getattr(old, k), v] for k, v in state.items() if getattr(old, k) != v}
        old_area = to_shape(old.boundary)
        if not shapely.equals_exact(old_area, area, 1e-9):
            left = db.session.execute(
                sa.select(sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom)).where(Site.park_id == old.id)).all()
            outside = [r for r in left if not area.covers(Point(r[0], r[1]))]
            if outside:
                run.add(_refused(n, code, label, [rules.issue("geometry", "boundary_leaves_sites",
                                                              count=len(outside))]))
                continue
            changes["boundary"] = ["…", "…"]
        if not changes:
            run.add(Outcome(n, "unchanged", code, label, issues))
            continue
        run.add(Outcome(n, "update", code, label, issues, changes))
        if run.apply:
            for k in state:
                setattr(old, k, state[k])
            if "boundary" in changes:
                old.boundary = WKTElement(area.wkt, srid=4326)
    if office_row is not None:
        _office(run, *office_row)
    ref = run.opts.get("reference")
    if ref is not None and run.crs == "wgs84":
        areas = [a for _c, a in accepted]
        if areas and not any(a.covers(Point(*ref)) for a in areas):
            shifted = [(c, shapely.transform(a, _inverse_xy)) for c, a in accepted]
            inside = [c for c, a in shifted if a.covers(Point(*ref))]
            if inside:
                run.file_issues.append(rules.issue("geometry", "looks_gcj02_parks", "warning",
                                                   lon=ref[0], lat=ref[1], park=inside[0]))
        if office_row is not None:
            _n, _p, g = office_row
            c = g.get("coordinates") or [0, 0]
            _reference_check(run, (0, _n, float(c[0]), float(c[1]), rules.text(_p.get("name_zh")) or "office"), ref)
    if not run.apply:
        run.flush_report()


def _inverse_xy(xy):
    import numpy as np

    return np.array([coords.gcj02_to_wgs84(float(x), float(y)) for x, y in xy])


def _office(run: Run, n: int, props: dict, geom: dict) -> None:
    label = rules.text(props.get("name_zh")) or "综合执法局"
    try:
        lon, lat = rules.lonlat(*(geom.get("coordinates") or [None, None])[:2])
    except rules.Refused as r:
        run.add(_refused(n, "OFFICE", label, [r.issue]))
        return
    except TypeError:
        run.add(_refused(n, "OFFICE", label, [rules.issue("geometry", "geometry", why="a point is [lon, lat]")]))
        return
    lon, lat = run.to_wgs84(lon, lat)
    office = db.session.execute(sa.select(Office).order_by(Office.is_default.desc(), Office.id).limit(1)).scalar()
    state = {"name_zh": label[:120], "name_en": (rules.text(props.get("name_en")) or label)[:120]}
    if office is None:
        run.add(Outcome(n, "create", "OFFICE", label))
        if run.apply:
            db.session.add(Office(**state, is_default=True, location=WKTElement(f"POINT({lon!r} {lat!r})", srid=4326)))
        return
    p = to_shape(office.location)
    changes = {k: [getattr(office, k), v] for k, v in state.items() if getattr(office, k) != v}
    if abs(p.x - lon) > _COORD_EPS or abs(p.y - lat) > _COORD_EPS:
        changes["lonlat"] = [[p.x, p.y], [lon, lat]]
    if not changes:
        run.add(Outcome(n, "unchanged", "OFFICE", label))
        return
    run.add(Outcome(n, "update", "OFFICE", label, changes=changes))
    if run.apply:
        for k, v in state.items():
            setattr(office, k, v)
        office.location = WKTElement(f"POINT({lon!r} {lat!r})", srid=4326)


# --- people ---------------------------------------------------------------------------------------

_USER_COMPARED = ("name", "role", "phone", "certificate_no", "certificate_expires", "certified_domains", "auxiliary",
                  "active")


def _people(run: Run, path: Path, ext: str) -> None:
    table = open_table(path, ext, rules.PEOPLE_COLUMNS, rules.PEOPLE_REQUIRED)
    run.headers = table.headers
    run.total = table.total_estimate
    for col in table.unknown:
        run.file_issues.append(rules.issue(col, "unknown_column", "warning", column=col))
    parks = ParkIndex()
    seen_users = SeenKeys(run.job_id, "username")
    seen_certs = SeenKeys(run.job_id, "certificate_no")
    pw_hash = run.opts.get("initial_password_hash")
    for batch in _batches(table.rows):
        parsed = []
        for row_no, raw in batch:
            f, problems = rules.people_fields(raw)
            key = f.get("username", "")
            park_objs = []
            for w in f.get("parks", []):
                p = parks.find(w)
                if p is None:
                    problems.append(rules.issue("parks", "unknown_park", value=w))
                elif p not in park_objs:
                    park_objs.append(p)
            parsed.append((row_no, key, f, park_objs, problems))
        seen_users.load(k for _r, k, _f, _p, _pr in parsed)
        seen_certs.load(f.get("certificate_no") for _r, _k, f, _p, _pr in parsed)
        for row_no, key, f, _p, problems in parsed:
            first = seen_users.first(key) if key else None
            if first is not None:
                problems.append(rules.issue("username", "duplicate_in_file", first=first, value=key))
            cert = f.get("certificate_no")
            first = seen_certs.first(cert) if cert else None
            if first is not None:
                problems.append(rules.issue("certificate_no", "duplicate_in_file", first=first, value=cert))
            if not problems:
                seen_users.add(key, row_no)
                if cert:
                    seen_certs.add(cert, row_no)
        seen_users.save()
        seen_certs.save()
        names = [k for _r, k, _f, _p, pr in parsed if not pr]
        existing = {u.username: u for u in db.session.execute(
            sa.select(User).where(User.username.in_(names))).scalars()} if names else {}
        certs = [f["certificate_no"] for _r, _k, f, _p, pr in parsed if not pr and f.get("certificate_no")]
        cert_owner = dict(db.session.execute(sa.select(User.certificate_no, User.username)
                                             .where(User.certificate_no.in_(certs))).all()) if certs else {}
        for row_no, key, f, park_objs, problems in parsed:
            label = f.get("name", "")
            if not problems and f.get("certificate_no") and cert_owner.get(f["certificate_no"], key) != key:
                problems.append(rules.issue("certificate_no", "certificate_taken", value=f["certificate_no"],
                                            other=cert_owner[f["certificate_no"]]))
            old = existing.get(key)
            if not problems and old is None and not pw_hash:
                problems.append(rules.issue("username", "weak_password", min=MIN_PASSWORD))
            if problems:
                run.add(_refused(row_no, key, label, problems))
                run.tick()
                continue
            state = {k: f[k] for k in _USER_COMPARED}
            if old is None:
                run.add(Outcome(row_no, "create", key, label))
                if run.apply:
                    db.session.add(User(username=key, password_hash=pw_hash,
                                        parks=[db.session.get(Park, p.id) for p in park_objs], **state))
            else:
                changes = {k: [_jsonable(getattr(old, k)), _jsonable(v)] for k, v in state.items()
                           if getattr(old, k) != v}
                if sorted(p.id for p in old.parks) != sorted(p.id for p in park_objs):
                    changes["parks"] = [[p.code for p in old.parks], [p.code for p in park_objs]]
                if not changes:
                    run.add(Outcome(row_no, "unchanged", key, label))
                else:
                    run.add(Outcome(row_no, "update", key, label, changes=changes))
                    if run.apply:
                        for k, v in state.items():
                            setattr(old, k, v)
                        old.parks = [db.session.get(Park, p.id) for p in park_objs]
                        if not state["active"]:
                            db.session.execute(sa.update(AuthToken).where(AuthToken.user_id == old.id,
                                                                          AuthToken.revoked_at.is_(None))
                                               .values(revoked_at=utcnow()))
            run.tick()
        if run.apply:
            db.session.flush()
        else:
            run.flush_report()
        db.session.expunge_all()  # keep memory to one batch: the parks are read again by id


def _jsonable(v):
    return v.isoformat() if isinstance(v, dt.date) else v


# --- catalogue --------------------------------------------------------------------------------------


def _catalogue(run: Run, path: Path, ext: str) -> None:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in catalogue_service.COLUMNS if c not in header]
        if missing:
            raise FileProblem(rules.issue(None, "missing_column", columns=", ".join(missing)))
        for h in header:
            if h not in catalogue_service.COLUMNS and h not in catalogue_service.OPTIONAL_COLUMNS:
                run.file_issues.append(rules.issue(h, "unknown_column", "warning", column=h))
        raws = list(reader)  # a catalogue is a few hundred rows
    run.total = len(raws)
    existing: dict[tuple, ViolationType] = {
        (v.code, v.effective_from): v for v in db.session.execute(sa.select(ViolationType)).scalars()}
    seen: dict[tuple, int] = {}
    to_load = []
    for i, raw in enumerate(raws):
        row_no = i + 2
        key = (raw.get("code") or "").strip()
        label = (raw.get("name_zh") or "").strip()
        try:
            row = catalogue_service.parse_rows([raw], first_line=row_no)[0]
        except catalogue_service.CatalogueError as e:
            problems = [rules.issue(col, "catalogue_row", message="; ".join(msgs))
                        for col, msgs in e.errors.get(f"line {row_no}", {}).items()]
            run.add(_refused(row_no, key, label, problems))
            continue
        k = (row["code"], row["effective_from"])
        if k in seen:
            run.add(_refused(row_no, key, label, [rules.issue("code", "duplicate_in_file", first=seen[k],
                                                              value=f"{k[0]} {k[1]}")]))
            continue
        seen[k] = row_no
        old = existing.get(k)
        if old is None:
            run.add(Outcome(row_no, "create", key, label))
            to_load.append(row)
        elif catalogue_service._same(old, row):
            run.add(Outcome(row_no, "unchanged", key, label))
        else:
            run.add(_refused(row_no, key, label, [rules.issue("code", "catalogue_conflict",
                                                              date=row["effective_from"].isoformat())]))
    if run.apply and to_load:
        catalogue_service.load_rows(to_load, record_audit=False)
    if not run.apply:
        run.flush_report()


# --- checklists ---------------------------------------------------------------------------------------

_TEMPLATE_FIELDS = ("template_name_zh", "template_name_en", "template_domain")
_ITEM_FIELDS = ("item_code", "domain", "text_zh", "text_en", "legal_basis")


def _checklists(run: Run, path: Path, ext: str) -> None:
    table = open_table(path, ext, rules.CHECKLIST_COLUMNS, rules.CHECKLIST_REQUIRED)
    run.headers = table.headers
    for col in table.unknown:
        run.file_issues.append(rules.issue(col, "unknown_column", "warning", column=col))
    templates: dict[str, dict] = {}  # code -> {"first": row, "head": fields, "rows": [...]}
    for row_no, raw in table.rows:  # checklists are small: grouped in memory
        f, problems = rules.checklist_fields(raw)
        code = f.get("template_code") or rules.text(raw.get("template_code")).upper()
        t = templates.setdefault(code, {"first": row_no, "head": None, "rows": [], "bad": False, "items": {}})
        if not problems:
            head = tuple(f[k] for k in _TEMPLATE_FIELDS)
            if t["head"] is None:
                t["head"] = head
            elif t["head"] != head:
                problems.append(rules.issue("template_name_zh", "template_mismatch", code=code, first=t["first"]))
            if f["item_code"] in t["items"]:
                problems.append(rules.issue("item_code", "duplicate_in_file", first=t["items"][f["item_code"]],
                                            value=f["item_code"]))
            else:
                t["items"][f["item_code"]] = row_no
        t["bad"] = t["bad"] or bool(problems)
        t["rows"].append((row_no, f, problems))
    run.total = sum(len(t["rows"]) for t in templates.values())
    for code, t in templates.items():
        latest = db.session.execute(sa.select(ChecklistTemplate).where(ChecklistTemplate.code == code)
                                    .order_by(ChecklistTemplate.version.desc()).limit(1)).scalar()
        if t["bad"]:
            for row_no, f, problems in t["rows"]:
                label = f.get("text_zh", "")[:80]
                run.add(_refused(row_no, code, label, problems or [
                    rules.issue("template_code", "template_mismatch", code=code, first=t["first"])]))
            continue
        items = [tuple(f[k] for k in _ITEM_FIELDS) for _r, f, _p in t["rows"]]
        head = t["head"]
        same = False
        if latest is not None:
            stored = [(i.code, i.domain, i.text_zh, i.text_en, i.legal_basis) for i in latest.items]
            same = stored == items and (latest.name_zh, latest.name_en, latest.domain) == head
        action = "unchanged" if same else ("create" if latest is None else "update")
        for row_no, f, _p in t["rows"]:
            changes = {"version": [latest.version, latest.version + 1]} if action == "update" else {}
            run.add(Outcome(row_no, action, f"{code}/{f['item_code']}", f["text_zh"][:80], changes=changes))
        if run.apply and action != "unchanged":
            version = 1 if latest is None else latest.version + 1
            db.session.execute(sa.update(ChecklistTemplate).where(ChecklistTemplate.code == code,
                                                                  ChecklistTemplate.status == "published")
                               .values(status="retired"))
            tmpl = ChecklistTemplate(code=code, version=version, domain=head[2], name_zh=head[0], name_en=head[1],
                                     status="published", published_at=utcnow())
            tmpl.items = [ChecklistItem(code=i[0], position=pos, domain=i[1], text_zh=i[2], text_en=i[3],
                                        legal_basis=i[4]) for pos, i in enumerate(items, start=1)]
            db.session.add(tmpl)
    if run.apply:
        db.session.flush()
    else:
        run.flush_report()


PROCESSORS = {"enterprises": _enterprises, "parks": _parks, "people": _people, "catalogue": _catalogue,
              "checklists": _checklists}


# --- dry run and apply ---------------------------------------------------------------------------------


def _job(job_id: int, lock: bool = False) -> ImportJob:
    if not 0 < job_id <= MAX_ID:
        raise NotFound(f"no import with id {job_id}")
    stmt = sa.select(ImportJob).where(ImportJob.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    job = db.session.execute(stmt).scalar()
    if job is None:
        raise NotFound(f"no import with id {job_id}")
    return job


def dry_run(job_id: int, on_progress: Callable | None = None) -> ImportJob:
    """Check every row against the database without changing it; store the report."""
    job = _job(job_id)
    db.session.execute(sa.delete(ImportRow).where(ImportRow.job_id == job.id))
    forget_keys(job.id)
    db.session.commit()
    run = Run(job, apply=False, report=True, on_progress=on_progress)
    _write_progress(job.id, "check", 0, None)
    try:
        PROCESSORS[job.kind](run, _path(job), _ext(job.stored_name))
    except FileProblem as e:
        db.session.rollback()
        run.file_issues.append(e.issue)
    except ServiceError:
        raise
    except Exception as e:  # noqa: BLE001 - a file no reader expected is the uploader's to fix, never a 500
        log.warning("import %s: the file cannot be read", job_id, exc_info=True)
        db.session.rollback()
        run.file_issues.append(rules.issue(None, "bad_file", why=f"{type(e).__name__}: {str(e)[:200]}"))
    forget_keys(job_id)
    job = _job(job_id)
    job.counts = run.counts
    job.file_issues = run.file_issues
    job.status = "checked"
    job.checked_at = utcnow()
    db.session.commit()
    _write_progress(job.id, "check", run.counts["rows"], run.counts["rows"])
    return job


def _fatal(job: ImportJob) -> list[dict]:
    return [i for i in job.file_issues or [] if i["severity"] == "error"]


def apply(job_id: int, actor_id: int | None, on_progress: Callable | None = None) -> ImportJob:
    """Write every row the dry run accepted, in one transaction with one audit entry, or nothing."""
    job = _job(job_id, lock=True)
    if job.status == "applied":
        raise Conflict(f"import {job.id} was applied at {job.applied_at.isoformat()}; upload the file again to "
                       "import it again (every row will be unchanged unless the data changed)")
    if job.status != "checked":
        raise Conflict(f"import {job.id} is {job.status}: apply it after its dry run has finished")
    if _fatal(job):
        raise ServiceError("the file cannot be read (see the report's file issues); nothing to apply",
                           ("file",))
    path = _path(job)
    if not path.exists() or _sha256(path) != job.sha256:
        raise Conflict("the stored file is gone or changed since the dry run; upload it again")
    expected = dict(job.counts)
    forget_keys(job.id)  # whatever a dry run that failed left
    run = Run(job, apply=True, report=False, on_progress=on_progress)
    _write_progress(job.id, "apply", 0, expected.get("rows"))
    try:
        PROCESSORS[job.kind](run, path, _ext(job.stored_name))
    except FileProblem as e:  # the same file read before: only if something outside changed
        db.session.rollback()
        raise Conflict(f"the file cannot be read again: {e}") from None
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("another change saved the same code or name while this import ran; run the dry run again"
                       ) from None
    compared = ("create", "update", "unchanged", "refused")
    if any(run.counts[k] != expected.get(k) for k in compared):
        db.session.rollback()
        now = {k: run.counts[k] for k in compared}
        then = {k: expected.get(k) for k in compared}
        raise Conflict(f"the database changed since the dry run (then {then}, now {now}); nothing was written: "
                       "run the dry run again", dry_run=then, now=now)
    forget_keys(job_id)
    job = db.session.get(ImportJob, job_id) or _job(job_id)
    job.status = "applied"
    job.applied_at = utcnow()
    job.applied_by = actor_id
    audit.record(f"import.apply.{job.kind}", "import", job.id,
                 {"filename": job.filename, "sha256": job.sha256, "crs": (job.options or {}).get("crs"),
                  **{k: run.counts[k] for k in compared}}, actor_id)
    db.session.commit()
    _write_progress(job.id, "apply", run.counts["rows"], run.counts["rows"])
    log.info("import %s (%s) applied: %s", job.id, job.kind, run.counts)
    return job


# --- running in the background for large files ----------------------------------------------------------

_running: set[int] = set()
_running_lock = threading.Lock()


def start_in_background(app, job_id: int, phase: str, actor_id: int | None) -> None:
    """Run the dry run or the apply in a thread of this process; GET reads status and progress."""
    with _running_lock:
        if job_id in _running:
            raise Conflict(f"import {job_id} is already running")
        _running.add(job_id)

    def work():
        from ..db import write_intent

        try:
            with app.app_context():
                write_intent.set(True)
                try:
                    if phase == "check":
                        dry_run(job_id)
                    else:
                        apply(job_id, actor_id)
                except ServiceError as e:
                    db.session.rollback()
                    _record_failure(job_id, phase, str(e))
                except Exception as e:  # noqa: BLE001 - the thread must leave a trace
                    log.exception("import %s failed", job_id)
                    db.session.rollback()
                    _record_failure(job_id, phase, f"{type(e).__name__}: {e}")
                finally:
                    db.session.remove()
        finally:
            with _running_lock:
                _running.discard(job_id)

    threading.Thread(target=work, name=f"import-{job_id}", daemon=True).start()


def _record_failure(job_id: int, phase: str, message: str) -> None:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        return
    job.error = message[:2000]
    job.status = "failed" if phase == "check" else "checked"
    db.session.commit()


def is_running(job_id: int) -> bool:
    with _running_lock:
        return job_id in _running


# --- reading the report -------------------------------------------------------------------------------


def describe(job: ImportJob, action: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    stmt = sa.select(ImportRow).where(ImportRow.job_id == job.id)
    if action == "issues":
        stmt = stmt.where(sa.or_(ImportRow.action == "refused", ImportRow.action == "update", ImportRow.warnings > 0))
    elif action:
        stmt = stmt.where(ImportRow.action == action)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(ImportRow.row_no, ImportRow.id).limit(limit).offset(offset)).scalars()
    progress = read_progress(job.id)
    running = job.status in ("checking",) or is_running(job.id)
    allowed = []
    if job.status == "checked" and not _fatal(job) and not is_running(job.id):
        allowed.append("apply")
    return {
        "id": job.id, "kind": job.kind, "filename": job.filename, "size": job.size, "sha256": job.sha256,
        "crs": (job.options or {}).get("crs", "wgs84"), "reference": (job.options or {}).get("reference"),
        "status": "applying" if (job.status == "checked" and is_running(job.id)) else job.status,
        "running": running, "progress": progress, "counts": job.counts or {}, "file_issues": job.file_issues or [],
        "error": job.error or None, "created_at": job.created_at, "checked_at": job.checked_at,
        "applied_at": job.applied_at, "allowed_next": allowed,
        "rows": {"total": total, "offset": offset, "limit": limit, "action": action,
                 "items": [{"row": r.row_no, "action": r.action, "key": r.key, "label": r.label, "issues": r.issues,
                            "changes": r.changes} for r in rows]},
        "listed_creates_limit": LISTED_CREATES,
    }


def read(job_id: int, action: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    return describe(_job(job_id), action, limit, offset)


def recent(limit: int = 20) -> list[dict]:
    jobs = db.session.execute(sa.select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)).scalars()
    return [{"id": j.id, "kind": j.kind, "filename": j.filename, "status": j.status, "counts": j.counts or {},
             "created_at": j.created_at, "applied_at": j.applied_at} for j in jobs]

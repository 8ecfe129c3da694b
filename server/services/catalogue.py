"""The violation catalogue: reading catalogue CSV files and loading their rows as
ViolationType versions. Used by the demo city now and by an admin's import later.

The CSV has the columns of `server/data/catalogue.csv` (see `COLUMNS`); two optional
columns are understood as well:
- `effective_from` (YYYY-MM-DD): the day the row takes force. Without it, the row takes
  the date of the statute text it cites (the first "(YYYY-MM-DD)" in `source`, which names
  the text the articles were read in), or `default_effective_from` when `source` names none.
- `list_conditions`: the tolerance list's conditions. Without it they are derived from
  `source` (the condition notes in parentheses after each list) for tolerated rows.
- `correction_unit`: `working_days` (the default) or `calendar_days`.

Rows are versions: loading a row whose (code, effective_from) exists unchanged does
nothing; with other content it is refused (a changed rule is a new version with a later
effective_from, never an overwrite of the one findings already used). A new version ends
the one before it the day before it takes force.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from ..extensions import db
from ..models import ViolationType
from ..models.vocab import CORRECTION_UNITS, DOMAINS, PENALTY_TRIGGERS, TOLERANCE_TYPES
from . import audit, txmemo

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
BUNDLED_CSV = DATA_DIR / "catalogue.csv"
DEFAULT_EFFECTIVE_FROM = dt.date(2021, 1, 1)

COLUMNS = (
    "code", "domain", "name_zh", "name_en", "violated_provision", "penalty_provision", "penalty_trigger",
    "tolerance_type", "correction_days", "penalty_range_zh", "source",
)
OPTIONAL_COLUMNS = ("effective_from", "list_conditions", "correction_unit")
REQUIRED_TEXT = ("code", "domain", "name_zh", "name_en", "violated_provision", "penalty_provision",
                 "penalty_trigger", "tolerance_type", "correction_days")
CODE_RE = re.compile(r"^[A-Z]+(?:-[A-Z0-9]+)+$")
_SOURCE_DATE_RE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)")
_TRAILING_NOTE_RE = re.compile(r"\(([^()]*)\)\s*$")
# Parenthesised notes that say where a list was read, not what it requires.
_NOT_CONDITIONS = ("mirror", "secondary", "default")

# What 行政处罚法 (2021) art. 33 para. 1 requires for each tolerance type.
BASE_CONDITIONS = {
    "minor_no_harm": "违法行为轻微并及时改正，没有造成危害后果（《行政处罚法》第三十三条第一款）",
    "first_offense": "初次违法且危害后果轻微并及时改正（《行政处罚法》第三十三条第一款）",
}
# The fields that make two versions "the same row".
_CONTENT_FIELDS = (
    "domain", "name_zh", "name_en", "violated_provision", "penalty_provision", "penalty_trigger", "tolerance_type",
    "list_conditions", "correction_days", "correction_unit", "penalty_range_zh", "source",
)


class CatalogueError(ValueError):
    """A catalogue file or row that cannot be loaded; `errors` maps "line N" to field messages."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


def source_date(source: str) -> dt.date | None:
    """The date of the first statute text named in `source` ("...安全生产法(2021-06-10).md")."""
    m = _SOURCE_DATE_RE.search(source or "")
    if not m:
        return None
    try:
        return dt.date.fromisoformat(m.group(1))
    except ValueError:
        return None


def list_conditions(tolerance_type: str, source: str) -> str:
    """The conditions a tolerated row's list sets: art. 33's own, then each list's note.

    `source` is "; "-separated: the statute file, then each list ("name url 第N项(condition)").
    """
    if tolerance_type not in BASE_CONDITIONS:
        return ""
    parts = [BASE_CONDITIONS[tolerance_type]]
    for piece in (source or "").split("; "):
        piece = piece.strip()
        if not piece or piece.startswith("LawRefBook/") or piece.startswith("correction_days"):
            continue
        m = _TRAILING_NOTE_RE.search(piece)
        if not m:
            continue
        note = m.group(1).strip()
        if not note or any(word in note for word in _NOT_CONDITIONS):
            continue
        list_name = piece.split(" ", 1)[0].split("(", 1)[0]
        parts.append(f"{list_name}：{note}")
    return "；".join(parts)


def parse_rows(rows: Iterable[dict], default_effective_from: dt.date = DEFAULT_EFFECTIVE_FROM,
               first_line: int = 2) -> list[dict]:
    """Validate raw CSV rows (dicts of strings) and answer them typed, ready to load.

    Every row is checked before any is answered, so one error report lists them all.
    """
    clean, errors, seen = [], {}, {}
    for line, raw in enumerate(rows, start=first_line):
        row_errors: dict[str, list[str]] = {}
        raw = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}

        def bad(field: str, message: str) -> None:
            row_errors.setdefault(field, []).append(message)

        for field in REQUIRED_TEXT:
            if not raw.get(field):
                bad(field, "required")
        code = raw.get("code", "")
        if code and (not CODE_RE.match(code) or len(code) > 40):
            bad("code", "a code is capital letters and digits in dash-separated parts, at most 40 characters "
                        "(e.g. SAF-EXIT-BLOCKED)")
        for field, allowed in (("domain", DOMAINS), ("penalty_trigger", PENALTY_TRIGGERS),
                               ("tolerance_type", TOLERANCE_TYPES)):
            if raw.get(field) and raw[field] not in allowed:
                bad(field, f"{raw[field]!r} is not one of {', '.join(allowed)}")
        unit = raw.get("correction_unit") or "working_days"
        if unit not in CORRECTION_UNITS:
            bad("correction_unit", f"{unit!r} is not one of {', '.join(CORRECTION_UNITS)}")
        days = None
        if raw.get("correction_days"):
            try:
                days = int(raw["correction_days"])
                if days < 0:
                    raise ValueError
            except ValueError:
                bad("correction_days", "a whole number of days, 0 or more (0: only correction on the spot)")
        effective_from = None
        if raw.get("effective_from"):
            try:
                effective_from = dt.date.fromisoformat(raw["effective_from"])
            except ValueError:
                bad("effective_from", "a date as YYYY-MM-DD")
        else:
            effective_from = source_date(raw.get("source", "")) or default_effective_from
        if code and effective_from and not row_errors:
            key = (code, effective_from)
            if key in seen:
                bad("code", f"{code} effective from {effective_from} is also on line {seen[key]}")
            seen[key] = line
        if row_errors:
            errors[f"line {line}"] = row_errors
            continue
        conditions = raw.get("list_conditions") or list_conditions(raw["tolerance_type"], raw.get("source", ""))
        clean.append({
            "code": code, "domain": raw["domain"], "name_zh": raw["name_zh"], "name_en": raw["name_en"],
            "violated_provision": raw["violated_provision"], "penalty_provision": raw["penalty_provision"],
            "penalty_trigger": raw["penalty_trigger"], "tolerance_type": raw["tolerance_type"],
            "list_conditions": conditions, "correction_days": days, "correction_unit": unit,
            "penalty_range_zh": raw.get("penalty_range_zh", ""), "source": raw.get("source", ""),
            "effective_from": effective_from,
        })
    if errors:
        raise CatalogueError(f"{len(errors)} catalogue row(s) cannot be loaded; nothing was loaded", errors)
    return clean


def read_csv(source: str | Path | io.TextIOBase, default_effective_from: dt.date = DEFAULT_EFFECTIVE_FROM) -> list[dict]:
    """Read and validate a catalogue CSV (a path, or an open text stream)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8-sig", newline="") as fh:
            return read_csv(fh, default_effective_from)
    reader = csv.DictReader(source)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS and c not in OPTIONAL_COLUMNS]
    if missing or unknown:
        errors = {}
        if missing:
            errors["missing"] = missing
        if unknown:
            errors["unknown"] = unknown
        raise CatalogueError("the header row does not match the catalogue's columns "
                             f"({', '.join(COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)})", {"header": errors})
    return parse_rows(reader, default_effective_from)


def _same(existing: ViolationType, row: dict) -> bool:
    return all(getattr(existing, f) == row[f] for f in _CONTENT_FIELDS)


def load_rows(rows: list[dict], actor_id: int | None = None, record_audit: bool = True) -> dict:
    """Store parsed rows as ViolationType versions inside the caller's transaction.

    Answers counts: created, unchanged, and earlier versions ended by a newer one.
    """
    existing: dict[str, list[ViolationType]] = {}
    for vt in db.session.execute(sa.select(ViolationType).order_by(ViolationType.effective_from)).scalars():
        existing.setdefault(vt.code, []).append(vt)
    conflicts = {}
    for row in rows:
        for vt in existing.get(row["code"], []):
            if vt.effective_from == row["effective_from"] and not _same(vt, row):
                conflicts[row["code"]] = [
                    f"a version effective from {row['effective_from']} exists with other content; "
                    "load the change as a new version with a later effective_from"]
    if conflicts:
        raise CatalogueError(f"{len(conflicts)} row(s) would overwrite a stored version; nothing was loaded",
                             conflicts)
    created, unchanged, ended = [], 0, 0
    for row in rows:
        versions = existing.setdefault(row["code"], [])
        if any(vt.effective_from == row["effective_from"] for vt in versions):
            unchanged += 1
            continue
        vt = ViolationType(**row)
        later = [v for v in versions if v.effective_from > vt.effective_from]
        if later:
            vt.effective_to = min(v.effective_from for v in later) - dt.timedelta(days=1)
        for v in versions:
            if v.effective_from < vt.effective_from and (v.effective_to is None or v.effective_to >= vt.effective_from):
                v.effective_to = vt.effective_from - dt.timedelta(days=1)
                ended += 1
        versions.append(vt)
        versions.sort(key=lambda v: v.effective_from)
        db.session.add(vt)
        created.append(vt)
    db.session.flush()
    summary = {"created": len(created), "unchanged": unchanged, "ended": ended}
    if record_audit and (created or ended):
        audit.record("catalogue.import", "catalogue", "violation_types",
                     {**summary, "codes": sorted({vt.code for vt in created})}, actor_id)
    return summary


def load_bundled(actor_id: int | None = None, record_audit: bool = True) -> dict:
    """Load the catalogue shipped in server/data/catalogue.csv."""
    return load_rows(read_csv(BUNDLED_CSV), actor_id, record_audit)


def in_force(code: str, day: dt.date) -> ViolationType | None:
    """The version of a catalogue row in force on a day (a finding uses its discovery date).
    Read once per transaction and (code, day) (services/txmemo.py; loading rows forgets it)."""
    return txmemo.remember((ViolationType.__tablename__,), ("catalogue.in_force", code, day),
                           lambda: _in_force(code, day))


def prefetch_in_force(pairs) -> None:
    """Read the rows in force for many (code, day) pairs with one query into the transaction's
    memo, where in_force() then finds them: the same rows as one query per pair (the version
    with the latest effective_from whose dates hold the day; (code, effective_from) is unique)."""
    tables = (ViolationType.__tablename__,)
    missing = {(code, day) for code, day in pairs if not txmemo.known(tables, ("catalogue.in_force", code, day))}
    if not missing:
        return
    lo, hi = min(day for _c, day in missing), max(day for _c, day in missing)
    found: dict[str, list[ViolationType]] = {}
    for vt in db.session.execute(sa.select(ViolationType).where(
            ViolationType.code.in_(sorted({code for code, _d in missing})), ViolationType.effective_from <= hi,
            sa.or_(ViolationType.effective_to.is_(None), ViolationType.effective_to >= lo))).scalars():
        found.setdefault(vt.code, []).append(vt)
    for code, day in missing:
        held = [vt for vt in found.get(code, ()) if vt.effective_from <= day
                and (vt.effective_to is None or vt.effective_to >= day)]
        txmemo.keep(tables, ("catalogue.in_force", code, day),
                    max(held, key=lambda vt: vt.effective_from) if held else None)


def _in_force(code: str, day: dt.date) -> ViolationType | None:
    return db.session.execute(
        sa.select(ViolationType).where(
            ViolationType.code == code, ViolationType.effective_from <= day,
            sa.or_(ViolationType.effective_to.is_(None), ViolationType.effective_to >= day),
        ).order_by(ViolationType.effective_from.desc()).limit(1)
    ).scalar()


def rows_in_force(day: dt.date, domain: str | None = None, q: str | None = None) -> dict:
    """Every catalogue row in force on a day (the admin's catalogue screen; a finding uses the
    row in force on its discovery date), with how many versions each code has."""
    query = sa.select(ViolationType).where(
        ViolationType.effective_from <= day,
        sa.or_(ViolationType.effective_to.is_(None), ViolationType.effective_to >= day),
    ).order_by(ViolationType.code)
    if domain:
        query = query.where(ViolationType.domain == domain)
    if q:
        like = f"%{q}%"
        query = query.where(sa.or_(ViolationType.code.ilike(like), ViolationType.name_zh.ilike(like),
                                   ViolationType.name_en.ilike(like), ViolationType.violated_provision.ilike(like)))
    versions = dict(db.session.execute(sa.select(ViolationType.code, sa.func.count(ViolationType.id))
                                       .group_by(ViolationType.code)).all())
    rows = []
    for vt in db.session.execute(query).scalars():
        rows.append({f: getattr(vt, f) for f in (
            "id", "code", "domain", "name_zh", "name_en", "violated_provision", "penalty_provision",
            "penalty_trigger", "tolerance_type", "list_conditions", "correction_days", "correction_unit",
            "penalty_range_zh", "source", "effective_from", "effective_to")} | {"versions": versions.get(vt.code, 1)})
    return {"on": day, "items": rows}

"""Sync: storing the phone's visit records exactly once (DESIGN.md "How data flows",
"The core API contract", "What nothing lost means").

A batch is one transaction, and a record is stored whole or not at all: a bad record never
blocks the others. The records are checked one by one, in order, before anything of them is
written (their findings classified as if each record had been stored before the next: see
findings.Intake); the accepted ones are then inserted together, a statement per table, in one
savepoint. Should an insert fail (another request stored one of the ids meanwhile), that
savepoint is rolled back and each record is stored again on its own, in its own savepoint. A
re-inspection (a record naming an order) goes through the lifecycle service, alone. The
transaction commits before the answer is built, so an acknowledged record is durable. Per
record:

- `created`: stored now, with what the server assigned (tiers, the on-site proof, the
  clock check) in its receipt, which is kept with the visit;
- `duplicate`: a record with this id and the same canonical content is stored: nothing
  changes and the receipt kept when it was created is answered again, word for word;
- `conflict`: the id is stored with other content (or one of its findings' ids belongs to
  another visit): nothing is overwritten, the new content is kept as a SyncConflict row for
  a supervisor (once per distinct content) and the answer names the stored record;
- `rejected`: the record breaks a rule; nothing of it is stored, the errors say why.

The canonical content of a record is its JSON as the schema reads it (ids in their
canonical spelling, the defaults filled in, times as the phone gave them, with their
offsets), keys sorted (server/domain/canonical.py). Only what the phone sent is in it:
the server's own values (receive time, tiers, on-site proof) live in the visit's columns
and its receipt, never in the stored payload, so a replay hashes the same.

A visit *may lead to enforcement* ("enforcement-capable") when it is a re-inspection (a
failed one escalates the finding to enforcement, rule E4), a case visit (evidence for an
administrative case), or when any of its findings names a catalogue row (a breach: its
tier may be enforcement now, or later by escalation). Only a visit whose findings are all
advisory, or that has none, cannot. On an enforcement-capable visit every officer who is
not auxiliary staff must hold a certificate valid on the visit's day, and at least two of
them, with distinct certificate numbers, must (DOMAIN.md section 7); auxiliary staff are
recorded and never counted.

The device's clock is compared with the server's receive time (finished_at against the
batch's receive time); beyond the policy's `device_clock_tolerance_h` the visit is flagged
and its day (the certificates' validity, the catalogue row in force, the findings' discovery
time) is taken from the receive time instead.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app
from geoalchemy2.shape import from_shape, to_shape
from marshmallow import ValidationError
from shapely.geometry import Point
from sqlalchemy.exc import IntegrityError

from schemas.common import QuickLoad
from schemas.sync import VisitRecordSchema

from ..config import json_body_limit
from ..domain import geofence
from ..domain.canonical import content_hash
from ..domain.certificates import normalised_number
from ..domain.policy import default_policy
from ..domain.workdays import local_date
from ..extensions import db
from ..models import (
    CheckResult, ChecklistItem, ChecklistTemplate, Finding, Order, Photo, Plan, PlanStop, PolicyVersion, Site,
    SyncConflict, User, Visit, visit_officers,
)
from ..models.types import utcnow
from . import audit, catalogue
from .findings import Intake, StoredFinding
from .errors import ServiceError

# Defaults of the limits a deployment may change in its config (FIELDCHECK_* keys set in
# app.config); GET /api/me/today advertises the values in force.
DEFAULT_MAX_VISITS_PER_BATCH = 100
DEFAULT_MAX_FINDINGS_PER_VISIT = 50
DEFAULT_MAX_RESULTS_PER_VISIT = 300
DEFAULT_MAX_PHOTOS_PER_VISIT = 200
ENFORCEMENT_KINDS = ("reinspection", "case")

_record_schema = VisitRecordSchema()
# A valid record read without marshmallow's per-load bookkeeping; anything else (an error
# included) is read by the schema itself, so the answers are the schema's (schemas/common.py).
_quick_record = QuickLoad(_record_schema)


def limits() -> dict:
    """The sync limits in force (the app's config, else the defaults)."""
    cfg = current_app.config
    return {
        "max_visits_per_batch": int(cfg.get("SYNC_MAX_VISITS_PER_BATCH", DEFAULT_MAX_VISITS_PER_BATCH)),
        "max_findings_per_visit": int(cfg.get("SYNC_MAX_FINDINGS_PER_VISIT", DEFAULT_MAX_FINDINGS_PER_VISIT)),
        "max_results_per_visit": int(cfg.get("SYNC_MAX_RESULTS_PER_VISIT", DEFAULT_MAX_RESULTS_PER_VISIT)),
        "max_photos_per_visit": int(cfg.get("SYNC_MAX_PHOTOS_PER_VISIT", DEFAULT_MAX_PHOTOS_PER_VISIT)),
        "max_body_bytes": json_body_limit(cfg),  # a sync batch is JSON
    }


def policy_in_force() -> tuple[int | None, dict]:
    """The policy version in force and its values, read without writing: before any version
    is stored, the defaults, as version None. (policy.current() would store version 1 then,
    and two first requests at once would both try.)"""
    row = db.session.execute(sa.select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)).scalar()
    if row is None:
        return None, default_policy()
    return row.version, {**default_policy(), **row.values}


def enforcement_capable(record: dict) -> bool:
    """Whether the visit may lead to enforcement (see the module's docstring)."""
    return record["kind"] in ENFORCEMENT_KINDS or any(f.get("violation_code") for f in record["findings"])


def record_hash(payload: dict) -> str:
    """SHA-256 of the record's canonical JSON: equal hashes, same record."""
    return content_hash(payload)


# --- rejections --------------------------------------------------------------------------


class Rejected(Exception):
    """A record that breaks a rule: its field errors, and the first one as the message."""

    def __init__(self, errors: dict, message: str):
        super().__init__(message)
        self.errors = errors
        self.message = message


class Problems:
    """Field errors gathered while checking one record, keyed by their path in it."""

    def __init__(self) -> None:
        self.errors: dict = {}
        self.first: str | None = None

    def add(self, path: tuple, message: str) -> None:
        node = self.errors
        for key in path[:-1]:
            node = node.setdefault(str(key), {})
        node.setdefault(str(path[-1]), []).append(message)
        if self.first is None:
            where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")
            self.first = f"{where}: {message}"

    def check(self) -> None:
        if self.errors:
            raise Rejected(self.errors, self.first or "the record breaks a rule")


def _first_message(messages, path=()) -> str:
    if isinstance(messages, dict):
        for key, value in messages.items():
            found = _first_message(value, path + (key,))
            if found:
                return found
        return ""
    if isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        where = ""
        for p in path:
            where += f"[{p}]" if isinstance(p, int) or (isinstance(p, str) and p.isdigit()) else (f".{p}" if where else str(p))
        return f"{where}: {messages[0]}" if where else messages[0]
    if isinstance(messages, list):
        for m in messages:
            found = _first_message(m, path)
            if found:
                return found
    return ""


class FindingClash(Exception):
    """A finding id of the record is already stored, in another visit."""

    def __init__(self, finding_id: uuid.UUID, visit_id: uuid.UUID):
        super().__init__(f"finding {finding_id} is already stored in visit {visit_id}")
        self.finding_id = finding_id
        self.visit_id = visit_id


# --- the batch ---------------------------------------------------------------------------


@dataclasses.dataclass
class Batch:
    user: User
    device_id: str
    received_at: dt.datetime
    policy: dict
    limits: dict
    scope: set[int]
    sites: dict[int, Site | None] = dataclasses.field(default_factory=dict)
    users: dict[int, User | None] = dataclasses.field(default_factory=dict)
    rows: dict[tuple[str, dt.date], Any] = dataclasses.field(default_factory=dict)
    items: set[str] | None = None
    # What the batch's records name, read once for the whole batch and kept up to date as
    # records are stored: stored visits (content hash, receipt), the visit of each stored
    # finding id, and the stored photos.
    stored: dict[uuid.UUID, tuple[str, dict | None]] = dataclasses.field(default_factory=dict)
    finding_visit: dict[uuid.UUID, uuid.UUID] = dataclasses.field(default_factory=dict)
    photos: dict[uuid.UUID, Photo | PhotoState] = dataclasses.field(default_factory=dict)
    stops: dict[int, uuid.UUID] = dataclasses.field(default_factory=dict)  # plan stops visited in this batch
    points: dict[int, Any] = dataclasses.field(default_factory=dict)  # the sites' points (shapely)
    # The published checklist versions (id, published_at, item codes), newest version first: read
    # once per batch for the visits that do not name theirs.
    checklists: list[tuple[int, dt.datetime | None, frozenset[str]]] | None = None

    def checklist_versions(self) -> list[tuple[int, dt.datetime | None, frozenset[str]]]:
        if self.checklists is None:
            rows = db.session.execute(
                sa.select(ChecklistTemplate.id, ChecklistTemplate.version, ChecklistTemplate.published_at,
                          ChecklistItem.code)
                .join(ChecklistItem, ChecklistItem.template_id == ChecklistTemplate.id)
                .where(ChecklistTemplate.status != "draft")).all()
            found: dict[int, tuple[int, dt.datetime | None, set[str]]] = {}
            for tid, version, published_at, code in rows:
                found.setdefault(tid, (version, published_at, set()))[2].add(code)
            self.checklists = [(tid, published_at, frozenset(codes)) for tid, (version, published_at, codes)
                               in sorted(found.items(), key=lambda kv: (-kv[1][0], -kv[0]))]
        return self.checklists

    def save(self) -> tuple:
        """What a run may change in what the batch knows, to restore when the run is rolled back."""
        return dict(self.stored), dict(self.finding_visit), dict(self.photos), dict(self.stops)

    def restore(self, saved: tuple) -> None:
        self.stored, self.finding_visit, self.photos, self.stops = (dict(x) for x in saved)

    def prefetch(self, records: list[dict]) -> None:
        """One query per kind for the whole batch instead of one per record."""
        if not records:
            return
        self.look_up([r["id"] for r in records],
                     [f["id"] for r in records for f in r["findings"]],
                     [pid for r in records for pid in _photo_ids(r)])
        site_ids = {r["site_id"] for r in records} - set(self.sites)
        if site_ids:
            found = {s.id: s for s in db.session.execute(sa.select(Site).where(Site.id.in_(site_ids))).scalars()}
            self.sites.update({i: found.get(i) for i in site_ids})
        self.officers(sorted({i for r in records for i in r["officer_ids"]}))
        # The catalogue rows the findings name, on their visits' days: one query (kept in the
        # transaction's memo, where catalogue.in_force finds them).
        catalogue.prefetch_in_force({(f["violation_code"], local_date(_when(self, r), self.timezone))
                                     for r in records for f in r["findings"] if f["violation_code"] is not None})

    def look_up(self, visit_ids, finding_ids, photo_ids) -> None:
        if visit_ids:
            self.stored.update((vid, (digest, receipt)) for vid, digest, receipt in db.session.execute(
                sa.select(Visit.id, Visit.content_hash, Visit.receipt).where(Visit.id.in_(visit_ids))).all())
        if finding_ids:
            self.finding_visit.update(db.session.execute(
                sa.select(Finding.id, Finding.visit_id).where(Finding.id.in_(finding_ids))).all())
        if photo_ids:
            self.photos.update((p.id, p) for p in db.session.execute(
                sa.select(Photo).where(Photo.id.in_(photo_ids))).scalars())

    @property
    def timezone(self) -> str:
        return self.policy["timezone"]

    def site(self, site_id: int) -> Site | None:
        if site_id not in self.sites:
            self.sites[site_id] = db.session.get(Site, site_id)
        return self.sites[site_id]

    def point(self, site: Site):
        """The site's point (its geometry read once per batch)."""
        if site.id not in self.points:
            self.points[site.id] = to_shape(site.geom)
        return self.points[site.id]

    def officers(self, ids: list[int]) -> dict[int, User]:
        missing = [i for i in ids if i not in self.users]
        if missing:
            found = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(missing))).scalars()}
            for i in missing:
                self.users[i] = found.get(i)
        return {i: self.users[i] for i in ids if self.users[i] is not None}

    def row(self, code: str, day: dt.date):
        key = (code, day)
        if key not in self.rows:
            self.rows[key] = catalogue.in_force(code, day)
        return self.rows[key]

    def item_codes(self) -> set[str]:
        if self.items is None:
            self.items = set(db.session.execute(sa.select(ChecklistItem.code).distinct()).scalars())
        return self.items


def sync_batch(device_id: str, raw_records: list, user: User) -> dict:
    """Store a batch of visit records; answer one result per record, after the commit."""
    lim = limits()
    if len(raw_records) > lim["max_visits_per_batch"]:
        raise ServiceError(
            f"a batch holds at most {lim['max_visits_per_batch']} visits and this one has {len(raw_records)}: "
            "send the rest in further batches", ("visits",), status=413,
            max_visits_per_batch=lim["max_visits_per_batch"], visits=len(raw_records))
    batch = Batch(user=user, device_id=device_id, received_at=utcnow(), policy=policy_in_force()[1],
                  limits=lim, scope=set(user.park_ids))
    parsed = [_parse(index, raw) for index, raw in enumerate(raw_records)]
    batch.prefetch([p[1] for p in parsed if p[1] is not None])
    results = [answer for run in _runs(parsed) for answer in _store_run(batch, run)]
    db.session.commit()  # durable before it is acknowledged
    counts = {status: 0 for status in ("created", "duplicate", "conflict", "rejected")}
    for r in results:
        counts[r["status"]] += 1
    return {"received_at": batch.received_at.isoformat(), "counts": counts, "results": results}


def _parse(index: int, raw: Any) -> tuple[dict, dict | None, dict | None]:
    """(the answer's head, the record as the schema reads it, or the rejection's answer)."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    head = {"index": index, "id": raw_id if isinstance(raw_id, str) else None}
    try:
        record = _quick_record(raw)
        if record is None:
            record = _record_schema.load(raw)
    except ValidationError as e:
        return head, None, {**head, "status": "rejected",
                            "message": "the record is not valid: " + _first_message(e.messages), "errors": e.messages}
    head["id"] = str(record["id"])
    return head, record, None


def _one(batch: Batch, index: int, raw: Any) -> dict:
    """One raw record in the caller's transaction, not committed (the demo city's history
    stores its visits this way, each with its own receive time)."""
    head, rec, rejected = _parse(index, raw)
    if rec is not None:
        batch.prefetch([rec])
    (answer,) = _store_run(batch, [(head, rec, rejected)])
    return answer


def _runs(parsed: list) -> list[list]:
    """The batch in runs stored together: consecutive records, except that a re-inspection
    (a record naming an order, which the lifecycle service stores) is a run of its own."""
    runs, run = [], []
    for p in parsed:
        if p[1] is not None and p[1]["order_id"] is not None:
            if run:
                runs.append(run)
            runs.append([p])
            run = []
        else:
            run.append(p)
    if run:
        runs.append(run)
    return runs


@dataclasses.dataclass
class Ready:
    """A record that passed every check, its rows made and waiting for the run's inserts."""

    rec: dict
    visit: dict  # the visits row
    officers: list[dict]
    results: list[dict]
    photos: list[tuple[uuid.UUID, str, bool]]  # the visit's own photos: (id, purpose, stored before)
    stop: PlanStop | None
    order: Order | None
    reinspection_at: dt.datetime
    receipt: dict


class _RunFailed(Exception):
    """A run's inserts failed (another request stored one of its ids meanwhile): the run is
    stored again record by record, each in its own savepoint."""


def _store_run(batch: Batch, run: list, retry: bool = True) -> list[dict]:
    """Store a run of records in one savepoint: every record is checked (its findings
    classified, its audit entries appended) in order, then the created ones are inserted
    together, a statement per table. When an insert fails, the run's savepoint is rolled back
    and each record is stored again on its own, so one record's failure touches no other."""
    saved = batch.save()
    answers: list[dict] = []
    try:
        with db.session.begin_nested():
            items = [(head, rec, rejected, *_digest(rec)) for head, rec, rejected in run]
            intake = Intake([(_VisitRef(rec["id"], rec["site_id"], rec["started_at"]), _finding_data(f, _when(batch, rec)))
                             for _h, rec, _r, _p, _d in items if rec is not None and rec["id"] not in batch.stored
                             for f in rec["findings"]])
            ready: list[Ready] = []
            # The run's audit entries (one per visit, one per finding) are inserted together at
            # the end of the checks (audit.deferred; on SQLite).
            with audit.deferred():
                for head, rec, rejected, payload, digest in items:
                    answers.append(_check(batch, intake, ready, head, rec, rejected, payload, digest))
            try:
                _write(batch, intake, ready)
            except IntegrityError as e:
                raise _RunFailed() from e
    except _RunFailed as failed:
        batch.restore(saved)
        if len(run) > 1:
            answers = []
            for p in run:
                if p[1] is not None:  # what the batch read of it may be out of date: read it again
                    batch.look_up([p[1]["id"]], [f["id"] for f in p[1]["findings"]], _photo_ids(p[1]))
                answers += _store_run(batch, [p])
            return answers
        if not retry:
            raise failed.__cause__ or failed
        # Another request stored the same id between the batch's look-up and this insert (two
        # tabs, a retry racing the first try): look again, once, and answer as a replay.
        rec = run[0][1]
        batch.look_up([rec["id"]], [f["id"] for f in rec["findings"]], _photo_ids(rec))
        return _store_run(batch, run, retry=False)
    except Rejected as r:  # the lifecycle service refused a re-inspection: the run is that record alone
        batch.restore(saved)
        return [{**run[0][0], "status": "rejected", "message": r.message, "errors": r.errors}]
    return answers


def _digest(rec: dict | None) -> tuple[dict | None, str | None]:
    if rec is None:
        return None, None
    payload = canonical_record(rec)
    return payload, record_hash(payload)


def _when(batch: Batch, rec: dict) -> dt.datetime:
    """The visit's trusted time: the device's start, or the receive time when its clock is off."""
    return batch.received_at if _clock(batch, rec)[1] else rec["started_at"]


def _clock(batch: Batch, rec: dict) -> tuple[float, bool]:
    skew = (batch.received_at - rec["finished_at"]).total_seconds()
    return skew, abs(skew) > float(batch.policy["device_clock_tolerance_h"]) * 3600


def _check(batch: Batch, intake: Intake, ready: list, head: dict, rec: dict | None, rejected: dict | None,
           payload: dict | None, digest: str | None) -> dict:
    """One record's answer; a created one is added to `ready` (and to what the batch knows)."""
    if rec is None:
        return rejected
    if rec["id"] in batch.stored:
        return {**head, **_replay(batch, rec["id"], batch.stored[rec["id"]], digest, payload)}
    try:
        done = _prepare(batch, intake, rec, payload, digest)
    except Rejected as r:
        return {**head, "status": "rejected", "message": r.message, "errors": r.errors}
    except ServiceError as e:
        return {**head, "status": "rejected", "message": str(e), "errors": e.errors.get(e.location, e.errors)}
    except FindingClash as clash:
        return {**head, **_conflict(batch, rec["id"], digest, payload, clash.visit_id,
                                    f"finding {clash.finding_id} is already stored in visit {clash.visit_id}; "
                                    "nothing was stored or overwritten. A supervisor will see both.")}
    ready.append(done)
    batch.stored[rec["id"]] = (digest, done.receipt)
    batch.finding_visit.update((f["id"], rec["id"]) for f in rec["findings"])
    if done.stop is not None:
        batch.stops[done.stop.id] = rec["id"]
    return {**head, "status": "created", "visit": done.receipt}


@dataclasses.dataclass(frozen=True)
class _VisitRef:
    """The visit as the findings service reads it, before its row is inserted."""

    id: uuid.UUID
    site_id: int
    started_at: dt.datetime
    checklist_template_id: int | None = None


def _prepare(batch: Batch, intake: Intake, rec: dict, payload: dict, digest: str) -> Ready:
    """Check one record and make its rows (nothing is inserted yet); raises Rejected,
    ServiceError or FindingClash. Its findings are classified and queued by the intake, and
    its audit entries appended, only once every check has passed."""
    problems = Problems()
    lim = batch.limits
    site = batch.site(rec["site_id"])
    if site is None:
        problems.add(("site_id",), f"there is no site {rec['site_id']}")
    elif site.park_id not in batch.scope:
        problems.add(("site_id",), f"site {site.id} ({site.name}) is in a park you are not assigned to")
    problems.check()
    # A finding id stored in another visit makes this a conflict, whatever else is wrong with it.
    clash = next((f["id"] for f in rec["findings"] if f["id"] in batch.finding_visit), None)
    if clash is not None:
        raise FindingClash(clash, batch.finding_visit[clash])

    skew, flagged = _clock(batch, rec)
    tolerance_h = float(batch.policy["device_clock_tolerance_h"])
    # A device clock far off is kept, not trusted: the visit is then dated by the server's clock.
    when = batch.received_at if flagged else rec["started_at"]
    day = local_date(when, batch.timezone)

    if len(rec["findings"]) > lim["max_findings_per_visit"]:
        problems.add(("findings",), f"a visit holds at most {lim['max_findings_per_visit']} findings; "
                                    f"this one has {len(rec['findings'])}")
    if len(rec["results"]) > lim["max_results_per_visit"]:
        problems.add(("results",), f"a visit holds at most {lim['max_results_per_visit']} results; "
                                   f"this one has {len(rec['results'])}")
    _check_officers(batch, rec, day, problems)
    outcome_of = _check_results(batch, rec, problems)
    _check_findings(batch, rec, day, outcome_of, problems)
    photos = _check_photos(batch, rec, problems)
    stop = _check_plan_stop(batch, rec, site, problems)
    order = _check_order(rec, site, problems)
    if (rec["corrects_id"] is not None and rec["corrects_id"] not in batch.stored
            and db.session.get(Visit, rec["corrects_id"]) is None):
        problems.add(("corrects_id",), f"there is no stored visit {rec['corrects_id']} to correct")
    problems.check()

    site_point = batch.point(site)
    fix = rec["location"]
    proof = geofence.prove(
        (fix["lon"], fix["lat"], fix["accuracy_m"]) if fix else None, (site_point.x, site_point.y),
        float(batch.policy["geofence_radius_m"]), float(batch.policy["gps_accuracy_threshold_m"]))
    signature = rec["record"]["party_signature_photo_id"]
    visit_id = rec["id"]

    def visit_audit() -> None:
        audit.record("visit.create", "visit", visit_id, {
            "site_id": site.id, "kind": rec["kind"], "device_id": batch.device_id, "content_hash": digest,
            "officer_ids": rec["officer_ids"], "results": len(rec["results"]),
            "findings": [str(f["id"]) for f in rec["findings"]], "geofence": proof.verdict,
            "distance_m": proof.distance_m, "clock_flagged": flagged, "plan_stop_id": rec["plan_stop_id"],
            "order_id": rec["order_id"],
        }, batch.user.id)

    # The findings service checks and classifies the visit's findings (all or none), and links
    # their photos (a row waiting for the bytes of each one not uploaded yet, counted in
    # photos_waiting). The visit's audit entry goes before theirs.
    datas = [_finding_data(f, when) for f in rec["findings"]]
    try:
        rows = intake.take(_VisitRef(visit_id, site.id, rec["started_at"]), datas, batch.user.id, before=visit_audit)
    except StoredFinding as e:
        # Stored by another request since the batch's look-up (see _store_run).
        raise _RunFailed() from e
    except ServiceError as e:
        refused = Problems()
        for field in e.fields or ("_schema",):
            refused.add(("findings", e.finding_index, field), str(e))
        refused.check()

    waiting: list[str] = []
    finding_receipts = []
    for f, row in zip(rec["findings"], rows):
        for pid in f["photo_ids"]:
            stored = photos.get(pid)
            if stored is None or stored.status == "waiting":
                waiting.append(str(pid))
            batch.photos[pid] = _stand_in(pid, stored, row["id"], visit_id, "finding")
        finding_receipts.append(_finding_receipt(row, f))
    own: list[tuple[uuid.UUID, str, bool]] = []
    if order is not None:
        # The lifecycle service links a re-inspection's photos to the order's finding.
        waiting += [str(pid) for pid in rec["photo_ids"] if pid not in photos or photos[pid].status == "waiting"]
    else:
        own += [(pid, "visit", pid in photos) for pid in rec["photo_ids"]]
    if signature is not None:
        own.append((signature, "party_signature", signature in photos))
    for pid, purpose, known in own:
        stored = photos.get(pid)
        if stored is None or stored.status == "waiting":
            waiting.append(str(pid))
        batch.photos[pid] = _stand_in(pid, stored, None, visit_id, purpose)

    receipt = {
        "id": str(visit_id),
        "received_at": batch.received_at.isoformat(),
        "site_id": site.id,
        "plan_stop_id": stop.id if stop is not None else None,
        "on_site": proof.as_dict(),
        "clock": {"skew_s": round(skew, 3), "flagged": flagged, "tolerance_h": tolerance_h},
        "findings": finding_receipts,
        "reinspection": None,
        "photos_waiting": waiting,
    }
    visit = {
        "id": visit_id, "site_id": site.id, "kind": rec["kind"], "recorded_by": batch.user.id,
        "device_id": batch.device_id, "checklist_template_id": _checklist_version(batch, rec, when),
        "certificates_shown": rec["certificates_shown"],
        "started_at": rec["started_at"], "finished_at": rec["finished_at"], "received_at": batch.received_at,
        "clock_skew_s": round(skew, 3), "clock_flagged": flagged,
        "fix": from_shape(Point(fix["lon"], fix["lat"]), srid=4326) if fix else None,
        "fix_accuracy_m": fix["accuracy_m"] if fix else None, "distance_m": proof.distance_m,
        "geofence": proof.verdict, "party_signature_photo_id": signature,
        "party_refused": rec["record"]["party_refused"], "content_hash": digest, "payload": payload,
        "receipt": receipt if order is None else None, "corrects_id": rec["corrects_id"],
    }
    officers = batch.officers(rec["officer_ids"])
    return Ready(
        rec=rec, visit=visit,
        officers=[{"visit_id": visit_id, "user_id": uid, "counted": officers[uid].certified_on(day)}
                  for uid in rec["officer_ids"]],
        results=[{"visit_id": visit_id, "item_code": r["item"], "outcome": r["outcome"]} for r in rec["results"]],
        photos=own, stop=stop, order=order,
        reinspection_at=batch.received_at if flagged else rec["finished_at"], receipt=receipt)


@dataclasses.dataclass(frozen=True)
class PhotoState:
    """A photo as a record of this batch just linked it, for the checks of the batch's later
    records (the run's inserts store the real rows)."""

    id: uuid.UUID
    finding_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    status: str
    purpose: str
    claimed_visit_id: uuid.UUID | None = None
    claimed_finding_id: uuid.UUID | None = None


def _stand_in(pid: uuid.UUID, stored: Photo | PhotoState | None, finding_id: uuid.UUID | None,
              visit_id: uuid.UUID, purpose: str) -> PhotoState:
    if stored is None:
        return PhotoState(pid, finding_id, visit_id, "waiting", purpose)
    return PhotoState(pid, finding_id or stored.finding_id, stored.visit_id or visit_id, stored.status,
                      stored.purpose or purpose, stored.claimed_visit_id, stored.claimed_finding_id)


def _write(batch: Batch, intake: Intake, ready: list[Ready]) -> None:
    """Insert the run's created records together: a statement per table."""
    if not ready:
        return
    db.session.execute(sa.insert(Visit.__table__), [r.visit for r in ready])
    officers = [o for r in ready for o in r.officers]
    if officers:
        db.session.execute(sa.insert(visit_officers), officers)
    results = [x for r in ready for x in r.results]
    if results:
        db.session.execute(sa.insert(CheckResult.__table__), results)
    intake.store()
    new_photos = []
    for r in ready:
        for pid, purpose, known in r.photos:
            if not known:
                new_photos.append({"id": pid, "finding_id": None, "visit_id": r.rec["id"], "status": "waiting",
                                   "purpose": purpose, "created_at": utcnow()})
                continue
            photo = db.session.get(Photo, pid)
            photo.visit_id = r.rec["id"]
            photo.purpose = photo.purpose or purpose
        if r.stop is not None:
            r.stop.visit_id = r.rec["id"]
            r.stop.status = "visited"
    if new_photos:
        db.session.execute(sa.insert(Photo.__table__), new_photos)
    for r in ready:
        if r.order is not None:  # a run of its own (_runs)
            r.receipt["reinspection"] = _record_reinspection(batch, r.rec["id"], r.order, r.rec, r.reinspection_at)
            db.session.execute(sa.update(Visit.__table__).where(Visit.__table__.c.id == r.rec["id"])
                               .values(receipt=r.receipt))
            # The lifecycle service linked its photos to the order's finding: later records see them so.
            batch.photos.update((pid, db.session.get(Photo, pid)) for pid in r.rec["photo_ids"])
    db.session.flush()


def _photo_ids(rec: dict) -> list[uuid.UUID]:
    ids = [pid for f in rec["findings"] for pid in f["photo_ids"]] + list(rec["photo_ids"])
    if rec["record"]["party_signature_photo_id"] is not None:
        ids.append(rec["record"]["party_signature_photo_id"])
    return ids


def canonical_record(value: Any) -> Any:
    """The record as JSON values (ids in their canonical spelling, times in ISO 8601 with the
    offset the phone gave): what is stored as the payload and hashed."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return value  # the common leaves first: JSON values as they are
    if isinstance(value, dict):
        return {k: canonical_record(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canonical_record(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _replay(batch: Batch, record_id: uuid.UUID, stored: tuple[str, dict | None], digest: str, payload: dict) -> dict:
    stored_digest, receipt = stored
    if stored_digest == digest:
        return {"status": "duplicate", "visit": receipt}
    return _conflict(batch, record_id, digest, payload, record_id,
                     "a record with this id was already accepted with other content; nothing was overwritten. "
                     "A supervisor will see both; to change an acknowledged visit, send a new record that names "
                     "it in corrects_id.")


def _conflict(batch: Batch, record_id: uuid.UUID, digest: str, payload: dict, stored_id: uuid.UUID,
              message: str) -> dict:
    known = db.session.execute(sa.select(SyncConflict.id).where(
        SyncConflict.record_id == record_id, SyncConflict.content_hash == digest)).scalar()
    if known is None:
        audit.insert_pending()  # the run's entries so far go before this savepoint, not into it
        try:
            with db.session.begin_nested():
                row = SyncConflict(record_id=record_id, device_id=batch.device_id, user_id=batch.user.id,
                                   content_hash=digest, payload=payload, received_at=batch.received_at)
                db.session.add(row)
                db.session.flush()
                audit.record("sync.conflict", "visit", record_id,
                             {"stored_id": str(stored_id), "content_hash": digest, "device_id": batch.device_id},
                             batch.user.id)
        except IntegrityError:
            pass  # the same conflicting content, kept by a request that raced this one
    return {"status": "conflict", "stored_id": str(stored_id), "message": message}


# --- checking one visit ------------------------------------------------------------------


def _check_officers(batch: Batch, rec: dict, day: dt.date, problems: Problems) -> None:
    ids = rec["officer_ids"]
    found = batch.officers(ids)
    for i, uid in enumerate(ids):
        user = found.get(uid)
        if user is None:
            problems.add(("officer_ids", i), f"there is no user {uid}")
        elif not user.active:
            problems.add(("officer_ids", i), f"{user.name}'s account is disabled")
    if problems.errors or not enforcement_capable(rec):
        return
    why = "this visit may lead to enforcement (it " + (
        f"is a {rec['kind']} visit" if rec["kind"] in ENFORCEMENT_KINDS else "records a breach of a catalogue row") + ")"
    for i, uid in enumerate(ids):
        user = found[uid]
        if user.auxiliary or user.certified_on(day):
            continue
        if not normalised_number(user.certificate_no):
            state = "holds no law-enforcement certificate"
        elif user.certificate_expires is None or user.certificate_expires < day:
            expired = user.certificate_expires.isoformat() if user.certificate_expires else "an unknown day"
            state = f"holds certificate {user.certificate_no}, which expired on {expired}"
        else:
            state = "holds no valid certificate"
        problems.add(("officer_ids", i), f"{why}, so every officer who is not auxiliary staff needs a certificate "
                                         f"valid on {day.isoformat()}; {user.name} {state}")
    certificates = {normalised_number(found[uid].certificate_no) for uid in ids if found[uid].certified_on(day)}
    if len(certificates) < 2 and not problems.errors:
        problems.add(("officer_ids",), f"{why}, so it needs two certified officers with distinct certificates valid "
                                       f"on {day.isoformat()} (auxiliary staff are recorded but never counted); "
                                       f"it has {len(certificates)}")


def _check_results(batch: Batch, rec: dict, problems: Problems) -> dict[str, str]:
    known = batch.item_codes() if rec["results"] else set()
    template = None
    if rec.get("checklist_id") is not None:
        # The version the phone used (GET /api/me/today's checklists[].id): the visit keeps it,
        # and its results must be that version's items.
        template = db.session.get(ChecklistTemplate, rec["checklist_id"])
        if template is None or template.status == "draft":
            problems.add(("checklist_id",), f"there is no published checklist version {rec['checklist_id']}")
            template = None
        else:
            known = {i.code for i in template.items}
    outcome_of = {}
    for i, r in enumerate(rec["results"]):
        if r["item"] not in known:
            where = f"checklist {template.code} version {template.version}" if template else "any checklist"
            problems.add(("results", i, "item"), f"{r['item']} is not an item of {where}")
        outcome_of[r["item"]] = r["outcome"]
    return outcome_of


def _checklist_version(batch: Batch, rec: dict, when: dt.datetime) -> int | None:
    """The checklist version a visit was made with: the one the phone named, else the newest
    version published before the visit began whose items hold every result (a phone that sends
    no checklist_id)."""
    if rec.get("checklist_id") is not None:
        return rec["checklist_id"]
    codes = {r["item"] for r in rec["results"]}
    if not codes:
        return None
    for tid, published_at, items in batch.checklist_versions():
        if (published_at is None or published_at <= when) and codes <= items:
            return tid
    return None


def _check_findings(batch: Batch, rec: dict, day: dt.date, outcome_of: dict, problems: Problems) -> None:
    for i, f in enumerate(rec["findings"]):
        if f["item"] is not None and outcome_of.get(f["item"], "fail") != "fail":
            problems.add(("findings", i, "item"), f"{f['item']} is recorded as {outcome_of[f['item']]} in this "
                                                  "visit's results; a finding goes with a fail")
        if f["violation_code"] is not None:
            row = batch.row(f["violation_code"], day)
            if row is None:
                problems.add(("findings", i, "violation_code"),
                             f"{f['violation_code']} is not in the violation catalogue in force on {day.isoformat()}")
            elif row.domain != f["domain"]:
                problems.add(("findings", i, "domain"),
                             f"{f['violation_code']} is a violation in the domain {row.domain}, "
                             f"but the finding is filed under {f['domain']}")


def _check_photos(batch: Batch, rec: dict, problems: Problems) -> dict[uuid.UUID, Photo]:
    named: list[tuple[tuple, uuid.UUID]] = []
    for i, f in enumerate(rec["findings"]):
        named += [(("findings", i, "photo_ids"), pid) for pid in f["photo_ids"]]
    named += [(("photo_ids",), pid) for pid in rec["photo_ids"]]
    signature = rec["record"]["party_signature_photo_id"]
    if signature is not None:
        named.append((("record", "party_signature_photo_id"), signature))
    if len(named) > batch.limits["max_photos_per_visit"]:
        problems.add(("photo_ids",), f"a visit names at most {batch.limits['max_photos_per_visit']} photos; "
                                     f"this one names {len(named)}")
        return {}
    seen: dict[uuid.UUID, tuple] = {}
    owner: dict[uuid.UUID, uuid.UUID | None] = {}
    for i, f in enumerate(rec["findings"]):
        owner.update((pid, f["id"]) for pid in f["photo_ids"])
    for path, pid in named:
        if pid in seen:
            problems.add(path, f"photo {pid} is also named at {'.'.join(map(str, seen[pid]))}: a photo proves one thing")
        seen[pid] = path
    stored = {pid: batch.photos[pid] for pid in seen if batch.photos.get(pid) is not None}
    for pid, photo in stored.items():
        # A photo uploaded before its record is not linked yet, but names the record it was
        # taken for: it must be this one. A linked photo belongs to another record.
        claims_other = (photo.claimed_visit_id not in (None, rec["id"])
                        or photo.claimed_finding_id not in (None, owner.get(pid)))
        if photo.visit_id is not None or photo.finding_id is not None or claims_other:
            problems.add(seen[pid], f"photo {pid} already belongs to another visit or finding")
    return stored


def _check_plan_stop(batch: Batch, rec: dict, site: Site, problems: Problems) -> PlanStop | None:
    if rec["plan_stop_id"] is None:
        return None
    stop = db.session.get(PlanStop, rec["plan_stop_id"])
    if stop is None:
        problems.add(("plan_stop_id",), f"there is no plan stop {rec['plan_stop_id']}")
        return None
    plan = db.session.get(Plan, stop.plan_id)
    if plan is None or plan.status != "published":
        problems.add(("plan_stop_id",), f"plan stop {stop.id} belongs to a plan that is not published")
    elif stop.site_id != site.id:
        problems.add(("plan_stop_id",), f"plan stop {stop.id} is at site {stop.site_id}, not at site {site.id}")
    elif stop.visit_id is not None or stop.id in batch.stops:
        problems.add(("plan_stop_id",), f"plan stop {stop.id} was already visited "
                                        f"(visit {stop.visit_id or batch.stops[stop.id]}); "
                                        "send this visit without plan_stop_id")
    return stop


def _check_order(rec: dict, site: Site, problems: Problems) -> Order | None:
    if rec["order_id"] is None:
        return None
    order = db.session.get(Order, rec["order_id"])
    if order is None:
        problems.add(("order_id",), f"there is no order {rec['order_id']}")
        return None
    finding_site = db.session.execute(sa.select(Finding.site_id).where(Finding.id == order.finding_id)).scalar()
    if finding_site != site.id:
        problems.add(("order_id",), f"order {order.number} is for another site, not site {site.id}")
    return order


def _finding_data(f: dict, when: dt.datetime) -> dict:
    """The finding as the findings service takes it, dated by the visit's trusted time."""
    return {**f, "discovered_at": when}


def _finding_receipt(row: dict, f: dict) -> dict:
    """A stored finding's part of the receipt, from the row the findings service stored."""
    return {
        "id": str(row["id"]),
        "domain": row["domain"],
        "violation_code": f["violation_code"],
        "suggested_tier": row["suggested_tier"],
        "final_tier": row["final_tier"],
        "rule_id": row["rule_id"],
        "flags": list(row["flags"] or []),
        "tolerance_path": row["tolerance_path"],
        "explanation_zh": row["explanation_zh"],
        "explanation_en": row["explanation_en"],
        "correction_deadline": row["correction_deadline"].isoformat() if row["correction_deadline"] else None,
        "policy_version": row["policy_version"],
        "photos_waiting": row["photos_waiting"] or 0,
    }


# Where the lifecycle service's field names sit in the visit record.
_REINSPECTION_FIELDS = {"at": "finished_at", "visit_id": "id", "outcome": "outcome", "photo_ids": "photo_ids"}


def _record_reinspection(batch: Batch, visit_id: uuid.UUID, order: Order, rec: dict, at: dt.datetime) -> dict:
    """The re-inspection through the order's lifecycle (a failed or partly passed one escalates
    the finding to enforcement at once); a refusal there rejects the visit."""
    from . import lifecycle

    try:
        row = lifecycle.record_reinspection_of_order(
            order.id, batch.user, rec["outcome"], at=at, photo_ids=rec["photo_ids"], visit_id=visit_id,
            note=rec["note"], commit=False)
    except ServiceError as e:
        refused = Problems()
        for field in e.fields or ("order_id",):
            refused.add((_REINSPECTION_FIELDS.get(field, "order_id"),), str(e))
        refused.check()
    finding = db.session.get(Finding, order.finding_id)
    return {"id": row.id, "order_id": order.id, "outcome": row.outcome, "finding_id": str(finding.id),
            "finding_status": finding.status, "final_tier": finding.final_tier}

"""The one way in for findings: every path (field sync, the demo city, imports) stores its
findings through `Intake` (a batch of them: the field sync's) or `record_finding` (one: the
Intake with one item), which looks up their history, classifies them with the policy in
force and stores facts, history and classification together, in the caller's transaction,
with an audit entry each.

The classification is made once. The suggested tier and its rule id are never recomputed:
the final tier changes only by escalation (upward, automatic, rule E4) or by a supervisor's
or the legal reviewer's recorded decision (server/services/lifecycle.py).

Late findings. The history is the server's knowledge *when the finding arrives* (DOMAIN.md
section 2): the findings of the same violation type (catalogue code, any version of its
row) at the same site, discovered inside the policy's look-back window before this one's
discovery, not counting this visit's own. A finding that arrives late (a phone that synced
days afterwards) is classified against what is stored by then, which may include findings
made after it in the field; they are not counted, because only earlier discoveries are. The
findings already stored are never reclassified by its arrival: their suggestion stands as
made, and the late one counts as an earlier finding only for findings that arrive after it.

Discovery time is the visit's start, or the time the caller passes as `discovered_at` (field
sync passes the server's receive time when the device clock could not be trusted).
"""
from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from ..domain import classify as classifier
from ..domain.lifecycle import STATUTORY_FLAG
from ..domain.policy import default_policy
from ..domain.workdays import correction_deadline, local_date
from ..extensions import db
from ..models import (
    ChecklistItem, Finding, Order, Photo, Reinspection, Site, ToleranceRecord, ViolationType, Visit,
)
from ..models.types import utcnow
from ..models.vocab import DOMAINS
from . import audit, catalogue, policy as policy_service, webhooks
from .calendar import work_calendar
from .errors import Conflict, ServiceError

FACT_KEYS = ("severity", "harm", "intentional", "obstruction", "suspected_crime", "no_fault_proven",
             "corrected_on_spot")
FINDING_KEYS = frozenset({"id", "item", "violation_code", "domain", "note", "photo_ids", "discovered_at", *FACT_KEYS})
FAILED_REINSPECTIONS = ("failed", "partly")
FAILED_ORDERS = ("failed", "overdue")


def lookup_history(site_id: int, code: str | None, discovered_at: dt.datetime, visit_id: uuid.UUID,
                   window_days: int) -> dict:
    """The classifier's history of a finding (DOMAIN.md section 2), with the ids it counted.

    The earlier findings are those of the same code at the same site discovered in
    [discovered_at - window, discovered_at), on other visits. Among them: whether one closed on
    the tolerance path (it has a ledger entry), and whether one's order went overdue or failed
    its re-inspection (the same matter: same type, same site, same window).
    """
    return History([(site_id, code, discovered_at)], window_days).of(site_id, code, discovered_at, visit_id)


class History:
    """The stored history of several findings read at once (three queries, whatever their
    number): every stored finding of their codes at their sites inside the widest window, and
    which of those closed on the tolerance path or had an order fail. `of()` answers one
    finding's history from that, counting as well the findings `add()`ed since (those stored
    earlier in the same batch, which the read could not see)."""

    def __init__(self, keys: list[tuple[int, str | None, dt.datetime]], window_days: int):
        self.window_days = window_days
        self.rows: dict[tuple[int, str], list[tuple[dt.datetime, uuid.UUID, uuid.UUID]]] = {}
        self.tolerance_closed: set[uuid.UUID] = set()
        self.failed: set[uuid.UUID] = set()
        coded = [(site, code, at) for site, code, at in keys if code is not None]
        if not coded:
            return
        window = dt.timedelta(days=window_days)
        candidates = (
            sa.select(Finding.id).join(ViolationType, ViolationType.id == Finding.violation_type_id)
            .where(Finding.site_id.in_(sorted({site for site, _c, _a in coded})),
                   ViolationType.code.in_(sorted({code for _s, code, _a in coded})),
                   Finding.discovered_at >= min(at for _s, _c, at in coded) - window,
                   Finding.discovered_at < max(at for _s, _c, at in coded)))
        for fid, site, code, at, visit in db.session.execute(
                candidates.add_columns(Finding.site_id, ViolationType.code, Finding.discovered_at, Finding.visit_id)):
            self.rows.setdefault((site, code), []).append((at, fid, visit))
        if not self.rows:
            return
        ids = candidates.scalar_subquery()
        self.tolerance_closed = set(db.session.execute(
            sa.select(ToleranceRecord.finding_id).where(ToleranceRecord.finding_id.in_(ids))).scalars())
        failed_reinspection = sa.exists().where(Reinspection.order_id == Order.id,
                                                Reinspection.outcome.in_(FAILED_REINSPECTIONS))
        self.failed = set(db.session.execute(sa.select(Order.finding_id).where(
            Order.finding_id.in_(ids), sa.or_(Order.status.in_(FAILED_ORDERS), failed_reinspection))).scalars())

    def add(self, site_id: int, code: str | None, discovered_at: dt.datetime, finding_id: uuid.UUID,
            visit_id: uuid.UUID) -> None:
        """A finding stored after the read (it has no ledger entry and no order yet)."""
        if code is not None:
            self.rows.setdefault((site_id, code), []).append((discovered_at, finding_id, visit_id))

    def of(self, site_id: int, code: str | None, discovered_at: dt.datetime, visit_id: uuid.UUID) -> dict:
        since = discovered_at - dt.timedelta(days=self.window_days)
        earlier = sorted((at, fid) for at, fid, visit in self.rows.get((site_id, code), ()) if code is not None
                         and since <= at < discovered_at and visit != visit_id)
        ids = [fid for _at, fid in earlier]
        return {"repeats": len(ids), "earlier_tolerance_closed": any(i in self.tolerance_closed for i in ids),
                "earlier_order_failed": any(i in self.failed for i in ids),
                "earlier_finding_ids": [str(i) for i in ids], "window_days": self.window_days,
                "since": since.isoformat()}


def _uuid(value: Any, field: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise ServiceError(f"{field} must be a UUID, not {value!r}", (field,)) from None


def _discovered_at(visit: Visit, data: dict) -> dt.datetime:
    when = data.get("discovered_at") or visit.started_at
    if not isinstance(when, dt.datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise ServiceError("the discovery time needs its UTC offset: its day decides the catalogue row and "
                           "the deadline", ("discovered_at",))
    return when


def _item_domain(visit: Visit, item: str | None) -> str | None:
    if not item or visit.checklist_template_id is None:
        return None
    return db.session.execute(sa.select(ChecklistItem.domain).where(
        ChecklistItem.template_id == visit.checklist_template_id, ChecklistItem.code == item)).scalar()


def _domain(visit: Visit, data: dict, row: ViolationType | None) -> str:
    sent = data.get("domain")
    if row is not None:
        if sent is not None and sent != row.domain:
            raise ServiceError(f"the domain of {row.code} is {row.domain}, the catalogue row's; the finding says "
                               f"{sent}: send {row.domain} or no domain", ("domain",))
        return row.domain
    domain = sent or _item_domain(visit, data.get("item")) or "other"
    if domain not in DOMAINS:
        raise ServiceError(f"domain must be one of {', '.join(DOMAINS)}", ("domain",))
    return domain


def attach_photos(finding_id: uuid.UUID, visit_id: uuid.UUID | None, photo_ids, purpose: str) -> int:
    """Link named photos to a finding; a photo not uploaded yet gets a row waiting for its bytes.
    A photo of another finding is refused. Answers how many still wait for their bytes."""
    waiting = 0
    for raw in photo_ids or ():
        pid = _uuid(raw, "photo_ids")
        photo = db.session.get(Photo, pid)
        if photo is None:
            photo = Photo(id=pid, finding_id=finding_id, visit_id=visit_id, status="waiting", purpose=purpose)
            db.session.add(photo)
        elif photo.finding_id not in (None, finding_id):
            raise Conflict(f"photo {pid} belongs to finding {photo.finding_id}", ("photo_ids",))
        else:
            photo.finding_id = finding_id
            photo.visit_id = photo.visit_id or visit_id
            photo.purpose = photo.purpose or purpose
        waiting += photo.status == "waiting"
    return waiting


class StoredFinding(Conflict):
    """The finding's id is stored already (409)."""


class Intake:
    """The batch form of the intake: the findings of one or several visits, stored and
    classified as `record_finding` stores one, with a handful of statements for all of them.

    Made with every (visit, data) the caller may store, it reads at once what they need: the
    policy in force, which of their ids are stored, their photos, and their history (`History`).
    `take(visit, datas)` then checks and classifies one visit's findings in order, all or none
    (the ServiceError raised carries the finding's position as `finding_index`; nothing of the
    visit is kept), records their audit entries, and queues their rows; `store()` inserts the
    queued findings and their waiting photo rows, one statement each, and links the stored
    photos they name. Findings taken earlier count in the history of those taken later, as if
    each had been stored before the next was looked up.

    A visit is anything with id, site_id, started_at and checklist_template_id.
    """

    def __init__(self, items: list[tuple[Any, dict]]):
        version = policy_service.current()
        self.version = version.version
        self.policy = {**default_policy(), **version.values}
        self.timezone = self.policy["timezone"]
        ids, photo_ids, keys = set(), set(), []
        for visit, data in items:
            try:
                fid = _uuid(data.get("id"), "id")
                ids.add(fid)
                photo_ids.update(_uuid(p, "photo_ids") for p in data.get("photo_ids") or ())
                keys.append((visit.site_id, data.get("violation_code") or None, _discovered_at(visit, data)))
            except ServiceError:
                continue  # refused by take(), with its message
        self.stored = set(db.session.execute(sa.select(Finding.id).where(Finding.id.in_(ids))).scalars()) if ids else set()
        self.photos: dict[uuid.UUID, Photo] = {p.id: p for p in db.session.execute(
            sa.select(Photo).where(Photo.id.in_(photo_ids))).scalars()} if photo_ids else {}
        self.history = History(keys, int(self.policy["repeat_window_days"]))
        self.rows: list[dict] = []
        self.new_photos: dict[uuid.UUID, dict] = {}
        self.new_photo_rows: list[dict] = []  # those the last store() inserted
        self.links: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}  # stored photo: (finding, visit) to link
        # Computed once per Intake: a catalogue row as the classifier reads it, the classifier's
        # answers, correction deadlines by (discovery day, period).
        self.row_facts: dict[int, classifier.ViolationTypeFacts] = {}
        self.classified: dict[tuple, classifier.Classification] = {}
        self.deadlines: dict[tuple, dt.date] = {}

    def take(self, visit, datas: list[dict], actor_id: int | None, before=None) -> list[dict]:
        """Check, classify and queue one visit's findings (see the class); answers their rows.
        `before()`, when given, is called once they all passed, before their audit entries are
        appended (the visit's own entry goes first)."""
        prepared = []
        claims: dict[uuid.UUID, uuid.UUID] = {}  # photo: the finding of this visit that names it
        ids: set[uuid.UUID] = set()
        site = db.session.get(Site, visit.site_id)
        for i, data in enumerate(datas):
            try:
                prepared.append(self._prepare(visit, site, data, claims, ids))
            except ServiceError as e:
                e.finding_index = i
                raise
        if before is not None:
            before()
        for row, facts, photos in prepared:
            self.rows.append(row)
            self.stored.add(row["id"])
            self.history.add(row["site_id"], facts["code"], row["discovered_at"], row["id"], row["visit_id"])
            for pid in photos:
                if pid in self.photos:
                    self.links[pid] = (row["id"], row["visit_id"])
                else:
                    self.new_photos.setdefault(pid, {"id": pid, "finding_id": row["id"], "visit_id": row["visit_id"],
                                                     "status": "waiting", "purpose": "finding",
                                                     "created_at": row["created_at"]})
            audit.record("finding.create", "finding", row["id"], {
                "visit": str(row["visit_id"]), "site": row["site_id"], "violation_code": facts["code"],
                "domain": row["domain"], "facts": facts["facts"], "history": facts["history"],
                "suggested_tier": row["suggested_tier"], "rule_id": row["rule_id"], "flags": row["flags"],
                "tolerance_path": row["tolerance_path"], "policy_version": self.version,
                "correction_deadline": row["correction_deadline"].isoformat() if row["correction_deadline"] else None,
                "status": row["status"],
            }, actor_id)
        return [row for row, _f, _p in prepared]

    def _owner(self, pid: uuid.UUID, claims: dict) -> uuid.UUID | None:
        """The finding a photo is linked to so far (stored, taken earlier, or earlier in this visit)."""
        if pid in claims:
            return claims[pid]
        if pid in self.new_photos:
            return self.new_photos[pid]["finding_id"]
        if pid in self.links:
            return self.links[pid][0]
        photo = self.photos.get(pid)
        return photo.finding_id if photo is not None else None

    def _prepare(self, visit, site: Site, data: dict, claims: dict, ids: set) -> tuple[dict, dict, list]:
        unknown = sorted(set(data) - FINDING_KEYS)
        if unknown:
            raise ServiceError(f"a finding has no field {', '.join(unknown)}", tuple(unknown))
        if "id" not in data:
            raise ServiceError("a finding needs its id (a UUID made on the phone)", ("id",))
        finding_id = _uuid(data["id"], "id")
        if finding_id in self.stored or finding_id in ids:
            raise StoredFinding(f"finding {finding_id} is already stored", ("id",))
        policy, timezone = self.policy, self.timezone
        discovered_at = _discovered_at(visit, data)
        day = local_date(discovered_at, timezone)
        code = data.get("violation_code") or None
        row = None
        if code is not None:
            row = catalogue.in_force(code, day)
            if row is None:
                raise ServiceError(f"no catalogue row {code} is in force on {day.isoformat()}", ("violation_code",))
        domain = _domain(visit, data, row)
        facts = {"harm": "none", **{k: data[k] for k in FACT_KEYS if k in data}}
        facts.setdefault("severity", None)
        history = self.history.of(site.id, code, discovered_at, visit.id)
        classifier_history = {k: history[k] for k in ("repeats", "earlier_tolerance_closed", "earlier_order_failed")}
        result = self._classify(row, facts, classifier_history)
        deadline = None
        if row is not None:
            key = (day, row.correction_days, row.correction_unit)
            if key not in self.deadlines:
                self.deadlines[key] = correction_deadline(discovered_at, row.correction_days, row.correction_unit,
                                                          work_calendar(), timezone)
            deadline = self.deadlines[key]
        flags = list(result.flags)
        status = "legal_review" if STATUTORY_FLAG in flags else "awaiting_review"
        # Its photos: linked to it, a row waiting for the bytes of each one not uploaded yet.
        photos, waiting = [], 0
        for raw in data.get("photo_ids") or ():
            pid = _uuid(raw, "photo_ids")
            owner = self._owner(pid, claims)
            if owner not in (None, finding_id):
                raise Conflict(f"photo {pid} belongs to finding {owner}", ("photo_ids",))
            stored = self.photos.get(pid)
            waiting += stored is None or stored.status == "waiting"
            photos.append(pid)
        claims.update((pid, finding_id) for pid in photos)
        ids.add(finding_id)
        values = {
            "id": finding_id, "visit_id": visit.id, "site_id": site.id, "park_id": site.park_id,
            "item_code": data.get("item"), "violation_type_id": row.id if row is not None else None,
            "domain": domain, "discovered_at": discovered_at, "severity": facts["severity"], "harm": facts["harm"],
            **{k: facts.get(k, False) for k in FACT_KEYS if k not in ("severity", "harm")},
            "note": data.get("note") or "", "repeats": history["repeats"],
            "earlier_tolerance_closed": history["earlier_tolerance_closed"],
            "earlier_order_failed": history["earlier_order_failed"],
            "suggested_tier": result.tier, "final_tier": result.tier, "rule_id": result.rule_id, "flags": flags,
            "tolerance_path": result.tolerance_path, "explanation_zh": result.explanation_zh,
            "explanation_en": result.explanation_en, "policy_version": self.version, "correction_deadline": deadline,
            "status": status,
            # A management finding's clock is its correction deadline until an order sets its own.
            "next_deadline": deadline if result.tier == "management" else None,
            "photos_waiting": waiting, "created_at": utcnow(),
        }
        return values, {"code": code, "history": history, "facts": {k: facts[k] for k in FACT_KEYS if k in facts}}, photos

    def _classify(self, row: ViolationType | None, facts: dict, history: dict) -> classifier.Classification:
        """The classifier's answer; it is a function of the row, the facts, the history and the
        policy alone, so findings alike in all four (a batch has many) are classified once."""
        vt = None
        if row is not None:
            vt = self.row_facts.get(row.id)
            if vt is None:
                vt = self.row_facts[row.id] = classifier.ViolationTypeFacts.of(row)
        try:
            # Typed: 1 and True are equal keys, but only one of them is a valid fact.
            key = (row.id if row is not None else None, tuple(sorted((k, type(v), v) for k, v in facts.items())),
                   tuple(history.items()))
            known = self.classified.get(key)
        except TypeError:  # a fact that is no plain value: the classifier says what is wrong with it
            key = known = None
        if known is not None:
            return known
        try:
            result = classifier.classify(vt, facts, history, self.policy)
        except classifier.InvalidFacts as e:
            raise ServiceError(f"the finding's facts cannot be classified: {e}", tuple(e.errors)) from None
        if key is not None:
            self.classified[key] = result
        return result

    def store(self) -> None:
        """Insert the queued findings and their new photo rows (one statement each), then link
        the stored photos they name (the caller has stored their visits)."""
        if self.rows:
            db.session.execute(sa.insert(Finding.__table__), self.rows)
            for row in self.rows:  # the payload reads the finding's attributes; a Core row has them as keys
                webhooks.emit("finding.created", finding=SimpleNamespace(**row))
        self.new_photo_rows = list(self.new_photos.values())
        if self.new_photo_rows:
            db.session.execute(sa.insert(Photo.__table__), self.new_photo_rows)
        for pid, (finding_id, visit_id) in self.links.items():
            photo = self.photos[pid]
            photo.finding_id = finding_id
            photo.visit_id = photo.visit_id or visit_id
            photo.purpose = photo.purpose or "finding"
        self.rows, self.new_photos, self.links = [], {}, {}


def record_finding(visit: Visit, data: dict, actor_id: int | None) -> Finding:
    """Store and classify one finding of `visit` in the caller's transaction (no commit).

    `data` holds the finding's own fields as the sync record carries them: id, item,
    violation_code (None for an advisory finding), severity, harm, intentional, obstruction,
    suspected_crime, no_fault_proven, corrected_on_spot, note, photo_ids, and optionally
    domain (refused when it differs from the catalogue row's) and discovered_at.
    The batch form is `Intake`; this is it with one finding.
    """
    db.session.flush()  # the visit, when the caller has just added it
    intake = Intake([(visit, data)])
    (row,) = intake.take(visit, [data], actor_id)
    intake.store()
    return db.session.get(Finding, row["id"])

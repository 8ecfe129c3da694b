"""Checklists: versions, their items, publishing.

A visit keeps the version it was made with (Visit.checklist_template_id, and its results by item
code), so a published version never changes: an admin makes a new draft version from the old
one (the items copied), edits the draft's items, and publishes it. Publishing retires the
version that was in force for that code; the phones take the newest published version with
their next day (GET /api/me/today). Every step is audited.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..models import ChecklistItem, ChecklistTemplate, ViolationType, Visit
from ..models.types import utcnow
from . import audit
from .errors import Conflict, NotFound, ServiceError

MAX_ID = 2**31 - 1
ITEM_FIELDS = ("code", "domain", "text_zh", "text_en", "legal_basis", "violation_codes")


def _template_or_404(template_id: int) -> ChecklistTemplate:
    row = db.session.get(ChecklistTemplate, template_id) if 0 < template_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no checklist version with id {template_id}")
    return row


def _visits_using(template_id: int) -> int:
    return db.session.execute(sa.select(sa.func.count(Visit.id)).where(
        Visit.checklist_template_id == template_id)).scalar_one()


def _item(i: ChecklistItem) -> dict:
    return {"id": i.id, "code": i.code, "position": i.position, "domain": i.domain, "text_zh": i.text_zh,
            "text_en": i.text_en, "legal_basis": i.legal_basis, "violation_codes": list(i.violation_codes or [])}


def _row(t: ChecklistTemplate, with_items: bool = False, visits: int | None = None) -> dict:
    row = {"id": t.id, "code": t.code, "version": t.version, "domain": t.domain, "name_zh": t.name_zh,
           "name_en": t.name_en, "status": t.status, "published_at": t.published_at, "created_at": t.created_at,
           "item_count": len(t.items), "editable": t.status == "draft"}
    if visits is not None:
        row["visits"] = visits
    if with_items:
        row["items"] = [_item(i) for i in t.items]
    return row


def list_checklists(code: str | None = None, status: str | None = None) -> dict:
    query = sa.select(ChecklistTemplate).order_by(ChecklistTemplate.code, ChecklistTemplate.version.desc())
    if code:
        query = query.where(ChecklistTemplate.code == code)
    if status:
        query = query.where(ChecklistTemplate.status == status)
    counts = dict(db.session.execute(sa.select(Visit.checklist_template_id, sa.func.count(Visit.id))
                                     .group_by(Visit.checklist_template_id)).all())
    return {"items": [_row(t, visits=counts.get(t.id, 0)) for t in db.session.execute(query).scalars()]}


def detail(template_id: int) -> dict:
    t = _template_or_404(template_id)
    return _row(t, with_items=True, visits=_visits_using(t.id))


def new_version(template_id: int, actor_id: int) -> dict:
    """A draft version made from this one, its items copied; one draft per checklist at a time."""
    old = _template_or_404(template_id)
    draft = db.session.execute(sa.select(ChecklistTemplate).where(
        ChecklistTemplate.code == old.code, ChecklistTemplate.status == "draft")).scalar()
    if draft is not None:
        raise Conflict(f"checklist {old.code} already has a draft, version {draft.version} (id {draft.id}): "
                       "edit or publish it first", draft_id=draft.id)
    newest = db.session.execute(sa.select(sa.func.max(ChecklistTemplate.version)).where(
        ChecklistTemplate.code == old.code)).scalar_one()
    new = ChecklistTemplate(code=old.code, version=newest + 1, domain=old.domain, name_zh=old.name_zh,
                            name_en=old.name_en, status="draft")
    new.items = [ChecklistItem(position=i.position, **{f: getattr(i, f) for f in ITEM_FIELDS}) for i in old.items]
    db.session.add(new)
    db.session.flush()
    audit.record("checklist.new_version", "checklist", new.id,
                 {"code": new.code, "version": new.version, "from_id": old.id, "from_version": old.version,
                  "items": len(new.items)}, actor_id)
    db.session.commit()
    return detail(new.id)


def _check_codes(items: list[dict]) -> None:
    wanted = sorted({c for item in items for c in item.get("violation_codes", [])})
    if not wanted:
        return
    known = set(db.session.execute(sa.select(ViolationType.code).where(ViolationType.code.in_(wanted))).scalars())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ServiceError(f"no catalogue row with code {', '.join(unknown)}: pick codes from the violation "
                           "catalogue (GET /api/catalogue)", ("items",))


def edit(template_id: int, changes: dict, actor_id: int) -> dict:
    """Change a draft: its names and/or its whole item list (in order). A published or retired
    version is refused: visits were made with it."""
    t = _template_or_404(template_id)
    if t.status != "draft":
        raise Conflict(f"checklist {t.code} version {t.version} is {t.status}: visits keep the version they "
                       "were made with, so it cannot change; make a new version from it (POST "
                       f"/api/checklists/{t.id}/versions) and edit that")
    summary = {"code": t.code, "version": t.version}
    for name in ("name_zh", "name_en"):
        if name in changes and changes[name] != getattr(t, name):
            summary[name] = {"from": getattr(t, name), "to": changes[name]}
            setattr(t, name, changes[name])
    if "items" in changes:
        items = changes["items"]
        _check_codes(items)
        before = {i.code: _item(i) for i in t.items}
        after = {item["code"]: item for item in items}
        by_code = {i.code: i for i in t.items}
        kept = []
        for pos, item in enumerate(items, start=1):
            row = by_code.get(item["code"]) or ChecklistItem(code=item["code"])
            row.position = pos
            for f in ITEM_FIELDS[1:]:
                setattr(row, f, list(item.get(f, [])) if f == "violation_codes" else item.get(f, ""))
            kept.append(row)
        # Removed items go first, so a code moved between rows never meets itself in the unique index.
        t.items = [i for i in t.items if i.code in after]
        db.session.flush()
        t.items = kept
        summary["items"] = {
            "added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(c for c in set(before) & set(after)
                              if any(before[c][f] != (list(after[c].get(f, [])) if f == "violation_codes"
                                                      else after[c].get(f, "")) for f in ITEM_FIELDS[1:])),
            "count": len(items)}
    db.session.flush()
    audit.record("checklist.edit", "checklist", t.id, summary, actor_id)
    db.session.commit()
    return detail(t.id)


def publish(template_id: int, actor_id: int) -> dict:
    """The draft becomes the version in force; the one in force before is retired (visits made
    with it keep pointing at it)."""
    t = _template_or_404(template_id)
    if t.status != "draft":
        raise Conflict(f"checklist {t.code} version {t.version} is already {t.status}; only a draft is published")
    if not t.items:
        raise ServiceError(f"checklist {t.code} version {t.version} has no items: add at least one before "
                           "publishing", ("items",))
    retired = []
    for other in db.session.execute(sa.select(ChecklistTemplate).where(
            ChecklistTemplate.code == t.code, ChecklistTemplate.status == "published")).scalars():
        other.status = "retired"
        retired.append(other.version)
    t.status = "published"
    t.published_at = utcnow()
    db.session.flush()
    audit.record("checklist.publish", "checklist", t.id,
                 {"code": t.code, "version": t.version, "items": len(t.items), "retired_versions": retired}, actor_id)
    db.session.commit()
    return detail(t.id)

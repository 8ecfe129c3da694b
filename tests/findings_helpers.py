"""Helpers for the findings tests: the reference data the world lacks (catalogue, calendar),
visits made directly in the database, findings stored through the one way in, and the
audit trail of a finding."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEntry, Finding, Park, Photo, Site, User, Visit
from server.models.types import utcnow

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def load_reference(app) -> dict:
    """The bundled catalogue and working-day calendar, and the world's ids."""
    from server.services import calendar, catalogue

    with app.app_context():
        catalogue.load_bundled()
        calendar.load_bundled()
        db.session.commit()
        return world_ids()


def world_ids() -> dict:
    parks = dict(db.session.execute(sa.select(Park.code, Park.id)).all())
    sites = {code: list(db.session.execute(sa.select(Site.id).where(Site.park_id == pid).order_by(Site.id)).scalars())
             for code, pid in parks.items()}
    users = dict(db.session.execute(sa.select(User.username, User.id)).all())
    return {"parks": parks, "sites": sites, "users": users}


def make_visit(app, site_id: int, started_at: dt.datetime | None = None, by: str = "insp1",
               kind: str = "routine") -> uuid.UUID:
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.username == by)).scalar_one()
        vid = uuid.uuid4()
        started = started_at or utcnow()
        db.session.add(Visit(id=vid, site_id=site_id, kind=kind, recorded_by=user.id, started_at=started,
                             finished_at=started + dt.timedelta(minutes=20),
                             content_hash=hashlib.sha256(vid.bytes).hexdigest(), payload={"id": str(vid)}))
        db.session.commit()
        return vid


def add_finding(app, visit_id: uuid.UUID, code: str | None, **fields) -> uuid.UUID:
    """Store one finding of the visit through record_finding (severity minor, harm none by default)."""
    from server.services.findings import record_finding

    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        fid = fields.pop("id", None) or uuid.uuid4()
        data = {"id": str(fid), "violation_code": code, "severity": "minor", "harm": "none", **fields}
        user = db.session.get(User, visit.recorded_by)
        record_finding(visit, data, user.id)
        db.session.commit()
        return fid


def finding_at(app, site_id: int, code: str | None, when: dt.datetime | None = None, **fields) -> uuid.UUID:
    return add_finding(app, make_visit(app, site_id, when), code, **fields)


def get_finding(app, fid: uuid.UUID) -> Finding:
    with app.app_context():
        finding = db.session.get(Finding, fid)
        db.session.expunge(finding)
        return finding


def audit_actions(app, fid: uuid.UUID) -> list[str]:
    """The audit entries about a finding (its own and those of its order, case, reviews), in order."""
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [e.action for e in rows
                if (e.entity_type == "finding" and e.entity_id == str(fid))
                or (isinstance(e.summary, dict) and e.summary.get("finding") == str(fid))]


def stored_photo(app, photo_id: uuid.UUID | None = None) -> uuid.UUID:
    """A photo whose bytes the server holds (as the photo upload leaves it)."""
    pid = photo_id or uuid.uuid4()
    with app.app_context():
        photo = db.session.get(Photo, pid)
        if photo is None:
            photo = Photo(id=pid, status="stored", purpose="test")
            db.session.add(photo)
        photo.status = "stored"
        photo.sha256 = hashlib.sha256(pid.bytes).hexdigest()
        photo.received_at = utcnow()
        db.session.commit()
    return pid


def update_row(app, model, key, **columns) -> None:
    """Move a stored row's times or dates (the tests' way of letting a clock run)."""
    with app.app_context():
        row = db.session.get(model, key)
        for name, value in columns.items():
            setattr(row, name, value)
        db.session.commit()


class Desk:
    """A user at the desk: POSTs an action on a finding and answers the response."""

    def __init__(self, client, auth):
        self.client, self.auth = client, auth

    def act(self, user: str, fid, action: str, body: dict | None = None):
        return self.client.post(f"/api/findings/{fid}/{action}", json=body or {}, headers=self.auth.headers(user))

    def ok(self, user: str, fid, action: str, body: dict | None = None) -> dict:
        r = self.act(user, fid, action, body)
        assert r.status_code == 200, (action, r.status_code, r.get_json())
        return r.get_json()

"""Shared by the sync and today tests: the reference data the field needs (catalogue,
checklists, calendar), visit records as the phone makes them, and a digest of stored rows."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import sqlalchemy as sa

from server.domain.geo import destination

CST = dt.timezone(dt.timedelta(hours=8))
# The test world's EDZ sites (tests/world.py): name -> (lon, lat).
HENGDA = "仪征市恒达机械有限公司"
JIANGHAI = "仪征市江海包装有限公司"
RUNZE = "扬州润泽电子科技有限公司"
HUARUI = "仪征市华瑞化工有限公司"  # in CHEM
POINTS = {HENGDA: (119.160, 32.260), JIANGHAI: (119.170, 32.265), RUNZE: (119.180, 32.270),
          HUARUI: (119.210, 32.260)}


def load_field_data(app) -> dict:
    """Load the bundled catalogue, the starting checklists and the calendar into the app's
    database; answer the ids the tests use."""
    from server.extensions import db
    from server.models import Site, User
    from server.services import calendar, catalogue
    from server.services.demo import _store_checklists

    with app.app_context():
        catalogue.load_bundled(record_audit=False)
        calendar.load_bundled(record_audit=False)
        _store_checklists()
        db.session.commit()
        sites = dict(db.session.execute(sa.select(Site.name, Site.id)).all())
        users = dict(db.session.execute(sa.select(User.username, User.id)).all())
    return {"sites": sites, "users": users}


def now_cst() -> dt.datetime:
    return dt.datetime.now(CST).replace(microsecond=0)


def visit(site_id: int, officer_ids: list[int], **over) -> dict:
    """A visit record as the phone sends it: started 40 minutes ago, finished 10 minutes ago,
    a fix 20 m from the site's point unless `location` is given."""
    now = now_cst()
    rec = {
        "id": str(uuid.uuid4()), "site_id": site_id, "kind": "routine", "plan_stop_id": None,
        "officer_ids": officer_ids, "certificates_shown": True,
        "started_at": (now - dt.timedelta(minutes=40)).isoformat(),
        "finished_at": (now - dt.timedelta(minutes=10)).isoformat(),
        "location": None,
        "results": [{"item": "SAF-012", "outcome": "pass"}, {"item": "SAF-004", "outcome": "pass"}],
        "findings": [],
        "record": {"party_signature_photo_id": None, "party_refused": False},
    }
    rec.update(over)
    return rec


def fix_near(name: str, metres: float, accuracy_m: float | None = 8.0, bearing: float = 45.0) -> dict:
    lon, lat = POINTS[name]
    lon2, lat2 = destination(lon, lat, bearing, metres)
    return {"lon": lon2, "lat": lat2, "accuracy_m": accuracy_m}


def finding(**over) -> dict:
    f = {"id": str(uuid.uuid4()), "item": "SAF-012", "violation_code": "SAF-EXIT-BLOCKED", "domain": "safety",
         "severity": "minor", "harm": "none", "intentional": False, "corrected_on_spot": True,
         "note": "pallets in the exit, moved", "photo_ids": []}
    f.update(over)
    return f


def failing(rec: dict, *items: str) -> dict:
    """Mark these items failed in the record's results (a finding goes with a fail)."""
    results = {r["item"]: r for r in rec["results"]}
    for item in items:
        results[item] = {"item": item, "outcome": "fail"}
    rec["results"] = list(results.values())
    return rec


def post_sync(client, headers, visits, device_id="phone-1"):
    return client.post("/api/sync", json={"device_id": device_id, "visits": visits}, headers=headers)


def count_rows(app, *models) -> dict:
    from server.extensions import db

    with app.app_context():
        return {m.__tablename__ if hasattr(m, "__tablename__") else m.name:
                db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one() for m in models}


def database_digest(app) -> str:
    """SHA-256 over every row of every table, in primary-key order: equal digests, nothing changed."""
    from server.extensions import db

    h = hashlib.sha256()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            for row in db.session.execute(sa.select(table).order_by(*order)):
                h.update(repr((table.name, tuple(str(v) for v in row))).encode())
        db.session.rollback()
    return h.hexdigest()

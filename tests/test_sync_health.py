"""Sync health: a phone's report after each sync attempt, and the supervisor's list of the
inspectors of their parks with the phones that need a person (silent with items waiting, an
old outbox, storage the browser may evict or nearly full, records held or in conflict)."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import sqlalchemy as sa

from server.extensions import db
from server.models import SyncConflict, User, Visit
from server.models.types import utcnow


def report(client, auth, user="insp1", **fields) -> dict:
    body = {"device_id": "pwa-phone-1", **fields}
    r = client.post("/api/devices/report", json=body, headers=auth.headers(user))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def health(client, auth, user="sup1", **query) -> dict:
    r = client.get("/api/sync-health", query_string=query, headers=auth.headers(user))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def row(answer, username, device="pwa-phone-1") -> dict | None:
    for item in answer["items"]:
        if item["username"] == username:
            return next((d for d in item["devices"] if d["device_id"] == device), None)
    return None


def test_a_phone_with_an_old_outbox_and_evictable_storage_needs_attention(client, auth):
    old = (utcnow() - dt.timedelta(hours=30)).isoformat()
    report(client, auth, outbox_records=2, outbox_photos=5, oldest_item_at=old, quota_bytes=1_000_000,
           usage_bytes=900_000, persisted=False, app_version="fc-shell-abc", last_sync_error="offline")
    report(client, auth, "insp2", device_id="pwa-phone-2", persisted=True, quota_bytes=10**9, usage_bytes=10**6)
    answer = health(client, auth)
    d = row(answer, "insp1")
    assert d["needs_attention"] and set(d["reasons"]) == {"old_outbox", "not_persistent", "near_quota"}
    assert (d["outbox_records"], d["outbox_photos"], d["app_version"]) == (2, 5, "fc-shell-abc")
    assert d["last_contact_at"] == d["reported_at"] and d["last_sync_error"] == "offline"
    fine = row(answer, "insp2", "pwa-phone-2")
    assert fine["needs_attention"] is False and fine["reasons"] == []
    names = {i["username"] for i in answer["items"]}
    assert {"insp1", "insp2", "aux1"} <= names and "insp_chem" not in names  # sup1 sees EDZ only
    assert answer["needing_attention"] == 1
    only = health(client, auth, attention="true")
    assert [i["username"] for i in only["items"]] == ["insp1"]
    # A later report overwrites the earlier one: the outbox went, storage is now kept.
    report(client, auth, outbox_records=0, outbox_photos=0, persisted=True, quota_bytes=10**9, usage_bytes=10**6)
    assert row(health(client, auth), "insp1")["needs_attention"] is False
    everyone = health(client, auth, "admin1")
    assert "insp_chem" in {i["username"] for i in everyone["items"]}


def test_silence_while_items_wait_is_flagged_only_after_the_threshold(app, client, auth):
    from server.services import devices

    report(client, auth, outbox_records=1, oldest_item_at=utcnow().isoformat(), persisted=True)
    with app.app_context():
        soon = devices.health(None, now=utcnow() + dt.timedelta(hours=7))
        late = devices.health(None, now=utcnow() + dt.timedelta(hours=9))
    assert row(soon, "insp1")["reasons"] == []
    assert row(late, "insp1")["reasons"] == ["silent"]
    # With nothing waiting, silence is just a day off.
    report(client, auth, outbox_records=0, persisted=True)
    with app.app_context():
        assert row(devices.health(None, now=utcnow() + dt.timedelta(days=3)), "insp1")["reasons"] == []


def test_conflicts_and_held_records_need_a_person_and_visits_count_as_contact(app, client, auth):
    with app.app_context():
        insp2 = db.session.execute(sa.select(User).where(User.username == "insp2")).scalar_one()
        db.session.add(SyncConflict(record_id=uuid.uuid4(), device_id="pwa-shared", user_id=insp2.id,
                                    content_hash="0" * 64, payload={}))
        site_id = db.session.execute(sa.text("SELECT min(id) FROM sites")).scalar()
        vid = uuid.uuid4()
        received = utcnow() - dt.timedelta(hours=2)
        db.session.add(Visit(id=vid, site_id=site_id, kind="routine", recorded_by=insp2.id, device_id="pwa-shared",
                             started_at=received - dt.timedelta(hours=1), received_at=received,
                             content_hash=hashlib.sha256(vid.bytes).hexdigest(), payload={}))
        db.session.commit()
    d = row(health(client, auth), "insp2", "pwa-shared")
    assert d["reported_at"] is None and d["conflicts"] == 1 and d["reasons"] == ["conflicts"]
    assert d["last_contact_at"] == d["last_visit_received_at"] is not None
    report(client, auth, "insp2", device_id="pwa-shared", held=2, persisted=True)
    d = row(health(client, auth), "insp2", "pwa-shared")
    assert set(d["reasons"]) == {"conflicts", "held"} and d["last_contact_at"] == d["reported_at"]
    with app.app_context():
        db.session.execute(sa.update(SyncConflict).values(resolved_at=utcnow()))
        db.session.commit()
    assert row(health(client, auth), "insp2", "pwa-shared")["reasons"] == ["held"]


def test_reports_are_checked_and_scoped(client, auth):
    for bad in ({"device_id": ""}, {"device_id": "x" * 65}, {"device_id": "p", "quota_bytes": -1},
                {"device_id": "p", "outbox_records": "many"}, {"device_id": "p", "oldest_item_at": "2026-11-26T10:00:00"},
                {"device_id": "p", "surprise": 1}):
        r = client.post("/api/devices/report", json=bad, headers=auth.headers("insp1"))
        assert r.status_code == 422, (bad, r.get_json())
    # Each inspector's report is their own row, even on a shared phone.
    report(client, auth, "insp1", device_id="pwa-shared", outbox_records=4)
    report(client, auth, "insp2", device_id="pwa-shared", outbox_records=0)
    answer = health(client, auth)
    assert row(answer, "insp1", "pwa-shared")["outbox_records"] == 4
    assert row(answer, "insp2", "pwa-shared")["outbox_records"] == 0
    report(client, auth, "insp_chem", device_id="pwa-chem", persisted=False)
    assert row(health(client, auth, "sup1"), "insp_chem", "pwa-chem") is None
    assert row(health(client, auth, "admin1"), "insp_chem", "pwa-chem")["reasons"] == ["not_persistent"]

"""The admin's APIs: people (roles, parks, certificates, conflicts, leave, password resets,
disabling), the certificate rule and its 30-day warning, checklist versions, the catalogue by
day, the policy's history and the audit trail. Each change must leave an audit entry naming who."""
from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.sync_helpers import HENGDA, finding, failing, load_field_data, now_cst, post_sync, visit
from tests.world import PASSWORD

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the bureau's day, which the server counts in


def _ids(app) -> dict:
    from server.extensions import db
    from server.models import Park, Site, User

    with app.app_context():
        return {
            "users": dict(db.session.execute(sa.select(User.username, User.id)).all()),
            "parks": dict(db.session.execute(sa.select(Park.code, Park.id)).all()),
            "sites": dict(db.session.execute(sa.select(Site.name, Site.id)).all()),
        }


def _audit(app, action: str, entity_type: str | None = None, entity_id=None) -> list:
    from server.extensions import db
    from server.models import AuditEntry

    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if entity_type:
            query = query.where(AuditEntry.entity_type == entity_type)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == str(entity_id))
        return [(e.actor_id, e.summary) for e in db.session.execute(query).scalars()]


def _refused(resp, status: int, words: str):
    body = resp.get_json()
    assert resp.status_code == status, (resp.status_code, body)
    text = body["message"] + " " + repr(body.get("errors"))
    assert words in text, text
    return body


def _login(client, username, password):
    return client.post("/api/auth/token", json={"username": username, "password": password})


# --- people --------------------------------------------------------------------------------


def test_an_admin_adds_a_user_whose_made_password_is_shown_once_and_works(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)
    r = client.post("/api/users", headers=admin, json={
        "username": "insp9", "name": "王九", "role": "inspector", "park_ids": [ids["parks"]["EDZ"]],
        "certificate_no": "JS-3210-0099", "certificate_expires": (TODAY + dt.timedelta(days=200)).isoformat(),
        "certified_domains": ["safety"]})
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert len(made["password"]) >= 10 and made["parks"] == ["EDZ"] and made["certified_today"] is True
    assert _login(client, "insp9", made["password"]).status_code == 201
    # Shown once: reading the user again never shows it.
    again = client.get(f"/api/users/{made['id']}", headers=admin).get_json()
    assert "password" not in again
    [(actor, summary)] = _audit(app, "user.create", "user", made["id"])
    assert actor == ids["users"]["admin1"] and summary["username"] == "insp9"
    # The list finds them by name, role and park; a taken username is a 409 naming it.
    found = client.get("/api/users?q=王九", headers=admin).get_json()["items"]
    assert [u["username"] for u in found] == ["insp9"]
    listed = client.get(f"/api/users?role=inspector&park_id={ids['parks']['CHEM']}", headers=admin).get_json()
    assert [u["username"] for u in listed["items"]] == ["insp_chem"] and listed["warning_days"] == 30
    _refused(client.post("/api/users", headers=admin, json={"username": "insp9", "name": "x", "role": "inspector"}),
             409, "is taken")


def test_bad_people_requests_are_refused_with_what_to_fix(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)
    insp2 = ids["users"]["insp2"]
    _refused(client.post("/api/users", headers=admin, json={"username": "x1", "name": "x", "role": "mayor"}),
             422, "a role is one of")
    _refused(client.post("/api/users", headers=admin, json={"username": "x1", "name": "x", "role": "inspector",
                                                             "password": "short"}), 422, "10 to 200")
    # Another officer's certificate number (blanks and case do not make it another), a number without an
    # expiry, a certificate on auxiliary staff, an unknown park, an unknown user.
    _refused(client.patch(f"/api/users/{insp2}", headers=admin, json={"certificate_no": " js-3210-0001"}),
             409, "already insp1's")
    _refused(client.patch(f"/api/users/{insp2}", headers=admin, json={"certificate_expires": None}),
             422, "needs its expiry date")
    _refused(client.patch(f"/api/users/{insp2}", headers=admin, json={"auxiliary": True}), 422, "auxiliary staff")
    _refused(client.patch(f"/api/users/{insp2}", headers=admin, json={"park_ids": [999999]}), 422, "no park with id")
    _refused(client.patch("/api/users/999999", headers=admin, json={"phone": "1"}), 404, "no user with id")
    _refused(client.patch(f"/api/users/{insp2}", headers=admin, json={}), 422, "at least one field")
    assert _audit(app, "user.update") == []


def test_an_admin_edits_role_parks_certificate_and_every_change_is_audited(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)
    insp2 = ids["users"]["insp2"]
    expires = (TODAY + dt.timedelta(days=100)).isoformat()
    r = client.patch(f"/api/users/{insp2}", headers=admin, json={
        "role": "supervisor", "park_ids": [ids["parks"]["EDZ"], ids["parks"]["CHEM"]],
        "certificate_no": "JS-3210-0777", "certificate_expires": expires})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["role"] == "supervisor" and body["parks"] == ["CHEM", "EDZ"]
    assert body["certificate_no"] == "JS-3210-0777" and body["certificate_expires"] == expires
    [(actor, summary)] = _audit(app, "user.update", "user", insp2)
    assert actor == ids["users"]["admin1"]
    assert summary["before"]["role"] == "inspector" and summary["after"]["role"] == "supervisor"
    assert summary["after"]["certificate_expires"] == expires
    # The same values again change nothing and write nothing.
    client.patch(f"/api/users/{insp2}", headers=admin, json={"role": "supervisor"})
    assert len(_audit(app, "user.update", "user", insp2)) == 1
    # The new scope is what the user now sees.
    parks = client.get("/api/parks", headers=auth.headers("insp2")).get_json()["items"]
    assert {p["code"] for p in parks} == {"EDZ", "CHEM"}


def test_a_password_reset_revokes_the_old_tokens_and_the_old_password(client, auth, app):
    admin = auth.headers("admin1")
    insp1 = _ids(app)["users"]["insp1"]
    old = auth.headers("insp1")
    assert client.get("/api/parks", headers=old).status_code == 200
    r = client.post(f"/api/users/{insp1}/reset-password", headers=admin, json={})
    assert r.status_code == 200 and r.get_json()["generated"] is True
    made = r.get_json()["password"]
    assert client.get("/api/parks", headers=old).status_code == 401
    assert _login(client, "insp1", PASSWORD).status_code == 401
    assert _login(client, "insp1", made).status_code == 201
    # Set by the admin: not echoed back.
    r = client.post(f"/api/users/{insp1}/reset-password", headers=admin, json={"password": "chosen-by-admin-1"})
    assert r.get_json()["password"] is None and _login(client, "insp1", "chosen-by-admin-1").status_code == 201
    assert [a for a, _s in _audit(app, "user.reset_password", "user", insp1)] == [_ids(app)["users"]["admin1"]] * 2


def test_a_disabled_user_cannot_log_in_and_their_tokens_stop_working(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)
    sup = auth.headers("sup1")
    r = client.post(f"/api/users/{ids['users']['sup1']}/disable", headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is False
    resp = client.get("/api/findings", headers=sup)
    assert resp.status_code == 401 and "revoked" in resp.get_json()["message"]
    assert _login(client, "sup1", PASSWORD).status_code == 401
    assert [u["username"] for u in client.get("/api/users?active=false", headers=admin).get_json()["items"]] == ["sup1"]
    assert _audit(app, "user.disable", "user", ids["users"]["sup1"])[0][0] == ids["users"]["admin1"]
    # An admin cannot lock themselves out; enabling lets the user log in again.
    _refused(client.post(f"/api/users/{ids['users']['admin1']}/disable", headers=admin), 409, "another admin")
    client.post(f"/api/users/{ids['users']['sup1']}/enable", headers=admin)
    assert _login(client, "sup1", PASSWORD).status_code == 201


def test_conflicts_and_leave_are_recorded_refused_when_repeated_and_shown_in_the_calendar(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)
    insp1, site = ids["users"]["insp1"], ids["sites"][HENGDA]
    r = client.post(f"/api/users/{insp1}/conflicts", headers=admin, json={"site_id": site, "reason": "妻子任法人"})
    assert r.status_code == 201 and r.get_json()["conflicts"][0]["site_name"] == HENGDA
    _refused(client.post(f"/api/users/{insp1}/conflicts", headers=admin, json={"site_id": site, "reason": "x"}),
             409, "already declared")
    _refused(client.post(f"/api/users/{insp1}/conflicts", headers=admin, json={"site_id": 999999, "reason": "x"}),
             422, "no site with id")
    start, end = TODAY + dt.timedelta(days=3), TODAY + dt.timedelta(days=7)
    r = client.post(f"/api/users/{insp1}/leaves", headers=admin,
                    json={"start_date": start.isoformat(), "end_date": end.isoformat(), "note": "年假"})
    assert r.status_code == 201
    leave_id = r.get_json()["leaves"][0]["id"]
    _refused(client.post(f"/api/users/{insp1}/leaves", headers=admin,
                         json={"start_date": end.isoformat(), "end_date": (end + dt.timedelta(days=2)).isoformat()}),
             409, "already on leave")
    _refused(client.post(f"/api/users/{insp1}/leaves", headers=admin,
                         json={"start_date": end.isoformat(), "end_date": start.isoformat()}), 422, "before it starts")
    calendar = f"/api/leaves?from={TODAY.isoformat()}&to={(TODAY + dt.timedelta(days=30)).isoformat()}"
    for who in ("admin1", "sched1"):
        items = client.get(calendar, headers=auth.headers(who)).get_json()["items"]
        assert [(i["username"], i["start_date"]) for i in items] == [("insp1", start.isoformat())]
    # sup_chem shares no park with insp1: the calendar shows them nothing of insp1's.
    assert client.get(calendar, headers=auth.headers("sup_chem")).get_json()["items"] == []
    _refused(client.get(f"/api/leaves?from={TODAY.isoformat()}&to=2099-01-01", headers=admin), 422, "at most a year")
    assert client.delete(f"/api/users/{insp1}/leaves/{leave_id}", headers=admin).get_json()["leaves"] == []
    _refused(client.delete(f"/api/users/{insp1}/leaves/{leave_id}", headers=admin), 404, "has no leave")
    actions = [a for a in ("user.conflict.add", "user.leave.add", "user.leave.remove") if _audit(app, a, "user", insp1)]
    assert len(actions) == 3


# --- certificates --------------------------------------------------------------------------


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aux=st.booleans(), number=st.sampled_from([None, "", "  ", "JS-1", " js 1 "]),
       offset=st.one_of(st.none(), st.integers(-400, 400)))
def test_one_certificate_rule_for_users_the_planner_and_the_domain(aux, number, offset):
    """User.certified_on and the planner's Officer.certified_on answer with domain.certificates: a
    certificate is valid through its expiry day, never for auxiliary staff, never without a number."""
    from server.domain import certificates
    from server.domain.planning.teams import Officer
    from server.models import User

    day = dt.date(2026, 11, 26)
    expires = None if offset is None else day + dt.timedelta(days=offset)
    user = User(id=1, name="x", auxiliary=aux, certificate_no=number, certificate_expires=expires, active=True)
    expected = (not aux and bool((number or "").strip()) and expires is not None and expires >= day)
    assert user.certified_on(day) is expected
    assert Officer.of(user).certified_on(day) is expected
    assert certificates.certified_on(aux, number, expires, day) is expected
    state = certificates.status(aux, number, expires, day, 30)
    assert (state in ("valid", "expiring")) is expected


def _set_expiry(client, admin, user_id, days):
    r = client.patch(f"/api/users/{user_id}", headers=admin,
                     json={"certificate_expires": (TODAY + dt.timedelta(days=days)).isoformat()})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_an_expired_certificate_set_by_the_admin_is_not_counted_for_enforcement(client, auth, app):
    """The admin's people screen and the sync of an enforcement-capable visit use the same rule."""
    field = load_field_data(app)
    admin = auth.headers("admin1")
    insp1, insp2 = field["users"]["insp1"], field["users"]["insp2"]
    row = _set_expiry(client, admin, insp2, -1)
    assert row["certificate_status"] == "expired" and row["certified_today"] is False
    assert row["certificate_days_left"] == -1
    rec = failing(visit(field["sites"][HENGDA], [insp1, insp2], findings=[finding()]), "SAF-012")
    # The certificate is judged on the visit's day in Beijing: keep the visit inside today even just after midnight.
    now = now_cst()
    rec["started_at"] = max(now - dt.timedelta(minutes=2), now.replace(hour=0, minute=0, second=0, microsecond=0)).isoformat()
    rec["finished_at"] = now.isoformat()
    [result] = post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"]
    assert result["status"] == "rejected" and "which expired on" in result["message"]
    # Valid through the day it expires: renewed to today, the same visit is accepted with both counted.
    assert _set_expiry(client, admin, insp2, 0)["certified_today"] is True
    [result] = post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"]
    assert result["status"] == "created", result


def test_the_warning_lists_certificates_expiring_within_the_policy_window(client, auth, app):
    admin = auth.headers("admin1")
    ids = _ids(app)["users"]
    _set_expiry(client, admin, ids["insp1"], 10)     # expiring
    _set_expiry(client, admin, ids["insp2"], 31)     # outside 30 days
    _set_expiry(client, admin, ids["insp_chem"], -2)  # expired
    client.post("/api/users", headers=admin, json={   # expiring, but disabled: nobody to warn about
        "username": "gone1", "name": "gone1", "role": "inspector", "certificate_no": "JS-GONE",
        "certificate_expires": (TODAY + dt.timedelta(days=5)).isoformat()})
    client.post(f"/api/users/{_ids(app)['users']['gone1']}/disable", headers=admin)
    warning = client.get("/api/certificates/expiring", headers=admin).get_json()
    assert [(u["username"], u["certificate_status"]) for u in warning["items"]] == [
        ("insp_chem", "expired"), ("insp1", "expiring")]
    assert (warning["expiring"], warning["expired"], warning["warning_days"]) == (1, 1, 30)
    assert [u["username"] for u in client.get("/api/users?certificate=expiring&active=true", headers=admin).get_json()["items"]] \
        == ["insp1"]
    # The window is a policy knob: widened to 40 days, insp2 is warned about too.
    r = client.patch("/api/policy", headers=admin, json={"values": {"certificate_warning_days": 40},
                                                          "reason": "人事处要求提前六周提醒换证"})
    assert r.status_code == 200
    warning = client.get("/api/certificates/expiring", headers=admin).get_json()
    assert [u["username"] for u in warning["items"]] == ["insp_chem", "insp1", "insp2"]


def test_the_daily_job_records_each_warning_once(client, auth, app):
    from server.jobs import jobs
    from server.services.users import warn_expiring_certificates

    admin = auth.headers("admin1")
    ids = _ids(app)["users"]
    _set_expiry(client, admin, ids["insp1"], 10)
    _set_expiry(client, admin, ids["insp_chem"], -2)
    assert "certificate-warnings" in [name for name, _t, _f in jobs(app)]
    with app.app_context():
        assert warn_expiring_certificates() == {"expiring": 1, "expired": 1, "warned": 2}
        assert warn_expiring_certificates()["warned"] == 0
    [(actor, summary)] = _audit(app, "certificate.expiring", "user", ids["insp1"])
    assert actor is None and summary["days_left"] == 10 and summary["username"] == "insp1"
    assert _audit(app, "certificate.expired", "user", ids["insp_chem"])
    # A renewed certificate that runs out again is warned about again.
    _set_expiry(client, admin, ids["insp1"], 20)
    with app.app_context():
        assert warn_expiring_certificates()["warned"] == 1


# --- checklists ----------------------------------------------------------------------------


def _safety(client, headers) -> dict:
    [row] = client.get("/api/checklists?code=SAFETY", headers=headers).get_json()["items"]
    return row


def test_a_checklist_is_versioned_edited_and_published_and_a_published_version_never_changes(client, auth, app):
    field = load_field_data(app)
    admin = auth.headers("admin1")
    v1 = _safety(client, admin)
    assert v1["status"] == "published" and v1["editable"] is False
    v1_items = client.get(f"/api/checklists/{v1['id']}", headers=admin).get_json()["items"]
    # A visit made with version 1 (the phone names it) keeps it.
    rec = visit(field["sites"][HENGDA], [field["users"]["insp1"], field["users"]["insp2"]], checklist_id=v1["id"])
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"

    _refused(client.patch(f"/api/checklists/{v1['id']}", headers=admin, json={"name_en": "x"}), 409,
             "make a new version")
    r = client.post(f"/api/checklists/{v1['id']}/versions", headers=admin)
    assert r.status_code == 201, r.get_json()
    v2 = r.get_json()
    assert (v2["version"], v2["status"], v2["editable"]) == (2, "draft", True)
    assert [i["code"] for i in v2["items"]] == [i["code"] for i in v1_items]
    _refused(client.post(f"/api/checklists/{v1['id']}/versions", headers=admin), 409, "already has a draft")

    items = [{k: i[k] for k in ("code", "domain", "text_zh", "text_en", "legal_basis", "violation_codes")}
             for i in v2["items"]]
    items[0]["text_zh"] = "安全出口、疏散通道畅通，无堵塞、锁闭"
    items[0]["violation_codes"] = ["SAF-EXIT-BLOCKED"]
    items.pop()
    items.append({"code": "SAF-099", "domain": "safety", "text_zh": "新增检查项", "legal_basis": "《安全生产法》第四十一条"})
    _refused(client.patch(f"/api/checklists/{v2['id']}", headers=admin,
                          json={"items": items + [{**items[-1]}]}), 422, "appears twice")
    _refused(client.patch(f"/api/checklists/{v2['id']}", headers=admin,
                          json={"items": [{**items[0], "violation_codes": ["NO-SUCH-CODE"]}]}), 422, "NO-SUCH-CODE")
    r = client.patch(f"/api/checklists/{v2['id']}", headers=admin, json={"items": items})
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert edited["items"][0]["violation_codes"] == ["SAF-EXIT-BLOCKED"] and edited["items"][-1]["code"] == "SAF-099"
    assert [i["position"] for i in edited["items"]] == list(range(1, len(items) + 1))

    r = client.post(f"/api/checklists/{v2['id']}/publish", headers=admin)
    assert r.status_code == 200 and r.get_json()["status"] == "published"
    _refused(client.post(f"/api/checklists/{v2['id']}/publish", headers=admin), 409, "only a draft")
    versions = {c["version"]: c for c in client.get("/api/checklists?code=SAFETY", headers=admin).get_json()["items"]}
    assert versions[1]["status"] == "retired" and versions[1]["visits"] == 1 and versions[2]["visits"] == 0
    # Version 1 is as it was; the phone's day now carries version 2.
    assert client.get(f"/api/checklists/{v1['id']}", headers=admin).get_json()["items"] == v1_items
    day = client.get("/api/me/today", headers=auth.headers("insp1")).get_json()
    [safety] = [c for c in day["checklists"] if c["code"] == "SAFETY"]
    assert safety["version"] == 2 and safety["items"][-1]["code"] == "SAF-099"
    assert safety["items"][0]["violation_codes"] == ["SAF-EXIT-BLOCKED"]
    # A visit naming the retired version still syncs with it; an item it lacks is refused.
    old = visit(field["sites"][HENGDA], [field["users"]["insp1"], field["users"]["insp2"]], checklist_id=v1["id"],
                results=[{"item": "SAF-099", "outcome": "pass"}])
    [res] = post_sync(client, auth.headers("insp1"), [old]).get_json()["results"]
    assert res["status"] == "rejected" and "SAF-099 is not an item of checklist SAFETY version 1" in res["message"]
    from server.extensions import db
    from server.models import Visit

    with app.app_context():
        assert db.session.get(Visit, uuid.UUID(rec["id"])).checklist_template_id == v1["id"]
    assert [s["version"] for _a, s in _audit(app, "checklist.new_version")] == [2]
    assert _audit(app, "checklist.edit")[0][1]["items"]["added"] == ["SAF-099"]
    assert _audit(app, "checklist.publish")[0][1]["retired_versions"] == [1]


def test_a_visit_without_a_checklist_id_records_the_version_that_holds_its_items(client, auth, app):
    field = load_field_data(app)
    rec = visit(field["sites"][HENGDA], [field["users"]["insp1"], field["users"]["insp2"]])
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"
    from server.extensions import db
    from server.models import ChecklistTemplate, Visit

    with app.app_context():
        template = db.session.get(ChecklistTemplate, db.session.get(Visit, uuid.UUID(rec["id"])).checklist_template_id)
        assert (template.code, template.version) == ("SAFETY", 1)


def test_an_empty_draft_cannot_be_published(client, auth, app):
    load_field_data(app)
    admin = auth.headers("admin1")
    v2 = client.post(f"/api/checklists/{_safety(client, admin)['id']}/versions", headers=admin).get_json()
    assert client.patch(f"/api/checklists/{v2['id']}", headers=admin, json={"items": []}).status_code == 200
    _refused(client.post(f"/api/checklists/{v2['id']}/publish", headers=admin), 422, "has no items")
    _refused(client.get("/api/checklists/999999", headers=admin), 404, "no checklist version")


# --- the catalogue, the policy, the audit trail, a site's history --------------------------


def test_the_catalogue_lists_the_rows_in_force_on_the_chosen_day(client, auth, app):
    from server.extensions import db
    from server.services import catalogue

    load_field_data(app)
    with app.app_context():
        old = catalogue.in_force("SAF-EXIT-BLOCKED", TODAY)
        row = {c.key: getattr(old, c.key) for c in old.__table__.columns if c.key not in ("id", "effective_to")}
        catalogue.load_rows([{**row, "effective_from": dt.date(2030, 1, 1), "correction_days": 3}])
        db.session.commit()
    headers = auth.headers("insp1")
    now = client.get("/api/catalogue?q=SAF-EXIT-BLOCKED", headers=headers).get_json()
    later = client.get("/api/catalogue?on=2030-06-01&q=SAF-EXIT-BLOCKED", headers=headers).get_json()
    assert [(r["code"], r["correction_days"]) for r in later["items"]] == [("SAF-EXIT-BLOCKED", 3)]
    assert now["items"][0]["correction_days"] != 3 and now["items"][0]["effective_to"] == "2029-12-31"
    assert later["items"][0]["versions"] == 2
    fire = client.get("/api/catalogue?domain=fire", headers=headers).get_json()["items"]
    assert fire and {r["domain"] for r in fire} == {"fire"}
    _refused(client.get("/api/catalogue?on=yesterday", headers=headers), 422, "date")


def test_a_policy_change_shows_its_reason_in_the_history_and_the_audit_trail(client, auth, app):
    admin = auth.headers("admin1")
    admin_id = _ids(app)["users"]["admin1"]
    _refused(client.patch("/api/policy", headers=admin, json={"values": {"geofence_radius_m": 200}, "reason": " "}),
             422, "reason")
    r = client.patch("/api/policy", headers=admin, json={"values": {"geofence_radius_m": 200},
                                                          "reason": "山区园区定位偏差大，放宽到200米"})
    assert r.status_code == 200 and r.get_json()["changed"] is True
    history = client.get("/api/policy/versions", headers=auth.headers("insp1")).get_json()
    newest = history["items"][0]
    assert newest["reason"] == "山区园区定位偏差大，放宽到200米" and newest["created_by_name"] == "admin1"
    assert newest["changes"] == {"geofence_radius_m": {"from": 150, "to": 200}}
    assert history["defaults"]["certificate_warning_days"] == 30
    trail = client.get("/api/audit?entity_type=policy", headers=admin).get_json()["items"]
    change = next(e for e in trail if e["action"] == "policy.change")
    assert change["actor_id"] == admin_id and change["summary"]["reason"] == "山区园区定位偏差大，放宽到200米"
    assert change["summary"]["changes"]["geofence_radius_m"] == {"from": 150, "to": 200}


def test_the_audit_trail_pages_newest_first(client, auth, app):
    admin = auth.headers("admin1")
    for n in range(3):
        client.patch("/api/policy", headers=admin, json={"values": {"clock_warning_days": n + 4}, "reason": f"r{n}"})
    first = client.get("/api/audit?action=policy.change&limit=2", headers=admin).get_json()
    assert [e["summary"]["reason"] for e in first["items"]] == ["r2", "r1"]
    rest = client.get(f"/api/audit?action=policy.change&limit=2&before_id={first['next_before_id']}",
                      headers=admin).get_json()
    assert [e["summary"]["reason"] for e in rest["items"]] == ["r0"] and rest["next_before_id"] is None
    _refused(client.get("/api/audit?limit=0", headers=admin), 422, "limit")


def test_a_sites_history_shows_its_visits_findings_and_moves(client, auth, app):
    field = load_field_data(app)
    admin = auth.headers("admin1")
    site = field["sites"][HENGDA]
    rec = failing(visit(site, [field["users"]["insp1"], field["users"]["insp2"]], findings=[finding()]), "SAF-012")
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"
    assert client.patch(f"/api/sites/{site}", headers=admin, json={"lon": 119.1605, "lat": 32.2603}).status_code == 200
    history = client.get(f"/api/sites/{site}/history", headers=admin).get_json()
    assert [v["id"] for v in history["visits"]] == [rec["id"]]
    assert history["visits"][0]["checklist_code"] == "SAFETY"
    assert [f["violation_code"] for f in history["findings"]] == ["SAF-EXIT-BLOCKED"]
    assert history["changes"][0]["summary"]["after"] == {"lon": 119.1605, "lat": 32.2603}
    assert client.get(f"/api/sites/{site}/history", headers=auth.headers("insp_chem")).status_code == 403
    _refused(client.get("/api/sites/999999/history", headers=admin), 404, "no site")

"""The finding's life through the API, as a supervisor and the legal reviewer live it: an order that
fails and escalates into a case, the full no-penalty path, a flagged finding cleared by the legal
reviewer; every step audited, and every action refused with a 4xx that says why when the role,
the park, the state, the clock or the two-officer rule does not allow it. And the policy API."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from server.domain.policy import default_policy
from server.extensions import db
from server.models import Case, Order, Reinspection, ToleranceRecord, User
from server.models.types import utcnow
from tests.findings_helpers import (
    Desk, audit_actions, finding_at, get_finding, load_reference, make_visit, stored_photo, update_row,
)

YEAR = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year


@pytest.fixture
def world(app):
    return load_reference(app)


@pytest.fixture
def desk(client, auth):
    return Desk(client, auth)


def _refused(resp, status: int, *words: str) -> dict:
    body = resp.get_json()
    assert resp.status_code == status, (resp.status_code, body)
    assert body["message"]
    for word in words:
        assert word in body["message"], (word, body["message"])
    if status == 409:
        assert isinstance(body["allowed_next"], list)
    return body


def _edz(world) -> int:
    return world["sites"]["EDZ"][0]


def _uid(world, name: str) -> int:
    return world["users"][name]


# --- the three paths of the issue ----------------------------------------------------------------


def test_order_fails_escalates_and_becomes_a_decided_case(app, desk, world):
    fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")  # W09: management T4
    _refused(desk.act("sup1", fid, "issue-order"), 409, "confirm")
    assert desk.act("sup1", fid, "issue-order").get_json()["allowed_next"] == ["confirm-tier", "change-tier"]
    state = desk.ok("sup1", fid, "confirm-tier", {"note": "frayed wiring seen on the photos"})
    assert state["status"] == "open" and "issue-order" in state["allowed_next"]
    state = desk.ok("sup1", fid, "issue-order")
    order = state["order"]
    assert state["status"] == "order_issued" and order["number"] == f"仪执责改〔{YEAR}〕0001号"
    assert state["next_deadline"] == order["deadline"]
    assert dt.date.fromisoformat(order["reinspection_due"]) >= dt.date.fromisoformat(order["deadline"]) + dt.timedelta(days=10)
    desk.ok("sup1", fid, "record-commitment", {"commitment": "signed"})
    _refused(desk.act("sup1", fid, "record-commitment", {"commitment": "refused"}), 409, "already recorded")
    photo = str(uuid.uuid4())
    state = desk.ok("sup1", fid, "record-reinspection", {"outcome": "failed", "photo_ids": [photo],
                                                         "note": "the wiring is as it was"})
    # Automatic escalation, rule E4: both tiers kept, the suggestion untouched.
    assert (state["status"], state["suggested_tier"], state["final_tier"], state["rule_id"]) == (
        "escalated", "management", "enforcement", "T4")
    assert state["tier_reason"].startswith("E4") and state["order"]["status"] == "failed"
    assert state["allowed_next"] == ["change-tier", "file-case"]
    state = desk.ok("sup1", fid, "file-case", {"investigator_ids": [_uid(world, "insp1"), _uid(world, "insp2")]})
    case = state["case"]
    assert state["status"] == "case_open" and case["number"] == f"仪执立〔{YEAR}〕0001号"
    filed = dt.date.fromisoformat(case["filed_at"][:10])
    assert 90 <= (dt.date.fromisoformat(case["decision_due"]) - filed).days <= 100
    decision = {"decision": "penalty", "note": "消防法第六十六条", "fine_yuan": 5000}
    body = _refused(desk.act("sup1", fid, "case/decide", decision), 409, "notice")
    assert body["allowed_next"] == ["case/notify", "case/transfer"]
    desk.ok("sup1", fid, "case/notify", {"statement": "the party says the electrician was booked"})
    _refused(desk.act("sup1", fid, "case/decide", decision), 409, "hearing")  # the party's 5 working days
    with app.app_context():
        case_id = db.session.execute(sa.select(Case.id)).scalar_one()
    update_row(app, Case, case_id, notified_at=utcnow() - dt.timedelta(days=30))
    _refused(desk.act("sup1", fid, "case/request-hearing"), 409, "could ask for a hearing until")
    state = desk.ok("sup1", fid, "case/decide", decision)
    assert state["case"]["decision"] == "penalty" and state["next_deadline"]  # the decision's service clock
    state = desk.ok("sup1", fid, "case/serve")
    _refused(desk.act("sup1", fid, "case/record-enforcement"), 409, "may pay until")
    _refused(desk.act("sup1", fid, "case/close"), 409, "neither paid nor enforced")
    desk.ok("sup1", fid, "case/record-payment")
    state = desk.ok("sup1", fid, "case/close")
    assert state["status"] == "closed" and state["allowed_next"] == []
    assert audit_actions(app, fid) == [
        "finding.create", "finding.confirm_tier", "order.issue", "order.commitment", "order.reinspection",
        "finding.escalate", "case.file", "case.notify", "case.decide", "case.serve", "case.payment", "case.close"]
    verify = desk.client.get("/api/audit/verify", headers=desk.auth.headers("admin1")).get_json()
    assert verify["ok"] and verify["first_broken"] is None


def test_the_full_no_penalty_path_and_the_repeat_it_makes(app, desk, world):
    # W06 without correction on the spot: first-offence car washing, management with the no-penalty path.
    fid = finding_at(app, _edz(world), "CITY-CARWASH")
    f = get_finding(app, fid)
    assert (f.final_tier, f.rule_id, f.tolerance_path) == ("management", "T2", "no_penalty_if_corrected")
    desk.ok("sup1", fid, "confirm-tier")
    order = desk.ok("sup1", fid, "issue-order")["order"]
    _refused(desk.act("sup1", fid, "close", {"education": "x", "conditions_confirmed": True}), 409,
             "order's re-inspection passed")
    photo = uuid.uuid4()  # named now, its bytes still on the phone
    state = desk.ok("sup1", fid, "record-reinspection", {"outcome": "passed", "photo_ids": [str(photo)]})
    assert state["status"] == "open" and state["order"]["status"] == "passed"
    assert state["allowed_next"] == ["change-tier", "record-commitment", "close"]
    education = "explained the city-appearance rules; the owner moved washing indoors"
    body = _refused(desk.act("sup1", fid, "close", {"education": education}), 409, "cannot close without penalty")
    assert body["missing"] == ["conditions_confirmed", "commitment_letter", "reinspection_passed"]
    assert {i["key"] for i in body["checklist"]} >= {"row_in_force", "first_offence_lookup", "order_deadline"}
    stored_photo(app, photo)  # the upload arrives
    desk.ok("sup1", fid, "record-commitment", {"commitment": "refused", "note": "the owner would not sign"})
    body = _refused(desk.act("sup1", fid, "close", {"conditions_confirmed": True}), 409)
    assert body["missing"] == ["education_record"]
    state = desk.ok("sup1", fid, "close", {"education": education, "conditions_confirmed": True})
    assert state["status"] == "closed_no_penalty" and state["order"]["status"] == "closed"
    with app.app_context():
        ledger = db.session.execute(sa.select(ToleranceRecord).where(ToleranceRecord.finding_id == fid)).scalar_one()
        passed = db.session.execute(sa.select(Reinspection.id)).scalar_one()
        assert (ledger.order_id, ledger.reinspection_id) == (order["id"], passed)
        assert ledger.conditions_confirmed_by == _uid(world, "sup1") and ledger.education_record_id
        assert ledger.first_offence_lookup["repeats"] == 0
    assert audit_actions(app, fid)[-4:] == ["order.issue", "order.reinspection", "order.commitment", "finding.close"]
    # The ledger entry makes the next occurrence a repeat that cannot be waived again.
    again = get_finding(app, finding_at(app, _edz(world), "CITY-CARWASH"))
    assert again.earlier_tolerance_closed and (again.final_tier, again.rule_id) == ("enforcement", "T5")
    # Reopened in error: the ledger entry is withdrawn and the order waits to close again.
    state = desk.ok("sup1", fid, "reopen", {"reason": "closed on the wrong finding"})
    assert state["status"] == "open" and state["order"]["status"] == "passed"
    with app.app_context():
        assert db.session.execute(sa.select(ToleranceRecord)).scalar() is None
    assert desk.ok("sup1", fid, "close", {"education": education, "conditions_confirmed": True})["status"] == \
        "closed_no_penalty"


def test_the_legal_reviewer_clears_a_flagged_finding(app, desk, world):
    fid = finding_at(app, _edz(world), "SAF-EXIT-BLOCKED", corrected_on_spot=True)  # W01
    r = desk.client.get(f"/api/findings/{fid}/actions", headers=desk.auth.headers("sup1"))
    assert r.get_json() == {"status": "legal_review", "allowed_next": ["legal-review"], "yours": []}
    r = desk.client.get(f"/api/findings/{fid}/actions", headers=desk.auth.headers("legal1"))
    assert r.get_json()["yours"] == ["legal-review"]
    body = _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [_uid(world, "insp1"),
                                                                            _uid(world, "insp2")]}), 409)
    assert body["allowed_next"] == ["legal-review"]
    _refused(desk.act("sup1", fid, "confirm-tier"), 409)
    _refused(desk.act("sup1", fid, "legal-review", {"outcome": "no_penalty", "reason": "r"}), 403, "legal_reviewer")
    _refused(desk.act("legal1", fid, "legal-review", {"outcome": "no_penalty", "reason": "  "}), 422, "reason")
    state = desk.ok("legal1", fid, "legal-review", {
        "outcome": "no_penalty", "reason": "行政处罚法第三十三条第一款：轻微、当场改正、无危害后果"})
    assert (state["suggested_tier"], state["final_tier"], state["rule_id"]) == ("enforcement", "service", "X1")
    assert state["tier_reason"].startswith("行政处罚法") and state["allowed_next"] == ["change-tier", "close"]
    _refused(desk.act("sup1", fid, "close"), 422, "educated")
    state = desk.ok("sup1", fid, "close", {"education": "explained why exits stay clear"})
    assert state["status"] == "closed_no_penalty"
    assert audit_actions(app, fid) == ["finding.create", "finding.legal_review", "finding.close"]
    # The other outcome: enforcement confirmed, and only then a case.
    other = finding_at(app, _edz(world), "ENV-HW-LABEL", corrected_on_spot=True)  # W08
    desk.ok("legal1", other, "legal-review", {"outcome": "confirm_enforcement", "reason": "repeated warnings"})
    state = desk.ok("sup1", other, "file-case", {"investigator_ids": [_uid(world, "insp1"), _uid(world, "insp2")]})
    assert state["status"] == "case_open"


# --- refusals ----------------------------------------------------------------------------------


def test_role_and_park_are_checked_on_every_action(app, client, auth, desk, world):
    fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")
    for user in ("insp1", "sched1"):
        _refused(desk.act(user, fid, "confirm-tier"), 403, "supervisor")
    assert client.post(f"/api/findings/{fid}/confirm-tier", json={}).status_code == 401
    # sup_chem supervises the chemical park only.
    r = client.post("/api/auth/token", json={"username": "sup_chem", "password": "test-password-1"})
    chem = {"Authorization": f"Bearer {r.get_json()['token']}"}
    _refused(client.post(f"/api/findings/{fid}/confirm-tier", json={}, headers=chem), 403, "park")
    _refused(client.get(f"/api/findings/{fid}/actions", headers=chem), 403, "park")
    assert get_finding(app, fid).status == "awaiting_review"
    _refused(desk.act("sup1", uuid.uuid4(), "confirm-tier"), 404, "no finding")
    assert desk.act("sup1", "not-a-uuid", "confirm-tier").status_code == 404
    assert desk.ok("admin1", fid, "confirm-tier")["status"] == "open"  # an admin may do all


def test_the_two_officer_rule_on_filing(app, desk, world):
    fid = finding_at(app, _edz(world), "ENV-HIDDEN-PIPE", intentional=True)  # W12: enforcement E3
    desk.ok("sup1", fid, "confirm-tier")
    insp1, insp2, aux = _uid(world, "insp1"), _uid(world, "insp2"), _uid(world, "aux1")
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, insp1]}), 422, "same one")
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1]}), 422, "two investigators")
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, aux]}), 422, "auxiliary")
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, _uid(world, "sup1")]}), 422,
             "no law-enforcement certificate")
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, 999999]}), 422, "no active user")
    update_row(app, User, insp2, certificate_expires=dt.date.today() - dt.timedelta(days=400))
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, insp2]}), 422, "expired")
    assert get_finding(app, fid).status == "open"
    update_row(app, User, insp2, certificate_expires=dt.date.today() + dt.timedelta(days=400))
    assert desk.ok("sup1", fid, "file-case", {"investigator_ids": [insp2, insp1]})["status"] == "case_open"
    _refused(desk.act("sup1", fid, "file-case", {"investigator_ids": [insp1, insp2]}), 409, "case_open")


def test_changing_the_tier(app, desk, world):
    fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")
    _refused(desk.act("sup1", fid, "change-tier", {"tier": "service"}), 422, "written reason")
    _refused(desk.act("sup1", fid, "change-tier", {"tier": "management"}), 422, "already")
    _refused(desk.act("sup1", fid, "change-tier", {"tier": "lenient"}), 422, "tier")
    state = desk.ok("sup1", fid, "change-tier", {"tier": "service", "reason": "a spare socket, fixed at once"})
    assert (state["suggested_tier"], state["final_tier"], state["rule_id"], state["tier_reason"]) == (
        "management", "service", "T4", "a spare socket, fixed at once")
    assert desk.ok("sup1", fid, "change-tier", {"tier": "enforcement"})["final_tier"] == "enforcement"
    # An excluded domain is never waived by discretion.
    safety = finding_at(app, _edz(world), "SAF-WARN-SIGN", corrected_on_spot=False, severity="general")
    _refused(desk.act("sup1", safety, "change-tier", {"tier": "service", "reason": "small"}), 422,
             "outside the tolerance path")
    assert desk.ok("sup1", safety, "change-tier", {"tier": "management", "reason": "an order will do"})[
        "final_tier"] == "management"
    assert audit_actions(app, fid).count("finding.change_tier") == 2


def test_the_orders_deadline_follows_the_catalogue_row(app, desk, world):
    fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")  # 10 working days
    desk.ok("sup1", fid, "confirm-tier")
    far = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    _refused(desk.act("sup1", fid, "issue-order", {"deadline": far}), 422, "at most 10 working days")
    _refused(desk.act("sup1", fid, "issue-order", {"deadline": "2020-01-01"}), 422, "before today")
    soon = (dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)).isoformat()
    state = desk.ok("sup1", fid, "issue-order", {"deadline": soon})
    assert state["order"]["deadline"] == soon
    _refused(desk.act("sup1", fid, "issue-order"), 409, "order_issued")
    _refused(desk.act("sup1", fid, "record-reinspection", {"outcome": "passed", "at": "2020-01-01T09:00:00+08:00"}),
             422, "before order")
    _refused(desk.act("sup1", fid, "record-reinspection", {"outcome": "passed", "at": "2020-01-01T09:00:00"}), 422)
    _refused(desk.act("sup1", fid, "record-reinspection", {"outcome": "passed", "visit_id": str(uuid.uuid4())}),
             422, "no visit")
    other_site = make_visit(app, world["sites"]["EDZ"][1], kind="reinspection")
    _refused(desk.act("sup1", fid, "record-reinspection", {"outcome": "passed", "visit_id": str(other_site)}),
             422, "another site")


def test_a_hearing_makes_the_legal_review_required(app, desk, world):
    fid = finding_at(app, _edz(world), "ENV-HIDDEN-PIPE", intentional=True)
    desk.ok("sup1", fid, "confirm-tier")
    desk.ok("sup1", fid, "file-case", {"investigator_ids": [_uid(world, "insp1"), _uid(world, "insp2")]})
    desk.ok("sup1", fid, "case/notify", {"statement": "the party asks for a hearing"})
    state = desk.ok("sup1", fid, "case/request-hearing")
    assert state["allowed_next"] == ["case/hold-hearing", "case/transfer"]
    decision = {"decision": "penalty", "note": "水污染防治法第八十三条", "fine_yuan": 200000}
    _refused(desk.act("sup1", fid, "case/decide", decision), 409, "hold it")
    state = desk.ok("sup1", fid, "case/hold-hearing", {"note": "heard on the 3rd"})
    assert state["case"]["legal_review_required"]
    _refused(desk.act("sup1", fid, "case/decide", decision), 409, "legal review")
    desk.ok("sup1", fid, "case/submit-legal-review")
    _refused(desk.act("sup1", fid, "case/decide", decision), 409, "awaits the legal reviewer")
    desk.ok("legal1", fid, "legal-review", {"outcome": "no_penalty", "reason": "the pipe predates the owner"})
    _refused(desk.act("sup1", fid, "case/decide", decision), 409, "no penalty applies")
    desk.ok("sup1", fid, "case/decide", {"decision": "no_penalty", "note": "no fault of the present owner"})
    desk.ok("sup1", fid, "case/serve")
    _refused(desk.act("sup1", fid, "case/close"), 422, "education")
    state = desk.ok("sup1", fid, "case/close", {"education": "explained the discharge permit"})
    assert state["status"] == "closed_no_penalty"
    _refused(desk.act("sup1", fid, "reopen", {"reason": "x"}), 409, "through a case")


def test_a_suspected_crime_is_transferred(app, desk, world):
    fid = finding_at(app, _edz(world), "ENV-HIDDEN-PIPE", suspected_crime=True)
    f = get_finding(app, fid)
    assert (f.rule_id, f.flags) == ("E1", ["transfer_judicial"])
    desk.ok("sup1", fid, "confirm-tier")
    desk.ok("sup1", fid, "file-case", {"investigator_ids": [_uid(world, "insp1"), _uid(world, "insp2")]})
    _refused(desk.act("sup1", fid, "case/transfer", {"reason": " "}), 422, "reason: must be written")
    state = desk.ok("sup1", fid, "case/transfer", {"reason": "移送公安机关：疑似污染环境罪"})
    assert state["status"] == "closed" and state["case"]["status"] == "transferred"


def test_unknown_fields_and_bad_values_are_refused(app, desk, world):
    fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")
    _refused(desk.act("sup1", fid, "confirm-tier", {"tire": "service"}), 422, "tire")
    _refused(desk.act("sup1", fid, "change-tier", {"tier": "service", "reason": "x" * 5000}), 422, "reason")
    assert get_finding(app, fid).status == "awaiting_review"


# --- the policy ---------------------------------------------------------------------------------


def test_the_policy_is_read_by_staff_and_changed_by_an_admin_with_a_reason(app, client, auth, world):
    r = client.get("/api/policy", headers=auth.headers("insp1"))
    assert r.status_code == 200 and r.get_json()["values"]["repeat_threshold"] == 2
    admin = auth.headers("admin1")
    change = {"values": {"repeat_threshold": 3}, "reason": "the city's 2027 rules"}
    assert client.patch("/api/policy", json=change, headers=auth.headers("sup1")).status_code == 403
    _refused(client.patch("/api/policy", json={"values": {"repeat_threshold": 3}}, headers=admin), 422, "reason")
    _refused(client.patch("/api/policy", json={"values": {"repeat_treshold": 3}, "reason": "r"}, headers=admin),
             422, "repeat_treshold")
    _refused(client.patch("/api/policy", json={"values": {"repeat_threshold": 0}, "reason": "r"}, headers=admin),
             422, "repeat_threshold")
    _refused(client.patch("/api/policy", json={"values": {"excluded_domains": ["space"]}, "reason": "r"},
                          headers=admin), 422, "excluded_domains")
    _refused(client.patch("/api/policy", json={"values": {"target_mix": {"service": 70, "management": 20,
                                                                          "enforcement": 20}}, "reason": "r"},
                          headers=admin), 422, "100")
    before = client.get("/api/policy", headers=admin).get_json()["version"]
    r = client.patch("/api/policy", json=change, headers=admin)
    assert r.status_code == 200 and r.get_json()["changed"] and r.get_json()["version"] == (before or 1) + 1
    again = client.patch("/api/policy", json=change, headers=admin).get_json()
    assert not again["changed"] and again["version"] == r.get_json()["version"]
    whole = {**default_policy(), "repeat_threshold": 3, "clock_warning_days": 5}
    r = client.put("/api/policy", json={"values": whole, "reason": "warn earlier"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["values"]["clock_warning_days"] == 5
    partial = dict(whole)
    del partial["timezone"]
    _refused(client.put("/api/policy", json={"values": partial, "reason": "r"}, headers=admin), 422, "timezone")
    # Classification uses the version in force and records it: two earlier findings are not three.
    site = _edz(world)
    now = utcnow()
    for days in (100, 50):
        finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now - dt.timedelta(days=days), corrected_on_spot=True)
    f = get_finding(app, finding_at(app, site, "FIRE-HYDRANT-BLOCKED", now, corrected_on_spot=True))
    assert f.repeats == 2 and f.rule_id != "E5" and f.policy_version == r.get_json()["version"]
    with app.app_context():
        from server.models import AuditEntry

        changes = db.session.execute(sa.select(AuditEntry.summary).where(AuditEntry.action == "policy.change")
                                     .order_by(AuditEntry.id)).scalars().all()
    assert changes[0]["changes"] == {"repeat_threshold": {"from": 2, "to": 3}}
    assert changes[-1]["changes"] == {"clock_warning_days": {"from": 3, "to": 5}}


def test_document_numbers_count_per_year(app, desk, world):
    numbers = []
    for _ in range(2):
        fid = finding_at(app, _edz(world), "FIRE-ELEC-WIRING", severity="general")
        desk.ok("sup1", fid, "confirm-tier")
        numbers.append(desk.ok("sup1", fid, "issue-order")["order"]["number"])
    assert numbers == [f"仪执责改〔{YEAR}〕0001号", f"仪执责改〔{YEAR}〕0002号"]
    with app.app_context():
        assert all(re.fullmatch(r"仪执责改〔\d{4}〕\d{4}号", n) for n in db.session.execute(
            sa.select(Order.number)).scalars())


def test_orders_issued_at_once_get_distinct_numbers(app, client, auth, world):
    from concurrent.futures import ThreadPoolExecutor

    desk = Desk(client, auth)
    headers = auth.headers("sup1")
    fids = []
    sites = world["sites"]["EDZ"]
    for site, code in [(sites[0], "FIRE-ELEC-WIRING"), (sites[1], "FIRE-ELEC-WIRING"), (sites[2], "FIRE-ELEC-WIRING"),
                       (sites[0], "FIRE-DUTY")]:  # no repeats: each stays management (T4)
        fid = finding_at(app, site, code, severity="general")
        desk.ok("sup1", fid, "confirm-tier")
        fids.append(fid)

    def issue(fid):
        with app.test_client() as c:
            return c.post(f"/api/findings/{fid}/issue-order", json={}, headers=headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(issue, fids))
    assert [r.status_code for r in answers] == [200] * 4, [r.get_json() for r in answers]
    numbers = sorted(r.get_json()["order"]["number"] for r in answers)
    assert numbers == [f"仪执责改〔{YEAR}〕{n:04d}号" for n in range(1, 5)]

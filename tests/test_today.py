"""GET /api/me/today: what an inspector's phone downloads in the morning, on both engines.

What an inspector would notice: the day's stops (the published plan's route, or a working
list with due re-inspections first and then the sites unvisited for longest), only in their
own parks and never a site they declared a conflict with; the checklists, catalogue, rules
and limits the phone needs offline; their team-mates for the officer picker; and a re-fetch
that changed nothing costs no download (304).
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa

from tests.sync_helpers import (
    HENGDA, HUARUI, JIANGHAI, RUNZE, failing, finding, load_field_data, now_cst, post_sync, visit,
)


@pytest.fixture
def field(app):
    return load_field_data(app)


def today(client, auth, username="insp1", **headers):
    r = client.get("/api/me/today", headers={**auth.headers(username), **headers})
    return r


def body(client, auth, username="insp1") -> dict:
    r = today(client, auth, username)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def site_names(b: dict) -> list[str]:
    return [s["site"]["name"] for s in b["stops"]]


def bureau_today(app) -> dt.date:
    from server.domain.workdays import local_date
    from server.models.types import utcnow
    from server.services.sync import policy_in_force

    with app.app_context():
        return local_date(utcnow(), policy_in_force()[1]["timezone"])


# --- the stops -----------------------------------------------------------------------------


def test_without_a_plan_the_riskiest_never_visited_sites_of_my_parks_come_first(client, auth, field):
    b = body(client, auth)
    assert b["source"] == "fallback" and b["plan"] is None
    # EDZ only (insp1's park): high, medium, low risk, none visited yet.
    assert site_names(b) == [RUNZE, HENGDA, JIANGHAI]
    assert [s["seq"] for s in b["stops"]] == [1, 2, 3]
    assert all(s["plan_stop_id"] is None and s["kind"] == "routine" for s in b["stops"])
    assert {s["reasons"][0] for s in b["stops"]} == {"never_visited"}
    hengda = b["stops"][1]["site"]
    assert (hengda["lon"], hengda["lat"]) == pytest.approx((119.160, 32.260))
    assert hengda["grades"] == {"risk": "medium", "credit_class": "B", "safety_std": None}
    assert hengda["flags"]["key_object"] is False and hengda["last_visit"] is None and hengda["open_orders"] == []
    assert HUARUI in site_names(body(client, auth, "insp_chem"))
    assert not set(site_names(body(client, auth, "insp_chem"))) & {RUNZE, HENGDA, JIANGHAI}


def test_a_visited_site_moves_behind_the_unvisited_and_shows_its_last_visit(client, auth, field):
    team = [field["users"]["insp1"]]
    rec = visit(field["sites"][RUNZE], team)
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"
    b = body(client, auth)
    assert site_names(b) == [HENGDA, JIANGHAI, RUNZE]
    last = b["stops"][2]["site"]["last_visit"]
    assert last["id"] == rec["id"] and last["kind"] == "routine" and last["geofence"] == "no_fix"
    assert b["stops"][2]["reasons"] == ["longest_unvisited"]


def test_a_due_reinspection_comes_first_with_its_open_order(client, app, auth, field):
    from server.extensions import db
    from server.models import Finding, Order, User
    from server.services import lifecycle

    pair = [field["users"]["insp1"], field["users"]["insp2"]]
    fire = finding(item="FIRE-003", violation_code="FIRE-EXIT-BLOCKED", domain="fire")
    rec = failing(visit(field["sites"][JIANGHAI], pair, findings=[fire]), "FIRE-003")
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"
    with app.app_context():
        f = db.session.get(Finding, uuid.UUID(fire["id"]))
        sup = db.session.get(User, field["users"]["sup1"])
        lifecycle.change_tier(f, sup, "management", reason="")
        order_id = lifecycle.issue_order(f, sup).id
        number = db.session.get(Order, order_id).number
    b = body(client, auth)
    assert site_names(b)[-1] == JIANGHAI  # the correction period still runs: not due yet
    (open_order,) = b["stops"][-1]["site"]["open_orders"]
    assert open_order["number"] == number and open_order["reinspection_open"] is False
    assert open_order["finding"]["violation_code"] == "FIRE-EXIT-BLOCKED"
    day = bureau_today(app)
    with app.app_context():
        db.session.get(Order, order_id).deadline = day - dt.timedelta(days=1)
        db.session.commit()
    b = body(client, auth)
    first = b["stops"][0]
    assert first["site"]["name"] == JIANGHAI and first["kind"] == "reinspection"
    assert first["order_id"] == order_id and first["reasons"] == ["reinspection_due"]
    assert first["site"]["open_orders"][0]["reinspection_open"] is True
    assert site_names(b)[1:] == [RUNZE, HENGDA]


def test_a_declared_conflict_of_interest_keeps_the_site_off_my_list(client, app, auth, field):
    from server.extensions import db
    from server.models import ConflictDeclaration

    with app.app_context():
        db.session.add(ConflictDeclaration(user_id=field["users"]["insp1"], site_id=field["sites"][RUNZE],
                                           reason="spouse works there"))
        db.session.commit()
    assert site_names(body(client, auth)) == [HENGDA, JIANGHAI]
    assert RUNZE in site_names(body(client, auth, "insp2"))


def _plan(app, field, status="published", lead="insp1", officers=("insp2",)):
    from server.extensions import db
    from server.models import Plan, PlanStop, Route, User

    day = bureau_today(app)
    with app.app_context():
        plan = Plan(day=day, status=status)
        db.session.add(plan)
        db.session.flush()
        route = Route(plan_id=plan.id, team_lead_id=field["users"][lead], distance_km=12.5, duration_min=300)
        route.officers = [db.session.get(User, field["users"][u]) for u in officers]
        db.session.add(route)
        db.session.flush()
        ids = []
        for seq, name in ((2, HENGDA), (1, JIANGHAI)):
            stop = PlanStop(plan_id=plan.id, route_id=route.id, site_id=field["sites"][name], seq=seq,
                            kind="routine", reasons=["due_by_frequency"])
            db.session.add(stop)
            db.session.flush()
            ids.append(stop.id)
        db.session.commit()
        return plan.id, route.id, ids


def test_the_published_plan_gives_my_route_in_order(client, app, auth, field):
    plan_id, route_id, (hengda_stop, jianghai_stop) = _plan(app, field)
    for username in ("insp1", "insp2"):  # the lead and an officer of the route
        b = body(client, auth, username)
        assert b["source"] == "plan"
        assert b["plan"]["id"] == plan_id and b["plan"]["route_id"] == route_id
        assert site_names(b) == [JIANGHAI, HENGDA]
        assert [s["plan_stop_id"] for s in b["stops"]] == [jianghai_stop, hengda_stop]
        assert b["stops"][0]["reasons"] == ["due_by_frequency"]
    # Not on any route of the plan: the working list.
    assert body(client, auth, "insp_chem")["source"] == "fallback"


def test_a_draft_plan_is_not_given_to_the_phone(client, app, auth, field):
    _plan(app, field, status="draft")
    assert body(client, auth)["source"] == "fallback"


# --- reference data ----------------------------------------------------------------------------


def test_the_phone_gets_checklists_catalogue_rules_policy_geofence_and_limits(client, app, auth, field):
    from server.domain.classify import RULES

    b = body(client, auth)
    assert {c["code"] for c in b["checklists"]} == {"SAFETY", "ENVIRONMENT", "CONSTRUCTION", "FIRE"}
    safety = next(c for c in b["checklists"] if c["code"] == "SAFETY")
    assert [i["code"] for i in safety["items"]][:2] == ["SAF-001", "SAF-002"] and len(safety["items"]) == 12
    codes = {row["code"]: row for row in b["catalogue"]}
    assert codes["SAF-EXIT-BLOCKED"]["domain"] == "safety"
    assert codes["FIRE-EXIT-BLOCKED"]["tolerance_type"] == "minor_no_harm"
    assert b["rules"] == json.loads(json.dumps(RULES.data))
    assert b["policy"]["values"]["excluded_domains"] == ["safety", "environment", "illegal_construction"]
    assert b["policy"]["values"]["repeat_threshold"] == 2
    assert b["geofence"] == {"radius_m": 150.0, "accuracy_threshold_m": 50.0, "near_factor": 2.0}
    limits = b["limits"]
    assert limits["max_visits_per_batch"] == 100 and limits["max_body_bytes"] == app.config["MAX_JSON_BYTES"]
    assert limits["photo_long_edge_px"] == app.config["PHOTO_LONG_EDGE_PX"]
    assert limits["photo_max_bytes"] == app.config["PHOTO_MAX_BYTES"]
    assert b["timezone"] == "Asia/Shanghai" and b["day"] == bureau_today(app).isoformat()


def test_a_retired_catalogue_row_is_not_offered(client, app, auth, field):
    from server.extensions import db
    from server.models import ViolationType

    day = bureau_today(app)
    with app.app_context():
        row = db.session.execute(sa.select(ViolationType).where(ViolationType.code == "CITY-CARWASH")).scalar_one()
        row.effective_to = day - dt.timedelta(days=1)
        db.session.commit()
    assert "CITY-CARWASH" not in {row["code"] for row in body(client, auth)["catalogue"]}


def test_my_team_mates_with_their_certificates_today(client, app, auth, field):
    from server.extensions import db
    from server.models import User

    day = bureau_today(app)
    with app.app_context():
        db.session.get(User, field["users"]["insp2"]).certificate_expires = day - dt.timedelta(days=1)
        db.session.commit()
    mates = {m["name"]: m for m in body(client, auth)["team"]}
    assert set(mates) == {"insp1", "insp2", "aux1"}  # EDZ inspectors; not insp_chem, not the supervisor
    assert mates["insp1"]["me"] is True and mates["insp1"]["certificate_valid"] is True
    assert mates["insp2"]["certificate_valid"] is False and mates["insp2"]["certificate_no"] == "JS-3210-0002"
    assert mates["aux1"]["auxiliary"] is True and mates["aux1"]["certificate_valid"] is False


# --- caching and access --------------------------------------------------------------------------


def test_an_unchanged_refetch_is_304_and_a_change_gives_a_new_etag(client, auth, field):
    first = today(client, auth)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and "no-cache" in first.headers["Cache-Control"]
    again = today(client, auth, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert today(client, auth, **{"If-None-Match": '"something-else"'}).status_code == 200
    rec = visit(field["sites"][HENGDA], [field["users"]["insp1"]])
    post_sync(client, auth.headers("insp1"), [rec])
    changed = today(client, auth, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_only_inspectors_get_today(client, auth, field):
    assert today(client, auth, "sup1").status_code == 403
    assert client.get("/api/me/today").status_code == 401


def test_each_site_carries_the_history_the_classifier_reads(client, app, auth, field):
    """A second exit-blocked finding at 恒达 is a repeat: the phone gets the count to predict the tier."""
    pair = [field["users"]["insp1"], field["users"]["insp2"]]
    rec = failing(visit(field["sites"][HENGDA], pair, findings=[finding()]), "SAF-012")
    assert post_sync(client, auth.headers("insp1"), [rec]).get_json()["results"][0]["status"] == "created"
    stops = {s["site"]["name"]: s["site"] for s in body(client, auth)["stops"]}
    assert stops[HENGDA]["history"] == [{"violation_code": "SAF-EXIT-BLOCKED", "repeats": 1,
                                         "earlier_tolerance_closed": False, "earlier_order_failed": False}]
    assert stops[JIANGHAI]["history"] == []
    # What the server then looks up for the next one, made later today, agrees.
    later = now_cst() - dt.timedelta(minutes=5)
    again = failing(visit(field["sites"][HENGDA], pair, findings=[finding()], started_at=later.isoformat(),
                          finished_at=(later + dt.timedelta(minutes=1)).isoformat()), "SAF-012")
    r = post_sync(client, auth.headers("insp1"), [again]).get_json()["results"][0]
    from server.extensions import db
    from server.models import Finding

    with app.app_context():
        assert db.session.get(Finding, uuid.UUID(again["findings"][0]["id"])).repeats == 1
    assert r["status"] == "created"

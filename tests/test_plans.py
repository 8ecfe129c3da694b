"""Patrol plans through the API, on both engines (issue 5, "Done when"): the rules that involve
data, end to end. A re-inspection due tomorrow is planned tomorrow whatever the budget; no plan
breaks a conflict declaration, a leave day or a holiday; an auxiliary never makes a team of two;
an expired certificate never counts; locked stops survive regeneration; publishing makes the
route the inspector's today, in order, with stop ids; roles and parks are checked.

The bureau's clock is frozen on a working day (`NOW`) so that "today" and "tomorrow" mean the
same on any day the tests run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

TZ = ZoneInfo("Asia/Shanghai")
FAST = {"iterations": 200}
# More sites in the world's EDZ box (119.150-119.190, 32.250-32.280), so that routes have a shape.
EXTRA_EDZ = [(119.152 + 0.0035 * k, 32.252 + 0.0022 * (k % 7)) for k in range(10)]


def _calendar():
    from server.services.calendar import work_calendar

    return work_calendar()


@pytest.fixture
def clock(app, monkeypatch):
    """The bureau's clock frozen at 08:00 on the next working day; answers (today, tomorrow)."""
    from server.extensions import db
    from server.services import calendar, catalogue, planning, policy, today

    with app.app_context():
        calendar.load_bundled(record_audit=False)
        catalogue.load_bundled(record_audit=False)
        policy.current()
        db.session.commit()
        cal = _calendar()
    real_today = dt.datetime.now(TZ).date()
    day = cal.next_working_day(real_today)
    now = dt.datetime.combine(day, dt.time(8, 0), TZ).astimezone(dt.timezone.utc)
    for module in (planning, today):
        monkeypatch.setattr(module, "utcnow", lambda: now)
    return day, cal.next_working_day(day), cal


@pytest.fixture
def world(app, clock):
    """The test world plus ten more EDZ sites, a second EDZ pair and a second CHEM officer."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from server.extensions import db
    from server.models import Park, Site, User
    from server.services.users import create_user
    from tests.world import PASSWORD

    with app.app_context():
        parks = dict(db.session.execute(sa.select(Park.code, Park.id)).all())
        for k, (lon, lat) in enumerate(EXTRA_EDZ):
            db.session.add(Site(park_id=parks["EDZ"], name=f"仪征市测试{k:02d}有限公司", risk_grade="medium",
                                geom=from_shape(Point(lon, lat), srid=4326)))
        expires = clock[1] + dt.timedelta(days=365)
        for username, park, cert in (("insp3", "EDZ", "JS-3210-0103"), ("insp4", "EDZ", "JS-3210-0104"),
                                     ("insp_chem2", "CHEM", "JS-3210-0105")):
            create_user(username, username, "inspector", PASSWORD, [park], certificate_no=cert,
                        certificate_expires=expires, certified_domains=["safety"])
        db.session.commit()
        users = {u.username: u.id for u in db.session.execute(sa.select(User)).scalars()}
        sites = {s.name: s.id for s in db.session.execute(sa.select(Site)).scalars()}
    return {"parks": parks, "users": users, "sites": sites, "today": clock[0], "tomorrow": clock[1], "cal": clock[2]}


def generate(client, auth, day, user="sched1", status=201, **body):
    body.setdefault("options", FAST)
    r = client.post("/api/plans", json={"date": day.isoformat(), **body}, headers=auth.headers(user))
    assert r.status_code == status, r.get_json()
    return r.get_json()


def plan_of(client, auth, day, user="sched1", status=200):
    r = client.get(f"/api/plans/{day.isoformat()}", headers=auth.headers(user))
    assert r.status_code == status, r.get_json()
    return r.get_json()


def edit(client, auth, plan_day, stop_id, user="sched1", status=200, **body):
    r = client.patch(f"/api/plans/{plan_day.isoformat()}/stops/{stop_id}", json=body, headers=auth.headers(user))
    assert r.status_code == status, r.get_json()
    return r.get_json()


def routed(plan) -> dict[int, tuple[int, int]]:
    """site id -> (route's team lead, seq)"""
    return {s["site"]["id"]: (r["team_lead_id"], s["seq"]) for r in plan["routes"] for s in r["stops"]}


def not_scheduled(plan) -> dict[int, str]:
    return {s["site"]["id"]: s["reason"] for s in plan["not_scheduled"]}


def team_of(plan, username_ids) -> dict:
    return next(r for r in plan["routes"] if {o["id"] for o in r["officers"]} >= set(username_ids))


def audit_actions(app, action) -> list:
    from server.extensions import db
    from server.models import AuditEntry

    with app.app_context():
        return list(db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                                       .order_by(AuditEntry.id)).scalars())


def add_rows(app, *rows):
    from server.extensions import db

    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def counted_visit(app, site_id: int, officer_ids: list[int], when: dt.datetime, kind: str = "routine"):
    """A visit already made (as the field sync stores it), counted toward the site's budget."""
    from server.extensions import db
    from server.models import Visit, visit_officers

    with app.app_context():
        v = Visit(id=uuid.uuid4(), site_id=site_id, kind=kind, recorded_by=officer_ids[0], started_at=when,
                  finished_at=when + dt.timedelta(minutes=20), certificates_shown=True,
                  content_hash=hashlib.sha256(str(uuid.uuid4()).encode()).hexdigest(), payload={})
        db.session.add(v)
        db.session.flush()
        for uid in officer_ids:
            db.session.execute(visit_officers.insert().values(visit_id=v.id, user_id=uid, counted=True))
        db.session.commit()
        return v.id


# --- the pure edits (server/domain/route_edits.py) -----------------------------------------


def test_pinned_stops_keep_their_place_and_every_stop_comes_out_once():
    from server.domain.route_edits import insert_at, place_pinned

    assert place_pinned(["a", "b", "c"], {2: "X"}) == ["a", "X", "b", "c"]
    assert place_pinned(["a", "b"], {1: "X", 4: "Y"}) == ["X", "a", "b", "Y"]
    assert place_pinned(["a"], {9: "X"}) == ["a", "X"]  # beyond the end: last
    assert place_pinned([], {3: "X", 1: "Y"}) == ["Y", "X"]
    assert sorted(place_pinned(list("abcdef"), {2: "X", 2.5: "Y", 7: "Z"})) == sorted("abcdefXYZ")
    assert insert_at(["a", "b", "c"], "c", 1) == ["c", "a", "b"]
    assert insert_at(["a", "b", "c"], "a", None) == ["b", "c", "a"]
    assert insert_at(["a", "b"], "x", 99) == ["a", "b", "x"]


def test_a_route_is_timed_from_and_back_to_the_office():
    from server.domain.planning.routing import HaversineMatrix
    from server.domain.route_edits import time_route
    from tests.planning_helpers import OFFICE, point

    matrix = HaversineMatrix(road_factor=1.0, speed_kmh=60)
    timed = time_route(OFFICE, [point(0, 6), point(0, 12)], matrix, 20)
    assert timed.travel_km == pytest.approx((6.0, 6.0), abs=0.05)
    assert timed.arrive_min == pytest.approx((6.0, 32.0), abs=0.2)  # 6 km at 60 km/h, 20 min there, 6 km more
    assert timed.distance_km == pytest.approx(24.0, abs=0.1)
    assert timed.duration_min == pytest.approx(24 + 40, abs=0.3)
    assert timed.fits(64.5) and not timed.fits(60)
    assert time_route(OFFICE, [], matrix, 20).duration_min == 0


# --- generating ---------------------------------------------------------------------------


def test_a_generated_plan_has_valid_teams_ordered_routes_and_records_how_it_was_made(client, auth, app, world):
    day = world["tomorrow"]
    plan = generate(client, auth, day)
    u = world["users"]
    assert plan["status"] == "draft" and plan["day"] == day.isoformat()
    assert plan["solver"] == "pyvrp" and plan["solve_seconds"] is not None and plan["inputs_sha256"]
    assert plan["settings"]["iterations"] == 200 and plan["settings"]["teams_source"] == "formed"
    assert plan["allowed_next"] == ["regenerate", "edit", "publish"]
    # Teams: two certified officers of one park each; the auxiliary joins an EDZ team, never counted.
    teams = [sorted(o["id"] for o in r["officers"] if not o["auxiliary"]) for r in plan["routes"]]
    assert sorted(teams) == sorted([sorted([u["insp1"], u["insp2"]]), sorted([u["insp3"], u["insp4"]]),
                                    sorted([u["insp_chem"], u["insp_chem2"]])]) or len(teams) == 3
    for r in plan["routes"]:
        assert sum(not o["auxiliary"] for o in r["officers"]) == 2
        assert [o["lead"] for o in r["officers"]].count(True) == 1
        assert r["team_lead_id"] == next(o["id"] for o in r["officers"] if o["lead"])
        # Each route stays inside its team's park, in order from 1, inside the working day.
        assert {s["site"]["park_id"] for s in r["stops"]} <= set(r["parks"])
        assert [s["seq"] for s in r["stops"]] == list(range(1, len(r["stops"]) + 1))
        etas = [s["eta_min"] for s in r["stops"]]
        assert etas == sorted(etas)
        assert r["duration_min"] <= 8 * 60 and (r["distance_km"] > 0) == bool(r["stops"])
        assert all(s["reasons"] and s["status"] == "planned" for s in r["stops"])
    # Nothing due is dropped silently: every active site of the two parks is on a route or listed.
    seen = list(routed(plan)) + list(not_scheduled(plan))
    assert len(seen) == len(set(seen))
    assert set(seen) == set(world["sites"].values())
    assert plan["totals"]["stops"] == len(routed(plan))
    entry = audit_actions(app, "plan.generate")[-1]
    assert entry.entity_id == str(plan["id"]) and entry.summary["day"] == day.isoformat()
    # The record: inputs with their hash, the settings and the time it took.
    from server.extensions import db
    from server.models import Plan

    with app.app_context():
        row = db.session.get(Plan, plan["id"])
        assert row.inputs["inputs_sha256"] == plan["inputs_sha256"] and row.inputs["park_ids"] == plan["park_ids"]
        assert {c["site_id"] for c in row.inputs["candidates"]} == set(seen)
        assert row.solve_seconds >= 0 and row.settings["matrix"] == "haversine"


def test_a_reinspection_due_tomorrow_is_planned_tomorrow_whatever_the_budget(client, auth, app, world):
    from server.extensions import db
    from server.models import Finding, Order, Site, User, Visit

    tomorrow, today = world["tomorrow"], world["today"]
    site_id = world["sites"]["仪征市江海包装有限公司"]  # low risk: a budget of one visit a year
    u = world["users"]
    # Its one visit this year is made already: the budget is spent.
    visit_id = counted_visit(app, site_id, [u["insp1"], u["insp2"]],
                             dt.datetime.combine(today, dt.time(7, 0), TZ) - dt.timedelta(days=1))
    with app.app_context():
        site = db.session.get(Site, site_id)
        f = Finding(id=uuid.uuid4(), visit_id=visit_id, site_id=site_id, park_id=site.park_id, domain="safety",
                    severity="general", harm="none", suggested_tier="management", final_tier="management",
                    rule_id="T4", status="reinspection_due", policy_version=1,
                    discovered_at=dt.datetime.now(dt.timezone.utc))
        db.session.add(f)
        db.session.flush()
        order = Order(finding_id=f.id, number="仪执责改〔2026〕9001号", issued_by=db.session.execute(
            sa.select(User.id).where(User.username == "sup1")).scalar_one(), deadline=today,
            reinspection_due=tomorrow, status="open")
        db.session.add(order)
        db.session.commit()
        order_id = order.id
        assert db.session.execute(sa.select(sa.func.count(Visit.id)).where(Visit.site_id == site_id)).scalar() == 1
    plan = generate(client, auth, tomorrow)
    stop = next(s for r in plan["routes"] for s in r["stops"] if s["site"]["id"] == site_id)
    assert stop["kind"] == "reinspection" and stop["order_id"] == order_id and stop["priority"] == 4
    assert stop["latest_date"] == tomorrow.isoformat()
    assert [r["code"] for r in stop["reasons"]] == ["reinspection"]  # no routine check: the budget is spent


def test_no_plan_sends_a_team_to_a_site_a_member_declared_a_conflict_with(client, auth, app, world):
    from server.models import ConflictDeclaration

    u, s = world["users"], world["sites"]
    conflicted = s["仪征市恒达机械有限公司"]
    add_rows(app, ConflictDeclaration(user_id=u["insp1"], site_id=conflicted, reason="亲属任职"))
    for seed in (1, 2, 3):
        plan = generate(client, auth, world["tomorrow"], options={**FAST, "seed": seed, "reform_teams": True})
        if conflicted in routed(plan):
            lead = routed(plan)[conflicted][0]
            route = next(r for r in plan["routes"] if r["team_lead_id"] == lead)
            assert u["insp1"] not in {o["id"] for o in route["officers"]}, f"seed {seed}"
    # A team of insp1 chosen by the scheduler never gets it either, and a move there is refused in words.
    plan = generate(client, auth, world["tomorrow"],
                    teams=[{"officer_ids": [u["insp1"], u["insp2"]], "auxiliary_ids": [u["aux1"]]}])
    assert not_scheduled(plan)[conflicted] == "conflict_every_team"
    words = next(x for x in plan["not_scheduled"] if x["site"]["id"] == conflicted)["reason_words"]
    assert "回避" in words["zh"]
    stop_id = next(x["id"] for x in plan["not_scheduled"] if x["site"]["id"] == conflicted)
    r = edit(client, auth, world["tomorrow"], stop_id, status=422, route_id=plan["routes"][0]["id"])
    assert "conflict of interest" in r["message"] and "route_id" in r["errors"]["json"]


def test_nobody_on_leave_works_and_their_park_says_why(client, auth, app, world):
    from server.models import Leave

    u = world["users"]
    day = world["tomorrow"]
    add_rows(app, Leave(user_id=u["insp2"], start_date=day, end_date=day, note="年休假"),
             Leave(user_id=u["insp4"], start_date=day - dt.timedelta(days=3), end_date=day + dt.timedelta(days=2)))
    plan = generate(client, auth, day)
    on_routes = {o["id"] for r in plan["routes"] for o in r["officers"]}
    assert not on_routes & {u["insp2"], u["insp4"]}
    why = {x["user_id"]: x["reason"] for x in plan["unavailable"]}
    assert why[u["insp2"]] == why[u["insp4"]] == "on_leave"
    # insp1 and insp3 are left in EDZ: they make a team; the CHEM pair its own.
    assert len(plan["routes"]) == 2
    # A team with someone on leave is refused, naming the leave.
    r = client.post("/api/plans", json={"date": day.isoformat(), "options": FAST,
                                        "teams": [{"officer_ids": [u["insp1"], u["insp2"]]}]},
                    headers=auth.headers("sched1"))
    assert r.status_code == 422 and "on leave" in r.get_json()["message"]
    # The day after, everybody but insp4 is back.
    after = world["cal"].next_working_day(day)
    plan = generate(client, auth, after)
    assert u["insp2"] in {o["id"] for r in plan["routes"] for o in r["officers"]}
    assert u["insp4"] not in {o["id"] for r in plan["routes"] for o in r["officers"]}


def test_no_plan_is_made_for_a_holiday_or_a_weekend(client, auth, app, world):
    from server.models import CalendarDay

    day = world["tomorrow"]
    add_rows(app, CalendarDay(day=day, kind="holiday", name="测试假日"))
    r = client.post("/api/plans", json={"date": day.isoformat()}, headers=auth.headers("sched1"))
    assert r.status_code == 422
    body = r.get_json()
    assert "not a working day" in body["message"] and "date" in body["errors"]["json"]
    saturday = day + dt.timedelta(days=(5 - day.weekday()) % 7)
    assert client.post("/api/plans", json={"date": saturday.isoformat()},
                       headers=auth.headers("sched1")).status_code == 422
    past = world["today"] - dt.timedelta(days=7)
    r = client.post("/api/plans", json={"date": past.isoformat()}, headers=auth.headers("sched1"))
    assert r.status_code == 422 and "has passed" in r.get_json()["message"]
    for far in ("9999-12-31", (world["today"] + dt.timedelta(days=400)).isoformat()):
        r = client.post("/api/plans", json={"date": far}, headers=auth.headers("sched1"))
        assert r.status_code == 422 and "a year ahead" in r.get_json()["message"]
    assert client.get("/api/plans/9999-12-31", headers=auth.headers("sched1")).status_code == 404


def test_an_auxiliary_never_makes_a_team_of_two(client, auth, app, world):
    from server.extensions import db
    from server.models import User

    u = world["users"]
    r = client.post("/api/plans", json={"date": world["tomorrow"].isoformat(), "options": FAST,
                                        "teams": [{"officer_ids": [u["insp1"], u["aux1"]]}]},
                    headers=auth.headers("sched1"))
    assert r.status_code == 422
    assert "auxiliary staff and never counts toward the two" in r.get_json()["message"]
    assert r.get_json()["problems"]["0"]
    # With only one EDZ officer left, insp1 and the auxiliary make no team: EDZ waits, in words.
    with app.app_context():
        for name in ("insp2", "insp3", "insp4"):
            db.session.get(User, u[name]).active = False
        db.session.commit()
    plan = generate(client, auth, world["tomorrow"])
    assert all(u["aux1"] not in {o["id"] for o in r["officers"]} for r in plan["routes"])
    assert [sorted(o["id"] for o in r["officers"]) for r in plan["routes"]] == [sorted([u["insp_chem"], u["insp_chem2"]])]
    edz = {sid for name, sid in world["sites"].items() if name.startswith("仪征市测试")}
    assert {not_scheduled(plan)[sid] for sid in edz} == {"no_team_in_park"}
    assert {x["user_id"]: x["reason"] for x in plan["unavailable"]}[u["insp1"]] == "no_partner"


def test_an_expired_certificate_never_counts(client, auth, app, world):
    from server.extensions import db
    from server.models import User

    u = world["users"]
    day = world["tomorrow"]
    with app.app_context():
        db.session.get(User, u["insp_chem2"]).certificate_expires = day - dt.timedelta(days=1)
        db.session.commit()
    plan = generate(client, auth, day)
    assert u["insp_chem2"] not in {o["id"] for r in plan["routes"] for o in r["officers"]}
    assert {x["user_id"]: x["reason"] for x in plan["unavailable"]}[u["insp_chem2"]] == "certificate_expired"
    chem = {world["sites"]["仪征市华瑞化工有限公司"], world["sites"]["扬州天元新材料有限公司"]}
    assert {not_scheduled(plan)[sid] for sid in chem} == {"no_team_in_park"}
    r = client.post("/api/plans", json={"date": day.isoformat(), "options": FAST,
                                        "teams": [{"officer_ids": [u["insp_chem"], u["insp_chem2"]]}]},
                    headers=auth.headers("sched1"))
    assert r.status_code == 422 and "is not valid on" in r.get_json()["message"]
    # Valid through the day it expires: on that day it counts.
    with app.app_context():
        db.session.get(User, u["insp_chem2"]).certificate_expires = day
        db.session.commit()
    plan = generate(client, auth, day)
    assert u["insp_chem2"] in {o["id"] for r in plan["routes"] for o in r["officers"]}


# --- editing, locking, regenerating --------------------------------------------------------


def test_locked_stops_survive_regeneration_on_their_route_in_their_place(client, auth, app, world):
    day = world["tomorrow"]
    u = world["users"]
    plan = generate(client, auth, day)
    first, second = (r for r in plan["routes"] if set(r["parks"]) == {world["parks"]["EDZ"]})
    assert len(first["stops"]) >= 3
    # Move the second stop of one EDZ team to the other EDZ team's route, third place; lock it.
    moved = first["stops"][1]
    plan = edit(client, auth, day, moved["id"], route_id=second["id"], seq=min(3, len(second["stops"]) + 1))
    now = routed(plan)[moved["site"]["id"]]
    assert now == (second["team_lead_id"], min(3, len(second["stops"]) + 1))
    plan = edit(client, auth, day, moved["id"], locked=True)
    # Lock another one in its place on the first route.
    kept = next(r for r in plan["routes"] if r["id"] == first["id"])["stops"][-1]
    plan = edit(client, auth, day, kept["id"], locked=True)
    before = routed(plan)
    # Regenerate with another seed: everything else may change, the locks hold (same rows, same ids):
    # the same route, the same place (or last, when the route came out shorter than that place).
    again = generate(client, auth, day, options={**FAST, "seed": 99})
    length = {r["team_lead_id"]: len(r["stops"]) for r in again["routes"]}
    for site in (moved["site"]["id"], kept["site"]["id"]):
        lead, seq = before[site]
        assert routed(again)[site] == (lead, min(seq, length[lead]))
    assert again["settings"]["locks_in_place"] is True
    by_id = {s["id"]: s for r in again["routes"] for s in r["stops"]}
    assert by_id[moved["id"]]["locked"] and by_id[kept["id"]]["locked"]
    # Unlocked, it is planned afresh like the rest; the other lock still holds.
    edit(client, auth, day, moved["id"], locked=False)
    final = generate(client, auth, day)
    assert [s["id"] for r in final["routes"] for s in r["stops"] if s["locked"]] == [kept["id"]]
    assert len(audit_actions(app, "plan.stop.edit")) == 4 and len(audit_actions(app, "plan.generate")) == 3
    assert u  # the world's users named the teams above


def test_edits_are_checked_and_refused_in_words(client, auth, app, world):
    day = world["tomorrow"]
    plan = generate(client, auth, day)
    big = max((r for r in plan["routes"] if set(r["parks"]) == {world["parks"]["EDZ"]}), key=lambda r: len(r["stops"]))
    chem = next(r for r in plan["routes"] if set(r["parks"]) == {world["parks"]["CHEM"]})
    assert len(big["stops"]) >= 3
    stop = big["stops"][0]
    # Another park's team: refused, naming the park.
    r = edit(client, auth, day, stop["id"], status=422, route_id=chem["id"])
    assert "do not work in the park" in r["message"]
    # A day that would run past the working day: refused with the figures.
    from server.extensions import db
    from server.services import policy

    with app.app_context():
        policy.change({"working_day_hours": 1}, "a short day for the test", None)
        db.session.commit()
    r = edit(client, auth, day, stop["id"], status=422, seq=2)
    assert "longer than the working day" in r["message"] and "min" in r["message"]
    # Reorder within the route, take off the routes, lock only on a route; unknown ids are 404.
    r = edit(client, auth, day, stop["id"], status=422, locked=True, route_id=None)
    assert "cannot be locked" in str(r["errors"])
    plan = edit(client, auth, day, stop["id"], route_id=None)
    row = next(x for x in plan["not_scheduled"] if x["id"] == stop["id"])
    assert row["reason"] == "removed" and row["reason_words"]["zh"]
    r = edit(client, auth, day, stop["id"], status=422, locked=True)
    assert "put it on a route first" in r["message"]
    edit(client, auth, day, 999999, status=404, locked=True)
    r = client.patch(f"/api/plans/{day}/stops/{stop['id']}", json={}, headers=auth.headers("sched1"))
    assert r.status_code == 422
    r = client.patch(f"/api/plans/{day}/stops/{stop['id']}", json={"colour": "red"}, headers=auth.headers("sched1"))
    assert r.status_code == 422 and "colour" in r.get_json()["errors"]["json"]
    assert client.get("/api/plans/not-a-day", headers=auth.headers("sched1")).status_code == 404


def test_a_stop_moved_to_another_day_leaves_a_note_and_keeps_its_id(client, auth, app, world):
    day = world["tomorrow"]
    later = world["cal"].next_working_day(day)
    plan = generate(client, auth, day)
    route = next(r for r in plan["routes"] if r["stops"])
    stop = route["stops"][0]
    plan = edit(client, auth, day, stop["id"], day=later.isoformat())
    note = next(x for x in plan["not_scheduled"] if x["site"]["id"] == stop["site"]["id"])
    assert note["reason"] == "moved_to_day" and note["reason_day"] == later.isoformat()
    assert stop["site"]["id"] not in routed(plan)
    other = plan_of(client, auth, later)
    moved = next(x for x in other["not_scheduled"] if x["id"] == stop["id"])
    assert moved["reason"] == "moved_here"
    # Generating either day keeps the decision: the site stays off the first day, on the second.
    again = generate(client, auth, day)
    assert not_scheduled(again)[stop["site"]["id"]] == "moved_to_day"
    there = generate(client, auth, later)
    assert stop["site"]["id"] in routed(there)


# --- publishing and the inspector's today ----------------------------------------------------


def test_publish_makes_the_route_the_inspectors_today_in_order_with_stop_ids(client, auth, app, world):
    day = world["today"]
    u = world["users"]
    plan = generate(client, auth, day, teams=[{"officer_ids": [u["insp1"], u["insp2"]], "auxiliary_ids": [u["aux1"]]},
                                              {"officer_ids": [u["insp_chem"], u["insp_chem2"]]}])
    route = team_of(plan, [u["insp1"], u["insp2"]])
    assert route["team_lead_id"] == u["insp1"]
    # Not published yet: the inspector gets the working list, not the plan; and cannot read it.
    mine = client.get("/api/me/today", headers=auth.headers("insp2")).get_json()
    assert mine["source"] == "fallback"
    plan_of(client, auth, day, user="insp2", status=404)
    published = client.post(f"/api/plans/{day}/publish", headers=auth.headers("sched1"))
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    assert published.get_json()["allowed_next"] == ["unpublish"]
    for who in ("insp1", "insp2", "aux1"):
        mine = client.get("/api/me/today", headers=auth.headers(who)).get_json()
        assert mine["source"] == "plan", who
        assert [s["plan_stop_id"] for s in mine["stops"]] == [s["id"] for s in route["stops"]]
        assert [s["site_id"] for s in mine["stops"]] == [s["site"]["id"] for s in route["stops"]]
        assert [s["seq"] for s in mine["stops"]] == list(range(1, len(route["stops"]) + 1))
        assert all(isinstance(r, str) and r for s in mine["stops"] for r in s["reasons"])
        assert mine["plan"]["route_id"] == route["id"] and mine["plan"]["team_lead_id"] == u["insp1"]
    # The inspector reads the published plan of the day (their parks only); the other park's inspector
    # sees only their park's stops.
    seen = plan_of(client, auth, day, user="insp1")
    assert {s["site"]["park_id"] for r in seen["routes"] for s in r["stops"]} == {world["parks"]["EDZ"]}
    assert seen["allowed_next"] == []
    # A published plan is neither regenerated nor edited: 409 with what may be done.
    r = client.post("/api/plans", json={"date": day.isoformat()}, headers=auth.headers("sched1"))
    assert r.status_code == 409 and r.get_json()["allowed_next"] == ["unpublish"]
    edit(client, auth, day, route["stops"][0]["id"], status=409, locked=True)
    assert client.post(f"/api/plans/{day}/publish", headers=auth.headers("sched1")).status_code == 409
    assert client.post(f"/api/plans/{day}/unpublish", headers=auth.headers("sched1")).status_code == 200
    assert client.post(f"/api/plans/{day}/unpublish", headers=auth.headers("sched1")).status_code == 409
    assert [e.summary["day"] for e in audit_actions(app, "plan.publish")] == [day.isoformat()]
    assert len(audit_actions(app, "plan.unpublish")) == 1


def test_a_plan_of_a_later_day_stays_hidden_from_inspectors_until_that_day(client, auth, app, world):
    day = world["tomorrow"]
    generate(client, auth, day)
    assert client.post(f"/api/plans/{day}/publish", headers=auth.headers("sched1")).status_code == 200
    r = client.get(f"/api/plans/{day}", headers=auth.headers("insp1"))
    assert r.status_code == 403 and "secret" in r.get_json()["message"]
    assert plan_of(client, auth, day, user="sup1")["status"] == "published"


# --- who may ----------------------------------------------------------------------------------


def test_roles_and_parks(client, auth, app, world):
    from server.extensions import db
    from server.models import User
    from server.services.users import create_user
    from tests.world import PASSWORD

    day = world["tomorrow"]
    for who in ("insp1", "sup1", "legal1"):
        r = client.post("/api/plans", json={"date": day.isoformat()}, headers=auth.headers(who))
        assert r.status_code == 403, who
    assert client.post("/api/plans", json={"date": day.isoformat()}).status_code == 401
    # A scheduler of EDZ only plans EDZ; asking for CHEM is refused.
    with app.app_context():
        create_user("sched_edz", "sched_edz", "scheduler", PASSWORD, ["EDZ"])
        db.session.commit()
    r = client.post("/api/plans", json={"date": day.isoformat(), "park_ids": [world["parks"]["CHEM"]]},
                    headers=auth.headers("sched_edz"))
    assert r.status_code == 403
    plan = generate(client, auth, day, user="sched_edz")
    assert plan["park_ids"] == [world["parks"]["EDZ"]]
    assert {s["site"]["park_id"] for r in plan["routes"] for s in r["stops"]} == {world["parks"]["EDZ"]}
    assert all(set(r["parks"]) == {world["parks"]["EDZ"]} for r in plan["routes"])
    # The admin's plan of every park cannot be changed by the EDZ scheduler.
    generate(client, auth, day, user="admin1", park_ids=[world["parks"]["EDZ"], world["parks"]["CHEM"]])
    r = client.post("/api/plans", json={"date": day.isoformat()}, headers=auth.headers("sched_edz"))
    assert r.status_code == 403 and "not one of yours" in r.get_json()["message"]
    assert client.post(f"/api/plans/{day}/publish", headers=auth.headers("sched_edz")).status_code == 403
    # Chosen teams must be inspectors of the parks planned.
    with app.app_context():
        sup = db.session.execute(sa.select(User.id).where(User.username == "sup1")).scalar_one()
    r = client.post("/api/plans", json={"date": day.isoformat(), "options": FAST,
                                        "teams": [{"officer_ids": [world["users"]["insp1"], sup]}]},
                    headers=auth.headers("sched1"))
    assert r.status_code == 422 and "not an inspector" in r.get_json()["message"]
    r = client.post("/api/plans", json={"date": day.isoformat(), "options": {"solver": "guess"}},
                    headers=auth.headers("sched1"))
    assert r.status_code == 422


def test_the_evening_job_plans_the_next_working_day_once(client, auth, app, world):
    from server.services import planning

    with app.app_context():
        first = planning.plan_next_day()
        second = planning.plan_next_day()
    assert first["day"] == world["tomorrow"].isoformat() and first["result"] == "generated" and first["stops"] > 0
    assert second["result"] == "unchanged" and second["plan_id"] == first["plan_id"]
    assert len(audit_actions(app, "plan.generate")) == 1
    # A lock is kept by the job's next run; a published plan is left alone.
    plan = plan_of(client, auth, world["tomorrow"])
    stop = next(s for r in plan["routes"] for s in r["stops"])
    edit(client, auth, world["tomorrow"], stop["id"], locked=True)
    with app.app_context():
        third = planning.plan_next_day()
    assert third["result"] == "generated"
    assert routed(plan_of(client, auth, world["tomorrow"]))[stop["site"]["id"]] == routed(plan)[stop["site"]["id"]]
    client.post(f"/api/plans/{world['tomorrow']}/publish", headers=auth.headers("sched1"))
    with app.app_context():
        assert planning.plan_next_day()["result"] == "published_kept"


def test_fieldcheck_plan_generates_the_next_working_day_and_publishes_it(app, world, monkeypatch):
    from click.testing import CliRunner

    from server import cli
    from server.extensions import db
    from server.models import Plan

    monkeypatch.setattr(cli, "_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["plan", "--park", "EDZ", "--publish"])
    assert result.exit_code == 0, result.output
    assert f"plan of {world['tomorrow'].isoformat()} (published)" in result.output
    assert "team 1 (" in result.output and "stop " in result.output
    with app.app_context():
        row = db.session.execute(sa.select(Plan).where(Plan.day == world["tomorrow"])).scalar_one()
        assert row.status == "published" and row.inputs["park_ids"] == [world["parks"]["EDZ"]]
    # Published: generating it again is refused, in words, with a non-zero exit.
    result = CliRunner().invoke(cli.main, ["plan", "--date", world["tomorrow"].isoformat()])
    assert result.exit_code == 1 and "unpublish it" in result.output
    result = CliRunner().invoke(cli.main, ["plan", "--park", "NOPE"])
    assert result.exit_code == 1 and "no park with code 'NOPE'" in result.output

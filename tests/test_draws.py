"""Random draws (双随机) through the API, on both engines: made in the order DOMAIN.md pins (the
seed's hash on record before the pool, the pool's hash when frozen, the smallest HMAC drawn),
replayed identically from the record, a changed pool changing the hash, the seed and the result
hidden from inspectors until the day, drawn sites entering the plan as random inspections, and
`fieldcheck draw --replay`."""
from __future__ import annotations

import hashlib
import hmac

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.test_plans import FAST, clock, generate, world  # noqa: F401  (fixtures)


def make(client, auth, user="sched1", status=201, **body):
    r = client.post("/api/draws", json=body, headers=auth.headers(user))
    assert r.status_code == status, r.get_json()
    return r.get_json()


def read(client, auth, draw_id, user="sched1"):
    r = client.get(f"/api/draws/{draw_id}", headers=auth.headers(user))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_draw_is_recorded_step_by_step_and_draws_the_smallest_hmac(client, auth, app, world):
    from server.extensions import db
    from server.models import AuditEntry, Draw, Site

    day = world["tomorrow"]
    d = make(client, auth, subject="sites", count=3, visible_from=day.isoformat(),
             pool={"park_ids": [world["parks"]["EDZ"]], "risk_grades": ["medium", "high"]}, note="第四季度双随机")
    with app.app_context():
        pool = sorted(db.session.execute(sa.select(Site.id).where(
            Site.park_id == world["parks"]["EDZ"], Site.risk_grade.in_(["medium", "high"]))).scalars())
        row = db.session.get(Draw, d["id"])
        entries = list(db.session.execute(sa.select(AuditEntry).where(
            AuditEntry.entity_type == "draw", AuditEntry.entity_id == str(d["id"])).order_by(AuditEntry.id)).scalars())
        # The seed's hash went on record first, the pool when it was frozen, the members drawn last.
        assert [e.action for e in entries] == ["draw.open", "draw.freeze", "draw.draw"]
        assert entries[0].summary["seed_sha256"] == row.seed_sha256 and "pool_sha256" not in entries[0].summary
        assert row.created_at <= row.frozen_at <= row.drawn_at
    assert d["pool"] == pool and d["pool_size"] == len(pool) and d["count"] == 3
    # Anyone can check it with SHA-256 and HMAC alone.
    seed = d["seed"]
    assert len(seed) == 64 and hashlib.sha256(seed.encode()).hexdigest() == d["seed_sha256"]
    canonical = "[" + ",".join(str(i) for i in pool) + "]"
    assert hashlib.sha256(canonical.encode()).hexdigest() == d["pool_sha256"]
    ranks = sorted(pool, key=lambda m: hmac.new(seed.encode(), str(m).encode(), hashlib.sha256).hexdigest())
    assert d["drawn"] == ranks[:3]
    assert [m["id"] for m in d["drawn_members"]] == d["drawn"] and all(m["name"] for m in d["drawn_members"])
    assert d["pool_filter"] == {"park_ids": [world["parks"]["EDZ"]], "risk_grades": ["high", "medium"]}
    assert d["visit_by"] == d["visible_from"] == day.isoformat() and d["note"] == "第四季度双随机"


def test_a_replayed_draw_gives_the_identical_result_and_a_changed_pool_a_different_hash(client, auth, app, world):
    from server.extensions import db
    from server.models import Draw

    d = make(client, auth, subject="sites", count=2, visible_from=world["today"].isoformat())
    r = client.post(f"/api/draws/{d['id']}/replay", headers=auth.headers("sched1"))
    assert r.status_code == 200
    replay = r.get_json()
    assert replay["matches"] and replay["problems"] == [] and replay["drawn"] == d["drawn"]
    assert replay["recomputed"]["pool_sha256"] == d["pool_sha256"]
    # Someone slips a member into the stored pool: the replay says the pool no longer matches its hash.
    with app.app_context():
        row = db.session.get(Draw, d["id"])
        row.pool = sorted(row.pool + [max(row.pool) + 1000])
        db.session.commit()
    replay = client.post(f"/api/draws/{d['id']}/replay", headers=auth.headers("sched1")).get_json()
    assert not replay["matches"]
    assert replay["recomputed"]["pool_sha256"] != d["pool_sha256"]
    assert any("pool does not match" in p for p in replay["problems"])
    # A changed seed breaks the hash recorded before the pool.
    with app.app_context():
        row = db.session.get(Draw, d["id"])
        row.pool = d["pool"]
        row.seed = "0" * 64
        db.session.commit()
    replay = client.post(f"/api/draws/{d['id']}/replay", headers=auth.headers("sched1")).get_json()
    assert not replay["matches"] and any("seed does not match" in p for p in replay["problems"])
    # Another draw from the same pool has another seed, the same pool hash, most likely other members.
    other = make(client, auth, subject="sites", count=2, visible_from=world["today"].isoformat())
    assert other["pool_sha256"] == d["pool_sha256"] and other["seed_sha256"] != d["seed_sha256"]


def test_the_seed_and_result_stay_hidden_from_inspectors_until_the_day(client, auth, app, world):
    later = world["tomorrow"]
    d = make(client, auth, subject="sites", count=1, visible_from=later.isoformat(),
             pool={"park_ids": [world["parks"]["EDZ"]]})
    seen = read(client, auth, d["id"], user="insp1")
    assert seen["hidden"] and seen["seed"] is None and seen["drawn"] is None and seen["drawn_members"] is None
    assert seen["seed_sha256"] == d["seed_sha256"] and seen["pool_sha256"] == d["pool_sha256"]
    r = client.post(f"/api/draws/{d['id']}/replay", headers=auth.headers("insp1"))
    assert r.status_code == 403 and later.isoformat() in r.get_json()["message"]
    # The other park's inspector does not see an EDZ draw at all; the admin sees everything.
    assert client.get(f"/api/draws/{d['id']}", headers=auth.headers("insp_chem")).status_code == 403
    assert read(client, auth, d["id"], user="admin1")["seed"] == d["seed"]
    # Today is the day: the seed and the result are everyone's (of the draw's parks).
    d2 = make(client, auth, subject="sites", count=1, visible_from=world["today"].isoformat(),
              pool={"park_ids": [world["parks"]["EDZ"]]})
    seen = read(client, auth, d2["id"], user="insp1")
    assert not seen["hidden"] and seen["seed"] == d2["seed"] and seen["drawn"] == d2["drawn"]
    assert client.post(f"/api/draws/{d2['id']}/replay", headers=auth.headers("insp1")).get_json()["matches"]


def test_drawn_sites_enter_the_plan_as_random_inspections(client, auth, app, world):
    day = world["tomorrow"]
    d = make(client, auth, subject="sites", count=2, visible_from=day.isoformat(),
             pool={"park_ids": [world["parks"]["EDZ"]]})
    plan = generate(client, auth, day)
    stops = {s["site"]["id"]: s for r in plan["routes"] for s in r["stops"]}
    stops.update({s["site"]["id"]: s for s in plan["not_scheduled"]})
    for site_id in d["drawn"]:
        stop = stops[site_id]
        assert stop["draw_id"] == d["id"] or any(r.get("draw_id") == d["id"] for r in stop["reasons"])
        assert any(r["kind"] == "random" and r["code"] == "drawn" for r in stop["reasons"])


def test_a_draw_of_inspectors_limits_the_days_teams(client, auth, app, world):
    day = world["tomorrow"]
    u = world["users"]
    d = make(client, auth, subject="inspectors", count=2, visible_from=day.isoformat(),
             pool={"park_ids": [world["parks"]["EDZ"]]})
    edz_officers = {u["insp1"], u["insp2"], u["insp3"], u["insp4"]}
    assert set(d["pool"]) == edz_officers  # certified officers of the park, never the auxiliary
    plan = generate(client, auth, day)
    officers = {o["id"] for r in plan["routes"] for o in r["officers"] if not o["auxiliary"]}
    assert officers & edz_officers == set(d["drawn"])
    why = {x["user_id"]: x["reason"] for x in plan["unavailable"]}
    assert {why[uid] for uid in edz_officers - set(d["drawn"])} == {"not_drawn"}


def test_bad_draws_are_refused_in_words(client, auth, app, world):
    day = world["tomorrow"].isoformat()
    r = make(client, auth, status=422, subject="sites", count=500, visible_from=day)
    assert "draw at most" in r["message"] and "count" in r["errors"]["json"]
    r = make(client, auth, status=422, subject="sites", count=1, visible_from=day, pool={"risk_grades": ["awful"]})
    assert "risk_grades" in str(r["errors"])
    r = make(client, auth, status=422, subject="sites", count=1, visible_from="2020-01-01")
    assert "has passed" in r["message"]
    r = make(client, auth, status=422, subject="sites", count=1, visible_from=day, visit_by="2020-01-01")
    assert "visit_by" in r["errors"]["json"]
    r = make(client, auth, status=422, subject="sites", count=1, visible_from=day, visit_by="9999-12-31")
    assert "a year ahead" in r["message"]
    r = make(client, auth, status=422, subject="inspectors", count=1, visible_from=day, pool={"risk_grades": ["low"]})
    assert "by park only" in r["message"]
    r = make(client, auth, status=422, subject="sites", count=1, visible_from=day,
             pool={"park_ids": [world["parks"]["EDZ"]], "site_kinds": ["project_site"]})
    assert "pool is empty" in r["message"]
    make(client, auth, status=422, subject="planets", count=1, visible_from=day)
    make(client, auth, status=422, subject="sites", count=1, visible_from=day, seed="f" * 64)
    make(client, auth, status=403, user="insp1", subject="sites", count=1, visible_from=day)
    make(client, auth, status=403, user="sup1", subject="sites", count=1, visible_from=day)
    assert client.get("/api/draws/424242", headers=auth.headers("sched1")).status_code == 404


def test_fieldcheck_draw_replay_reproduces_a_draw_from_its_record(client, auth, app, world, monkeypatch):
    from server import cli

    d = make(client, auth, subject="sites", count=2, visible_from=world["today"].isoformat())
    monkeypatch.setattr(cli, "_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["draw", "--replay", str(d["id"])])
    assert result.exit_code == 0, result.output
    assert "matches" in result.output and d["seed_sha256"] in result.output
    assert " ".join(str(m) for m in d["drawn"]) in result.output
    from server.extensions import db
    from server.models import Draw

    with app.app_context():
        db.session.get(Draw, d["id"]).drawn = list(reversed(d["drawn"]))
        db.session.commit()
    result = CliRunner().invoke(cli.main, ["draw", "--replay", str(d["id"])])
    assert result.exit_code == 1 and "DOES NOT MATCH" in result.output
    result = CliRunner().invoke(cli.main, ["draw", "--replay", "424242"])
    assert result.exit_code != 0 and "no draw 424242" in result.output


@pytest.mark.parametrize("subject", ["sites", "inspectors"])
def test_fieldcheck_draw_makes_a_draw(client, auth, app, world, monkeypatch, subject):
    from server import cli

    monkeypatch.setattr(cli, "_app", lambda: app)
    result = CliRunner().invoke(cli.main, ["draw", "--subject", subject, "--count", "1", "--park", "EDZ",
                                           "--visible-from", world["tomorrow"].isoformat()])
    assert result.exit_code == 0, result.output
    assert "seed_sha256" in result.output and "pool_sha256" in result.output
    from server.extensions import db
    from server.models import AuditEntry, Draw

    with app.app_context():
        row = db.session.execute(sa.select(Draw).order_by(Draw.id.desc()).limit(1)).scalar_one()
        assert row.subject == subject and row.visible_from == world["tomorrow"] and len(row.drawn) == 1
        assert row.pool_filter["park_ids"] == [world["parks"]["EDZ"]] and row.created_by is None
        assert f"draw {row.id} of {subject}" in result.output
        actions = db.session.execute(sa.select(AuditEntry.action).where(
            AuditEntry.entity_type == "draw", AuditEntry.entity_id == str(row.id))).scalars().all()
        assert actions == ["draw.open", "draw.freeze", "draw.draw"]

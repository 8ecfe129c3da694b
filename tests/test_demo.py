"""The demo city (built into a new, empty database on each engine), and the catalogue and
calendar loaders it uses."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import Point, Polygon
from sqlalchemy.engine import make_url

from server.db import normalise_url
from server.domain import credit_code
from server.domain.policy import default_policy
from server.services import calendar as calendar_service
from server.services import catalogue as catalogue_service
from server.services.demo import DEMO_LOGINS, DEMO_PASSWORD, DemoError, build_demo, city_digest, plan_city
from tests.conftest import ENGINES, PG_URL, TEST_SECRET, need

TODAY = dt.date(2026, 6, 1)
ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_CSV = ROOT / "server" / "data" / "catalogue.csv"


# --- the plan, pure ----------------------------------------------------------------


def test_same_seed_same_city_other_seed_other_city():
    first = plan_city(1, TODAY)
    assert city_digest(first) == city_digest(plan_city(1, TODAY))
    # The clock moves only dates (certificate expiry, leave), never the city itself.
    assert city_digest(first) == city_digest(plan_city(1, TODAY + dt.timedelta(days=400)))
    second = plan_city(2, TODAY)
    assert city_digest(second) != city_digest(first)
    assert {s["name"] for s in second["sites"]} != {s["name"] for s in first["sites"]}


def test_parks_are_valid_plausible_and_apart():
    parks = {p["code"]: Polygon(p["boundary"]) for p in plan_city(1, TODAY)["parks"]}
    assert set(parks) == {"EDZ", "BIGDATA", "AUTO", "CHEM"}
    yizheng = Point(119.18, 32.27)
    for code, poly in parks.items():
        assert poly.is_valid, code
        assert len(poly.exterior.coords) > 6, f"{code} should be an irregular polygon, not a box"
        minx, miny, maxx, maxy = poly.bounds
        width_km, height_km = (maxx - minx) * 94.2, (maxy - miny) * 110.9
        assert 1.5 < width_km < 8 and 1.5 < height_km < 8, (code, width_km, height_km)
        assert poly.centroid.distance(yizheng) * 100 < 15, f"{code} is not near Yizheng"
    for (a, pa), (b, pb) in itertools.combinations(parks.items(), 2):
        assert not pa.intersects(pb), f"{a} and {b} overlap"


def test_more_seeds_keep_every_invariant():
    for seed in (3, 17, 2026):
        plan = plan_city(seed, TODAY)
        names = [s["name"] for s in plan["sites"]]
        assert len(names) == len(set(names))
        codes = [s["credit_code"] for s in plan["sites"] if s["credit_code"]]
        assert len(codes) == len(set(codes)) and all(credit_code.is_valid(c) for c in codes)
        parks = {p["code"]: Polygon(p["boundary"]) for p in plan["parks"]}
        assert all(parks[s["park"]].contains(Point(s["lon"], s["lat"])) for s in plan["sites"])


# --- the city as stored, on each engine ----------------------------------------------

@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    """One demo build per engine, shared by this module's tests."""
    return request.param


def _empty_database(engine: str, tmp_dir: Path) -> str:
    from server.migrate import upgrade

    if engine == "spatialite":
        url = f"sqlite:///{tmp_dir / 'demo.db'}"
    else:
        need(bool(PG_URL), "FIELDCHECK_TEST_DATABASE_URL is not set, so the PostGIS tests cannot run")
        base = make_url(normalise_url(PG_URL))
        name = f"fc_demo_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
        eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with eng.begin() as c:
            c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        eng.dispose()
    upgrade(url)
    return url


def _drop(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def city(engine, tmp_path_factory):
    from server import create_app
    from server.extensions import db

    tmp = tmp_path_factory.mktemp(f"demo-{engine}")
    url = _empty_database(engine, tmp)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp / "data"), "SECRET_KEY": TEST_SECRET,
                      "TESTING": True})
    with app.app_context():
        started = time.perf_counter()
        # The city alone: its history is tested in tests/test_demo_history.py.
        summary = build_demo(seed=1, today=TODAY, history=False)
        db.session.commit()
        seconds = time.perf_counter() - started
    yield SimpleNamespace(app=app, summary=summary, seconds=seconds)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop(url)


@pytest.fixture
def ctx(city):
    from server.extensions import db

    with city.app.app_context():
        yield db.session
        db.session.rollback()


def test_stored_city_is_the_planned_city(city, ctx):
    from server.services.demo import database_digest

    assert city.summary["digest"] == city_digest(plan_city(1, TODAY))
    assert database_digest() == city.summary["digest"]
    assert city.seconds < 30, f"the demo build took {city.seconds:.1f} s"


def test_enterprises_sit_inside_their_parks(city, ctx):
    from server.models import Office, Park, Site

    parks = {p.id: (p.code, to_shape(p.boundary)) for p in ctx.execute(sa.select(Park)).scalars()}
    assert len(parks) == 4
    for code, shape in parks.values():
        assert shape.is_valid and shape.geom_type == "MultiPolygon", code
    for (a, sa_), (b, sb) in itertools.combinations(parks.values(), 2):
        assert not sa_.intersects(sb), f"{a} and {b} overlap"
    sites = ctx.execute(sa.select(Site)).scalars().all()
    enterprises = [s for s in sites if s.kind == "enterprise"]
    assert len(enterprises) >= 300
    assert sum(s.kind == "project_site" for s in sites) >= 5
    outside = [s.name for s in sites if not parks[s.park_id][1].contains(to_shape(s.geom))]
    assert outside == []
    assert {parks[s.park_id][0] for s in enterprises} == {"EDZ", "BIGDATA", "AUTO", "CHEM"}
    office = ctx.execute(sa.select(Office).where(Office.is_default.is_(True))).scalar_one()
    at = to_shape(office.location)
    assert not any(shape.contains(at) for _, shape in parks.values()), "the office stands inside a park"
    assert min(shape.distance(at) for _, shape in parks.values()) * 100 < 2, "the office is far from every park"


def test_enterprise_names_and_credit_codes(city, ctx):
    from server.models import Site

    enterprises = ctx.execute(sa.select(Site).where(Site.kind == "enterprise")).scalars().all()
    names = [s.name for s in enterprises]
    assert len(names) == len(set(names))
    assert all(n.endswith("有限公司") for n in names)
    codes = [s.credit_code for s in enterprises]
    assert all(c and credit_code.is_valid(c) for c in codes), [c for c in codes if not credit_code.is_valid(c or "")]
    assert len(set(codes)) == len(codes)
    assert all(c[2:8] == "321081" for c in codes), "Yizheng's region code"
    assert all(s.address and s.industry and s.contact_name for s in enterprises)


def test_grades_and_key_objects_fit_the_parks(city, ctx):
    from server.models import Park, Site

    rows = ctx.execute(sa.select(Site, Park.code).join(Park).where(Site.kind == "enterprise")).all()
    hazchem = [s for s, park in rows if s.is_hazchem]
    assert hazchem and all(park == "CHEM" for s, park in rows if s.is_hazchem)
    assert {s.safety_std_grade for s in hazchem} == {"1", "2", "3", "ungraded"}
    assert all(s.safety_std_grade is None for s, _ in rows if not s.is_hazchem)
    majors = [s for s, _ in rows if s.is_major_hazard]
    assert majors and all(s.is_hazchem and s.risk_grade in ("high", "very_high") for s in majors)
    polluters = [s for s, _ in rows if s.is_key_polluter]
    assert 3 <= len(polluters) <= 15
    grades = {s.risk_grade for s, _ in rows}
    assert grades == {"low", "medium", "high", "very_high"}
    assert {s.credit_class for s, _ in rows} == {"A", "B", "C", "D"}
    chem_risk = [s.risk_grade for s, park in rows if park == "CHEM"]
    data_risk = [s.risk_grade for s, park in rows if park == "BIGDATA"]
    assert chem_risk.count("low") < data_risk.count("low"), "the chemical park should be riskier than the data park"


def test_staff_of_every_role(city, ctx):
    from server.models import ConflictDeclaration, Leave, User

    users = ctx.execute(sa.select(User)).scalars().all()
    assert all(u.is_demo for u in users)
    by_role = {role: [u for u in users if u.role == role] for role in
               ("inspector", "supervisor", "legal_reviewer", "scheduler", "admin")}
    certified = [u for u in by_role["inspector"] if not u.auxiliary]
    auxiliary = [u for u in by_role["inspector"] if u.auxiliary]
    assert len(certified) >= 6
    assert len({u.certificate_no for u in certified}) == len(certified) and all(u.certificate_no for u in certified)
    assert all(u.certified_domains for u in certified)
    assert len(auxiliary) == 1 and auxiliary[0].certificate_no is None
    assert [len(by_role[r]) for r in ("supervisor", "legal_reviewer", "scheduler", "admin")] == [2, 1, 1, 1]
    expired = [u for u in certified if u.certificate_expires < TODAY]
    soon = [u for u in certified if TODAY <= u.certificate_expires <= TODAY + dt.timedelta(days=30)]
    assert len(expired) == 1 and len(soon) == 1
    assert len(certified) - 2 == sum(u.certificate_expires > TODAY + dt.timedelta(days=30) for u in certified)
    # Every park can field a team of two certified inspectors today.
    for code in ("EDZ", "BIGDATA", "AUTO", "CHEM"):
        team = [u for u in certified if code in [p.code for p in u.parks] and u.certified_on(TODAY)]
        assert len(team) >= 2, code
    assert all(u.parks for u in by_role["inspector"] + by_role["supervisor"])
    assert ctx.execute(sa.select(sa.func.count(ConflictDeclaration.id))).scalar_one() >= 2
    leaves = ctx.execute(sa.select(Leave)).scalars().all()
    assert len(leaves) >= 2 and all(lv.start_date >= TODAY for lv in leaves)


def test_checklists_catalogue_calendar_policy(city, ctx):
    from server.models import CalendarDay, ChecklistTemplate, PolicyVersion, ViolationType

    templates = ctx.execute(sa.select(ChecklistTemplate)).scalars().all()
    assert {t.domain for t in templates} == {"safety", "environment", "illegal_construction", "fire"}
    item_codes = []
    for t in templates:
        assert t.status == "published" and t.version == 1 and t.published_at is not None
        assert 8 <= len(t.items) <= 12, t.code
        for item in t.items:
            assert item.text_zh and item.text_en and "第" in item.legal_basis and "条" in item.legal_basis
            item_codes.append(item.code)
    assert len(item_codes) == len(set(item_codes))

    with open(CATALOGUE_CSV, encoding="utf-8", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    stored = ctx.execute(sa.select(ViolationType)).scalars().all()
    assert len(stored) == len(csv_rows)
    assert {v.code for v in stored} == {r["code"] for r in csv_rows}
    assert all(v.correction_unit == "working_days" and v.effective_to is None for v in stored)
    assert all(v.list_conditions for v in stored if v.tolerance_type != "none")
    hw = next(v for v in stored if v.code == "ENV-HW-LABEL")
    assert "1吨以内" in hw.list_conditions and hw.effective_from == dt.date(2020, 4, 29)

    days = dict(ctx.execute(sa.select(CalendarDay.day, CalendarDay.kind)).all())
    assert days[dt.date(2026, 2, 16)] == "holiday" and days[dt.date(2026, 10, 1)] == "holiday"
    assert days[dt.date(2026, 2, 14)] == "workday" and days[dt.date(2026, 9, 20)] == "workday"
    assert dt.date(2026, 3, 2) not in days

    policy = ctx.execute(sa.select(PolicyVersion)).scalars().all()
    assert [p.version for p in policy] == [1] and policy[0].values == default_policy()


def test_the_build_is_audited_once_and_the_chain_holds(city, ctx):
    from server.models import AuditEntry
    from server.services.audit import verify_chain

    actions = [a for (a,) in ctx.execute(sa.select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions.count("demo.build") == 1
    assert actions.count("user.create") == len(DEMO_LOGINS)
    entry = ctx.execute(sa.select(AuditEntry).where(AuditEntry.action == "demo.build")).scalar_one()
    assert entry.summary["digest"] == city.summary["digest"] and entry.summary["enterprises"] >= 300
    assert verify_chain()["ok"]


def test_every_demo_user_logs_in_with_the_demo_password(city):
    from server.extensions import db
    from server.models import User

    client = city.app.test_client()
    assert len(DEMO_PASSWORD) >= 10
    assert {role for _, role, _ in DEMO_LOGINS} == {"inspector", "supervisor", "legal_reviewer", "scheduler", "admin"}
    # Argon2 takes a good part of a second per login on a busy machine: log in one user of
    # each role through the API; the others hold the very hash the API just accepted.
    one_per_role = {role: username for username, role, _ in reversed(DEMO_LOGINS)}
    for role, username in one_per_role.items():
        r = client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 201, (username, r.get_json())
        assert r.get_json()["user"]["role"] == role
    with city.app.app_context():
        hashes = dict(db.session.execute(sa.select(User.username, User.password_hash)).all())
        assert set(hashes) == {username for username, _, _ in DEMO_LOGINS}
        assert len(set(hashes.values())) == 1
    r = client.post("/api/auth/token", json={"username": DEMO_LOGINS[0][0], "password": "not-the-demo-password"})
    assert r.status_code == 401


def test_the_demo_refuses_a_database_that_holds_data(app):
    from server.extensions import db
    from server.models import Park, User

    with app.app_context():
        before = db.session.execute(sa.select(sa.func.count(User.id))).scalar_one()
        with pytest.raises(DemoError, match="already holds data"):
            build_demo(seed=1, today=TODAY)
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count(User.id))).scalar_one() == before
        assert db.session.execute(sa.select(sa.func.count(Park.id))).scalar_one() == 2


# --- the catalogue loader ----------------------------------------------------------

HEADER = ",".join(catalogue_service.COLUMNS)


def _csv(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join((HEADER,) + lines) + "\n")


GOOD = ("FIRE-HYDRANT-BLOCKED,fire,埋压消火栓,Hydrant blocked,《消防法》第二十八条,《消防法》第六十条,"
        "immediate,minor_no_harm,0,处五千元以上五万元以下罚款,LawRefBook/Laws:行政法/消防法(2021-04-29).md")


def test_catalogue_rows_are_checked_and_every_error_is_reported():
    with pytest.raises(catalogue_service.CatalogueError) as e:
        catalogue_service.read_csv(_csv(
            GOOD,
            "bad code,fire,x,x,a,b,immediate,none,5,,",
            "SAF-X,weather,x,x,a,b,sometimes,none,-1,,",
            GOOD,
        ))
    errors = e.value.errors
    assert set(errors) == {"line 3", "line 4", "line 5"}
    assert "code" in errors["line 3"]
    assert {"domain", "penalty_trigger", "correction_days"} <= set(errors["line 4"])
    assert "line 2" in errors["line 5"]["code"][0]  # the duplicate names the first one
    with pytest.raises(catalogue_service.CatalogueError, match="header"):
        catalogue_service.read_csv(io.StringIO("code,domain\nX-Y,fire\n"))


def test_catalogue_row_dates_and_conditions():
    (row,) = catalogue_service.read_csv(_csv(GOOD))
    assert row["effective_from"] == dt.date(2021, 4, 29)  # the date of the statute text cited
    assert row["correction_days"] == 0 and row["correction_unit"] == "working_days"
    assert "第三十三条" in row["list_conditions"]
    (undated,) = catalogue_service.read_csv(_csv(GOOD.replace("(2021-04-29)", "")))
    assert undated["effective_from"] == catalogue_service.DEFAULT_EFFECTIVE_FROM


def test_catalogue_reload_is_idempotent_and_versions_never_overwrite(app):
    from server.extensions import db
    from server.models import ViolationType

    with app.app_context():
        first = catalogue_service.load_bundled()
        assert first["created"] == len(catalogue_service.read_csv(CATALOGUE_CSV))
        again = catalogue_service.load_bundled()
        assert again == {"created": 0, "unchanged": first["created"], "ended": 0}
        (row,) = catalogue_service.read_csv(_csv(GOOD))
        changed = dict(row, correction_days=2)
        with pytest.raises(catalogue_service.CatalogueError, match="overwrite"):
            catalogue_service.load_rows([changed])
        newer = dict(changed, effective_from=dt.date(2026, 7, 1))
        assert catalogue_service.load_rows([newer])["ended"] == 1
        db.session.commit()
        old = catalogue_service.in_force("FIRE-HYDRANT-BLOCKED", dt.date(2026, 6, 30))
        new = catalogue_service.in_force("FIRE-HYDRANT-BLOCKED", dt.date(2026, 7, 1))
        assert (old.correction_days, old.effective_to) == (0, dt.date(2026, 6, 30))
        assert (new.correction_days, new.effective_to) == (2, None)
        assert catalogue_service.in_force("FIRE-HYDRANT-BLOCKED", dt.date(2020, 1, 1)) is None
        count = db.session.execute(sa.select(sa.func.count(ViolationType.id))).scalar_one()
        assert count == first["created"] + 1


# --- the calendar loader -----------------------------------------------------------


def test_the_2026_notice_as_shipped():
    rows = calendar_service.expand_notice(calendar_service.read_bundled(2026))
    holidays = [d for d, kind, _ in rows if kind == "holiday"]
    workdays = [d for d, kind, _ in rows if kind == "workday"]
    assert len(holidays) == 33 and len(workdays) == 6
    assert all(d.weekday() >= 5 for d in workdays)
    assert dt.date(2026, 2, 15) in holidays and dt.date(2026, 2, 23) in holidays


def test_a_wrong_notice_is_refused_with_reasons():
    with pytest.raises(calendar_service.CalendarError) as e:
        calendar_service.expand_notice({"year": 2026, "holidays": [
            {"name": "春节", "from": "2026-02-23", "to": "2026-02-15"},
            {"name": "元旦", "from": "2026-01-01", "to": "2026-01-03"},
        ], "workdays": [{"day": "2026-01-05"}, {"day": "2026-01-03"}, {"day": "2027-01-02"}]})
    errors = e.value.errors
    assert "before it starts" in errors["holidays[0]"][0]
    assert "weekday" in errors["workdays[0]"][0]
    assert "also listed as a holiday" in errors["workdays[1]"][0]
    assert "outside 2026" in errors["workdays[2]"][0]
    with pytest.raises(calendar_service.CalendarError, match="no calendar for 1999"):
        calendar_service.read_bundled(1999)


def test_loading_a_year_again_replaces_it(app):
    from server.extensions import db
    from server.models import AuditEntry, CalendarDay

    with app.app_context():
        calendar_service.load_year(calendar_service.read_bundled(2026))
        corrected = {"year": 2026, "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-01"}],
                     "workdays": []}
        summary = calendar_service.load_year(corrected)
        db.session.commit()
        assert summary["holidays"] == 1
        assert db.session.execute(sa.select(CalendarDay.day)).scalars().all() == [dt.date(2026, 1, 1)]
        actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.action == "calendar.load")).all()
        assert len(actions) == 2

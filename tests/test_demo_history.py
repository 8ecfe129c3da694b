"""The demo city's history: about 60 days of visits, findings, orders, reviews, a case and
photos made through the services, on a new database per engine (as tests/test_demo.py builds
the city). What a supervisor, the legal reviewer and the dashboard find in it is checked here,
and that none of it was set by hand."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from PIL import Image

from server.domain import classify as classifier
from server.domain import exif as exif_domain
from server.domain.geo import geodesic_m
from server.domain.lifecycle import STATUTORY_FLAG
from server.domain.policy import default_policy
from server.services.demo import DEMO_PASSWORD, build_demo
from server.services.demo_history import HISTORY_DAYS
from tests.conftest import ENGINES, TEST_SECRET
from tests.test_demo import _drop, _empty_database

# A history that spans the National Day holidays (1 to 7 October 2026) and the make-up
# working day of Saturday 10 October.
TODAY = dt.date(2026, 10, 20)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DIGESTS: dict[str, str] = {}


@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    """One demo build per engine, shared by this module's tests."""
    return request.param


def _build(url: str, data_dir) -> SimpleNamespace:
    from server import create_app
    from server.extensions import db

    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(data_dir), "SECRET_KEY": TEST_SECRET, "TESTING": True})
    with app.app_context():
        started = time.perf_counter()
        summary = build_demo(seed=1, today=TODAY)
        db.session.commit()
        seconds = time.perf_counter() - started
    return SimpleNamespace(app=app, summary=summary, seconds=seconds, url=url)


def _dispose(city) -> None:
    from server.extensions import db

    with city.app.app_context():
        db.session.remove()
        db.engine.dispose()
    _drop(city.url)


@pytest.fixture(scope="module")
def city(engine, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"history-{engine}")
    built = _build(_empty_database(engine, tmp), tmp / "data")
    print(f"\ndemo city and history on {engine}: {built.seconds:.1f} s")
    yield built
    _dispose(built)


@pytest.fixture
def ctx(city):
    from server.extensions import db

    with city.app.app_context():
        yield db.session
        db.session.rollback()


def _history_digest(session) -> str:
    """What the history is: each finding's id, tiers, rule, flags and status, each visit's id and
    on-site verdict, each order's number and status, each case's number and status."""
    from server.domain.canonical import content_hash
    from server.models import Case, Finding, Order, Visit

    return content_hash({
        "findings": [[str(f.id), f.suggested_tier, f.final_tier, f.rule_id, sorted(f.flags or []), f.status]
                     for f in session.execute(sa.select(Finding).order_by(Finding.id)).scalars()],
        "visits": [[str(v.id), v.geofence, v.kind]
                   for v in session.execute(sa.select(Visit).order_by(Visit.id)).scalars()],
        "orders": [[o.number, o.status, o.deadline.isoformat()]
                   for o in session.execute(sa.select(Order).order_by(Order.number)).scalars()],
        "cases": [[c.number, c.status] for c in session.execute(sa.select(Case).order_by(Case.number)).scalars()],
    })


def _actions_of(session, entity_type: str, entity_id) -> list[str]:
    from server.models import AuditEntry

    return list(session.execute(sa.select(AuditEntry.action).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)).scalars())


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_history(city, ctx, engine, tmp_path_factory):
    digest = _history_digest(ctx)
    DIGESTS[engine] = digest
    other = next((d for e, d in DIGESTS.items() if e != engine), None)
    if other is None:  # the first engine of the run: build the same seed again, apart
        tmp = tmp_path_factory.mktemp("history-again")
        again = _build(_empty_database("spatialite", tmp), tmp / "data")
        from server.extensions import db

        with again.app.app_context():
            other = _history_digest(db.session)
            db.session.rollback()
        _dispose(again)
    assert digest == other
    assert city.summary["history"]["visits"] > 0 and city.summary["history"]["findings"] > 0


# --- the mix and the visits ----------------------------------------------------------------------


def test_the_mix_is_near_721_with_every_tier_and_several_domains(ctx):
    from server.models import Finding

    tiers = dict(ctx.execute(sa.select(Finding.final_tier, sa.func.count()).group_by(Finding.final_tier)).all())
    total = sum(tiers.values())
    assert total >= 120 and set(tiers) == {"service", "management", "enforcement"}
    shares = {t: 100 * n / total for t, n in tiers.items()}
    assert 60 <= shares["service"] <= 80, shares
    assert 12 <= shares["management"] <= 28 and 4 <= shares["enforcement"] <= 16, shares
    domains = set(ctx.execute(sa.select(Finding.domain).distinct()).scalars())
    assert {"safety", "fire", "environment", "city_appearance"} <= domains
    rules = set(ctx.execute(sa.select(Finding.rule_id).distinct()).scalars())
    assert {"S0", "T1", "T4", "T5", "X1", "E3", "E5"} <= rules, rules
    advisory = ctx.execute(sa.select(sa.func.count()).where(Finding.violation_type_id.is_(None))).scalar_one()
    assert advisory > 0.15 * total and all(
        r == ("service", "S0") for r in ctx.execute(sa.select(Finding.suggested_tier, Finding.rule_id)
                                                    .where(Finding.violation_type_id.is_(None))).all())


def test_visits_are_team_work_on_working_days_in_the_teams_parks(ctx):
    from server.models import AuditEntry, Park, Site, User, Visit, visit_officers
    from server.services.calendar import work_calendar

    calendar = work_calendar()
    visits = ctx.execute(sa.select(Visit).order_by(Visit.started_at)).scalars().all()
    first, last = TODAY - dt.timedelta(days=HISTORY_DAYS), TODAY - dt.timedelta(days=1)
    days = {v.started_at.astimezone(SHANGHAI).date() for v in visits}
    last_working_day = max(d for d in (last - dt.timedelta(days=k) for k in range(10)) if calendar.is_working_day(d))
    assert min(days) >= first and max(days) == last_working_day
    assert all(calendar.is_working_day(d) for d in days)
    assert not any(dt.date(2026, 10, 1) <= d <= dt.date(2026, 10, 7) for d in days), "a visit on a holiday"
    per_day = len(visits) / len(days)
    assert 3 <= per_day <= 9, per_day
    users = {u.id: u for u in ctx.execute(sa.select(User)).scalars()}
    parks = dict(ctx.execute(sa.select(Site.id, Park.code).join(Park)).all())
    created = set(ctx.execute(sa.select(AuditEntry.entity_id).where(AuditEntry.action == "visit.create")).scalars())
    crews = {}
    for vid, uid, counted in ctx.execute(sa.select(visit_officers.c.visit_id, visit_officers.c.user_id,
                                                   visit_officers.c.counted)).all():
        crews.setdefault(vid, []).append((users[uid], counted))
    for v in visits:
        day = v.started_at.astimezone(SHANGHAI).date()
        crew = crews[v.id]
        certified = {u.certificate_no for u, counted in crew if counted}
        assert len(certified) >= 2, f"visit {v.id} has {len(certified)} certified officers"
        assert all(counted == u.certified_on(day) for u, counted in crew)
        recorder = users[v.recorded_by]
        assert recorder.role == "inspector" and parks[v.site_id] in [p.code for p in recorder.parks]
        assert v.device_id == f"demo-{recorder.username}" and str(v.id) in created
        assert v.finished_at <= v.received_at <= v.finished_at + dt.timedelta(hours=12) and not v.clock_flagged
        assert v.receipt and v.receipt["id"] == str(v.id) and v.content_hash
    verdicts = {v.geofence for v in visits}
    assert "on_site" in verdicts and verdicts & {"off_site", "poor_fix"}
    off = [v for v in visits if v.geofence in ("off_site", "near", "poor_fix", "no_fix")]
    assert 0 < len(off) < 0.3 * len(visits)
    insp01 = next(u for u in users.values() if u.username == "insp01")
    assert all(day <= insp01.certificate_expires for v in visits
               for day in [v.started_at.astimezone(SHANGHAI).date()] if insp01 in [u for u, _ in crews[v.id]]), \
        "an officer whose certificate had expired was sent out"


# --- exactly the promised states -----------------------------------------------------------------


def test_one_overdue_order_escalated_by_the_clock_sweep(ctx):
    from server.models import AuditEntry, Finding, Order

    overdue = ctx.execute(sa.select(Order).where(Order.status == "overdue")).scalars().all()
    assert len(overdue) == 1
    order = overdue[0]
    finding = ctx.get(Finding, order.finding_id)
    assert order.reinspection_due < TODAY and finding.status == "escalated"
    assert (finding.suggested_tier, finding.final_tier) == ("management", "enforcement")
    escalation = ctx.execute(sa.select(AuditEntry).where(
        AuditEntry.action == "finding.escalate", AuditEntry.entity_id == str(finding.id))).scalar_one()
    assert escalation.actor_id is None and escalation.summary["reason"] == "order_overdue"
    assert escalation.summary["rule_id"] == "E4"
    # The sweep of the day after the window closed, at five past midnight.
    assert escalation.at.astimezone(SHANGHAI).date() > order.reinspection_due
    # Every other order that was not re-inspected still has time.
    running = ctx.execute(sa.select(Order).where(Order.status == "open")).scalars().all()
    assert running and all(o.reinspection_due >= TODAY for o in running)


def test_one_failed_reinspection_escalated_by_e4(ctx):
    from server.models import Finding, Order, Reinspection

    failed = ctx.execute(sa.select(Reinspection).where(Reinspection.outcome != "passed")).scalars().all()
    assert len(failed) == 1 and failed[0].outcome == "failed" and failed[0].visit_id is not None
    order = ctx.get(Order, failed[0].order_id)
    finding = ctx.get(Finding, order.finding_id)
    assert order.status == "failed" and finding.status == "escalated" and finding.final_tier == "enforcement"
    assert _actions_of(ctx, "finding", finding.id)[-1] == "finding.escalate"
    passed = ctx.execute(sa.select(sa.func.count()).where(Reinspection.outcome == "passed")).scalar_one()
    assert passed >= 10


def test_one_flagged_finding_waits_for_the_legal_reviewer_and_one_was_cleared(ctx):
    from server.models import EducationRecord, Finding, LegalReview

    policy = default_policy()
    flagged = ctx.execute(sa.select(Finding).where(Finding.legal_flag.is_(True))).scalars().all()
    assert len(flagged) == 2
    for f in flagged:
        assert STATUTORY_FLAG in f.flags and f.rule_id == "X1" and f.domain in policy["excluded_domains"]
        assert (f.severity, f.harm, f.corrected_on_spot) == ("minor", "none", True)
    pending = [f for f in flagged if f.status == "legal_review"]
    assert len(pending) == 1 and pending[0].final_tier == "enforcement"
    cleared = [f for f in flagged if f.status != "legal_review"]
    assert len(cleared) == 1 and cleared[0].status == "closed_no_penalty" and cleared[0].final_tier == "service"
    reviews = ctx.execute(sa.select(LegalReview)).scalars().all()
    assert [(r.finding_id, r.outcome, r.case_id) for r in reviews] == [(cleared[0].id, "no_penalty", None)]
    assert "第三十三条第一款" in reviews[0].reason
    assert ctx.execute(sa.select(sa.func.count()).where(EducationRecord.finding_id == cleared[0].id)).scalar_one() == 1


def test_one_case_filed_by_two_certified_investigators_and_notified(ctx):
    from server.models import Case, Finding, User

    (case,) = ctx.execute(sa.select(Case)).scalars().all()
    finding = ctx.get(Finding, case.finding_id)
    assert case.status == "notified" and finding.status == "case_open" and finding.final_tier == "enforcement"
    assert case.number.startswith("仪执立〔2026〕") and case.party_statement
    filed_on = case.filed_at.astimezone(SHANGHAI).date()
    assert filed_on < case.notified_at.astimezone(SHANGHAI).date() < TODAY
    investigators = [ctx.get(User, case.investigator1_id), ctx.get(User, case.investigator2_id)]
    assert investigators[0].id != investigators[1].id
    assert all(u.certified_on(filed_on) and not u.auxiliary for u in investigators)
    assert case.decision_due > TODAY and finding.next_deadline == case.decision_due
    assert _actions_of(ctx, "case", case.id) == ["case.file", "case.notify"]


def test_one_full_no_penalty_closing_with_its_tolerance_record(ctx):
    from server.models import Finding, Order, Photo, Reinspection, ToleranceRecord
    from server.services.lifecycle import tolerance_checklist

    with_order = ctx.execute(sa.select(ToleranceRecord).where(ToleranceRecord.order_id.is_not(None))).scalars().all()
    assert len(with_order) == 1
    record = with_order[0]
    finding = ctx.get(Finding, record.finding_id)
    order = ctx.get(Order, record.order_id)
    passed = ctx.get(Reinspection, record.reinspection_id)
    assert finding.status == "closed_no_penalty" and finding.tolerance_path == "no_penalty_if_corrected"
    assert finding.rule_id == "T1" and finding.final_tier == "management"
    assert order.status == "closed" and order.commitment == "signed" and passed.outcome == "passed"
    assert passed.at.astimezone(SHANGHAI).date() <= order.deadline and record.education_record_id is not None
    assert ctx.execute(sa.select(sa.func.count()).where(Photo.visit_id == passed.visit_id,
                                                        Photo.status == "stored")).scalar_one() >= 1
    check = tolerance_checklist(finding)
    assert check.applies and check.missing == []
    # The waivers on the spot write their ledger entries too (what makes a second waiver impossible).
    on_spot = ctx.execute(sa.select(sa.func.count()).select_from(ToleranceRecord).join(
        Finding, Finding.id == ToleranceRecord.finding_id).where(Finding.tolerance_path == "service_on_spot")
    ).scalar_one()
    assert on_spot >= 20


def test_repeats_show_no_second_waiver_and_e5(ctx):
    from server.models import Finding, ViolationType

    rows = ctx.execute(sa.select(Finding, ViolationType.code).join(ViolationType)
                       .where(Finding.repeats > 0).order_by(Finding.discovered_at)).all()
    by_code = {}
    for f, code in rows:
        by_code.setdefault(code, []).append(f)
    assert set(by_code) == {"FIRE-HYDRANT-BLOCKED", "CITY-STORE-OUTSIDE"}
    second, third = by_code["FIRE-HYDRANT-BLOCKED"]
    assert (second.repeats, second.earlier_tolerance_closed, second.rule_id, second.suggested_tier) == \
        (1, True, "T5", "enforcement")
    assert (third.repeats, third.rule_id, third.suggested_tier) == (2, "E5", "enforcement")
    managed = by_code["CITY-STORE-OUTSIDE"]
    assert [(f.repeats, f.rule_id) for f in managed] == [(1, "T4"), (2, "E5")]


def test_the_queue_holds_every_stage(ctx):
    from server.models import Finding, Order

    statuses = dict(ctx.execute(sa.select(Finding.status, sa.func.count()).group_by(Finding.status)).all())
    for status in ("awaiting_review", "open", "order_issued", "escalated", "case_open", "legal_review", "closed",
                   "closed_no_penalty"):
        assert statuses.get(status, 0) > 0, (status, statuses)
    orders = dict(ctx.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status)).all())
    assert orders.get("closed", 0) >= 10 and orders.get("open", 0) >= 1


# --- nothing set by hand ---------------------------------------------------------------------------


def test_every_tier_is_the_classifiers_for_the_stored_facts_and_history(ctx):
    from server.models import AuditEntry, Finding, Order, PolicyVersion, ToleranceRecord, ViolationType, Visit

    policies = {p.version: {**default_policy(), **p.values} for p in ctx.execute(sa.select(PolicyVersion)).scalars()}
    findings = ctx.execute(sa.select(Finding)).scalars().all()
    types = {v.id: v for v in ctx.execute(sa.select(ViolationType)).scalars()}
    arrived = dict(ctx.execute(sa.select(Visit.id, Visit.received_at)).all())
    ledger = dict(ctx.execute(sa.select(ToleranceRecord.finding_id, ToleranceRecord.closed_at)).all())
    failed = {}
    for o in ctx.execute(sa.select(Order).where(Order.status.in_(("failed", "overdue")))).scalars():
        failed[o.finding_id] = o.closed_at
    moved = {}
    for action, summary in ctx.execute(sa.select(AuditEntry.action, AuditEntry.summary).where(
            AuditEntry.action.in_(("finding.escalate", "finding.legal_review", "finding.change_tier")))).all():
        moved.setdefault(summary["finding"], []).append(action)
    created = set(ctx.execute(sa.select(AuditEntry.entity_id).where(AuditEntry.action == "finding.create")).scalars())
    for f in findings:
        policy = policies[f.policy_version]
        row = types.get(f.violation_type_id)
        result = classifier.classify(row, f, f, policy)
        assert (result.tier, result.rule_id, list(result.flags), result.tolerance_path) == \
            (f.suggested_tier, f.rule_id, list(f.flags), f.tolerance_path), f.id
        assert str(f.id) in created
        # The history stored is what the data held when the finding arrived.
        when = arrived[f.visit_id]
        since = f.discovered_at - dt.timedelta(days=policy["repeat_window_days"])
        earlier = [] if row is None else [
            g for g in findings if g.site_id == f.site_id and g.visit_id != f.visit_id and g.violation_type_id
            and types[g.violation_type_id].code == row.code and since <= g.discovered_at < f.discovered_at]
        assert f.repeats == len(earlier), f.id
        assert f.earlier_tolerance_closed == any(g.id in ledger and ledger[g.id] < when for g in earlier)
        assert f.earlier_order_failed == any(g.id in failed and failed[g.id] < when for g in earlier)
        if f.final_tier != f.suggested_tier:
            assert moved.get(str(f.id)), f"finding {f.id} changed tier without a recorded step"


def test_every_step_is_back_dated_to_its_day_and_the_audit_chain_holds(ctx):
    from server.models import AuditEntry, Order
    from server.services.audit import verify_chain

    assert verify_chain()["ok"]
    entries = ctx.execute(sa.select(AuditEntry).where(AuditEntry.action.not_in(
        ("demo.build", "user.create", "catalogue.load", "calendar.load", "policy.create")))).scalars().all()
    first = dt.datetime.combine(TODAY - dt.timedelta(days=HISTORY_DAYS), dt.time(), SHANGHAI)
    end = dt.datetime.combine(TODAY, dt.time(0, 10), SHANGHAI)
    outside = [(e.action, e.at) for e in entries if not first <= e.at <= end]
    assert outside == []
    history = ctx.execute(sa.select(AuditEntry).where(AuditEntry.action == "demo.history")).scalar_one()
    assert history.summary["findings"] > 0
    for o in ctx.execute(sa.select(Order)).scalars():
        issued = o.issued_at.astimezone(SHANGHAI)
        assert issued.date() < TODAY and 8 <= issued.hour < 10 and o.deadline >= issued.date()


# --- photos ----------------------------------------------------------------------------------------


def test_photos_are_in_the_store_with_matching_hashes_and_gps(city, ctx):
    from server.models import Finding, Photo
    from server.storage import derived_key, original_key, photo_store

    photos = ctx.execute(sa.select(Photo)).scalars().all()
    assert len(photos) >= 60 and all(p.status == "stored" for p in photos)
    store = photo_store(city.app)
    for p in photos:
        data = store.get(original_key(p.sha256))
        assert hashlib.sha256(data).hexdigest() == p.sha256 and len(data) == p.size_bytes
        assert store.size(derived_key(p.sha256, "thumb")) and store.size(derived_key(p.sha256, "display"))
        assert p.uploaded_by is not None and p.flags == [], (p.id, p.flags)
        if p.fix is not None:
            fix = to_shape(p.fix)
            position = exif_domain.gps_position(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))
            assert position is not None and geodesic_m(*position, fix.x, fix.y) < 10
    with_photos = ctx.execute(sa.select(sa.func.count(sa.distinct(Photo.finding_id)))).scalar_one()
    findings = ctx.execute(sa.select(sa.func.count(Finding.id))).scalar_one()
    assert with_photos >= 0.3 * findings
    assert ctx.execute(sa.select(sa.func.count()).where(Finding.photos_waiting != 0)).scalar_one() == 0


# --- what people see ---------------------------------------------------------------------------------


def _token(client, username: str) -> dict:
    r = client.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_the_queue_and_the_dashboard_show_it(city, ctx):
    from server.models import Finding, Park

    client = city.app.test_client()
    legal = _token(client, "legal01")
    r = client.get("/api/findings?flagged=true&status=legal_review", headers=legal)
    assert r.status_code == 200, r.get_json()
    (row,) = r.get_json()["items"]
    assert row["legal_review_pending"] and row["rule_id"] == "X1" and row["photos"]
    thumb = client.get(row["photos"][0]["thumb"], headers=legal)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"

    supervisor = _token(client, "sup02")
    page = client.get("/api/findings?limit=50", headers=supervisor).get_json()["items"]
    assert len(page) == 50 and sum(bool(item["photos"]) for item in page) >= 15
    assert {"order_issued", "case_open", "escalated"} <= {item["status"] for item in page}
    parks = set(ctx.execute(sa.select(Park.id).where(Park.code.in_(("AUTO", "CHEM")))).scalars())
    first = (TODAY - dt.timedelta(days=HISTORY_DAYS)).isoformat()
    mix = client.get(f"/api/stats/tiers?from={first}&to={TODAY.isoformat()}", headers=supervisor)
    assert mix.status_code == 200, mix.get_json()
    stored = ctx.execute(sa.select(sa.func.count()).where(Finding.park_id.in_(parks))).scalar_one()
    counts = mix.get_json()["all"]["counts"]
    assert sum(counts.values()) == stored and all(counts.values())

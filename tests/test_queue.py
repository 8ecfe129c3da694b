"""The supervisor's queue and a finding's detail, on both engines: each filter and their
combinations narrow exactly, park scope and roles, the urgency order, keyset pages, bad
filters and cursors refused with a 422 that names them; the detail's history, photos, map
point and the tolerance checklist (DOMAIN.md section 4) with what is missing.

Findings are inserted as rows (the intake service is another module's): realistic values,
classified as the rule table would, with their visits, photos, orders and reviews."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from server.domain import tolerance
from server.domain.workdays import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.timezone.utc


def today() -> dt.date:
    return dt.datetime.now(TZ).date()


def local(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), TZ)


@dataclasses.dataclass
class World:
    parks: dict  # code -> id
    sites: dict  # park code -> [(site id, lon, lat)]
    users: dict  # username -> id
    types: dict  # catalogue code -> (id, domain)


def load_world(app) -> World:
    """The test world plus the catalogue, the calendar and the policy's first version."""
    from server.extensions import db
    from server.models import Park, Site, User, ViolationType
    from server.services import calendar, catalogue, policy

    with app.app_context():
        if not db.session.execute(sa.select(ViolationType.id).limit(1)).scalar():
            catalogue.load_bundled(record_audit=False)
            calendar.load_bundled(record_audit=False)
            policy.current()
            db.session.commit()
        parks = dict(db.session.execute(sa.select(Park.code, Park.id)).all())
        code_of = {v: k for k, v in parks.items()}
        sites: dict = {}
        for sid, park_id, lon, lat in db.session.execute(
                sa.select(Site.id, Site.park_id, sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom)).order_by(Site.id)):
            sites.setdefault(code_of[park_id], []).append((sid, lon, lat))
        users = dict(db.session.execute(sa.select(User.username, User.id)).all())
        types = {c: (i, d) for c, i, d in db.session.execute(
            sa.select(ViolationType.code, ViolationType.id, ViolationType.domain))}
    return World(parks, sites, users, types)


@pytest.fixture
def world(app) -> World:
    return load_world(app)


def _uuid(prefix: str | None) -> uuid.UUID:
    """A random id, or one that starts with `prefix` (hex) to fix its place among equals."""
    u = uuid.uuid4()
    if prefix is None:
        return u
    return uuid.UUID(prefix + u.hex[len(prefix):])


def add_finding(app, w: World, *, park="EDZ", site=0, code: str | None = "FIRE-ELEC-WIRING", severity="general",
                tier="management", suggested: str | None = None, status="order_issued", due: int | None = 5,
                flags=(), geofence="on_site", discovered: dt.datetime | None = None, rule_id="T4",
                tolerance_path="none", harm="none", corrected_on_spot=False, repeats=0, stored_photos=0,
                waiting_photos=0, reviewed=False, id_prefix: str | None = None, tier_reason="") -> uuid.UUID:
    """One finding on its own visit. `due`: days from today to its next deadline (None: no clock)."""
    from server.extensions import db
    from server.models import Finding, LegalReview, Photo, Visit

    site_id, lon, lat = w.sites[park][site]
    discovered = discovered or local(today() - dt.timedelta(days=3))
    # An off-site fix is 600 m north of the site; on site, 20 m.
    fix_lat = lat + (0.0054 if geofence == "off_site" else 0.0002)
    with app.app_context():
        visit = Visit(id=uuid.uuid4(), site_id=site_id, kind="routine", recorded_by=w.users["insp1"],
                      device_id="phone-1", certificates_shown=True, started_at=discovered - dt.timedelta(minutes=20),
                      finished_at=discovered + dt.timedelta(minutes=15),
                      fix=from_shape(Point(lon, fix_lat), srid=4326), fix_accuracy_m=8.5,
                      distance_m=600.0 if geofence == "off_site" else 22.0, geofence=geofence,
                      content_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), payload={"site_id": site_id})
        db.session.add(visit)
        db.session.flush()  # no relationship links the two, so the visit must exist first
        vt_id, domain = w.types[code] if code else (None, "other")
        finding = Finding(
            id=_uuid(id_prefix), visit_id=visit.id, site_id=site_id, park_id=w.parks[park], item_code="FIRE-03",
            violation_type_id=vt_id, domain=domain, discovered_at=discovered, severity=severity, harm=harm,
            corrected_on_spot=corrected_on_spot, note="线路老化，插座外壳破损", repeats=repeats,
            suggested_tier=suggested or tier, final_tier=tier, rule_id=rule_id, flags=list(flags),
            tolerance_path=tolerance_path, explanation_zh=f"{rule_id}：说明", explanation_en=f"{rule_id}: explanation",
            policy_version=1, correction_deadline=today() + dt.timedelta(days=due) if due is not None else None,
            tier_reason=tier_reason, status=status,
            next_deadline=today() + dt.timedelta(days=due) if due is not None else None,
        )
        db.session.add(finding)
        db.session.flush()
        for i in range(stored_photos + waiting_photos):
            stored = i < stored_photos
            db.session.add(Photo(id=uuid.uuid4(), finding_id=finding.id, visit_id=visit.id,
                                 status="stored" if stored else "waiting", purpose="现场照片",
                                 sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                                 captured_at=discovered + dt.timedelta(minutes=i),
                                 received_at=discovered + dt.timedelta(hours=1) if stored else None))
        if reviewed:
            db.session.add(LegalReview(finding_id=finding.id, reviewer_id=w.users["legal1"],
                                       outcome="confirm_enforcement", reason="危害后果不属轻微"))
        db.session.commit()
        return finding.id


def queue(client, auth, user="sup1", **params):
    return client.get("/api/findings", headers=auth.headers(user), query_string=params)


def ids_of(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return [row["id"] for row in resp.get_json()["items"]]


def all_pages(client, auth, user="sup1", limit=3, **params) -> list[dict]:
    rows, cursor, pages = [], None, 0
    while True:
        q = dict(params, limit=limit) | ({"cursor": cursor} if cursor else {})
        r = queue(client, auth, user, **q)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert len(body["items"]) <= limit
        rows += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
        assert pages < 100


def refused(resp, status: int, *words: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    body = resp.get_json()
    for w in words:
        assert w in str(body), (w, body)
    return body


# --- filters --------------------------------------------------------------------------------

# A mixed set: (name, options). Each filter's expected answer is computed from these options.
MIXED = [
    ("edz_overdue_enf", dict(park="EDZ", site=0, code="SAF-EXIT-BLOCKED", tier="enforcement", rule_id="X1",
                             status="awaiting_review", due=-2, flags=["statutory_minor_review"], severity="minor",
                             corrected_on_spot=True)),
    ("edz_flag_reviewed", dict(park="EDZ", site=1, code="ENV-HW-LABEL", tier="enforcement", rule_id="X1",
                               status="case_open", due=20, flags=["statutory_minor_review"], reviewed=True,
                               severity="minor", corrected_on_spot=True)),
    ("edz_service_done", dict(park="EDZ", site=1, code="FIRE-HYDRANT-BLOCKED", tier="service", rule_id="T1",
                              status="closed", due=None, tolerance_path="service_on_spot", severity="minor",
                              corrected_on_spot=True)),
    ("edz_mgmt_due2", dict(park="EDZ", site=2, code="FIRE-ELEC-WIRING", tier="management", status="order_issued",
                           due=2, geofence="off_site")),
    ("edz_mgmt_due9", dict(park="EDZ", site=0, code="CITY-CARWASH", tier="management", rule_id="T2",
                           status="reinspection_due", due=9, tolerance_path="no_penalty_if_corrected",
                           severity="minor", harm="minor")),
    ("edz_escalated", dict(park="EDZ", site=2, code="FIRE-ELEC-WIRING", tier="enforcement", suggested="management",
                           rule_id="T4", status="escalated", due=0)),
    ("edz_advisory", dict(park="EDZ", site=0, code=None, tier="service", rule_id="S0", status="open", due=None,
                          severity="advisory", geofence="poor_fix")),
    ("chem_overdue", dict(park="CHEM", site=0, code="ENV-HW-LABEL", tier="enforcement", rule_id="X1",
                          status="legal_review", due=-1, flags=["statutory_minor_review"], severity="minor",
                          corrected_on_spot=True, geofence="off_site")),
    ("chem_mgmt", dict(park="CHEM", site=1, code="FIRE-ELEC-WIRING", tier="management", status="order_issued",
                       due=3)),
]


@pytest.fixture
def mixed(app, world) -> dict[str, tuple[str, dict]]:
    """name -> (id as the API shows it, options)."""
    return {name: (str(add_finding(app, world, **opts)), opts) for name, opts in MIXED}


def _expect(mixed, parks=("EDZ",), **want) -> set[str]:
    """The ids the queue should answer for these filters, from the options the rows were made with."""
    t = 0

    def match(o: dict) -> bool:
        due = o.get("due", 5)
        closed = o.get("status", "order_issued") in ("closed", "closed_no_penalty")
        clock = None if (due is None or closed) else due
        checks = {
            "tier": lambda v: o.get("tier", "management") == v,
            "status": lambda v: o.get("status", "order_issued") == v,
            "domain": lambda v: (o["code"] and o["code"].split("-")[0]) == v,
            "overdue": lambda v: (clock is not None and clock < t) == v,
            "due_within": lambda v: clock is not None and t <= clock <= v,
            "flagged": lambda v: ("statutory_minor_review" in o.get("flags", ()) and not o.get("reviewed")) == v,
            "off_site": lambda v: (o.get("geofence") == "off_site") == v,
        }
        return o.get("park", "EDZ") in parks and all(checks[k](v) for k, v in want.items())

    return {i for i, o in mixed.values() if match(o)}


DOMAIN_PREFIX = {"SAF": "safety", "ENV": "environment", "FIRE": "fire", "CITY": "city_appearance"}


@pytest.mark.parametrize("params,want", [
    ({"tier": "enforcement"}, {"tier": "enforcement"}),
    ({"tier": "service"}, {"tier": "service"}),
    ({"status": "order_issued"}, {"status": "order_issued"}),
    ({"status": "closed"}, {"status": "closed"}),
    ({"overdue": "true"}, {"overdue": True}),
    ({"overdue": "false"}, {"overdue": False}),
    ({"due_within": 0}, {"due_within": 0}),
    ({"due_within": 3}, {"due_within": 3}),
    ({"flagged": "true"}, {"flagged": True}),
    ({"flagged": "false"}, {"flagged": False}),
    ({"off_site": "true"}, {"off_site": True}),
    ({"off_site": "false"}, {"off_site": False}),
])
def test_each_filter_narrows_to_exactly_its_findings(client, auth, mixed, params, want):
    got = set(ids_of(queue(client, auth, "sup1", **params)))
    expected = _expect(mixed, **want)
    assert got == expected
    assert 0 < len(expected) < len(_expect(mixed)) or params == {"status": "closed"}


def test_domain_park_and_enterprise_filters(client, auth, app, world, mixed):
    by_domain = {}
    for i, o in mixed.values():
        if o["park"] == "EDZ":
            by_domain.setdefault(DOMAIN_PREFIX.get((o["code"] or "-").split("-")[0], "other"), set()).add(i)
    for domain, expected in by_domain.items():
        assert set(ids_of(queue(client, auth, domain=domain))) == expected, domain
    assert ids_of(queue(client, auth, domain="market")) == []
    # park: an admin sees both parks, and the filter keeps one.
    edz, chem = world.parks["EDZ"], world.parks["CHEM"]
    assert set(ids_of(queue(client, auth, "admin1"))) == _expect(mixed, parks=("EDZ", "CHEM"))
    assert set(ids_of(queue(client, auth, "admin1", park=chem))) == _expect(mixed, parks=("CHEM",))
    assert set(ids_of(queue(client, auth, "sup1", park=edz))) == _expect(mixed)
    # enterprise: the findings at one site.
    site0 = world.sites["EDZ"][0][0]
    expected = {i for i, o in mixed.values() if o["park"] == "EDZ" and o["site"] == 0}
    assert len(expected) == 3 and set(ids_of(queue(client, auth, enterprise=site0))) == expected


@pytest.mark.parametrize("params,want", [
    ({"tier": "enforcement", "overdue": "true"}, {"tier": "enforcement", "overdue": True}),
    ({"tier": "enforcement", "flagged": "false"}, {"tier": "enforcement", "flagged": False}),
    ({"tier": "management", "due_within": 3}, {"tier": "management", "due_within": 3}),
    ({"off_site": "true", "status": "order_issued"}, {"off_site": True, "status": "order_issued"}),
    ({"domain": "fire", "overdue": "false", "tier": "enforcement"},
     {"domain": "fire", "overdue": False, "tier": "enforcement"}),
])
def test_filters_combine(client, auth, mixed, params, want):
    if "domain" in want:
        want = dict(want, domain="FIRE")
    got = set(ids_of(queue(client, auth, "legal1", **params)))
    assert got == _expect(mixed, parks=("EDZ", "CHEM"), **want)
    assert got  # each combination here matches something


# --- scope and roles ------------------------------------------------------------------------


def test_a_supervisor_never_sees_another_parks_findings(client, auth, app, world, mixed):
    chem_ids = {i for i, o in mixed.values() if o["park"] == "CHEM"}
    for params in ({}, {"overdue": "true"}, {"flagged": "true"}, {"off_site": "true"}, {"tier": "enforcement"}):
        rows = all_pages(client, auth, "sup1", limit=2, **params)
        assert rows and not chem_ids & {r["id"] for r in rows}
        assert {r["park"]["code"] for r in rows} == {"EDZ"}
    assert {r["park"]["code"] for r in all_pages(client, auth, "sup_chem")} == {"CHEM"}
    refused(queue(client, auth, "sup1", park=world.parks["CHEM"]), 403, "park")
    refused(queue(client, auth, "sup1", enterprise=world.sites["CHEM"][0][0]), 403, "enterprise")
    for chem_id in chem_ids:
        refused(client.get(f"/api/findings/{chem_id}", headers=auth.headers("sup1")), 403, "park")
        assert client.get(f"/api/findings/{chem_id}", headers=auth.headers("sup_chem")).status_code == 200


def test_inspectors_and_schedulers_may_not_read_the_queue(client, auth, mixed):
    some_id = next(iter(mixed.values()))[0]
    for user in ("insp1", "sched1"):
        refused(queue(client, auth, user), 403, "supervisor")
        refused(client.get(f"/api/findings/{some_id}", headers=auth.headers(user)), 403)
    assert client.get("/api/findings").status_code == 401


def test_the_legal_reviewer_sees_what_awaits_review_in_all_assigned_parks(client, auth, mixed):
    rows = queue(client, auth, "legal1", flagged="true").get_json()["items"]
    assert {r["id"] for r in rows} == {mixed["edz_overdue_enf"][0], mixed["chem_overdue"][0]}
    assert all(r["legal_review_pending"] for r in rows)
    reviewed = ids_of(queue(client, auth, "legal1", flagged="false"))
    assert mixed["edz_flag_reviewed"][0] in reviewed


# --- order ----------------------------------------------------------------------------------


def test_urgency_order_expired_first_then_deadline_tier_severity_and_id(client, auth, app, world):
    made = {}

    def add(name, **kw):
        made[name] = str(add_finding(app, world, **kw))

    add("due_today_mgmt_major", due=0, tier="management", severity="major_hazard", rule_id="E2")
    add("no_clock_enf", due=None, tier="enforcement", severity="major_hazard", status="awaiting_review", rule_id="E2")
    add("expired_5", due=-5, tier="service", severity="minor", status="open", rule_id="T1")
    add("due_3_service", due=3, tier="service", severity="minor", rule_id="T1")
    add("due_today_enf_general", due=0, tier="enforcement", severity="general", rule_id="T5")
    add("closed_but_dated", due=-10, tier="enforcement", severity="serious", status="closed", rule_id="E3")
    add("expired_1", due=-1, tier="service", severity="advisory", code=None, rule_id="S0")
    add("due_today_enf_major_b", due=0, tier="enforcement", severity="major_hazard", rule_id="E2", id_prefix="b")
    add("due_today_enf_major_a", due=0, tier="enforcement", severity="major_hazard", rule_id="E2", id_prefix="a")
    add("due_today_mgmt_serious", due=0, tier="management", severity="serious", rule_id="T4")
    expected = [
        "expired_5", "expired_1",  # expired clocks, the longest expired first
        "due_today_enf_major_a", "due_today_enf_major_b",  # same day, tier and severity: by id
        "due_today_enf_general", "due_today_mgmt_major", "due_today_mgmt_serious",
        "due_3_service",
        "no_clock_enf", "closed_but_dated",  # no running clock (a closed one has none): last, by tier
    ]
    rows = all_pages(client, auth, "sup1", limit=4)
    assert [r["id"] for r in rows] == [made[n] for n in expected]
    by_id = {r["id"]: r for r in rows}
    assert by_id[made["expired_5"]]["days_left"] == -5
    assert by_id[made["expired_5"]]["next_deadline"] == (today() - dt.timedelta(days=5)).isoformat()
    assert by_id[made["due_3_service"]]["days_left"] == 3
    assert by_id[made["due_today_enf_general"]]["days_left"] == 0
    for name in ("no_clock_enf", "closed_but_dated"):
        assert by_id[made[name]]["next_deadline"] is None and by_id[made[name]]["days_left"] is None


def test_a_finding_whose_clock_changes_moves_in_the_queue(client, auth, app, world):
    from server.extensions import db
    from server.models import Finding

    late = add_finding(app, world, due=30)
    soon = add_finding(app, world, due=1)
    assert ids_of(queue(client, auth)) == [str(soon), str(late)]
    with app.app_context():  # an action elsewhere sets a nearer deadline, or escalates the tier
        db.session.execute(sa.update(Finding).where(Finding.id == late).values(next_deadline=today()))
        db.session.commit()
    assert ids_of(queue(client, auth)) == [str(late), str(soon)]
    with app.app_context():
        db.session.execute(sa.update(Finding).where(Finding.id == late).values(status="closed"))
        db.session.commit()
    assert ids_of(queue(client, auth)) == [str(soon), str(late)]
    assert ids_of(queue(client, auth, overdue="false", due_within=2)) == [str(soon)]


# --- pages and cursors ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_keyset_pages_cover_every_row_once_in_order(client, auth, app, world, limit):
    for i in range(7):
        # Several share a deadline, tier and severity: only the id tells them apart.
        add_finding(app, world, site=i % 3, due=(i % 3) - 1, tier=("enforcement", "management")[i % 2])
    whole = ids_of(queue(client, auth, limit=200))
    paged = [r["id"] for r in all_pages(client, auth, limit=limit)]
    assert paged == whole and len(set(paged)) == 7
    filtered = [r["id"] for r in all_pages(client, auth, limit=limit, tier="enforcement")]
    assert filtered == ids_of(queue(client, auth, tier="enforcement", limit=200)) and len(filtered) == 4


def test_a_cursor_is_refused_with_other_filters_elsewhere_or_forged(client, auth, app, world):
    import base64
    import json

    for _ in range(3):
        add_finding(app, world)
    cursor = queue(client, auth, limit=1).get_json()["next_cursor"]
    assert cursor
    refused(queue(client, auth, limit=1, cursor=cursor, tier="management"), 422, "cursor")
    refused(queue(client, auth, cursor="not-a-cursor"), 422, "cursor")
    site_cursor = client.get("/api/sites", headers=auth.headers("sup1"), query_string={"limit": 1}).get_json()
    refused(queue(client, auth, cursor=site_cursor["next_cursor"]), 422, "cursor")
    refused(client.get("/api/sites", headers=auth.headers("sup1"), query_string={"cursor": cursor}), 422, "cursor")
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for bad_key in (["2026-13-01", 3, raw["k"][2]], [raw["k"][0], "3", raw["k"][2]], [raw["k"][0], 3, "x"],
                    [raw["k"][0], 3], [raw["k"][0], 99999, raw["k"][2]]):
        forged = base64.urlsafe_b64encode(json.dumps({"f": raw["f"], "k": bad_key}).encode()).decode()
        refused(queue(client, auth, limit=1, cursor=forged), 422, "cursor")


@pytest.mark.parametrize("params,field", [
    ({"tier": "urgent"}, "tier"),
    ({"status": "done"}, "status"),
    ({"domain": "weather"}, "domain"),
    ({"overdue": "maybe"}, "overdue"),
    ({"due_within": -1}, "due_within"),
    ({"due_within": 400}, "due_within"),
    ({"due_within": "soon"}, "due_within"),
    ({"park": 0}, "park"),
    ({"park": 999999}, "park"),
    ({"enterprise": 999999}, "enterprise"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"tierr": "service"}, "tierr"),
    ({"overdue": "true", "due_within": 3}, "due_within"),
])
def test_bad_filters_are_refused_naming_the_problem(client, auth, world, params, field):
    body = refused(queue(client, auth, "admin1", **params), 422, field)
    assert body["message"]


def test_an_enterprise_outside_the_park_filter_is_refused(client, auth, world):
    refused(queue(client, auth, "admin1", park=world.parks["EDZ"], enterprise=world.sites["CHEM"][0][0]),
            422, "enterprise", "park")


# --- the row --------------------------------------------------------------------------------


def test_a_row_carries_what_the_supervisor_decides_on(client, auth, app, world):
    fid = add_finding(app, world, code="FIRE-ELEC-WIRING", severity="general", tier="enforcement",
                      suggested="management", rule_id="T4", status="escalated", due=-2, stored_photos=2,
                      waiting_photos=1, geofence="near")
    row = queue(client, auth).get_json()["items"][0]
    site_id = world.sites["EDZ"][0][0]
    assert row["id"] == str(fid)
    assert row["enterprise"] == {"id": site_id, "name": "仪征市恒达机械有限公司"}
    assert row["park"]["code"] == "EDZ" and row["park"]["id"] == world.parks["EDZ"]
    assert row["violation"]["code"] == "FIRE-ELEC-WIRING" and row["violation"]["name_zh"]
    assert (row["domain"], row["severity"], row["suggested_tier"], row["final_tier"], row["rule_id"]) == (
        "fire", "general", "management", "enforcement", "T4")
    assert (row["status"], row["days_left"], row["geofence"], row["flags"]) == ("escalated", -2, "near", [])
    assert row["legal_review_pending"] is False
    assert dt.datetime.fromisoformat(row["discovered_at"]).utcoffset() is not None
    # Only the stored photos, each as its thumbnail's address.
    assert len(row["photos"]) == 2
    assert all(p["thumb"] == f"/api/photos/{p['id']}/thumb" for p in row["photos"])


# --- the detail -----------------------------------------------------------------------------


def _record(app, action, entity_type, entity_id, summary, actor):
    from server.extensions import db
    from server.services import audit

    with app.app_context():
        audit.record(action, entity_type, entity_id, summary, actor)
        db.session.commit()


def _order(app, w, fid, *, issued_days_ago=3, deadline_in=2, commitment="signed"):
    from server.extensions import db
    from server.models import Order

    with app.app_context():
        issued = local(today() - dt.timedelta(days=issued_days_ago), 15)
        order = Order(finding_id=fid, number=f"仪综执责改〔2026〕{uuid.uuid4().hex[:6]}号", issued_at=issued,
                      issued_by=w.users["sup1"], deadline=today() + dt.timedelta(days=deadline_in),
                      reinspection_due=today() + dt.timedelta(days=deadline_in + 10), commitment=commitment)
        db.session.add(order)
        db.session.commit()
        return order.id


def _reinspection(app, w, order_id, *, outcome="passed", days_ago=0, photos=1, desk=False):
    """A re-inspection on its own visit with photos taken there, or (desk) recorded at the desk with
    the ids of photos the enterprise sent."""
    from server.extensions import db
    from server.models import Finding, Order, Photo, Reinspection, Visit

    with app.app_context():
        order = db.session.get(Order, order_id)
        finding = db.session.get(Finding, order.finding_id)
        at = local(today() - dt.timedelta(days=days_ago), 9)
        visit = None
        if not desk:
            visit = Visit(id=uuid.uuid4(), site_id=finding.site_id, kind="reinspection",
                          recorded_by=w.users["insp1"], started_at=at, geofence="on_site",
                          content_hash=uuid.uuid4().hex * 2, payload={"order_id": order_id})
            db.session.add(visit)
            db.session.flush()
        shots = [Photo(id=uuid.uuid4(), visit_id=visit.id if visit else None, status="stored", purpose="整改后照片",
                       sha256=hashlib.sha256(f"r{i}".encode()).hexdigest(), captured_at=at) for i in range(photos)]
        db.session.add_all(shots)
        r = Reinspection(order_id=order_id, visit_id=visit.id if visit else None, outcome=outcome, at=at,
                         recorded_by=w.users["insp1"], note="已整改",
                         photo_ids=[str(p.id) for p in shots] if desk else [])
        db.session.add(r)
        db.session.commit()
        return r.id


def test_detail_shows_facts_rule_map_photos_and_history_oldest_first(client, auth, app, world):
    from server.extensions import db
    from server.models import Case, LegalReview

    fid = add_finding(app, world, code="SAF-EXIT-BLOCKED", severity="minor", tier="enforcement", rule_id="X1",
                      flags=["statutory_minor_review"], corrected_on_spot=True, status="legal_review", due=4,
                      stored_photos=1, waiting_photos=1, repeats=1)
    other = add_finding(app, world)
    sup, legal = world.users["sup1"], world.users["legal1"]
    _record(app, "finding.create", "finding", fid, {"rule_id": "X1"}, world.users["insp1"])
    _record(app, "finding.create", "finding", other, {"rule_id": "T4"}, world.users["insp1"])
    with app.app_context():
        review = LegalReview(finding_id=fid, reviewer_id=legal, outcome="confirm_enforcement",
                             reason="多次占用疏散通道，不属首次轻微")
        db.session.add(review)
        db.session.flush()
        case = Case(finding_id=fid, number="仪综执立〔2026〕7号", filed_by=sup, investigator1_id=world.users["insp1"],
                    investigator2_id=world.users["insp2"], decision_due=today() + dt.timedelta(days=90))
        db.session.add(case)
        db.session.commit()
        review_id, case_id = review.id, case.id
    _record(app, "legal_review.decide", "legal_review", review_id, {"outcome": "confirm_enforcement"}, legal)
    _record(app, "case.file", "case", case_id, {"number": "仪综执立〔2026〕7号"}, sup)
    _record(app, "finding.status", "finding", fid, {"from": "legal_review", "to": "case_open"}, sup)

    r = client.get(f"/api/findings/{fid}", headers=auth.headers("sup1"))
    assert r.status_code == 200, r.get_json()
    d = r.get_json()
    assert [h["action"] for h in d["history"]] == [
        "finding.create", "legal_review.decide", "case.file", "finding.status"]
    assert d["history"][0]["actor"]["id"] == world.users["insp1"] and d["history"][2]["actor"]["name"] == "sup1"
    assert d["history"] == sorted(d["history"], key=lambda h: h["id"])
    assert d["classification"]["rule_id"] == "X1" and d["classification"]["explanation"]["en"].startswith("X1")
    assert d["classification"]["flags"] == ["statutory_minor_review"]
    assert d["facts"]["corrected_on_spot"] is True and d["facts"]["severity"] == "minor"
    assert d["lookup"] == {"repeats": 1, "earlier_tolerance_closed": False, "earlier_order_failed": False,
                           "window_days": 365}
    assert d["violation_type"]["code"] == "SAF-EXIT-BLOCKED" and d["violation_type"]["penalty_trigger"] == "immediate"
    site_id, lon, lat = world.sites["EDZ"][0]
    assert d["map"]["site"] == {"lon": pytest.approx(lon), "lat": pytest.approx(lat)}
    assert d["map"]["visit_fix"]["lat"] == pytest.approx(lat + 0.0002) and d["map"]["fix_accuracy_m"] == 8.5
    assert [p["status"] for p in d["photos"]] == ["stored", "waiting"]
    assert d["photos"][0]["thumb"] == f"/api/photos/{d['photos'][0]['id']}/thumb" and d["photos"][1]["url"] is None
    assert d["case"]["number"] == "仪综执立〔2026〕7号" and len(d["case"]["investigators"]) == 2
    assert [lr["outcome"] for lr in d["legal_reviews"]] == ["confirm_enforcement"]
    assert d["legal_review_pending"] is False
    assert d["tolerance_checklist"]["applies"] is False and d["tolerance_checklist"]["items"] == []


def test_detail_is_404_for_none_and_403_for_another_park(client, auth, app, world):
    refused(client.get(f"/api/findings/{uuid.uuid4()}", headers=auth.headers("sup1")), 404, "no finding")
    assert client.get("/api/findings/not-a-uuid", headers=auth.headers("sup1")).status_code == 404
    chem = add_finding(app, world, park="CHEM")
    refused(client.get(f"/api/findings/{chem}", headers=auth.headers("sup1")), 403, "park")
    assert client.get(f"/api/findings/{chem}", headers=auth.headers("legal1")).status_code == 200
    assert client.get(f"/api/findings/{chem}", headers=auth.headers("admin1")).status_code == 200


def _checklist(client, auth, fid) -> dict:
    r = client.get(f"/api/findings/{fid}", headers=auth.headers("sup1"))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["tolerance_checklist"]


def test_tolerance_checklist_names_what_is_missing_until_all_is_there(client, auth, app, world):
    from server.extensions import db
    from server.models import EducationRecord, Finding

    fid = add_finding(app, world, code="CITY-CARWASH", severity="minor", harm="minor", tier="management",
                      rule_id="T2", tolerance_path="no_penalty_if_corrected", status="open", due=None)
    c = _checklist(client, auth, fid)
    assert c["applies"] is True and c["complete"] is False
    assert c["missing"] == ["conditions_confirmed", "commitment_letter", "order_deadline", "reinspection_passed",
                            "education_record"]
    status = {i["key"]: i["status"] for i in c["items"]}
    assert status["row_in_force"] == "met" and status["first_offence_lookup"] == "met"

    order_id = _order(app, world, fid, issued_days_ago=0, deadline_in=2, commitment="pending")
    c = _checklist(client, auth, fid)
    assert c["missing"] == ["conditions_confirmed", "commitment_letter", "reinspection_passed", "education_record"]

    with app.app_context():
        from server.models import Order

        db.session.get(Order, order_id).commitment = "refused"  # the refusal noted counts
        db.session.add(EducationRecord(finding_id=fid, by_user=world.users["insp1"], text="讲解城市管理条例"))
        db.session.commit()
    _reinspection(app, world, order_id, outcome="passed", photos=0)
    c = _checklist(client, auth, fid)
    assert c["missing"] == ["conditions_confirmed", "reinspection_passed"]
    assert "no photo" in next(i["detail"] for i in c["items"] if i["key"] == "reinspection_passed")

    _reinspection(app, world, order_id, outcome="passed", photos=1, desk=True)
    c = _checklist(client, auth, fid)
    assert c["missing"] == ["conditions_confirmed"] and c["complete"] is False
    with app.app_context():  # the supervisor confirms the list's conditions in closing, which writes the ledger
        from server.models import ToleranceRecord

        finding = db.session.get(Finding, fid)
        db.session.add(ToleranceRecord(finding_id=fid, site_id=finding.site_id,
                                       violation_type_id=finding.violation_type_id,
                                       conditions_confirmed_by=world.users["sup1"], order_id=order_id,
                                       first_offence_lookup={"repeats": 0}))
        db.session.commit()
    d = client.get(f"/api/findings/{fid}", headers=auth.headers("sup1")).get_json()
    c = d["tolerance_checklist"]
    assert c["missing"] == [] and c["complete"] is True
    # The desk record's photo shows under its re-inspection, not among the finding's own.
    assert [len(r["photos"]) for r in d["orders"][0]["reinspections"]] == [0, 1]
    assert d["photos"] == [] and d["tolerance_record"]["conditions_confirmed_by"]["name"] == "sup1"


def test_tolerance_checklist_refuses_a_long_deadline_a_late_reinspection_and_a_second_waiver(
        client, auth, app, world):
    fid = add_finding(app, world, code="CITY-CARWASH", severity="minor", tier="management", rule_id="T2",
                      tolerance_path="no_penalty_if_corrected", status="reinspection_due", due=None)
    order_id = _order(app, world, fid, issued_days_ago=14, deadline_in=-10)
    _reinspection(app, world, order_id, outcome="passed", days_ago=2)  # after the deadline
    c = _checklist(client, auth, fid)
    detail = {i["key"]: i["detail"] for i in c["items"]}
    assert "reinspection_passed" in c["missing"] and "after the deadline" in detail["reinspection_passed"]
    assert "order_deadline" not in c["missing"]

    # CITY-CARWASH allows 5 working days: a deadline 30 days out is longer than the row's period.
    long = add_finding(app, world, code="CITY-CARWASH", severity="minor", tier="management", rule_id="T2",
                       tolerance_path="no_penalty_if_corrected", due=None)
    _order(app, world, long, issued_days_ago=0, deadline_in=30)
    c = _checklist(client, auth, long)
    assert "order_deadline" in c["missing"]
    assert "longer than allowed" in next(i["detail"] for i in c["items"] if i["key"] == "order_deadline")

    on_spot = add_finding(app, world, code="FIRE-HYDRANT-BLOCKED", severity="minor", tier="service", rule_id="T1",
                          tolerance_path="service_on_spot", corrected_on_spot=True, status="open", due=None)
    c = _checklist(client, auth, on_spot)
    assert c["missing"] == ["conditions_confirmed", "education_record"]
    assert {i["key"] for i in c["items"] if i["status"] == "not_applicable"} == {
        "commitment_letter", "order_deadline", "reinspection_passed"}

    escalated = add_finding(app, world, code="CITY-CARWASH", tier="enforcement", suggested="management",
                            rule_id="T2", tolerance_path="no_penalty_if_corrected", status="escalated")
    c = _checklist(client, auth, escalated)
    assert c["applies"] is False and "escalated" in c["why"]


# --- the checklist as a pure function -------------------------------------------------------

CAL = WorkCalendar()
ROW = tolerance.RowFacts(code="CITY-CARWASH", tolerance_type="first_offense", correction_days=5,
                         correction_unit="working_days", effective_from=dt.date(2021, 1, 1))


def _facts(**kw) -> tolerance.ToleranceFacts:
    base = dict(discovered_at=dt.datetime(2026, 3, 2, 9, tzinfo=TZ), tolerance_path="no_penalty_if_corrected",
                final_tier="management", row=ROW, repeats=0, earlier_tolerance_closed=False, repeat_window_days=365,
                lookup_policy_version=1, conditions_confirmed=True, education_records=1,
                order=tolerance.OrderFacts(
                    number="N1", issued_at=dt.datetime(2026, 3, 2, 10, tzinfo=TZ), deadline=dt.date(2026, 3, 9),
                    commitment="signed",
                    reinspections=(tolerance.ReinspectionFacts("passed", dt.datetime(2026, 3, 9, 16, tzinfo=TZ), 1),)))
    return tolerance.ToleranceFacts(**(base | kw))


def test_checklist_complete_and_each_item_alone_missing():
    assert tolerance.checklist(_facts(), CAL).complete
    order = _facts().order
    cases = {
        "row_in_force": dict(row=dataclasses.replace(ROW, effective_to=dt.date(2026, 3, 1))),
        "conditions_confirmed": dict(conditions_confirmed=False),
        "first_offence_lookup": dict(repeats=1),
        "commitment_letter": dict(order=dataclasses.replace(order, commitment="pending")),
        # Monday 2 March + 5 working days = Monday 9 March; the 10th is one day too long.
        "order_deadline": dict(order=dataclasses.replace(order, deadline=dt.date(2026, 3, 10))),
        "reinspection_passed": dict(order=dataclasses.replace(order, reinspections=(
            tolerance.ReinspectionFacts("failed", dt.datetime(2026, 3, 9, 16, tzinfo=TZ), 2),))),
        "education_record": dict(education_records=0),
    }
    for key, change in cases.items():
        result = tolerance.checklist(_facts(**change), CAL)
        assert result.missing == [key], (key, result.items)
    assert tolerance.checklist(_facts(earlier_tolerance_closed=True), CAL).missing == ["first_offence_lookup"]
    # A minor-no-harm row waives a repeat that did not close on the tolerance path (docs/rules.md, 3).
    minor_row = dataclasses.replace(ROW, tolerance_type="minor_no_harm")
    assert tolerance.checklist(_facts(row=minor_row, repeats=1), CAL).complete


def test_checklist_counts_the_deadline_on_the_bureau_calendar_and_day():
    # Issued Friday 23:30 UTC = Saturday 07:30 in Shanghai: 5 working days from Saturday end on Friday the 13th.
    order = dataclasses.replace(_facts().order, issued_at=dt.datetime(2026, 3, 6, 23, 30, tzinfo=UTC),
                                deadline=dt.date(2026, 3, 13), reinspections=(
                                    tolerance.ReinspectionFacts("passed", dt.datetime(2026, 3, 13, 15, 59, tzinfo=UTC),
                                                                1),))
    assert tolerance.checklist(_facts(order=order), CAL).complete
    # A holiday in the period moves the limit by a day; without it the same deadline is too long.
    holiday = WorkCalendar(holidays=frozenset({dt.date(2026, 3, 10)}))
    late = dataclasses.replace(order, deadline=dt.date(2026, 3, 16))
    assert tolerance.checklist(_facts(order=late), holiday).complete
    assert tolerance.checklist(_facts(order=late), CAL).missing == ["order_deadline"]
    # The re-inspection at 16:00 UTC on the 13th is already the 14th in Shanghai: after the deadline.
    after = dataclasses.replace(order, reinspections=(
        tolerance.ReinspectionFacts("passed", dt.datetime(2026, 3, 13, 16, 0, tzinfo=UTC), 1),))
    assert tolerance.checklist(_facts(order=after), CAL).missing == ["reinspection_passed"]


def test_checklist_does_not_apply_off_the_tolerance_path():
    assert not tolerance.checklist(_facts(tolerance_path="none"), CAL).applies
    assert tolerance.checklist(_facts(tolerance_path="none"), CAL).missing == []
    assert not tolerance.checklist(_facts(final_tier="enforcement"), CAL).applies
    on_spot = tolerance.checklist(_facts(tolerance_path="service_on_spot", order=None), CAL)
    assert on_spot.complete and [i.status for i in on_spot.items].count("not_applicable") == 3


# --- the plan: every single filter reads a page in order off one index (SQLite) -----------------

PLANS = [
    ({}, "ix_findings_queue"),
    ({"tier": "service"}, "ix_findings_tier_queue"),
    ({"status": "legal_review"}, "ix_findings_status_queue"),
    ({"park": 1}, "ix_findings_park_queue"),
    ({"domain": "market"}, "ix_findings_domain_queue"),
    ({"enterprise": 2}, "ix_findings_site_queue"),
    ({"overdue": True}, "ix_findings_queue"),
    ({"due_within": 7}, "ix_findings_queue"),
    ({"flagged": True}, "ix_findings_flag_queue"),
    ({"off_site": True}, "ix_findings_queue"),
    ({"tier": "service", "park": 1}, "ix_findings_tier_queue"),
    ({"enterprise": 2, "status": "open", "flagged": True}, "ix_findings_site_queue"),
]


@pytest.mark.parametrize("scope", [None, {1, 2}, {1}], ids=["every park", "two parks", "one park"])
@pytest.mark.parametrize("params,index", PLANS, ids=[str(p) for p, _ in PLANS])
def test_each_filter_walks_its_index_in_order_without_sorting(sqlite_app, scope, params, index):
    """SQLite has no statistics here, as in a bureau's embedded database: the plan comes from the
    schema and the statement alone, so a 5-row table shows the plan of a 100,000-row one."""
    from server.extensions import db
    from server.services.queue import QueueFilters, queue_select

    if scope == {1} and not {"tier", "status", "domain", "enterprise", "flagged"} & set(params):
        index = "ix_findings_park_queue"  # one park in scope: its index holds the whole queue, in order
    with sqlite_app.app_context():
        for after in (None, (today(), 3, uuid.uuid4())):  # the first page, and one after a cursor
            stmt = queue_select(QueueFilters(**params), scope, today(), after, limit=51)
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            plan = [r[-1] for r in db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()]
            assert f"USING INDEX {index} " in plan[0] + " " or plan[0].endswith(index), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
            assert not any(step.startswith("SCAN findings") and index != "ix_findings_queue" for step in plan), plan


def test_the_queue_answers_exactly_what_its_schema_describes(client, auth, app, world, mixed):
    """The page is serialised without marshmallow (for speed): it must equal the schema's dump."""
    from schemas.findings import FindingPageSchema
    from server.services.queue import QueueFilters, list_findings

    add_finding(app, world, stored_photos=2, waiting_photos=1)
    for params in ({}, {"limit": 2}, {"flagged": True}):
        body = queue(client, auth, "admin1", **params).get_json()
        with app.app_context():
            page = list_findings(QueueFilters(**{k: v for k, v in params.items() if k != "limit"}), None,
                                 params.get("limit", 50))
            dumped = FindingPageSchema().dump(page)
        assert body["items"] and body == dumped
        assert set(body["items"][0]) == set(FindingPageSchema().fields["items"].inner.schema.fields)


def test_queue_detail_and_mix_follow_a_finding_through_the_real_intake_and_actions(client, auth, app, world):
    """Written by the one way in and the supervisor's actions (server/services/findings.py and
    lifecycle.py), read here: the order's clock orders the queue, a failed re-inspection
    escalates (E4) and the mix counts it upward, and the detail's history is the audit trail."""
    from server.extensions import db
    from server.models import User
    from server.services import lifecycle
    from tests.findings_helpers import finding_at

    site = world.sites["EDZ"][1][0]
    wiring = finding_at(app, site, "FIRE-ELEC-WIRING", severity="general")  # T4: management
    advisory = finding_at(app, site, None, severity="minor")  # S0: service, no clock
    assert ids_of(queue(client, auth)) == [str(wiring), str(advisory)]  # the correction deadline runs
    with app.app_context():
        sup = db.session.execute(sa.select(User).where(User.username == "sup1")).scalar_one()
        finding = lifecycle.load(wiring)
        lifecycle.confirm_tier(finding, sup)
        lifecycle.issue_order(lifecycle.load(wiring), sup)
        lifecycle.record_reinspection(lifecycle.load(wiring), sup, "failed", note="线路仍未整改")
    row = queue(client, auth, tier="enforcement").get_json()["items"]
    assert [r["id"] for r in row] == [str(wiring)]
    assert (row[0]["suggested_tier"], row[0]["final_tier"], row[0]["status"]) == ("management", "enforcement",
                                                                                 "escalated")
    d = client.get(f"/api/findings/{wiring}", headers=auth.headers("sup1")).get_json()
    actions = [h["action"] for h in d["history"]]
    assert actions[0] == "finding.create" and actions.index("order.issue") < actions.index("order.reinspection")
    assert actions[-1] == "finding.escalate" and {"finding.confirm_tier", "order.reinspection"} <= set(actions)
    assert d["orders"][0]["status"] == "failed" and d["orders"][0]["reinspections"][0]["outcome"] == "failed"
    today_ = today().isoformat()
    mix = client.get("/api/stats/tiers", headers=auth.headers("sup1"),
                     query_string={"from": today_, "to": today_}).get_json()["all"]["counts"]
    assert mix == {"service": 1, "management": 0, "enforcement": 1}

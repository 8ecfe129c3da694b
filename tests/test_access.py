"""Who gets what: every API endpoint walked with every role, with a user of another park,
and without a token. The table below is the access policy; a new endpoint that is not in
it fails the completeness test, so nobody adds one without deciding who may call it."""
from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy as sa

ALL_STAFF = {"insp1", "sup1", "legal1", "sched1", "admin1", "insp_chem"}
EDZ_STAFF = {"insp1", "sup1", "legal1", "sched1", "admin1"}  # insp_chem works in CHEM only
ADMIN = {"admin1"}
PUBLIC = "public"
_counter = itertools.count(1)


def _park_body(ids):
    n = next(_counter)
    lon = 119.30 + n * 0.02
    ring = [[lon, 32.30], [lon + 0.01, 32.30], [lon + 0.01, 32.31], [lon, 32.31], [lon, 32.30]]
    return {"code": f"T{n}", "name_zh": f"测试园{n}", "name_en": f"Test {n}",
            "boundary": {"type": "Polygon", "coordinates": [ring]}}


def _site_body(ids):
    n = next(_counter)
    # The counter is shared by every body factory: wrap, so the point stays inside the park however many there are.
    return {"park_id": ids["EDZ"], "name": f"测试企业{n}有限公司", "lon": 119.155 + (n % 40) * 0.0005, "lat": 32.255}


class Reaches(frozenset):
    """Who reaches an action on a finding. The walk names a finding that does not exist, so these
    users get past the role check to the look-up (404) and the others are refused before it (403);
    tests/test_actions_api.py walks every action with real findings, park by park and state by state."""


class Validates(Reaches):
    """Who gets past the role check to the body's validation: the walk sends JSON where the photo
    upload takes multipart/form-data (415); tests/test_photos.py uploads real photos park by park."""


SUPERVISORS = Reaches({"sup1", "admin1"})
LEGAL = Reaches({"legal1", "admin1"})
_SUPERVISOR_ACTIONS = {
    "confirm-tier": {}, "change-tier": {"tier": "service", "reason": "r"}, "issue-order": {},
    "record-commitment": {"commitment": "signed"}, "record-reinspection": {"outcome": "passed"},
    "file-case": {"investigator_ids": [1, 2]}, "close": {}, "reopen": {"reason": "r"},
    "case/notify": {"statement": "s"}, "case/request-hearing": {}, "case/hold-hearing": {},
    "case/submit-legal-review": {}, "case/decide": {"decision": "penalty", "note": "n"}, "case/serve": {},
    "case/record-payment": {}, "case/record-enforcement": {}, "case/close": {}, "case/transfer": {"reason": "r"},
}


def _policy_patch(ids):
    return {"values": {"clock_warning_days": next(_counter) % 30}, "reason": "access walk"}


def _policy_put(ids):
    from server.domain.policy import default_policy

    return {"values": {**default_policy(), "clock_warning_days": next(_counter) % 30}, "reason": "access walk"}


# (method, path with {EDZ}/{site}/{finding} placeholders, who gets 2xx, body factory)
PLANNERS = {"sched1", "admin1"}


def _next_weekday(days_ahead: int) -> str:
    import datetime as dt

    day = dt.date.today() + dt.timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.isoformat()


def _plan_body(ids):
    return {"date": _next_weekday(2), "options": {"iterations": 50}}


def _draw_body(ids):
    return {"subject": "sites", "count": 1, "visible_from": _next_weekday(2)}


POLICY = [
    ("GET", "/api/health", PUBLIC, None),
    ("GET", "/api/openapi.json", PUBLIC, None),
    ("GET", "/api/docs", PUBLIC, None),
    ("POST", "/api/auth/token", PUBLIC, None),  # covered by test_auth.py: a login needs a password
    ("DELETE", "/api/auth/token", ALL_STAFF, None),
    ("GET", "/api/audit/verify", ADMIN, None),
    ("GET", "/api/parks", ALL_STAFF, None),
    ("GET", "/api/parks.geojson", ALL_STAFF, None),
    ("POST", "/api/parks", ADMIN, _park_body),
    ("GET", "/api/parks/{EDZ}", EDZ_STAFF, None),
    ("PATCH", "/api/parks/{EDZ}", ADMIN, lambda ids: {"name_en": f"EDZ {next(_counter)}"}),
    ("GET", "/api/sites", ALL_STAFF, None),
    ("GET", "/api/sites.geojson", ALL_STAFF, None),
    ("POST", "/api/sites", ADMIN, _site_body),
    ("GET", "/api/sites/{site}", EDZ_STAFF, None),
    ("PATCH", "/api/sites/{site}", ADMIN, lambda ids: {"address": f"路{next(_counter)}号"}),
    ("GET", "/api/policy", ALL_STAFF, None),
    ("PUT", "/api/policy", ADMIN, _policy_put),
    ("PATCH", "/api/policy", ADMIN, _policy_patch),
    ("GET", "/api/findings", {"sup1", "legal1", "admin1"}, None),
    ("GET", "/api/findings/{finding}", Reaches({"sup1", "legal1", "admin1"}), None),
    ("GET", "/api/stats/tiers", {"sup1", "admin1"}, None),
    ("GET", "/api/findings/{finding}/actions", Reaches({"sup1", "legal1", "admin1"}), None),
    ("POST", "/api/findings/{finding}/legal-review", LEGAL,
     lambda ids: {"outcome": "no_penalty", "reason": "r"}),
    *[("POST", f"/api/findings/{{finding}}/{action}", SUPERVISORS, lambda ids, body=body: body)
      for action, body in _SUPERVISOR_ACTIONS.items()],
    # Photos: the walk names a photo that does not exist (404 for every staff member past the role
    # check); park scope on real photos is in tests/test_photos.py.
    ("PUT", "/api/photos/{photo}", Validates({"insp1", "insp_chem"}), lambda ids: {}),
    ("GET", "/api/photos/{photo}", Reaches(ALL_STAFF), None),
    ("GET", "/api/photos/{photo}/thumb", Reaches(ALL_STAFF), None),
    ("GET", "/api/photos/{photo}/display", Reaches(ALL_STAFF), None),
    # Plans and draws: the walk names a day with no plan, a stop and a draw that do not exist;
    # tests/test_plans.py and tests/test_draws.py walk real ones, park by park.
    ("POST", "/api/plans", PLANNERS, _plan_body),
    ("GET", "/api/plans/{day}", Reaches(ALL_STAFF), None),
    ("PATCH", "/api/plans/{day}/stops/{stop}", Reaches(PLANNERS), lambda ids: {"locked": True}),
    ("POST", "/api/plans/{day}/publish", Reaches(PLANNERS), None),
    ("POST", "/api/plans/{day}/unpublish", Reaches(PLANNERS), None),
    ("POST", "/api/draws", PLANNERS, _draw_body),
    ("GET", "/api/draws/{draw}", Reaches(ALL_STAFF), None),
    ("POST", "/api/draws/{draw}/replay", Reaches(ALL_STAFF), None),
    # The phone's day and its outbox: inspectors only (tests/test_today.py and tests/test_sync.py
    # walk real days and records).
    # Official documents: the walk names an order and a visit that do not exist; park scope and the
    # visit's own inspectors on real ones are in tests/test_documents.py.
    ("GET", "/api/orders/{order}/notice.pdf", Reaches({"insp1", "insp_chem", "sup1", "legal1", "admin1"}), None),
    ("GET", "/api/visits/{visit}/record.pdf", Reaches({"insp1", "insp_chem", "sup1", "legal1", "admin1"}), None),
    ("GET", "/api/me/today", {"insp1", "insp_chem"}, None),
    # People, checklists, the catalogue, the audit trail (the admin's screens; tests/test_admin_api.py walks
    # them with real data). The walk's user is aux1, who never logs in here; its checklist is made by _ids.
    ("GET", "/api/users", ADMIN, None),
    ("POST", "/api/users", ADMIN, lambda ids: {"username": f"walk{next(_counter)}", "name": "走查", "role": "inspector"}),
    ("GET", "/api/users/{user}", ADMIN, None),
    ("PATCH", "/api/users/{user}", ADMIN, lambda ids: {"phone": f"1380000{next(_counter):04d}"}),
    ("POST", "/api/users/{user}/reset-password", ADMIN, lambda ids: {}),
    ("POST", "/api/users/{user}/disable", ADMIN, None),
    ("POST", "/api/users/{user}/enable", ADMIN, None),
    ("POST", "/api/users/{user}/conflicts", ADMIN, lambda ids: {"site_id": ids["site"], "reason": "亲属"}),
    ("DELETE", "/api/users/{user}/conflicts/{conflict}", Reaches(ADMIN), None),
    ("POST", "/api/users/{user}/leaves", ADMIN,
     lambda ids: {"start_date": f"2031-{next(_counter) % 12 + 1:02d}-01", "end_date": "2031-12-31"}),
    ("DELETE", "/api/users/{user}/leaves/{leave}", Reaches(ADMIN), None),
    ("GET", "/api/leaves?from=2031-01-01&to=2031-12-31", {"sup1", "sched1", "admin1"}, None),
    ("GET", "/api/certificates/expiring", ADMIN, None),
    ("GET", "/api/checklists", {"sup1", "legal1", "sched1", "admin1"}, None),
    ("GET", "/api/checklists/{checklist}", {"sup1", "legal1", "sched1", "admin1"}, None),
    ("PATCH", "/api/checklists/{checklist}", ADMIN, lambda ids: {"name_en": f"Walk {next(_counter)}"}),
    ("POST", "/api/checklists/{published}/versions", Reaches(ADMIN), None),
    ("POST", "/api/checklists/{checklist}/publish", ADMIN, None),
    ("GET", "/api/catalogue", ALL_STAFF, None),
    ("GET", "/api/audit", ADMIN, None),
    ("GET", "/api/policy/versions", ALL_STAFF, None),
    ("GET", "/api/sites/{site}/history", EDZ_STAFF, None),
    ("POST", "/api/sync", {"insp1", "insp_chem"}, lambda ids: {"device_id": "access-walk", "visits": []}),
    # Webhooks: admins only (tests/test_webhooks.py delivers to a real receiver).
    ("GET", "/api/webhooks", ADMIN, None),
    ("POST", "/api/webhooks", ADMIN, lambda ids: {"url": "http://127.0.0.1:9/hook", "events": ["finding.created"]}),
    ("PATCH", "/api/webhooks/{hook}", Reaches(ADMIN), lambda ids: {"active": False}),
    ("DELETE", "/api/webhooks/{hook}", Reaches(ADMIN), None),
    ("GET", "/api/webhooks/{hook}/deliveries", Reaches(ADMIN), None),
    ("POST", "/api/webhooks/{hook}/deliveries/{delivery}/replay", Reaches(ADMIN), None),
    # Sync health: phones report, supervisors read (tests/test_sync_health.py).
    ("POST", "/api/devices/report", {"insp1", "insp_chem"}, lambda ids: {"device_id": "access-walk"}),
    ("GET", "/api/sync-health", {"sup1", "admin1"}, None),
    # Exports: those who read the queue (tests/test_exports.py checks the rows park by park).
    *[("GET", f"/api/exports/{kind}.{fmt}", {"sup1", "legal1", "admin1"}, None)
      for kind in ("findings", "orders", "cases", "visits") for fmt in ("csv", "geojson")],
    # Public results of random inspections (一公开): anyone, no token (tests/test_public_results.py).
    ("GET", "/api/public/parks/{park_code}/results", PUBLIC, None),
    # Imports: admins only. The walk sends JSON where the upload takes multipart/form-data (415) and
    # names an import that does not exist; tests/test_imports.py uploads and applies real files.
    ("POST", "/api/imports", Validates({"admin1"}), lambda ids: {}),
    ("GET", "/api/imports", ADMIN, None),
    ("GET", "/api/imports/{import}", Reaches({"admin1"}), None),
    ("POST", "/api/imports/{import}/apply", Reaches({"admin1"}), None),
]
NOT_API = {"/api/docs/init.js", "/api/docs/static/<path:filename>"}


def _ids(app):
    from server.extensions import db
    from server.models import Park, Site, User

    with app.app_context():
        parks = dict(db.session.execute(sa.select(Park.code, Park.id)).all())
        site = db.session.execute(sa.select(Site.id).where(Site.park_id == parks["EDZ"]).order_by(Site.id)).scalar()
        user = db.session.execute(sa.select(User.id).where(User.username == "aux1")).scalar()
        draft = _checklist(("draft",))
    return {"EDZ": parks["EDZ"], "CHEM": parks["CHEM"], "site": site, "finding": "0b8e4c1e-0000-4000-8000-000000000000",
            "photo": "9a2d0c1e-0000-4000-8000-000000000000", "day": "2031-01-06", "stop": 999999, "draw": 999999,
            "hook": 999999, "delivery": "5e1d0c1e-0000-4000-8000-000000000000",
            "order": 999999, "visit": "5c1d0e2f-0000-4000-8000-000000000000",
            "park_code": "EDZ", "import": 999999,
            "user": user, "conflict": 999999, "leave": 999999, "checklist": draft, "published": 999999}


def _placeholders(rule: str) -> str:
    """/api/parks/<int:park_id>/x -> /api/parks/{EDZ}/x: a URL variable `<name_id>` is the placeholder {name}."""
    aliases = {"park_id": "EDZ", "template_id": "checklist"}

    def name(m):
        var = m.group(1)
        return "{" + aliases.get(var, var.removesuffix("_id")) + "}"
    return re.sub(r"<(?:\w+:)?(\w+)>", name, rule)


def _checklist(status) -> int:
    """A draft checklist for the walk (the world has none)."""
    from server.extensions import db
    from server.models import ChecklistItem, ChecklistTemplate

    row = db.session.execute(sa.select(ChecklistTemplate.id).where(ChecklistTemplate.code == "WALK")).scalar()
    if row is None:
        t = ChecklistTemplate(code="WALK", version=1, domain="safety", name_zh="走查", name_en="Walk", status=status[0],
                              items=[ChecklistItem(code="W1", position=1, domain="safety", text_zh="一项", text_en="one")])
        db.session.add(t)
        db.session.commit()
        row = t.id
    return row


def test_every_api_endpoint_is_in_the_policy(app):
    declared = {(m, p.split("?")[0].replace("{published}", "{checklist}")) for m, p, _w, _b in POLICY}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.rule in NOT_API:
            continue
        path = _placeholders(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in declared, f"{method} {rule.rule} has no row in the access policy"


@pytest.mark.parametrize("method,path,allowed,body", POLICY, ids=[f"{m} {p}" for m, p, _a, _b in POLICY])
def test_who_gets_what(client, auth, app, method, path, allowed, body):
    if method == "POST" and path == "/api/auth/token":
        return
    ids = _ids(app)
    url = path.format(**ids)

    def call(headers):
        kwargs = {"headers": headers}
        if body is not None:
            kwargs["json"] = body(ids)
        return client.open(url, method=method, **kwargs)

    anonymous = call({})
    if allowed == PUBLIC:
        assert anonymous.status_code == 200, (url, anonymous.status_code)
        return
    assert anonymous.status_code == 401, (method, url, anonymous.status_code)
    for username in sorted(ALL_STAFF):
        resp = call(auth.headers(username))
        if isinstance(allowed, Reaches) and username in allowed:
            expected = 415 if isinstance(allowed, Validates) else 404
            assert resp.status_code == expected, (method, url, username, resp.status_code, resp.get_json())
        elif username in allowed:
            assert 200 <= resp.status_code < 300, (method, url, username, resp.status_code, resp.get_json())
            if method == "DELETE":
                auth.tokens.pop(username)  # logged out: the next call logs in again
        else:
            assert resp.status_code == 403, (method, url, username, resp.status_code, resp.get_json())
            assert resp.get_json()["message"]


def test_scoped_lists_never_show_another_parks_rows(client, auth, app):
    ids = _ids(app)
    for username, park in (("insp1", ids["EDZ"]), ("insp_chem", ids["CHEM"])):
        sites = client.get("/api/sites", headers=auth.headers(username)).get_json()["items"]
        assert sites and {s["park_id"] for s in sites} == {park}
        parks = client.get("/api/parks", headers=auth.headers(username)).get_json()["items"]
        assert [p["id"] for p in parks] == [park]

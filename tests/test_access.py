"""Who gets what: every API endpoint walked with every role, with a user of another park,
and without a token. The table below is the access policy; a new endpoint that is not in
it fails the completeness test, so nobody adds one without deciding who may call it."""
from __future__ import annotations

import itertools

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
    return {"park_id": ids["EDZ"], "name": f"测试企业{n}有限公司", "lon": 119.155 + n * 0.0005, "lat": 32.255}


# (method, path with {EDZ}/{site} placeholders, who gets 2xx, body factory)
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
]
NOT_API = {"/api/docs/init.js", "/api/docs/static/<path:filename>"}


def _ids(app):
    from server.extensions import db
    from server.models import Park, Site

    with app.app_context():
        parks = dict(db.session.execute(sa.select(Park.code, Park.id)).all())
        site = db.session.execute(sa.select(Site.id).where(Site.park_id == parks["EDZ"]).order_by(Site.id)).scalar()
    return {"EDZ": parks["EDZ"], "CHEM": parks["CHEM"], "site": site}


def test_every_api_endpoint_is_in_the_policy(app):
    declared = {(m, p) for m, p, _w, _b in POLICY}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.rule in NOT_API:
            continue
        path = rule.rule.replace("<int:park_id>", "{EDZ}").replace("<int:site_id>", "{site}")
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
        if username in allowed:
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

"""Parks and sites through the API: filters, park scope, roles, admin writes with their audit
entries, and bad input answered with a 4xx that names the problem (never a 500)."""
from __future__ import annotations

import pytest

from server.domain.credit_code import check_char

STAFF_NOT_ADMIN = ("insp1", "sup1", "legal1", "sched1")
EDZ_BOX = [[119.150, 32.250], [119.190, 32.250], [119.190, 32.280], [119.150, 32.280], [119.150, 32.250]]


def code_for(first17: str) -> str:
    return first17 + check_char(first17)


def park_ids(client, auth) -> dict[str, int]:
    r = client.get("/api/parks", headers=auth.headers("admin1"))
    assert r.status_code == 200
    return {p["code"]: p["id"] for p in r.get_json()["items"]}


def site_ids_by_name(client, auth) -> dict[str, int]:
    r = client.get("/api/sites", headers=auth.headers("admin1"), query_string={"limit": 500})
    return {s["name"]: s["id"] for s in r.get_json()["items"]}


def names(resp) -> set[str]:
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    if "features" in body:
        return {f["properties"]["name"] for f in body["features"]}
    return {s["name"] for s in body["items"]}


def audit_of(app, entity_type: str, entity_id) -> list:
    from server.services.audit import history

    with app.app_context():
        return [(e.action, e.summary, e.actor_id) for e in history(entity_type, entity_id)]


def user_id(app, username: str) -> int:
    from server.services.users import get_by_username

    with app.app_context():
        return get_by_username(username).id


def assert_refused(resp, status: int, *words: str, case=None) -> dict:
    """A 4xx of this status whose body names the problem (each word somewhere in it)."""
    assert resp.status_code == status, (case, resp.status_code, resp.get_json())
    body = resp.get_json()
    text = str(body)
    for w in words:
        assert w in text, (case, w, body)
    return body


CHEM_NAMES = {"仪征市华瑞化工有限公司", "扬州天元新材料有限公司"}
EDZ_NAMES = {"仪征市恒达机械有限公司", "仪征市江海包装有限公司", "扬州润泽电子科技有限公司"}


# --- reading ------------------------------------------------------------------------------


def test_parks_are_listed_within_the_users_scope(client, auth):
    r = client.get("/api/parks", headers=auth.headers("insp1"))
    assert r.status_code == 200
    assert [(p["code"], p["site_count"]) for p in r.get_json()["items"]] == [("EDZ", 3)]
    r = client.get("/api/parks", headers=auth.headers("admin1"))
    parks = {p["code"]: p for p in r.get_json()["items"]}
    assert set(parks) == {"EDZ", "CHEM"}
    assert parks["EDZ"]["bbox"] == pytest.approx([119.15, 32.25, 119.19, 32.28])


def test_parks_geojson_carries_polygons_and_the_named_properties(client, auth):
    r = client.get("/api/parks.geojson", headers=auth.headers("sched1"))
    assert r.status_code == 200
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    by_code = {f["properties"]["code"]: f for f in fc["features"]}
    assert set(by_code) == {"EDZ", "CHEM"}
    f = by_code["CHEM"]
    assert set(f["properties"]) == {"id", "code", "name_zh", "name_en", "kind"}
    assert f["properties"]["name_zh"] == "化工园区"
    assert f["geometry"]["type"] == "MultiPolygon"
    ring = f["geometry"]["coordinates"][0][0]
    assert ring[0] == ring[-1] and {tuple(p) for p in ring} == {
        (119.2, 32.25), (119.24, 32.25), (119.24, 32.28), (119.2, 32.28)}
    edz_only = client.get("/api/parks.geojson", headers=auth.headers("insp1")).get_json()
    assert [f["properties"]["code"] for f in edz_only["features"]] == ["EDZ"]


def test_a_park_outside_scope_is_forbidden_and_a_missing_one_not_found(client, auth):
    ids = park_ids(client, auth)
    assert client.get(f"/api/parks/{ids['EDZ']}", headers=auth.headers("insp1")).status_code == 200
    assert_refused(client.get(f"/api/parks/{ids['CHEM']}", headers=auth.headers("insp1")), 403, "park")
    assert_refused(client.get("/api/parks/9999", headers=auth.headers("admin1")), 404, "no park with id 9999")


def test_site_rows_carry_location_grades_and_flags(client, auth):
    r = client.get("/api/sites", headers=auth.headers("sup_chem"))
    items = r.get_json()["items"]
    plant = next(s for s in items if s["name"] == "仪征市华瑞化工有限公司")
    assert (plant["lon"], plant["lat"]) == pytest.approx((119.21, 32.26))
    assert plant["grades"] == {"risk": "very_high", "credit_class": "B", "safety_std": "2"}
    assert plant["flags"] == {"hazchem": True, "major_hazard": False, "key_polluter": False, "key_object": True}
    assert "distance_m" not in plant


@pytest.mark.parametrize("params, expected", [
    ({"risk_grade": "high"}, {"扬州润泽电子科技有限公司", "扬州天元新材料有限公司"}),
    ({"key_object": "true"}, CHEM_NAMES),
    ({"key_object": "false"}, EDZ_NAMES),
    ({"q": "恒达"}, {"仪征市恒达机械有限公司"}),
    ({"q": "91321081ma1xk4"}, {"仪征市恒达机械有限公司"}),  # credit code, any case
    ({"q": "%"}, set()),  # a wildcard is searched for literally
    ({"risk_grade": "high", "key_object": "true"}, {"扬州天元新材料有限公司"}),
    ({"active": "true"}, EDZ_NAMES | CHEM_NAMES),
    ({"active": "false"}, set()),
])
def test_site_filters(client, auth, params, expected):
    assert names(client.get("/api/sites", headers=auth.headers("legal1"), query_string=params)) == expected
    assert names(client.get("/api/sites.geojson", headers=auth.headers("legal1"), query_string=params)) == expected


def test_filter_by_park_and_by_address(client, auth):
    ids = park_ids(client, auth)
    assert names(client.get("/api/sites", headers=auth.headers("admin1"),
                            query_string={"park": ids["CHEM"]})) == CHEM_NAMES
    site = site_ids_by_name(client, auth)["仪征市江海包装有限公司"]
    r = client.patch(f"/api/sites/{site}", headers=auth.headers("admin1"), json={"address": "仪征市大庆南路88号"})
    assert r.status_code == 200, r.get_json()
    assert names(client.get("/api/sites", headers=auth.headers("admin1"),
                            query_string={"q": "大庆南路"})) == {"仪征市江海包装有限公司"}


def test_an_edz_inspector_never_sees_chem_sites(client, auth):
    h = auth.headers("insp1")
    assert names(client.get("/api/sites", headers=h)) == EDZ_NAMES
    assert names(client.get("/api/sites.geojson", headers=h)) == EDZ_NAMES
    ids = park_ids(client, auth)
    assert names(client.get("/api/sites", headers=h, query_string={"park": ids["CHEM"]})) == set()
    assert names(client.get("/api/sites.geojson", headers=h, query_string={"park": ids["CHEM"]})) == set()
    assert names(client.get("/api/sites", headers=h, query_string={"key_object": "true"})) == set()
    near_chem = {"near": "119.21,32.26", "radius_m": 5000}
    assert names(client.get("/api/sites", headers=h, query_string=near_chem)) <= EDZ_NAMES
    assert names(client.get("/api/sites.geojson", headers=h, query_string=near_chem)) <= EDZ_NAMES
    all_ids = site_ids_by_name(client, auth)
    for name in CHEM_NAMES:
        assert_refused(client.get(f"/api/sites/{all_ids[name]}", headers=h), 403, "park you are not assigned to")
    for name in EDZ_NAMES:
        r = client.get(f"/api/sites/{all_ids[name]}", headers=h)
        assert r.status_code == 200 and r.get_json()["park"]["code"] == "EDZ"


def test_a_site_that_does_not_exist_is_not_found(client, auth):
    assert_refused(client.get("/api/sites/9999", headers=auth.headers("admin1")), 404, "no site with id 9999")
    assert_refused(client.patch("/api/sites/9999", headers=auth.headers("admin1"), json={"name": "x"}), 404)
    huge = "1" + "0" * 30  # past any integer column: still a plain "not found"
    assert_refused(client.get(f"/api/sites/{huge}", headers=auth.headers("admin1")), 404, "not found")
    assert_refused(client.patch(f"/api/parks/{huge}", headers=auth.headers("admin1"), json={"kind": "x"}), 404)


def test_keyset_pages_cover_every_site_once_in_id_order(client, auth):
    seen, cursor, pages = [], None, 0
    while True:
        q = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/sites", headers=auth.headers("admin1"), query_string=q).get_json()
        seen += [s["id"] for s in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 5 and seen == sorted(seen)


def test_a_cursor_is_refused_with_other_filters_or_when_forged(client, auth):
    h = auth.headers("admin1")
    cursor = client.get("/api/sites", headers=h, query_string={"limit": 1}).get_json()["next_cursor"]
    assert_refused(client.get("/api/sites", headers=h, query_string={"limit": 1, "cursor": cursor,
                                                                      "risk_grade": "low"}), 422, "cursor")
    assert_refused(client.get("/api/sites", headers=h, query_string={"cursor": "not-a-cursor"}), 422, "cursor")
    near = {"near": "119.17,32.265", "radius_m": 3000, "limit": 1}
    assert_refused(client.get("/api/sites", headers=h, query_string=near | {"cursor": cursor}), 422, "cursor")


# --- who may ------------------------------------------------------------------------------


def test_no_token_is_401_everywhere(client):
    for path in ("/api/parks", "/api/parks.geojson", "/api/parks/1", "/api/sites", "/api/sites.geojson",
                 "/api/sites/1"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert "Bearer" in r.headers.get("WWW-Authenticate", "")
    assert client.post("/api/sites", json={}).status_code == 401
    assert client.patch("/api/parks/1", json={}).status_code == 401
    r = client.get("/api/sites", headers={"Authorization": "Bearer forged-token"})
    assert r.status_code == 401


@pytest.mark.parametrize("username", STAFF_NOT_ADMIN)
def test_only_an_admin_creates_or_changes(client, auth, app, username):
    ids = park_ids(client, auth)
    h = auth.headers(username)
    site = {"park_id": ids["EDZ"], "name": "新企业", "lon": 119.16, "lat": 32.27}
    park = {"code": "NEW", "name_zh": "新园", "name_en": "New", "boundary": {"type": "Polygon",
                                                                             "coordinates": [EDZ_BOX]}}
    assert_refused(client.post("/api/sites", headers=h, json=site), 403, "admin")
    assert_refused(client.patch("/api/sites/1", headers=h, json={"name": "改名"}), 403, "admin")
    assert_refused(client.post("/api/parks", headers=h, json=park), 403, "admin")
    assert_refused(client.patch(f"/api/parks/{ids['EDZ']}", headers=h, json={"name_en": "x"}), 403, "admin")
    assert "新企业" not in site_ids_by_name(client, auth)
    assert audit_of(app, "site", 1) == []


# --- admin writes -------------------------------------------------------------------------


def test_admin_creates_a_site_and_the_audit_entry_records_it(client, auth, app):
    ids = park_ids(client, auth)
    code = code_for("91321081MA1AAAAA0")
    r = client.post("/api/sites", headers=auth.headers("admin1"), json={
        "park_id": ids["CHEM"], "name": " 扬州新化工有限公司 ", "credit_code": code.lower(), "lon": 119.23, "lat": 32.27,
        "risk_grade": "high", "is_hazchem": True, "is_major_hazard": True, "industry": "化学原料制造"})
    assert r.status_code == 201, r.get_json()
    site = r.get_json()
    assert site["name"] == "扬州新化工有限公司" and site["credit_code"] == code
    assert site["grades"]["safety_std"] == "ungraded"  # a plant without a grade is ungraded
    assert site["flags"]["key_object"] is True and site["park"]["code"] == "CHEM"
    assert client.get(f"/api/sites/{site['id']}", headers=auth.headers("sup_chem")).get_json() == site
    [(action, summary, actor)] = audit_of(app, "site", site["id"])
    assert action == "site.create" and actor == user_id(app, "admin1")
    assert summary["after"]["credit_code"] == code and summary["after"]["lon"] == 119.23
    assert summary["after"]["park_id"] == ids["CHEM"]


def test_admin_updates_a_site_and_the_audit_entry_has_before_and_after(client, auth, app):
    sid = site_ids_by_name(client, auth)["仪征市江海包装有限公司"]
    h = auth.headers("admin1")
    r = client.patch(f"/api/sites/{sid}", headers=h, json={"risk_grade": "high", "lon": 119.175, "lat": 32.27,
                                                          "name": "仪征市江海包装有限公司"})  # name unchanged
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["grades"]["risk"] == "high" and (body["lon"], body["lat"]) == pytest.approx((119.175, 32.27))
    [(action, summary, _)] = audit_of(app, "site", sid)
    assert action == "site.update"
    assert summary == {"before": {"risk_grade": "low", "lon": 119.17, "lat": 32.265},
                       "after": {"risk_grade": "high", "lon": 119.175, "lat": 32.27}}
    # the same values again change nothing and write nothing
    assert client.patch(f"/api/sites/{sid}", headers=h, json={"risk_grade": "high"}).status_code == 200
    assert len(audit_of(app, "site", sid)) == 1


def test_a_site_moved_to_the_other_park_must_be_moved_into_it(client, auth, app):
    ids = park_ids(client, auth)
    sid = site_ids_by_name(client, auth)["仪征市江海包装有限公司"]
    h = auth.headers("admin1")
    body = assert_refused(client.patch(f"/api/sites/{sid}", headers=h, json={"park_id": ids["CHEM"]}),
                          422, "outside park 化工园区 (CHEM)", "it is in park 经济开发区 (EDZ")
    assert "lon" in body["errors"]["json"]
    r = client.patch(f"/api/sites/{sid}", headers=h, json={"park_id": ids["CHEM"], "lon": 119.205, "lat": 32.27})
    assert r.status_code == 200 and r.get_json()["park"]["code"] == "CHEM"
    assert names(client.get("/api/sites", headers=auth.headers("insp1"))) == EDZ_NAMES - {"仪征市江海包装有限公司"}


def test_a_site_outside_its_park_is_refused_naming_the_park_it_is_in(client, auth, app):
    ids = park_ids(client, auth)
    h = auth.headers("admin1")
    site = {"park_id": ids["EDZ"], "name": "越界企业", "lon": 119.22, "lat": 32.26}
    assert_refused(client.post("/api/sites", headers=h, json=site), 422,
                   "outside park 经济开发区 (EDZ)", "it is in park 化工园区 (CHEM")
    assert_refused(client.post("/api/sites", headers=h, json=site | {"lon": 119.195}), 422, "it is in no park")
    # on the boundary counts as inside
    assert client.post("/api/sites", headers=h, json=site | {"lon": 119.19}).status_code == 201
    assert_refused(client.post("/api/sites", headers=h, json=site | {"park_id": 999, "lon": 119.16}),
                   422, "no park with id 999")
    sid = site_ids_by_name(client, auth)["仪征市恒达机械有限公司"]
    assert_refused(client.patch(f"/api/sites/{sid}", headers=h, json={"lon": 119.21, "lat": 32.26}), 422,
                   "it is in park 化工园区")
    assert "越界企业" in site_ids_by_name(client, auth)  # only the one on the boundary
    assert [a for a, _, _ in audit_of(app, "site", sid)] == []


def test_credit_codes_must_be_valid_and_unique(client, auth, app):
    ids = park_ids(client, auth)
    h = auth.headers("admin1")
    site = {"park_id": ids["EDZ"], "name": "甲企业", "lon": 119.16, "lat": 32.27}
    good = code_for("91321081MA1BBBBB0")
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert_refused(client.post("/api/sites", headers=h, json=site | {"credit_code": wrong_check}), 422,
                   "credit_code", f"check character should be {good[17]}")
    assert_refused(client.post("/api/sites", headers=h, json=site | {"credit_code": "91321081MA1XK4LL3"}), 422,
                   "18 characters")
    assert_refused(client.post("/api/sites", headers=h, json=site | {"credit_code": "91321081MA1XK4LLOA"}), 422,
                   "not allowed")
    assert_refused(client.post("/api/sites", headers=h, json=site | {"credit_code": "91321081MA1XK4LL3A"}), 409,
                   "already belongs to site", "仪征市恒达机械有限公司")
    r = client.post("/api/sites", headers=h, json=site | {"credit_code": good})
    assert r.status_code == 201
    other = site_ids_by_name(client, auth)["仪征市江海包装有限公司"]
    assert_refused(client.patch(f"/api/sites/{other}", headers=h, json={"credit_code": good}), 409, "甲企业")
    # keeping one's own code is no clash; an empty code clears it
    assert client.patch(f"/api/sites/{r.get_json()['id']}", headers=h, json={"credit_code": good}).status_code == 200
    cleared = client.patch(f"/api/sites/{r.get_json()['id']}", headers=h, json={"credit_code": ""})
    assert cleared.status_code == 200 and cleared.get_json()["credit_code"] is None


def test_only_a_hazchem_plant_has_a_safety_grade(client, auth):
    ids = park_ids(client, auth)
    h = auth.headers("admin1")
    site = {"park_id": ids["EDZ"], "name": "乙企业", "lon": 119.16, "lat": 32.27, "safety_std_grade": "1"}
    assert_refused(client.post("/api/sites", headers=h, json=site), 422, "safety_std_grade", "is_hazchem")
    plant = next(s for s in client.get("/api/sites", headers=h).get_json()["items"] if s["grades"]["safety_std"])
    r = client.patch(f"/api/sites/{plant['id']}", headers=h, json={"is_hazchem": False})
    assert r.status_code == 200 and r.get_json()["grades"]["safety_std"] is None


def test_admin_creates_a_park_and_an_overlap_is_a_warning(client, auth, app):
    h = auth.headers("admin1")
    square = [[119.30, 32.25], [119.33, 32.25], [119.33, 32.28], [119.30, 32.28], [119.30, 32.25]]
    r = client.post("/api/parks", headers=h, json={"code": "AUTO", "name_zh": "汽车园", "name_en": "Auto Park",
                                                   "kind": "automotive",
                                                   "boundary": {"type": "Polygon", "coordinates": [square]}})
    assert r.status_code == 201, r.get_json()
    park = r.get_json()
    assert park["warnings"] == [] and park["boundary"]["type"] == "MultiPolygon" and park["site_count"] == 0
    [(action, summary, _)] = audit_of(app, "park", park["id"])
    assert action == "park.create" and summary["after"]["code"] == "AUTO"
    assert summary["after"]["boundary"]["coordinates"] == [[square]]

    straddle = [[119.18, 32.25], [119.21, 32.25], [119.21, 32.26], [119.18, 32.26], [119.18, 32.25]]
    r = client.post("/api/parks", headers=h, json={"code": "MID", "name_zh": "中间园", "name_en": "Mid",
                                                   "boundary": {"type": "Polygon", "coordinates": [straddle]}})
    assert r.status_code == 201, r.get_json()
    warnings = r.get_json()["warnings"]
    assert len(warnings) == 2 and "经济开发区 (EDZ)" in warnings[0] and "化工园区 (CHEM)" in warnings[1]
    assert "ha" in warnings[0]
    assert audit_of(app, "park", r.get_json()["id"])[0][1]["warnings"] == warnings
    # a neighbour sharing only an edge is no overlap
    touching = [[119.19, 32.25], [119.20, 32.25], [119.20, 32.28], [119.19, 32.28], [119.19, 32.25]]
    r = client.post("/api/parks", headers=h, json={"code": "GAP", "name_zh": "夹缝园", "name_en": "Gap",
                                                   "boundary": {"type": "Polygon", "coordinates": [touching]}})
    assert r.status_code == 201 and [w for w in r.get_json()["warnings"] if "EDZ" in w or "CHEM" in w] == []
    assert_refused(client.post("/api/parks", headers=h, json={"code": "AUTO", "name_zh": "x", "name_en": "x",
                                                              "boundary": {"type": "Polygon",
                                                                           "coordinates": [square]}}),
                   409, "park code AUTO is taken")


def test_a_park_boundary_change_must_keep_its_sites_inside(client, auth, app):
    ids = park_ids(client, auth)
    h = auth.headers("admin1")
    shrunk = [[119.150, 32.250], [119.175, 32.250], [119.175, 32.280], [119.150, 32.280], [119.150, 32.250]]
    assert_refused(client.patch(f"/api/parks/{ids['EDZ']}", headers=h,
                                json={"boundary": {"type": "Polygon", "coordinates": [shrunk]}}),
                   422, "leave 1 of this park's sites outside", "扬州润泽电子科技有限公司")
    grown = [[119.140, 32.240], [119.195, 32.240], [119.195, 32.290], [119.140, 32.290], [119.140, 32.240]]
    r = client.patch(f"/api/parks/{ids['EDZ']}", headers=h,
                     json={"boundary": {"type": "Polygon", "coordinates": [grown]}, "name_en": "EDZ"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["bbox"] == pytest.approx([119.14, 32.24, 119.195, 32.29])
    [(action, summary, _)] = audit_of(app, "park", ids["EDZ"])
    assert action == "park.update"
    assert summary["before"]["name_en"] == "Economic Development Zone" and summary["after"]["name_en"] == "EDZ"
    assert summary["before"]["boundary"]["type"] == "MultiPolygon"
    assert summary["after"]["boundary"]["coordinates"] == [[grown]]
    assert_refused(client.patch(f"/api/parks/{ids['EDZ']}", headers=h, json={"code": "CHEM"}), 409, "taken")


# --- bad input ----------------------------------------------------------------------------

BOW_TIE = {"type": "Polygon", "coordinates": [[[119.30, 32.25], [119.33, 32.28], [119.33, 32.25],
                                                [119.30, 32.28], [119.30, 32.25]]]}


BAD_BODIES = [
    ("/api/sites", "{not json", 400, ["Invalid JSON"]),
    ("/api/sites", {"park_id": "EDZ", "name": "x", "lon": 119.16, "lat": 32.27}, 422, ["park_id", "integer"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": "east", "lat": 32.27}, 422, ["lon", "number"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": 119.16, "lat": 32.27, "is_hazchem": "maybe"}, 422,
     ["is_hazchem", "boolean"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": 119.16, "lat": 32.27, "colour": "red"}, 422,
     ["colour", "Unknown field"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": 219.16, "lat": 32.27}, 422, ["longitude must be between"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": 119.16, "lat": 132.27}, 422, ["latitude must be between"]),
    ("/api/sites", {"park_id": 1, "name": "   ", "lon": 119.16, "lat": 32.27}, 422, ["name"]),
    ("/api/sites", {"park_id": 1, "name": "x", "lon": 119.16, "lat": 32.27, "risk_grade": "extreme"}, 422,
     ["risk_grade", "very_high"]),
    ("/api/sites", {"name": "x", "lon": 119.16, "lat": 32.27}, 422, ["park_id", "Missing"]),
    ("/api/sites", [1, 2], 422, ["Invalid input type"]),
    ("/api/sites", {"park_id": 10**30, "name": "x", "lon": 119.16, "lat": 32.27}, 422, ["park_id", "2147483647"]),
    ("/api/sites", {"park_id": 1, "name": "x\u0000", "lon": 119.16, "lat": 32.27}, 422, ["name", "NUL"]),
    ("/api/sites/1", {"lon": 119.16}, 422, ["lat", "lon and lat move together"]),
    ("/api/sites/1", {}, 422, ["nothing to change"]),
    ("/api/parks", {"code": "BOW", "name_zh": "蝴蝶", "name_en": "Bow", "boundary": BOW_TIE}, 422,
     ["boundary", "Self-intersection"]),
    ("/api/parks", {"code": "B W", "name_zh": "x", "name_en": "x", "boundary": BOW_TIE}, 422, ["code", "letters"]),
    ("/api/parks", {"code": "PT", "name_zh": "x", "name_en": "x",
                    "boundary": {"type": "Point", "coordinates": [119.3, 32.2]}}, 422, ["Polygon or MultiPolygon"]),
    ("/api/parks", {"code": "OPEN", "name_zh": "x", "name_en": "x",
                    "boundary": {"type": "Polygon", "coordinates": [[[119.3, 32.2], [119.4, 32.2], [119.4, 32.3]]]}},
     422, ["at least 4"]),
    ("/api/parks/1", {"boundary": BOW_TIE}, 422, ["Self-intersection"]),
    ("/api/parks/1", {"area": 3}, 422, ["area", "Unknown field"]),
]


def test_bad_bodies_get_a_4xx_naming_the_problem(client, auth, app):
    h = auth.headers("admin1")
    for path, body, status, words in BAD_BODIES:
        method = client.patch if path.count("/") == 3 else client.post
        if isinstance(body, str):
            r = method(path, headers=h, data=body, content_type="application/json")
        else:
            r = method(path, headers=h, json=body)
        assert_refused(r, status, *words, case=(path, body))
    assert audit_of(app, "site", 1) == [] and audit_of(app, "park", 1) == []
    assert len(site_ids_by_name(client, auth)) == 5 and len(park_ids(client, auth)) == 2


BAD_QUERIES = [
    ({"near": "119.17"}, ["near", "lon,lat"]),
    ({"near": "east,north", "radius_m": 100}, ["near", "two numbers"]),
    ({"near": "32.26,119.17", "radius_m": 100}, ["latitude 119.17"]),
    ({"near": "119.17,32.26"}, ["radius_m", "needs radius_m"]),
    ({"radius_m": 100}, ["near", "needs near"]),
    ({"near": "119.17,32.26", "radius_m": -5}, ["radius_m", "more than 0"]),
    ({"near": "119.17,32.26", "radius_m": 0}, ["radius_m", "more than 0"]),
    ({"near": "119.17,32.26", "radius_m": 10_000_000}, ["radius_m", "50000 m", "50 km"]),
    ({"near": "119.17,32.26", "radius_m": "inf"}, ["radius_m"]),
    ({"near": "119.17,32.26", "radius_m": "nan"}, ["radius_m"]),
    ({"near": "119.17,32.26", "radius_m": "far"}, ["radius_m", "number"]),
    ({"risk_grade": "extreme"}, ["risk_grade"]),
    ({"key_object": "perhaps"}, ["key_object", "boolean"]),
    ({"park": "EDZ"}, ["park", "integer"]),
    ({"park": "1" + "0" * 30}, ["park", "2147483647"]),
    ({"q": "\u0000"}, ["q", "NUL"]),
    ({"limit": 0}, ["limit"]),
    ({"limit": 100000}, ["limit"]),
    ({"colour": "red"}, ["colour", "Unknown field"]),
]


def test_bad_queries_get_a_422_naming_the_problem(client, auth):
    h = auth.headers("insp1")
    for params, words in BAD_QUERIES:
        assert_refused(client.get("/api/sites", headers=h, query_string=params), 422, *words, case=params)
        if "limit" in params:
            words = ["limit", "Unknown field"]  # the map answer is not paged
        assert_refused(client.get("/api/sites.geojson", headers=h, query_string=params), 422, *words, case=params)

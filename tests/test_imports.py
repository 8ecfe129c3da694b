"""Imports as a new bureau does them: from an EMPTY database (migrated, one admin, no demo),
the admin imports parks (GeoJSON with the office), people (CSV), the violation catalogue (the
shared fixture) and a spreadsheet of 300 enterprises with broken rows; reads the dry run that
names each broken row, column and reason in zh-CN and en; applies; and the inspectors' day and
the planner work on what was imported. Importing the same files again changes nothing. Both
engines.
"""
from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import PG_URL, TEST_SECRET, _watch_for_server_errors, need
from tests.import_helpers import (
    ADMIN_PASSWORD, INITIAL_PASSWORD, OFFICE, checklist_csv, drop_database, empty_database, enterprises_csv,
    enterprises_xlsx, first_admin, parks_geojson, parks_kml, people_csv,
)

pytestmark = pytest.mark.db


@pytest.fixture
def fresh(engine, tmp_path):
    """An app on an empty database of the engine, with only the first admin."""
    from server import create_app
    from server.extensions import db

    if engine == "postgis":
        need(bool(PG_URL), "FIELDCHECK_TEST_DATABASE_URL is not set, so the PostGIS tests cannot run")
    url = empty_database(engine, tmp_path, PG_URL)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": TEST_SECRET,
                      "TESTING": True})
    errors = _watch_for_server_errors(app)
    first_admin(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database(url)
    assert not errors, f"the server answered 5xx: {errors}"


class Client:
    def __init__(self, app):
        self.app = app
        self.c = app.test_client()
        self.tokens = {}

    def h(self, username="admin", password=ADMIN_PASSWORD):
        if username not in self.tokens:
            r = self.c.post("/api/auth/token", json={"username": username, "password": password})
            assert r.status_code == 201, r.get_json()
            self.tokens[username] = r.get_json()["token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def upload(self, kind, filename, data: bytes, status=201, **fields):
        r = self.c.post("/api/imports", headers=self.h(), content_type="multipart/form-data",
                        data={"kind": kind, "file": (io.BytesIO(data), filename),
                              **{k: str(v) for k, v in fields.items()}})
        assert r.status_code == status, r.get_json()
        return r.get_json()

    def apply(self, job, status=200):
        r = self.c.post(f"/api/imports/{job['id']}/apply", headers=self.h())
        assert r.status_code == status, r.get_json()
        return r.get_json()

    def rows(self, job, action=None):
        q = f"?action={action}&limit=1000" if action else "?limit=1000"
        r = self.c.get(f"/api/imports/{job['id']}{q}", headers=self.h())
        assert r.status_code == 200, r.get_json()
        return r.get_json()["rows"]["items"]


def counts(job):
    return {k: job["counts"][k] for k in ("create", "update", "unchanged", "refused")}


def table_counts(app):
    from server.extensions import db
    from server.models import AuditEntry, ChecklistTemplate, Office, Park, Site, User, ViolationType

    with app.app_context():
        out = {m.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one()
               for m in (Park, Office, Site, User, ViolationType, ChecklistTemplate)}
        out["applies"] = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)
                                            .where(AuditEntry.action.like("import.apply.%"))).scalar_one()
        return out


def bureau_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_a_new_bureau_imports_everything_and_plans_on_it(fresh, shared_fixtures):
    api = Client(fresh)
    # 1. parks with the office
    parks = api.upload("parks", "parks.geojson", parks_geojson(), reference_lon=OFFICE[0], reference_lat=OFFICE[1])
    assert parks["status"] == "checked" and counts(parks) == {"create": 3, "update": 0, "unchanged": 0, "refused": 0}
    assert table_counts(fresh)["parks"] == 0, "a dry run writes nothing"
    assert api.apply(parks)["status"] == "applied"

    # 2. people: inspectors with certificates, a supervisor, a scheduler; Chinese role words
    people_file = people_csv([["bad", "坏行", "boss", "EDZ", "", "", ""],
                              ["wangwei2", "王伟二", "inspector", "EDZ", "JS-3210-1001", "2030-01-01", "safety"]])
    people = api.upload("people", "people.csv", people_file, initial_password=INITIAL_PASSWORD)
    assert counts(people) == {"create": 6, "update": 0, "unchanged": 0, "refused": 2}
    refused = {r["row"]: r["issues"][0] for r in api.rows(people, "refused")}
    assert refused[8]["column"] == "role" and "boss" in refused[8]["message"]["en"]
    assert refused[9]["column"] == "certificate_no" and "第 2 行" in refused[9]["message"]["zh-CN"]
    api.apply(people)

    # 3. the catalogue fixture
    cat = api.upload("catalogue", "catalogue.csv", (shared_fixtures / "catalogue.csv").read_bytes())
    assert counts(cat) == {"create": 45, "update": 0, "unchanged": 0, "refused": 0}
    api.apply(cat)

    # 4. checklists
    cl = api.upload("checklists", "checklists.csv", checklist_csv())
    assert counts(cl)["create"] == 3
    api.apply(cl)

    # 5. 300 enterprises from a spreadsheet with broken rows
    xlsx, expected = enterprises_xlsx(300)
    ent = api.upload("enterprises", "企业名录.xlsx", xlsx)
    assert counts(ent) == {"create": 300 - len(expected), "update": 0, "unchanged": 0, "refused": len(expected)}
    refused = {r["row"]: r for r in api.rows(ent, "refused")}
    assert set(refused) == set(expected)
    for row_no, (header, column, key) in expected.items():
        issue = refused[row_no]["issues"][0]
        assert (issue["header"], issue["column"], issue["key"]) == (header, column, key), refused[row_no]
        assert issue["message"]["zh-CN"] and issue["message"]["en"] and issue["message"]["zh-CN"] != issue["message"]["en"]
    assert "check character should be" in refused[12]["issues"][0]["message"]["en"]
    assert "校验位" in refused[12]["issues"][0]["message"]["zh-CN"]
    assert "gcj02" in refused[52]["issues"][0]["message"]["en"]
    assert any(i["key"] == "looks_gcj02_rows" for i in ent["file_issues"])
    assert table_counts(fresh)["sites"] == 0
    applied = api.apply(ent)
    assert applied["status"] == "applied" and applied["allowed_next"] == []
    assert table_counts(fresh)["sites"] == 300 - len(expected)
    assert api.apply(ent, 409)["message"].startswith(f"import {ent['id']} was applied")

    # every apply is audited with the file's hash and counts
    from server.extensions import db
    from server.models import AuditEntry

    with fresh.app_context():
        entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "import.apply.enterprises")
                                   ).scalar_one()
        assert entry.summary["sha256"] == ent["sha256"] and entry.summary["create"] == 300 - len(expected)

    # 6. the sites as the API shows them: in their parks, Chinese risk words read
    r = api.c.get("/api/sites?q=测试企业00004", headers=api.h())
    site = r.get_json()["items"][0]
    assert site["credit_code"] and site["grades"]["risk"] == "low"

    # 7. the planner and the inspector's day on the imported data
    day = bureau_today()
    sched = api.h("diaodu", INITIAL_PASSWORD)
    r = api.c.post("/api/plans", json={"date": day.isoformat(), "options": {"iterations": 200}}, headers=sched)
    if r.status_code == 422 and "not a working day" in r.get_json()["message"]:
        day = None  # a weekend: plan the next working day; today's list falls back to the park's sites
        r = api.c.post("/api/plans", json={"options": {"iterations": 200}}, headers=sched)
    assert r.status_code in (200, 201), r.get_json()
    plan = r.get_json()
    assert plan["totals"]["stops"] > 0 and plan["totals"]["teams"] >= 1
    assert api.c.post(f"/api/plans/{plan['day']}/publish", headers=sched).status_code == 200
    inspector = next(o["username"] for rt in plan["routes"] for o in rt["officers"]) \
        if "username" in plan["routes"][0]["officers"][0] else "wangwei"
    today = api.c.get("/api/me/today", headers=api.h(inspector, INITIAL_PASSWORD))
    assert today.status_code == 200, today.get_json()
    body = today.get_json()
    assert body["stops"], "the inspector has sites to visit"
    assert all(s["site"]["name"].startswith("测试企业") for s in body["stops"])
    assert {c["code"] for c in body["checklists"]} >= {"FIRE", "SAFETY"}
    assert len(body["catalogue"]) == 45

    # 8. the same files again change nothing
    before = table_counts(fresh)
    for kind, name, data, extra in (("parks", "parks.geojson", parks_geojson(), {}),
                                    ("people", "people.csv", people_file, {"initial_password": INITIAL_PASSWORD}),
                                    ("catalogue", "catalogue.csv", (shared_fixtures / "catalogue.csv").read_bytes(), {}),
                                    ("checklists", "checklists.csv", checklist_csv(), {}),
                                    ("enterprises", "企业名录.xlsx", xlsx, {})):
        again = api.upload(kind, name, data, **extra)
        assert again["counts"]["create"] == 0 and again["counts"]["update"] == 0, (kind, again["counts"])
        assert again["counts"]["unchanged"] > 0
        api.apply(again)
    after = table_counts(fresh)
    assert {k: v for k, v in after.items() if k != "applies"} == {k: v for k, v in before.items() if k != "applies"}


def test_kml_parks_people_update_checklist_version_and_gcj02_declared(fresh):
    api = Client(fresh)
    kml = api.upload("parks", "parks.kml", parks_kml())
    assert counts(kml) == {"create": 2, "update": 0, "unchanged": 0, "refused": 0}
    api.apply(kml)
    # the same boundaries as GeoJSON in GCJ-02, declared: unchanged (to the metre)
    gj = api.upload("parks", "parks.geojson", parks_geojson(with_office=False), crs="wgs84")
    assert counts(gj)["unchanged"] == 2
    # a new park overlapping EDZ is created with a warning the report lists
    import json

    ring = [[119.185, 32.26], [119.195, 32.26], [119.195, 32.27], [119.185, 32.27], [119.185, 32.26]]
    overlap = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "code": "NEW", "名称": "新园区"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}).encode()
    job = api.upload("parks", "new.geojson", overlap)
    assert counts(job)["create"] == 1 and job["counts"]["warnings"] == 1
    warned = api.rows(job, "issues")
    assert [(r["action"], r["issues"][0]["key"], r["issues"][0]["severity"]) for r in warned] == [
        ("create", "overlaps_park", "warning")]
    assert "EDZ" in warned[0]["issues"][0]["message"]["en"] and "公顷" in warned[0]["issues"][0]["message"]["zh-CN"]

    people = api.upload("people", "people.csv", people_csv(), initial_password=INITIAL_PASSWORD)
    api.apply(people)
    changed = people_csv().decode().replace("JS-3210-1003", "JS-3210-9003").encode()
    again = api.upload("people", "people.csv", changed)
    assert counts(again) == {"create": 0, "update": 1, "unchanged": 5, "refused": 0}
    upd = api.rows(again, "update")[0]
    assert upd["key"] == "zhangmin" and upd["changes"]["certificate_no"] == ["JS-3210-1003", "JS-3210-9003"]
    api.apply(again)
    api.h("zhangmin", INITIAL_PASSWORD)  # the imported user logs in

    # people and checklists from a spreadsheet too
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["用户名", "姓名", "角色", "园区", "执法证号", "执法证有效期", "执法领域"])
    wb.active.append(["sunli", "孙丽", "执法队员", "化工园区", "JS-3210-2001", dt.date(2030, 6, 30), "消防"])
    buf = io.BytesIO()
    wb.save(buf)
    job = api.upload("people", "staff.xlsx", buf.getvalue(), initial_password=INITIAL_PASSWORD)
    assert counts(job) == {"create": 1, "update": 0, "unchanged": 0, "refused": 0}, job
    api.apply(job)
    api.h("sunli", INITIAL_PASSWORD)  # logs in
    from server.extensions import db as _db
    from server.models import User

    with fresh.app_context():
        u = _db.session.execute(sa.select(User).where(User.username == "sunli")).scalar_one()
        assert (u.role, [p.code for p in u.parks], u.certified_domains, u.certificate_expires) == (
            "inspector", ["CHEM"], ["fire"], dt.date(2030, 6, 30))

    # a people file without an initial password refuses new users, naming why
    newbie = api.upload("people", "people.csv", people_csv([["newbie", "新人", "inspector", "EDZ", "", "", ""]]))
    assert [r["issues"][0]["key"] for r in api.rows(newbie, "refused")] == ["weak_password"]

    # checklists: a changed item makes version 2; the broken template is refused whole
    api.apply(api.upload("checklists", "cl.csv", checklist_csv()))
    v2 = checklist_csv([["ENV", "环保检查表", "Env", "环境", "ENV-001", "", "", "", ""],
                        ["ENV", "环保检查表", "Env", "环境", "ENV-002", "", "危废标识", "", ""]])
    v2 = v2.decode().replace("消防设施、器材完好有效", "消防设施、器材完好有效并定期检验").encode()
    job = api.upload("checklists", "cl.csv", v2)
    assert counts(job) == {"create": 0, "update": 2, "unchanged": 1, "refused": 2}
    env = {r["row"]: r["issues"][0] for r in api.rows(job, "refused")}
    assert env[5]["column"] == "text_zh" and env[5]["key"] == "required"
    api.apply(job)
    from server.extensions import db
    from server.models import ChecklistTemplate

    with fresh.app_context():
        rows = db.session.execute(sa.select(ChecklistTemplate.code, ChecklistTemplate.version, ChecklistTemplate.status)
                                  .order_by(ChecklistTemplate.code, ChecklistTemplate.version)).all()
    assert [tuple(r) for r in rows] == [("FIRE", 1, "retired"), ("FIRE", 2, "published"), ("SAFETY", 1, "published")]

    # enterprises as CSV in GCJ-02, declared: converted into the parks
    from server.domain.coords import wgs84_to_gcj02
    from tests.import_helpers import enterprise_row

    rows = [enterprise_row(k) for k in range(6)]
    import csv as _csv

    out = io.StringIO()
    w = _csv.writer(out)
    w.writerow(["企业名称", "统一社会信用代码", "园区", "经度", "纬度"])
    for r in rows:
        lon, lat = wgs84_to_gcj02(r[10], r[11])
        w.writerow([r[0], r[1], r[3], lon, lat])
    gcj_file = out.getvalue().encode("gb18030")  # as Excel in China saves CSV
    as_wgs = api.upload("enterprises", "e.csv", gcj_file, reference_lon=rows[0][10], reference_lat=rows[0][11])
    assert any(i["key"] == "looks_gcj02_reference" for i in as_wgs["file_issues"]), as_wgs["file_issues"]
    declared = api.upload("enterprises", "e.csv", gcj_file, crs="gcj02")
    assert counts(declared) == {"create": 6, "update": 0, "unchanged": 0, "refused": 0}
    api.apply(declared)
    r = api.c.get("/api/sites?q=测试企业00000", headers=api.h()).get_json()["items"][0]
    from server.domain.coords import _metres

    assert _metres(r["lon"], r["lat"], rows[0][10], rows[0][11]) < 0.5
    # the same enterprises in WGS 84 are now unchanged (to 1e-9 degree after conversion, or updated by < 1 m)
    plain = api.upload("enterprises", "e2.csv", enterprises_csv(6))
    assert plain["counts"]["create"] == 0 and plain["counts"]["refused"] == 0


def test_file_problems_and_access(fresh):
    api = Client(fresh)
    bad = api.upload("enterprises", "e.csv", "名称,地址\nx,y\n".encode())
    assert bad["file_issues"][0]["key"] == "missing_column" and bad["allowed_next"] == []
    assert "统一社会信用代码" not in bad["file_issues"][0]["message"]["en"]
    assert api.apply(bad, 422)
    r = api.c.post("/api/imports", headers=api.h(), content_type="multipart/form-data",
                   data={"kind": "parks", "file": (io.BytesIO(b"x"), "parks.xlsx")})
    assert r.status_code == 422 and "geojson" in r.get_json()["message"]
    r = api.c.post("/api/imports", headers=api.h(), content_type="multipart/form-data",
                   data={"kind": "enterprises", "crs": "utm", "file": (io.BytesIO(b"x"), "e.csv")})
    assert r.status_code == 422
    kml_bomb = (b"<?xml version='1.0'?><!DOCTYPE k [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]>"
                b"<kml xmlns='http://www.opengis.net/kml/2.2'><Document><name>&b;</name></Document></kml>")
    bomb = api.upload("parks", "p.kml", kml_bomb)
    assert bomb["file_issues"][0]["key"] == "bad_file"
    assert api.c.get("/api/imports/999", headers=api.h()).status_code == 404
    # files no reader expects are reported, never a server error
    for kind, name, data in (("enterprises", "e.xlsx", b"PK\x03\x04 not a zip"), ("enterprises", "e.xlsx", b"\x00" * 50),
                             ("parks", "p.geojson", b'{"type": "FeatureCollection", "features": [{"properties": [1], '
                                                    b'"geometry": {"type": "Polygon", "coordinates": [[["a"]]]}}]}'),
                             ("parks", "p.geojson", b'{"type": "FeatureCollection", "features": [{"geometry": '
                                                    b'{"type": "Polygon", "coordinates": 5}}]}'),
                             ("parks", "p.geojson", b"[1, 2"), ("checklists", "c.csv", b"template_code\n\xff\xfe"),
                             ("catalogue", "c.csv", b"code,domain\nX,Y\n"), ("people", "p.csv", b"\n\n")):
        job = api.upload(kind, name, data)
        assert job["file_issues"] or job["counts"]["refused"], (kind, data, job)
        assert job["counts"].get("create", 0) == 0
    api.apply(api.upload("parks", "parks.geojson", parks_geojson()))
    api.apply(api.upload("people", "p.csv", people_csv(), initial_password=INITIAL_PASSWORD))
    r = api.c.post("/api/imports", headers=api.h("wangwei", INITIAL_PASSWORD), content_type="multipart/form-data",
                   data={"kind": "parks", "file": (io.BytesIO(parks_geojson()), "p.geojson")})
    assert r.status_code == 403


def test_apply_refuses_when_the_database_changed_since_the_dry_run(fresh):
    api = Client(fresh)
    api.apply(api.upload("parks", "parks.geojson", parks_geojson()))
    first = api.upload("enterprises", "e.csv", enterprises_csv(4))
    second = api.upload("enterprises", "e.csv", enterprises_csv(4))
    api.apply(first)
    r = api.apply(second, 409)
    assert "changed since the dry run" in r["message"]
    assert table_counts(fresh)["sites"] == 4


def _wait(api, job_id, status):
    import time

    for _ in range(1200):
        cur = api.c.get(f"/api/imports/{job_id}", headers=api.h()).get_json()
        if cur["status"] == status and not cur["running"]:
            return cur
        assert cur["status"] != "failed", cur
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} is still {cur['status']}")


def test_large_files_run_in_the_background_with_progress(fresh):
    fresh.config["IMPORT_INLINE_BYTES"] = 0
    api = Client(fresh)
    parks = api.upload("parks", "parks.geojson", parks_geojson(), status=202)
    api.apply(_wait(api, parks["id"], "checked"), 202)
    _wait(api, parks["id"], "applied")
    xlsx, _ = enterprises_xlsx(1200, broken=False)
    started = api.upload("enterprises", "big.xlsx", xlsx, status=202)
    assert started["running"] and started["allowed_next"] == []
    cur = _wait(api, started["id"], "checked")
    assert cur["counts"]["create"] == 1200 and cur["progress"] == {"phase": "check", "done": 1200, "total": 1200}
    assert len(cur["rows"]["items"]) == 100 and cur["rows"]["total"] == cur["listed_creates_limit"]
    api.apply(cur, 202)
    cur = _wait(api, started["id"], "applied")
    assert cur["progress"]["phase"] == "apply" and table_counts(fresh)["sites"] == 1200


def test_cli_import_dry_run_then_apply(tmp_path, monkeypatch):
    from server.cli import main

    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FIELDCHECK_DATABASE_URL", raising=False)
    monkeypatch.setenv("FIELDCHECK_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--no-demo", "--password-stdin"], input=ADMIN_PASSWORD + "\n").exit_code == 0
    (tmp_path / "parks.geojson").write_bytes(parks_geojson())
    xlsx, expected = enterprises_xlsx(100)
    (tmp_path / "e.xlsx").write_bytes(xlsx)
    r = runner.invoke(main, ["import", "parks", str(tmp_path / "parks.geojson"), "--apply", "--as", "admin"])
    assert r.exit_code == 0, r.output
    assert "applied: 3 created" in r.output
    r = runner.invoke(main, ["import", "enterprises", str(tmp_path / "e.xlsx"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "dry run only" in r.output and f"refused {len(expected)}" in r.output
    assert "row 12, column 统一社会信用代码" in r.output and "check character should be" in r.output
    r = runner.invoke(main, ["import", "enterprises", str(tmp_path / "e.xlsx"), "--apply"])
    assert r.exit_code == 0 and f"{100 - len(expected)} created" in r.output, r.output
    r = runner.invoke(main, ["import", "enterprises", str(tmp_path / "e.xlsx"), "--apply"])
    assert f"0 created, 0 updated, {100 - len(expected)} unchanged" in r.output, r.output


def test_site_create_and_edit_take_a_declared_crs(client, auth, app):
    from server.domain.coords import _metres, wgs84_to_bd09, wgs84_to_gcj02

    admin = auth.headers("admin1")
    parks = {p["code"]: p["id"] for p in client.get("/api/parks", headers=admin).get_json()["items"]}
    true = (119.171, 32.2605)
    glon, glat = wgs84_to_gcj02(*true)
    r = client.post("/api/sites", headers=admin, json={"park_id": parks["EDZ"], "name": "高德坐标企业",
                                                       "lon": glon, "lat": glat, "crs": "gcj02"})
    assert r.status_code == 201, r.get_json()
    site = r.get_json()
    assert _metres(site["lon"], site["lat"], *true) < 0.5
    moved = (119.175, 32.262)
    blon, blat = wgs84_to_bd09(*moved)
    r = client.patch(f"/api/sites/{site['id']}", headers=admin, json={"lon": blon, "lat": blat, "crs": "bd09"})
    assert r.status_code == 200, r.get_json()
    assert _metres(r.get_json()["lon"], r.get_json()["lat"], *moved) < 0.5
    r = client.patch(f"/api/sites/{site['id']}", headers=admin, json={"crs": "gcj02"})
    assert r.status_code == 422 and "crs" in r.get_json()["errors"]["json"]
    r = client.post("/api/sites", headers=admin, json={"park_id": parks["EDZ"], "name": "x", "lon": 119.17,
                                                       "lat": 32.26, "crs": "utm"})
    assert r.status_code == 422 and "crs" in r.get_json()["errors"]["json"]


def test_duplicates_in_the_file_name_the_first_row_across_batches(fresh, monkeypatch):
    """The keys already met are kept in the database a batch at a time (import_keys), not in
    memory: a duplicate several batches later still names its first row exactly; a row refused
    for another reason is nobody's first row; the table is empty once a pass ends; the same
    file again changes nothing."""
    import csv

    from server.extensions import db
    from server.models import ImportKey
    from server.services import imports
    from tests.import_helpers import credit_code, enterprise_row

    monkeypatch.setattr(imports, "BATCH", 5)  # rows 2-6, 7-11, 12-16, 17-21
    api = Client(fresh)
    api.apply(api.upload("parks", "parks.geojson", parks_geojson()))
    rows = [enterprise_row(k) for k in range(18)]           # spreadsheet rows 2..19
    rows[12][1] = credit_code(2)                            # row 14: row 4's code, two batches later
    rows[13][1], rows[13][3] = credit_code(100), "NOPE"     # row 15: refused (unknown park)
    rows[14][1] = credit_code(100)                          # row 16: so this one is the first
    rows[15][1] = credit_code(100)                          # row 17: duplicate of row 16, next batch
    rows[17][1] = credit_code(16)                           # row 19: duplicate of row 18, same batch
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["name", "credit_code", "address", "park", "industry", "risk_grade", "hazchem", "major_hazard",
                "contact", "phone", "longitude", "latitude"])
    w.writerows(rows)
    data = out.getvalue().encode()

    def keys_left():
        with fresh.app_context():
            return db.session.execute(sa.select(sa.func.count()).select_from(ImportKey)).scalar_one()

    job = api.upload("enterprises", "e.csv", data)
    assert counts(job) == {"create": 14, "update": 0, "unchanged": 0, "refused": 4}
    refused = {r["row"]: r["issues"][0] for r in api.rows(job, "refused")}
    assert {n: (i["key"], i["params"].get("first")) for n, i in refused.items()} == {
        14: ("duplicate_in_file", 4), 15: ("unknown_park", None), 17: ("duplicate_in_file", 16),
        19: ("duplicate_in_file", 18)}
    assert "duplicates row 4 " in refused[14]["message"]["en"] and "与第 4 行重复" in refused[14]["message"]["zh-CN"]
    assert keys_left() == 0
    api.apply(job)
    assert table_counts(fresh)["sites"] == 14 and keys_left() == 0
    again = api.upload("enterprises", "e.csv", data)
    assert counts(again) == {"create": 0, "update": 0, "unchanged": 14, "refused": 4}
    api.apply(again)
    assert table_counts(fresh)["sites"] == 14 and keys_left() == 0

    # people: a username and a certificate met again in a later batch
    expires = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    people = api.upload("people", "people.csv", people_csv([
        ["wangwei", "王伟二", "inspector", "EDZ", "", "", ""],                          # row 8
        ["xinren", "新人", "inspector", "EDZ", "JS-3210-1003", expires, "safety"],      # row 9
        ["xinren2", "新人二", "inspector", "EDZ", "JS-3210-1099", expires, "safety"]]),  # row 10
        initial_password=INITIAL_PASSWORD)
    assert counts(people) == {"create": 7, "update": 0, "unchanged": 0, "refused": 2}
    refused = {r["row"]: r["issues"][0] for r in api.rows(people, "refused")}
    assert {n: (i["column"], i["params"]["first"]) for n, i in refused.items()} == {
        8: ("username", 2), 9: ("certificate_no", 4)}
    api.apply(people)
    assert table_counts(fresh)["users"] == 1 + 7 and keys_left() == 0

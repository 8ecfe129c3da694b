"""Exports as a supervisor opens them: CSV that Excel reads as Chinese (UTF-8 with BOM), GeoJSON a
map reads, the queue's filters applied, other parks' rows absent, refusals in words, streamed."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Site, Visit
from server.services.exports import COLUMNS, WORDS_ZH
from tests.findings_helpers import Desk, finding_at, load_reference, update_row

TZ = ZoneInfo("Asia/Shanghai")
EXPORTS = "/api/exports"


@pytest.fixture
def world(app, client, auth):
    """EDZ: an order running on a management finding, a case on an enforcement one, a service one
    whose note would be a formula in Excel, one found 40 days ago; CHEM: one finding."""
    w = load_reference(app)
    desk = Desk(client, auth)
    edz, chem = w["sites"]["EDZ"], w["sites"]["CHEM"]
    f = {
        "wiring": finding_at(app, edz[0], "FIRE-ELEC-WIRING", severity="general"),
        "pipe": finding_at(app, edz[1], "ENV-HIDDEN-PIPE", severity="general", intentional=True),
        "carwash": finding_at(app, edz[2], "CITY-CARWASH", corrected_on_spot=True, note="=HYPERLINK(\"x\")"),
        "old": finding_at(app, edz[0], "CON-ACCEPT-DOCS",
                          when=dt.datetime.now(TZ) - dt.timedelta(days=40)),
        "chem": finding_at(app, chem[0], "FIRE-ELEC-WIRING", severity="general"),
    }
    desk.ok("sup1", f["wiring"], "confirm-tier")
    w["order"] = desk.ok("sup1", f["wiring"], "issue-order")["order"]
    desk.ok("sup1", f["pipe"], "confirm-tier")
    desk.ok("sup1", f["pipe"], "file-case", {"investigator_ids": [w["users"]["insp1"], w["users"]["insp2"]]})
    desk.ok("sup_chem", f["chem"], "confirm-tier")
    desk.ok("sup_chem", f["chem"], "issue-order")
    w["f"] = {k: str(v) for k, v in f.items()}
    return w


def read_csv(resp) -> list[list[str]]:
    body = resp.get_data()
    assert body.startswith(codecs.BOM_UTF8), body[:10]  # Excel's cue that this is UTF-8
    return list(csv.reader(io.StringIO(body[len(codecs.BOM_UTF8):].decode("utf-8"))))


def as_dicts(rows: list[list[str]]) -> list[dict]:
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def queue_ids(client, auth, user: str, query: str = "") -> list[str]:
    r = client.get(f"/api/findings?limit=200{query}", headers=auth.headers(user))
    assert r.status_code == 200, r.get_json()
    return [row["id"] for row in r.get_json()["items"]]


def test_findings_csv_opens_in_chinese_in_the_queues_order_for_the_callers_parks(client, auth, world):
    r = client.get(f"{EXPORTS}/findings.csv", headers=auth.headers("sup1"))
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    today = dt.datetime.now(TZ).date().isoformat()
    assert r.headers["Content-Disposition"] == f'attachment; filename="fieldcheck-findings-{today}.csv"'
    assert r.headers["Cache-Control"] == "no-store"
    rows = read_csv(r)
    assert rows[0] == [c.zh for c in COLUMNS["findings"]]
    assert rows[0][:3] == ["问题编号", "发现时间", "园区代码"]
    found = as_dicts(rows)
    # Exactly the supervisor's queue, in its order: EDZ's four, never CHEM's.
    assert [x["问题编号"] for x in found] == queue_ids(client, auth, "sup1")
    assert {x["问题编号"] for x in found} == {world["f"][k] for k in ("wiring", "pipe", "carwash", "old")}
    assert {x["园区"] for x in found} == {"经济开发区"}
    wiring = next(x for x in found if x["问题编号"] == world["f"]["wiring"])
    assert wiring["企业名称"] == "仪征市恒达机械有限公司"  # the Chinese intact
    assert wiring["统一社会信用代码"] == "91321081MA1XK4LL3A"
    assert wiring["领域"] == "消防" and wiring["最终分层"] == "管理" and wiring["状态"] == "责令改正中"
    assert wiring["下一期限"] == world["order"]["deadline"]
    assert wiring["违法行为编码"] == "FIRE-ELEC-WIRING" and wiring["违法行为"]
    assert dt.datetime.strptime(wiring["发现时间"], "%Y-%m-%d %H:%M:%S")  # local time, as Excel reads it
    assert float(wiring["经度"]) == pytest.approx(119.160) and float(wiring["纬度"]) == pytest.approx(32.260)
    # A note Excel would run as a formula is text.
    carwash = next(x for x in found if x["问题编号"] == world["f"]["carwash"])
    assert carwash["备注"] == "'=HYPERLINK(\"x\")"
    # An admin's export has every park; lang=en gives the keys and the stored codes.
    en = as_dicts(read_csv(client.get(f"{EXPORTS}/findings.csv?lang=en", headers=auth.headers("admin1"))))
    assert [x["id"] for x in en] == queue_ids(client, auth, "admin1")
    assert len(en) == 5 and {x["park_code"] for x in en} == {"EDZ", "CHEM"}
    wiring_en = next(x for x in en if x["id"] == world["f"]["wiring"])
    assert (wiring_en["domain"], wiring_en["final_tier"], wiring_en["status"]) == ("fire", "management", "order_issued")
    assert wiring_en["enterprise"] == "仪征市恒达机械有限公司"
    assert wiring_en["legal_review_pending"] in ("true", "false")


def test_findings_csv_applies_the_queues_filters(client, auth, world):
    for query in ("?tier=enforcement", "?domain=fire", "?status=order_issued", "?overdue=false",
                  f"?enterprise={world['sites']['EDZ'][0]}", f"?park={world['parks']['EDZ']}&tier=management"):
        got = as_dicts(read_csv(client.get(f"{EXPORTS}/findings.csv{query}&lang=en", headers=auth.headers("admin1"))))
        expected = queue_ids(client, auth, "admin1", "&" + query[1:])
        assert [x["id"] for x in got] == expected, query
        assert len(expected) < 5, query  # the filter narrowed something


def test_period_and_the_other_exports(client, auth, world):
    sup = auth.headers("sup1")
    today = dt.datetime.now(TZ).date()
    # The period: by the day found, in the bureau's time zone.
    recent = as_dicts(read_csv(client.get(
        f"{EXPORTS}/findings.csv?lang=en&from={(today - dt.timedelta(days=7)).isoformat()}", headers=sup)))
    assert {x["id"] for x in recent} == {world["f"][k] for k in ("wiring", "pipe", "carwash")}
    old = as_dicts(read_csv(client.get(
        f"{EXPORTS}/findings.csv?lang=en&to={(today - dt.timedelta(days=30)).isoformat()}", headers=sup)))
    assert [x["id"] for x in old] == [world["f"]["old"]]
    # Orders and cases: EDZ's only for sup1 (CHEM has an order too).
    orders = as_dicts(read_csv(client.get(f"{EXPORTS}/orders.csv", headers=sup)))
    assert [(o["文书编号"], o["问题编号"], o["状态"]) for o in orders] == [
        (world["order"]["number"], world["f"]["wiring"], WORDS_ZH["order_status"]["open"])]
    assert orders[0]["下达人"] == "sup1" and orders[0]["企业名称"] == "仪征市恒达机械有限公司"
    assert len(as_dicts(read_csv(client.get(f"{EXPORTS}/orders.csv", headers=auth.headers("admin1"))))) == 2
    assert as_dicts(read_csv(client.get(f"{EXPORTS}/orders.csv?tier=enforcement", headers=sup))) == []
    cases = as_dicts(read_csv(client.get(f"{EXPORTS}/cases.csv?lang=en", headers=sup)))
    assert [(c["finding_id"], c["status"]) for c in cases] == [(world["f"]["pipe"], "filed")]
    assert cases[0]["number"]
    # Visits: EDZ's four (one per finding), the kind and period filters applied.
    visits = as_dicts(read_csv(client.get(f"{EXPORTS}/visits.csv?lang=en", headers=sup)))
    assert len(visits) == 4 and {v["park_code"] for v in visits} == {"EDZ"}
    assert all(v["findings"] == "1" and v["kind"] == "routine" for v in visits)
    assert as_dicts(read_csv(client.get(f"{EXPORTS}/visits.csv?kind=random", headers=sup))) == []
    one = as_dicts(read_csv(client.get(
        f"{EXPORTS}/visits.csv?lang=en&from={(today - dt.timedelta(days=60)).isoformat()}"
        f"&to={(today - dt.timedelta(days=30)).isoformat()}", headers=sup)))
    assert len(one) == 1
    zh = read_csv(client.get(f"{EXPORTS}/visits.csv", headers=sup))
    assert zh[0] == [c.zh for c in COLUMNS["visits"]] and {r[zh[0].index("检查类型")] for r in zh[1:]} == {"日常检查"}


def test_geojson_is_a_feature_collection_of_the_sites_points(app, client, auth, world):
    with app.app_context():
        points = {sid: (x, y) for sid, x, y in db.session.execute(
            sa.select(Site.id, sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom)))}
    for kind, n in (("findings", 4), ("orders", 1), ("cases", 1), ("visits", 4)):
        r = client.get(f"{EXPORTS}/{kind}.geojson", headers=auth.headers("sup1"))
        assert r.status_code == 200 and r.mimetype == "application/geo+json"
        assert r.headers["Content-Disposition"].endswith(f'.geojson"')
        doc = json.loads(r.get_data(as_text=True))
        assert doc["type"] == "FeatureCollection" and len(doc["features"]) == n, kind
        for feature in doc["features"]:
            assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
            props = feature["properties"]
            assert set(props) == {c.key for c in COLUMNS[kind] if c.kind != "geo"}
            assert props["park_code"] == "EDZ"
            assert feature["geometry"]["coordinates"] == pytest.approx(list(points[props["enterprise_id"]]))
    doc = client.get(f"{EXPORTS}/findings.geojson?tier=management", headers=auth.headers("sup1")).get_json()
    assert [f["properties"]["id"] for f in doc["features"]] == queue_ids(client, auth, "sup1", "&tier=management")
    wiring = next(f for f in doc["features"] if f["properties"]["id"] == world["f"]["wiring"])
    assert wiring["properties"]["final_tier"] == "management"
    assert dt.datetime.fromisoformat(wiring["properties"]["discovered_at"]).utcoffset() == dt.timedelta(hours=8)
    # Empty is still a valid collection.
    empty = client.get(f"{EXPORTS}/cases.geojson?domain=market", headers=auth.headers("sup1")).get_json()
    assert empty == {"type": "FeatureCollection", "features": []}


def test_refusals_are_4xx_in_words(client, auth, world):
    sup = auth.headers("sup1")
    chem = world["parks"]["CHEM"]
    for path in ("findings.csv", "orders.geojson", "visits.csv"):
        r = client.get(f"{EXPORTS}/{path}?park={chem}", headers=sup)
        assert r.status_code == 403 and "not one you are assigned to" in r.get_json()["message"]
    r = client.get(f"{EXPORTS}/visits.csv?enterprise={world['sites']['CHEM'][0]}", headers=sup)
    assert r.status_code == 403
    assert client.get(f"{EXPORTS}/findings.csv?lang=fr", headers=sup).status_code == 422
    assert client.get(f"{EXPORTS}/findings.csv?tier=nope", headers=sup).status_code == 422
    assert client.get(f"{EXPORTS}/visits.csv?tier=service", headers=sup).status_code == 422  # not a visit's filter
    r = client.get(f"{EXPORTS}/cases.csv?from=2026-05-02&to=2026-05-01", headers=sup)
    assert r.status_code == 422 and "after" in json.dumps(r.get_json())
    assert client.get(f"{EXPORTS}/findings.csv?overdue=true&due_within=3", headers=sup).status_code == 422


def test_the_answer_is_streamed_in_chunks(app, client, auth, world, monkeypatch):
    from server.services import exports

    monkeypatch.setattr(exports, "CHUNK_BYTES", 200)
    monkeypatch.setattr(exports, "YIELD_PER", 2)
    r = client.get(f"{EXPORTS}/findings.csv", headers=auth.headers("admin1"), buffered=False)
    assert r.is_streamed
    chunks = list(r.response)
    assert len(chunks) > 2  # handed over as it is read, not built whole first
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(rows) == 6
    r.close()

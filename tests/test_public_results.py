"""The public results of random inspections (双随机一公开), as a citizen reads them without logging in:
visits a random draw put on the plan appear with their result; other visits, other parks' and
anything personal do not; the period filter works; the page shows the same."""
from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from server.extensions import db
from server.models import CheckResult, ChecklistItem, ChecklistTemplate, Draw, Finding, Plan, PlanStop, Site, Visit
from server.models.types import utcnow
from server.services.public_results import months_before, result_of
from tests.findings_helpers import Desk, add_finding, load_reference, make_visit, update_row

TZ = ZoneInfo("Asia/Shanghai")
PHONE = "13912345678"
CONTACT = "张联系人"
NOTE = "现场负责人李四电话13800138000"


def _ago(days: int) -> dt.datetime:
    return dt.datetime.combine(dt.datetime.now(TZ).date() - dt.timedelta(days=days), dt.time(10, 0), TZ)


@pytest.fixture
def world(app, client, auth):
    w = load_reference(app)
    desk = Desk(client, auth)
    edz, chem = w["sites"]["EDZ"], w["sites"]["CHEM"]
    with app.app_context():
        for sid in edz + chem:
            site = db.session.get(Site, sid)
            site.contact_name, site.contact_phone, site.address = CONTACT, PHONE, "仪征市某某路1号"
        template = ChecklistTemplate(code="T-FIRE", domain="fire", name_zh="消防安全检查表", name_en="Fire safety checklist",
                                     status="published")
        template.items = [ChecklistItem(code="F1", position=1, domain="fire", text_zh="疏散通道畅通", text_en="Exits clear"),
                          ChecklistItem(code="F2", position=2, domain="safety", text_zh="特种作业持证",
                                        text_en="Special work certified")]
        db.session.add(template)
        today = dt.datetime.now(TZ).date()
        draw = Draw(subject="sites", seed="s" * 64, seed_sha256="0" * 64, pool=edz + chem, count=len(edz + chem),
                    drawn=edz + chem, drawn_at=utcnow(), frozen_at=utcnow(), visible_from=today - dt.timedelta(days=200),
                    visit_by=today, pool_filter={"park_ids": [w["parks"]["EDZ"], w["parks"]["CHEM"]]})
        plan = Plan(day=today - dt.timedelta(days=1), status="published")
        db.session.add_all([draw, plan])
        db.session.commit()
        w["draw"], w["plan"], w["template"] = draw.id, plan.id, template.id

    def visit(site, days_ago, drawn=True, kind="random", on_plan=True):
        vid = make_visit(app, site, _ago(days_ago), kind=kind)
        with app.app_context():
            v = db.session.get(Visit, vid)
            v.checklist_template_id = w["template"]
            v.results = [CheckResult(item_code="F1", outcome="pass"), CheckResult(item_code="F2", outcome="pass")]
            if on_plan:
                db.session.add(PlanStop(plan_id=w["plan"], site_id=site, kind=kind, status="visited", visit_id=vid,
                                        draw_id=w["draw"] if drawn else None))
            db.session.commit()
        return vid

    v = {
        "clean": visit(edz[0], 10),
        "rectified": visit(edz[1], 20),
        "order": visit(edz[2], 5),
        "case": visit(edz[1], 15),
        "old": visit(edz[0], 120),
        "routine": visit(edz[2], 3, drawn=False, kind="routine"),  # a plan stop of no draw
        "off_plan": visit(edz[0], 4, on_plan=False),  # kind random, but no draw put it there
        "chem": visit(chem[0], 6),
    }
    carwash = add_finding(app, v["rectified"], "CITY-CARWASH", corrected_on_spot=True, note=NOTE)
    update_row(app, Finding, carwash, status="closed")
    wiring = add_finding(app, v["order"], "FIRE-ELEC-WIRING", severity="general", note=NOTE)
    desk.ok("sup1", wiring, "confirm-tier")
    desk.ok("sup1", wiring, "issue-order")
    pipe = add_finding(app, v["case"], "ENV-HIDDEN-PIPE", severity="general", intentional=True)
    desk.ok("sup1", pipe, "confirm-tier")
    desk.ok("sup1", pipe, "file-case", {"investigator_ids": [w["users"]["insp1"], w["users"]["insp2"]]})
    w["v"] = v
    return w


def results(client, code="EDZ", query=""):
    r = client.get(f"/api/public/parks/{code}/results{query}")
    assert r.status_code == 200, r.get_json()
    return r


def test_random_inspections_appear_with_their_result_and_nothing_else(client, world):
    today = dt.datetime.now(TZ).date()
    r = results(client)
    body = r.get_json()
    assert body["park"] == {"code": "EDZ", "name_zh": "经济开发区", "name_en": "Economic Development Zone"}
    assert body["from"] == months_before(today, 3).isoformat() and body["to"] == today.isoformat()
    items = body["items"]
    # Newest first: the order (5 days ago), the clean one (10), the case (15), the rectified one (20).
    # Not the routine stop, not the random-kind visit no draw put there, not 120 days ago, not CHEM's.
    assert [(i["date"], i["result"]) for i in items] == [
        ((today - dt.timedelta(days=5)).isoformat(), "order"), ((today - dt.timedelta(days=10)).isoformat(), "no_problem"),
        ((today - dt.timedelta(days=15)).isoformat(), "case"), ((today - dt.timedelta(days=20)).isoformat(), "rectified")]
    clean = items[1]
    assert clean["enterprise"] == "仪征市恒达机械有限公司"
    assert clean["checklist"] == {"zh": "消防安全检查表", "en": "Fire safety checklist"}
    assert [i["zh"] for i in clean["items"]] == ["疏散通道畅通", "特种作业持证"]
    assert clean["domains"] == ["fire", "safety"]
    assert clean["result_name"] == {"zh": "未发现问题", "en": "No problems found"}
    assert items[2]["domains"] == ["environment", "fire", "safety"]  # the finding's field of law too
    assert {i["result_name"]["zh"] for i in items} == {"责令限期改正", "未发现问题", "立案查处", "发现问题，已整改"}
    # No personal data: no contact, phone, address, credit code, note, inspector, visit id, position.
    text = r.get_data(as_text=True)
    for secret in (PHONE, CONTACT, "13800138000", "李四", "某某路", "91321081MA1XK4LL3A", "insp1", "insp2",
                   str(world["v"]["clean"]), "119.16"):
        assert secret not in text, secret
    assert all(set(i) == {"date", "enterprise", "domains", "domain_names", "checklist", "items", "result",
                          "result_name"} for i in items)
    # Another park's page has its own only.
    chem = results(client, "CHEM").get_json()["items"]
    assert [i["enterprise"] for i in chem] == ["仪征市华瑞化工有限公司"]


def test_the_period_filter_and_its_refusals(client, world):
    today = dt.datetime.now(TZ).date()
    day = lambda n: (today - dt.timedelta(days=n)).isoformat()  # noqa: E731
    got = results(client, query=f"?from={day(200)}&to={day(100)}").get_json()
    assert [(i["date"], i["result"]) for i in got["items"]] == [(day(120), "no_problem")]
    got = results(client, query=f"?from={day(12)}&to={day(8)}").get_json()
    assert [i["date"] for i in got["items"]] == [day(10)]
    got = results(client, query=f"?to={day(11)}").get_json()  # from: three months before `to`
    assert [i["date"] for i in got["items"]] == [day(15), day(20)]
    r = client.get(f"/api/public/parks/EDZ/results?from={day(1)}&to={day(2)}")
    assert r.status_code == 422 and "after" in json.dumps(r.get_json())
    r = client.get(f"/api/public/parks/EDZ/results?from={day(400)}")
    assert r.status_code == 422 and "366" in r.get_json()["message"]
    assert client.get("/api/public/parks/EDZ/results?from=yesterday").status_code == 422
    assert client.get("/api/public/parks/EDZ/results?contact=1").status_code == 422
    assert client.get("/api/public/parks/NOPE/results").status_code == 404
    assert client.get("/api/public/parks/ED%00Z/results").status_code == 404
    assert client.get("/public/ED%00Z").status_code == 404


def test_officers_are_named_only_when_the_policy_says_so(client, auth, world):
    r = client.patch("/api/policy", headers=auth.headers("admin1"),
                     json={"values": {"public_results_show_inspectors": True}, "reason": "公示执法人员"})
    assert r.status_code == 200, r.get_json()
    items = results(client).get_json()["items"]
    assert items and all(i["inspectors"] == ["insp1"] for i in items)
    page = client.get("/public/EDZ").get_data(as_text=True)
    assert "执法人员" in page and "insp1" in page
    r = client.patch("/api/policy", headers=auth.headers("admin1"),
                     json={"values": {"public_results_show_inspectors": "yes"}, "reason": "r"})
    assert r.status_code == 422


def test_the_public_page_without_login(client, world):
    r = client.get("/public/EDZ")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]  # the app's CSP holds
    html = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "经济开发区 双随机抽查结果公示" in html
    for words in ("仪征市恒达机械有限公司", "未发现问题", "责令限期改正", "立案查处", "发现问题，已整改", "疏散通道畅通"):
        assert words in html, words
    assert html.count('class="result result-') == 4
    for secret in (PHONE, CONTACT, "13800138000", "insp1", "执法人员"):
        assert secret not in html, secret
    assert "<script" not in html and "style=" not in html  # nothing the CSP would block
    css = client.get("/public/static/public.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert client.get("/public/NOPE").status_code == 404
    bad = client.get("/public/EDZ?from=2026-05-02&to=2026-05-01")
    assert bad.status_code == 422 and "after" in bad.get_data(as_text=True)


@pytest.mark.parametrize("statuses,order,case,expected", [
    ([], False, False, "no_problem"), (["closed", "closed_no_penalty"], False, False, "rectified"),
    (["closed", "open"], False, False, "rectifying"), (["order_issued"], True, False, "order"),
    (["closed"], True, True, "case"),
])
def test_result_in_one_word(statuses, order, case, expected):
    assert result_of(statuses, order, case) == expected


def test_months_before_keeps_to_the_month():
    assert months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 1, 15), 3) == dt.date(2025, 10, 15)

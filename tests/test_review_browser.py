"""The desk screens in real Chromium against the real app, on both engines: the supervisor's
queue (filters, keyboard, urgency order), a finding's detail and its actions, a refusal told in
the API's words, the legal reviewer clearing a flagged finding, and the 721 dashboard's numbers
against the API's.

Findings are made through the one way in (server.services.findings.record_finding), so they
carry the classifier's real tier, rule, flags and deadlines. Set FIELDCHECK_SCREENSHOT_DIR to
keep desktop (1280x800) and tablet (820x1180) screenshots of the queue, a finding and the
dashboard.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.test_browser import browser, live_url, log_in  # noqa: F401  (fixtures)

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}
TZ = ZoneInfo("Asia/Shanghai")
TIMEOUT_MS = 15_000
WEEKDAYS = "日一二三四五六"
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOT_DIR")

pytestmark = pytest.mark.browser


# --- the world's findings -------------------------------------------------------------------

# name: (site, days ago, violation code, facts, visit's geofence)
FINDINGS = {
    # management T4: a supervisor confirms it and issues an order
    "wiring": ("仪征市恒达机械有限公司", 2, "FIRE-ELEC-WIRING", {"severity": "general"}, "on_site"),
    # enforcement X1 flagged for statutory minor review: the legal reviewer's
    "label": ("仪征市江海包装有限公司", 3, "ENV-HW-LABEL", {"severity": "minor", "corrected_on_spot": True}, "on_site"),
    # service T2, no clock
    "carwash": ("扬州润泽电子科技有限公司", 1, "CITY-CARWASH", {"severity": "minor", "corrected_on_spot": True}, "on_site"),
    # management X2, correction period long past: the queue's first row, overdue
    "docs": ("仪征市恒达机械有限公司", 40, "CON-ACCEPT-DOCS", {"severity": "minor"}, "on_site"),
    # enforcement E3, found on a visit judged off site
    "pipe": ("扬州润泽电子科技有限公司", 5, "ENV-HIDDEN-PIPE", {"severity": "general", "intentional": True}, "off_site"),
    # another park's: never in sup1's queue
    "chem": ("仪征市华瑞化工有限公司", 4, "FIRE-EXIT-BLOCKED", {"severity": "minor"}, "on_site"),
}
EDZ = {"wiring", "label", "carwash", "docs", "pipe"}


def record(findings: dict) -> dict[str, str]:
    """Each finding on a visit of its own, through the intake service (inside an app context)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from server.extensions import db
    from server.models import Site, User, Visit
    from server.services.findings import record_finding

    users = {u.username: u for u in db.session.execute(sa.select(User)).scalars()}
    sites = {s.name: s for s in db.session.execute(sa.select(Site)).scalars()}
    today = dt.datetime.now(TZ).date()
    ids = {}
    for name, (site_name, days_ago, code, facts, geofence) in findings.items():
        site = sites[site_name]
        here = db.session.execute(sa.select(sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom))
                                  .where(Site.id == site.id)).one()
        inspector = users["insp_chem" if site.park_id != users["insp1"].parks[0].id else "insp1"]
        started = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(9, 30), TZ)
        offset = 0.02 if geofence == "off_site" else 0.0002  # degrees east of the site
        visit = Visit(id=uuid.uuid4(), site_id=site.id, kind="routine", recorded_by=inspector.id,
                      started_at=started, finished_at=started + dt.timedelta(minutes=25),
                      certificates_shown=True, fix=from_shape(Point(here[0] + offset, here[1]), srid=4326),
                      fix_accuracy_m=8.0, distance_m=offset * 94_000, geofence=geofence,
                      content_hash=hashlib.sha256(str(name).encode()).hexdigest(), payload={})
        db.session.add(visit)
        db.session.flush()
        finding = record_finding(visit, {"id": str(uuid.uuid4()), "violation_code": code, **facts}, inspector.id)
        ids[name] = str(finding.id)
    return ids


@pytest.fixture
def seeded(app, client, shared_fixtures) -> dict[str, str]:
    """The findings above, through the intake service, and one photo of the wiring, uploaded
    as the phone does."""
    from server.extensions import db
    from server.services import calendar, catalogue, policy

    with app.app_context():
        catalogue.load_bundled(record_audit=False)
        calendar.load_bundled(record_audit=False)
        policy.current()
        ids = record(FINDINGS)
        db.session.commit()

    photo = (shared_fixtures / "photos" / "gps" / "DSCN0010.jpg").read_bytes()
    token = client.post("/api/auth/token", json={"username": "insp1", "password": "test-password-1"}).get_json()["token"]
    r = client.put(f"/api/photos/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"},
                   content_type="multipart/form-data", data={
                       "file": (io.BytesIO(photo), "wiring.jpg", "image/jpeg"),
                       "finding_id": ids["wiring"], "sha256": hashlib.sha256(photo).hexdigest(),
                       "captured_at": dt.datetime.now(TZ).isoformat(), "purpose": "finding"})
    assert r.status_code == 201, r.get_json()
    return ids


def finding_row(app, finding_id: str):
    from server.extensions import db
    from server.models import Finding

    with app.app_context():
        f = db.session.get(Finding, uuid.UUID(finding_id))
        db.session.expunge(f)
        return f


def zh_day(day: dt.date) -> str:
    """The app's zh-CN date: 11月26日 周四."""
    return f"{day.month}月{day.day}日 周{WEEKDAYS[(day.weekday() + 1) % 7]}"


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture
def desk(browser, live_url):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    ctx = browser.new_context(base_url=live_url, viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai",
                              service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    pg.on("console", lambda msg: print("CONSOLE", msg.type, msg.text))
    pg.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield pg
    ctx.close()
    assert not problems, problems


def shoot(page, name: str) -> None:
    """Desktop and tablet screenshots, when asked for (they are looked at, never committed)."""
    if not SHOTS:
        return
    out = Path(SHOTS)
    out.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("tablet", TABLET)):
        page.set_viewport_size(size)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(400)
        page.screenshot(path=str(out / f"{name}-{label}.png"), full_page=label == "tablet")
    page.set_viewport_size(DESKTOP)


def row_ids(page) -> list[str]:
    return page.locator("#queue-rows tr.finding-row").evaluate_all("rows => rows.map(r => r.dataset.findingId)")


def api_ids(client, auth, user: str, query: str = "") -> list[str]:
    r = client.get(f"/api/findings{query}", headers=auth.headers(user))
    assert r.status_code == 200, r.get_json()
    return [row["id"] for row in r.get_json()["items"]]


def test_supervisor_queue_order_filters_and_keyboard(desk, app, client, auth, seeded):
    from playwright.sync_api import expect

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    # A supervisor starts on the queue, in the server's urgency order, own park only.
    expect(page).to_have_url(re.compile(r"#/queue$"))
    rows = page.locator("#queue-rows tr.finding-row")
    expect(rows).to_have_count(len(EDZ))
    assert row_ids(page) == api_ids(client, auth, "sup1")
    assert set(row_ids(page)) == {seeded[n] for n in EDZ}
    # The expired clock first, marked in words, not only in colour.
    first = rows.first
    expect(first).to_have_attribute("data-finding-id", seeded["docs"])
    expect(first).to_have_class(re.compile(r"\boverdue\b"))
    expect(first.locator(".clock-words")).to_have_text(re.compile(r"^已逾期 \d+ 天$"))
    # Each tier with its word and rule id; the flags and the off-site visit in words.
    wiring = page.locator(f'tr[data-finding-id="{seeded["wiring"]}"]')
    expect(wiring.locator(".tier")).to_have_text("管理 · T4")
    expect(wiring.locator("img.thumb")).to_have_count(1)
    expect(wiring.locator("img.thumb")).to_have_attribute("src", re.compile(r"^blob:"))
    label = page.locator(f'tr[data-finding-id="{seeded["label"]}"]')
    expect(label.locator(".tier")).to_have_text("执法 · X1")
    expect(label.locator(".flag")).to_have_text(["待法制审核（轻微）"])
    expect(page.locator(f'tr[data-finding-id="{seeded["pipe"]}"] .flag-off_site')).to_have_text("不在现场")
    expect(page.locator(f'tr[data-finding-id="{seeded["carwash"]}"] .clock')).to_have_text("无期限")
    shoot(page, "queue")

    # A filter narrows the rows to what the API answers for it, and is remembered.
    page.select_option("#f-tier", "enforcement")
    expect(rows).to_have_count(2)
    assert row_ids(page) == api_ids(client, auth, "sup1", "?tier=enforcement")
    assert set(row_ids(page)) == {seeded["label"], seeded["pipe"]}
    page.check("#f-flagged")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-finding-id", seeded["label"])
    page.reload()
    expect(page.locator("#f-tier")).to_have_value("enforcement")
    expect(page.locator("#f-flagged")).to_be_checked()
    expect(rows).to_have_count(1)
    page.uncheck("#f-flagged")
    page.select_option("#f-tier", "")
    page.select_option("#f-clock", "overdue")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-finding-id", seeded["docs"])
    page.click("#f-clear")
    expect(rows).to_have_count(len(EDZ))

    # The keyboard: "/" to the filters, j/k to move, Enter to open.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.locator("#f-tier")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    expect(rows.nth(1)).to_have_attribute("aria-selected", "false")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/finding/{seeded['docs']}$"))
    expect(page.locator("#finding-title")).to_have_text("仪征市恒达机械有限公司")
    expect(page.locator("#rule-explanation")).to_contain_text("X2")
    # Back in the queue, the row opened is the one selected.
    page.click(".back")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    # The park map is one tab away, and its screen leads back to the desk screens.
    page.click('a.desk-tab[href="#/home"]')
    expect(page.locator("#desk-links a")).to_have_text(["待办队列", "721 统计"])
    page.click('#desk-links a[href="#/queue"]')
    expect(rows).to_have_count(len(EDZ))
    # English on a click, the tiers and clocks too.
    page.click("#lang-switch")
    expect(page.locator(".desk-head h2")).to_have_text("Findings queue")
    expect(wiring.locator(".tier")).to_have_text("Management · T4")
    expect(first.locator(".clock-words")).to_have_text(re.compile(r"^\d+ days overdue$"))
    expect(page.locator(f'tr[data-finding-id="{seeded["carwash"]}"] .clock')).to_have_text("No deadline")
    shoot(page, "queue-en")
    page.click(f'tr[data-finding-id="{seeded["wiring"]}"] a.enterprise')
    expect(page.locator("#rule-explanation")).to_contain_text("T4")
    shoot(page, "detail-en")


def test_supervisor_confirms_and_issues_an_order(desk, app, seeded):
    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import Order

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    expect(page.locator("#queue-rows tr.finding-row")).to_have_count(len(EDZ))
    page.goto(f"/#/finding/{seeded['wiring']}")
    expect(page.locator("#finding-status")).to_have_text("待审核")
    # Only what the finding admits now: the tier first, no order yet.
    actions = page.locator("#actions .action-buttons button")
    expect(actions).to_have_count(2)
    assert actions.evaluate_all("bs => bs.map(b => b.dataset.action)") == ["confirm-tier", "change-tier"]
    expect(page.locator("#photos img.thumb")).to_have_attribute("src", re.compile(r"^blob:"))
    expect(page.locator("#detail-map path.leaflet-interactive")).to_have_count(2)  # the site and the fix
    expect(page.locator("#timeline .history-entry").first).to_contain_text("发现问题并自动分层")
    shoot(page, "detail")

    page.click('#actions button[data-action="confirm-tier"]')
    page.click("#action-submit")
    expect(page.locator("#finding-status")).to_have_text("待处理")
    expect(page.locator("#detail-status")).to_contain_text("已办理")
    assert finding_row(app, seeded["wiring"]).status == "open"

    page.click('#actions button[data-action="issue-order"]')
    page.fill("#action-form textarea", "线路老化，限期更换")
    page.click("#action-submit")
    expect(page.locator("#finding-status")).to_have_text("责令改正中")
    f = finding_row(app, seeded["wiring"])
    with app.app_context():
        order = db.session.execute(sa.select(Order).where(Order.finding_id == f.id)).scalar_one()
        number, deadline = order.number, order.deadline
    assert f.status == "order_issued" and f.next_deadline == deadline
    left = (deadline - dt.datetime.now(TZ).date()).days
    expect(page.locator("#finding-deadline .clock-day")).to_have_text(zh_day(deadline))
    expect(page.locator("#finding-deadline .clock-words")).to_have_text(f"还剩 {left} 天" if left != 1 else "还剩 1 天")
    expect(page.locator(f'#records [data-order="{number}"]')).to_contain_text("执行中")
    # The notice as PDF: the button fetches it with the token and hands it over as a file.
    with page.expect_download() as got:
        page.click(f'#records [data-order="{number}"] button.doc-pdf')
    assert got.value.suggested_filename == f"责令限期整改通知书{number}.pdf"
    with open(got.value.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    expect(page.locator("#timeline")).to_contain_text("下达责令改正通知书")
    expect(page.locator("#timeline")).to_contain_text("线路老化，限期更换")
    # The next steps follow the state: the commitment letter and the re-inspection.
    assert page.locator("#actions .action-buttons button").evaluate_all("bs => bs.map(b => b.dataset.action)") == [
        "record-commitment", "record-reinspection"]
    # And the queue shows the order's clock.
    page.click(".back")
    row = page.locator(f'tr[data-finding-id="{seeded["wiring"]}"]')
    expect(row.locator(".status")).to_have_text("责令改正中")
    expect(row.locator(".clock-day")).to_have_text(zh_day(deadline))


def test_refused_actions_show_the_api_reason(desk, app, client, auth, seeded):
    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import Case, User

    with app.app_context():
        officer = dict(db.session.execute(sa.select(User.username, User.id)).all())
    page = desk
    page.goto("/")
    log_in(page, "sup1")
    expect(page.locator("#queue-rows tr.finding-row")).to_have_count(len(EDZ))
    page.goto(f"/#/finding/{seeded['pipe']}")
    expect(page.locator("#finding-status")).to_have_text("待审核")
    # A downgrade without a written reason: the server refuses, and its reason is on screen.
    page.click('#actions button[data-action="change-tier"]')
    page.check('#action-form input[name="tier"][value="management"]')
    page.click("#action-submit")
    expected = client.post(f"/api/findings/{seeded['pipe']}/change-tier", json={"tier": "management"},
                           headers=auth.headers("sup1"))
    assert expected.status_code == 422
    message = expected.get_json()["message"]
    assert "reason" in message
    expect(page.locator("#action-error")).to_contain_text(f"未能办理：{message}")
    f = finding_row(app, seeded["pipe"])
    assert (f.final_tier, f.status) == ("enforcement", "awaiting_review")

    # The tier confirmed, a case needs two certified officers: auxiliary staff are refused, in words.
    page.click('#actions button[data-action="confirm-tier"]')
    page.click("#action-submit")
    expect(page.locator("#finding-status")).to_have_text("待处理")
    page.click('#actions button[data-action="file-case"]')
    page.fill("#action-form input[name=investigator1]", str(officer["insp1"]))
    page.fill("#action-form input[name=investigator2]", str(officer["aux1"]))
    page.click("#action-submit")
    expect(page.locator("#action-error")).to_contain_text("未能办理：two certified officers")
    expect(page.locator("#action-error")).to_contain_text("aux1 is auxiliary staff")
    shoot(page, "refused")
    assert finding_row(app, seeded["pipe"]).status == "open"
    page.fill("#action-form input[name=investigator2]", str(officer["insp2"]))
    page.click("#action-submit")
    expect(page.locator("#finding-status")).to_have_text("已立案")
    with app.app_context():
        case = db.session.execute(sa.select(Case)).scalar_one()
        number, due = case.number, case.decision_due
    expect(page.locator("#case h4")).to_contain_text(number)
    expect(page.locator("#case")).to_contain_text("insp1、insp2")
    expect(page.locator("#finding-deadline .clock-day")).to_have_text(zh_day(due))
    assert finding_row(app, seeded["pipe"]).next_deadline == due
    # What a case admits next: the notice first, never a decision before it.
    buttons = page.locator("#actions .action-buttons button").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert "case/notify" in buttons and "case/decide" not in buttons
    shoot(page, "case")


def test_legal_reviewer_clears_a_flagged_finding(desk, app, seeded):
    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import LegalReview

    page = desk
    page.goto("/")
    log_in(page, "legal1")
    expect(page).to_have_url(re.compile(r"#/legal$"))
    flagged = page.locator("#legal-flagged tr.finding-row")
    expect(flagged).to_have_count(1)
    expect(flagged.first).to_have_attribute("data-finding-id", seeded["label"])
    expect(page.locator("#legal-cases tr.empty")).to_have_count(1)
    # The evidence and the rule trace beside the list.
    flagged.first.click()
    expect(page.locator("#legal-pane #finding-title")).to_have_text("仪征市江海包装有限公司")
    expect(page.locator("#legal-pane #rule-explanation")).to_contain_text("X1")
    expect(page.locator("#legal-pane #inputs")).to_contain_text("当场改正")
    shoot(page, "legal")
    # A decision is chosen, never defaulted, and needs its reason.
    page.fill("#legal-reason", "x")
    page.click("#legal-submit")
    expect(page.locator("#legal-form #action-error")).to_have_text("请选择：结论")
    page.fill("#legal-reason", "")
    page.check("#legal-no_penalty")
    page.click("#legal-submit")
    expect(page.locator("#legal-form #action-error")).to_have_text("请填写：理由")
    page.fill("#legal-reason", "标识当场补齐，无危害，依法不予处罚")
    page.click("#legal-submit")
    expect(page.locator("#legal-status")).to_contain_text("已记录：仪征市江海包装有限公司，不予处罚")
    expect(flagged).to_have_count(0)
    with app.app_context():
        review = db.session.execute(sa.select(LegalReview)).scalar_one()
        assert (str(review.finding_id), review.outcome, review.reason) == (
            seeded["label"], "no_penalty", "标识当场补齐，无危害，依法不予处罚")
    f = finding_row(app, seeded["label"])
    assert (f.final_tier, f.status) == ("service", "open")


def test_dashboard_shows_the_mix_as_the_api_counts_it(desk, client, auth, seeded):
    from playwright.sync_api import expect

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    expect(page.locator("#queue-rows tr.finding-row")).to_have_count(len(EDZ))
    page.click('a.desk-tab[href="#/dashboard"]')
    for group_by in ("month", "park"):
        api = client.get(f"/api/stats/tiers?group_by={group_by}", headers=auth.headers("sup1")).get_json()
        table = page.locator(f"#mix-{group_by}")
        expect(table.locator("tbody tr")).to_have_count(len(api["groups"]))
        for group in api["groups"]:
            row = table.locator(f'tbody tr[data-key="{group["key"]}"]')
            expect(row).to_have_attribute("data-total", str(group["all"]["total"]))
            for tier, n in group["all"]["counts"].items():
                expect(row.locator(f'td[data-tier="{tier}"] .count')).to_have_text(str(n))
        # One bar per group, the target's boundaries drawn across.
        expect(page.locator(f"#dash-{group_by} svg .bar")).to_have_count(len(api["groups"]))
        expect(page.locator(f"#dash-{group_by} svg line.target")).to_have_count(2)
    api = client.get("/api/stats/tiers?group_by=month", headers=auth.headers("sup1")).get_json()
    assert api["all"]["total"] == len(EDZ)
    cards = page.locator("#dash-summary .mix-card")
    expect(cards).to_have_count(3)
    for section in ("all", "without_excluded", "excluded"):
        card = page.locator(f'#dash-summary [data-section="{section}"]')
        expect(card.locator(".big")).to_have_text(str(api[section]["total"]))
        share = api[section]["shares"]["enforcement"]
        if share is not None:
            expect(card.locator('[data-tier="enforcement"] strong')).to_have_text(f"{share:.1f}%")
    # The excluded domains alone, in the bars and the table.
    page.select_option("#dash-section", "excluded")
    month = api["groups"][-1]
    row = page.locator(f'#mix-month tbody tr[data-key="{month["key"]}"]')
    expect(row).to_have_attribute("data-total", str(month["excluded"]["total"]))
    shoot(page, "dashboard")


def test_queue_pages_on_with_more(desk, app, client, auth, seeded):
    from playwright.sync_api import expect

    from server.extensions import db

    # Sixty more, each with a deadline a day apart, to pass the first page of fifty.
    with app.app_context():
        record({f"more{i}": ("仪征市江海包装有限公司", 1 + i % 30, "FIRE-ELEC-WIRING", {"severity": "general"}, "on_site")
                for i in range(60)})
        db.session.commit()
    page = desk
    page.goto("/")
    log_in(page, "sup1")
    rows = page.locator("#queue-rows tr.finding-row")
    expect(rows).to_have_count(50)
    expect(page.locator("#queue-status")).to_have_text("已显示 50 条，还有更多")
    page.click("#queue-more")
    expect(rows).to_have_count(65)
    expect(page.locator("#queue-more")).to_be_hidden()
    expect(page.locator("#queue-status")).to_have_text("共 65 条")
    # Both pages together are the API's order, with nothing repeated or skipped.
    first = client.get("/api/findings?limit=50", headers=auth.headers("sup1")).get_json()
    second = client.get(f"/api/findings?limit=50&cursor={first['next_cursor']}", headers=auth.headers("sup1")).get_json()
    assert row_ids(page) == [r["id"] for r in first["items"] + second["items"]]
    # j walks on into the second page.
    page.locator("body").click(position={"x": 5, "y": 5})
    for _ in range(55):
        page.keyboard.press("j")
    expect(rows.nth(54)).to_have_attribute("aria-selected", "true")

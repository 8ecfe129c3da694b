"""The admin's screens in real Chromium against the real app (issue 8, parts 3 and 4): the
certificate banner on the landing, a park drawn by clicking its corners on the map, an enterprise
moved by dragging its marker, a checklist versioned and published, and a policy number changed
with its reason shown in the history. Each is checked in the database afterwards, not only on
the screen.

SpatiaLite only: the same APIs are walked on both engines by tests/test_admin_api.py, so a second
browser run on PostGIS would add a minute and test nothing new. Set FIELDCHECK_SCREENSHOT_DIR to
keep desktop screenshots of the screens.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.conftest import _watch_for_server_errors
from tests.sync_helpers import HENGDA, load_field_data, now_cst
from tests.test_browser import browser, log_in  # noqa: F401  (fixture)

DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 20_000
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOT_DIR")

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_site(sqlite_app):
    """The test world with the bundled checklists and catalogue, served on a free loopback port;
    insp1's certificate runs out in 10 days (inside the 30-day warning)."""
    from server.extensions import db
    from server.models import User

    errors = _watch_for_server_errors(sqlite_app)
    field = load_field_data(sqlite_app)
    with sqlite_app.app_context():
        # Counted from the bureau's day (Beijing), as the server counts it, whatever the UTC time.
        db.session.get(User, field["users"]["insp1"]).certificate_expires = now_cst().date() + dt.timedelta(days=10)
        db.session.commit()
    server = make_server("127.0.0.1", 0, sqlite_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"app": sqlite_app, "url": f"http://127.0.0.1:{server.server_port}", "field": field}
    server.shutdown()
    thread.join(timeout=10)
    assert not errors, f"the server answered 5xx: {errors}"


def _shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"admin-{name}.png"), full_page=False)


def test_the_admin_draws_a_park_moves_an_enterprise_versions_a_checklist_and_changes_the_policy(browser, admin_site):  # noqa: F811
    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import AuditEntry, ChecklistTemplate, Park, PolicyVersion, Site

    expect.set_options(timeout=TIMEOUT_MS)
    app = admin_site["app"]
    ctx = browser.new_context(base_url=admin_site["url"], viewport=DESKTOP, locale="zh-CN",
                              timezone_id="Asia/Shanghai", service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)

    # The landing warns about the certificate running out; the people screen lists it.
    page.goto("/")
    log_in(page, "admin1")
    expect(page.locator("#cert-banner")).to_contain_text("1 人将在 30 天内到期")
    page.click("#cert-banner a")
    expect(page.locator("#cert-warning-table")).to_contain_text("JS-3210-0001")
    expect(page.locator("#cert-warning-table .cert-expiring")).to_have_text("10 天后到期")
    _shot(page, "people")

    # A park drawn by clicking four corners on the map, then saved.
    page.goto("/#/parks")
    expect(page.locator("#park-list [data-code=EDZ]")).to_be_visible()
    page.click("#park-list [data-code=EDZ]")
    expect(page.locator("#park-site-table tbody tr")).to_have_count(3)  # the enterprises inside EDZ
    page.click("#park-new")
    page.fill("#park-code", "WEST")
    page.fill("#park-name-zh", "西区")
    page.fill("#park-name-en", "West Zone")
    page.locator("#park-map").scroll_into_view_if_needed()
    box = page.locator("#park-map").bounding_box()
    corners = [(0.10, 0.15), (0.30, 0.15), (0.30, 0.45), (0.10, 0.45)]
    for fx, fy in corners:
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    expect(page.locator("#park-hint")).to_contain_text("已 4 个")
    page.click("#park-save")
    expect(page.locator("#park-status")).to_contain_text("园区 WEST 已保存")
    expect(page.locator("#park-list [data-code=WEST]")).to_be_visible()
    _shot(page, "parks")
    with app.app_context():
        park = db.session.execute(sa.select(Park).where(Park.code == "WEST")).scalar_one()
        from geoalchemy2.shape import to_shape

        shape = to_shape(park.boundary)
        assert park.name_zh == "西区" and len(shape.geoms) == 1
        assert len(shape.geoms[0].exterior.coords) == 5 and shape.is_valid and shape.area > 0
        # Drawn west of EDZ's east edge, in the map's view around the two parks.
        assert 119.0 < shape.bounds[0] < shape.bounds[2] < 119.3 and 32.1 < shape.bounds[1] < shape.bounds[3] < 32.4
        assert db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "park.create",
                                                              AuditEntry.entity_id == str(park.id))).scalar()

    # An enterprise moved by dragging its marker, then saved; its history shows the move.
    site_id = admin_site["field"]["sites"][HENGDA]
    page.goto(f"/#/enterprises/{site_id}")
    pin = page.locator("#site-map .drag-pin")
    expect(pin).to_be_visible()
    expect(page.locator("#site-lon")).to_have_value("119.16")
    page.locator("#site-map").scroll_into_view_if_needed()
    pb = pin.bounding_box()
    x, y = pb["x"] + pb["width"] / 2, pb["y"] + pb["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y + 10, steps=8)
    page.mouse.move(x + 60, y + 20, steps=8)
    page.mouse.up()
    expect(page.locator("#site-status")).to_have_text("位置已改动，尚未保存")
    lon = float(page.input_value("#site-lon"))
    lat = float(page.input_value("#site-lat"))
    assert lon > 119.1602 and lat < 32.2599, (lon, lat)  # east and south, as dragged
    page.click("#site-save")
    expect(page.locator("#site-status")).to_contain_text("已保存")
    expect(page.locator("#site-changes")).to_contain_text("修改企业信息")
    _shot(page, "enterprise")
    with app.app_context():
        stored = db.session.execute(sa.select(sa.func.ST_X(Site.geom), sa.func.ST_Y(Site.geom))
                                    .where(Site.id == site_id)).one()
        assert stored == pytest.approx((lon, lat), abs=1e-6)
        move = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "site.update",
                                                              AuditEntry.entity_id == str(site_id))).scalar_one()
        assert move.summary["before"]["lon"] == pytest.approx(119.16) and move.summary["after"]["lon"] == pytest.approx(lon)

    # A checklist versioned: a new draft from version 1, an item edited, published.
    with app.app_context():
        v1 = db.session.execute(sa.select(ChecklistTemplate).where(ChecklistTemplate.code == "SAFETY")).scalar_one()
        v1_id, v1_first = v1.id, v1.items[0].text_zh
    page.goto("/#/checklists")
    page.click(f"#checklist-table tr[data-id='{v1_id}']")
    expect(page.locator("#checklist-new-version")).to_be_visible()
    page.click("#checklist-new-version")
    first = page.locator("#checklist-items .cl-item").first.locator(".item-text-zh")
    expect(first).to_have_value(v1_first)
    first.fill("主要负责人组织制定并实施安全生产教育和培训计划（2026 修订）")
    page.click("#checklist-publish")
    expect(page.locator("#checklist-status")).to_contain_text("已发布 SAFETY 第 2 版")
    expect(page.locator("#checklist-table")).to_contain_text("已停用")
    _shot(page, "checklists")
    with app.app_context():
        versions = {t.version: t for t in db.session.execute(
            sa.select(ChecklistTemplate).where(ChecklistTemplate.code == "SAFETY")).scalars()}
        assert versions[1].status == "retired" and versions[1].items[0].text_zh == v1_first
        assert versions[2].status == "published"
        assert versions[2].items[0].text_zh == "主要负责人组织制定并实施安全生产教育和培训计划（2026 修订）"
        assert [i.code for i in versions[2].items] == [i.code for i in versions[1].items]

    # A policy number changed with its reason; the history shows the reason and the change.
    page.goto("/#/policy")
    expect(page.locator("#policy-table tr[data-knob=geofence_radius_m] .knob-default")).to_have_text("150")
    page.fill("#knob-geofence_radius_m", "180")
    page.click("#policy-save")
    expect(page.locator("#policy-status")).to_have_text("请填写修改原因")  # no reason, no change
    page.fill("#policy-reason", "西区道路宽阔、定位漂移大，到场半径放宽到180米")
    page.click("#policy-save")
    newest = page.locator("#policy-history li").first
    expect(newest).to_contain_text("西区道路宽阔、定位漂移大，到场半径放宽到180米")
    expect(newest).to_contain_text("geofence_radius_m 150 → 180")
    expect(page.locator("#policy-table tr[data-knob=geofence_radius_m] .knob-current")).to_contain_text("180")
    _shot(page, "policy")
    with app.app_context():
        row = db.session.execute(sa.select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)).scalar_one()
        assert row.values["geofence_radius_m"] == 180 and row.reason.startswith("西区道路宽阔")
        entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "policy.change")
                                   .order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
        assert entry.summary["reason"] == row.reason and entry.summary["changes"]["geofence_radius_m"]["to"] == 180
        assert entry.actor_id == admin_site["field"]["users"]["admin1"]

    # The catalogue by day answers on the screen too.
    page.goto("/#/catalogue")
    expect(page.locator("#catalogue-count")).to_contain_text("有效的条目")
    expect(page.locator("#catalogue-table tbody tr").first).to_be_visible()
    assert not problems, problems
    ctx.close()

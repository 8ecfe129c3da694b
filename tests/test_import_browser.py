"""The admin's import screen in real Chromium against the real app, on both engines: choose
enterprises, a CSV with broken rows, see the dry run name each broken row (row, column,
reason in Chinese), apply, and see the imported count; the sites are then in the API.
Set FIELDCHECK_SCREENSHOT_DIR to keep a desktop screenshot of the report.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.import_helpers import enterprise_row
from tests.test_browser import browser, live_url, log_in  # noqa: F401  (fixtures)
from tests.test_review_browser import desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOT_DIR")


def enterprises_file(tmp_path: Path) -> Path:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["企业名称", "统一社会信用代码", "园区", "风险等级", "经度", "纬度"])
    for k in range(100, 112):
        r = enterprise_row(k)
        if k == 103:
            r[1] = r[1][:17] + ("0" if r[1][17] != "0" else "1")  # a wrong check character
        if k == 107:
            r[3] = "不存在园区"
        w.writerow([r[0], r[1], r[3], r[5], r[10], r[11]])
    path = tmp_path / "企业名录.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_admin_dry_runs_and_applies_an_enterprise_file(desk, app, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = desk
    page.goto("/")
    log_in(page, "admin1")
    page.locator(".desk-tab", has_text="导入数据").click()
    expect(page.locator("h2")).to_have_text("导入数据")
    expect(page.locator(".desk-tab[aria-current=page]")).to_have_text("导入数据")
    page.select_option("#imp-kind", "enterprises")
    page.set_input_files("#imp-file", str(enterprises_file(tmp_path)))
    expect(page.locator("#imp-apply")).to_be_disabled()
    page.click("#imp-check")
    expect(page.locator("#imp-counts")).to_have_text("新增 10，更新 0，不变 0，拒绝 2，提醒 0")
    rows = page.locator("#imp-rows tbody tr.row-refused")
    expect(rows).to_have_count(2)
    # spreadsheet lines: the header is line 1, the 4th enterprise is line 5
    first = rows.nth(0)
    expect(first).to_have_attribute("data-row", "5")
    expect(first.locator("td").nth(3)).to_have_text("统一社会信用代码")
    expect(first.locator("td").nth(4)).to_contain_text("校验位")
    second = rows.nth(1)
    expect(second).to_have_attribute("data-row", "9")
    expect(second.locator("td").nth(4)).to_contain_text("不存在园区")
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / "import-dry-run.png"), full_page=True)

    from server.extensions import db
    from server.models import Site

    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Site.id)).where(Site.name.like("测试企业%"))).scalar() == 0
    expect(page.locator("#imp-apply")).to_be_enabled()
    page.click("#imp-apply")
    expect(page.locator("#imp-status")).to_contain_text("已导入：新增 10")
    expect(page.locator("#imp-apply")).to_be_disabled()
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Site.id)).where(Site.name.like("测试企业%"))).scalar() == 10

    # the same file again, checked in the background as a large file is (202, then the screen
    # follows GET /api/imports/<id>): nothing would change
    app.config["IMPORT_INLINE_BYTES"] = 0
    page.click("#imp-check")
    expect(page.locator("#imp-counts")).to_have_text("新增 0，更新 0，不变 10，拒绝 2，提醒 0")


def test_the_import_tab_is_for_admins_only(desk):  # noqa: F811
    from playwright.sync_api import expect

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    expect(page.locator(".desk-tab").first).to_be_visible()
    expect(page.locator(".desk-tab", has_text="导入数据")).to_have_count(0)

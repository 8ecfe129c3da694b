"""Exports and the public results in real Chromium, on both engines: a supervisor downloads the
queue's CSV with the filters on screen, and a citizen opens the park's public results page."""
from __future__ import annotations

import codecs
import csv
import io
import re

import pytest

from tests.test_browser import browser, live_url, log_in  # noqa: F401  (fixtures)
from tests.test_public_results import world  # noqa: F401  (fixture: random inspections and their findings)
from tests.test_review_browser import desk  # noqa: F401  (fixture: a desktop page in zh-CN)

pytestmark = pytest.mark.browser


def test_supervisor_downloads_the_queue_as_csv_with_its_filters(desk, client, auth, world):  # noqa: F811
    from playwright.sync_api import expect

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    expect(page).to_have_url(re.compile(r"#/queue$"))
    expect(page.locator("#queue-rows tr.finding-row")).to_have_count(3)
    page.select_option("#f-tier", "management")
    expect(page.locator("#queue-rows tr.finding-row")).to_have_count(1)
    shown = page.locator("#queue-rows tr.finding-row").first.get_attribute("data-finding-id")
    with page.expect_download() as info:
        page.click("#queue-export-csv")
    download = info.value
    assert re.fullmatch(r"fieldcheck-findings-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    body = open(download.path(), "rb").read()
    assert body.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["问题编号", "发现时间", "园区代码"]
    assert [r[0] for r in rows[1:]] == [shown]  # the filter on screen applied
    assert "扬州润泽电子科技有限公司" in rows[1]
    expect(page.locator("#queue-export-status")).to_have_text(f"已下载 {download.suggested_filename}")
    # GeoJSON the same way.
    with page.expect_download() as info:
        page.click("#queue-export-geojson")
    assert info.value.suggested_filename.endswith(".geojson")


def test_the_public_page_shows_the_parks_random_inspections(desk, world):  # noqa: F811
    from playwright.sync_api import expect

    page = desk
    page.goto("/public/EDZ")
    expect(page.locator("h1")).to_have_text(re.compile("经济开发区 双随机抽查结果公示"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.locator(".outcome")).to_have_text([
        re.compile("^责令限期改正"), re.compile("^未发现问题"), re.compile("^立案查处"), re.compile("^发现问题，已整改")])
    expect(rows.nth(1).locator(".enterprise")).to_have_text("仪征市恒达机械有限公司")
    # The period form narrows it, without any script.
    page.fill("input[name=from]", "2000-01-01")
    page.fill("input[name=to]", "2000-03-01")
    page.click("form.period button")
    expect(page.locator("#empty")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/public/EDZ\?from=2000-01-01&to=2000-03-01$"))

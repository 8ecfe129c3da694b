"""The integration screens in real Chromium against the real app, on both engines: a phone
reports itself after its sync attempt and the supervisor's sync health shows a phone that needs
attention, in words; an admin registers a webhook, is shown its secret once, and sees a failed
delivery's last error, then sends it again."""
from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import sqlalchemy as sa

from tests.findings_helpers import finding_at, load_reference
from tests.test_browser import browser, live_url, log_in  # noqa: F401  (fixtures)
from tests.test_webhooks import Receiver

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOT_DIR")  # keep screenshots of both screens there

pytestmark = pytest.mark.browser


@pytest.fixture
def open_page(browser, live_url):  # noqa: F811
    """A fresh browser (its own IndexedDB) per user; fails the test on any page error."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    made, problems = [], []

    def make(viewport=DESKTOP):
        ctx = browser.new_context(base_url=live_url, viewport=viewport, locale="zh-CN", service_workers="allow")
        ctx.set_default_timeout(TIMEOUT_MS)
        made.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.goto("/")
        return page

    yield make
    for ctx in made:
        ctx.close()
    assert not problems, problems


def _device_of(app, username):
    from server.extensions import db
    from server.models import Device, User

    with app.app_context():
        return db.session.execute(sa.select(Device).join(User, User.id == Device.user_id)
                                  .where(User.username == username)).scalar()


def test_the_phone_reports_itself_and_the_supervisor_sees_who_needs_attention(app, client, auth, open_page):
    from playwright.sync_api import expect

    phone = open_page(PHONE)
    log_in(phone, "insp1")
    expect(phone.locator("#outbox-badge")).to_be_visible()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while _device_of(app, "insp1") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    device = _device_of(app, "insp1")
    assert device is not None, "the phone sent no report after its sync attempt"
    assert device.device_id.startswith("pwa-") and device.outbox_records == 0 and device.app_version.startswith("fc-shell-")
    assert device.last_sync_at is not None

    # Another inspector's phone: items waiting for two days, storage the browser may evict.
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=48)).isoformat()
    r = client.post("/api/devices/report", headers=auth.headers("insp2"), json={
        "device_id": "pwa-insp2-phone", "outbox_records": 3, "outbox_photos": 7, "oldest_item_at": old,
        "persisted": False, "quota_bytes": 2_000_000_000, "usage_bytes": 50_000_000, "app_version": "fc-shell-old"})
    assert r.status_code == 200

    desk = open_page()
    log_in(desk, "sup1")
    expect(desk.locator("nav.desk-nav a[href='#/health']")).to_have_text("同步状况")
    desk.click("nav.desk-nav a[href='#/health']")
    stuck = desk.locator("tr.health-row[data-username='insp2'][data-device='pwa-insp2-phone']")
    expect(stuck).to_have_attribute("data-attention", "true")
    expect(stuck.locator(".health-state")).to_contain_text("需要处理")
    expect(stuck.locator(".health-state")).to_contain_text("存储可能被浏览器清除")
    expect(stuck.locator(".health-state")).to_contain_text("待发送内容积压过久")
    expect(stuck).to_contain_text("记录 3 · 照片 7")
    # The test browser's own phone: its storage is persistent only if Chromium granted it.
    evictable = device.persisted is False
    expect(desk.locator("#health-status")).to_have_text(f"{1 + evictable} 名人员需要处理")
    mine = desk.locator(f"tr.health-row[data-username='insp1'][data-device='{device.device_id}']")
    expect(mine).to_have_attribute("data-attention", "true" if evictable else "false")
    if SHOTS:
        desk.screenshot(path=os.path.join(SHOTS, "sync-health.png"), full_page=True)
    # Only those needing attention, first.
    desk.check("#health-only")
    expect(desk.locator("tr.health-row")).to_have_count(1 + evictable)
    assert "insp2" in desk.locator("tr.health-row").evaluate_all("els => els.map(e => e.dataset.username)")
    assert desk.locator("tr.health-row[data-username='insp1'][data-attention='false']").count() == 0
    # Webhooks are an admin's: the supervisor has no tab for them.
    expect(desk.locator("nav.desk-nav a[href='#/webhooks']")).to_have_count(0)


def test_the_admin_registers_a_webhook_and_sees_a_failed_deliverys_last_error(app, open_page):
    from playwright.sync_api import expect

    from server.services.webhooks import deliver_due

    ref = load_reference(app)
    down = Receiver()  # bound, not listening: every connection is refused
    try:
        page = open_page()
        log_in(page, "admin1")
        page.click("nav.desk-nav a[href='#/webhooks']")
        expect(page.locator("#hooks-status")).to_have_text("还没有登记任何地址。")
        page.fill("#hook-url", "ftp://nowhere.example/")
        page.click("#hook-submit")
        expect(page.locator("#hook-error")).to_contain_text("http")  # refused by the browser or the server
        page.fill("#hook-url", down.url)
        expect(page.locator("#hook-events input[value='finding.created']")).to_be_checked()
        page.click("#hook-submit")
        expect(page.locator("#hook-secret-once")).to_have_text(lambda_len_at_least(32))
        row = page.locator("tr.hook-row")
        expect(row).to_have_count(1)
        expect(row.locator(".hook-url")).to_contain_text(down.url)

        finding_at(app, ref["sites"]["EDZ"][0], "FIRE-ELEC-WIRING", severity="general")
        with app.app_context():
            assert deliver_due()["not_delivered"] == 1
        page.reload()
        row = page.locator("tr.hook-row")
        expect(row.locator(".hook-error")).to_contain_text("connection refused")
        row.locator(".hook-show").click()
        delivery = page.locator("#hooks-deliveries tr.delivery-row")
        expect(delivery).to_have_count(1)
        expect(delivery).to_have_attribute("data-status", "pending")
        expect(delivery.locator(".delivery-status")).to_have_text("待发送")
        expect(delivery.locator(".delivery-error")).to_contain_text("connection refused")
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, "webhooks.png"), full_page=True)
        delivery.locator(".delivery-replay").click()
        expect(page.locator("#hooks-status")).to_have_text("已排队重新发送（投递编号不变）。")
    finally:
        down.close()


def lambda_len_at_least(n: int):
    import re

    return re.compile(r"^\S{%d,}$" % n)

"""Field capture in real Chromium through the real server, on both engines.

An inspector logs in online, loads today, goes offline, reloads (the app still opens from
the service worker), records a visit with two findings, photos and the party's signature,
sees it waiting in the outbox, comes back online and sees it acknowledged; the server then
holds each record exactly once, each photo's stored bytes match their hash, and the
preliminary tier the phone showed is the server's classification. The same with the network
cut in the middle of the sync (the answer of the sync or of a photo upload lost, a photo
upload aborted): after reconnecting, still exactly once.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from server.domain.geo import destination
from tests.conftest import need
from tests.world import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
HENGDA = "仪征市恒达机械有限公司"
HENGDA_POINT = (119.160, 32.260)
EDZ_SITES = 3

pytestmark = pytest.mark.browser
# FIELDCHECK_SCREENSHOTS=/some/dir saves phone-size screenshots of the screens as the test goes, to look at.
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOTS")


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    need(Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing (Debian package chromium), so the browser tests cannot run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def field_app(app):
    """The test world with what the field needs: the catalogue, the checklists, the calendar."""
    from server.extensions import db
    from server.services import calendar, catalogue
    from server.services.demo import _store_checklists

    with app.app_context():
        catalogue.load_bundled(record_audit=False)
        calendar.load_bundled(record_audit=False)
        _store_checklists()
        db.session.commit()
    # What reached the server (a request the browser could not send never does).
    arrived: list[str] = []
    app.extensions["arrived"] = arrived

    @app.before_request
    def _arrived():
        from flask import request

        if request.method in ("POST", "PUT"):
            arrived.append(f"{request.method} {request.path}")

    return app


@pytest.fixture
def live_url(field_app):
    server = make_server("127.0.0.1", 0, field_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    field_app.extensions["live_url"] = f"http://127.0.0.1:{server.server_port}"
    yield field_app.extensions["live_url"]
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def context(browser, live_url):
    # The phone stands 20 m from the plant's point with an 8 m fix.
    lon, lat = destination(*HENGDA_POINT, 45.0, 20.0)
    ctx = browser.new_context(base_url=live_url, viewport=PHONE, locale="zh-CN", service_workers="allow",
                              geolocation={"longitude": lon, "latitude": lat, "accuracy": 8},
                              permissions=["geolocation"])
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    pg.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield pg
    assert not problems, problems


@pytest.fixture
def photos(shared_fixtures) -> dict[str, Path]:
    return {"phone": shared_fixtures / "photos" / "mobile" / "jolla.jpg",  # 3264x2448: shrunk on the phone
            "rotated": shared_fixtures / "photos" / "orientation" / "landscape_6.jpg"}  # EXIF orientation 6


# --- steps -------------------------------------------------------------------------------------


def shot(page, name: str, full: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)


def open_checklist(page, code: str) -> None:
    details = page.locator(f'details[data-code="{code}"]')
    if details.get_attribute("open") is None:
        details.locator("> summary").click()


def log_in(page, username: str = "insp1") -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#today-link")).to_contain_text(f"今日 {EDZ_SITES} 个检查点，已可离线使用")


def under_service_worker(page) -> None:
    """The first load is not controlled by a new service worker: reload once (DESIGN.md)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def open_today(page) -> None:
    from playwright.sync_api import expect

    page.click("#today-link")
    expect(page.locator("#stops .stop")).to_have_count(EDZ_SITES)


def tap_outcome(page, item: str, outcome: str) -> None:
    page.click(f'[data-item="{item}"] [data-outcome="{outcome}"]')


def record_finding(page, item: str, code: str, severity: str, *, corrected: bool, photo: Path | None) -> None:
    from playwright.sync_api import expect

    page.click(f'[data-item="{item}"] .finding-link')
    expect(page.locator("#finding-item")).to_contain_text(item)
    # The catalogue filtered by the item's domain, then narrowed by the search box.
    page.fill("#violation-search", code.lower())
    page.click(f'#violations [data-code="{code}"]')
    expect(page.locator(f'#violations [data-code="{code}"]')).to_have_attribute("aria-pressed", "true")
    page.click(f'#severity [data-value="{severity}"]')
    if corrected:
        page.click('#circumstances [data-fact="corrected_on_spot"]')
    page.fill("#finding-note", f"{item} 现场记录")
    if photo is not None:
        page.set_input_files("#photo-input", str(photo))
        expect(page.locator("#photos .photo")).to_have_count(1)
    expect(page.locator("#prelim")).to_have_attribute("data-rule", re.compile(r"^[A-Z]\d$"))
    shot(page, f"finding-{item}")
    shot(page, f"finding-{item}-full", full=True)
    page.click("#finding-done")
    expect(page.locator("#visit-site")).to_be_visible()


def sign(page) -> None:
    from playwright.sync_api import expect

    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 30 + i * 20, box["y"] + box["height"] * (0.6 - 0.3 * (i % 2)))
    page.mouse.up()
    page.click("#sig-save")
    expect(page.locator("#signature-image")).to_be_visible()


def record_visit(page, photos: dict[str, Path]) -> dict:
    """At the plant: fix, officers, certificates, the checklist, two findings, the signature, finish.
    Answers the visit's id and the preliminary tier shown for each finding."""
    from playwright.sync_api import expect

    page.click(f'#stops .stop:has-text("{HENGDA}") a')
    expect(page.locator("#site-name")).to_have_text(HENGDA)
    shot(page, "site")
    page.click("#start-visit")
    expect(page.locator("#fix-status")).to_have_text("在现场 · 精度 8 米")
    visit_id = page.evaluate("location.hash").split("/")[2]

    # Two certified officers: a breach may lead to enforcement.
    insp2 = page.locator('#officers button.officer:has-text("insp2")')
    insp2.click()
    expect(insp2).to_have_attribute("aria-pressed", "true")
    page.click("#certs-shown")

    shot(page, "visit")
    open_checklist(page, "SAFETY")
    tap_outcome(page, "SAF-001", "pass")
    tap_outcome(page, "SAF-002", "na")
    tap_outcome(page, "SAF-012", "fail")
    # Undo takes back the last tap only.
    tap_outcome(page, "SAF-003", "fail")
    expect(page.locator("#undo")).to_have_text("撤销：检查结果")
    page.click("#undo")
    expect(page.locator('[data-item="SAF-003"] [aria-pressed="true"]')).to_have_count(0)
    expect(page.locator('[data-item="SAF-012"] [data-outcome="fail"]')).to_have_attribute("aria-pressed", "true")

    open_checklist(page, "FIRE")
    tap_outcome(page, "FIRE-001", "pass")
    tap_outcome(page, "FIRE-003", "fail")

    # Finishing now is refused with the reasons, in words.
    page.click("#finish-visit")
    expect(page.locator("#blockers")).to_contain_text("SAF-012 不合格：请填写问题")

    record_finding(page, "SAF-012", "SAF-EXIT-BLOCKED", "minor", corrected=True, photo=photos["phone"])
    record_finding(page, "FIRE-003", "FIRE-EXIT-BLOCKED", "minor", corrected=True, photo=photos["rotated"])
    sign(page)

    shown = {}
    for row in page.locator("#findings .finding-summary").all():
        card = row.locator(".prelim")
        shown[row.get_attribute("data-finding-id")] = (card.get_attribute("data-tier"), card.get_attribute("data-rule"))
    assert len(shown) == 2
    expect(page.locator("#blockers")).to_be_hidden()
    shot(page, "visit-full", full=True)
    page.click("#finish-visit")
    expect(page.locator("#stops .stop").first).to_be_visible()
    return {"id": visit_id, "preliminary": shown}


# --- what the server holds ----------------------------------------------------------------------


def server_state(app, visit_id: str) -> dict:
    from server.extensions import db
    from server.models import AuditEntry, Finding, Photo, Visit

    vid = uuid.UUID(visit_id)
    with app.app_context():
        visits = db.session.execute(sa.select(Visit)).scalars().all()
        findings = db.session.execute(sa.select(Finding).where(Finding.visit_id == vid)).scalars().all()
        photos = db.session.execute(sa.select(Photo).where(Photo.visit_id == vid)).scalars().all()
        creates = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "visit.create", AuditEntry.entity_id == visit_id)).scalar_one()
        state = {
            "visit_ids": [str(v.id) for v in visits],
            "visit": next(({"geofence": v.geofence, "party_signature_photo_id": str(v.party_signature_photo_id)}
                           for v in visits if v.id == vid), None),
            "findings": {str(f.id): (f.final_tier, f.rule_id, f.suggested_tier) for f in findings},
            "photos": {str(p.id): {"status": p.status, "sha256": p.sha256, "width": p.width, "height": p.height,
                                   "purpose": p.purpose, "content_type": p.content_type} for p in photos},
            "visit_creates": creates,
        }
        db.session.rollback()
    return state


def assert_stored_once(app, client, visit: dict) -> dict:
    state = server_state(app, visit["id"])
    assert state["visit_ids"] == [visit["id"]], "the visit is stored exactly once, and nothing else"
    assert state["visit_creates"] == 1
    assert state["visit"]["geofence"] == "on_site"
    # The preliminary tier the phone showed is the server's classification, finding by finding.
    assert {fid: (tier, rule) for fid, (tier, rule, _) in state["findings"].items()} == visit["preliminary"]
    assert sorted(rule for _, rule in visit["preliminary"].values()) == ["T1", "X1"]
    # Three photos (two findings' and the signature), each stored, its bytes matching its hash.
    assert len(state["photos"]) == 3
    assert {p["purpose"] for p in state["photos"].values()} == {"finding", "party_signature"}
    assert state["visit"]["party_signature_photo_id"] in state["photos"]
    token = client.post("/api/auth/token", json={"username": "insp1", "password": PASSWORD}).get_json()["token"]
    for pid, photo in state["photos"].items():
        assert photo["status"] == "stored", (pid, photo)
        r = client.get(f"/api/photos/{pid}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert hashlib.sha256(r.data).hexdigest() == photo["sha256"], "the stored bytes are the bytes the phone hashed"
    finding_photos = [p for p in state["photos"].values() if p["purpose"] == "finding"]
    sizes = sorted((p["width"], p["height"]) for p in finding_photos)
    # The 3264x2448 phone photo was shrunk to the advertised 2048 px long edge; the one with
    # EXIF orientation 6 (450x600 as stored by the camera) arrived upright.
    assert sizes == [(600, 450), (2048, 1536)], sizes
    return state


# --- the tests ------------------------------------------------------------------------------------


def test_a_visit_recorded_offline_reaches_the_server_exactly_once(page, context, field_app, client, photos):
    from playwright.sync_api import expect

    log_in(page)
    under_service_worker(page)
    open_today(page)
    expect(page.locator("#today-status")).to_contain_text("已可离线使用")
    shot(page, "today")
    expect(page.locator("#outbox-badge")).to_have_text("已全部上传")

    context.set_offline(True)
    page.reload()
    expect(page.locator("#offline-badge")).to_be_visible()
    expect(page.locator("#stops .stop")).to_have_count(EDZ_SITES)
    expect(page.locator("#today-status")).to_contain_text("离线：显示")

    visit = record_visit(page, photos)
    badge = page.locator("#outbox-badge")
    expect(badge).to_have_text("1 条待上传")
    expect(page.locator(f'#stops .stop:has-text("{HENGDA}")')).to_have_attribute("data-state", "queued")
    shot(page, "today-badge")
    badge.click()
    record = page.locator(f'#outbox-records [data-record-id="{visit["id"]}"]')
    expect(record).to_have_attribute("data-state", "waiting")
    expect(page.locator("#outbox-summary")).to_contain_text("1 条记录、3 张照片待上传")
    expect(page.locator("#outbox-error")).to_have_text("没有网络：有网络时会自动上传。")
    shot(page, "outbox-waiting", full=True)
    assert server_state(field_app, visit["id"])["visit_ids"] == []

    context.set_offline(False)
    expect(badge).to_have_text("已全部上传")
    acknowledged = page.locator(f'#outbox-receipts [data-record-id="{visit["id"]}"]')
    expect(acknowledged).to_be_visible()
    expect(page.locator("#outbox-records .empty")).to_be_visible()
    # After the sync the server's tier replaces the 预判 on the phone, and they agree.
    for fid, (tier, rule) in visit["preliminary"].items():
        expect(acknowledged.locator(f'[data-finding-id="{fid}"] .server-tier')).to_have_attribute("data-tier", tier)
    shot(page, "outbox-acknowledged", full=True)
    assert_stored_once(field_app, client, visit)
    # The photos left the phone once the server had them.
    assert page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open("fieldcheck");
        open.onsuccess = () => {
            const req = open.result.transaction("photos").objectStore("photos").count();
            req.onsuccess = () => { resolve(req.result); open.result.close(); };
        };
    })""") == 0


CUTS = {
    # The sync POST reaches the server and is stored, but its answer is lost on the way back.
    "sync answer lost": ("**/api/sync", "lose_answer"),
    # A photo upload is cut before it reaches the server.
    "photo upload aborted": ("**/api/photos/*", "abort"),
    # A photo is stored, but the answer is lost.
    "photo answer lost": ("**/api/photos/*", "lose_answer"),
}


@pytest.mark.parametrize("cut", list(CUTS))
def test_a_network_cut_in_the_middle_of_the_sync_still_stores_exactly_once(page, field_app, client, photos, cut):
    from playwright.sync_api import expect

    pattern, how = CUTS[cut]
    cuts: list[str] = []

    def once(route):
        if cuts or route.request.method not in ("POST", "PUT"):
            route.continue_()
            return
        cuts.append(route.request.url)
        if how == "lose_answer":
            route.fetch()  # the server gets the request and answers; the phone never hears it
        route.abort("internetdisconnected")

    page.route(pattern, once)
    log_in(page)
    open_today(page)
    visit = record_visit(page, photos)
    badge = page.locator("#outbox-badge")
    # The cut stops the drain; the outbox keeps what the server has not acknowledged and says why.
    expect(badge).to_have_attribute("data-state", "error")
    assert len(cuts) == 1
    badge.click()
    expect(page.locator("#outbox-error")).to_have_text("没有网络：有网络时会自动上传。")
    page.click("#outbox-send")
    expect(badge).to_have_text("已全部上传")
    expect(page.locator(f'#outbox-receipts [data-record-id="{visit["id"]}"]')).to_be_visible()
    assert_stored_once(field_app, client, visit)


def test_two_tabs_and_a_double_tap_send_each_record_once(context, field_app, client, photos):
    """The outbox is drained under a Web Lock and an in-flight flag: two pages draining at once,
    and a double tap on "upload now", make one request per record and photo."""
    from playwright.sync_api import expect

    first = context.new_page()
    log_in(first)
    open_today(first)
    context.set_offline(True)
    visit = record_visit(first, photos)
    second = context.new_page()
    second.goto("/#/outbox")
    expect(second.locator("#outbox-badge")).to_have_text("1 条待上传")
    context.set_offline(False)
    # Both pages hear `online`; one taps twice as well.
    first.locator("#outbox-badge").click()
    first.click("#outbox-send")
    first.click("#outbox-send", force=True)
    expect(first.locator("#outbox-badge")).to_have_text("已全部上传")
    expect(second.locator("#outbox-badge")).to_have_text("已全部上传")
    arrived = field_app.extensions["arrived"]
    sync_posts = [r for r in arrived if r == "POST /api/sync"]
    photo_puts = [r for r in arrived if r.startswith("PUT /api/photos/")]
    assert len(sync_posts) == 1, sync_posts
    assert len(photo_puts) == 3 == len(set(photo_puts)), photo_puts
    assert_stored_once(field_app, client, visit)


def test_a_draft_visit_survives_closing_the_app_and_leaving_asks_nothing(context, field_app):
    from playwright.sync_api import expect

    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page)
    open_today(page)
    page.click(f'#stops .stop:has-text("{HENGDA}") a')
    page.click("#start-visit")
    expect(page.locator("#fix-status")).to_have_text("在现场 · 精度 8 米")
    open_checklist(page, "SAFETY")
    tap_outcome(page, "SAF-001", "pass")
    tap_outcome(page, "SAF-012", "fail")
    page.click(f'[data-item="SAF-012"] .finding-link')
    page.fill("#violation-search", "exit")
    page.click('#violations [data-code="SAF-EXIT-BLOCKED"]')
    page.fill("#finding-note", "半途离开")
    # Leaving in the middle of a finding, then closing the app: nothing asked, nothing lost.
    page.click(".back")
    expect(page.locator("#visit-site")).to_be_visible()
    page.click(".back")
    expect(page.locator("#site-name")).to_have_text(HENGDA)
    page.close(run_before_unload=True)
    assert dialogs == []

    page = context.new_page()
    page.goto("/#/today")
    expect(page.locator(f'#stops .stop:has-text("{HENGDA}")')).to_have_attribute("data-state", "draft")
    page.click(f'#stops .stop:has-text("{HENGDA}") a')
    expect(page.locator("#start-visit")).to_have_text("继续检查")
    page.click("#start-visit")
    expect(page.locator('[data-item="SAF-001"] [data-outcome="pass"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator('[data-item="SAF-012"] [data-outcome="fail"]')).to_have_attribute("aria-pressed", "true")
    page.click(f'[data-item="SAF-012"] .finding-link')
    expect(page.locator('#violations [data-code="SAF-EXIT-BLOCKED"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#finding-note")).to_have_value("半途离开")
    # Undo reaches back across the restart: the note, then the violation.
    expect(page.locator("#undo")).to_have_text("撤销：备注")
    page.click("#undo")
    expect(page.locator("#finding-note")).to_have_value("")
    page.click("#undo")
    expect(page.locator('#violations [aria-pressed="true"]')).to_have_count(0)
    with field_app.app_context():
        from server.extensions import db
        from server.models import Visit

        assert db.session.execute(sa.select(sa.func.count()).select_from(Visit)).scalar_one() == 0


def test_unsent_work_from_an_earlier_day_is_noted_and_can_be_exported(page, context, photos):
    """And storage the browser may take back, or nearly full, is warned about."""
    from playwright.sync_api import expect

    # The browser's answers are the browser's business: make them those of a phone nearly full.
    page.add_init_script("""(() => {
        navigator.storage.persisted = () => Promise.resolve(false);
        navigator.storage.persist = () => Promise.resolve(false);
        navigator.storage.estimate = () => Promise.resolve({ usage: 920 * 1024 * 1024, quota: 1000 * 1024 * 1024 });
    })()""")
    log_in(page)
    under_service_worker(page)
    open_today(page)
    context.set_offline(True)
    visit = record_visit(page, photos)
    # The phone was left in a drawer overnight: the record is from yesterday.
    page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("fieldcheck");
        open.onsuccess = () => {
            const tx = open.result.transaction(["outbox", "photos"], "readwrite");
            const day = "2020-01-06";
            tx.objectStore("outbox").getAll().onsuccess = (e) => e.target.result.forEach(
                (r) => tx.objectStore("outbox").put({ ...r, day, queued_at: "2020-01-06T17:00:00+08:00" }));
            tx.objectStore("photos").getAll().onsuccess = (e) => e.target.result.forEach(
                (p) => tx.objectStore("photos").put({ ...p, day }));
            tx.oncomplete = () => { open.result.close(); resolve(); };
            tx.onerror = () => reject(tx.error);
        };
    })""")
    page.reload()
    expect(page.locator("#unsent-note")).to_be_visible()
    expect(page.locator("#unsent-note")).to_contain_text("还有前几天的记录没有上传")
    expect(page.locator("#storage-note")).to_contain_text("浏览器未允许长期保存")
    expect(page.locator("#storage-note")).to_contain_text("手机存储已用 92%")
    page.click("#outbox-badge")
    expect(page.locator("#outbox-warnings")).to_contain_text("还有前几天的记录没有上传")
    expect(page.locator("#outbox-warnings")).to_contain_text("手机存储已用 92%")
    expect(page.locator("#outbox-summary")).to_contain_text("最早一条记于 1月6日 周一")

    with page.expect_download() as download:
        page.click("#outbox-export")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    expect(page.locator("#outbox-export-note")).to_have_text("已导出 1 条记录和 3 张照片（保存在下载文件夹）。")
    assert [v["id"] for v in exported["sync"]["visits"]] == [visit["id"]]
    assert exported["sync"]["device_id"] == exported["device_id"]
    assert len(exported["photos"]) == 3
    for photo in exported["photos"]:
        assert hashlib.sha256(base64.b64decode(photo["data_base64"])).hexdigest() == photo["sha256"]
    named = {pid for f in exported["sync"]["visits"][0]["findings"] for pid in f["photo_ids"]}
    named.add(exported["sync"]["visits"][0]["record"]["party_signature_photo_id"])
    assert named == {p["id"] for p in exported["photos"]}


def test_background_sync_sends_the_outbox_with_the_app_closed(page, context, field_app, client, photos):
    """Chromium's Background Sync: the service worker drains the outbox by itself, reading the
    token and the records from IndexedDB, when no page of the app is open."""
    import time

    log_in(page)
    under_service_worker(page)
    open_today(page)
    context.set_offline(True)
    visit = record_visit(page, photos)
    page.goto("about:blank")  # the app is closed; only its service worker remains
    context.set_offline(False)
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    origin = field_app.extensions["live_url"]
    reg = next(r for r in registrations if r["scopeURL"].startswith(origin) and not r["isDeleted"])
    cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": origin, "registrationId": reg["registrationId"],
                                                 "tag": "fieldcheck-outbox", "lastChance": False})
    while time.monotonic() < deadline:
        state = server_state(field_app, visit["id"])
        if len(state["photos"]) == 3 and all(p["status"] == "stored" for p in state["photos"].values()):
            break
        page.wait_for_timeout(200)
    assert_stored_once(field_app, client, visit)


def test_a_record_waits_for_the_inspector_who_recorded_it(page, context, field_app, client, photos):
    """Another inspector logging in on the same phone never sends it under their name."""
    from playwright.sync_api import expect

    log_in(page, "insp1")
    open_today(page)
    context.set_offline(True)
    visit = record_visit(page, photos)
    page.goto("/#/home")
    page.click("#logout")
    expect(page.locator("#login-submit")).to_be_visible()
    context.set_offline(False)

    log_in(page, "insp2")
    page.click("#outbox-badge")
    record = page.locator(f'#outbox-records [data-record-id="{visit["id"]}"]')
    expect(record).to_contain_text("由 insp1 记录：须 insp1 登录后才能上传。")
    page.click("#outbox-send")
    expect(page.locator("#outbox-send")).to_be_enabled()
    expect(record).to_have_attribute("data-state", "waiting")
    assert server_state(field_app, visit["id"])["visit_ids"] == []
    assert field_app.extensions["arrived"].count("POST /api/sync") == 0

    page.goto("/#/home")
    page.click("#logout")
    log_in(page, "insp1")
    expect(page.locator("#outbox-badge")).to_have_text("已全部上传")
    assert_stored_once(field_app, client, visit)


def test_a_reinspection_due_is_on_today_and_its_outcome_reaches_the_server(page, field_app):
    """An order whose correction period is over puts the site first on today's list; the
    re-inspection records its outcome against that order."""
    import datetime as dt

    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import Reinspection, Site, User
    from tests.findings_helpers import finding_at

    with field_app.app_context():
        site_id = db.session.execute(sa.select(Site.id).where(Site.name == HENGDA)).scalar_one()
        sup = db.session.execute(sa.select(User.id).where(User.username == "sup1")).scalar_one()
    fid = finding_at(field_app, site_id, "FIRE-ELEC-WIRING", dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20),
                     severity="general", domain="fire")
    today = dt.date.today()
    with field_app.app_context():
        from server.services import lifecycle

        finding = lifecycle.load(fid)
        supervisor = db.session.get(User, sup)
        lifecycle.confirm_tier(finding, supervisor)
        order = lifecycle.issue_order(finding, supervisor)
        # The correction period has run out since.
        order.deadline, order.reinspection_due = today - dt.timedelta(days=3), today - dt.timedelta(days=2)
        finding.next_deadline = order.deadline
        db.session.commit()
        order_id, number = order.id, order.number

    log_in(page)
    open_today(page)
    first = page.locator("#stops .stop").first
    expect(first).to_contain_text(HENGDA)
    expect(first).to_contain_text("复查 · 整改期满待复查")
    first.locator("a").click()
    expect(page.locator("#open-orders")).to_contain_text("未办结的整改（1）")
    expect(page.locator("#open-orders")).to_contain_text("整改期满，应复查")
    expect(page.locator("#start-visit")).to_have_text("开始复查")
    page.click("#start-visit")
    expect(page.locator("#reinspection")).to_contain_text(number)
    page.click('#officers button.officer:has-text("insp2")')
    page.click("#finish-visit")
    expect(page.locator("#blockers")).to_have_text("请选择复查结论。")
    page.click('#reinspection [data-value="passed"]')
    page.click("#finish-visit")
    expect(page.locator(f'#stops .stop:has-text("{HENGDA}")')).to_have_attribute("data-state", "uploaded")
    expect(page.locator("#outbox-badge")).to_have_text("已全部上传")
    with field_app.app_context():
        rows = db.session.execute(sa.select(Reinspection).where(Reinspection.order_id == order_id)).scalars().all()
        assert [(r.outcome, r.visit_id is not None) for r in rows] == [("passed", True)]

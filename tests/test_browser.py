"""The PWA in real Chromium against the real app, on both engines.

The server runs in a thread on a free loopback port (werkzeug around the `app` fixture);
Playwright drives Debian's /usr/bin/chromium at a phone's size.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import need
from tests.world import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
EDZ_SITES = ["仪征市恒达机械有限公司", "仪征市江海包装有限公司", "扬州润泽电子科技有限公司"]
CHEM_SITES = ["仪征市华瑞化工有限公司", "扬州天元新材料有限公司"]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


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
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def context(browser, live_url):
    # An English-speaking browser: the app is Chinese first all the same.
    ctx = browser.new_context(base_url=live_url, viewport=PHONE, locale="en-US", service_workers="allow")
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
    # A Content-Security-Policy refusal is only ever reported on the console.
    pg.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield pg
    assert not problems, problems


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def site_names(page) -> list[str]:
    return page.locator("#sites .site-name").evaluate_all("els => els.map(e => e.firstChild.textContent)")


def test_login_page_is_chinese_by_default(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page.locator("label[for=username]")).to_have_text("用户名")
    expect(page.locator("label[for=password]")).to_have_text("密码")
    expect(page.locator("#login-submit")).to_have_text("登录")
    expect(page.locator("#lang-switch")).to_have_text("English")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.title() == "现场检查"


def test_wrong_password_and_throttling_are_told_in_words(page, app):
    from playwright.sync_api import expect

    page.goto("/")
    log_in(page, "insp1", "not-the-password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误，或账号已停用。请重新输入。")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("#bar")).not_to_contain_text("insp1")
    # The per-username limit is reached; the next try is refused with the wait in minutes.
    for _ in range(app.config["LOGIN_MAX_PER_USER"] - 1):
        log_in(page, "insp1", "not-the-password")
        expect(page.locator("#login-submit")).to_be_enabled()
    log_in(page, "insp1", PASSWORD)
    expect(page.locator("#login-error")).to_have_text(re.compile(r"^登录失败次数过多，请 1[56] 分钟后再试。$"))
    assert page.url.endswith("#/login")


def test_inspector_sees_own_park_sites_and_logs_out(page):
    from playwright.sync_api import expect

    page.goto("/")
    log_in(page, "insp1")
    expect(page.locator("#user-name")).to_have_text("insp1，您好")
    expect(page.locator("#user-role")).to_have_text("执法检查员")
    expect(page.locator("#parks")).to_have_text("经济开发区")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    assert sorted(site_names(page)) == sorted(EDZ_SITES)
    # The riskiest first, each with its grade in words.
    expect(page.locator("#sites .site").first).to_contain_text("扬州润泽电子科技有限公司")
    expect(page.locator("#sites .site").first.locator(".risk")).to_have_text("较大风险")
    expect(page.locator("#sites .badge-key")).to_have_count(0)
    # The map: the park's boundary and one point per site, drawn without tiles.
    expect(page.locator("#map .leaflet-interactive")).to_have_count(len(EDZ_SITES))
    expect(page.locator("#map path:not(.leaflet-interactive)")).to_have_count(1)
    expect(page.locator("#map .leaflet-tile")).to_have_count(0)
    expect(page.locator("#data-status")).to_contain_text("数据更新于")
    # The date in Chinese: "11月26日 周四".
    expect(page.locator(".today")).to_have_text(re.compile(r"^\d{1,2}月\d{1,2}日 周[日一二三四五六]$"))

    page.click("#logout")
    expect(page.locator("#login-submit")).to_be_visible()
    log_in(page, "insp_chem")
    expect(page.locator("#parks")).to_have_text("化工园区")
    expect(page.locator("#sites .site")).to_have_count(len(CHEM_SITES))
    assert sorted(site_names(page)) == sorted(CHEM_SITES)
    # Hazardous-chemical plants are key objects: the badge says so in words.
    expect(page.locator("#sites .badge-key")).to_have_count(len(CHEM_SITES))
    expect(page.locator("#sites .badge-key").first).to_have_text("重点")


def test_logging_out_revokes_the_token(page, live_url):
    from playwright.sync_api import expect

    page.goto("/")
    log_in(page, "insp1")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    token = stored_token(page)
    page.click("#logout")
    expect(page.locator("#login-submit")).to_be_visible()
    assert stored_token(page) is None
    r = page.request.get(f"{live_url}/api/sites.geojson", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401


def stored_token(page):
    return page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("fieldcheck");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const get = open.result.transaction("session").objectStore("session").get("current");
            get.onsuccess = () => { resolve(get.result ? get.result.token : null); open.result.close(); };
        };
    })""")


def test_a_revoked_token_leads_back_to_login(page, client):
    from playwright.sync_api import expect

    page.goto("/")
    log_in(page, "insp1")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    # Revoked elsewhere (an admin, another tab): the next call answers 401.
    r = client.delete("/api/auth/token", headers={"Authorization": f"Bearer {stored_token(page)}"})
    assert r.status_code == 204
    page.click("#refresh")
    expect(page.locator("#login-error")).to_have_text("登录已失效，请重新登录。")
    assert stored_token(page) is None


def test_switching_to_english_changes_the_labels_and_is_kept(page):
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#username", "insp1")
    page.click("#lang-switch")
    expect(page.locator("label[for=username]")).to_have_text("Username")
    expect(page.locator("#login-submit")).to_have_text("Log in")
    expect(page.locator("#lang-switch")).to_have_text("中文")
    expect(page.locator("#username")).to_have_value("insp1")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    expect(page.locator("label[for=username]")).to_have_text("Username")
    log_in(page, "insp1")
    expect(page.locator("#user-role")).to_have_text("Inspector")
    expect(page.locator("#parks")).to_have_text("Economic Development Zone")
    expect(page.locator("#sites .risk").first).to_have_text("High risk")
    expect(page.locator("#refresh")).to_have_text("Refresh data")
    expect(page.locator(".today")).to_have_text(re.compile(r"^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) \d{1,2} [A-Z][a-z]{2}$"))
    page.click("#lang-switch")
    expect(page.locator("#user-role")).to_have_text("执法检查员")


def test_offline_reload_shows_home_from_cache(page, context):
    from playwright.sync_api import expect

    page.goto("/")
    log_in(page, "insp1")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    expect(page.locator("#offline-badge")).to_be_hidden()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    # Chromium's own verdict on the manifest, icons and service worker: installable (but for
    # Playwright's context being incognito, which no phone is).
    cdp = context.new_cdp_session(page)
    errors = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
    assert [e for e in errors if e != "in-incognito"] == []

    context.set_offline(True)
    page.reload()
    expect(page.locator("#user-name")).to_have_text("insp1，您好")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    assert sorted(site_names(page)) == sorted(EDZ_SITES)
    expect(page.locator("#offline-badge")).to_be_visible()
    expect(page.locator("#offline-badge")).to_have_text("离线")
    expect(page.locator("#data-status")).to_contain_text("离线：显示")
    # The map library came from the service worker's cache too.
    expect(page.locator("#map .leaflet-interactive")).to_have_count(len(EDZ_SITES))
    # A refresh while offline changes nothing and says why, in words.
    page.click("#refresh")
    expect(page.locator("#refresh")).to_be_enabled()
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    expect(page.locator("#data-status")).to_contain_text("离线：显示")

    context.set_offline(False)
    page.click("#refresh")
    expect(page.locator("#offline-badge")).to_be_hidden()
    expect(page.locator("#data-status")).to_contain_text("数据更新于")


@pytest.mark.parametrize("granted", [False, True])
def test_persistent_storage_is_asked_after_login_and_a_refusal_is_shown(page, granted):
    from playwright.sync_api import expect

    # The browser's answer is the browser's business: make it answer one way, and count the asks.
    # The answer outlives a reload, as the browser's own does.
    page.add_init_script(f"""(() => {{
        window.__persistAsks = 0;
        navigator.storage.persisted = () => Promise.resolve(sessionStorage.getItem("kept") === "1");
        navigator.storage.persist = () => {{
            window.__persistAsks += 1;
            if ({str(granted).lower()}) sessionStorage.setItem("kept", "1");
            return navigator.storage.persisted();
        }};
    }})()""")
    page.goto("/")
    log_in(page, "insp1")
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    assert page.evaluate("window.__persistAsks") == 1
    if granted:
        expect(page.locator("#storage-warning")).to_be_hidden()
    else:
        expect(page.locator("#storage-warning")).to_be_visible()
        expect(page.locator("#storage-warning")).to_contain_text("浏览器未允许长期保存数据")
    # Starting again already logged in reads the answer back without asking again.
    page.reload()
    expect(page.locator("#sites .site")).to_have_count(len(EDZ_SITES))
    assert page.evaluate("window.__persistAsks") == 0
    if granted:
        expect(page.locator("#storage-warning")).to_be_hidden()
    else:
        expect(page.locator("#storage-warning")).to_be_visible()

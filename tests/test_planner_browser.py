"""The scheduler's screen in real Chromium, in the demo city, tried as a new user would (issue 5,
"Done when"): the scheduler opens tomorrow, generates it, sees each route on the map in its own
colour with numbered stops, moves a stop and locks it, is refused in words when a move breaks a
rule, generates again (the lock holds), publishes; on the day, the inspector's today shows that
route in order, each stop with its id.

SpatiaLite only: the demo city is built into a fresh database for this test (as tests/test_demo.py
does on both engines); the planner's database work is walked on both engines by tests/test_plans.py,
so a second build and browser run on PostGIS would add minutes and test nothing new. Set
FIELDCHECK_SCREENSHOT_DIR to keep a 1280x800 screenshot of the planner.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.conftest import TEST_SECRET
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_demo import _empty_database

DESKTOP = {"width": 1280, "height": 800}
TZ = ZoneInfo("Asia/Shanghai")
TIMEOUT_MS = 30_000
SHOTS = os.environ.get("FIELDCHECK_SCREENSHOT_DIR")

pytestmark = pytest.mark.browser


@pytest.fixture
def city(tmp_path):
    """The demo city in a fresh SpatiaLite database, served on a free loopback port."""
    from server import create_app
    from server.extensions import db
    from server.services.demo import DEMO_PASSWORD, build_demo

    url = _empty_database("spatialite", tmp_path)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": TEST_SECRET,
                      "TESTING": True})
    with app.app_context():
        build_demo(seed=1, today=dt.datetime.now(TZ).date())
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"app": app, "url": f"http://127.0.0.1:{server.server_port}", "password": DEMO_PASSWORD}
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _page(browser, city, problems):  # noqa: F811
    ctx = browser.new_context(base_url=city["url"], viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai",
                              service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    return ctx, page


def _log_in(page, username, password):
    page.goto("/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def _route_cards(page) -> list[dict]:
    """Each route card as the screen shows it: team number, stop ids, seqs, site names, locks."""
    return page.locator(".route-card").evaluate_all("""cards => cards.map(c => ({
        route: Number(c.dataset.routeId), team: Number(c.dataset.teamNo),
        stops: [...c.querySelectorAll('.plan-stop')].map(s => ({id: Number(s.dataset.stopId),
            seq: Number(s.dataset.seq), site: Number(s.dataset.siteId),
            name: s.querySelector('.stop-name').textContent, locked: s.classList.contains('locked'),
            label: s.querySelector('.stop-no').textContent}))}))""")


def test_the_scheduler_plans_tomorrow_and_the_inspector_gets_the_route(browser, city, monkeypatch):  # noqa: F811
    from playwright.sync_api import expect

    from server.extensions import db
    from server.models import User
    from server.services import planning, today
    from server.services.calendar import work_calendar

    expect.set_options(timeout=TIMEOUT_MS)
    app = city["app"]
    with app.app_context():
        day = work_calendar().next_working_day(dt.datetime.now(TZ).date())
    problems: list[str] = []
    ctx, page = _page(browser, city, problems)

    # The scheduler lands on the planner; opens tomorrow: nothing there yet.
    _log_in(page, "sched01", city["password"])
    expect(page.locator("#plan-generate")).to_be_visible()
    page.goto(f"/#/planner/{day.isoformat()}")
    expect(page.locator("#plan-state")).to_have_text("未生成")
    expect(page.locator("#plan-generate")).to_have_text("生成计划")
    expect(page.locator(".desk-tab[aria-current=page]")).to_have_text("巡查计划")

    # Generate: the routes, the map, the figures, what is not scheduled and why.
    page.click("#plan-generate")
    expect(page.locator("#plan-state")).to_have_text("草稿")
    expect(page.locator("#plan-summary")).to_contain_text("个小组")
    cards = _route_cards(page)
    assert len(cards) >= 2
    busy = [c for c in cards if len(c["stops"]) >= 3]
    assert busy, cards
    total = sum(len(c["stops"]) for c in cards)
    # Each stop on the map: a marker numbered team-place, in its route's colour class; one line per route.
    expect(page.locator("#plan-map .route-marker")).to_have_count(total)
    labels = page.locator("#plan-map .route-marker").evaluate_all("els => els.map(e => e.textContent)")
    assert sorted(labels) == sorted(s["label"] for c in cards for s in c["stops"])
    assert all(s["label"] == f"{c['team']}-{s['seq']}" for c in cards for s in c["stops"])
    expect(page.locator("#plan-map path.route-line")).to_have_count(sum(1 for c in cards if c["stops"]))
    colours = page.locator("#plan-map path.route-line").evaluate_all("els => els.map(e => e.getAttribute('stroke'))")
    assert len(set(colours)) == len(colours), "each route has its own colour"
    expect(page.locator("#plan-map .office-marker")).to_have_count(1)
    for card in page.locator(".route-card").all():
        expect(card.locator(".route-figures")).to_contain_text("公里")
    expect(page.locator("#plan-not-scheduled h3")).to_contain_text("未安排")
    reasons = page.locator("#plan-not-scheduled td.reason").all_text_contents()
    assert reasons and all(r.strip() for r in reasons)

    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / "planner-1280x800.png"))
        page.screenshot(path=str(Path(SHOTS) / "planner-full.png"), full_page=True)

    # Move a stop down its route with the button: it takes the next place.
    route = busy[0]
    moving = route["stops"][0]
    card = page.locator(f".route-card[data-route-id='{route['route']}']")
    card.locator(f".plan-stop[data-stop-id='{moving['id']}'] .stop-down").click()
    expect(card.locator(f".plan-stop[data-stop-id='{moving['id']}']")).to_have_attribute("data-seq", "2")
    expect(page.locator("#plan-status")).to_contain_text("已更新")
    # The move menu offers only the teams working in the site's park, the other day and "off the routes".
    menu = card.locator(f".plan-stop[data-stop-id='{moving['id']}'] select.stop-move option")
    values = menu.evaluate_all("els => els.map(e => e.value)")
    assert "off" in values and any(v.startswith("day:") for v in values)
    # A move the rules refuse is told in the server's words, and nothing changes: with a one-hour
    # working day the route cannot be reordered.
    from server.services import policy

    with app.app_context():
        policy.change({"working_day_hours": 1}, "a short day, for a moment", None)
        db.session.commit()
    card.locator(f".plan-stop[data-stop-id='{moving['id']}'] .stop-down").click()
    expect(page.locator("#plan-error")).to_contain_text("longer than the working day")
    expect(card.locator(f".plan-stop[data-stop-id='{moving['id']}']")).to_have_attribute("data-seq", "2")
    with app.app_context():
        policy.change({"working_day_hours": 8}, "back to the day of DOMAIN.md", None)
        db.session.commit()
    # Lock it.
    card.locator(f".plan-stop[data-stop-id='{moving['id']}'] .stop-lock").click()
    locked = card.locator(f".plan-stop[data-stop-id='{moving['id']}']")
    expect(locked.locator(".badge-locked")).to_have_text("已锁定")
    expect(locked.locator(".stop-lock")).to_have_text("解锁")

    # Generate again: the lock holds (same stop, same route, same place).
    page.click("#plan-generate")
    expect(page.locator("#plan-status")).to_contain_text("已生成")
    after = {s["id"]: (c["route"], s["seq"], s["locked"]) for c in _route_cards(page) for s in c["stops"]}
    assert after[moving["id"]] == (route["route"], 2, True)

    # Publish.
    page.click("#plan-publish")
    expect(page.locator("#plan-state")).to_have_text("已发布")
    expect(page.locator("#plan-publish")).to_have_text("撤销发布")
    expect(page.locator("#plan-generate")).to_be_disabled()
    expect(page.locator(".stop-lock")).to_have_count(0)
    final = next(c for c in _route_cards(page) if c["route"] == route["route"])
    assert not problems, problems

    # On the day, the route's lead opens today: the route, in order, each stop with its id.
    now = dt.datetime.combine(day, dt.time(7, 50), TZ).astimezone(dt.timezone.utc)
    for module in (planning, today):
        monkeypatch.setattr(module, "utcnow", lambda: now)
    with app.app_context():
        plan = planning.describe(planning.load(day), None)
        lead_id = next(r["team_lead_id"] for r in plan["routes"] if r["id"] == route["route"])
        lead = db.session.get(User, lead_id).username
    token = page.request.post("/api/auth/token", data={"username": lead, "password": city["password"]}).json()["token"]
    mine = page.request.get("/api/me/today", headers={"Authorization": f"Bearer {token}"}).json()
    assert mine["source"] == "plan" and mine["plan"]["route_id"] == route["route"]
    assert [s["plan_stop_id"] for s in mine["stops"]] == [s["id"] for s in final["stops"]]
    assert [s["site"]["name"] for s in mine["stops"]] == [s["name"] for s in final["stops"]]
    ctx.close()

    # And on the phone: the today screen lists the same stops in the same order.
    phone = browser.new_context(base_url=city["url"], viewport={"width": 390, "height": 844}, locale="zh-CN",
                                timezone_id="Asia/Shanghai", service_workers="block")
    phone.set_default_timeout(TIMEOUT_MS)
    pg = phone.new_page()
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    _log_in(pg, lead, city["password"])
    pg.click("#today-link")
    expect(pg.locator("#today-source")).to_have_text("按今日发布的检查计划路线排列")
    expect(pg.locator("#stops li.stop")).to_have_count(len(final["stops"]))
    names = pg.locator("#stops li.stop .stop-name").evaluate_all("els => els.map(e => e.firstChild.textContent)")
    assert names == [s["name"] for s in final["stops"]]
    phone.close()
    assert not problems, problems

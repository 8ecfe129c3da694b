"""Hostile text in real Chromium: a finding whose note and enterprise name carry HTML and script
is shown as text on the supervisor's queue and the finding screen, and no script of it runs.

Two locks hold: the screens build the DOM with textContent (pwa/js/dom.js `h`), and the CSP
refuses inline script and handlers. The test watches both: the payload's text must be visible
as text (so it was not parsed as HTML), no element of it exists in the DOM, window.__pwned stays
undefined, and the `desk` fixture fails on any CSP refusal (which an injected handler would cause).
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.test_browser import browser, live_url, log_in  # noqa: F401  (fixtures)
from tests.test_review_browser import desk, record  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

NOTE = ("<img src=x onerror=\"window.__pwned='note-img'\"><script>window.__pwned='note-script'</script>"
        "'); DROP TABLE findings; --")
NAME = "恶意<script>window.__pwned='name'</script><img src=x onerror=\"window.__pwned='name-img'\">有限公司"


@pytest.fixture
def hostile(app):
    from server.extensions import db
    from server.models import Site
    from server.services import calendar, catalogue, policy

    with app.app_context():
        catalogue.load_bundled(record_audit=False)
        calendar.load_bundled(record_audit=False)
        policy.current()
        site = db.session.execute(sa.select(Site).where(Site.name == "仪征市恒达机械有限公司")).scalar_one()
        site.name = NAME
        db.session.flush()
        ids = record({"x": (NAME, 2, "FIRE-ELEC-WIRING", {"severity": "general", "note": NOTE}, "on_site")})
        db.session.commit()
    return ids["x"]


def _no_injected_elements(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    scripts = page.locator("script").evaluate_all("els => els.map(e => e.src || ('INLINE:' + e.textContent))")
    assert not [s for s in scripts if s.startswith("INLINE:")], scripts


def test_hostile_note_and_enterprise_name_show_as_text_and_never_run(desk, app, client, auth, hostile):  # noqa: F811
    from playwright.sync_api import expect

    # The API returns them as the very text stored (JSON, never HTML).
    r = client.get(f"/api/findings/{hostile}", headers=auth.headers("sup1"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.get_json()
    assert body["note"] == NOTE and body["enterprise"]["name"] == NAME

    page = desk
    page.goto("/")
    log_in(page, "sup1")
    row = page.locator(f'tr[data-finding-id="{hostile}"]')
    expect(row.locator(".enterprise")).to_have_text(NAME)
    _no_injected_elements(page)

    page.goto(f"/#/finding/{hostile}")
    expect(page.locator(".note")).to_contain_text(NOTE)
    expect(page.get_by_text(NAME).first).to_be_visible()
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    _no_injected_elements(page)

"""Fixtures: `engine` (every database test runs on SpatiaLite and on PostGIS), `app`,
`client` and an `auth` helper, after the Flask tutorial's shape.

PostGIS tests need FIELDCHECK_TEST_DATABASE_URL (a server where the test user may
create databases and PostGIS is installed). Without it they skip with the reason
printed; with FIELDCHECK_REQUIRE_ALL=1 (CI) a missing part fails instead.
"""
from __future__ import annotations

import collections
import itertools
import os
import shutil
import sqlite3  # noqa: F401
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.db import normalise_url

REQUIRE_ALL = os.environ.get("FIELDCHECK_REQUIRE_ALL") == "1"
PG_URL = os.environ.get("FIELDCHECK_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FIELDCHECK_SHARED_DIR", ROOT.parent / "shared"))
ENGINES = ("spatialite", "postgis")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def need(ok: bool, reason: str) -> None:
    """Skip for want of a part, or fail when CI requires every part."""
    if ok:
        return
    if REQUIRE_ALL:
        pytest.fail(f"FIELDCHECK_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    need((SHARED / "fixtures").is_dir(), f"the shared fixtures are absent ({SHARED / 'fixtures'})")
    return SHARED / "fixtures"


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


class Templates:
    """One migrated database with the test world per engine, built on first use."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.built: dict[str, str] = {}
        self.counter = itertools.count()
        self.tag = uuid.uuid4().hex[:8]

    def template(self, engine: str) -> str:
        if engine not in self.built:
            self.built[engine] = self._build(engine)
        return self.built[engine]

    def _build(self, engine: str) -> str:
        from server import create_app
        from server.migrate import upgrade
        from tests.world import build_world

        if engine == "spatialite":
            path = self.tmp_dir / "template.db"
            url = f"sqlite:///{path}"
        else:
            need(bool(PG_URL), "FIELDCHECK_TEST_DATABASE_URL is not set, so the PostGIS tests cannot run")
            name = f"fc_tmpl_{self.tag}"
            with _admin_engine(normalise_url(PG_URL)).connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
            eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
            with eng.begin() as c:
                c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
            eng.dispose()
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(self.tmp_dir / f"data-{engine}"),
                          "SECRET_KEY": TEST_SECRET})
        with app.app_context():
            from server.extensions import db

            build_world()
            db.session.remove()
            db.engine.dispose()  # the last connection's close checkpoints the WAL into the file
        return url

    def copy(self, engine: str, dest_dir: Path) -> str:
        url = self.template(engine)
        if engine == "spatialite":
            src = Path(make_url(url).database)
            dest = dest_dir / "test.db"
            shutil.copyfile(src, dest)
            return f"sqlite:///{dest}"
        name = f"fc_t_{self.tag}_{next(self.counter)}"
        with _admin_engine(url).connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(url).database}"')
        return make_url(url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        u = make_url(url)
        if u.get_backend_name() == "postgresql":
            with _admin_engine(url).connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')

    def close(self) -> None:
        for engine, url in self.built.items():
            if engine == "postgis":
                self.drop(url)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    t = Templates(tmp_path_factory.mktemp("templates"))
    yield t
    t.close()


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def db_url(engine, templates, tmp_path):
    url = templates.copy(engine, tmp_path)
    yield url
    templates.drop(url)


@pytest.fixture
def app(db_url, tmp_path):
    from server import create_app
    from server.extensions import db

    app = create_app({"DATABASE_URL": db_url, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": TEST_SECRET,
                      "TESTING": True})
    server_errors = _watch_for_server_errors(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert not server_errors, f"the server answered 5xx: {server_errors}"


def _watch_for_server_errors(app) -> list:
    """No input in any test may produce a 500: every test's app fails it if one does."""
    from flask import request

    seen: list = []

    @app.after_request
    def _record(resp):
        if resp.status_code >= 500:
            seen.append((request.method, request.path, resp.status_code, resp.get_data(as_text=True)[:300]))
        return resp

    return seen


@pytest.fixture
def sqlite_app(templates, tmp_path):
    """The app on the embedded engine only, for what only SQLite has (pragmas, file locks)."""
    from server import create_app
    from server.extensions import db

    url = templates.copy("spatialite", tmp_path)
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": TEST_SECRET,
                      "TESTING": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Log in as a world user and keep the token for the test."""

    def __init__(self, client):
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            from tests.world import PASSWORD

            r = self.client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
            assert r.status_code == 201, r.get_json()
            self.tokens[username] = r.get_json()["token"]
        return self.tokens[username]

    def headers(self, username: str) -> dict:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture
def auth(client):
    return AuthActions(client)


# --- how many database tests ran on each engine, printed at the end --------------

_engine_counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_engine_of: dict[str, str] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and "engine" in callspec.params:
            _engine_of[item.nodeid] = callspec.params["engine"]


def pytest_runtest_logreport(report):
    engine = _engine_of.get(report.nodeid)
    if engine is None:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _engine_counts[engine][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _engine_counts:
        return
    parts = []
    for engine in ENGINES:
        c = _engine_counts.get(engine, collections.Counter())
        parts.append(f"{engine}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped")
    terminalreporter.write_line("database tests by engine: " + "; ".join(parts))

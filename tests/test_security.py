"""Security headers on every kind of answer, HSTS over TLS, no cookies, no secrets in the logs,
and `fieldcheck check-config`."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, TEST_SECRET

PWA = ROOT / "pwa"


def _pwa_files() -> list[str]:
    return sorted("/" + str(p.relative_to(PWA)) for p in PWA.rglob("*") if p.is_file())


def _assert_headers(r, what: str) -> None:
    csp = r.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'", (what, csp)  # no inline, no eval, no other origin
    assert directives.get("default-src") == "'self'", (what, csp)
    assert directives.get("object-src") == "'none'" and directives.get("base-uri") == "'none'", (what, csp)
    assert directives.get("frame-ancestors") == "'none'", (what, csp)
    # Swagger UI (/api/docs only) sets inline styles: 'unsafe-inline' for styles there, never for scripts.
    outside_styles = {k: v for k, v in directives.items() if k != "style-src"}
    assert "unsafe" not in str(outside_styles) and "*" not in csp and "http" not in csp, (what, csp)
    if what != "/api/docs":
        assert "unsafe" not in csp, (what, csp)
    assert r.headers.get("X-Content-Type-Options") == "nosniff", what
    assert r.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), what
    assert r.headers.get("X-Frame-Options") == "DENY", what
    assert "Set-Cookie" not in r.headers, (what, r.headers.get("Set-Cookie"))


def _login(client, username: str = "admin1") -> dict:
    from tests.world import PASSWORD

    r = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


# Headers, cookies and logs do not depend on the engine: these run on SpatiaLite only.


def test_every_pwa_file_docs_page_and_api_answer_carries_the_headers(sqlite_app):
    client = sqlite_app.test_client()
    files = _pwa_files()
    assert "/index.html" in files and any(f.endswith(".js") for f in files)
    for path in files + ["/", "/api/docs", "/api/docs/init.js", "/api/docs/static/swagger-ui-bundle.js",
                         "/api/openapi.json", "/api/health"]:
        r = client.get(path)
        assert r.status_code in (200, 304), (path, r.status_code)
        _assert_headers(r, path)
    # Errors and authenticated answers too.
    for r, what in ((client.get("/api/nothing-here"), "404"), (client.get("/api/parks"), "401"),
                    (client.post("/api/auth/token", json={"username": "insp1", "password": "test-password-1"}), "login"),
                    (client.get("/api/parks", headers=_login(client)), "authenticated"),
                    (client.put("/api/health"), "405")):
        _assert_headers(r, what)


def test_html_has_no_inline_script_or_handlers():
    """The CSP refuses inline script; the pages must not need any (the browser tests' CSP watch
    catches the rest at run time)."""
    pages = {p: p.read_text() for p in PWA.rglob("*.html")}
    pages["api_docs"] = (ROOT / "server" / "api_docs.py").read_text()
    for name, html in pages.items():
        for tag in re.findall(r"<script\b[^>]*>", html, re.I):
            assert "src=" in tag, (name, tag)
        assert not re.search(r"<script\b[^>]*>[^<]+</script>", html, re.I), name  # no body in a script tag
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), name
        assert "javascript:" not in html.lower(), name


@pytest.mark.parametrize("proxies,header,https", [
    (0, None, False),
    (0, "https", False),  # X-Forwarded-Proto from anyone: not trusted without FIELDCHECK_TRUSTED_PROXIES
    (1, "https", True),
    (1, "http", False),
])
def test_hsts_only_on_answers_that_went_out_over_tls(sqlite_app, proxies, header, https):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = sqlite_app
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    headers = {"X-Forwarded-Proto": header, "X-Forwarded-For": "10.0.0.9"} if header else {}
    for path in ("/", "/api/health"):
        r = app.test_client().get(path, headers=headers)
        hsts = r.headers.get("Strict-Transport-Security")
        if https:
            assert hsts and re.fullmatch(r"max-age=\d+", hsts) and int(hsts.split("=")[1]) >= 180 * 24 * 3600
        else:
            assert hsts is None, (proxies, header, hsts)
    # Served over TLS directly (gunicorn --certfile): the request's own scheme says so.
    r = app.test_client().get("/api/health", base_url="https://localhost")
    assert r.headers.get("Strict-Transport-Security")


def test_hsts_setting_on_and_off(tmp_path, templates):
    from server import create_app

    url = templates.copy("spatialite", tmp_path)
    for setting, over_http in (("on", True), ("off", False)):
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "d"), "SECRET_KEY": TEST_SECRET,
                          "HSTS": setting})
        r = app.test_client().get("/api/health")
        assert ("Strict-Transport-Security" in r.headers) is over_http
        r = app.test_client().get("/api/health", base_url="https://localhost")
        assert ("Strict-Transport-Security" in r.headers) is (setting == "on")


def test_the_app_sets_no_cookie_and_would_set_safe_ones(sqlite_app):
    app, client = sqlite_app, sqlite_app.test_client()
    r = client.post("/api/auth/token", json={"username": "insp1", "password": "test-password-1"})
    assert r.status_code == 201 and "Set-Cookie" not in r.headers
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Strict"


# --- no secret in the logs ------------------------------------------------------------------------


def test_no_password_token_or_secret_in_the_apps_logs(sqlite_app, caplog):
    from tests.world import PASSWORD

    client = sqlite_app.test_client()
    caplog.set_level(logging.DEBUG)
    r = client.post("/api/auth/token", json={"username": "admin1", "password": PASSWORD})
    token = r.get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/parks", headers=headers)
    client.get("/api/audit/verify", headers=headers)
    client.post("/api/auth/token", json={"username": "admin1", "password": PASSWORD + "-wrong"})
    client.get("/api/parks", headers={"Authorization": f"Bearer {token}x"})
    client.delete("/api/auth/token", headers=headers)
    text = caplog.text + "".join(str(rec.args) for rec in caplog.records)
    for secret in (PASSWORD, token, TEST_SECRET):
        assert secret not in text


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_password_token_or_secret_in_gunicorn_access_and_error_logs(tmp_path):
    """The real server as `fieldcheck serve` starts it (gunicorn, access log on), with the app's
    logging at DEBUG: a login, authenticated requests, a failed login and a logout leave neither
    the password, nor the token, nor the secret key in any log."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDCHECK_DATA_DIR": str(tmp_path / "data"),
           "FIELDCHECK_SECRET_KEY": TEST_SECRET}
    env.pop("FIELDCHECK_DATABASE_URL", None)
    password = "first-admin-password-9"
    init = subprocess.run([sys.executable, "-m", "server.cli", "init", "--no-demo", "--password-stdin"],
                          input=password + "\n", env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    port = _free_port()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    from server.cli import _gunicorn_argv

    argv = _gunicorn_argv("127.0.0.1", port, 1)
    argv[argv.index("--access-logfile") + 1] = str(access)
    argv[-1:-1] = ["--error-logfile", str(errors), "--log-level", "debug"]  # the stock access log format
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None, token=None):
        req = urllib.request.Request(base + path, method=method, data=body,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    try:
        for _ in range(100):
            try:
                if call("GET", "/api/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        import json

        status, body = call("POST", "/api/auth/token", json.dumps({"username": "admin", "password": password}).encode())
        assert status == 201, body
        token = json.loads(body)["token"]
        assert call("GET", "/api/parks", token=token)[0] == 200
        assert call("GET", "/api/audit/verify", token=token)[0] == 200
        assert call("POST", "/api/auth/token", json.dumps({"username": "admin", "password": password + "x"}).encode())[0] == 401
        assert call("DELETE", "/api/auth/token", token=token)[0] == 204
    finally:
        server.terminate()
        server.wait(timeout=30)
    logs = access.read_text() + errors.read_text()
    assert "/api/parks" in access.read_text() and "POST /api/auth/token" in access.read_text()
    for secret in (password, token, TEST_SECRET):
        assert secret not in logs


# --- fieldcheck check-config -----------------------------------------------------------------------


@pytest.fixture
def cfg_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("FIELDCHECK_") or name in ("FLASK_DEBUG", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FIELDCHECK_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def _check(*args):
    from server.cli import main

    r = CliRunner().invoke(main, ["check-config", *args])
    return r.exit_code, r.output


def _keys(output: str) -> set[str]:
    return set(re.findall(r"\[(\w+)\]", output))


def test_check_config_names_each_unsafe_setting(cfg_env, tmp_path):
    cfg_env.setenv("FIELDCHECK_SECRET_KEY", "change-me")
    cfg_env.setenv("FLASK_DEBUG", "1")
    cfg_env.setenv("WEB_CONCURRENCY", "4")
    cfg_env.setenv("FIELDCHECK_TOKEN_TTL_HOURS", "720")
    code, out = _check()
    assert code == 0  # development: warnings only
    assert {"secret", "debug", "tls", "sqlite_workers", "token_ttl", "env"} <= _keys(out), out
    assert "FIELDCHECK_SECRET_KEY" in out and "FIELDCHECK_TRUSTED_PROXIES" in out
    cfg_env.setenv("FIELDCHECK_ENV", "production")
    code, out = _check()
    assert code == 1 and "ERROR [secret]" in out and "[env]" not in out


def test_check_config_finds_demo_accounts(cfg_env, tmp_path):
    import sqlalchemy as sa

    from server.cli import main

    cfg_env.setenv("FIELDCHECK_SECRET_KEY", "a-long-production-secret-0123456789abcdef")
    r = CliRunner().invoke(main, ["init", "--no-demo", "--password-stdin"], input="first-admin-password-9\n")
    assert r.exit_code == 0, r.output
    assert "demo_accounts" not in _keys(_check()[1])
    # An account as `fieldcheck demo` makes them (the demo city itself takes half a minute to build).
    from server import create_app
    from server.extensions import db
    from server.models import User

    with create_app().app_context():
        db.session.execute(sa.update(User).values(is_demo=True))
        db.session.commit()
    code, out = _check()
    assert "demo_accounts" in _keys(out), out


def test_check_config_quiet_and_zero_on_a_sound_production_setup(cfg_env, tmp_path):
    from server.cli import main

    cfg_env.setenv("FIELDCHECK_SECRET_KEY", "a-long-production-secret-0123456789abcdef")
    cfg_env.setenv("FIELDCHECK_ENV", "production")
    cfg_env.setenv("FIELDCHECK_TRUSTED_PROXIES", "1")
    r = CliRunner().invoke(main, ["init", "--no-demo", "--password-stdin"], input="first-admin-password-9\n")
    assert r.exit_code == 0, r.output
    code, out = _check("--workers", "2")
    assert code == 0 and "no problems found" in out, out
    # Several workers on SQLite, and a remote PostgreSQL without TLS, are named.
    code, out = _check("--workers", "8")
    assert code == 1 and _keys(out) == {"sqlite_workers"}, out
    cfg_env.setenv("FIELDCHECK_DATABASE_URL", "postgresql://fc:pw@db.example.internal/fieldcheck")
    from server.config import load_config
    from server.config_check import check

    keys = {p.key for p in check(load_config(), env={}, workers=4)}
    assert "db_tls" in keys and "sqlite_workers" not in keys
    assert "database" in keys  # that host does not exist: said, not raised
    cfg_env.setenv("FIELDCHECK_DATABASE_URL", "postgresql://fc:pw@db.example.internal/fieldcheck?sslmode=require")
    assert "db_tls" not in {p.key for p in check(load_config(), env={}, workers=4)}


def test_check_config_reads_workers_from_gunicorn_args(cfg_env):
    from server.config_check import _workers

    assert _workers({"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:80 --workers 5"}) == 5
    assert _workers({"GUNICORN_CMD_ARGS": "-w 3"}) == 3
    assert _workers({"GUNICORN_CMD_ARGS": "--workers=7"}) == 7
    assert _workers({"WEB_CONCURRENCY": "6"}) == 6
    assert _workers({}) is None


def test_secret_file_readable_by_others_is_named(cfg_env, tmp_path):
    from server.config import load_config
    from server.config_check import check

    cfg = load_config()  # makes the key file, mode 600
    key = Path(cfg["DATA_DIR"]) / "secret_key"
    assert "secret_file" not in {p.key for p in check(cfg, env={})}
    key.chmod(0o644)
    assert "secret_file" in {p.key for p in check(cfg, env={})}

"""fieldcheck: the Flask application factory."""
from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .config import is_default_secret, json_body_limit, load_config
from .db import configure_engine, engine_options, normalise_url, write_intent
from .extensions import api as rest_api, db

log = logging.getLogger("fieldcheck")

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    from .extensions import Request

    app.request_class = Request  # a chunked body over MAX_CONTENT_LENGTH is 413, not cut short
    cfg = load_config(config)
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_url(cfg["SQLALCHEMY_DATABASE_URI"])
    cfg.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        engine_options(cfg["SQLALCHEMY_DATABASE_URI"], cfg["SQLITE_BUSY_TIMEOUT_S"]),
    )
    app.config.update(cfg)
    if cfg["TRUSTED_PROXIES"]:
        # Behind N proxies (nginx), the client's address is in X-Forwarded-For; login
        # throttling per address needs the real one, not the proxy's 127.0.0.1.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = cfg["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from . import models  # noqa: F401  (register the tables)

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, cfg["SQLITE_BUSY_TIMEOUT_S"])

    from .extensions import Id

    app.url_map.converters["int"] = Id
    rest_api.init_app(app)
    from flask_smorest.spec.plugins import integerconverter2paramschema

    rest_api.register_converter(Id, integerconverter2paramschema)
    from .api import register_blueprints

    register_blueprints(app, rest_api)
    _register_security(app)
    _register_request_hooks(app)
    _register_error_handlers(app)

    from .api_docs import bp as docs_bp
    from .public_page import bp as public_bp
    from .pwa_static import bp as pwa_bp

    app.register_blueprint(docs_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(pwa_bp)

    from .cli import register_cli

    register_cli(app)

    if app.config["ENV"] == "production":
        _refuse_unsafe_production(app)
    return app


def _refuse_unsafe_production(app: Flask) -> None:
    """Production refuses to start on a default secret or while demo accounts exist."""
    problems = []
    if is_default_secret(app.config["SECRET_KEY"]):
        problems.append("the secret key is a default or too short (set FIELDCHECK_SECRET_KEY to 32+ random characters)")
    from .services.users import demo_accounts_exist

    with app.app_context():
        import sqlalchemy as sa

        # A database not yet migrated (`fieldcheck init` in production mode) has no accounts.
        if sa.inspect(db.engine).has_table("users") and demo_accounts_exist():
            problems.append("demo accounts exist (this database was built by `fieldcheck demo`; start from `fieldcheck init --no-demo`)")
    if problems:
        raise RuntimeError("refusing to start in production: " + "; ".join(problems))


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _intent():
        # Reads begin DEFERRED on SQLite; everything else takes the write lock at BEGIN.
        g._write_token = write_intent.set(request.method not in READ_METHODS)

    @app.before_request
    def _body_limit():
        # Only a photo upload (multipart, streamed to disk) may use MAX_CONTENT_LENGTH; any other
        # body is read whole into memory, so it gets the JSON limit: a chunked 50 MB body then
        # costs at most twice that in memory before its 413.
        if request.mimetype != "multipart/form-data":
            request.max_content_length = json_body_limit(app.config)

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("_write_token", None)
        if token is not None:
            write_intent.reset(token)


CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def _register_security(app: Flask) -> None:
    """Headers on every answer (API, PWA, docs, errors). The CSP allows only the app's own
    scripts (no inline script, no eval, no other origin); HSTS is sent on answers that went out
    over TLS (directly, or behind FIELDCHECK_TRUSTED_PROXIES proxies saying X-Forwarded-Proto:
    https), or always with FIELDCHECK_HSTS=on. No cookie is used (bearer tokens only); were Flask's
    session ever used, its cookie would be Secure, HttpOnly and SameSite=Strict."""
    hsts = app.config["HSTS"]
    hsts_value = f"max-age={app.config['HSTS_MAX_AGE_S']}"
    app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        if hsts == "on" or (hsts == "auto" and request.is_secure):
            resp.headers.setdefault("Strict-Transport-Security", hsts_value)
        return resp


def _register_error_handlers(app: Flask) -> None:
    from werkzeug.exceptions import default_exceptions

    from .services.errors import ServiceError

    @app.errorhandler(ServiceError)
    def _refused(err: ServiceError):
        """A service's refusal, in the API's error shape with its status."""
        db.session.rollback()  # never half a record
        payload, code, headers = rest_api.handle_http_exception(default_exceptions[err.status]())
        payload.update(message=str(err), errors=err.errors, **err.extra)
        return payload, code, headers

    @app.errorhandler(Exception)
    def _unexpected(err):
        """An unexpected error is logged and answered in the API's error shape."""
        if isinstance(err, HTTPException):
            return rest_api.handle_http_exception(err)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return rest_api.handle_http_exception(InternalServerError())

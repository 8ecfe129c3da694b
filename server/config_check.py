"""`fieldcheck check-config`: what in the settings would be unsafe in production.

Read from the same FIELDCHECK_* settings the app starts with (server/config.py), without
starting the app (which refuses to start in production on some of these), so an operator can run
it before the first start and after every change. Each problem is a sentence saying what to do.
"""
from __future__ import annotations

import os
import re
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from .config import is_default_secret

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "", None}


@dataclass(frozen=True)
class Problem:
    key: str  # a stable name, for tests and scripts
    message: str


def _workers(env) -> int | None:
    """The gunicorn workers the environment asks for (WEB_CONCURRENCY or GUNICORN_CMD_ARGS)."""
    args = shlex.split(env.get("GUNICORN_CMD_ARGS", ""))
    for i, arg in enumerate(args):
        if arg in ("-w", "--workers") and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        m = re.fullmatch(r"--workers=(\d+)", arg)
        if m:
            return int(m.group(1))
    if env.get("WEB_CONCURRENCY", "").isdigit():
        return int(env["WEB_CONCURRENCY"])
    return None


def _demo_accounts(url: str) -> bool | str | None:
    """Whether the database holds demo accounts; None when it is not made yet; the error's text
    when it cannot be read."""
    import sqlalchemy as sa

    from .db import engine_options, normalise_url

    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite" and not Path(make_url(url).database or "").exists():
        return None
    options = {k: v for k, v in engine_options(url, 5).items() if k in ("module", "connect_args")}
    if make_url(url).get_backend_name() == "postgresql":
        options["connect_args"] = {**options.get("connect_args", {}), "connect_timeout": 5}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, **options)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("users"):
                return None
            return bool(conn.execute(sa.text("SELECT count(*) FROM users WHERE is_demo")).scalar())
    except Exception as err:  # noqa: BLE001  (an unreachable database is reported, not raised)
        return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    finally:
        engine.dispose()


def check(cfg: dict, env=None, workers: int | None = None) -> list[Problem]:
    """The problems of these settings (cfg from server.config.load_config)."""
    env = os.environ if env is None else env
    problems: list[Problem] = []

    def add(key: str, message: str) -> None:
        problems.append(Problem(key, message))

    if is_default_secret(cfg["SECRET_KEY"]):
        add("secret", "the secret key is a default or shorter than 32 characters: set FIELDCHECK_SECRET_KEY to 32+ "
                      "random characters (or leave it unset so one is made and kept in the data dir)")
    key_file = Path(cfg["DATA_DIR"]) / "secret_key"
    if not env.get("FIELDCHECK_SECRET_KEY") and key_file.exists():
        mode = stat.S_IMODE(key_file.stat().st_mode)
        if mode & 0o077:
            add("secret_file", f"{key_file} can be read by other users (mode {mode:o}): chmod 600 it")
    if env.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes") or cfg.get("DEBUG"):
        add("debug", "debug mode is on (FLASK_DEBUG): it shows code and values to anyone who causes an error; unset it")
    tls_by_gunicorn = "--certfile" in env.get("GUNICORN_CMD_ARGS", "")
    if cfg["TRUSTED_PROXIES"] == 0 and not tls_by_gunicorn and cfg["HSTS"] != "on":
        add("tls", "no TLS is configured: the app speaks plain HTTP, so passwords and tokens cross the network in "
                   "clear. Put it behind a TLS proxy (nginx) and set FIELDCHECK_TRUSTED_PROXIES=1, or give gunicorn "
                   "--certfile/--keyfile in GUNICORN_CMD_ARGS")
    if cfg["HSTS"] not in ("auto", "on", "off"):
        add("hsts", f"FIELDCHECK_HSTS={cfg['HSTS']!r} is not one of auto, on, off (auto is used)")
    elif cfg["HSTS"] == "off":
        add("hsts", "FIELDCHECK_HSTS=off: browsers are never told to keep to https; use auto")
    url = make_url(cfg["SQLALCHEMY_DATABASE_URI"])
    n = workers if workers is not None else _workers(env)
    if url.get_backend_name() == "sqlite":
        if n is not None and n > 2:
            add("sqlite_workers", f"{n} web workers on SQLite queue for its one write lock; use at most 2 workers on "
                                  "SQLite, or PostgreSQL (FIELDCHECK_DATABASE_URL=postgresql://...) for more")
    elif url.get_backend_name() == "postgresql":
        if url.host not in LOCAL_HOSTS and url.query.get("sslmode") not in ("require", "verify-ca", "verify-full"):
            add("db_tls", f"the database at {url.host} is reached without TLS: add ?sslmode=require (or verify-full) "
                          "to FIELDCHECK_DATABASE_URL")
    demo = _demo_accounts(cfg["SQLALCHEMY_DATABASE_URI"])
    if isinstance(demo, str):
        add("database", f"the database cannot be read to look for demo accounts ({demo}); check "
                        "FIELDCHECK_DATABASE_URL and that the server is up")
    elif demo:
        add("demo_accounts", "demo accounts exist (with a published password): this database was built by "
                             "`fieldcheck demo`; start from `fieldcheck init --no-demo`")
    if cfg["TOKEN_TTL_HOURS"] > 24 * 7:
        add("token_ttl", f"tokens live {cfg['TOKEN_TTL_HOURS']} h: a lost phone stays logged in that long; "
                         "keep FIELDCHECK_TOKEN_TTL_HOURS at a week or less")
    if cfg["LOGIN_MAX_PER_USER"] > 20 or cfg["LOGIN_MAX_PER_USER"] < 1:
        add("login_throttle", f"FIELDCHECK_LOGIN_MAX_PER_USER={cfg['LOGIN_MAX_PER_USER']}: guessing passwords is "
                              "throttled only from 1 to 20 failures per window")
    if cfg["MAX_CONTENT_LENGTH"] > 100 * 1024 * 1024:
        add("body_limit", f"FIELDCHECK_MAX_BODY_BYTES={cfg['MAX_CONTENT_LENGTH']}: bodies over 100 MiB tie up a "
                          "worker; keep it near the photo limit")
    if cfg["PHOTO_STORE"] == "s3" and (cfg.get("S3_ENDPOINT_URL") or "").startswith("http://"):
        add("s3_tls", "the photo store is reached over plain http (FIELDCHECK_S3_ENDPOINT_URL): use https")
    if cfg["ENV"] != "production":
        add("env", f"FIELDCHECK_ENV={cfg['ENV']}: production refuses to start on a default secret or demo accounts "
                   "only with FIELDCHECK_ENV=production")
    return problems

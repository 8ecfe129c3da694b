"""Settings from FIELDCHECK_* environment variables, with embedded defaults.

The data dir holds the embedded database, the photos and the secret key, so that
one folder is the whole state of a one-machine install.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_SECRET_MARKERS = {"", "dev", "change-me", "changeme", "secret"}


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"FIELDCHECK_{name}", default)


def _load_or_create_secret(data_dir: Path) -> str:
    """A random secret made once per data dir and kept there (mode 600)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.replace(tmp, path)  # two workers starting at once keep one key
    return path.read_text().strip()


def load_config(overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    data_dir = Path(overrides.pop("DATA_DIR", None) or _env("DATA_DIR", "instance")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)  # the embedded database and photos live here
    db_url = overrides.pop("DATABASE_URL", None) or _env("DATABASE_URL") or f"sqlite:///{data_dir / 'fieldcheck.db'}"
    secret = overrides.pop("SECRET_KEY", None) or _env("SECRET_KEY") or _load_or_create_secret(data_dir)
    cfg = {
        "ENV": _env("ENV", "development"),
        "DATA_DIR": str(data_dir),
        "PHOTO_DIR": _env("PHOTO_DIR", str(data_dir / "photos")),
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "TIMEZONE": _env("TIMEZONE", "Asia/Shanghai"),
        # When the scheduler plans the next working day (HH:MM in the bureau's time zone).
        "PLAN_NEXT_DAY_AT": _env("PLAN_NEXT_DAY_AT", "18:00"),
        "TOKEN_TTL_HOURS": int(_env("TOKEN_TTL_HOURS", "12")),
        # Failed logins inside the window before 429: per username and per client address.
        "LOGIN_WINDOW_S": int(_env("LOGIN_WINDOW_S", "900")),
        "LOGIN_MAX_PER_USER": int(_env("LOGIN_MAX_PER_USER", "5")),
        "LOGIN_MAX_PER_ADDR": int(_env("LOGIN_MAX_PER_ADDR", "30")),
        # How many reverse proxies (nginx, a load balancer) stand in front of the app: 0 trusts
        # no X-Forwarded-* header (the default, safe when the app faces phones directly).
        "TRUSTED_PROXIES": int(_env("TRUSTED_PROXIES", "0")),
        # Strict-Transport-Security: auto (on answers that went out over https, as the request
        # or a trusted proxy's X-Forwarded-Proto says), on (always: TLS ends at a proxy that does not
        # say so), off.
        "HSTS": (_env("HSTS", "auto") or "auto").lower(),
        "HSTS_MAX_AGE_S": int(_env("HSTS_MAX_AGE_S", str(365 * 24 * 3600))),
        "MAX_CONTENT_LENGTH": int(_env("MAX_BODY_BYTES", str(25 * 1024 * 1024))),
        # Any body but a photo upload (JSON): read whole into memory, so kept much smaller.
        "MAX_JSON_BYTES": int(_env("MAX_JSON_BYTES", str(5 * 1024 * 1024))),
        "SQLITE_BUSY_TIMEOUT_S": float(_env("SQLITE_BUSY_TIMEOUT_S", "30")),
        # Photos (server/services/photos.py): where they live, what is accepted, what the phone is told.
        "PHOTO_STORE": _env("PHOTO_STORE", "local"),  # local (PHOTO_DIR) or s3 (the S3_* settings)
        "PHOTO_MAX_BYTES": int(_env("PHOTO_MAX_BYTES", str(20 * 1024 * 1024))),
        # Larger images are refused before decoding (a decompression bomb); 50 MP passes any phone.
        "PHOTO_MAX_PIXELS": int(_env("PHOTO_MAX_PIXELS", "50000000")),
        "PHOTO_DISPLAY_PX": int(_env("PHOTO_DISPLAY_PX", "1600")),
        "PHOTO_THUMB_PX": int(_env("PHOTO_THUMB_PX", "320")),
        # What the phone shrinks a photo to before it hashes and queues it (advertised by /api/me/today).
        "PHOTO_LONG_EDGE_PX": int(_env("PHOTO_LONG_EDGE_PX", "2048")),
        "PHOTO_JPEG_QUALITY": float(_env("PHOTO_JPEG_QUALITY", "0.85")),
        # EXIF against the phone's claim: a larger difference is flagged on the photo.
        "PHOTO_GPS_MISMATCH_M": float(_env("PHOTO_GPS_MISMATCH_M", "100")),
        "PHOTO_TIME_MISMATCH_S": float(_env("PHOTO_TIME_MISMATCH_S", "900")),
        # The sweep leaves younger files alone, so an upload in flight is never taken.
        "PHOTO_SWEEP_MIN_AGE_S": int(_env("PHOTO_SWEEP_MIN_AGE_S", "3600")),
        "S3_ENDPOINT_URL": _env("S3_ENDPOINT_URL"),
        "S3_BUCKET": _env("S3_BUCKET"),
        "S3_ACCESS_KEY_ID": _env("S3_ACCESS_KEY_ID"),
        "S3_SECRET_ACCESS_KEY": _env("S3_SECRET_ACCESS_KEY"),
        "S3_REGION": _env("S3_REGION"),
        "S3_PREFIX": _env("S3_PREFIX", "photos/"),
        # Webhooks (server/services/webhooks.py, docs/integrations.md): a short timeout per POST, then
        # retries after BACKOFF_S, 2x, 4x ... (at most BACKOFF_MAX_S apart) until MAX_ATTEMPTS.
        "WEBHOOK_POLL_S": int(_env("WEBHOOK_POLL_S", "30")),  # how often the scheduler looks for due ones
        "WEBHOOK_TIMEOUT_S": float(_env("WEBHOOK_TIMEOUT_S", "5")),
        "WEBHOOK_MAX_ATTEMPTS": int(_env("WEBHOOK_MAX_ATTEMPTS", "8")),
        "WEBHOOK_BACKOFF_S": float(_env("WEBHOOK_BACKOFF_S", "60")),
        "WEBHOOK_BACKOFF_MAX_S": float(_env("WEBHOOK_BACKOFF_MAX_S", "21600")),
        # Delivered and given-up deliveries older than this are purged by the worker.
        "WEBHOOK_KEEP_DAYS": int(_env("WEBHOOK_KEEP_DAYS", "30")),
        # Sync health (server/services/devices.py): when a phone needs a person's attention.
        "SYNC_HEALTH_SILENT_HOURS": float(_env("SYNC_HEALTH_SILENT_HOURS", "8")),
        "SYNC_HEALTH_OLDEST_HOURS": float(_env("SYNC_HEALTH_OLDEST_HOURS", "24")),
        "SYNC_HEALTH_NEAR_QUOTA": float(_env("SYNC_HEALTH_NEAR_QUOTA", "0.8")),
        # Official documents (server/services/documents.py, docs/documents.md): the font with the
        # Chinese glyphs (TTF, OTF or a collection; default: Debian's fonts-wqy-microhei), and the
        # address staff open the app at, which the documents' QR codes point to (default: the
        # address the request came to).
        "PDF_FONT": _env("PDF_FONT"),
        "PUBLIC_URL": _env("PUBLIC_URL"),
        # flask-smorest / OpenAPI
        "API_TITLE": "fieldcheck",
        "API_VERSION": "0.1.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        # /api/docs is served by server/api_docs.py from the swagger-ui-bundle package
        # (no CDN: the bureau's network may have none, and the CSP allows only our files).
        "JSON_SORT_KEYS": False,
    }
    cfg.update(overrides)
    return cfg


def json_body_limit(cfg) -> int:
    """The largest body other than a photo upload: MAX_JSON_BYTES, never above MAX_CONTENT_LENGTH."""
    limits = [v for v in (cfg.get("MAX_JSON_BYTES"), cfg.get("MAX_CONTENT_LENGTH")) if v]
    return min(limits) if limits else None


def is_default_secret(secret: str) -> bool:
    return secret.strip().lower() in DEFAULT_SECRET_MARKERS or len(secret) < 32

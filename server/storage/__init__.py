"""Photo storage: `photo_store()` answers the store the app is configured for.

FIELDCHECK_PHOTO_STORE=local (the default) keeps photos under FIELDCHECK_PHOTO_DIR;
FIELDCHECK_PHOTO_STORE=s3 keeps them in the bucket FIELDCHECK_S3_BUCKET of an S3-compatible
store (FIELDCHECK_S3_ENDPOINT_URL, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY, _REGION, _PREFIX).
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from .base import (
    DERIVED, PhotoStore, StorageUnavailable, StoredObject, check_key, derived_key, original_key, sha_of_key,
)
from .local import LocalStore

_EXT_KEY = "fieldcheck_photo_store"


def build_store(cfg: dict) -> PhotoStore:
    kind = (cfg.get("PHOTO_STORE") or "local").lower()
    if kind == "local":
        return LocalStore(cfg["PHOTO_DIR"])
    if kind == "s3":
        from .s3 import S3Store

        return S3Store(
            cfg.get("S3_BUCKET") or "", spool_dir=Path(cfg["DATA_DIR"]) / "photo-spool",
            endpoint_url=cfg.get("S3_ENDPOINT_URL"), access_key_id=cfg.get("S3_ACCESS_KEY_ID"),
            secret_access_key=cfg.get("S3_SECRET_ACCESS_KEY"), region=cfg.get("S3_REGION"),
            prefix=cfg.get("S3_PREFIX", "photos/"),
        )
    raise ValueError(f"FIELDCHECK_PHOTO_STORE must be 'local' or 's3', not {kind!r}")


def photo_store(app=None) -> PhotoStore:
    """The app's store, made once per app (an S3 client is reused across requests)."""
    app = app or current_app
    store = app.extensions.get(_EXT_KEY)
    if store is None:
        store = app.extensions[_EXT_KEY] = build_store(app.config)
    return store


__all__ = [
    "DERIVED", "LocalStore", "PhotoStore", "StorageUnavailable", "StoredObject", "build_store", "check_key",
    "derived_key", "original_key", "photo_store", "sha_of_key",
]

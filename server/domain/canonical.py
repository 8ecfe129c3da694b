"""Canonical JSON and its hash: the one way fieldcheck decides that two records are the same."""
from __future__ import annotations

import hashlib
import json
from typing import Any


# json.dumps(obj, **these) makes this very encoder on every call; one made once writes the same.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(obj: Any) -> str:
    return sha256_hex(canonical_json(obj))

"""Keyset cursors, one way for every list: opaque to the client, tied to the list and the
filters that made them.

A cursor carries the last row's sort key and a fingerprint of the list's name and its
filters. It comes back refused (422 naming `cursor`) when it is sent with other filters,
to another list, or altered into a key the list cannot use. It is not a secret: the key
only says where the next page starts, and every query still applies the caller's park
scope, so a hand-made cursor shows nothing the caller could not page to anyway.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable, Sequence

from ..domain.canonical import canonical_json, content_hash
from .errors import ServiceError

MAX_ID = 2**31 - 1  # an id past this fits neither engine's integer column: it names nothing


def _fingerprint(kind: str, filters) -> str:
    if dataclasses.is_dataclass(filters):
        filters = dataclasses.asdict(filters)
    return content_hash({"list": kind, "filters": filters})[:16]


def encode(kind: str, filters, key: Sequence) -> str:
    """The cursor of the page after the row whose sort key is `key` (JSON values)."""
    raw = canonical_json({"f": _fingerprint(kind, filters), "k": list(key)})
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(kind: str, filters, text: str, parts: Sequence[Callable]) -> tuple:
    """The sort key in a cursor, each part read by its reader in `parts` (see below).

    Refused with a 422 naming `cursor` when the text is not a cursor, was made by another
    list or for other filters, or holds a key of another shape.
    """
    bad = ServiceError("this cursor was not made by this list or belongs to other filters; "
                       "ask again without cursor", ("cursor",), location="query")
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        fingerprint, key = data["f"], data["k"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise bad from None
    if fingerprint != _fingerprint(kind, filters) or not isinstance(key, list) or len(key) != len(parts):
        raise bad
    try:
        return tuple(read(value) for read, value in zip(parts, key))
    except (TypeError, ValueError):
        raise bad from None


# Readers of key parts: each answers the value or raises ValueError.

def an_id(value) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value


def a_small_int(value) -> int:
    if type(value) is not int or not -32768 <= value <= 32767:
        raise ValueError("not a small integer")
    return value


def a_number(value) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def a_date(value) -> dt.date:
    if type(value) is not str:
        raise ValueError("not a date")
    return dt.date.fromisoformat(value)


def a_uuid(value) -> uuid.UUID:
    if type(value) is not str:
        raise ValueError("not a UUID")
    return uuid.UUID(value)

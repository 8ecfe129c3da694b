"""Where photo bytes live: one small interface, a local folder and an S3-compatible object store.

Keys are content addresses: an original is stored under its SHA-256 (64 hex digits), its
derived copies beside it (`<sha256>.thumb.jpg`, `<sha256>.display.jpg`). A key therefore
always names the same bytes, so writing one twice is harmless and nothing is ever changed in
place. Every write is atomic (a temporary file renamed into place, or one object PUT): a
reader sees the whole file or none of it.
"""
from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

KEY_RE = re.compile(r"[0-9a-f]{64}(\.(thumb|display)\.jpg)?")  # whole names only: fullmatch
DERIVED = ("thumb", "display")


def original_key(sha256: str) -> str:
    return check_key(sha256)


def derived_key(sha256: str, kind: str) -> str:
    if kind not in DERIVED:
        raise ValueError(f"unknown derived copy {kind!r}")
    return check_key(f"{sha256}.{kind}.jpg")


def sha_of_key(key: str) -> str:
    return key[:64]


def check_key(key: str) -> str:
    """Refuse anything but a content address: no path can be smuggled in through a key."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValueError(f"not a photo key: {key!r}")
    return key


class StorageUnavailable(OSError):
    """The store could not be reached or refused the request (the phone keeps the photo and retries)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: dt.datetime  # aware, UTC


class PhotoStore(abc.ABC):
    """The operations the photo service needs, and nothing engine-specific."""

    kind: str

    @abc.abstractmethod
    def spool(self) -> tuple[BinaryIO, Path]:
        """A new temporary file (open for writing) to receive an upload before `put`.

        It lives where the sweep finds it if the process dies before `put` or `discard`.
        """

    def prepare(self, temp: Path) -> None:
        """Make a spooled file durable ahead of `put`, so that `put` only has to rename it.
        Runs in a thread while the photo is decoded; nothing to do for an object store."""

    @abc.abstractmethod
    def discard(self, temp: Path) -> None:
        """Remove a spooled file that will not be stored (a refused upload)."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes | Path, content_type: str = "application/octet-stream") -> None:
        """Store atomically. A Path is a file from `spool()` and is consumed (moved or removed).

        Storing a key that exists refreshes its age, so a sweep running at the same moment
        never takes a file an upload is about to point a row at.
        """

    @abc.abstractmethod
    def get(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def open(self, key: str) -> tuple[BinaryIO, int]:
        """A readable stream of the stored bytes and their length (FileNotFoundError when absent).
        The caller closes the stream."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The stored size in bytes, or None when the key is absent."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove a key (absent is fine)."""

    @abc.abstractmethod
    def delete_if_unchanged(self, obj: StoredObject) -> bool:
        """Delete only if the key is still as old as when it was listed: a sweep must not take
        a file an upload stored again in the meantime. Answer whether it was deleted."""

    @abc.abstractmethod
    def list(self) -> Iterator[StoredObject]:
        """Every stored key with its size and age (temporary files excluded)."""

    @abc.abstractmethod
    def sweep_temp(self, older_than: dt.datetime) -> int:
        """Remove spooled files older than the cutoff (uploads that died); answer how many."""

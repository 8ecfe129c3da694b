"""Photos in a folder on this machine (the default): `<root>/<ab>/<sha256>` and the derived
copies beside the original; uploads are spooled in `<root>/tmp/` on the same file system, so
storing one is a rename."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import KEY_RE, PhotoStore, StoredObject, check_key

TEMP_DIR = "tmp"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(st: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc)


class LocalStore(PhotoStore):
    kind = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.temp_dir = self.root / TEMP_DIR
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key

    def spool(self) -> tuple[BinaryIO, Path]:
        fh = tempfile.NamedTemporaryFile(dir=self.temp_dir, prefix="upload-", delete=False)
        return fh, Path(fh.name)

    def prepare(self, temp: Path) -> None:
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())

    def discard(self, temp: Path) -> None:
        Path(temp).unlink(missing_ok=True)

    def put(self, key: str, data: bytes | Path, content_type: str = "application/octet-stream") -> None:
        final = self._path(key)
        final.parent.mkdir(exist_ok=True)
        if isinstance(data, (bytes, bytearray, memoryview)):
            fd, name = tempfile.mkstemp(dir=self.temp_dir, prefix="put-")
            temp = Path(name)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
        else:
            temp = Path(data)
            with open(temp, "rb") as fh:
                os.fsync(fh.fileno())  # the bytes are on disk before the name points at them (quick after prepare)
        # Replacing an existing key puts identical bytes there and makes the file young again,
        # so a sweep running now cannot take it from the row about to name it.
        os.replace(temp, final)
        _fsync_dir(final.parent)  # the rename itself survives a power cut

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def open(self, key: str) -> tuple[BinaryIO, int]:
        fh = open(self._path(key), "rb")
        return fh, os.fstat(fh.fileno()).st_size

    def path(self, key: str) -> Path:
        return self._path(key)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_if_unchanged(self, obj: StoredObject) -> bool:
        """Delete only if the file is still as old as when it was listed (not just re-stored)."""
        path = self._path(obj.key)
        try:
            if _mtime(path.stat()) != obj.modified:
                return False
        except FileNotFoundError:
            return False
        path.unlink(missing_ok=True)
        return True

    def list(self) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if len(shard.name) != 2 or not shard.is_dir():
                continue
            with os.scandir(shard) as entries:
                for entry in entries:
                    if not KEY_RE.fullmatch(entry.name) or entry.name[:2] != shard.name:
                        continue
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield StoredObject(entry.name, st.st_size, _mtime(st))

    def temp_files(self) -> list[Path]:
        return sorted(p for p in self.temp_dir.iterdir() if p.is_file())

    def sweep_temp(self, older_than: dt.datetime) -> int:
        removed = 0
        for path in self.temp_files():
            try:
                if _mtime(path.stat()) < older_than:
                    path.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

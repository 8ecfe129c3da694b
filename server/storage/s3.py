"""Photos in an S3-compatible object store (AWS S3, MinIO, Ceph, a cloud's OSS), for
deployments on several machines. One PUT per object is atomic: the object appears whole or
not at all. Uploads are spooled on local disk first (the hash is checked before anything
reaches the bucket)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import KEY_RE, PhotoStore, StorageUnavailable, StoredObject, check_key


def _md5_b64(data: bytes | Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    if isinstance(data, Path):
        with open(data, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(data)
    return base64.b64encode(h.digest()).decode()


class S3Store(PhotoStore):
    kind = "s3"

    def __init__(self, bucket: str, *, spool_dir: str | Path, endpoint_url: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 region: str | None = None, prefix: str = "photos/"):
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValueError("the S3 photo store needs a bucket (FIELDCHECK_S3_BUCKET)")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        config = Config(
            # A custom endpoint (MinIO, a test server) is addressed by path, not by a bucket subdomain.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5, read_timeout=60,
            # Many S3-compatible stores refuse the SDK's newer streamed checksums; every PUT
            # carries Content-MD5 instead, which all of them verify.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None, region_name=region or "us-east-1", config=config,
        )
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)
        self._client_error = ClientError

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}{key[:2]}/{key}"

    def _missing(self, err) -> bool:
        code = str(err.response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as err:
            if isinstance(err, self._client_error) and self._missing(err):
                raise FileNotFoundError(what) from err
            raise StorageUnavailable(f"the photo store ({self.bucket}) failed to {what}: {err}") from err

    def spool(self) -> tuple[BinaryIO, Path]:
        fh = tempfile.NamedTemporaryFile(dir=self.spool_dir, prefix="upload-", delete=False)
        return fh, Path(fh.name)

    def discard(self, temp: Path) -> None:
        Path(temp).unlink(missing_ok=True)

    def put(self, key: str, data: bytes | Path, content_type: str = "application/octet-stream") -> None:
        target = self._key(key)
        md5 = _md5_b64(data)
        if isinstance(data, Path):
            try:
                with open(data, "rb") as fh:
                    self._call(f"store {key}", self.client.put_object, Bucket=self.bucket, Key=target, Body=fh,
                               ContentType=content_type, ContentMD5=md5)
            finally:
                data.unlink(missing_ok=True)
        else:
            self._call(f"store {key}", self.client.put_object, Bucket=self.bucket, Key=target, Body=bytes(data),
                       ContentType=content_type, ContentMD5=md5)

    def get(self, key: str) -> bytes:
        body, _size = self.open(key)
        try:
            return self._call(f"read {key}", body.read)
        finally:
            body.close()

    def open(self, key: str) -> tuple[BinaryIO, int]:
        answer = self._call(f"read {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return answer["Body"], int(answer["ContentLength"])

    def size(self, key: str) -> int | None:
        try:
            head = self._call(f"look up {key}", self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            return None
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def delete_if_unchanged(self, obj: StoredObject) -> bool:
        """Delete only if the object has not been stored again since it was listed."""
        try:
            head = self._call(f"look up {obj.key}", self.client.head_object, Bucket=self.bucket, Key=self._key(obj.key))
        except FileNotFoundError:
            return False
        if head["LastModified"].astimezone(dt.timezone.utc) != obj.modified:
            return False
        self.delete(obj.key)
        return True

    def list(self) -> Iterator[StoredObject]:
        pages = iter(self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix))
        while True:
            page = self._call("list the photos", next, pages, None)  # one page (1000 keys) at a time
            if page is None:
                return
            for item in page.get("Contents", ()):
                name = item["Key"].rsplit("/", 1)[-1]
                if KEY_RE.fullmatch(name) and item["Key"] == self._key(name):
                    yield StoredObject(name, int(item["Size"]), item["LastModified"].astimezone(dt.timezone.utc))

    def temp_files(self) -> list[Path]:
        return sorted(p for p in self.spool_dir.iterdir() if p.is_file())

    def sweep_temp(self, older_than: dt.datetime) -> int:
        removed = 0
        for path in self.temp_files():
            try:
                if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc) < older_than:
                    path.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

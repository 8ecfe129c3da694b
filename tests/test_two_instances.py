"""More than one machine: two gunicorn instances on different ports, each with its own data dir
(as two web machines would have), against one PostgreSQL database and one S3-compatible photo
store (moto's standalone server on loopback), as docs/operations.md sets them up.

What a person would notice: a visit synced through A is in the queue read through B; a photo
uploaded to A is served by B; the same batch retried through B after A answered is a duplicate,
not a second record, and so is the same batch sent to both at the same moment; the queue's
cursor from one instance pages on the other."""
from __future__ import annotations

import hashlib
import json
import threading
import uuid
from urllib.parse import quote

import pytest

from bench._server import Server, login, request, upload_photo
from tests.conftest import PG_URL, TEST_SECRET, need
from tests.sync_helpers import HENGDA, JIANGHAI, failing, finding, fix_near, load_field_data, visit
from tests.test_storage import s3_endpoint  # noqa: F401  (the session's moto server)
from tests.world import PASSWORD


def _record(field, site, photo_ids=()):
    rec = visit(field["sites"][site], [field["users"]["insp1"], field["users"]["insp2"]],
                location=fix_near(site, 25), findings=[finding(photo_ids=[str(p) for p in photo_ids])])
    return failing(rec, "SAF-012")


def _sync(port, token, records, device="phone-a"):
    status, data = request(port, "POST", "/api/sync", {"device_id": device, "visits": records}, token)
    assert status == 200, data[:500]
    return json.loads(data)


@pytest.mark.slow
def test_two_instances_share_one_database_and_one_photo_store(templates, tmp_path, s3_endpoint,  # noqa: F811
                                                              shared_fixtures):
    import boto3

    from server import create_app
    from server.extensions import db

    need(bool(PG_URL), "FIELDCHECK_TEST_DATABASE_URL is not set: several instances need PostgreSQL")
    url = templates.copy("postgis", tmp_path)
    try:
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "setup"), "SECRET_KEY": TEST_SECRET})
        field = load_field_data(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        bucket = f"fieldcheck-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test-key", aws_secret_access_key="test-secret",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        s3 = {"PHOTO_STORE": "s3", "S3_ENDPOINT_URL": s3_endpoint, "S3_BUCKET": bucket, "S3_ACCESS_KEY_ID": "test-key",
              "S3_SECRET_ACCESS_KEY": "test-secret", "S3_REGION": "us-east-1"}
        a = Server(url, tmp_path / "a", workers=1, secret=TEST_SECRET, **s3).start()
        try:
            b = Server(url, tmp_path / "b", workers=1, secret=TEST_SECRET, **s3).start()
            try:
                _through_either(a.port, b.port, field, shared_fixtures)
            finally:
                b.stop()
        finally:
            a.stop()
    finally:
        templates.drop(url)


def _through_either(a: int, b: int, field: dict, shared_fixtures) -> None:
    token = login(a, "insp1", PASSWORD)  # a token made through A is good on B: it lives in the database

    # Sync through A, the retry through B: a duplicate answered as the first time, one record stored.
    pid = uuid.uuid4()
    rec = _record(field, HENGDA, [pid])
    first = _sync(a, token, [rec])["results"][0]
    assert first["status"] == "created", first
    again = _sync(b, token, [rec])["results"][0]
    assert again["status"] == "duplicate" and again["visit"] == first["visit"]

    # The supervisor's queue through B shows the finding synced through A.
    sup = login(b, "sup1", PASSWORD)
    status, data = request(b, "GET", "/api/findings?limit=200", token=sup)
    assert status == 200
    ids = [row["id"] for row in json.loads(data)["items"]]
    fid = rec["findings"][0]["id"]
    assert ids.count(fid) == 1

    # A photo uploaded to A is served by B, byte for byte; the same upload to B is a replay.
    jpeg = sorted((shared_fixtures / "photos" / "gps").glob("*.jpg"))[0].read_bytes()
    status, data = upload_photo(a, token, str(pid), jpeg, fid, "2026-11-26T09:15:00+08:00")
    assert status == 201, data[:300]
    status, served = request(b, "GET", f"/api/photos/{pid}", token=sup)
    assert status == 200 and hashlib.sha256(served).hexdigest() == hashlib.sha256(jpeg).hexdigest()
    status, thumb = request(b, "GET", f"/api/photos/{pid}/thumb", token=sup)
    assert status == 200 and thumb[:2] == b"\xff\xd8"
    status, data = upload_photo(b, token, str(pid), jpeg, fid, "2026-11-26T09:15:00+08:00")
    assert status == 200, data[:300]  # already stored: answered, not stored again

    # One batch sent to both at the same moment: one of them creates it, the other answers duplicate.
    batch = [_record(field, JIANGHAI) for _ in range(3)]
    answers = {}

    def send(name, port):
        answers[name] = _sync(port, token, batch, device="phone-b")

    threads = [threading.Thread(target=send, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i, rec in enumerate(batch):
        statuses = sorted(answers[n]["results"][i]["status"] for n in ("a", "b"))
        assert statuses == ["created", "duplicate"], statuses
    status, data = request(a, "GET", "/api/findings?limit=200", token=sup)
    ids = [row["id"] for row in json.loads(data)["items"]]
    for rec in batch:
        assert ids.count(rec["findings"][0]["id"]) == 1

    # The queue's cursor from A pages on B (the instances share the secret that signs it).
    seen = []
    status, data = request(a, "GET", "/api/findings?limit=2", token=sup)
    page = json.loads(data)
    seen += [r["id"] for r in page["items"]]
    port = b
    while page.get("next_cursor"):
        status, data = request(port, "GET", f"/api/findings?limit=2&cursor={quote(page['next_cursor'])}", token=sup)
        assert status == 200, data[:300]
        page = json.loads(data)
        seen += [r["id"] for r in page["items"]]
        port = a if port == b else b
    assert len(seen) == len(set(seen)) == len(ids)

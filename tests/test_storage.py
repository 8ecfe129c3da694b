"""The photo store's contract, run against the local folder and against an S3-compatible
server over HTTP (moto's standalone server, started here on a free loopback port), and one
upload end to end through the app configured for S3, on both database engines."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import uuid

import pytest

from tests.conftest import need
from tests.photo_helpers import image_bytes, make_records, upload


@pytest.fixture(scope="session")
def s3_endpoint():
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        need(False, "moto[server] is not installed (pip install 'moto[server]'), so the S3 store cannot be tested")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint):
    import boto3

    bucket = f"fieldcheck-{uuid.uuid4().hex[:12]}"
    settings = {"PHOTO_STORE": "s3", "S3_ENDPOINT_URL": s3_endpoint, "S3_BUCKET": bucket,
                "S3_ACCESS_KEY_ID": "test-key", "S3_SECRET_ACCESS_KEY": "test-secret", "S3_REGION": "us-east-1",
                "S3_PREFIX": "photos/"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id="test-key",
                          aws_secret_access_key="test-secret", region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    settings["client"] = client
    return settings


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    from server.storage import LocalStore, build_store

    if request.param == "local":
        return LocalStore(tmp_path / "photos")
    settings = request.getfixturevalue("s3_settings")
    return build_store({**{k: v for k, v in settings.items() if k != "client"}, "DATA_DIR": str(tmp_path)})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_get_list_delete(store):
    data = b"\xff\xd8\xff" + os.urandom(3000)
    key = _sha(data)
    assert not store.exists(key) and store.size(key) is None
    store.put(key, data, "image/jpeg")
    assert store.exists(key) and store.size(key) == len(data)
    assert store.get(key) == data
    stream, size = store.open(key)
    try:
        assert size == len(data) and stream.read() == data
    finally:
        stream.close()
    thumb = key + ".thumb.jpg"
    store.put(thumb, b"small")
    listed = {o.key: o for o in store.list()}
    assert set(listed) == {key, thumb}
    assert listed[key].size == len(data)
    assert abs((dt.datetime.now(dt.timezone.utc) - listed[key].modified).total_seconds()) < 60
    store.delete(key)
    store.delete(key)  # absent is fine
    assert not store.exists(key) and {o.key for o in store.list()} == {thumb}
    with pytest.raises(FileNotFoundError):
        store.get(key)


def test_spooled_file_is_moved_into_place_and_refusals_are_discarded(store):
    data = os.urandom(5000)
    fh, temp = store.spool()
    with fh:
        fh.write(data)
    assert temp in store.temp_files()
    store.put(_sha(data), temp)
    assert store.get(_sha(data)) == data
    assert store.temp_files() == [], "a stored upload leaves no temporary file"
    fh, temp = store.spool()
    with fh:
        fh.write(b"refused")
    store.discard(temp)
    assert store.temp_files() == [] and list(store.list())[0].key == _sha(data)


def test_keys_are_content_addresses_only(store):
    for bad in ("../../etc/passwd", "abc", "A" * 64, _sha(b"x") + ".png", _sha(b"x") + "/x", "", _sha(b"x") + "\n"):
        with pytest.raises(ValueError):
            store.put(bad, b"x")
        with pytest.raises(ValueError):
            store.get(bad)


def test_storing_a_key_again_makes_it_young_so_the_sweep_spares_it(store):
    data = b"same bytes"
    key = _sha(data)
    store.put(key, data)
    listed = next(o for o in store.list() if o.key == key)
    time.sleep(1.1)  # object stores keep whole seconds
    store.put(key, data)
    assert store.get(key) == data
    assert not store.delete_if_unchanged(listed), "re-stored since listed: not swept"
    assert store.exists(key)
    fresh = next(o for o in store.list() if o.key == key)
    assert fresh.modified > listed.modified
    assert store.delete_if_unchanged(fresh) and not store.exists(key)


def test_sweep_temp_takes_only_old_spooled_files(store):
    fh, old = store.spool()
    fh.close()
    fh, young = store.spool()
    fh.close()
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert store.sweep_temp(dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)) == 1
    assert store.temp_files() == [young]


def test_local_put_that_fails_leaves_no_file(tmp_path, monkeypatch):
    from server.storage import LocalStore

    store = LocalStore(tmp_path / "photos")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.put(_sha(b"x"), b"x")
    assert list(store.list()) == [] and store.temp_files() == []


def test_unreachable_object_store_is_a_clear_error(tmp_path):
    import socket

    from server.storage import StorageUnavailable, build_store

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = build_store({"PHOTO_STORE": "s3", "S3_BUCKET": "b", "S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                         "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s", "DATA_DIR": str(tmp_path)})
    with pytest.raises(StorageUnavailable, match="photo store"):
        store.put(_sha(b"x"), b"x")


def test_upload_end_to_end_with_the_app_on_s3(app, client, auth, s3_settings, shared_fixtures):
    from server.services.photos import sweep
    from server.storage import photo_store

    s3 = s3_settings.pop("client")
    app.config.update(s3_settings)
    assert photo_store(app).kind == "s3"
    records = make_records(app)
    h = auth.headers("insp1")
    data = (shared_fixtures / "photos" / "mobile" / "jolla.jpg").read_bytes()
    pid = uuid.uuid4()
    r = upload(client, h, pid, data, finding_id=records["finding_id"])
    assert r.status_code == 201, r.get_json()
    sha = _sha(data)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_settings["S3_BUCKET"])["Contents"]}
    assert keys == {f"photos/{sha[:2]}/{sha}{tail}" for tail in ("", ".thumb.jpg", ".display.jpg")}
    stored = s3.get_object(Bucket=s3_settings["S3_BUCKET"], Key=f"photos/{sha[:2]}/{sha}")
    assert stored["Body"].read() == data and stored["ContentType"] == "image/jpeg"
    original = client.get(f"/api/photos/{pid}", headers=h)
    assert original.status_code == 200 and original.data == data
    thumb = client.get(f"/api/photos/{pid}/thumb", headers=h)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert upload(client, h, pid, data, finding_id=records["finding_id"]).status_code == 200
    # The sweep over the bucket: an unreferenced object goes, the photo's three stay.
    orphan = image_bytes(fmt="JPEG")
    photo_store(app).put(_sha(orphan), orphan)
    with app.app_context():
        result = sweep(now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2))
    assert result["unreferenced_removed"] == 1
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_settings["S3_BUCKET"])["Contents"]}
    assert len(keys) == 3 and all(sha in k for k in keys)
    assert list((os.scandir(os.path.join(app.config["DATA_DIR"], "photo-spool")))) == []

"""Photo ingest and serving, through the API on both engines, with the real fixture photos:
every one stored upright with the right GPS or refused with a clear 4xx, nothing half-written."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image, ImageChops, ImageStat

from tests.photo_helpers import (
    add_waiting, exif_gps_by_hand, image_bytes, make_records, png_declaring, store_listing, temp_files, upload,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def records(app):
    return make_records(app)


@pytest.fixture
def photos_dir(shared_fixtures):
    return shared_fixtures / "photos"


def _thumb(client, headers, photo_id, kind="thumb") -> Image.Image:
    r = client.get(f"/api/photos/{photo_id}/{kind}", headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.headers["Content-Type"] == "image/jpeg"
    im = Image.open(io.BytesIO(r.data))
    im.load()
    return im


def _assert_clean_refusal(app, r, before: set[str]):
    assert 400 <= r.status_code < 500, (r.status_code, r.get_json())
    body = r.get_json()
    assert body["message"] and len(body["message"]) > 20, body
    assert store_listing(app) == before, "a refused upload left a file in the store"
    assert temp_files(app) == [], "a refused upload left a temporary file"


def _photo_row(app, photo_id):
    from server.extensions import db
    from server.models import Photo

    with app.app_context():
        row = db.session.get(Photo, photo_id)
        db.session.expunge_all()
        return row


# --- every fixture photo --------------------------------------------------------------------------


def test_orientation_fixtures_are_stored_upright(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    thumbs = {}
    for path in sorted((photos_dir / "orientation").glob("*.jpg")):
        pid = uuid.uuid4()
        r = upload(client, h, pid, path.read_bytes(), finding_id=records["finding_id"])
        assert r.status_code == 201, (path.name, r.get_json())
        thumbs[path.name] = _thumb(client, h, pid)
        display = _thumb(client, h, pid, "display")
        body = r.get_json()
        if path.name == "portrait_6.jpg":
            assert (body["width"], body["height"]) == (450, 600)
            assert thumbs[path.name].size == (240, 320), "portrait_6 is stored 600x450 turned: upright it stands"
        else:
            assert (body["width"], body["height"]) == (600, 450), path.name
            assert thumbs[path.name].size == (320, 240), (path.name, thumbs[path.name].size)
        assert display.size == (body["width"], body["height"]), "no upscaling past the original"
    # The eight landscape files are one scene stored eight ways: upright, they are one picture.
    # (Each file also carries its own number drawn on it, so they differ a little even upright.)
    reference = thumbs["landscape_1.jpg"].convert("L")

    def diff(a, b):
        return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]

    for n in range(2, 9):
        thumb = thumbs[f"landscape_{n}.jpg"].convert("L")
        upright = diff(reference, thumb)
        assert upright < 25, f"landscape_{n}.jpg is not upright (mean difference {upright:.1f} from landscape_1)"
        for wrong in (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_180):
            assert diff(reference, thumb.transpose(wrong)) > 2 * upright, (n, wrong)
    assert temp_files(app) == []


def test_gps_fixtures_keep_their_exif_position(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    files = sorted((photos_dir / "gps").glob("*.jpg"))
    assert len(files) >= 9
    for path in files:
        data = path.read_bytes()
        lon, lat = exif_gps_by_hand(data)
        # The phone's fix from the same place: close enough not to be flagged.
        r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"],
                   lon=round(lon, 5), lat=round(lat, 5), accuracy_m=8)
        assert r.status_code == 201, (path.name, r.get_json())
        exif = r.get_json()["exif"]
        assert abs(exif["lon"] - lon) < 1e-5 and abs(exif["lat"] - lat) < 1e-5, (path.name, exif, lon, lat)
        assert 43.4 < exif["lat"] < 43.5 and 11.8 < exif["lon"] < 11.9
        assert exif["offset_m"] < 2
        assert "gps_differs" not in r.get_json()["flags"]
        if path.name == "DSCN0010.jpg":
            # EXIF time without an offset is the camera's wall clock (16:28:39), read in the bureau's zone.
            assert exif["captured_at"] == "2008-10-22T08:28:39+00:00"


def test_mobile_fixtures_full_size_jpeg_and_heic(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    jolla = (photos_dir / "mobile" / "jolla.jpg").read_bytes()
    r = upload(client, h, uuid.uuid4(), jolla, finding_id=records["finding_id"])
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["width"], body["height"]) == (3264, 2448)
    assert _thumb(client, h, body["id"]).size == (320, 240)
    assert _thumb(client, h, body["id"], "display").size == (1600, 1200)

    heic = (photos_dir / "mobile" / "iphone_13_pro_max.heic").read_bytes()
    pid = uuid.uuid4()
    r = upload(client, h, pid, heic, finding_id=records["finding_id"], content_type="image/heic",
               filename="IMG_0001.HEIC")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["content_type"] == "image/heic" and (body["width"], body["height"]) == (3024, 4032)
    thumb = _thumb(client, h, pid)
    assert thumb.format == "JPEG" and thumb.size == (240, 320), "the HEIC is converted for thumbnails"
    original = client.get(f"/api/photos/{pid}", headers=h)
    assert original.headers["Content-Type"] == "image/heic"
    assert original.data == heic, "the original is kept byte for byte"


def test_invalid_fixtures_are_stored_without_bad_tags_or_refused(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    files = sorted((photos_dir / "invalid").glob("*"))
    assert files
    for path in files:
        if path.name == "README.md":
            continue
        before = store_listing(app)
        data = path.read_bytes()
        pid = uuid.uuid4()
        r = upload(client, h, pid, data, finding_id=records["finding_id"])
        if r.status_code == 201:
            thumb = _thumb(client, h, pid)
            assert max(thumb.size) <= 320
            assert client.get(f"/api/photos/{pid}", headers=h).data == data
            assert store_listing(app) - before <= {hashlib.sha256(data).hexdigest() + s for s in
                                                   ("", ".thumb.jpg", ".display.jpg")}
        else:
            _assert_clean_refusal(app, r, before)
    # The malformed GPS IFD (minutes with a fraction, no seconds) is still read where it can be.
    data = (photos_dir / "invalid" / "87_OSError.jpg").read_bytes()
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"])
    assert r.status_code in (200, 201)
    assert temp_files(app) == []


def test_png_and_webp_of_any_mode_become_plain_jpeg_copies(app, client, auth, records):
    h = auth.headers("insp1")
    transparent = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    gray16 = Image.new("I;16", (300, 300), 40000)
    palette = Image.new("P", (100, 50), 3)
    cases = [(transparent, "PNG", "image/png"), (gray16, "PNG", "image/png"), (palette, "PNG", "image/png"),
             (Image.new("RGB", (2000, 1000), (10, 200, 10)), "WEBP", "image/webp")]
    for im, fmt, ctype in cases:
        buf = io.BytesIO()
        im.save(buf, fmt)
        pid = uuid.uuid4()
        r = upload(client, h, pid, buf.getvalue(), finding_id=records["finding_id"], content_type=ctype)
        assert r.status_code == 201, (im.mode, r.get_json())
        assert r.get_json()["content_type"] == ctype
        thumb = _thumb(client, h, pid)
        assert thumb.mode in ("RGB", "L") and max(thumb.size) == min(320, max(im.size))
        if im.mode == "RGBA":
            assert thumb.getpixel((5, 5)) == (255, 255, 255), "transparency is laid on white"
        if im.mode == "I;16":
            assert 150 < thumb.getpixel((5, 5)) < 160, "16-bit grey is scaled, not clipped to white"
        assert _thumb(client, h, pid, "display").size[0] == min(1600, im.size[0])


# --- refusals ------------------------------------------------------------------------------------


def test_truncated_jpeg_is_refused_and_leaves_nothing(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    data = (photos_dir / "mobile" / "jolla.jpg").read_bytes()
    half = data[: len(data) // 2]
    before = store_listing(app)
    r = upload(client, h, uuid.uuid4(), half, finding_id=records["finding_id"])
    assert r.status_code == 422, r.get_json()
    assert "does not decode" in r.get_json()["message"]
    _assert_clean_refusal(app, r, before)


def test_decompression_bomb_is_refused(app, client, auth, records):
    h = auth.headers("insp1")
    before = store_listing(app)
    bomb = png_declaring(20000, 20000)
    assert len(bomb) < 200
    r = upload(client, h, uuid.uuid4(), bomb, finding_id=records["finding_id"], content_type="image/png")
    assert r.status_code == 413, r.get_json()
    assert "400000000 pixels" in r.get_json()["message"] and "50 MP" in r.get_json()["message"]
    _assert_clean_refusal(app, r, before)
    # Between one and two times the limit Pillow only warns: here that is a refusal too.
    app.config["PHOTO_MAX_PIXELS"] = 1_000_000
    r = upload(client, h, uuid.uuid4(), image_bytes((1200, 1000)), finding_id=records["finding_id"],
               content_type="image/png")
    assert r.status_code == 413, r.get_json()
    _assert_clean_refusal(app, r, before)


def test_decompression_bomb_refused_in_bounded_memory(tmp_path):
    """A real 1-bit 20000x20000 image (400 MP; 400 MB once decoded) is refused before any pixel
    is allocated: a fresh process refusing it peaks far below what decoding would take."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(20000, 20000))
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {ROOT!r})
        from pathlib import Path
        from server.services.photos import Settings, derive
        from server.domain.photo_types import PNG
        from server.services.errors import ServiceError
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            derive(Path({str(path)!r}), PNG, Settings())
            print("ACCEPTED")
        except ServiceError as e:
            print(e.status, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    status, grew_kb = out.stdout.split()
    assert status == "413"
    assert int(grew_kb) < 20 * 1024, f"refusing the bomb grew the process by {int(grew_kb) // 1024} MB"


def test_hash_mismatch_names_both_hashes(app, client, auth, records):
    h = auth.headers("insp1")
    data = image_bytes(fmt="JPEG")
    wrong = hashlib.sha256(b"something else").hexdigest()
    before = store_listing(app)
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"], sha256=wrong)
    assert r.status_code == 422
    body = r.get_json()
    actual = hashlib.sha256(data).hexdigest()
    assert actual in body["message"] and wrong in body["message"]
    assert body["received_sha256"] == actual and body["claimed_sha256"] == wrong
    _assert_clean_refusal(app, r, before)


@pytest.mark.parametrize("data,ctype,words", [
    (b"GIF89a" + b"\x00" * 100, "image/gif", "image/gif"),
    (b"<html><script>alert(1)</script></html>", "text/html", "text/html"),
    (b"<html><script>alert(1)</script></html>", "image/jpeg", "text or HTML"),
    (b"%PDF-1.7 " + b"\x00" * 100, "application/octet-stream", "PDF"),
])
def test_other_types_are_refused_with_415(app, client, auth, records, data, ctype, words):
    before = store_listing(app)
    r = upload(client, auth.headers("insp1"), uuid.uuid4(), data, finding_id=records["finding_id"], content_type=ctype)
    assert r.status_code == 415, r.get_json()
    assert words in r.get_json()["message"]
    _assert_clean_refusal(app, r, before)


def test_not_multipart_and_oversize_and_missing_fields(app, client, auth, records):
    h = auth.headers("insp1")
    data = image_bytes(fmt="JPEG")
    r = client.put(f"/api/photos/{uuid.uuid4()}", data=data, headers={**h, "Content-Type": "image/jpeg"})
    assert r.status_code == 415 and "multipart/form-data" in r.get_json()["message"]
    before = store_listing(app)
    app.config["PHOTO_MAX_BYTES"] = len(data) - 1
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"])
    assert r.status_code == 413 and r.get_json()["max_bytes"] == len(data) - 1
    _assert_clean_refusal(app, r, before)
    app.config["PHOTO_MAX_BYTES"] = 20 * 1024 * 1024
    r = upload(client, h, uuid.uuid4(), data)  # neither finding_id nor visit_id
    assert r.status_code == 422 and "finding_id" in r.get_json()["message"]
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"], lon=119.16)
    assert r.status_code == 422 and "lon and lat" in r.get_json()["message"]
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"], captured_at="2026-11-26T09:15:00")
    assert r.status_code == 422
    r = upload(client, h, uuid.uuid4(), data, finding_id=records["finding_id"], colour="red")
    assert r.status_code == 422 and "colour" in str(r.get_json()["errors"])
    r = upload(client, h, uuid.uuid4(), b"", finding_id=records["finding_id"])
    assert r.status_code == 422 and "empty" in r.get_json()["message"]
    assert store_listing(app) == before and temp_files(app) == []


# --- idempotence, conflicts, the record's side ----------------------------------------------------


def test_replay_answers_the_same_and_changes_nothing(app, client, auth, records, photos_dir):
    from server.extensions import db
    from server.models import AuditEntry

    h = auth.headers("insp1")
    data = (photos_dir / "gps" / "DSCN0010.jpg").read_bytes()
    pid = uuid.uuid4()
    first = upload(client, h, pid, data, finding_id=records["finding_id"])
    assert first.status_code == 201
    with app.app_context():
        audits = db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one()
    files = store_listing(app)
    for _ in range(3):
        again = upload(client, h, pid, data, finding_id=records["finding_id"])
        assert again.status_code == 200
        assert again.get_json() == first.get_json()
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(AuditEntry.id))).scalar_one() == audits
    assert store_listing(app) == files and temp_files(app) == []
    # Other bytes under the stored id: refused, the stored photo untouched.
    other = (photos_dir / "gps" / "DSCN0012.jpg").read_bytes()
    r = upload(client, h, pid, other, finding_id=records["finding_id"])
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["stored_sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(f"/api/photos/{pid}", headers=h).data == data
    assert store_listing(app) == files and temp_files(app) == []


def test_upload_fills_the_row_a_sync_left_waiting(app, client, auth, records):
    from server.extensions import db
    from server.models import Finding

    h = auth.headers("insp1")
    pid = uuid.uuid4()
    add_waiting(app, pid, finding_id=records["finding_id"])
    r = client.get(f"/api/photos/{pid}/thumb", headers=h)
    assert r.status_code == 404 and "not arrived" in r.get_json()["message"]
    # Named by another finding than the one the sync recorded: refused.
    other = make_records(app)
    r = upload(client, h, pid, image_bytes(fmt="JPEG"), finding_id=other["finding_id"])
    assert r.status_code == 409 and str(records["finding_id"]) in r.get_json()["message"]
    r = upload(client, h, pid, image_bytes(fmt="JPEG"), finding_id=records["finding_id"], purpose="exit blocked")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "stored" and body["linked"]
    assert body["finding_id"] == str(records["finding_id"]) and body["visit_id"] == str(records["visit_id"])
    assert body["purpose"] == "finding", "the record's word for it stays"
    with app.app_context():
        assert db.session.get(Finding, records["finding_id"]).photos_waiting == 0


def test_photo_before_its_record_is_kept_and_linked_later(app, client, auth):
    from server.extensions import db
    from server.models import Photo

    h = auth.headers("insp1")
    finding_id = uuid.uuid4()  # its record has not arrived
    pid = uuid.uuid4()
    data = image_bytes(fmt="JPEG")
    r = upload(client, h, pid, data, finding_id=finding_id)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["linked"] is False and body["finding_id"] is None
    assert body["claimed_finding_id"] == str(finding_id)
    assert client.get(f"/api/photos/{pid}/thumb", headers=h).status_code == 200  # its uploader sees it
    assert client.get(f"/api/photos/{pid}/thumb", headers=auth.headers("sup1")).status_code == 403
    assert client.get(f"/api/photos/{pid}/thumb", headers=auth.headers("admin1")).status_code == 200
    # The record arrives (POST /api/sync links a stored photo it names): the park's staff see it.
    records = make_records(app)
    with app.app_context():
        row = db.session.get(Photo, pid)
        row.finding_id, row.visit_id = records["finding_id"], records["visit_id"]
        db.session.commit()
    assert client.get(f"/api/photos/{pid}/thumb", headers=auth.headers("sup1")).status_code == 200
    assert client.get(f"/api/photos/{pid}/thumb", headers=auth.headers("sup_chem")).status_code == 403
    assert upload(client, h, pid, data, finding_id=finding_id).status_code == 200


def test_visit_photo_and_exif_disagreeing_with_the_phone_is_flagged(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    data = (photos_dir / "gps" / "DSCN0010.jpg").read_bytes()
    # The phone claims Yizheng and today; the file's EXIF says Tuscany in 2008.
    r = upload(client, h, uuid.uuid4(), data, visit_id=records["visit_id"], lon=119.16, lat=32.26, accuracy_m=5,
               purpose="signature")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["visit_id"] == str(records["visit_id"]) and body["finding_id"] is None
    assert set(body["flags"]) == {"gps_differs", "time_differs"}
    assert body["exif"]["offset_m"] > 1_000_000
    assert body["fix"] == {"lon": 119.16, "lat": 32.26, "accuracy_m": 5.0}, "the phone's claim is kept as sent"
    assert body["captured_at"] == "2026-11-26T01:15:00+00:00"
    row = _photo_row(app, uuid.UUID(body["id"]))
    assert row.received_at is not None and row.uploaded_by is not None


def test_only_inspectors_of_the_park_upload_and_only_its_staff_see(app, client, auth, records):
    data = image_bytes(fmt="JPEG")
    before = store_listing(app)
    r = upload(client, auth.headers("insp_chem"), uuid.uuid4(), data, finding_id=records["finding_id"])
    assert r.status_code == 403
    _assert_clean_refusal(app, r, before)
    assert upload(client, auth.headers("sup1"), uuid.uuid4(), data, finding_id=records["finding_id"]).status_code == 403
    pid = uuid.uuid4()
    assert upload(client, auth.headers("insp1"), pid, data, finding_id=records["finding_id"]).status_code == 201
    for username in ("insp1", "insp2", "sup1", "legal1", "admin1"):
        for tail in ("", "/thumb", "/display"):
            assert client.get(f"/api/photos/{pid}{tail}", headers=auth.headers(username)).status_code == 200
    for username in ("insp_chem", "sup_chem"):
        for tail in ("", "/thumb", "/display"):
            r = client.get(f"/api/photos/{pid}{tail}", headers=auth.headers(username))
            assert r.status_code == 403 and r.get_json()["message"]
    assert client.get(f"/api/photos/{pid}").status_code == 401
    assert client.get(f"/api/photos/{uuid.uuid4()}", headers=auth.headers("insp1")).status_code == 404
    # Another park's inspector cannot fill in a photo of this park by replaying its id either.
    r = upload(client, auth.headers("insp_chem"), pid, data, finding_id=records["finding_id"])
    assert r.status_code == 403


def test_served_bytes_are_cacheable_images_that_never_render_as_html(app, client, auth, records, photos_dir):
    h = auth.headers("insp1")
    data = (photos_dir / "gps" / "DSCN0010.jpg").read_bytes()
    pid = uuid.uuid4()
    assert upload(client, h, pid, data, finding_id=records["finding_id"]).status_code == 201
    sha = hashlib.sha256(data).hexdigest()
    for tail, ctype in (("", "image/jpeg"), ("/thumb", "image/jpeg"), ("/display", "image/jpeg")):
        r = client.get(f"/api/photos/{pid}{tail}", headers=h)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == ctype
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "immutable" in r.headers["Cache-Control"] and "private" in r.headers["Cache-Control"]
        assert r.headers["Content-Disposition"].startswith("inline; filename=")
        assert "sandbox" in r.headers["Content-Security-Policy"]
        assert int(r.headers["Content-Length"]) == len(r.data)
        etag = r.headers["ETag"]
        assert sha in etag
        again = client.get(f"/api/photos/{pid}{tail}", headers={**h, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    original = client.get(f"/api/photos/{pid}", headers=h)
    assert hashlib.sha256(original.data).hexdigest() == sha
    for tail in ("/thumb", "/display"):
        im = Image.open(io.BytesIO(client.get(f"/api/photos/{pid}{tail}", headers=h).data))
        assert len(im.getexif()) == 0, "derived copies carry no EXIF (no GPS, no camera)"
        assert "comment" not in im.info and "exif" not in im.info


def test_sweep_removes_temporary_and_unreferenced_files_only_when_old(app, client, auth, records):
    from server.services.photos import sweep
    from server.storage import photo_store

    h = auth.headers("insp1")
    data = image_bytes(fmt="JPEG")
    pid = uuid.uuid4()
    assert upload(client, h, pid, data, finding_id=records["finding_id"]).status_code == 201
    store = photo_store(app)
    orphan = image_bytes(fmt="JPEG", color=(1, 2, 3))
    orphan_sha = hashlib.sha256(orphan).hexdigest()
    store.put(orphan_sha, orphan)
    young_orphan = hashlib.sha256(b"young").hexdigest()
    store.put(young_orphan, b"young")
    fh, dead_temp = store.spool()
    fh.write(b"an upload that died")
    fh.close()
    old = (dt.datetime.now() - dt.timedelta(hours=3)).timestamp()
    for key in (orphan_sha, hashlib.sha256(data).hexdigest(), hashlib.sha256(data).hexdigest() + ".thumb.jpg"):
        os.utime(store.path(key), (old, old))
    os.utime(dead_temp, (old, old))
    with app.app_context():
        result = sweep()
    assert result["temp_removed"] == 1 and result["unreferenced_removed"] == 1
    keys = store_listing(app)
    assert orphan_sha not in keys and young_orphan in keys
    assert hashlib.sha256(data).hexdigest() in keys, "a referenced original is never swept, however old"
    assert client.get(f"/api/photos/{pid}/thumb", headers=h).status_code == 200
    assert not dead_temp.exists()


# --- the pure helpers: odd EXIF values are read where possible, never raised ----------------------


def test_exif_helpers_read_odd_values_without_raising():
    from server.domain import exif

    class Rational:  # Pillow's IFDRational shape
        def __init__(self, n, d):
            self.numerator, self.denominator = n, d

    assert exif.rational(Rational(1, 0)) is None and exif.rational((3, 0)) is None
    assert exif.rational((1, 4)) == 0.25 and exif.rational(Rational(7, 2)) == 3.5 and exif.rational("x") is None
    assert exif.dms_to_degrees(((32, 1), (15, 1), (0, 1)), "S", "N", "S") == -32.25
    assert exif.dms_to_degrees((119.0, 10.5, 0.0), b"E\x00", "E", "W") == 119.175
    assert exif.dms_to_degrees((43.0, 47.135666, 0.0), "N", "N", "S") == pytest.approx(43.7855944, abs=1e-7)
    assert exif.dms_to_degrees((32, 15, 0), None, "N", "S") is None, "no hemisphere: cannot be placed"
    assert exif.dms_to_degrees((32, 75, 0), "N", "N", "S") is None
    assert exif.dms_to_degrees("32,15", "N", "N", "S") is None
    gps = {1: "N", 2: (32.0, 15.0, 36.0), 3: "W", 4: (119.0, 0.0, 0.0)}
    assert exif.gps_position(gps) == (-119.0, pytest.approx(32.26))
    assert exif.gps_position({1: "N", 2: (0, 0, 0), 3: "E", 4: (0, 0, 0)}) is None, "a receiver without a fix"
    assert exif.gps_position({1: "N", 2: (95, 0, 0), 3: "E", 4: (1, 0, 0)}) is None
    assert exif.gps_position(None) is None and exif.gps_position({2: (1, 2, 3)}) is None
    assert [exif.orientation(v) for v in (6, "8", (3,), 0, 9, None, "x", b"\x01")] == [6, 8, 3, 1, 1, 1, 1, 1]
    assert exif.upright_size(600, 450, 6) == (450, 600) and exif.upright_size(600, 450, 3) == (600, 450)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert exif.parse_datetime("2026:11:26 09:15:00", default_tz=shanghai) == dt.datetime(2026, 11, 26, 1, 15,
                                                                                          tzinfo=dt.timezone.utc)
    assert exif.parse_datetime("2026:11:26 09:15:00\x00", "-05:00", "25") == dt.datetime(
        2026, 11, 26, 14, 15, 0, 250000, tzinfo=dt.timezone.utc)
    for junk in ("0000:00:00 00:00:00", "2026:13:01 00:00:00", "    ", "", None, 12, b"\xff\xfe"):
        assert exif.parse_datetime(junk) is None
    assert exif.parse_datetime("2026:11:26 09:15:00", "+99:00").tzinfo == dt.timezone.utc, "a bad offset is ignored"
    assert exif.capture_time({0x9004: "2026:11:26 09:15:00"}) is not None, "DateTimeDigitized when no original"
    assert exif.fit_within(4000, 3000, 1600) == (1600, 1200) and exif.fit_within(300, 200, 1600) == (300, 200)
    assert exif.fit_within(3024, 4032, 320) == (240, 320)
    offset, flags = exif.compare_claims((119.16, 32.26), (119.16, 32.2601), None, None, 100, 900)
    assert 10 < offset < 12 and flags == []


def test_types_are_told_from_the_bytes(photos_dir):
    from server.domain.photo_types import declared_acceptable, sniff

    assert sniff((photos_dir / "mobile" / "jolla.jpg").read_bytes()[:32]).content_type == "image/jpeg"
    assert sniff((photos_dir / "mobile" / "iphone_13_pro_max.heic").read_bytes()[:32]).content_type == "image/heic"
    assert sniff(image_bytes(fmt="PNG")[:32]).content_type == "image/png"
    assert sniff(image_bytes(fmt="WEBP")[:32]).content_type == "image/webp"
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf") is None, "AVIF is not HEIC"
    assert sniff(b"GIF89a") is None and sniff(b"") is None
    assert declared_acceptable("image/jpeg") and declared_acceptable("") and declared_acceptable(None)
    assert declared_acceptable("application/octet-stream") and not declared_acceptable("text/html")


def test_photos_given_as_bytes_join_the_callers_transaction(app, records, photos_dir):
    """What the demo city uses: the same files and row as an upload, committed by the caller."""
    from server.extensions import db
    from server.models import Photo, User
    from server.services.photos import Actor, ingest_bytes

    data = (photos_dir / "orientation" / "portrait_6.jpg").read_bytes()
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.username == "insp1")).scalar_one()
        pid = uuid.uuid4()
        view = ingest_bytes(pid, data, {"finding_id": records["finding_id"],
                                        "captured_at": dt.datetime.now(dt.timezone.utc)}, Actor.of(user))
        assert view["linked"] and (view["width"], view["height"]) == (450, 600)
        db.session.rollback()  # the caller decides: rolled back, no row
        assert db.session.get(Photo, pid) is None
        ingest_bytes(pid, data, {"finding_id": records["finding_id"],
                                 "captured_at": dt.datetime.now(dt.timezone.utc)}, Actor.of(user))
        db.session.commit()
        assert db.session.get(Photo, pid).sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(data).hexdigest() + ".thumb.jpg" in store_listing(app)


@pytest.mark.parametrize("engine", ["postgis"], indirect=True)
def test_two_uploads_of_one_new_id_at_once_answer_as_a_replay(app, client, auth, records, engine, monkeypatch):
    """The other upload commits its row between this one's look-up and its insert: the insert
    fails on the key and this upload answers from the other's row. (On SQLite the write lock
    taken at the look-up serialises them, so the race exists on PostgreSQL only.)"""
    from server.extensions import db
    from server.models import User
    from server.services import photos as service

    data = image_bytes(fmt="JPEG")
    pid = uuid.uuid4()
    real = service.exif_domain.compare_claims
    raced = []

    def the_other_upload_commits_first(*args, **kwargs):
        if not raced:
            raced.append(True)
            with app.app_context():
                user = db.session.execute(sa.select(User).where(User.username == "insp2")).scalar_one()
                service.ingest_bytes(pid, data, {"finding_id": records["finding_id"],
                                                 "captured_at": dt.datetime.now(dt.timezone.utc)},
                                     service.Actor.of(user))
                db.session.commit()
        return real(*args, **kwargs)

    monkeypatch.setattr(service.exif_domain, "compare_claims", the_other_upload_commits_first)
    r = upload(client, auth.headers("insp1"), pid, data, finding_id=records["finding_id"])
    assert raced and r.status_code == 200, r.get_json()
    assert r.get_json()["sha256"] == hashlib.sha256(data).hexdigest()
    row = _photo_row(app, pid)
    assert row.status == "stored"

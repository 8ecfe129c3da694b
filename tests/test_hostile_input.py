"""Hostile input beyond tests/test_bad_input.py and tests/test_photos.py: every JSON operation of
the OpenAPI document given nesting 10,000 deep, invalid UTF-8 and non-object bodies; 50 MB
bodies refused before they are read, in bounded memory (measured in a fresh process); photos
that are polyglots (JPEG + HTML, JPEG + ZIP), carry a huge EXIF or a zlib bomb in a PNG text
chunk, or declare a type they are not; SQL and HTML in text fields stored and returned as text.
Each answered with a 4xx or stored safely, never a 5xx (the `app` fixture fails any 5xx).
"""
from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import sys
import textwrap
import uuid
import zipfile
import zlib

import pytest

from tests.conftest import ROOT
from tests.photo_helpers import add_waiting, image_bytes, make_records, upload

DEEP = "[" * 10_000 + "]" * 10_000
HOSTILE_TEXT = "x'); DROP TABLE sites; -- <script>window.__pwned=1</script><img src=x onerror=alert(1)> \"&lt;"


def _json_operations(client):
    """(method, path) of every operation whose body is JSON, with the world's ids in the path."""
    spec = client.get("/api/openapi.json").get_json()
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "application/json" in op.get("requestBody", {}).get("content", {}):
                ops.append((method.upper(), path, op["requestBody"].get("required", False)))
    return ops


def _fill(path: str, ids: dict) -> str:
    import re

    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


@pytest.fixture
def world_ids(app):
    rec = make_records(app, "EDZ")
    return {"park_id": rec["park_id"], "site_id": rec["site_id"], "finding_id": rec["finding_id"],
            "photo_id": uuid.uuid4(), "day": "2031-01-06", "stop_id": 1, "draw_id": 1}


def test_every_json_operation_refuses_deep_nesting_bad_utf8_and_non_objects(client, auth, world_ids):
    ops = _json_operations(client)
    assert len(ops) >= 20
    admin, inspector = auth.headers("admin1"), auth.headers("insp1")
    for method, path, body_required in ops:
        url = _fill(path, world_ids)
        headers = inspector if path == "/api/sync" else admin
        # No body at all is a request without one: refused only where the document says a body is required.
        empty = (("", "empty"),) if body_required else ()
        for body, what in ((DEEP, "deep"), (b'{"note": "\xff\xfe\xfd"}', "utf-8"), ("[1, 2]", "array"),
                           ('"text"', "string"), ("{", "truncated"), *empty,
                           # Python reads no integer of more than 4300 digits: a ValueError, not JSON's
                           ("7" * 5000, "long number"), ('{"site_id": ' + "9" * 5000 + "}", "long number inside")):
            r = client.open(url, method=method, data=body, content_type="application/json", headers=headers)
            assert 400 <= r.status_code < 500, (method, path, what, r.status_code)
            assert r.get_json()["message"], (method, path, what)


MEMORY_SCRIPT = """
import json, sys, tempfile
sys.path.insert(0, {root!r})
from server import create_app

class Endless:
    '''A request body that is never in memory: {size} bytes made as they are read.'''
    def __init__(self, size): self.left = self.size = size
    def tell(self): return self.size - self.left
    def seek(self, pos, whence=0): return self.tell()
    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        n = min(n, 1 << 20)
        self.left -= n
        return b"7" * n
    def readline(self, n=-1): return self.read(n)

from server.migrate import upgrade
d = tempfile.mkdtemp()
url = "sqlite:///" + d + "/x.db"
upgrade(url)
app = create_app({{"DATABASE_URL": url, "DATA_DIR": d, "SECRET_KEY": "s" * 40}})
with app.app_context():
    from server.extensions import db
    from server.services.users import create_user
    create_user("insp", "insp", "inspector", "a-long-password-1", [])
    db.session.commit()
client = app.test_client()
token = client.post("/api/auth/token", json={{"username": "insp", "password": "a-long-password-1"}}).get_json()["token"]
client.get("/api/health")
# The peak of what Python allocates while the bodies are refused (ru_maxrss would hide growth
# under the peak the migration reached before).
import tracemalloc
tracemalloc.start()
tracemalloc.reset_peak()
out = {{}}
for path, method, ctype in ({cases!r}):
    for declared in (True, False):
        # Declared: Content-Length says 50 MB. Chunked: no length, the server (gunicorn) ends the
        # stream (wsgi.input_terminated), only the app's limit bounds it.
        env = {{"CONTENT_LENGTH": str({size})}} if declared else {{"wsgi.input_terminated": True}}
        r = client.open(path, method=method, input_stream=Endless({size}), content_type=ctype,
                        headers={{"Authorization": "Bearer " + token}}, environ_overrides=env)
        out[f"{{method}} {{path}} {{'declared' if declared else 'chunked'}}"] = r.status_code
out["grew_kb"] = tracemalloc.get_traced_memory()[1] // 1024
print(json.dumps(out))
"""


def test_fifty_megabyte_bodies_are_refused_early_in_bounded_memory(tmp_path):
    """50 MB sent as JSON, as a photo upload and to the login, with a Content-Length and without
    one (chunked): each is 413 and the process grows by far less than the body (< 20 MB)."""
    import json

    size = 50 * 1024 * 1024
    cases = [("/api/auth/token", "POST", "application/json"),
             ("/api/sync", "POST", "application/json"),
             (f"/api/photos/{uuid.uuid4()}", "PUT", "multipart/form-data; boundary=xyz")]
    script = MEMORY_SCRIPT.format(root=str(ROOT), size=size, cases=cases)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    grew_mb = result.pop("grew_kb") / 1024
    print(f"refusing {len(result)} bodies of 50 MB grew the process by {grew_mb:.1f} MB")
    assert set(result.values()) == {413}, result
    assert grew_mb < 20, f"refusing 50 MB bodies grew the process by {grew_mb:.1f} MB"


# --- photos --------------------------------------------------------------------------------------


@pytest.fixture
def finding(app):
    return make_records(app)["finding_id"]


def _put(app, client, auth, finding_id, data, **kw):
    pid = uuid.uuid4()
    add_waiting(app, pid, finding_id=finding_id)
    return pid, upload(client, auth.headers("insp1"), pid, data, finding_id=finding_id, **kw)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.html", "<script>alert(1)</script>")
    return buf.getvalue()


@pytest.mark.parametrize("trailer", ["html", "zip"])
def test_polyglot_jpeg_is_served_only_as_an_image_and_its_copies_are_clean(app, client, auth, finding, trailer):
    """A valid JPEG with HTML or a ZIP archive appended decodes as a JPEG: it is kept byte for byte
    (the evidence), but only ever served as image/jpeg, nosniff, sandboxed, and the thumbnail and
    display copies are re-encoded pixels without the payload."""
    payload = b"<html><body><script>alert(document.domain)</script></body></html>" if trailer == "html" else _zip_bytes()
    data = image_bytes(fmt="JPEG") + payload
    h = auth.headers("insp1")
    pid, r = _put(app, client, auth, finding, data)
    assert r.status_code == 201, r.get_json()
    original = client.get(f"/api/photos/{pid}", headers=h)
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in original.headers["Content-Security-Policy"]
    assert original.data == data
    for tail in ("/thumb", "/display"):
        copy = client.get(f"/api/photos/{pid}{tail}", headers=h)
        assert copy.headers["Content-Type"] == "image/jpeg"
        assert b"<script" not in copy.data and b"PK\x03\x04" not in copy.data


def test_html_with_a_jpeg_inside_is_refused(app, client, auth, finding):
    data = b"<!DOCTYPE html><script>alert(1)</script>" + image_bytes(fmt="JPEG")
    _pid, r = _put(app, client, auth, finding, data)
    assert r.status_code == 415, r.get_json()


def _jpeg_with_exif_description(text: bytes) -> bytes:
    from PIL import Image

    im = Image.new("RGB", (64, 48), (10, 200, 30))
    exif = Image.Exif()
    exif[0x010E] = text.decode("latin-1")  # ImageDescription
    exif[0x010F] = "X" * 2000  # Make
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def test_huge_exif_is_taken_without_echoing_it(app, client, auth, finding):
    """The largest EXIF a JPEG segment can hold (~64 KB of text): stored, and the answer and the
    copies do not carry it."""
    data = _jpeg_with_exif_description(b"<script>" + b"A" * 60_000)
    pid, r = _put(app, client, auth, finding, data)
    assert r.status_code == 201, r.get_json()
    assert len(r.data) < 10_000
    thumb = client.get(f"/api/photos/{pid}/thumb", headers=auth.headers("insp1")).data
    assert b"AAAAAAAAAAAAAAAA" not in thumb and b"<script" not in thumb


def _png_with_chunk(kind: bytes, body: bytes) -> bytes:
    png = image_bytes(fmt="PNG")
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_png_text_chunk_bomb_is_refused_or_ignored_in_bounded_time(app, client, auth, finding, kind):
    """A compressed text chunk that inflates to 100 MB (a zlib bomb in the metadata, 100 KB on the
    wire): answered 201 without the text or refused with a 4xx, never a 500."""
    bomb = zlib.compress(b"\x00" * (100 * 1024 * 1024), 9)
    if kind == "zTXt":
        body = b"Comment\x00\x00" + bomb
    else:
        body = b"Comment\x00\x01\x00\x00\x00" + bomb
    data = _png_with_chunk(kind.encode(), body)
    assert len(data) < 200_000
    _pid, r = _put(app, client, auth, finding, data, content_type="image/png", filename="x.png")
    assert r.status_code == 201 or 400 <= r.status_code < 500, r.status_code
    assert len(r.data) < 10_000


def test_a_declared_type_is_never_believed(app, client, auth, finding):
    """A PNG sent as image/jpeg named .jpg is told from its bytes: kept and served as a PNG."""
    data = image_bytes(fmt="PNG")
    pid, r = _put(app, client, auth, finding, data, content_type="image/jpeg", filename="photo.jpg")
    assert r.status_code == 201, r.get_json()
    served = client.get(f"/api/photos/{pid}", headers=auth.headers("insp1"))
    assert served.headers["Content-Type"] == "image/png"
    assert hashlib.sha256(served.data).hexdigest() == hashlib.sha256(data).hexdigest()


# --- text --------------------------------------------------------------------------------------------


def test_sql_and_html_in_text_fields_are_stored_and_returned_as_text(client, auth, app):
    from server.extensions import db
    from server.models import Park

    h = auth.headers("admin1")
    with app.app_context():
        import sqlalchemy as sa

        edz = db.session.execute(sa.select(Park.id).where(Park.code == "EDZ")).scalar_one()
    r = client.post("/api/sites", headers=h, json={
        "park_id": edz, "name": HOSTILE_TEXT, "address": HOSTILE_TEXT, "lon": 119.161, "lat": 32.262})
    assert r.status_code == 201, r.get_json()
    site = r.get_json()
    assert site["name"] == HOSTILE_TEXT.strip() and site["address"] == HOSTILE_TEXT.strip()
    back = client.get(f"/api/sites/{site['id']}", headers=h)
    assert back.headers["Content-Type"].startswith("application/json")
    assert back.get_json()["name"] == HOSTILE_TEXT.strip()
    # Searching for it finds it, as text; the tables are all still there.
    found = client.get("/api/sites", headers=h, query_string={"q": "DROP TABLE"}).get_json()["items"]
    assert [s["id"] for s in found] == [site["id"]]
    assert client.get("/api/findings", headers=h).status_code == 200
    r = client.patch(f"/api/parks/{edz}", headers=h, json={"name_en": HOSTILE_TEXT[:60]})
    assert r.status_code == 200 and r.get_json()["name_en"] == HOSTILE_TEXT[:60].strip()

"""Helpers for the photo tests: records to attach photos to, an upload call, an EXIF GPS
reader written from the TIFF specification (independent of Pillow), and image makers."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import struct
import uuid
import zlib
from pathlib import Path

import sqlalchemy as sa

CAPTURED = "2026-11-26T09:15:00+08:00"


def make_records(app, park: str = "EDZ", username: str = "insp1") -> dict:
    """A visit with one finding at the first site of a park, stored as a sync would."""
    from server.extensions import db
    from server.models import Finding, Park, Site, User, Visit
    from server.services.policy import current

    with app.app_context():
        park_id = db.session.execute(sa.select(Park.id).where(Park.code == park)).scalar_one()
        site_id = db.session.execute(sa.select(Site.id).where(Site.park_id == park_id).order_by(Site.id)).scalars().first()
        user_id = db.session.execute(sa.select(User.id).where(User.username == username)).scalar_one()
        now = dt.datetime.now(dt.timezone.utc)
        visit = Visit(id=uuid.uuid4(), site_id=site_id, kind="routine", recorded_by=user_id, started_at=now,
                      content_hash="0" * 64, payload={})
        db.session.add(visit)
        db.session.flush()
        finding = Finding(id=uuid.uuid4(), visit_id=visit.id, site_id=site_id, park_id=park_id, domain="safety",
                          discovered_at=now, severity="minor", suggested_tier="service", final_tier="service",
                          rule_id="R1", policy_version=current().version)
        db.session.add(finding)
        db.session.commit()
        return {"visit_id": visit.id, "finding_id": finding.id, "park_id": park_id, "site_id": site_id}


def add_waiting(app, photo_id, finding_id=None, visit_id=None) -> None:
    """A row as POST /api/sync leaves it for a photo named but not yet uploaded."""
    from server.extensions import db
    from server.models import Finding, Photo

    with app.app_context():
        if finding_id is not None:
            visit_id = db.session.get(Finding, finding_id).visit_id
            db.session.get(Finding, finding_id).photos_waiting += 1
        db.session.add(Photo(id=photo_id, finding_id=finding_id, visit_id=visit_id, status="waiting",
                             purpose="finding" if finding_id else "visit"))
        db.session.commit()


def upload(client, headers, photo_id, data: bytes, *, finding_id=None, visit_id=None, sha256=None,
           content_type="image/jpeg", filename="photo.jpg", captured_at=CAPTURED, **fields):
    form = {"file": (io.BytesIO(data), filename, content_type),
            "sha256": sha256 or hashlib.sha256(data).hexdigest(), "captured_at": captured_at}
    if finding_id is not None:
        form["finding_id"] = str(finding_id)
    if visit_id is not None:
        form["visit_id"] = str(visit_id)
    form.update({k: str(v) for k, v in fields.items()})
    return client.put(f"/api/photos/{photo_id}", data=form, headers=headers, content_type="multipart/form-data")


def store_listing(app) -> set[str]:
    from server.storage import photo_store

    return {o.key for o in photo_store(app).list()}


def temp_files(app) -> list[Path]:
    from server.storage import photo_store

    return photo_store(app).temp_files()


# --- EXIF GPS read straight from the bytes (TIFF 6.0 and EXIF 2.32), not through Pillow ------


def exif_gps_by_hand(data: bytes) -> tuple[float, float] | None:
    i = 2
    tiff = None
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            tiff = data[i + 10:i + 2 + length]
            break
        if marker == 0xDA:
            break
        i += 2 + length
    if tiff is None:
        return None
    end = "<" if tiff[:2] == b"II" else ">"

    def entries(offset):
        count = struct.unpack_from(end + "H", tiff, offset)[0]
        out = {}
        for k in range(count):
            tag, typ, n, raw = struct.unpack_from(end + "HHI4s", tiff, offset + 2 + 12 * k)
            out[tag] = (typ, n, raw)
        return out

    def u32(raw):
        return struct.unpack(end + "I", raw)[0]

    def rationals(entry):
        typ, n, raw = entry
        assert typ == 5, "GPS degrees are RATIONAL"
        at = u32(raw)
        vals = struct.unpack_from(end + "I" * (2 * n), tiff, at)
        return [vals[2 * k] / vals[2 * k + 1] for k in range(n)]

    ifd0 = entries(u32(tiff[4:8]))
    if 0x8825 not in ifd0:
        return None
    gps = entries(u32(ifd0[0x8825][2]))

    def degrees(value_tag, ref_tag):
        d, m, s = rationals(gps[value_tag])
        ref = gps[ref_tag][2][:1]
        sign = -1 if ref in (b"S", b"W") else 1
        return sign * (d + m / 60 + s / 3600)

    return degrees(4, 3), degrees(2, 1)


# --- images made for the tests ------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge 1-bit image (the pixel data is a few bytes)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def image_bytes(size=(64, 48), fmt="PNG", color=(200, 30, 30), **save) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save)
    return buf.getvalue()

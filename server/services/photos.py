"""Photo ingest, serving and the sweep.

An upload goes through three steps, so that decoding a photo never holds the database's
write lock (SQLite has one) and a refusal leaves nothing behind:

1. read: spool the bytes to a temporary file while hashing them; refuse a wrong hash, a
   replay with other bytes, a park the uploader does not work in, a type that is not JPEG,
   PNG, WebP or HEIC;
2. work, with no transaction open: decode once (JPEG draft mode at the display copy's
   scale, a decompression bomb refused before any pixel is allocated), read EXIF, make the
   upright display copy and the thumbnail from it, and store the original (renamed into
   place), then the two copies;
3. write: the row, its audit entry and the finding's count of photos still waiting,
   committed only after the files are in place.

A photo may arrive before the record that names it (the phone sends records first, but one
that crashed between may not): it is accepted, kept with the id it named, and linked when the
record arrives (POST /api/sync links a stored photo it names). Nothing the phone sends is lost.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from geoalchemy2.shape import from_shape, to_shape
from PIL import Image
from shapely.geometry import Point

from ..db import write_intent
from ..domain import exif as exif_domain
from ..domain.photo_types import HEADER_BYTES, PhotoType, declared_acceptable, describe, sniff
from ..extensions import db
from ..models import Finding, Photo, Site, Visit
from ..models.types import utcnow
from ..storage import derived_key, original_key, photo_store, sha_of_key
from . import audit
from .errors import Conflict, ServiceError

log = logging.getLogger("fieldcheck.photos")

CHUNK = 1 << 20
DISPLAY_QUALITY = 85
THUMB_QUALITY = 80
GPS_IFD, EXIF_IFD = 0x8825, 0x8769

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


# --- settings and the people involved -------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    display_px: int = 1600
    thumb_px: int = 320
    gps_mismatch_m: float = 100.0
    time_mismatch_s: float = 900.0
    timezone: str = "Asia/Shanghai"

    @classmethod
    def from_config(cls, cfg) -> "Settings":
        return cls(max_bytes=cfg["PHOTO_MAX_BYTES"], max_pixels=cfg["PHOTO_MAX_PIXELS"],
                   display_px=cfg["PHOTO_DISPLAY_PX"], thumb_px=cfg["PHOTO_THUMB_PX"],
                   gps_mismatch_m=cfg["PHOTO_GPS_MISMATCH_M"], time_mismatch_s=cfg["PHOTO_TIME_MISMATCH_S"],
                   timezone=cfg["TIMEZONE"])


@dataclass(frozen=True)
class Actor:
    """Who is asking, read once: the upload ends its first transaction before decoding."""

    id: int
    role: str
    park_ids: frozenset[int] | None  # None: every park (admins)

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(user.id, user.role, None if user.role == "admin" else frozenset(user.park_ids))

    def may_see_park(self, park_id: int | None) -> bool:
        return self.park_ids is None or (park_id is not None and park_id in self.park_ids)


def upload_limits(cfg=None) -> dict:
    """What the phone is told about photos (GET /api/me/today carries the same numbers)."""
    cfg = cfg or current_app.config
    from ..domain.photo_types import ACCEPTED

    return {"max_bytes": cfg["PHOTO_MAX_BYTES"], "max_pixels": cfg["PHOTO_MAX_PIXELS"],
            "content_types": [t.content_type for t in ACCEPTED],
            "long_edge_px": cfg["PHOTO_LONG_EDGE_PX"], "jpeg_quality": cfg["PHOTO_JPEG_QUALITY"]}


# --- the image work (no database) -----------------------------------------------------------


@dataclass
class Spooled:
    path: Path
    sha256: str
    size: int
    head: bytes


@dataclass
class Derived:
    photo_type: PhotoType
    width: int  # upright
    height: int
    display: bytes
    thumb: bytes
    exif_fix: tuple[float, float] | None = None
    exif_captured_at: dt.datetime | None = None
    warnings: list[str] = field(default_factory=list)


def spool(stream: BinaryIO, store, max_bytes: int) -> Spooled:
    """Copy an upload to the store's temporary area while hashing it; never more than max_bytes."""
    fh, path = store.spool()
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with fh:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ServiceError(
                        f"the photo is larger than the {max_bytes} bytes a photo may have; shrink it on the phone "
                        f"(GET /api/me/today says to what)", ("file",), status=413, location="files",
                        max_bytes=max_bytes)
                digest.update(chunk)
                fh.write(chunk)
                if len(head) < HEADER_BYTES:
                    head += chunk[:HEADER_BYTES - len(head)]
    except BaseException:
        store.discard(path)
        raise
    return Spooled(path, digest.hexdigest(), size, head)


def _refuse_bomb(width: int, height: int, max_pixels: int) -> ServiceError:
    return ServiceError(
        f"the image declares {width}x{height} pixels ({width * height / 1e6:.1f} MP); the largest accepted is "
        f"{max_pixels / 1e6:.0f} MP, so it is refused before decoding (a decompression bomb or an oversized scan)",
        ("file",), status=413, location="files", max_pixels=max_pixels)


def _undecodable(ptype: PhotoType, err: BaseException) -> ServiceError:
    reason = str(err).strip() or type(err).__name__
    return ServiceError(
        f"the file begins like a {ptype.content_type} image but does not decode ({reason}): it may be cut short "
        f"or damaged; send the photo again from the phone", ("file",), status=422, location="files")


def _read_exif(im: Image.Image, tz: dt.tzinfo) -> tuple[int, tuple[float, float] | None, dt.datetime | None, list[str]]:
    """Orientation, GPS and capture time; a tag that cannot be read is left out, never fatal."""
    notes: list[str] = []
    try:
        exif = im.getexif()
    except Exception as err:
        return 1, None, None, [f"EXIF unreadable ({err})"]
    try:
        orient = exif_domain.orientation(exif.get(exif_domain.ORIENTATION))
    except Exception:
        orient = 1
    position = when = None
    try:
        position = exif_domain.gps_position(exif.get_ifd(GPS_IFD))
    except Exception as err:
        notes.append(f"EXIF GPS unreadable ({err})")
    try:
        when = exif_domain.capture_time(exif.get_ifd(EXIF_IFD), tz)
    except Exception as err:
        notes.append(f"EXIF time unreadable ({err})")
    return orient, position, when, notes


def _flatten(im: Image.Image) -> Image.Image:
    """RGB or L for a JPEG: transparency over white, 16-bit and palette images made 8-bit."""
    if im.mode in ("RGB", "L"):
        return im
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        out = Image.new("RGB", im.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int, icc: bytes | None) -> bytes:
    im.info = {}  # no EXIF, no comment, nothing of the original's metadata
    buf = io.BytesIO()
    kwargs = {"icc_profile": icc} if icc else {}  # colour, not metadata: a phone's P3 stays true
    im.save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def derive(path: Path, ptype: PhotoType, settings: Settings) -> Derived:
    """Decode once and make the upright display copy and the thumbnail (from the display copy).

    Refuses with 413 an image above settings.max_pixels (checked from the header, before any
    pixel is allocated; Pillow's own bomb warning is an error here too) and with 422 a file
    that does not decode: only load() finds a JPEG cut short, so it is always called.
    """
    if ptype.pillow_formats == ("HEIF",):
        _register_heif()
    tz = ZoneInfo(settings.timezone)
    Image.MAX_IMAGE_PIXELS = settings.max_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(path, formats=list(ptype.pillow_formats))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ServiceError(
                f"the image is refused before decoding, as a decompression bomb or an oversized scan ({err}); the "
                f"largest accepted is {settings.max_pixels / 1e6:.0f} MP", ("file",), status=413, location="files",
                max_pixels=settings.max_pixels) from None
        except Exception as err:  # any decoder's failure to read its own header
            raise _undecodable(ptype, err) from None
        with im:
            width, height = im.size
            if width <= 0 or height <= 0 or width * height > settings.max_pixels:
                raise _refuse_bomb(width, height, settings.max_pixels)
            orient, position, when, notes = _read_exif(im, tz)
            target = exif_domain.fit_within(width, height, settings.display_px)
            if im.format in ("JPEG", "MPO"):
                # Decode at 1/2, 1/4 or 1/8 scale when that still covers the display copy.
                im.draft("RGB", target)
            icc = im.info.get("icc_profile")
            try:
                im.load()
                display = _flatten(im)
                if display.size != target:
                    display = display.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
                turn = exif_domain.UPRIGHT_TRANSPOSE[orient]
                if turn:
                    display = display.transpose(Image.Transpose[turn])
                thumb_size = exif_domain.fit_within(*display.size, settings.thumb_px)
                thumb = display.resize(thumb_size, Image.Resampling.BICUBIC, reducing_gap=2.0)
                display_bytes = _jpeg(display, DISPLAY_QUALITY, icc)
                thumb_bytes = _jpeg(thumb, THUMB_QUALITY, icc)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _refuse_bomb(width, height, settings.max_pixels) from None
            except MemoryError:
                raise
            except Exception as err:  # truncated data, a broken stream, a decoder error
                raise _undecodable(ptype, err) from None
    up_w, up_h = exif_domain.upright_size(width, height, orient)
    return Derived(ptype, up_w, up_h, display_bytes, thumb_bytes, position, when, notes)


def store_files(spooled: Spooled, ptype: PhotoType, settings: Settings, store) -> Derived:
    """Decode and derive, then put the original (the spooled file, moved into place) and the
    two copies. Refusals (4xx) leave the spooled file for the caller to discard.

    The disk waits overlap the work: the spooled original is flushed to disk while the photo
    is decoded, and the three files are put at once (their fsyncs share a journal commit; an
    object store takes the three PUTs in parallel).
    """
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="photo-store") as pool:
        ready = pool.submit(store.prepare, spooled.path)
        try:
            derived = derive(spooled.path, ptype, settings)
        finally:
            wait([ready])  # never discard a file another thread is still flushing
        puts = [
            pool.submit(store.put, original_key(spooled.sha256), spooled.path, ptype.content_type),
            pool.submit(store.put, derived_key(spooled.sha256, "display"), derived.display, "image/jpeg"),
            pool.submit(store.put, derived_key(spooled.sha256, "thumb"), derived.thumb, "image/jpeg"),
        ]
        wait(puts)
    for future in [ready, *puts]:
        err = future.exception()
        if err is None:
            continue
        if not isinstance(err, OSError):  # StorageUnavailable is an OSError
            raise err
        log.error("photo %s could not be stored: %s", spooled.sha256, err)
        raise ServiceError("the server cannot store photos right now; the phone keeps this one and tries again "
                           "later", status=503) from None
    return derived


# --- the database side ------------------------------------------------------------------------


@contextlib.contextmanager
def _writing():
    """A write transaction (BEGIN IMMEDIATE on SQLite) for the final step only."""
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)


@dataclass(frozen=True)
class Target:
    """The record a photo belongs to, if it has arrived."""

    finding_id: uuid.UUID | None
    visit_id: uuid.UUID | None
    park_id: int | None

    @property
    def arrived(self) -> bool:
        return self.park_id is not None


def _finding_target(finding_id: uuid.UUID) -> Target:
    row = db.session.execute(
        sa.select(Finding.visit_id, Finding.park_id).where(Finding.id == finding_id)).one_or_none()
    return Target(finding_id, row.visit_id, row.park_id) if row else Target(None, None, None)


def _visit_target(visit_id: uuid.UUID) -> Target:
    park = db.session.execute(
        sa.select(Site.park_id).join(Visit, Visit.site_id == Site.id).where(Visit.id == visit_id)).scalar()
    return Target(None, visit_id, park) if park is not None else Target(None, None, None)


def _target(meta: dict) -> Target:
    return _finding_target(meta["finding_id"]) if meta.get("finding_id") else _visit_target(meta["visit_id"])


def photo_park(photo: Photo) -> int | None:
    if photo.finding_id is not None:
        return db.session.execute(sa.select(Finding.park_id).where(Finding.id == photo.finding_id)).scalar()
    if photo.visit_id is not None:
        return _visit_target(photo.visit_id).park_id
    return None


def _check_waiting_matches(photo: Photo, meta: dict) -> None:
    """A row made by a sync names its record: the upload must name the same one."""
    if meta.get("finding_id"):
        if photo.finding_id != meta["finding_id"]:
            expected = f"finding {photo.finding_id}" if photo.finding_id else f"visit {photo.visit_id}"
            raise Conflict(f"photo {photo.id} was named by {expected}, not by finding {meta['finding_id']}; "
                           f"a photo proves one thing", ("finding_id",))
    elif photo.visit_id is not None and photo.visit_id != meta["visit_id"]:
        raise Conflict(f"photo {photo.id} was named by visit {photo.visit_id}, not by visit {meta['visit_id']}",
                       ("visit_id",))


def _replay_or_conflict(photo: Photo, sha256: str) -> Photo:
    if photo.sha256 == sha256:
        return photo
    raise Conflict(f"photo {photo.id} is already stored with other bytes (SHA-256 {photo.sha256}); "
                   f"stored photos never change: send a different photo under a new id", ("file",),
                   stored_sha256=photo.sha256)


def _check_scope(actor: Actor, photo: Photo | None, target: Target) -> None:
    park = target.park_id
    if park is None and photo is not None and photo.status == "waiting":
        park = photo_park(photo)
    if park is not None:
        if not actor.may_see_park(park):
            raise ServiceError("this photo's record belongs to a park you are not assigned to", status=403)
    elif photo is not None and photo.uploaded_by not in (None, actor.id) and actor.park_ids is not None:
        raise ServiceError("this photo was uploaded by someone else and its record has not arrived", status=403)


@dataclass
class Received:
    photo: dict
    created: bool


def receive(photo_id: uuid.UUID, meta: dict, file, actor: Actor) -> Received:
    """Store one uploaded photo (see the module's docstring); idempotent by its id."""
    settings = Settings.from_config(current_app.config)
    store = photo_store()
    declared = (getattr(file, "mimetype", "") or "").lower()
    if not declared_acceptable(declared):
        raise ServiceError(f"a photo is JPEG, PNG, WebP or HEIC; the file part says {declared}",
                           ("file",), status=415, location="files")
    spooled = spool(file.stream, store, settings.max_bytes)
    stored = False
    try:
        if spooled.size == 0:
            raise ServiceError("the file is empty", ("file",), location="files")
        if spooled.sha256 != meta["sha256"]:
            raise ServiceError(
                f"the bytes received hash to {spooled.sha256}, but the phone computed {meta['sha256']}: the photo "
                f"was changed or cut short on the way; send it again", ("sha256",), location="files",
                received_sha256=spooled.sha256, claimed_sha256=meta["sha256"])
        # Step 1: decide from what is stored.
        existing = db.session.get(Photo, photo_id)
        target = _target(meta)
        if existing is not None and existing.status == "stored":
            _check_scope(actor, existing, Target(None, None, photo_park(existing)))
            view = photo_view(_replay_or_conflict(existing, spooled.sha256))
            db.session.rollback()
            return Received(view, False)
        if existing is not None:
            _check_waiting_matches(existing, meta)
        _check_scope(actor, existing, target)
        ptype = sniff(spooled.head)
        if ptype is None:
            raise ServiceError(f"a photo is JPEG, PNG, WebP or HEIC; these bytes are {describe(spooled.head)}",
                               ("file",), status=415, location="files")
        db.session.rollback()  # end the read: nothing below holds a database lock

        # Step 2: the image work and the files.
        derived = store_files(spooled, ptype, settings, store)
        stored = True

        # Step 3: the row, committed after the files are in place.
        with _writing():
            try:
                result = _write_row(photo_id, meta, spooled, derived, actor, settings)
                db.session.commit()
            except sa.exc.IntegrityError:
                # Two uploads of one new id at once and the other inserted first: answered
                # from its row now (a replay, or a conflict for other bytes).
                db.session.rollback()
                result = _write_row(photo_id, meta, spooled, derived, actor, settings)
                db.session.commit()
        return result
    finally:
        if not stored:
            store.discard(spooled.path)


def ingest_bytes(photo_id: uuid.UUID, data: bytes, meta: dict, actor: Actor) -> dict:
    """Store a photo given as bytes inside the caller's transaction (the demo city, an import):
    the same checks, files and row as an upload, flushed and audited but not committed.
    `meta` is what the upload form carries (finding_id or visit_id, captured_at, ...); the
    hash is computed here."""
    settings = Settings.from_config(current_app.config)
    store = photo_store()
    spooled = spool(io.BytesIO(data), store, settings.max_bytes)
    stored = False
    try:
        ptype = sniff(spooled.head)
        if ptype is None:
            raise ServiceError(f"a photo is JPEG, PNG, WebP or HEIC; these bytes are {describe(spooled.head)}",
                               ("file",), status=415, location="files")
        derived = store_files(spooled, ptype, settings, store)
        stored = True
        return _write_row(photo_id, {**meta, "sha256": spooled.sha256}, spooled, derived, actor, settings).photo
    finally:
        if not stored:
            store.discard(spooled.path)


def _write_row(photo_id: uuid.UUID, meta: dict, spooled: Spooled, derived: Derived, actor: Actor,
               settings: Settings) -> Received:
    photo = db.session.execute(sa.select(Photo).where(Photo.id == photo_id).with_for_update()).scalar()
    target = _target(meta)
    if photo is not None and photo.status == "stored":
        return Received(photo_view(_replay_or_conflict(photo, spooled.sha256)), False)
    if photo is not None:
        _check_waiting_matches(photo, meta)
    _check_scope(actor, photo, target)
    filled_waiting = photo is not None
    if photo is None:
        photo = Photo(id=photo_id, status="waiting")
        if target.arrived:
            photo.finding_id, photo.visit_id = target.finding_id, target.visit_id
        db.session.add(photo)
    phone_fix = (meta["lon"], meta["lat"]) if "lon" in meta else None
    offset, flags = exif_domain.compare_claims(phone_fix, derived.exif_fix, meta["captured_at"],
                                               derived.exif_captured_at, settings.gps_mismatch_m,
                                               settings.time_mismatch_s)
    photo.status = "stored"
    photo.purpose = photo.purpose or meta.get("purpose", "")
    photo.sha256 = spooled.sha256
    photo.content_type = derived.photo_type.content_type
    photo.size_bytes = spooled.size
    photo.width, photo.height = derived.width, derived.height
    photo.captured_at = meta["captured_at"]
    photo.received_at = utcnow()
    photo.fix = from_shape(Point(*phone_fix), srid=4326) if phone_fix else None
    photo.fix_accuracy_m = meta.get("accuracy_m") if phone_fix else None
    photo.exif_lon, photo.exif_lat = derived.exif_fix or (None, None)
    photo.exif_captured_at = derived.exif_captured_at
    photo.exif_offset_m = offset
    photo.flags = flags
    photo.claimed_finding_id = meta.get("finding_id")
    photo.claimed_visit_id = meta.get("visit_id")
    photo.uploaded_by = actor.id
    db.session.flush()
    waiting = None
    if photo.finding_id is not None:
        waiting = _recount_waiting(photo.finding_id)
    audit.record("photo.store", "photo", photo.id, {
        "sha256": photo.sha256, "size_bytes": photo.size_bytes, "content_type": photo.content_type,
        "finding_id": str(photo.finding_id) if photo.finding_id else None,
        "visit_id": str(photo.visit_id) if photo.visit_id else None,
        "linked": photo.finding_id is not None or photo.visit_id is not None,
        "filled_waiting": filled_waiting, "flags": flags, "finding_photos_waiting": waiting,
        "exif_notes": derived.warnings,
    }, actor.id)
    return Received(photo_view(photo), True)


def _recount_waiting(finding_id: uuid.UUID) -> int:
    n = db.session.execute(sa.select(sa.func.count(Photo.id)).where(
        Photo.finding_id == finding_id, Photo.status == "waiting")).scalar_one()
    finding = db.session.get(Finding, finding_id)
    if finding is not None and finding.photos_waiting != n:
        finding.photos_waiting = n
    return n


def photo_urls(photo_id: uuid.UUID) -> dict:
    return {"url": f"/api/photos/{photo_id}", "thumb": f"/api/photos/{photo_id}/thumb",
            "display": f"/api/photos/{photo_id}/display"}


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    # As the database gives it back, so the first answer and a replay's are the same.
    return when.astimezone(dt.timezone.utc) if when is not None else None


def photo_view(photo: Photo) -> dict:
    fix = None
    if photo.fix is not None:
        point = to_shape(photo.fix)
        fix = {"lon": point.x, "lat": point.y, "accuracy_m": photo.fix_accuracy_m}
    exif = None
    if photo.exif_lon is not None or photo.exif_captured_at is not None:
        exif = {"lon": photo.exif_lon, "lat": photo.exif_lat, "captured_at": _utc(photo.exif_captured_at),
                "offset_m": photo.exif_offset_m}
    stored = photo.status == "stored"
    urls = photo_urls(photo.id) if stored else {"url": None, "thumb": None, "display": None}
    return {
        "id": photo.id, "status": photo.status, "finding_id": photo.finding_id, "visit_id": photo.visit_id,
        "claimed_finding_id": photo.claimed_finding_id, "claimed_visit_id": photo.claimed_visit_id,
        "linked": photo.finding_id is not None or photo.visit_id is not None,
        "purpose": photo.purpose or "", "sha256": photo.sha256, "content_type": photo.content_type,
        "size_bytes": photo.size_bytes, "width": photo.width, "height": photo.height,
        "captured_at": _utc(photo.captured_at), "received_at": _utc(photo.received_at), "fix": fix, "exif": exif,
        "flags": list(photo.flags or []), **urls,
    }


# --- serving ------------------------------------------------------------------------------------

KINDS = ("original", "thumb", "display")


@dataclass(frozen=True)
class Servable:
    key: str
    content_type: str
    etag: str
    filename: str


def servable(photo_id: uuid.UUID, kind: str, actor: Actor) -> Servable:
    """Which stored bytes answer GET /api/photos/<id>[/thumb|/display], for this person."""
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise ServiceError(f"there is no photo {photo_id}", status=404)
    park = photo_park(photo)
    if park is not None:
        if not actor.may_see_park(park):
            raise ServiceError("this photo belongs to a park you are not assigned to", status=403)
    elif actor.park_ids is not None and photo.uploaded_by != actor.id:
        # Its record has not arrived, so no park vouches for it yet: only its uploader sees it.
        raise ServiceError("this photo's record has not arrived yet; until it does only its uploader sees it",
                           status=403)
    if photo.status != "stored":
        raise ServiceError(f"photo {photo_id} is named by its record but its bytes have not arrived yet", status=404)
    if kind == "original":
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}.get(
            photo.content_type, "bin")
        return Servable(original_key(photo.sha256), photo.content_type, photo.sha256, f"{photo.id}.{ext}")
    return Servable(derived_key(photo.sha256, kind), "image/jpeg", f"{photo.sha256}-{kind}",
                    f"{photo.id}-{kind}.jpg")


# --- the sweep ----------------------------------------------------------------------------------


def sweep(now: dt.datetime | None = None) -> dict:
    """Remove spooled files of uploads that died and stored files no row points to.

    Only files older than PHOTO_SWEEP_MIN_AGE_S are touched, so an upload in flight (its
    files stored, its row not yet committed) is never swept; a file stored again since it
    was listed is left alone.
    """
    store = photo_store()
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=current_app.config["PHOTO_SWEEP_MIN_AGE_S"])
    temp_removed = store.sweep_temp(cutoff)
    removed = kept = 0
    batch = []

    def settle(objs):
        nonlocal removed, kept
        shas = {sha_of_key(o.key) for o in objs}
        referenced = set(db.session.execute(
            sa.select(Photo.sha256).where(Photo.sha256.in_(sorted(shas)))).scalars())
        for o in objs:
            if sha_of_key(o.key) in referenced:
                kept += 1
            elif store.delete_if_unchanged(o):
                removed += 1
                log.info("swept unreferenced photo file %s", o.key)

    for obj in store.list():
        if obj.modified >= cutoff:
            kept += 1
            continue
        batch.append(obj)
        if len(batch) >= 500:
            settle(batch)
            batch = []
    if batch:
        settle(batch)
    db.session.rollback()
    return {"temp_removed": temp_removed, "unreferenced_removed": removed, "kept": kept}

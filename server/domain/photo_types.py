"""Which image types a photo may be, told from its first bytes (never from a name or a header
the client chose): JPEG, PNG, WebP and HEIC/HEIF."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PhotoType:
    content_type: str
    extension: str
    pillow_formats: tuple[str, ...]  # the decoders Image.open may use for it


JPEG = PhotoType("image/jpeg", "jpg", ("JPEG", "MPO"))
PNG = PhotoType("image/png", "png", ("PNG",))
WEBP = PhotoType("image/webp", "webp", ("WEBP",))
HEIC = PhotoType("image/heic", "heic", ("HEIF",))
ACCEPTED = (JPEG, PNG, WEBP, HEIC)
ACCEPTED_CONTENT_TYPES = tuple(t.content_type for t in ACCEPTED) + ("image/heif", "image/jpg")
# What a browser may label a Blob it cannot name; the bytes decide then.
GENERIC_CONTENT_TYPES = ("", "application/octet-stream", "binary/octet-stream")
HEADER_BYTES = 32

# ISO BMFF brands of HEIF images coded with HEVC (iPhones write heic, mif1 as compatible).
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_GENERIC = {b"mif1", b"msf1"}


def _heif_brands(head: bytes) -> set[bytes]:
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    box = head[8:min(len(head), max(size, 16))]
    return {box[:4]} | {box[i:i + 4] for i in range(8, len(box) - 3, 4)}


def sniff(head: bytes) -> PhotoType | None:
    """The accepted type these leading bytes begin, or None (give at least HEADER_BYTES)."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    brands = _heif_brands(head)
    if brands & _HEIC_BRANDS or (brands & _HEIF_GENERIC and b"avif" not in brands):
        return HEIC
    return None


def describe(head: bytes) -> str:
    """What the bytes look like, for a refusal message."""
    known = {
        b"GIF8": "a GIF image", b"%PDF": "a PDF document", b"BM": "a BMP image", b"PK\x03\x04": "a ZIP archive",
        b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image", b"<": "text or HTML",
    }
    for magic, name in known.items():
        if head.lstrip().startswith(magic):
            return name
    if b"avif" in _heif_brands(head):
        return "an AVIF image"
    return "not an image type fieldcheck knows"


def declared_acceptable(content_type: str | None) -> bool:
    """The client's label names an accepted type, or none at all (then the bytes decide)."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return base in ACCEPTED_CONTENT_TYPES or base in GENERIC_CONTENT_TYPES

"""Reading EXIF values in plain Python: GPS rationals to degrees, the orientation, the capture time.

Cameras and phones write odd values (a zero denominator, minutes with a fraction, a missing
hemisphere, all-zero coordinates from a receiver without a fix, a date of "0000:00:00"), and
decoders hand them over as rationals, tuples, floats or bytes. Every helper answers None (or
the neutral orientation 1) for what it cannot read instead of raising, so that a photo with a
bad tag is stored without that tag rather than refused or crashing the upload.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

# GPS IFD tags (EXIF 2.32, table 15)
GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 1, 2, 3, 4
# Exif IFD tags
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9011, 0x9012
SUBSEC_TIME_ORIGINAL, SUBSEC_TIME_DIGITIZED = 0x9291, 0x9292
ORIENTATION = 0x0112

# How to make an image upright for each EXIF orientation, named as Pillow's Image.Transpose
# members (the same table as PIL.ImageOps.exif_transpose).
UPRIGHT_TRANSPOSE: dict[int, str | None] = {
    1: None,
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip() or None


def rational(value: Any) -> float | None:
    """A finite number from an EXIF rational (Pillow's IFDRational, a (num, den) pair, a number)."""
    try:
        if hasattr(value, "numerator") and hasattr(value, "denominator") and not isinstance(value, (int, float)):
            num, den = float(value.numerator), float(value.denominator)
            result = num / den if den else math.nan
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            num, den = float(value[0]), float(value[1])
            result = num / den if den else math.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            result = float(value)
        else:
            return None
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return result if math.isfinite(result) else None


def dms_to_degrees(dms: Any, ref: Any, positive: str, negative: str) -> float | None:
    """Degrees from EXIF degrees/minutes/seconds and a hemisphere letter, or None.

    Minutes and seconds may carry fractions (some cameras write 47.135666 minutes and 0
    seconds); a value without a hemisphere cannot be placed and is None.
    """
    hemisphere = _text(ref)
    if hemisphere is None:
        return None
    hemisphere = hemisphere[:1].upper()
    if hemisphere not in (positive, negative):
        return None
    if not isinstance(dms, Sequence) or isinstance(dms, (str, bytes)) or not 1 <= len(dms) <= 3:
        return None
    parts = [rational(v) for v in dms]
    if any(p is None or p < 0 for p in parts):
        return None
    parts += [0.0] * (3 - len(parts))
    deg, minutes, seconds = parts
    if minutes >= 60 or seconds >= 60:
        return None
    value = deg + minutes / 60 + seconds / 3600
    return -value if hemisphere == negative else value


def gps_position(gps: Mapping[int, Any] | None) -> tuple[float, float] | None:
    """(longitude, latitude) in WGS 84 degrees from a GPS IFD, or None when absent or unreadable."""
    if not gps:
        return None
    try:
        lat = dms_to_degrees(gps.get(GPS_LATITUDE), gps.get(GPS_LATITUDE_REF), "N", "S")
        lon = dms_to_degrees(gps.get(GPS_LONGITUDE), gps.get(GPS_LONGITUDE_REF), "E", "W")
    except Exception:  # a mapping that fails on access is as unreadable as a bad value
        return None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:  # a receiver without a fix writes zeros
        return None
    return lon, lat


def orientation(value: Any) -> int:
    """The EXIF orientation 1..8; anything else counts as 1 (already upright)."""
    try:
        number = int(value[0] if isinstance(value, (tuple, list)) and value else value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return number if 1 <= number <= 8 else 1


def upright_size(width: int, height: int, orient: int) -> tuple[int, int]:
    """The size once turned upright: orientations 5 to 8 swap width and height."""
    return (height, width) if orientation(orient) >= 5 else (width, height)


_DATETIME_RE = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_offset(value: Any) -> dt.timezone | None:
    text = _text(value)
    if text is None:
        return None
    if text.upper() == "Z":
        return dt.timezone.utc
    m = _OFFSET_RE.match(text)
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if hours > 14 or minutes >= 60:
        return None
    delta = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-delta if m.group(1) == "-" else delta)


def parse_datetime(value: Any, offset: Any = None, subsec: Any = None,
                   default_tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime | None:
    """An aware datetime from EXIF "YYYY:MM:DD HH:MM:SS", or None.

    EXIF stores the camera's wall clock; with an OffsetTime tag it is placed exactly,
    without one it is read in `default_tz` (the bureau's zone, where its phones are).
    """
    text = _text(value)
    if text is None:
        return None
    m = _DATETIME_RE.match(text)
    if not m:
        return None
    try:
        naive = dt.datetime(*(int(g) for g in m.groups()))
    except ValueError:  # 0000:00:00 00:00:00, month 13 ...
        return None
    digits = _text(subsec)
    if digits and digits.isdigit():
        naive = naive.replace(microsecond=int((digits + "000000")[:6]))
    tz = parse_offset(offset)
    if tz is not None:
        return naive.replace(tzinfo=tz)
    try:
        return naive.replace(tzinfo=default_tz)
    except (OverflowError, ValueError):
        return None


def capture_time(exif_ifd: Mapping[int, Any] | None, default_tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime | None:
    """When the photo was taken, from the Exif IFD's DateTimeOriginal (or DateTimeDigitized)."""
    if not exif_ifd:
        return None
    for when, offset, subsec in ((DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, SUBSEC_TIME_ORIGINAL),
                                 (DATETIME_DIGITIZED, OFFSET_TIME_DIGITIZED, SUBSEC_TIME_DIGITIZED)):
        try:
            found = parse_datetime(exif_ifd.get(when), exif_ifd.get(offset), exif_ifd.get(subsec), default_tz)
        except Exception:  # a mapping that fails on access is as unreadable as a bad value
            found = None
        if found is not None:
            return found
    return None


def fit_within(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """The size with the long edge at most `long_edge`, aspect kept (never enlarged)."""
    if width <= 0 or height <= 0:
        raise ValueError("an image has a positive size")
    if max(width, height) <= long_edge:
        return width, height
    scale = long_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def compare_claims(phone_fix: tuple[float, float] | None, exif_fix: tuple[float, float] | None,
                   phone_time: dt.datetime | None, exif_time: dt.datetime | None,
                   max_offset_m: float, max_time_s: float) -> tuple[float | None, list[str]]:
    """How far the EXIF position is from the phone's fix (metres, or None), and the flags
    for what disagrees beyond the thresholds: "gps_differs", "time_differs"."""
    from .geo import geodesic_m

    flags: list[str] = []
    offset = None
    if phone_fix is not None and exif_fix is not None:
        offset = geodesic_m(phone_fix[0], phone_fix[1], exif_fix[0], exif_fix[1])
        if offset > max_offset_m:
            flags.append("gps_differs")
    if phone_time is not None and exif_time is not None:
        if abs((phone_time - exif_time).total_seconds()) > max_time_s:
            flags.append("time_differs")
    return offset, flags

"""Coordinates in China: GCJ-02 ("Mars coordinates", used by AMap/Gaode, Tencent and Google's
China tiles) and BD-09 (Baidu's, a further offset on GCJ-02) to WGS 84 and back. Pure.

The forward transform is the published obfuscation algorithm (the same constants as the
open-source eviltransform and coordtransform libraries: Krasovsky 1940 semi-major axis and
eccentricity). It has no closed inverse, so GCJ-02 -> WGS 84 iterates: start at the GCJ-02
point and move by the forward transform's error until it is below 1e-9 degree (about 0.1 mm);
the transform is smooth and shifts points by a few hundred metres, so this converges in a few
steps. Points outside China are not shifted by either system and are answered unchanged.

Every function takes and answers (lon, lat) in degrees.
"""
from __future__ import annotations

import math

CRS = ("wgs84", "gcj02", "bd09")
_A = 6378245.0                    # Krasovsky 1940 semi-major axis, as the algorithm uses it
_EE = 0.00669342162296594323      # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # BD-09's constant
_TOLERANCE_DEG = 1e-9
_MAX_STEPS = 30


class CoordError(ValueError):
    """An unknown coordinate system, or a point that cannot be converted."""


def out_of_china(lon: float, lat: float) -> bool:
    """The rough box outside which GCJ-02 is the identity (the algorithms' own test)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + common
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + common
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The exact inverse (to about 1e-9 degree), by fixed-point iteration on the forward transform."""
    if out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(_MAX_STEPS):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        if abs(elon) < _TOLERANCE_DEG and abs(elat) < _TOLERANCE_DEG:
            break
        wlon, wlat = wlon - elon, wlat - elat
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02_exact(lon: float, lat: float) -> tuple[float, float]:
    """bd09_to_gcj02 refined by iteration: the published inverse formula is up to about 0.2 m off."""
    glon, glat = bd09_to_gcj02(lon, lat)
    for _ in range(_MAX_STEPS):
        blon, blat = gcj02_to_bd09(glon, glat)
        elon, elat = blon - lon, blat - lat
        if abs(elon) < _TOLERANCE_DEG and abs(elat) < _TOLERANCE_DEG:
            break
        glon, glat = glon - elon, glat - elat
    return glon, glat


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """A point given in `crs` (wgs84, gcj02 or bd09) as WGS 84."""
    if crs == "wgs84":
        return lon, lat
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise CoordError(f"unknown coordinate system {crs!r}: one of {', '.join(CRS)}")


def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    if crs == "wgs84":
        return lon, lat
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return wgs84_to_bd09(lon, lat)
    raise CoordError(f"unknown coordinate system {crs!r}: one of {', '.join(CRS)}")


def offset_m(lon: float, lat: float) -> float:
    """How far GCJ-02 moves a WGS 84 point, in metres (a few hundred in China, 0 outside)."""
    glon, glat = wgs84_to_gcj02(lon, lat)
    return _metres(lon, lat, glon, glat)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """A short distance on a sphere of the WGS 84 radius (good to a fraction of a percent at these scales)."""
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, h)))


def looks_like_gcj02(lon: float, lat: float, ref_lon: float, ref_lat: float, ref_distance_m: float | None = None
                     ) -> bool:
    """Whether a point given as WGS 84 near a known WGS 84 reference point looks shifted by GCJ-02.

    The reference point (say the park office, surveyed in WGS 84) was entered in the same file's
    coordinate system: if the file's copy of it sits near where GCJ-02 would put it and far from
    the true point, the whole file is GCJ-02. Here: the file's point is closer to the GCJ-02
    image of the reference than to the reference itself, and the reference's own offset is
    large enough to tell them apart.
    """
    shift = offset_m(ref_lon, ref_lat)
    if shift < 50:
        return False
    glon, glat = wgs84_to_gcj02(ref_lon, ref_lat)
    return _metres(lon, lat, glon, glat) < _metres(lon, lat, ref_lon, ref_lat)

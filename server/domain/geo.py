"""Geometry on WGS 84 longitude/latitude, in plain Python (with Shapely for polygons).

Distances are in metres. `geodesic_m` (Vincenty's inverse formula on the WGS 84
ellipsoid, accurate to well under a millimetre for the distances a patrol covers)
is the reference the database engines are checked against; `haversine_m` is the
quick spherical estimate (within 0.6% of it: the ellipsoid's curvature varies that much) for code that only ranks.
"""
from __future__ import annotations

import math

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.validation import explain_validity

# WGS 84
A = 6378137.0
F = 1 / 298.257223563
B = A * (1 - F)
E2 = F * (2 - F)
MEAN_RADIUS = 6371008.8
# The smallest radius of curvature anywhere on the ellipsoid (the meridian's, at the
# equator): no path of length r moves more than r / M_MIN radians in latitude.
M_MIN = A * (1 - E2)

MAX_BOUNDARY_POSITIONS = 20000
# A `near` query wider than a city is a listing, not a proximity question: refuse it
# rather than let one request scan every site.
MAX_NEAR_RADIUS_M = 50_000.0


class GeometryError(ValueError):
    """Geometry that cannot be used, with a message a person can act on."""


# --- distances ------------------------------------------------------------------------


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on the mean-radius sphere (within 0.6% of the geodesic)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * MEAN_RADIUS * math.asin(min(1.0, math.sqrt(h)))


def geodesic_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Distance on the WGS 84 ellipsoid (Vincenty 1975, inverse).

    Vincenty's iteration fails to converge only for nearly antipodal points
    (thousands of km apart, never a patrol distance); there the spherical
    estimate is answered instead.
    """
    if lon1 == lon2 and lat1 == lat2:
        return 0.0
    L = math.radians(lon2 - lon1)
    U1 = math.atan((1 - F) * math.tan(math.radians(lat1)))
    U2 = math.atan((1 - F) * math.tan(math.radians(lat2)))
    sinU1, cosU1, sinU2, cosU2 = math.sin(U1), math.cos(U1), math.sin(U2), math.cos(U2)
    lam = L
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cosU2 * sin_lam, cosU1 * sinU2 - sinU1 * cosU2 * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = sinU1 * sinU2 + cosU1 * cosU2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cosU1 * cosU2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha**2
        cos_2sm = cos_sigma - 2 * sinU1 * sinU2 / cos2_alpha if cos2_alpha else 0.0  # equatorial line
        C = F / 16 * cos2_alpha * (4 + F * (4 - 3 * cos2_alpha))
        lam_prev = lam
        lam = L + (1 - C) * F * sin_alpha * (
            sigma + C * sin_sigma * (cos_2sm + C * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if abs(lam - lam_prev) < 1e-12:
            break
    else:
        return haversine_m(lon1, lat1, lon2, lat2)
    u2 = cos2_alpha * (A**2 - B**2) / B**2
    big_a = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    big_b = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
    d_sigma = big_b * sin_sigma * (
        cos_2sm + big_b / 4 * (
            cos_sigma * (-1 + 2 * cos_2sm**2)
            - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
        )
    )
    return B * big_a * (sigma - d_sigma)


def destination(lon: float, lat: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point reached from (lon, lat) along a geodesic (Vincenty 1975, direct): (lon, lat)."""
    alpha1 = math.radians(bearing_deg)
    sin_a1, cos_a1 = math.sin(alpha1), math.cos(alpha1)
    tanU1 = (1 - F) * math.tan(math.radians(lat))
    cosU1 = 1 / math.sqrt(1 + tanU1**2)
    sinU1 = tanU1 * cosU1
    sigma1 = math.atan2(tanU1, cos_a1)
    sin_alpha = cosU1 * sin_a1
    cos2_alpha = 1 - sin_alpha**2
    u2 = cos2_alpha * (A**2 - B**2) / B**2
    big_a = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
    big_b = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
    sigma = distance_m / (B * big_a)
    for _ in range(200):
        cos_2sm = math.cos(2 * sigma1 + sigma)
        sin_sigma, cos_sigma = math.sin(sigma), math.cos(sigma)
        d_sigma = big_b * sin_sigma * (
            cos_2sm + big_b / 4 * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
        sigma_prev = sigma
        sigma = distance_m / (B * big_a) + d_sigma
        if abs(sigma - sigma_prev) < 1e-12:
            break
    sin_sigma, cos_sigma = math.sin(sigma), math.cos(sigma)
    cos_2sm = math.cos(2 * sigma1 + sigma)
    x = sinU1 * sin_sigma - cosU1 * cos_sigma * cos_a1
    lat2 = math.atan2(sinU1 * cos_sigma + cosU1 * sin_sigma * cos_a1, (1 - F) * math.hypot(sin_alpha, x))
    lam = math.atan2(sin_sigma * sin_a1, cosU1 * cos_sigma - sinU1 * sin_sigma * cos_a1)
    C = F / 16 * cos2_alpha * (4 + F * (4 - 3 * cos2_alpha))
    L = lam - (1 - C) * F * sin_alpha * (
        sigma + C * sin_sigma * (cos_2sm + C * cos_sigma * (-1 + 2 * cos_2sm**2))
    )
    lon2 = (lon + math.degrees(L) + 540) % 360 - 180
    return lon2, math.degrees(lat2)


def bbox_around(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box (xmin, ymin, xmax, ymax) holding every point within radius_m of (lon, lat).

    Safe by construction, not by a fudge factor: a path of length r changes latitude by
    at most r / M_MIN, and within that band of latitudes a parallel's radius is at least
    a * cos(highest latitude), which bounds the change of longitude. A box that would
    reach a pole or cross the antimeridian spans all longitudes (still correct, only
    less selective).
    """
    dlat = math.degrees(radius_m / M_MIN) * 1.000001 + 1e-9
    ymin, ymax = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    top = max(abs(ymin), abs(ymax))
    cos_top = math.cos(math.radians(top))
    if top >= 90.0 or cos_top <= 0:
        return -180.0, ymin, 180.0, ymax
    dlon = math.degrees(radius_m / (A * cos_top)) * 1.000001 + 1e-9
    if lon - dlon < -180.0 or lon + dlon > 180.0:
        return -180.0, ymin, 180.0, ymax
    return lon - dlon, ymin, lon + dlon, ymax


# --- points and areas -----------------------------------------------------------------


def parse_lonlat(text: str) -> tuple[float, float]:
    """'lon,lat' in WGS 84 degrees, e.g. '119.17,32.26'."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise GeometryError(f"expected 'lon,lat' (two numbers and a comma, e.g. 119.17,32.26), got {text!r}")
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError:
        raise GeometryError(f"expected 'lon,lat' as two numbers (e.g. 119.17,32.26), got {text!r}") from None
    check_lonlat(lon, lat)
    return lon, lat


def check_lonlat(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError("longitude and latitude must be finite numbers")
    if not -180 <= lon <= 180:
        raise GeometryError(f"longitude {lon} is outside -180..180 (WGS 84 degrees; is it lat,lon swapped?)")
    if not -90 <= lat <= 90:
        raise GeometryError(f"latitude {lat} is outside -90..90 (WGS 84 degrees; is it lat,lon swapped?)")


def approx_area_m2(geom) -> float:
    """Area in square metres, good to a few per cent for a park-sized area (a local
    equirectangular scale at the geometry's centroid)."""
    if geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    scale = (math.pi * A / 180) ** 2 * math.cos(math.radians(lat))
    return geom.area * scale


def covers_point(area, lon: float, lat: float) -> bool:
    """True when the point is inside the area or on its edge."""
    return bool(shapely.intersects_xy(area, lon, lat))


# --- GeoJSON --------------------------------------------------------------------------


def to_geojson(geom) -> dict:
    """A GeoJSON geometry object with lists (not tuples), ready for JSON and hashing."""

    def lists(x):
        return [lists(v) for v in x] if isinstance(x, (list, tuple)) else x

    m = mapping(geom)
    return {"type": m["type"], "coordinates": lists(m["coordinates"])}


def _position(pos, where: str) -> tuple[float, float]:
    if not isinstance(pos, (list, tuple)) or len(pos) not in (2, 3):
        raise GeometryError(f"{where} must be [lon, lat] (an optional third number, the altitude, is ignored)")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in pos):
        raise GeometryError(f"{where} must hold numbers, got {pos!r}")
    lon, lat = float(pos[0]), float(pos[1])
    try:
        check_lonlat(lon, lat)
    except GeometryError as e:
        raise GeometryError(f"{where}: {e}") from None
    return lon, lat


def _ring(coords, where: str) -> list[tuple[float, float]]:
    if not isinstance(coords, (list, tuple)):
        raise GeometryError(f"{where} must be a list of [lon, lat] positions")
    ring = [_position(p, f"{where}, position {i + 1}") for i, p in enumerate(coords)]
    if len(ring) < 4:
        raise GeometryError(f"{where} has {len(ring)} positions; a closed ring needs at least 4 "
                            "(three corners and the first one repeated at the end)")
    if ring[0] != ring[-1]:
        raise GeometryError(f"{where} is not closed: its last position must repeat its first (RFC 7946)")
    return ring


def _polygon(coords, where: str) -> Polygon:
    if not isinstance(coords, (list, tuple)) or not coords:
        raise GeometryError(f"{where} must be a list of rings: the outer ring, then any holes")
    rings = [_ring(r, f"{where}, {'outer ring' if i == 0 else f'hole {i}'}") for i, r in enumerate(coords)]
    return Polygon(rings[0], rings[1:])


def _count_positions(obj) -> int:
    # Iterative: a hostile body may nest lists deeper than Python's recursion limit.
    count, stack = 0, [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            if item and all(isinstance(v, (int, float)) for v in item):
                count += 1
            else:
                stack.extend(item)
    return count


def area_from_geojson(obj) -> MultiPolygon:
    """A valid MultiPolygon from a GeoJSON Polygon or MultiPolygon geometry, or GeometryError saying why not."""
    if not isinstance(obj, dict):
        raise GeometryError("the boundary must be a GeoJSON object such as "
                            '{"type": "Polygon", "coordinates": [[[lon, lat], ...]]}')
    kind = obj.get("type")
    if kind in ("Feature", "FeatureCollection"):
        raise GeometryError(f"the boundary must be a GeoJSON geometry (Polygon or MultiPolygon), not a {kind}: "
                            "send the feature's 'geometry'")
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"the boundary must be a GeoJSON Polygon or MultiPolygon, not {kind!r}")
    extra = sorted(set(obj) - {"type", "coordinates", "bbox", "crs"})
    if extra:
        raise GeometryError(f"unknown member(s) in the boundary: {', '.join(extra)}")
    coords = obj.get("coordinates")
    if _count_positions(coords) > MAX_BOUNDARY_POSITIONS:
        raise GeometryError(f"the boundary has more than {MAX_BOUNDARY_POSITIONS} positions; simplify it")
    if kind == "Polygon":
        polygons = [_polygon(coords, "the polygon")]
    else:
        if not isinstance(coords, (list, tuple)) or not coords:
            raise GeometryError("a MultiPolygon's coordinates must be a non-empty list of polygons")
        polygons = [_polygon(p, f"polygon {i + 1}") for i, p in enumerate(coords)]
    area = MultiPolygon(polygons)
    why = invalid_reason(area)
    if why:
        raise GeometryError(why)
    return area


def invalid_reason(geom) -> str | None:
    """None for a valid area; else Shapely's explanation and what to do about it."""
    if geom.is_empty:
        return "the boundary is empty"
    if geom.is_valid:
        if geom.area == 0:
            return "the boundary encloses no area"
        return None
    return (f"the boundary is not a valid polygon: {explain_validity(geom)} "
            "(edges must not cross or touch each other, holes must lie inside their outer ring, "
            "and the polygons of a MultiPolygon must not overlap)")


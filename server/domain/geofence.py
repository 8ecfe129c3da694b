"""On-site proof: was the phone at the site when the visit was recorded?

A visit's GPS fix (longitude, latitude and the accuracy the phone reported, a radius in
metres) is compared with the site's point. The verdict, by the policy's
`geofence_radius_m` (R) and `gps_accuracy_threshold_m` (A):

| verdict    | when                                                              |
| ---------- | ----------------------------------------------------------------- |
| `no_fix`   | the visit has no fix (no signal, permission refused, a timeout)   |
| `poor_fix` | the fix's accuracy is worse than A: it can prove nothing either way |
| `on_site`  | distance <= R                                                     |
| `near`     | R < distance <= 2 R (the far side of a large plant, the next gate) |
| `off_site` | distance > 2 R                                                    |

The rows are tried in that order and every boundary belongs to the better verdict (a
distance of exactly R is on site, an accuracy of exactly A is good enough). A fix that
reports no accuracy is a poor fix: an unbounded error proves nothing. The distance is
kept with every verdict, a poor fix's too, so a supervisor sees how far off it was.

The verdict is evidence for a supervisor; it never refuses a visit.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .geo import geodesic_m

VERDICTS = ("on_site", "near", "off_site", "poor_fix", "no_fix")
NEAR_FACTOR = 2.0


@dataclass(frozen=True)
class OnSiteProof:
    verdict: str
    distance_m: float | None
    accuracy_m: float | None
    radius_m: float
    accuracy_threshold_m: float

    def as_dict(self) -> dict:
        return asdict(self)


def verdict(distance_m: float | None, accuracy_m: float | None, radius_m: float, accuracy_threshold_m: float) -> str:
    """The verdict for a fix this far from the site with this accuracy (see the table above)."""
    if radius_m <= 0 or accuracy_threshold_m <= 0:
        raise ValueError("the geofence radius and the accuracy threshold must be more than 0 metres")
    if distance_m is None:
        return "no_fix"
    if distance_m < 0 or not math.isfinite(distance_m):
        raise ValueError(f"a distance is a finite number of metres, 0 or more, not {distance_m!r}")
    if accuracy_m is None or not math.isfinite(accuracy_m) or accuracy_m > accuracy_threshold_m:
        return "poor_fix"
    if distance_m <= radius_m:
        return "on_site"
    if distance_m <= NEAR_FACTOR * radius_m:
        return "near"
    return "off_site"


def prove(fix: tuple[float, float, float | None] | None, site: tuple[float, float],
          radius_m: float, accuracy_threshold_m: float) -> OnSiteProof:
    """The proof for a fix (lon, lat, accuracy_m) or None, against the site's (lon, lat).

    The distance is geodesic on the WGS 84 ellipsoid, rounded to the decimetre (a phone's
    fix is good to metres at best; the rounding keeps a stored value and its replay equal).
    """
    if fix is None:
        return OnSiteProof("no_fix", None, None, radius_m, accuracy_threshold_m)
    lon, lat, accuracy = fix
    distance = round(geodesic_m(lon, lat, site[0], site[1]), 1)
    return OnSiteProof(verdict(distance, accuracy, radius_m, accuracy_threshold_m), distance, accuracy,
                       radius_m, accuracy_threshold_m)

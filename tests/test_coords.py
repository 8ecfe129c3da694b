"""GCJ-02 and BD-09 to WGS 84 (server/domain/coords.py) against published reference pairs,
and round trips over China.

Reference pairs, each cited where it was published:
- eviltransform (github.com/googollee/eviltransform, python/test.py, `TESTS`): WGS 84 ->
  GCJ-02 in Shanghai, Shenzhen and Beijing; that suite asks its exact inverse to come back
  within 0.5 m, as we do.
- coordtransform (github.com/wandergis/coordtransform, test/app.js, the "//result" block):
  bd09togcj02, gcj02tobd09 and wgs84togcj02 of (116.404, 39.915), and its one-step (approximate)
  gcj02towgs84, which is within 2 m of the exact inverse.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import coords
from server.domain.coords import (
    CoordError, bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, looks_like_gcj02, to_wgs84,
    wgs84_to_bd09, wgs84_to_gcj02,
)


def metres(a, b) -> float:
    return coords._metres(a[0], a[1], b[0], b[1])


# eviltransform python/test.py TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]
# coordtransform test/app.js, all of (116.404, 39.915), as [lng, lat]
CT_POINT = (116.404, 39.915)
CT_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)
CT_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
CT_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
CT_GCJ02_TO_WGS84_APPROX = (116.39775550083061, 39.91359571849836)


@pytest.mark.parametrize("wlat,wlng,glat,glng", EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_eviltransform(wlat, wlng, glat, glng):
    lon, lat = wgs84_to_gcj02(wlng, wlat)
    assert lon == pytest.approx(glng, abs=1e-9) and lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize("wlat,wlng,glat,glng", EVILTRANSFORM)
def test_gcj02_inverse_is_within_half_a_metre_of_the_published_wgs84(wlat, wlng, glat, glng):
    back = gcj02_to_wgs84(glng, glat)
    assert metres(back, (wlng, wlat)) < 0.5
    # and the shift undone is the real one: hundreds of metres
    assert metres((glng, glat), (wlng, wlat)) > 100


def test_coordtransform_pairs():
    assert bd09_to_gcj02(*CT_POINT) == pytest.approx(CT_BD09_TO_GCJ02, abs=1e-9)
    assert gcj02_to_bd09(*CT_POINT) == pytest.approx(CT_GCJ02_TO_BD09, abs=1e-9)
    assert wgs84_to_gcj02(*CT_POINT) == pytest.approx(CT_WGS84_TO_GCJ02, abs=1e-9)
    exact = gcj02_to_wgs84(*CT_POINT)
    # coordtransform's inverse is one step of the iteration: within 2 m, but not exact
    assert metres(exact, CT_GCJ02_TO_WGS84_APPROX) < 2
    assert metres(wgs84_to_gcj02(*exact), CT_POINT) < 0.01


def test_outside_china_nothing_moves():
    for p in ((2.3522, 48.8566), (-74.0, 40.7), (151.2, -33.9)):
        assert wgs84_to_gcj02(*p) == p and gcj02_to_wgs84(*p) == p


def test_to_wgs84_by_name():
    p = (119.17, 32.265)
    assert to_wgs84(*p) == p
    assert metres(to_wgs84(*wgs84_to_gcj02(*p), "gcj02"), p) < 0.01
    assert metres(to_wgs84(*wgs84_to_bd09(*p), "bd09"), p) < 0.01
    with pytest.raises(CoordError, match="one of wgs84, gcj02, bd09"):
        to_wgs84(*p, "utm50")


def test_looks_like_gcj02_tells_a_shifted_reference_from_a_true_one():
    office = (119.185, 32.245)
    shifted = wgs84_to_gcj02(*office)
    assert looks_like_gcj02(*shifted, *office)
    assert not looks_like_gcj02(office[0] + 0.0001, office[1], *office)


china_lon = st.floats(min_value=73.7, max_value=134.7, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.5, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_is_under_half_a_metre(lon, lat):
    g = wgs84_to_gcj02(lon, lat)
    assert metres(gcj02_to_wgs84(*g), (lon, lat)) < 0.5
    assert 0 < coords.offset_m(lon, lat) < 1500


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trip_is_under_half_a_metre(lon, lat):
    b = wgs84_to_bd09(lon, lat)
    assert metres(bd09_to_wgs84(*b), (lon, lat)) < 0.05
    assert not math.isclose(b[0], lon)


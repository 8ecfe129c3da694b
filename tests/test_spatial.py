"""Distances, `near` and the spatial index, checked on both engines against one reference
geodesic (Vincenty on WGS 84, in server/domain/geo.py), plus the pure geometry helpers."""
from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain import geo
from server.domain.geo import GeometryError, bbox_around, destination, geodesic_m, haversine_m

CENTRE = (119.170, 32.265)  # inside the test world's EDZ park (119.15-119.19, 32.25-32.28)


def park_ids(client, auth) -> dict[str, int]:
    r = client.get("/api/parks", headers=auth.headers("admin1"))
    assert r.status_code == 200
    return {p["code"]: p["id"] for p in r.get_json()["items"]}


def add_site(client, auth, park_id: int, lon: float, lat: float, name: str) -> dict:
    r = client.post("/api/sites", headers=auth.headers("admin1"),
                    json={"park_id": park_id, "name": name, "lon": lon, "lat": lat})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def all_sites(client, auth, user="admin1", **params) -> list[dict]:
    """Every page of GET /api/sites, following next_cursor."""
    items, cursor = [], None
    while True:
        q = dict(params, limit=params.get("limit", 2))
        if cursor:
            q["cursor"] = cursor
        r = client.get("/api/sites", headers=auth.headers(user), query_string=q)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


# --- the reference geodesic and the pure helpers ---------------------------------------


def test_vincenty_matches_the_published_flinders_peak_to_buninyong_distance():
    # Vincenty (1975)'s own worked example: 54 972.271 m.
    lon1, lat1 = 144 + 25 / 60 + 29.52440 / 3600, -(37 + 57 / 60 + 3.72030 / 3600)
    lon2, lat2 = 143 + 55 / 60 + 35.38390 / 3600, -(37 + 39 / 60 + 10.15610 / 3600)
    assert geodesic_m(lon1, lat1, lon2, lat2) == pytest.approx(54972.271, abs=0.001)
    assert destination(lon1, lat1, 306 + 52 / 60 + 5.37 / 3600, 54972.271) == pytest.approx((lon2, lat2), abs=1e-7)


def test_one_degree_of_longitude_on_the_equator_is_the_textbook_length():
    assert geodesic_m(0, 0, 1, 0) == pytest.approx(111319.491, abs=0.01)
    assert geodesic_m(0, 0, 0, 1) == pytest.approx(110574.389, abs=0.01)


@settings(max_examples=300, deadline=None)
@given(lon=st.floats(-179.5, 179.5), lat=st.floats(-80, 80), bearing=st.floats(0, 360),
       dist=st.floats(1, 50_000))
def test_direct_and_inverse_agree_and_haversine_is_within_0_6_percent(lon, lat, bearing, dist):
    lon2, lat2 = destination(lon, lat, bearing, dist)
    assert geodesic_m(lon, lat, lon2, lat2) == pytest.approx(dist, rel=1e-9, abs=1e-4)  # a tenth of a millimetre
    assert haversine_m(lon, lat, lon2, lat2) == pytest.approx(dist, rel=0.006)


@settings(max_examples=500, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-89, 89), bearing=st.floats(0, 360),
       radius=st.floats(1, geo.MAX_NEAR_RADIUS_M), fraction=st.floats(0, 1))
def test_the_near_box_holds_every_point_within_the_radius(lon, lat, bearing, radius, fraction):
    xmin, ymin, xmax, ymax = bbox_around(lon, lat, radius)
    plon, plat = destination(lon, lat, bearing, radius * fraction)
    assert ymin <= plat <= ymax
    assert xmin <= plon <= xmax


def test_the_near_box_is_not_needlessly_wide():
    xmin, ymin, xmax, ymax = bbox_around(*CENTRE, 1000)
    # Half-widths of 1 km at 32.3 degrees north: about 0.0106 degrees of longitude and 0.0090 of latitude.
    assert (xmax - xmin) / 2 == pytest.approx(1000 / (111319.5 * math.cos(math.radians(32.265))), rel=0.01)
    assert (ymax - ymin) / 2 == pytest.approx(1000 / 110900, rel=0.01)


@pytest.mark.parametrize("text, why", [
    ("119.17", "lon,lat"), ("a,b", "two numbers"), ("1,2,3", "lon,lat"),
    ("32.26,119.17", "latitude 119.17"), ("200,30", "longitude 200"), ("nan,30", "finite"),
])
def test_parse_lonlat_says_what_is_wrong(text, why):
    with pytest.raises(GeometryError, match=why):
        geo.parse_lonlat(text)


def _poly(*ring):
    return {"type": "Polygon", "coordinates": [list(ring)]}


@pytest.mark.parametrize("obj, why", [
    (_poly([0, 0], [1, 1], [1, 0], [0, 1], [0, 0]), "Self-intersection"),
    (_poly([0, 0], [1, 0], [1, 1], [0, 1]), "not closed"),
    (_poly([0, 0], [1, 0], [0, 0]), "at least 4"),
    (_poly([0, 0], [200, 0], [1, 1], [0, 0]), "longitude 200"),
    (_poly([0, 0], ["1", 0], [1, 1], [0, 0]), "numbers"),
    (_poly([0, 0], [1, 0], [2, 0], [0, 0]), "not a valid polygon|no area"),
    ({"type": "Feature", "geometry": _poly([0, 0], [1, 0], [1, 1], [0, 0])}, "not a Feature"),
    ({"type": "Point", "coordinates": [0, 0]}, "not 'Point'"),
    ({"type": "MultiPolygon", "coordinates": [_poly([0, 0], [2, 0], [2, 2], [0, 2], [0, 0])["coordinates"],
                                              _poly([1, 1], [3, 1], [3, 3], [1, 3], [1, 1])["coordinates"]]},
     "not a valid polygon"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", "GeoJSON object"),
])
def test_area_from_geojson_refuses_bad_boundaries_with_the_reason(obj, why):
    with pytest.raises(GeometryError, match=why):
        geo.area_from_geojson(obj)


def test_area_from_geojson_takes_a_polygon_with_a_hole_as_a_multipolygon():
    area = geo.area_from_geojson({"type": "Polygon", "coordinates": [
        [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]})
    assert area.geom_type == "MultiPolygon" and area.area == 15
    assert geo.covers_point(area, 4, 2)  # on the edge counts as inside
    assert not geo.covers_point(area, 1.5, 1.5)  # in the hole


# --- the engines against the reference -------------------------------------------------

PAIR_DISTANCES = (10, 30, 100, 300, 1000, 3000, 10_000, 20_000)
PAIR_ORIGINS = ((119.17, 32.265), (121.47, 31.23), (87.6, 43.8), (126.6, 45.75), (110.3, 20.0), (0.0, 0.0))
PAIR_BEARINGS = (0, 37, 90, 151, 222, 305)


def test_engine_distances_agree_with_the_reference_geodesic(app, engine):
    from server.db import distance_m, dwithin_m, make_point
    from server.extensions import db

    checked = 0
    with app.app_context():
        for lon, lat in PAIR_ORIGINS:
            for bearing in PAIR_BEARINGS:
                for d in PAIR_DISTANCES:
                    lon2, lat2 = destination(lon, lat, bearing, d)
                    ref = geodesic_m(lon, lat, lon2, lat2)
                    a, b = make_point(lon, lat), make_point(lon2, lat2)
                    got, near_in, near_out = db.session.execute(sa.select(
                        distance_m(a, b), dwithin_m(a, b, ref * 1.01), dwithin_m(a, b, ref * 0.99))).one()
                    # within 0.25% of the one reference, so the two engines agree within 0.5%
                    assert got == pytest.approx(ref, rel=0.0025), (engine, lon, lat, bearing, d)
                    # the filter measures in metres too (what `near` relies on)
                    assert near_in and not near_out, (engine, lon, lat, bearing, d)
                    checked += 1
    assert checked == len(PAIR_ORIGINS) * len(PAIR_BEARINGS) * len(PAIR_DISTANCES)


def test_near_returns_exactly_the_sites_within_the_radius_nearest_first(client, auth, engine):
    edz = park_ids(client, auth)["EDZ"]
    # added out of distance order, so that an answer ordered by id would show
    for i, (bearing, d) in enumerate([(200, 700), (45, 1060), (10, 50), (300, 950),
                                      (250, 1500), (100, 300), (160, 1300)]):
        add_site(client, auth, edz, *destination(*CENTRE, bearing, d), name=f"近点{i}")
    radius = 1000
    everything = all_sites(client, auth, limit=100)
    ref = {s["id"]: geodesic_m(*CENTRE, s["lon"], s["lat"]) for s in everything}
    # no site so close to the edge that the engines' rounding could decide it
    assert all(abs(d - radius) > radius * 0.01 for d in ref.values())
    expected = sorted((d, i) for i, d in ref.items() if d <= radius)
    assert len(expected) >= 4 and len(expected) < len(ref)

    r = client.get("/api/sites", headers=auth.headers("admin1"),
                   query_string={"near": f"{CENTRE[0]},{CENTRE[1]}", "radius_m": radius, "limit": 100})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()["items"]
    assert [s["id"] for s in got] == [i for _, i in expected]
    for s in got:
        assert s["distance_m"] == pytest.approx(ref[s["id"]], rel=0.005, abs=0.1)
    assert [s["distance_m"] for s in got] == sorted(s["distance_m"] for s in got)

    # paging through the same query one row at a time gives the same rows in the same order
    paged = all_sites(client, auth, near=f"{CENTRE[0]},{CENTRE[1]}", radius_m=radius, limit=1)
    assert [s["id"] for s in paged] == [s["id"] for s in got]

    # the GeoJSON answer holds the same sites, with their distances
    g = client.get("/api/sites.geojson", headers=auth.headers("admin1"),
                   query_string={"near": f"{CENTRE[0]},{CENTRE[1]}", "radius_m": radius}).get_json()
    assert [f["id"] for f in g["features"]] == [s["id"] for s in got]
    assert all("distance_m" in f["properties"] for f in g["features"])


def test_near_finds_sites_all_round_the_edge_of_the_circle(client, auth, engine):
    """Sites just inside and just outside the radius in every direction: a search box cut too
    tight, or a filter measuring on a sphere (SpatiaLite's PtDistWithin, up to 0.6% off the
    ellipsoid north-south), would lose or add some; both engines must answer the same."""
    edz = park_ids(client, auth)["EDZ"]
    radius = 1200
    inside = {add_site(client, auth, edz, *destination(*CENTRE, b, radius * 0.998), name=f"环{b}")["id"]
              for b in range(0, 360, 360 // 16)}
    outside = {add_site(client, auth, edz, *destination(*CENTRE, b, radius * 1.002), name=f"外{b}")["id"]
               for b in (0, 45, 90, 180, 270)}
    got = {s["id"]: s["distance_m"]
           for s in all_sites(client, auth, near=f"{CENTRE[0]},{CENTRE[1]}", radius_m=radius, limit=100)}
    assert inside <= set(got)
    assert not (outside & set(got))
    assert all(d <= radius for d in got.values())


def _explain(engine: str, stmt) -> str:
    from server.extensions import db

    sql = str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    conn = db.session.connection()
    if engine == "spatialite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        return "\n".join(str(r[-1]) for r in rows)
    return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql).all())


def _a_city_of_sites(n: int = 3000) -> None:
    """Enough sites, spread over 60 x 60 km, for the planners to weigh their indexes as they
    would in a real city (on five sites a full scan is cheapest and proves nothing)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from server.extensions import db
    from server.models import Park, Site

    park_id = db.session.execute(sa.select(Park.id).where(Park.code == "EDZ")).scalar_one()
    rows = []
    for i in range(n):
        lon = CENTRE[0] - 0.3 + 0.6 * ((i * 0.618034) % 1)
        lat = CENTRE[1] - 0.3 + 0.6 * ((i * 0.414214) % 1)
        rows.append({"park_id": park_id, "name": f"plan-{i}", "risk_grade": ("low", "medium", "high")[i % 3],
                     "geom": from_shape(Point(lon, lat), srid=4326)})
    db.session.execute(sa.insert(Site), rows)
    db.session.commit()
    db.session.connection().exec_driver_sql("ANALYZE")
    db.session.commit()


@pytest.mark.parametrize("scope", [None, "EDZ"])
def test_the_near_query_uses_the_spatial_index(app, engine, scope):
    from server.extensions import db
    from server.models import Park
    from server.services.sites import SiteFilters, site_select

    with app.app_context():
        _a_city_of_sites()
        ids = None
        if scope:
            ids = {db.session.execute(sa.select(Park.id).where(Park.code == scope)).scalar_one()}
        # exactly the statement GET /api/sites runs for one page
        stmt = site_select(SiteFilters(near=CENTRE, radius_m=1500, risk_grade="low"), ids, limit=51)
        plan = _explain(engine, stmt)
        if engine == "spatialite":
            assert "idx_sites_geom VIRTUAL TABLE" in plan, plan
        else:
            assert "ix_sites_geog" in plan, plan
        db.session.rollback()


def test_a_site_list_without_near_touches_no_spatial_index(app, engine):
    """The index clause belongs to `near` only (a plain list is ordered by id)."""
    from server.extensions import db
    from server.services.sites import SiteFilters, site_select

    with app.app_context():
        plan = _explain(engine, site_select(SiteFilters(risk_grade="low"), None, limit=51))
        assert "idx_sites_geom" not in plan and "ix_sites_geog" not in plan, plan
        db.session.rollback()

"""Parks and sites: reading them within a user's parks, `near` queries on the spatial
index of either engine, and the admin's writes.

Rules kept here:
- A site lies inside its park (on the boundary counts as inside).
- A site's credit code, when it has one, is valid (GB 32100-2015) and belongs to no other site.
- Only a hazardous-chemical plant carries a safety-standardisation grade: a plant without
  one is 'ungraded'; a site that stops being a plant loses its grade unless the same
  request sends one (which is then refused as contradictory).
- A park's boundary is a valid polygon, and a new boundary must not leave any of the
  park's sites outside it.
- A park that overlaps another is accepted with a warning, not refused: boundaries come
  from different surveys and neighbours often overlap by a sliver along a shared edge,
  and a zone may nest a specialised park (一区多园). The warning names the other park and
  the overlap's size, is returned to the admin and is kept in the audit entry.
Every write appends an audit entry (before/after of the changed fields) in the same
transaction and commits.
"""
from __future__ import annotations

import dataclasses
import types

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point

from ..db import distance_m, dwithin_m, make_point
from ..domain import coords
from ..domain import credit_code as credit_codes
from ..domain.geo import approx_area_m2, bbox_around, covers_point, to_geojson
from ..extensions import db
from ..models import Park, Site
from . import audit, cursors
from .errors import ServiceError

# A GeoJSON answer carries at most this many sites (a city has a few thousand).
MAX_FEATURES = 10000
SITE_FIELDS = (
    "park_id", "kind", "name", "credit_code", "address", "industry", "risk_grade", "credit_class",
    "safety_std_grade", "is_hazchem", "is_major_hazard", "is_key_polluter", "contact_name", "contact_phone",
    "active",
)
PARK_FIELDS = ("code", "name_zh", "name_en", "kind")
SPHERE_MARGIN = 1.01
MAX_ID = cursors.MAX_ID


class PlaceError(ServiceError):
    """A request about a park or site that cannot be carried out, with a message a person can act on."""


@dataclasses.dataclass(frozen=True)
class SiteFilters:
    park: int | None = None
    risk_grade: str | None = None
    key_object: bool | None = None
    active: bool | None = None
    q: str | None = None
    near: tuple[float, float] | None = None
    radius_m: float | None = None


# --- reading sites ----------------------------------------------------------------------

# SpatiaLite's R*Tree on sites.geom (made by CreateSpatialIndex): one row per site, its bounding box.
_RTREE = sa.table("idx_sites_geom", sa.column("pkid"), sa.column("xmin"), sa.column("xmax"),
                  sa.column("ymin"), sa.column("ymax"))


def _spatial_index_clause(dialect: str, lon: float, lat: float, radius_m: float):
    """The clause that makes the engine use its spatial index for a `near` query, or None.

    SpatiaLite never consults its R*Tree on its own: ask it for the ids whose boxes meet a
    box that surely holds the circle. PostGIS needs nothing: dwithin_m renders a geography
    ST_DWithin, which uses the expression index ix_sites_geog.
    """
    if dialect != "sqlite":
        return None
    xmin, ymin, xmax, ymax = bbox_around(lon, lat, radius_m)
    return Site.id.in_(
        sa.select(_RTREE.c.pkid).where(_RTREE.c.xmin <= xmax, _RTREE.c.xmax >= xmin,
                                       _RTREE.c.ymin <= ymax, _RTREE.c.ymax >= ymin)
    )


def _row_columns() -> list:
    return [
        Site.id, Site.park_id, Site.kind, Site.name, Site.credit_code, Site.address, Site.industry,
        sa.func.ST_X(Site.geom).label("lon"), sa.func.ST_Y(Site.geom).label("lat"),
        Site.risk_grade, Site.credit_class, Site.safety_std_grade,
        Site.is_hazchem, Site.is_major_hazard, Site.is_key_polluter, Site.active,
    ]


def site_select(filters: SiteFilters, scope: set[int] | None, after: tuple | None = None,
                limit: int | None = None) -> sa.Select:
    """The query behind GET /api/sites and /api/sites.geojson (the tests explain this very statement).

    Ordered by id, or with `near` by distance then id; `after` is the last row's key
    (id, or (distance, id)) for keyset paging.
    """
    conds = []
    if scope is not None:
        conds.append(Site.park_id.in_(sorted(scope)))
    if filters.park is not None:
        conds.append(Site.park_id == filters.park)
    if filters.risk_grade is not None:
        conds.append(Site.risk_grade == filters.risk_grade)
    if filters.key_object is not None:
        key = sa.or_(Site.is_hazchem, Site.is_major_hazard, Site.is_key_polluter)
        conds.append(key if filters.key_object else sa.not_(key))
    if filters.active is not None:
        conds.append(Site.active == filters.active)
    if filters.q:
        conds.append(sa.or_(*(col.icontains(filters.q, autoescape=True)
                              for col in (Site.name, Site.credit_code, Site.address))))
    cols = _row_columns()
    if filters.near is None:
        order = [Site.id]
        if after is not None:
            conds.append(Site.id > after[0])
    else:
        lon, lat = filters.near
        point = make_point(lon, lat)
        dist = distance_m(Site.geom, point)
        cols.append(dist.label("distance_m"))
        prefilter = _spatial_index_clause(db.session.get_bind().dialect.name, lon, lat, filters.radius_m)
        if prefilter is not None:
            conds.append(prefilter)
        # dwithin_m is what lets PostGIS use its index, but SpatiaLite's PtDistWithin measures
        # on a sphere, up to 0.6% off the ellipsoid: ask it for a little more, and cut exactly
        # at the ellipsoidal distance that each row shows, so both engines answer the same.
        conds.append(dwithin_m(Site.geom, point, filters.radius_m * SPHERE_MARGIN))
        conds.append(dist <= filters.radius_m)
        order = [dist, Site.id]
        if after is not None:
            d, last_id = after
            conds.append(sa.or_(dist > d, sa.and_(dist == d, Site.id > last_id)))
    stmt = sa.select(*cols).where(*conds).order_by(*order)
    return stmt if limit is None else stmt.limit(limit)


def _row(r) -> dict:
    row = {
        "id": r.id, "park_id": r.park_id, "kind": r.kind, "name": r.name, "credit_code": r.credit_code,
        "address": r.address, "industry": r.industry, "lon": r.lon, "lat": r.lat,
        "grades": {"risk": r.risk_grade, "credit_class": r.credit_class, "safety_std": r.safety_std_grade},
        "flags": {"hazchem": r.is_hazchem, "major_hazard": r.is_major_hazard, "key_polluter": r.is_key_polluter,
                  "key_object": bool(r.is_hazchem or r.is_major_hazard or r.is_key_polluter)},
        "active": r.active,
    }
    distance = getattr(r, "distance_m", None)
    if distance is not None:
        row["distance_m"] = round(distance, 1)
    return row


_CURSOR_KEY_BY_ID = (cursors.an_id,)
_CURSOR_KEY_NEAR = (cursors.a_number, cursors.an_id)


def list_sites(filters: SiteFilters, scope: set[int] | None, limit: int = 50, cursor: str | None = None) -> dict:
    """One page of sites and the cursor of the next (None on the last page)."""
    after = None
    if cursor:
        shape = _CURSOR_KEY_BY_ID if filters.near is None else _CURSOR_KEY_NEAR
        after = cursors.decode("sites", filters, cursor, shape)
    rows = db.session.execute(site_select(filters, scope, after, limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        key = [last.id] if filters.near is None else [last.distance_m, last.id]
        next_cursor = cursors.encode("sites", filters, key)
    return {"items": [_row(r) for r in rows], "next_cursor": next_cursor}


def site_collection(filters: SiteFilters, scope: set[int] | None) -> dict:
    """The matching sites as a GeoJSON FeatureCollection of points (at most MAX_FEATURES)."""
    rows = db.session.execute(site_select(filters, scope, limit=MAX_FEATURES + 1)).all()
    features = []
    for r in rows[:MAX_FEATURES]:
        props = _row(r)
        lon, lat = props.pop("lon"), props.pop("lat")
        features.append({"type": "Feature", "id": r.id, "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": props})
    return {"type": "FeatureCollection", "features": features, "truncated": len(rows) > MAX_FEATURES}


def _site_or_404(site_id: int) -> Site:
    site = db.session.get(Site, site_id) if 0 < site_id <= MAX_ID else None
    if site is None:
        raise PlaceError(f"no site with id {site_id}", status=404)
    return site


def site_detail(site_id: int) -> dict:
    site = _site_or_404(site_id)
    lon, lat = _lonlat(site)
    row = _row(types.SimpleNamespace(**{f: getattr(site, f) for f in ("id", *SITE_FIELDS)}, lon=lon, lat=lat))
    park = site.park
    row.update({
        "park": {"id": park.id, "code": park.code, "name_zh": park.name_zh, "name_en": park.name_en},
        "contact_name": site.contact_name, "contact_phone": site.contact_phone,
        "created_at": site.created_at, "updated_at": site.updated_at,
    })
    return row


def _lonlat(site: Site) -> tuple[float, float]:
    p = to_shape(site.geom)
    return p.x, p.y


# --- writing sites ----------------------------------------------------------------------


def _park_or_422(park_id: int) -> Park:
    park = db.session.get(Park, park_id) if 0 < park_id <= MAX_ID else None
    if park is None:
        raise PlaceError(f"no park with id {park_id}", ("park_id",))
    return park


def _normal_credit_code(code: str | None, own_id: int | None) -> str | None:
    if code is None or not code.strip():
        return None
    code = code.strip().upper()
    why = credit_codes.validate(code)
    if why:
        raise PlaceError(f"credit code {code} is not valid: {why}", ("credit_code",))
    clash = db.session.execute(
        sa.select(Site.id, Site.name).where(Site.credit_code == code, Site.id != (own_id or 0))
    ).first()
    if clash:
        raise PlaceError(f"credit code {code} already belongs to site {clash.id} ({clash.name})",
                         ("credit_code",), status=409)
    return code


def _apply_grade_rule(state: dict, grade_sent: bool) -> None:
    if state["is_hazchem"]:
        if state["safety_std_grade"] is None:
            state["safety_std_grade"] = "ungraded"
    elif state["safety_std_grade"] is not None:
        if grade_sent:
            raise PlaceError("only a hazardous-chemical plant has a safety-standardisation grade: "
                             "set is_hazchem to true or safety_std_grade to null", ("safety_std_grade",))
        state["safety_std_grade"] = None


def _check_inside(park: Park, lon: float, lat: float) -> None:
    if covers_point(to_shape(park.boundary), lon, lat):
        return
    others = [p for p in db.session.execute(sa.select(Park).where(Park.id != park.id).order_by(Park.id)).scalars()
              if covers_point(to_shape(p.boundary), lon, lat)]
    where = ("it is in park " + ", ".join(f"{p.name_zh} ({p.code}, id {p.id})" for p in others)
             if others else "it is in no park")
    raise PlaceError(f"the site must lie inside its park: lon {lon}, lat {lat} is outside park "
                     f"{park.name_zh} ({park.code}); {where}", ("lon", "lat"))


def _flush_unique() -> None:
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise PlaceError("another request has just saved the same code; reload and try again",
                         status=409) from None


def create_site(data: dict, actor_id: int | None) -> dict:
    state = {f: data[f] for f in SITE_FIELDS if f in data}
    lon, lat = coords.to_wgs84(data["lon"], data["lat"], data.get("crs") or "wgs84")
    state["credit_code"] = _normal_credit_code(state.get("credit_code"), None)
    state.setdefault("safety_std_grade", None)
    state.setdefault("is_hazchem", False)
    _apply_grade_rule(state, data.get("safety_std_grade") is not None)
    park = _park_or_422(state["park_id"])
    _check_inside(park, lon, lat)
    site = Site(**state, geom=from_shape(Point(lon, lat), srid=4326))
    db.session.add(site)
    _flush_unique()
    audit.record("site.create", "site", site.id, {"after": {**state, "lon": lon, "lat": lat}}, actor_id)
    db.session.commit()
    return site_detail(site.id)


def update_site(site_id: int, changes: dict, actor_id: int | None) -> dict:
    """Apply the changed fields; nothing changed writes nothing. lon/lat given in `crs` are stored as WGS 84."""
    changes = dict(changes)
    crs = changes.pop("crs", None) or "wgs84"
    if "lon" in changes and "lat" in changes:
        changes["lon"], changes["lat"] = coords.to_wgs84(changes["lon"], changes["lat"], crs)
    site = _site_or_404(site_id)
    lon, lat = _lonlat(site)
    before = {**{f: getattr(site, f) for f in SITE_FIELDS}, "lon": lon, "lat": lat}
    after = {**before, **changes}
    if "credit_code" in changes:
        after["credit_code"] = _normal_credit_code(changes["credit_code"], site.id)
    _apply_grade_rule(after, changes.get("safety_std_grade") is not None)
    changed = [k for k in after if after[k] != before[k]]
    if not changed:
        return site_detail(site.id)
    if {"park_id", "lon", "lat"} & set(changed):
        _check_inside(_park_or_422(after["park_id"]), after["lon"], after["lat"])
    for k in changed:
        if k not in ("lon", "lat"):
            setattr(site, k, after[k])
    if {"lon", "lat"} & set(changed):
        site.geom = from_shape(Point(after["lon"], after["lat"]), srid=4326)
    _flush_unique()
    audit.record("site.update", "site", site.id,
                 {"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}}, actor_id)
    db.session.commit()
    return site_detail(site.id)


# --- parks ------------------------------------------------------------------------------


def _park_query(scope: set[int] | None) -> sa.Select:
    stmt = sa.select(Park).order_by(Park.id)
    return stmt if scope is None else stmt.where(Park.id.in_(sorted(scope)))


def _park_row(park: Park, area, site_count: int) -> dict:
    return {"id": park.id, "code": park.code, "name_zh": park.name_zh, "name_en": park.name_en, "kind": park.kind,
            "site_count": site_count, "bbox": list(area.bounds)}


def _site_counts() -> dict[int, int]:
    rows = db.session.execute(
        sa.select(Site.park_id, sa.func.count(Site.id)).where(Site.active).group_by(Site.park_id)
    ).all()
    return dict(rows)


def park_rows(scope: set[int] | None) -> list[dict]:
    counts = _site_counts()
    return [_park_row(p, to_shape(p.boundary), counts.get(p.id, 0))
            for p in db.session.execute(_park_query(scope)).scalars()]


def park_collection(scope: set[int] | None) -> dict:
    features = [
        {"type": "Feature", "id": p.id, "geometry": to_geojson(to_shape(p.boundary)),
         "properties": {"id": p.id, "code": p.code, "name_zh": p.name_zh, "name_en": p.name_en, "kind": p.kind}}
        for p in db.session.execute(_park_query(scope)).scalars()
    ]
    return {"type": "FeatureCollection", "features": features}


def _park_or_404(park_id: int) -> Park:
    park = db.session.get(Park, park_id) if 0 < park_id <= MAX_ID else None
    if park is None:
        raise PlaceError(f"no park with id {park_id}", status=404)
    return park


def park_detail(park_id: int) -> dict:
    park = _park_or_404(park_id)
    area = to_shape(park.boundary)
    return {**_park_row(park, area, _site_counts().get(park.id, 0)), "boundary": area,
            "created_at": park.created_at, "updated_at": park.updated_at}


def _check_code_free(code: str, own_id: int | None) -> None:
    clash = db.session.execute(
        sa.select(Park.id, Park.name_zh).where(Park.code == code, Park.id != (own_id or 0))
    ).first()
    if clash:
        raise PlaceError(f"park code {code} is taken by park {clash.id} ({clash.name_zh})", ("code",), status=409)


def _overlap_warnings(area, own_id: int | None) -> list[str]:
    warnings = []
    for other in db.session.execute(sa.select(Park).where(Park.id != (own_id or 0)).order_by(Park.id)).scalars():
        shared = area.intersection(to_shape(other.boundary))
        m2 = approx_area_m2(shared) if shared.area > 0 else 0.0
        if m2 >= 1.0:
            warnings.append(f"overlaps park {other.name_zh} ({other.code}) by about {m2 / 10000:.2f} ha; "
                            "a site in the overlap lies in both")
    return warnings


def _sites_left_outside(park_id: int, area) -> list:
    rows = db.session.execute(
        sa.select(Site.id, Site.name, sa.func.ST_X(Site.geom).label("lon"), sa.func.ST_Y(Site.geom).label("lat"))
        .where(Site.park_id == park_id).order_by(Site.id)
    ).all()
    if not rows:
        return []
    inside = shapely.intersects_xy(area, [r.lon for r in rows], [r.lat for r in rows])
    return [r for r, ok in zip(rows, inside) if not ok]


def create_park(data: dict, actor_id: int | None) -> dict:
    area = data["boundary"]
    _check_code_free(data["code"], None)
    warnings = _overlap_warnings(area, None)
    state = {f: data[f] for f in PARK_FIELDS if f in data}
    park = Park(**state, boundary=from_shape(area, srid=4326))
    db.session.add(park)
    _flush_unique()
    audit.record("park.create", "park", park.id,
                 {"after": {**state, "boundary": to_geojson(area)}, "warnings": warnings}, actor_id)
    db.session.commit()
    return {**park_detail(park.id), "warnings": warnings}


def update_park(park_id: int, changes: dict, actor_id: int | None) -> dict:
    """Apply the changed fields; a new boundary must keep every site of the park inside it."""
    park = _park_or_404(park_id)
    old_area = to_shape(park.boundary)
    changed = [f for f in PARK_FIELDS if f in changes and changes[f] != getattr(park, f)]
    before = {f: getattr(park, f) for f in changed}
    after = {f: changes[f] for f in changed}
    warnings: list[str] = []
    if "code" in after:
        _check_code_free(after["code"], park.id)
    new_area = changes.get("boundary")
    if new_area is not None and not shapely.equals_exact(new_area, old_area, 0):
        outside = _sites_left_outside(park.id, new_area)
        if outside:
            names = ", ".join(f"{r.name} (id {r.id})" for r in outside[:10])
            more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
            raise PlaceError(f"the new boundary would leave {len(outside)} of this park's sites outside it: "
                             f"{names}{more}; move those sites first or draw the boundary round them",
                             ("boundary",))
        warnings = _overlap_warnings(new_area, park.id)
        before["boundary"], after["boundary"] = to_geojson(old_area), to_geojson(new_area)
        park.boundary = from_shape(new_area, srid=4326)
    if not after:
        return {**park_detail(park.id), "warnings": []}
    for f in PARK_FIELDS:
        if f in after:
            setattr(park, f, after[f])
    _flush_unique()
    audit.record("park.update", "park", park.id, {"before": before, "after": after, "warnings": warnings}, actor_id)
    db.session.commit()
    return {**park_detail(park.id), "warnings": warnings}


# --- a site's history (the admin's enterprise screen) -------------------------------------


def site_history(site_id: int, limit: int = 50) -> dict:
    """The newest visits and findings at a site, and the changes made to its record (audited):
    what an admin looks at before editing or moving an enterprise."""
    from ..models import ChecklistTemplate, Finding, User, ViolationType, Visit

    site = _site_or_404(site_id)
    visits = db.session.execute(
        sa.select(Visit, User.name, ChecklistTemplate.code, ChecklistTemplate.version)
        .join(User, User.id == Visit.recorded_by)
        .outerjoin(ChecklistTemplate, ChecklistTemplate.id == Visit.checklist_template_id)
        .where(Visit.site_id == site.id).order_by(Visit.started_at.desc()).limit(limit)).all()
    findings = db.session.execute(
        sa.select(Finding, ViolationType.code, ViolationType.name_zh, ViolationType.name_en)
        .outerjoin(ViolationType, ViolationType.id == Finding.violation_type_id)
        .where(Finding.site_id == site.id).order_by(Finding.discovered_at.desc()).limit(limit)).all()
    changes = audit.entries("site", site.id, limit=limit)["items"]
    return {
        "site_id": site.id, "park_id": site.park_id,
        "visits": [{"id": v.id, "kind": v.kind, "started_at": v.started_at, "finished_at": v.finished_at,
                    "recorded_by": name, "geofence": v.geofence, "checklist_code": code, "checklist_version": version}
                   for v, name, code, version in visits],
        "findings": [{"id": f.id, "visit_id": f.visit_id, "discovered_at": f.discovered_at, "domain": f.domain,
                      "violation_code": code, "violation_name_zh": zh, "violation_name_en": en,
                      "final_tier": f.final_tier, "rule_id": f.rule_id, "status": f.status}
                     for f, code, zh, en in findings],
        "changes": changes,
    }

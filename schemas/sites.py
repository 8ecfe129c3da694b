"""Sites: the enterprises and project sites inspectors visit."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from server.domain.coords import CRS
from server.domain.geo import MAX_NEAR_RADIUS_M, GeometryError, parse_lonlat
from server.models.vocab import CREDIT_CLASSES, RISK_GRADES, SAFETY_STD_GRADES, SITE_KINDS

from .common import CursorPageSchema, GeoJSONFeatureCollection, Latitude, Longitude, StrictSchema
from .parks import ID_RANGE, Text


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


class LonLatText(fields.Field):
    """'lon,lat' in WGS 84 degrees, loaded as a (lon, lat) tuple."""

    def _deserialize(self, value, attr, data, **kw):
        try:
            return parse_lonlat(value)
        except GeometryError as e:
            raise ValidationError(str(e)) from None


class SiteFilterSchema(StrictSchema):
    park = fields.Integer(validate=ID_RANGE, metadata={"description": "a park id"})
    risk_grade = fields.String(validate=_one_of(RISK_GRADES))
    key_object = fields.Boolean(metadata={
        "description": "true: only key objects (hazardous-chemical plant, major hazard source or key polluter); "
                       "false: only the others"})
    active = fields.Boolean(metadata={"description": "true: only sites in service; false: only retired ones"})
    q = Text(validate=validate.Length(min=1, max=100),
             metadata={"description": "text in the name, the credit code or the address"})
    near = LonLatText(metadata={"description": "'lon,lat' (WGS 84): only sites within radius_m of this point, "
                                               "nearest first, each with distance_m", "example": "119.17,32.265"})
    radius_m = fields.Float(
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=MAX_NEAR_RADIUS_M,
                                error=f"radius_m must be more than 0 and at most {MAX_NEAR_RADIUS_M:.0f} m "
                                      f"({MAX_NEAR_RADIUS_M / 1000:.0f} km, the cap on a near query)"),
        metadata={"description": f"metres, with near; at most {MAX_NEAR_RADIUS_M:.0f}"})

    @validates_schema
    def _near_needs_radius(self, data, **kw):
        if "near" in data and "radius_m" not in data:
            raise ValidationError("near needs radius_m (metres)", "radius_m")
        if "radius_m" in data and "near" not in data:
            raise ValidationError("radius_m needs near=lon,lat", "near")


class SiteListQuerySchema(SiteFilterSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500,
                                                                    error="limit must be between 1 and 500"))
    cursor = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "next_cursor from the previous page, with the same filters"})


class GradesSchema(StrictSchema):
    risk = fields.String(metadata={"description": ", ".join(RISK_GRADES)})
    credit_class = fields.String(metadata={"description": "A (best) to D"})
    safety_std = fields.String(allow_none=True, metadata={
        "description": "safety-standardisation grade of a hazardous-chemical plant: 1 (best), 2, 3, ungraded"})


class FlagsSchema(StrictSchema):
    hazchem = fields.Boolean()
    major_hazard = fields.Boolean()
    key_polluter = fields.Boolean()
    key_object = fields.Boolean(metadata={"description": "any of the three above: full coverage, a visit a quarter"})


class SiteRowSchema(StrictSchema):
    id = fields.Integer()
    park_id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    credit_code = fields.String(allow_none=True)
    address = fields.String()
    industry = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    grades = fields.Nested(GradesSchema)
    flags = fields.Nested(FlagsSchema)
    active = fields.Boolean()
    distance_m = fields.Float(metadata={"description": "metres from `near` (only with near)"})


class ParkBriefSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()


class SiteDetailSchema(SiteRowSchema):
    park = fields.Nested(ParkBriefSchema)
    contact_name = fields.String()
    contact_phone = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class SitePageSchema(CursorPageSchema):
    items = fields.List(fields.Nested(SiteRowSchema))


class SiteFeatureCollectionSchema(GeoJSONFeatureCollection):
    truncated = fields.Boolean(metadata={"description": "true when more sites matched than one answer carries; "
                                                        "narrow the filters"})


def _crs_field(**kw):
    return fields.String(validate=_one_of(CRS), metadata={
        "description": "the coordinate system lon and lat are given in: wgs84 (GPS, the default), gcj02 "
                       "(AMap/Gaode, Tencent) or bd09 (Baidu); stored converted to WGS 84"}, **kw)


_CREDIT_DOC = {"description": "统一社会信用代码: 18 characters with a valid check character (GB 32100-2015); "
                              "unique; lower case is accepted and stored upper case", "example": "91321081MA1XK4LL3A"}


class SiteCreateSchema(StrictSchema):
    park_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    kind = fields.String(load_default="enterprise", validate=_one_of(SITE_KINDS))
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    credit_code = Text(allow_none=True, load_default=None, validate=validate.Length(max=40), metadata=_CREDIT_DOC)
    address = Text(load_default="", validate=validate.Length(max=255))
    industry = Text(load_default="", validate=validate.Length(max=80))
    lon = Longitude(required=True)
    lat = Latitude(required=True)
    crs = _crs_field(load_default="wgs84")
    risk_grade = fields.String(load_default="low", validate=_one_of(RISK_GRADES))
    credit_class = fields.String(load_default="B", validate=_one_of(CREDIT_CLASSES))
    safety_std_grade = fields.String(allow_none=True, load_default=None, validate=_one_of(SAFETY_STD_GRADES),
                                     metadata={"description": "only for a hazardous-chemical plant; "
                                                              "'ungraded' when it has none"})
    is_hazchem = fields.Boolean(load_default=False)
    is_major_hazard = fields.Boolean(load_default=False)
    is_key_polluter = fields.Boolean(load_default=False)
    contact_name = Text(load_default="", validate=validate.Length(max=80))
    contact_phone = Text(load_default="", validate=validate.Length(max=40))
    active = fields.Boolean(load_default=True)


class SiteUpdateSchema(StrictSchema):
    park_id = fields.Integer(strict=True, validate=ID_RANGE)
    kind = fields.String(validate=_one_of(SITE_KINDS))
    name = Text(validate=validate.Length(min=1, max=200))
    credit_code = Text(allow_none=True, validate=validate.Length(max=40), metadata=_CREDIT_DOC)
    address = Text(validate=validate.Length(max=255))
    industry = Text(validate=validate.Length(max=80))
    lon = Longitude()
    lat = Latitude()
    crs = _crs_field()
    risk_grade = fields.String(validate=_one_of(RISK_GRADES))
    credit_class = fields.String(validate=_one_of(CREDIT_CLASSES))
    safety_std_grade = fields.String(allow_none=True, validate=_one_of(SAFETY_STD_GRADES))
    is_hazchem = fields.Boolean()
    is_major_hazard = fields.Boolean()
    is_key_polluter = fields.Boolean()
    contact_name = Text(validate=validate.Length(max=80))
    contact_phone = Text(validate=validate.Length(max=40))
    active = fields.Boolean()

    @validates_schema
    def _whole(self, data, **kw):
        if not data:
            raise ValidationError("nothing to change: send at least one field")
        if ("lon" in data) != ("lat" in data):
            missing = "lat" if "lon" in data else "lon"
            raise ValidationError("lon and lat move together: send both", missing)
        if "crs" in data and "lon" not in data:
            raise ValidationError("crs says what lon and lat are in: send it with them", "crs")


class SiteVisitSchema(StrictSchema):
    id = fields.UUID()
    kind = fields.String()
    started_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    recorded_by = fields.String()
    geofence = fields.String()
    checklist_code = fields.String(allow_none=True)
    checklist_version = fields.Integer(allow_none=True, metadata={"description": "the version the visit was made with"})


class SiteFindingSchema(StrictSchema):
    id = fields.UUID()
    visit_id = fields.UUID()
    discovered_at = fields.AwareDateTime()
    domain = fields.String()
    violation_code = fields.String(allow_none=True)
    violation_name_zh = fields.String(allow_none=True)
    violation_name_en = fields.String(allow_none=True)
    final_tier = fields.String()
    rule_id = fields.String()
    status = fields.String()


class SiteRecordHistorySchema(StrictSchema):
    site_id = fields.Integer()
    park_id = fields.Integer()
    visits = fields.List(fields.Nested(SiteVisitSchema), metadata={"description": "newest first, at most 50"})
    findings = fields.List(fields.Nested(SiteFindingSchema), metadata={"description": "newest first, at most 50"})
    changes = fields.List(fields.Dict(), metadata={"description": "the audited changes of the site's record, newest first"})

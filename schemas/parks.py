"""Parks: the areas (polygons) the bureau patrols."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from server.domain.geo import GeometryError, area_from_geojson, to_geojson

from .common import ID_RANGE, StrictSchema, Text  # noqa: F401  (Text and ID_RANGE are used by sites too)


class GeoJSONArea(fields.Field):
    """A GeoJSON Polygon or MultiPolygon in WGS 84 lon/lat, loaded as a valid Shapely MultiPolygon."""

    def _deserialize(self, value, attr, data, **kw):
        try:
            return area_from_geojson(value)
        except GeometryError as e:
            raise ValidationError(str(e)) from None

    def _serialize(self, value, attr, obj, **kw):
        if value is None or isinstance(value, dict):
            return value
        return to_geojson(value)


_BOUNDARY_DOC = {
    "description": "a GeoJSON Polygon or MultiPolygon in WGS 84 lon/lat; rings closed (RFC 7946); "
                   "an invalid polygon (e.g. a self-intersecting bow-tie) is refused with the reason; "
                   "a third (altitude) number in a position is ignored",
    "example": {"type": "Polygon", "coordinates": [[[119.15, 32.25], [119.19, 32.25], [119.19, 32.28],
                                                      [119.15, 32.28], [119.15, 32.25]]]},
}
_CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="a park code is 1 to 32 letters, digits, '_' or '-'")
_NAME = validate.Length(min=1, max=120)
_KIND = validate.Length(min=1, max=40)


class ParkCreateSchema(StrictSchema):
    code = fields.String(required=True, validate=_CODE, metadata={"example": "EDZ"})
    name_zh = Text(required=True, validate=_NAME)
    name_en = Text(required=True, validate=_NAME)
    kind = Text(load_default="general", validate=_KIND, metadata={"example": "chemical"})
    boundary = GeoJSONArea(required=True, metadata=_BOUNDARY_DOC)


class ParkUpdateSchema(StrictSchema):
    code = fields.String(validate=_CODE)
    name_zh = Text(validate=_NAME)
    name_en = Text(validate=_NAME)
    kind = Text(validate=_KIND)
    boundary = GeoJSONArea(metadata=_BOUNDARY_DOC)

    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("nothing to change: send at least one of code, name_zh, name_en, kind, boundary")


class ParkSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    kind = fields.String()
    site_count = fields.Integer(metadata={"description": "active sites in the park"})
    bbox = fields.List(fields.Float(), metadata={"description": "[lon_min, lat_min, lon_max, lat_max]"})


class ParkListSchema(StrictSchema):
    items = fields.List(fields.Nested(ParkSchema))


class ParkDetailSchema(ParkSchema):
    boundary = GeoJSONArea(metadata={"description": "a GeoJSON MultiPolygon in WGS 84 lon/lat"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    warnings = fields.List(fields.String(), metadata={
        "description": "on a write: what an admin should look at that did not stop it "
                       "(e.g. an overlap with another park)"})

"""Pieces shared by several resources."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class StrictSchema(ma.Schema):
    """Unknown fields are refused (422 naming the field), never silently dropped."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class Longitude(fields.Float):
    def __init__(self, **kw):
        kw.setdefault("validate", validate.Range(min=-180, max=180, error="longitude must be between -180 and 180 (WGS 84 degrees)"))
        kw.setdefault("allow_nan", False)
        super().__init__(**kw)


class Latitude(fields.Float):
    def __init__(self, **kw):
        kw.setdefault("validate", validate.Range(min=-90, max=90, error="latitude must be between -90 and 90 (WGS 84 degrees)"))
        kw.setdefault("allow_nan", False)
        super().__init__(**kw)


class PointSchema(StrictSchema):
    lon = Longitude(required=True)
    lat = Latitude(required=True)


class GeoJSONFeatureCollection(ma.Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Dict())


class CursorPageSchema(ma.Schema):
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as ?cursor= for the next page; null at the end"})

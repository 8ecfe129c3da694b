"""Pieces shared by several resources."""
from __future__ import annotations

from collections.abc import Mapping

import marshmallow as ma
from marshmallow import ValidationError, fields, pre_load, validate

# Ids fit both engines' integer columns; a larger number would fail in the driver, not here.
ID_RANGE = validate.Range(min=1, max=2**31 - 1, error="an id is a whole number from 1 to 2147483647")


def _nul_paths(value, path=()):
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, Mapping):  # a JSON object, or webargs' view of a query string
        for k, v in value.items():
            yield from _nul_paths(v, path + (str(k),))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nul_paths(v, path + (str(i),))


class StrictSchema(ma.Schema):
    """Unknown fields are refused (422 naming the field), never silently dropped; so is the
    NUL character in any text, which PostgreSQL cannot store."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @pre_load
    def _refuse_nul(self, data, **_kw):
        if isinstance(data, Mapping):
            bad = list(_nul_paths(data))
            if bad:
                raise ValidationError({".".join(p) or "_schema": ["must not contain the NUL character (\\u0000)"] for p in bad})
        return data


class Text(fields.String):
    """A string trimmed of surrounding white space (a blank one then fails a minimum length)."""

    def _deserialize(self, value, attr, data, **kw):
        return super()._deserialize(value, attr, data, **kw).strip()


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

"""Imports: the upload (multipart/form-data), the dry-run report with its rows, apply."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate, validates_schema

from server.domain.coords import CRS
from server.domain.imports import FORMATS, KINDS

from .common import Latitude, Longitude, StrictSchema, Text


def _formats() -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in FORMATS.items())


class ImportUploadSchema(StrictSchema):
    file = Upload(required=True, metadata={"description": f"the file; formats by kind: {_formats()}"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error="kind is one of: " + ", ".join(KINDS)))
    crs = fields.String(load_default="wgs84", validate=validate.OneOf(CRS, error="crs is one of: " + ", ".join(CRS)),
                        metadata={"description": "the coordinate system of the file's coordinates: wgs84 (GPS), "
                                                 "gcj02 (AMap/Gaode, Tencent), bd09 (Baidu); converted to WGS 84"})
    reference_lon = Longitude(metadata={"description": "a known WGS 84 point (e.g. the park office) to tell "
                                                       "whether the file looks like GCJ-02; with reference_lat"})
    reference_lat = Latitude()
    reference_key = Text(validate=validate.Length(max=64), metadata={
        "description": "the credit code of the enterprise the reference point is (default: the row nearest it)"})
    initial_password = fields.String(validate=validate.Length(min=10, max=200, error="the initial password has "
                                                                                      "10 to 200 characters"),
                                     metadata={"description": "people imports: the password of every user created "
                                                              "(they should change it); never stored in clear"})

    @validates_schema
    def _both(self, data, **kw):
        if ("reference_lon" in data) != ("reference_lat" in data):
            raise ValidationError("the reference point needs both reference_lon and reference_lat", "reference_lon")


class ImportReadQuerySchema(StrictSchema):
    action = fields.String(validate=validate.OneOf(("create", "update", "unchanged", "refused", "issues")),
                           metadata={"description": "only rows with this action; `issues`: refused, updated and warned"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class MessageSchema(ma.Schema):
    zh_CN = fields.String(data_key="zh-CN", attribute="zh-CN")
    en = fields.String()


class IssueSchema(ma.Schema):
    column = fields.String(allow_none=True, metadata={"description": "the field the problem is in"})
    header = fields.String(allow_none=True, metadata={"description": "that column's header as the file spells it"})
    key = fields.String(metadata={"description": "the message key (server/domain/imports.py MESSAGES)"})
    params = fields.Dict()
    severity = fields.String(metadata={"description": "error (the row is refused) or warning"})
    message = fields.Nested(MessageSchema)


class ImportRowSchema(ma.Schema):
    row = fields.Integer(metadata={"description": "the line of a CSV, the row of a spreadsheet, the feature's "
                                                  "number (from 1) in GeoJSON or KML"})
    action = fields.String(metadata={"description": "create, update, unchanged or refused"})
    key = fields.String(metadata={"description": "what the row is matched on: credit code, park code, username..."})
    label = fields.String()
    issues = fields.List(fields.Nested(IssueSchema))
    changes = fields.Dict(metadata={"description": "field: [before, after] for an update"})


class RowPageSchema(ma.Schema):
    total = fields.Integer()
    offset = fields.Integer()
    limit = fields.Integer()
    action = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ImportRowSchema))


class ProgressSchema(ma.Schema):
    phase = fields.String(metadata={"description": "check or apply"})
    done = fields.Integer()
    total = fields.Integer(allow_none=True, metadata={"description": "an estimate for CSV and XLSX"})


class ImportSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    filename = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    crs = fields.String()
    reference = fields.List(fields.Float(), allow_none=True)
    status = fields.String(metadata={"description": "checking, checked (dry run done), applying, applied, failed"})
    running = fields.Boolean()
    progress = fields.Nested(ProgressSchema, allow_none=True)
    counts = fields.Dict(metadata={"description": "create, update, unchanged, refused, warnings, rows"})
    file_issues = fields.List(fields.Nested(IssueSchema))
    error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    checked_at = fields.AwareDateTime(allow_none=True)
    applied_at = fields.AwareDateTime(allow_none=True)
    allowed_next = fields.List(fields.String())
    rows = fields.Nested(RowPageSchema)
    listed_creates_limit = fields.Integer(metadata={"description": "created rows listed one by one up to this "
                                                                   "many (all are counted)"})


class ImportBriefSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    filename = fields.String()
    status = fields.String()
    counts = fields.Dict()
    created_at = fields.AwareDateTime()
    applied_at = fields.AwareDateTime(allow_none=True)


class ImportListSchema(ma.Schema):
    items = fields.List(fields.Nested(ImportBriefSchema))

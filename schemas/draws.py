"""Random draws (双随机): making one, reading it, replaying it."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.domain.planning.draw import SUBJECTS
from server.models.vocab import CREDIT_CLASSES, RISK_GRADES, SITE_KINDS

from .common import ID_RANGE, StrictSchema, Text

MAX_COUNT = 1000
MAX_NOTE = 2000


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


class PoolFilterSchema(StrictSchema):
    park_ids = fields.List(fields.Integer(strict=True, validate=ID_RANGE), validate=validate.Length(min=1, max=100),
                           metadata={"description": "default: all your parks"})
    risk_grades = fields.List(fields.String(validate=_one_of(RISK_GRADES)), validate=validate.Length(max=4))
    credit_classes = fields.List(fields.String(validate=_one_of(CREDIT_CLASSES)), validate=validate.Length(max=4))
    site_kinds = fields.List(fields.String(validate=_one_of(SITE_KINDS)), validate=validate.Length(max=2))
    key_objects = fields.Boolean(allow_none=True, metadata={
        "description": "true: key objects only; false: none of them; absent: both"})


class DrawCreateSchema(StrictSchema):
    subject = fields.String(required=True, validate=_one_of(SUBJECTS))
    count = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=1, max=MAX_COUNT, error=f"count is 1 to {MAX_COUNT}"))
    pool = fields.Nested(PoolFilterSchema, load_default=dict, metadata={
        "description": "which sites (or inspectors: by park only) the draw is made from"})
    visible_from = fields.Date(required=True, metadata={
        "description": "the first day of the drawn visits (or the day the drawn inspectors work); until then "
                       "inspectors see neither the seed nor the result"})
    visit_by = fields.Date(metadata={"description": "the last day for the drawn visits (default: visible_from)"})
    note = Text(load_default="", validate=validate.Length(max=MAX_NOTE, error=f"at most {MAX_NOTE} characters"))


class MemberSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()


class DrawSchema(ma.Schema):
    id = fields.Integer()
    subject = fields.String()
    created_at = fields.AwareDateTime(metadata={"description": "when the seed's hash was recorded"})
    created_by = fields.Integer(allow_none=True)
    seed_sha256 = fields.String(metadata={"description": "SHA-256 of the seed's text, recorded before the pool"})
    seed = fields.String(allow_none=True, metadata={
        "description": "64 hex characters; shown to schedulers and admins, and to everyone from visible_from"})
    pool_filter = fields.Dict()
    pool = fields.List(fields.Integer(), allow_none=True, metadata={"description": "the member ids, sorted"})
    pool_size = fields.Integer()
    pool_sha256 = fields.String(allow_none=True, metadata={"description": "SHA-256 of the pool's canonical JSON"})
    frozen_at = fields.AwareDateTime(allow_none=True)
    count = fields.Integer()
    drawn = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "the members with the smallest HMAC-SHA256(seed, id), in that order; hidden like the seed"})
    drawn_members = fields.List(fields.Nested(MemberSchema), allow_none=True)
    drawn_at = fields.AwareDateTime(allow_none=True)
    visible_from = fields.Date(allow_none=True)
    visit_by = fields.Date(allow_none=True)
    note = fields.String()
    hidden = fields.Boolean(metadata={"description": "the seed and the result are withheld from you until visible_from"})


class DrawValuesSchema(ma.Schema):
    seed_sha256 = fields.String(allow_none=True)
    pool_sha256 = fields.String(allow_none=True)
    count = fields.Integer()
    drawn = fields.List(fields.Integer(), allow_none=True)


class ReplaySchema(ma.Schema):
    id = fields.Integer()
    matches = fields.Boolean(metadata={"description": "every recorded value was reproduced"})
    problems = fields.List(fields.String(), metadata={"description": "each value that was not, in words"})
    drawn = fields.List(fields.Integer())
    recorded = fields.Nested(DrawValuesSchema)
    recomputed = fields.Nested(DrawValuesSchema)

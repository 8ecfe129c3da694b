from marshmallow import fields

from .common import StrictSchema


class BrokenEntrySchema(StrictSchema):
    id = fields.Integer()
    reason = fields.String()


class AuditVerifySchema(StrictSchema):
    ok = fields.Boolean()
    entries = fields.Integer()
    verified = fields.Integer()
    first_broken = fields.Nested(BrokenEntrySchema, allow_none=True)

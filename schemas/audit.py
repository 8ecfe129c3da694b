from marshmallow import fields, validate

from .common import StrictSchema


class BrokenEntrySchema(StrictSchema):
    id = fields.Integer()
    reason = fields.String()


class AuditVerifySchema(StrictSchema):
    ok = fields.Boolean()
    entries = fields.Integer()
    verified = fields.Integer()
    first_broken = fields.Nested(BrokenEntrySchema, allow_none=True)


class AuditQuerySchema(StrictSchema):
    entity_type = fields.String(validate=validate.Length(min=1, max=40), metadata={"example": "policy"})
    entity_id = fields.String(validate=validate.Length(min=1, max=64))
    action = fields.String(validate=validate.Length(min=1, max=64),
                           metadata={"description": "entries whose action starts with this, e.g. user."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    before_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1),
                               metadata={"description": "the next page: next_before_id of the last answer"})


class AuditEntrySchema(StrictSchema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    actor_username = fields.String(allow_none=True)
    summary = fields.Dict()


class AuditPageSchema(StrictSchema):
    items = fields.List(fields.Nested(AuditEntrySchema), metadata={"description": "newest first"})
    next_before_id = fields.Integer(allow_none=True)

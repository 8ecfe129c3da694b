from marshmallow import fields, validate

from .common import StrictSchema


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class UserBriefSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String()
    park_ids = fields.List(fields.Integer())


class TokenSchema(StrictSchema):
    token = fields.String(metadata={"description": "opaque bearer token; send as 'Authorization: Bearer <token>'"})
    expires_at = fields.AwareDateTime()
    user = fields.Nested(UserBriefSchema)

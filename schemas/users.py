"""People as the admin sees them: roles, parks, certificates (执法证) and their expiry,
auxiliary staff (协管员), conflict declarations (回避) and leave."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from server.models.vocab import DOMAINS, ROLES

from .common import ID_RANGE, StrictSchema, Text

CERTIFICATE_STATES = ("valid", "expiring", "expired", "none", "auxiliary")
_ROLE = validate.OneOf(ROLES, error="a role is one of: " + ", ".join(ROLES))
_USERNAME = validate.Regexp(r"^[a-z0-9_.-]{2,64}$",
                            error="a username is 2 to 64 lower-case letters, digits, '_', '.' or '-'")
_PASSWORD = validate.Length(min=10, max=200, error="a password has 10 to 200 characters")
_DOMAIN = validate.OneOf(DOMAINS, error="a domain is one of: " + ", ".join(DOMAINS))


def _distinct(items) -> None:
    if len(set(items)) != len(items):
        raise ValidationError("a value is named twice")


class _UserFields(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=80))
    role = fields.String(validate=_ROLE)
    phone = Text(validate=validate.Length(max=40))
    certificate_no = Text(allow_none=True, validate=validate.Length(max=40),
                          metadata={"description": "law-enforcement certificate number (执法证号); null or blank: none"})
    certificate_expires = fields.Date(allow_none=True, metadata={"description": "valid through this day"})
    certified_domains = fields.List(fields.String(validate=_DOMAIN), validate=_distinct)
    auxiliary = fields.Boolean(metadata={"description": "协管员: recorded on visits, never counted as an officer"})
    park_ids = fields.List(fields.Integer(validate=ID_RANGE), validate=_distinct)


class UserCreateSchema(_UserFields):
    username = fields.String(required=True, validate=_USERNAME)
    name = Text(required=True, validate=validate.Length(min=1, max=80))
    role = fields.String(required=True, validate=_ROLE)
    password = fields.String(validate=_PASSWORD, metadata={
        "description": "the first password; left out, one is made and answered once in `password`"})


class UserUpdateSchema(_UserFields):
    @validates_schema
    def _something(self, data, **kw):
        if not data:
            raise ValidationError("send at least one field to change")


class UserListQuerySchema(StrictSchema):
    q = Text(validate=validate.Length(max=80), metadata={"description": "part of a username, name, phone or certificate"})
    role = fields.String(validate=_ROLE)
    park_id = fields.Integer(validate=ID_RANGE)
    active = fields.Boolean()
    certificate = fields.String(validate=validate.OneOf(CERTIFICATE_STATES),
                                metadata={"description": "only people whose certificate is in this state today"})


class ConflictSchema(StrictSchema):
    id = fields.Integer()
    site_id = fields.Integer()
    site_name = fields.String()
    reason = fields.String()
    declared_at = fields.AwareDateTime()


class LeaveSchema(StrictSchema):
    id = fields.Integer()
    user_id = fields.Integer()
    start_date = fields.Date()
    end_date = fields.Date()
    note = fields.String()


class UserSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String()
    active = fields.Boolean()
    is_demo = fields.Boolean()
    phone = fields.String()
    auxiliary = fields.Boolean()
    certificate_no = fields.String(allow_none=True)
    certificate_expires = fields.Date(allow_none=True)
    certified_domains = fields.List(fields.String())
    certificate_status = fields.String(metadata={"description": "today: " + ", ".join(CERTIFICATE_STATES) +
                                                 " (expiring: within the policy's certificate_warning_days)"})
    certified_today = fields.Boolean(metadata={"description": "counts as a certified officer for enforcement today"})
    certificate_days_left = fields.Integer(allow_none=True, metadata={"description": "negative: expired that many days ago"})
    park_ids = fields.List(fields.Integer())
    parks = fields.List(fields.String())
    created_at = fields.AwareDateTime()


class UserDetailSchema(UserSchema):
    conflicts = fields.List(fields.Nested(ConflictSchema))
    leaves = fields.List(fields.Nested(LeaveSchema))
    password = fields.String(metadata={"description": "only when the server made the password: shown this once"})


class UserListSchema(StrictSchema):
    items = fields.List(fields.Nested(UserSchema))
    today = fields.Date()
    warning_days = fields.Integer()


class ExpiringCertificatesSchema(UserListSchema):
    expiring = fields.Integer(metadata={"description": "still valid, expiring within warning_days"})
    expired = fields.Integer(metadata={"description": "expired: no longer counted as certified officers"})


class PasswordResetSchema(StrictSchema):
    password = fields.String(validate=_PASSWORD, metadata={
        "description": "the new password; left out, one is made and answered once"})


class PasswordResetAnswerSchema(StrictSchema):
    id = fields.Integer()
    username = fields.String()
    generated = fields.Boolean()
    password = fields.String(allow_none=True, metadata={"description": "the made password, shown this once; "
                                                                         "null when the admin set it"})


class ConflictCreateSchema(StrictSchema):
    site_id = fields.Integer(required=True, validate=ID_RANGE)
    reason = Text(required=True, validate=validate.Length(min=1, max=255))


class LeaveCreateSchema(StrictSchema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    note = Text(load_default="", validate=validate.Length(max=255))


class LeaveQuerySchema(StrictSchema):
    date_from = fields.Date(data_key="from", required=True)
    date_to = fields.Date(data_key="to", required=True)


class LeaveCalendarEntrySchema(LeaveSchema):
    name = fields.String()
    username = fields.String()
    park_ids = fields.List(fields.Integer())


class LeaveCalendarSchema(StrictSchema):
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    items = fields.List(fields.Nested(LeaveCalendarEntrySchema))

"""Checklists (versioned; a published version never changes) and the violation catalogue."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from server.models.vocab import CHECKLIST_STATUSES, DOMAINS

from .common import StrictSchema, Text

_DOMAIN = validate.OneOf(DOMAINS, error="a domain is one of: " + ", ".join(DOMAINS))
_CODE = validate.Regexp(r"^[A-Za-z0-9_.-]{1,40}$", error="an item code is 1 to 40 letters, digits, '_', '.' or '-'")


class ChecklistItemInSchema(StrictSchema):
    code = fields.String(required=True, validate=_CODE)
    domain = fields.String(required=True, validate=_DOMAIN)
    text_zh = Text(required=True, validate=validate.Length(min=1, max=2000))
    text_en = Text(load_default="", validate=validate.Length(max=2000))
    legal_basis = Text(load_default="", validate=validate.Length(max=2000),
                       metadata={"description": "the article the item checks, e.g. 《安全生产法》第二十八条"})
    violation_codes = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list,
                                  metadata={"description": "catalogue codes a failed item usually leads to"})


class ChecklistEditSchema(StrictSchema):
    name_zh = Text(validate=validate.Length(min=1, max=120))
    name_en = Text(validate=validate.Length(min=1, max=120))
    items = fields.List(fields.Nested(ChecklistItemInSchema), validate=validate.Length(max=500),
                        metadata={"description": "the whole item list, in order (replaces the draft's)"})

    @validates_schema
    def _whole(self, data, **kw):
        if not data:
            raise ValidationError("nothing to change: send name_zh, name_en or items")
        codes = [i["code"] for i in data.get("items", [])]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValidationError(f"an item code appears twice: {', '.join(twice)}", "items")


class ChecklistQuerySchema(StrictSchema):
    code = fields.String(validate=_CODE)
    status = fields.String(validate=validate.OneOf(CHECKLIST_STATUSES))


class ChecklistItemSchema(ChecklistItemInSchema):
    id = fields.Integer()
    position = fields.Integer()


class ChecklistSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    version = fields.Integer()
    domain = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    status = fields.String(metadata={"description": "draft (editable), published (in force) or retired"})
    published_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    item_count = fields.Integer()
    editable = fields.Boolean()
    visits = fields.Integer(metadata={"description": "visits made with this version"})


class ChecklistDetailSchema(ChecklistSchema):
    items = fields.List(fields.Nested(ChecklistItemSchema))


class ChecklistListSchema(StrictSchema):
    items = fields.List(fields.Nested(ChecklistSchema))


class CatalogueQuerySchema(StrictSchema):
    on = fields.Date(metadata={"description": "the day (default: today in the bureau's time zone)"})
    domain = fields.String(validate=_DOMAIN)
    q = Text(validate=validate.Length(min=1, max=80))


class CatalogueRowSchema(StrictSchema):
    id = fields.Integer()
    code = fields.String()
    domain = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    violated_provision = fields.String()
    penalty_provision = fields.String()
    penalty_trigger = fields.String()
    tolerance_type = fields.String()
    list_conditions = fields.String()
    correction_days = fields.Integer()
    correction_unit = fields.String()
    penalty_range_zh = fields.String()
    source = fields.String()
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)
    versions = fields.Integer(metadata={"description": "how many versions the code has"})


class CatalogueSchema(StrictSchema):
    on = fields.Date()
    items = fields.List(fields.Nested(CatalogueRowSchema))

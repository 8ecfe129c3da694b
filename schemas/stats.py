"""The 721 mix: counts and shares per final tier against the policy's target."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from .common import ID_RANGE, StrictSchema
from .sites import ParkBriefSchema

GROUPINGS = ("month", "park", "domain")


class TierStatsQuerySchema(StrictSchema):
    # `from` is a Python keyword: the field is read from the query's "from" via data_key.
    date_from = fields.Date(data_key="from", metadata={
        "description": "first day (YYYY-MM-DD, by discovery date in the bureau's time zone); "
                       "default: the first day of the month eleven months before `to`"})
    date_to = fields.Date(data_key="to", metadata={"description": "last day, included; default: today"})
    park = fields.Integer(validate=ID_RANGE, metadata={"description": "a park id (one of yours)"})
    group_by = fields.String(validate=validate.OneOf(GROUPINGS, error="must be one of: " + ", ".join(GROUPINGS)))

    @validates_schema
    def _order(self, data, **kw):
        if "date_from" in data and "date_to" in data and data["date_from"] > data["date_to"]:
            raise ValidationError(f"from ({data['date_from']}) is after to ({data['date_to']})", "from")


class TierCountsSchema(StrictSchema):
    service = fields.Integer()
    management = fields.Integer()
    enforcement = fields.Integer()


class TierPercentSchema(StrictSchema):
    service = fields.Float(allow_none=True)
    management = fields.Float(allow_none=True)
    enforcement = fields.Float(allow_none=True)


class LargestDistanceSchema(StrictSchema):
    tier = fields.String()
    pp = fields.Float(metadata={"description": "its size in percentage points"})


class MixSchema(StrictSchema):
    total = fields.Integer()
    counts = fields.Nested(TierCountsSchema, metadata={"description": "findings per final tier"})
    shares = fields.Nested(TierPercentSchema, metadata={
        "description": "percent of the total, one decimal (null when the total is 0)"})
    distance = fields.Nested(TierPercentSchema, metadata={
        "description": "share minus target in percentage points, one decimal (positive: above the target)"})
    largest_distance = fields.Nested(LargestDistanceSchema, allow_none=True)


class SectionFields(StrictSchema):
    all = fields.Nested(MixSchema, metadata={"description": "every finding, the excluded domains inside"})
    without_excluded = fields.Nested(MixSchema, metadata={"description": "the mix without the excluded domains"})
    excluded = fields.Nested(MixSchema, metadata={"description": "the excluded domains alone"})


class GroupSchema(SectionFields):
    key = fields.String(metadata={"description": "YYYY-MM, a park id or a domain"})
    park = fields.Nested(ParkBriefSchema, metadata={"description": "with group_by=park"})
    excluded_domain = fields.Boolean(metadata={"description": "with group_by=domain: excluded by the policy"})


class TierStatsSchema(SectionFields):
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    timezone = fields.String()
    park = fields.Integer(allow_none=True)
    group_by = fields.String(allow_none=True)
    policy_version = fields.Integer(allow_none=True)
    target = fields.Nested(TierPercentSchema, metadata={"description": "the policy's target mix, percent"})
    excluded_domains = fields.List(fields.String())
    groups = fields.List(fields.Nested(GroupSchema), allow_none=True,
                         metadata={"description": "one per month, park (yours) or domain, empty ones included"})

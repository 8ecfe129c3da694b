"""The policy: every number of DOMAIN.md as data (defaults in server/domain/policy.py), versioned.

Each knob is checked for its type and its range here, so that a version that would break a
classification or a clock is refused with the knob's name instead of being stored.
"""
from __future__ import annotations

import copy
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from server.domain.policy import DEFAULT_POLICY
from server.models.vocab import CREDIT_CLASSES, DOMAINS, RISK_GRADES, SAFETY_STD_GRADES, TIERS

from .common import StrictSchema, Text


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


def _count(minimum: int = 0, maximum: int = 3650, **kw) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=minimum, max=maximum), **kw)


def _number(minimum: float, maximum: float, min_inclusive: bool = False) -> fields.Float:
    return fields.Float(allow_nan=False, validate=validate.Range(min=minimum, max=maximum,
                                                                min_inclusive=min_inclusive))


def _timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") from None


def _clock_time(value: str) -> None:
    hours, _, minutes = value.partition(":")
    if not (len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
            and int(hours) < 24 and int(minutes) < 60):
        raise ValidationError("a time of day as HH:MM")


def _distinct(items) -> None:
    if len(set(items)) != len(items):
        raise ValidationError("a domain is named twice")


class TargetMixSchema(StrictSchema):
    service = _count(0, 100)
    management = _count(0, 100)
    enforcement = _count(0, 100)

    @validates_schema
    def _whole(self, data, **kw):
        if set(data) != set(TIERS):
            raise ValidationError("give the three tiers' shares: " + ", ".join(TIERS))
        if sum(data.values()) != 100:
            raise ValidationError("the three shares add up to 100")


def _grades_schema(name: str, grades) -> type[ma.Schema]:
    return StrictSchema.from_dict({g: _count(0, 366, required=True) for g in grades}, name=name)


class YearlyMaxVisitsSchema(StrictSchema):
    hazchem_std_grade = fields.Nested(_grades_schema("HazchemGrades", SAFETY_STD_GRADES), required=True)
    risk_grade = fields.Nested(_grades_schema("RiskGrades", RISK_GRADES), required=True)


class NoProactiveVisitSchema(StrictSchema):
    risk_grade = fields.String(required=True, validate=_one_of(RISK_GRADES))
    credit_class = fields.String(required=True, validate=_one_of(CREDIT_CLASSES))


KNOBS: dict[str, fields.Field] = {
    "excluded_domains": fields.List(fields.String(validate=_one_of(DOMAINS)), validate=_distinct),
    "repeat_window_days": _count(1, 3650),
    "repeat_threshold": _count(1, 100),
    "target_mix": fields.Nested(TargetMixSchema),
    "timezone": fields.String(validate=_timezone),
    "reinspection_within_days": _count(0, 365),
    "case_decision_days": _count(1, 3650),
    "hearing_request_days": _count(0, 365),
    "decision_service_days": _count(0, 365),
    "fine_payment_days": _count(0, 365),
    "limitation_years": _count(1, 50),
    "limitation_years_harm": _count(1, 50),
    "clock_warning_days": _count(0, 365),
    "order_number_prefix": Text(validate=validate.Length(min=1, max=20)),
    "case_number_prefix": Text(validate=validate.Length(min=1, max=20)),
    "record_number_prefix": Text(validate=validate.Length(min=1, max=20)),
    "geofence_radius_m": _count(1, 50_000),
    "gps_accuracy_threshold_m": _count(1, 50_000),
    "device_clock_tolerance_h": _count(1, 24 * 365),
    "yearly_max_visits": fields.Nested(YearlyMaxVisitsSchema),
    "key_object_min_per_quarter": _count(0, 92),
    "no_proactive_visit": fields.Nested(NoProactiveVisitSchema),
    "merge_window_days": _count(0, 365),
    "working_day_hours": _count(1, 24),
    "minutes_on_site": _count(1, 24 * 60),
    "road_speed_kmh": _count(1, 200),
    "road_factor": _number(1, 10, min_inclusive=True),
    "day_start": fields.String(validate=_clock_time),
    "public_results_show_inspectors": fields.Boolean(truthy={True}, falsy={False}),
    "certificate_warning_days": _count(0, 365),
}


class _SameTypeAsDefault(fields.Raw):
    """A knob added to the defaults without a field of its own here: same JSON type as its default."""

    def __init__(self, default, **kw):
        self.default_value = default
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        expected = type(self.default_value)
        ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
        if not ok or (expected in (int, float) and isinstance(value, bool)):
            raise ValidationError(f"must be a {expected.__name__}, like its default {self.default_value!r}")
        return value


def _values_schema(name: str, required: bool) -> type[ma.Schema]:
    declared = {}
    for key, default in DEFAULT_POLICY.items():
        # A copy per schema: `required` differs between PUT (every knob) and PATCH (some).
        field = copy.deepcopy(KNOBS.get(key) or _SameTypeAsDefault(default))
        field.required = required
        declared[key] = field
    return StrictSchema.from_dict(declared, name=name)


PolicyValuesSchema = _values_schema("PolicyValues", required=True)
PolicyValuesPatchSchema = _values_schema("PolicyValuesPatch", required=False)


class PolicySchema(ma.Schema):
    version = fields.Integer(allow_none=True, metadata={"description": "null until a first version is stored"})
    values = fields.Dict()
    reason = fields.String()
    created_at = fields.AwareDateTime(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    changed = fields.Boolean(metadata={"description": "on PUT/PATCH: whether a new version was made"})


class PolicyPutSchema(StrictSchema):
    values = fields.Nested(PolicyValuesSchema, required=True, metadata={"description": "every knob"})
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))


class PolicyPatchSchema(StrictSchema):
    values = fields.Nested(PolicyValuesPatchSchema, required=True, metadata={"description": "the knobs to change"})
    reason = Text(required=True, validate=validate.Length(min=1, max=2000))

    @validates_schema
    def _something(self, data, **kw):
        if not data.get("values"):
            raise ValidationError("name at least one knob to change", "values")


class PolicyVersionSchema(ma.Schema):
    version = fields.Integer()
    reason = fields.String()
    created_at = fields.AwareDateTime(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_by_name = fields.String(allow_none=True)
    changes = fields.Dict(metadata={"description": "knob: {from, to} against the version before"})


class PolicyVersionsSchema(ma.Schema):
    items = fields.List(fields.Nested(PolicyVersionSchema), metadata={"description": "newest first"})
    defaults = fields.Dict(metadata={"description": "every knob's default (DOMAIN.md)"})

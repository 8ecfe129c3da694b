"""Exports (CSV and GeoJSON, streamed) and the public results of random inspections (一公开)."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from server.models.vocab import VISIT_KINDS

from .common import ID_RANGE, StrictSchema
from .findings import QueueFilterSchema

LANGS = ("zh", "en")
PUBLIC_RESULTS = ("no_problem", "rectified", "rectifying", "order", "case")
MAX_PUBLIC_SPAN_DAYS = 366


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


class _Period(StrictSchema):
    # `from` is a Python keyword: the field is read from the query's "from" via data_key.
    date_from = fields.Date(data_key="from", metadata={
        "description": "first day (YYYY-MM-DD) in the bureau's time zone, included"})
    date_to = fields.Date(data_key="to", metadata={"description": "last day, included"})

    @validates_schema
    def _order(self, data, **kw):
        if "date_from" in data and "date_to" in data and data["date_from"] > data["date_to"]:
            raise ValidationError(f"from ({data['date_from']}) is after to ({data['date_to']})", "from")


class _Lang(StrictSchema):
    lang = fields.String(load_default="zh", validate=_one_of(LANGS), metadata={
        "description": "CSV only. zh (default): Chinese headers and Chinese words for the closed vocabularies, "
                       "for people and Excel; en: the stable English keys as headers and the stored codes as "
                       "values, for programs. GeoJSON always carries the keys and codes."})


class ExportFindingsQuerySchema(QueueFilterSchema, _Period, _Lang):
    """The queue's filters (GET /api/findings), a period and the CSV's language. For findings the
    period is the discovery date; for orders the issue date; for cases the filing date."""


class ExportVisitsQuerySchema(_Period, _Lang):
    """The queue's filters that describe a visit (park, enterprise, off_site), its kind and a period
    by the day it started."""

    park = fields.Integer(validate=ID_RANGE, metadata={"description": "a park id (one of yours)"})
    enterprise = fields.Integer(validate=ID_RANGE, metadata={"description": "a site id"})
    off_site = fields.Boolean(metadata={"description": "true: the geofence judged the visit off site; false: the others"})
    kind = fields.String(validate=_one_of(VISIT_KINDS), metadata={"description": ", ".join(VISIT_KINDS)})


class PublicResultsQuerySchema(_Period):
    """Default: the three months up to today. At most a year at a time."""


class WordsSchema(StrictSchema):
    zh = fields.String()
    en = fields.String()


class PublicItemSchema(StrictSchema):
    code = fields.String()
    zh = fields.String()
    en = fields.String()


class PublicResultSchema(StrictSchema):
    date = fields.Date(metadata={"description": "the day of the inspection, in the bureau's time zone"})
    enterprise = fields.String(metadata={"description": "the enterprise's registered name"})
    domains = fields.List(fields.String(), metadata={"description": "the fields of law inspected and found"})
    domain_names = fields.List(fields.Nested(WordsSchema))
    checklist = fields.Nested(WordsSchema, allow_none=True, metadata={"description": "the checklist used"})
    items = fields.List(fields.Nested(PublicItemSchema), metadata={"description": "the items checked"})
    result = fields.String(metadata={"description": "no_problem: nothing found; rectified: problems found and put "
                                                    "right; rectifying: problems found, being put right; order: "
                                                    "ordered to rectify within a time limit; case: a case filed"})
    result_name = fields.Nested(WordsSchema)
    inspectors = fields.List(fields.String(), metadata={
        "description": "only when the policy's public_results_show_inspectors is true: the officers' names"})


class PublicParkSchema(StrictSchema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()


class PublicResultsSchema(StrictSchema):
    park = fields.Nested(PublicParkSchema)
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    items = fields.List(fields.Nested(PublicResultSchema), metadata={"description": "newest first"})
    truncated = fields.Boolean(metadata={"description": "more inspections than one answer lists: narrow the period"})

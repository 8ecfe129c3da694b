"""Sync: the phone's batches of visit records and the server's answer, one result per record.

A batch is checked only for its envelope (a device id and a list of JSON objects); each
record is then checked on its own with `VisitRecordSchema`, so that one malformed visit
is answered `rejected` with its field errors while the others in the batch are stored.
"""
from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from server.models.vocab import DOMAINS, HARMS, OUTCOMES, REINSPECTION_OUTCOMES, SEVERITIES, VISIT_KINDS

from .common import ID_RANGE, Latitude, Longitude, QuickDumpSchema, StrictSchema, Text

SYNC_STATUSES = ("created", "duplicate", "conflict", "rejected")
MAX_TEXT = 4000


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


def _unique(items, what: str) -> None:
    seen = set()
    for item in items:
        if item in seen:
            raise ValidationError(f"{what} {item} is named twice")
        seen.add(item)


def _unique_list(what: str):
    return lambda items: _unique(items, what)


class Time(fields.AwareDateTime):
    """An ISO 8601 time with its UTC offset, as the phone's clock read it.

    Any year a phone's clock can show is taken (a clock reset to 1970 is flagged, not
    refused); only times no clock shows are refused, before they overflow a conversion."""

    EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
    LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)
    default_error_messages = {
        "invalid": "must be an ISO 8601 time such as 2026-11-26T09:12:03+08:00",
        "invalid_awareness": "needs its UTC offset (e.g. +08:00 or Z): without it the day is unknowable",
        "out_of_range": "must be a time between 1970 and 2200",
    }

    def __init__(self, **kw):
        super().__init__(format="iso", **kw)

    def _deserialize(self, value, attr, data, **kw):
        when = super()._deserialize(value, attr, data, **kw)
        if not self.EARLIEST <= when <= self.LATEST:  # compared as instants: no conversion to overflow
            raise self.make_error("out_of_range")
        return when


class GpsFixSchema(StrictSchema):
    lon = Longitude(required=True)
    lat = Latitude(required=True)
    accuracy_m = fields.Float(
        required=True, allow_none=True, allow_nan=False,
        validate=validate.Range(min=0, max=100_000, error="accuracy_m is a radius in metres, from 0 to 100000"),
        metadata={"description": "the Geolocation API's accuracy: a radius in metres (null when the phone gave none)"})


class CheckResultRecordSchema(StrictSchema):
    item = Text(required=True, validate=validate.Length(min=1, max=40),
                metadata={"description": "a checklist item code, e.g. SAF-012"})
    outcome = fields.String(required=True, validate=_one_of(OUTCOMES))


class FindingRecordSchema(StrictSchema):
    id = fields.UUID(required=True, metadata={"description": "made on the phone"})
    item = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40),
                metadata={"description": "the checklist item that failed, if the finding came from one"})
    violation_code = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40),
                          metadata={"description": "the catalogue row's code; null for an advisory finding "
                                                   "(a risk without a violation type)"})
    domain = fields.String(required=True, validate=_one_of(DOMAINS), metadata={
        "description": "the domain the inspector filed it under; it must be the violation code's own domain"})
    severity = fields.String(required=True, validate=_one_of(SEVERITIES))
    harm = fields.String(load_default="none", validate=_one_of(HARMS))
    intentional = fields.Boolean(load_default=False)
    obstruction = fields.Boolean(load_default=False)
    suspected_crime = fields.Boolean(load_default=False)
    no_fault_proven = fields.Boolean(load_default=False)
    corrected_on_spot = fields.Boolean(load_default=False)
    note = Text(load_default="", validate=validate.Length(max=MAX_TEXT))
    photo_ids = fields.List(fields.UUID(), load_default=list, validate=_unique_list("photo"), metadata={
        "description": "photos sent (or still to be sent) with PUT /api/photos/<id>; the finding is accepted "
                       "before they arrive and counts them in photos_waiting"})


class OnSiteRecordSchema(StrictSchema):
    """The on-site record (现场检查笔录): signed by the party's representative, or the refusal noted."""

    party_signature_photo_id = fields.UUID(load_default=None, allow_none=True,
                                           metadata={"description": "the photo of the signature on the screen"})
    party_refused = fields.Boolean(load_default=False)

    @validates_schema
    def _signed_or_refused(self, data, **_kw):
        if data.get("party_signature_photo_id") and data.get("party_refused"):
            raise ValidationError("the party either signed or refused, not both", "party_refused")


class VisitRecordSchema(StrictSchema):
    """One visit with its results and findings: accepted whole or rejected whole."""

    id = fields.UUID(required=True, metadata={"description": "made on the phone; the record's identity for ever"})
    site_id = fields.Integer(required=True, validate=ID_RANGE)
    kind = fields.String(required=True, validate=_one_of(VISIT_KINDS))
    plan_stop_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                                  metadata={"description": "the stop of today's plan this visit fulfils"})
    officer_ids = fields.List(
        fields.Integer(validate=ID_RANGE), required=True,
        validate=[validate.Length(min=1, max=10, error="a visit names 1 to 10 officers"),
                  _unique_list("officer")],
        metadata={"description": "every officer on the team, auxiliary staff included (recorded, never counted)"})
    certificates_shown = fields.Boolean(load_default=False,
                                        metadata={"description": "the officers showed their certificates (art. 55)"})
    started_at = Time(required=True)
    finished_at = Time(required=True, metadata={
        "description": "compared with the server's receive time: a device clock off by more than the policy's "
                       "device_clock_tolerance_h is flagged and not trusted"})
    location = fields.Nested(GpsFixSchema, load_default=None, allow_none=True,
                             metadata={"description": "the GPS fix, or null when there was none"})
    checklist_id = fields.Integer(validate=ID_RANGE, metadata={
        "description": "the checklist version used (GET /api/me/today's checklists[].id): the visit keeps it and its "
                       "results must be its items; left out, the newest version published before the visit began "
                       "that holds every result is recorded"})
    results = fields.List(fields.Nested(CheckResultRecordSchema), load_default=list)
    findings = fields.List(fields.Nested(FindingRecordSchema), load_default=list)
    record = fields.Nested(OnSiteRecordSchema, load_default=lambda: {"party_signature_photo_id": None,
                                                                     "party_refused": False})
    order_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                              metadata={"description": "kind reinspection only: the order re-inspected"})
    outcome = fields.String(load_default=None, allow_none=True, validate=_one_of(REINSPECTION_OUTCOMES),
                            metadata={"description": "kind reinspection only: passed, failed or partly"})
    photo_ids = fields.List(fields.UUID(), load_default=list, validate=_unique_list("photo"), metadata={
        "description": "photos of the visit itself (a re-inspection's proof of correction)"})
    note = Text(load_default="", validate=validate.Length(max=MAX_TEXT))
    corrects_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "an acknowledged visit this record corrects (a correction is a new record, never an edit)"})

    @validates_schema
    def _consistent(self, data, **_kw):
        errors: dict[str, list[str]] = {}
        start, end = data.get("started_at"), data.get("finished_at")
        if start and end and end < start:
            errors["finished_at"] = ["the visit finished before it started"]
        items = [r["item"] for r in data.get("results") or []]
        if len(items) != len(set(items)):
            errors["results"] = ["each checklist item has one result in a visit"]
        ids = [f["id"] for f in data.get("findings") or []]
        if len(ids) != len(set(ids)):
            errors["findings"] = ["each finding has its own id"]
        if data.get("kind") == "reinspection":
            for field in ("order_id", "outcome"):
                if data.get(field) is None:
                    errors[field] = ["a re-inspection names its order and gives its outcome (passed, failed, partly)"]
        else:
            for field in ("order_id", "outcome"):
                if data.get(field) is not None:
                    errors[field] = ["only a visit of kind reinspection names an order and an outcome"]
        if data.get("corrects_id") is not None and data.get("corrects_id") == data.get("id"):
            errors["corrects_id"] = ["a record cannot correct itself"]
        if errors:
            raise ValidationError(errors)


class VisitRecordField(fields.Nested):
    """A visit record in the batch: documented as VisitRecordSchema, loaded as the raw object,
    so that each record is validated on its own (a bad one is rejected, not the batch)."""

    def __init__(self, **kw):
        super().__init__(VisitRecordSchema, **kw)

    def _deserialize(self, value, attr, data, partial=None, **kw):
        if not isinstance(value, dict):
            raise ValidationError("a visit record is a JSON object")
        return value


class SyncBatchSchema(StrictSchema):
    device_id = Text(required=True, validate=validate.Length(min=1, max=64),
                     metadata={"description": "the phone's installation id (kept with each record)"})
    visits = fields.List(VisitRecordField(), required=True, metadata={
        "description": "the records; at most limits.max_visits_per_batch of GET /api/me/today (413 beyond)"})

    def _refuse_nul(self, data, **_kw):  # overrides the hook: each record checks its own text
        return data

    @ma.pre_load
    def _refuse_nul_in_device_id(self, data, **_kw):
        if isinstance(data, dict) and isinstance(data.get("device_id"), str) and "\x00" in data["device_id"]:
            raise ValidationError({"device_id": ["must not contain the NUL character (\\u0000)"]})
        return data


# --- the answer --------------------------------------------------------------------------


class OnSiteProofSchema(QuickDumpSchema):
    verdict = fields.String(metadata={"description": "on_site, near, off_site, poor_fix or no_fix"})
    distance_m = fields.Float(allow_none=True, metadata={"description": "from the fix to the site's point, metres"})
    accuracy_m = fields.Float(allow_none=True)
    radius_m = fields.Float()
    accuracy_threshold_m = fields.Float()


class DeviceClockSchema(QuickDumpSchema):
    skew_s = fields.Float(metadata={"description": "receive time minus finished_at, seconds"})
    flagged = fields.Boolean(metadata={"description": "the device clock was off by more than the tolerance: "
                                                      "the server dated the visit by its receive time"})
    tolerance_h = fields.Float()


class FindingReceiptSchema(QuickDumpSchema):
    id = fields.String()
    domain = fields.String()
    violation_code = fields.String(allow_none=True)
    suggested_tier = fields.String()
    final_tier = fields.String()
    rule_id = fields.String()
    flags = fields.List(fields.String())
    tolerance_path = fields.String()
    explanation_zh = fields.String()
    explanation_en = fields.String()
    correction_deadline = fields.String(allow_none=True)
    policy_version = fields.Integer()
    photos_waiting = fields.Integer(metadata={"description": "named photos not yet uploaded when the record arrived"})


class ReinspectionReceiptSchema(QuickDumpSchema):
    id = fields.Integer()
    order_id = fields.Integer()
    outcome = fields.String()
    finding_id = fields.String()
    finding_status = fields.String(metadata={"description": "the order's finding after the re-inspection"})
    final_tier = fields.String(metadata={"description": "enforcement when it failed or passed only partly (E4)"})


class VisitReceiptSchema(QuickDumpSchema):
    id = fields.String()
    received_at = fields.String()
    site_id = fields.Integer()
    plan_stop_id = fields.Integer(allow_none=True)
    on_site = fields.Nested(OnSiteProofSchema)
    clock = fields.Nested(DeviceClockSchema)
    findings = fields.List(fields.Nested(FindingReceiptSchema))
    reinspection = fields.Nested(ReinspectionReceiptSchema, allow_none=True)
    photos_waiting = fields.List(fields.String(), metadata={"description": "every named photo not yet uploaded"})


class SyncRecordResultSchema(QuickDumpSchema):
    index = fields.Integer(metadata={"description": "the record's position in the batch"})
    id = fields.String(allow_none=True, metadata={"description": "the record's id as sent"})
    status = fields.String(metadata={"description": ", ".join(SYNC_STATUSES)})
    message = fields.String(metadata={"description": "why, for conflict and rejected"})
    errors = fields.Dict(metadata={"description": "rejected: field messages, e.g. {\"findings\": {\"0\": "
                                                  "{\"violation_code\": [\"...\"]}}}"})
    stored_id = fields.String(metadata={"description": "conflict: the stored record that holds the id"})
    visit = fields.Nested(VisitReceiptSchema, metadata={
        "description": "created and duplicate: what the server assigned (the same both times)"})


class SyncAnswerSchema(QuickDumpSchema):
    received_at = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    results = fields.List(fields.Nested(SyncRecordResultSchema))

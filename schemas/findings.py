"""Findings as supervisors and legal reviewers read them: the queue and one finding's detail."""
from __future__ import annotations

from marshmallow import fields, validate

from server.models.vocab import (
    COMMITMENT, DOMAINS, FINDING_STATUSES, GEOFENCE_VERDICTS, ORDER_STATUSES, SEVERITIES, TIERS,
)

from .common import ID_RANGE, CursorPageSchema, StrictSchema
from .sites import ParkBriefSchema


MAX_DUE_WITHIN_DAYS = 366


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


class QueueFilterSchema(StrictSchema):
    tier = fields.String(validate=_one_of(TIERS), metadata={"description": "the final tier"})
    status = fields.String(validate=_one_of(FINDING_STATUSES))
    park = fields.Integer(validate=ID_RANGE, metadata={"description": "a park id (one of yours)"})
    domain = fields.String(validate=_one_of(DOMAINS))
    enterprise = fields.Integer(validate=ID_RANGE, metadata={"description": "a site id"})
    overdue = fields.Boolean(metadata={
        "description": "true: the next deadline has passed (before today in the bureau's time zone); "
                       "false: it has not, or there is none"})
    due_within = fields.Integer(
        validate=validate.Range(min=0, max=MAX_DUE_WITHIN_DAYS,
                                error=f"due_within is a number of days from 0 to {MAX_DUE_WITHIN_DAYS}"),
        metadata={"description": "the next deadline is today or within this many calendar days "
                                 "(clocks already expired are overdue, not due)"})
    flagged = fields.Boolean(metadata={
        "description": "true: flagged for statutory minor review (法制审核) and not yet reviewed; false: the others"})
    off_site = fields.Boolean(metadata={
        "description": "true: found on a visit whose fix the geofence judged off site; false: the others"})


class QueueQuerySchema(QueueFilterSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200,
                                                                    error="limit must be between 1 and 200"))
    cursor = fields.String(validate=validate.Length(min=1, max=300),
                           metadata={"description": "next_cursor from the previous page, with the same filters"})


class EnterpriseBriefSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()


class ViolationBriefSchema(StrictSchema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()


class PhotoThumbSchema(StrictSchema):
    id = fields.UUID()
    thumb = fields.String(metadata={"description": "/api/photos/<id>/thumb: a small upright JPEG"})


class FindingRowSchema(StrictSchema):
    id = fields.UUID()
    enterprise = fields.Nested(EnterpriseBriefSchema)
    park = fields.Nested(ParkBriefSchema)
    domain = fields.String(metadata={"description": ", ".join(DOMAINS)})
    violation = fields.Nested(ViolationBriefSchema, allow_none=True,
                              metadata={"description": "the catalogue row; null for an advisory finding"})
    severity = fields.String(metadata={"description": ", ".join(SEVERITIES)})
    suggested_tier = fields.String(metadata={"description": "the classifier's tier, never recomputed"})
    final_tier = fields.String(metadata={"description": "after escalation or a supervisor's decision"})
    rule_id = fields.String(metadata={"description": "the rule that decided (docs/rules.md)"})
    flags = fields.List(fields.String())
    legal_review_pending = fields.Boolean(metadata={
        "description": "flagged for statutory minor review and not yet reviewed: no penalty before it"})
    status = fields.String(metadata={"description": ", ".join(FINDING_STATUSES)})
    discovered_at = fields.AwareDateTime()
    next_deadline = fields.Date(allow_none=True, metadata={"description": "null when no clock runs (or closed)"})
    days_left = fields.Integer(allow_none=True, metadata={
        "description": "calendar days from today (bureau's time zone) to next_deadline; negative once expired"})
    geofence = fields.String(metadata={"description": "the visit's verdict: " + ", ".join(GEOFENCE_VERDICTS)})
    photos = fields.List(fields.Nested(PhotoThumbSchema), metadata={"description": "stored photos only"})


class FindingPageSchema(CursorPageSchema):
    items = fields.List(fields.Nested(FindingRowSchema))


# --- the detail ---------------------------------------------------------------------------


class PersonBriefSchema(StrictSchema):
    id = fields.Integer()
    name = fields.String()


class FindingPhotoSchema(StrictSchema):
    id = fields.UUID()
    status = fields.String(metadata={"description": "waiting (bytes not yet received) or stored"})
    purpose = fields.String(metadata={"description": "what it is meant to prove"})
    captured_at = fields.AwareDateTime(allow_none=True, metadata={"description": "the device's clock"})
    received_at = fields.AwareDateTime(allow_none=True, metadata={"description": "the server's clock"})
    sha256 = fields.String(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    url = fields.String(allow_none=True, metadata={"description": "the original; null until stored"})
    thumb = fields.String(allow_none=True)


class FindingFactsSchema(StrictSchema):
    severity = fields.String()
    harm = fields.String()
    intentional = fields.Boolean()
    obstruction = fields.Boolean()
    suspected_crime = fields.Boolean()
    no_fault_proven = fields.Boolean()
    corrected_on_spot = fields.Boolean()


class FindingLookupSchema(StrictSchema):
    repeats = fields.Integer(metadata={"description": "earlier findings of the type at the enterprise in the window"})
    earlier_tolerance_closed = fields.Boolean()
    earlier_order_failed = fields.Boolean()
    window_days = fields.Integer(metadata={"description": "the look-back window of the policy version the look-up used"})


class FindingExplanationSchema(StrictSchema):
    zh = fields.String()
    en = fields.String()


class FindingClassificationSchema(StrictSchema):
    suggested_tier = fields.String()
    final_tier = fields.String()
    rule_id = fields.String()
    flags = fields.List(fields.String())
    tolerance_path = fields.String()
    explanation = fields.Nested(FindingExplanationSchema)
    policy_version = fields.Integer()
    tier_reason = fields.String(metadata={"description": "the supervisor's written reason for a changed tier"})
    correction_deadline = fields.Date(allow_none=True)


class FindingViolationTypeSchema(StrictSchema):
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
    effective_from = fields.Date()
    effective_to = fields.Date(allow_none=True)


class FindingVisitSchema(StrictSchema):
    id = fields.UUID()
    kind = fields.String()
    started_at = fields.AwareDateTime()
    finished_at = fields.AwareDateTime(allow_none=True)
    recorded_by = fields.Nested(PersonBriefSchema)
    geofence = fields.String()
    distance_m = fields.Float(allow_none=True, metadata={"description": "metres from the site"})
    fix_accuracy_m = fields.Float(allow_none=True)
    certificates_shown = fields.Boolean()
    party_refused = fields.Boolean()


class MapPointSchema(StrictSchema):
    lon = fields.Float()
    lat = fields.Float()


class FindingMapSchema(StrictSchema):
    visit_fix = fields.Nested(MapPointSchema, allow_none=True, metadata={"description": "where the phone was"})
    fix_accuracy_m = fields.Float(allow_none=True)
    site = fields.Nested(MapPointSchema, metadata={"description": "where the enterprise is"})


class ToleranceItemSchema(StrictSchema):
    key = fields.String(metadata={"description": "row_in_force, conditions_confirmed, first_offence_lookup, "
                                                 "commitment_letter, order_deadline, reinspection_passed, "
                                                 "education_record"})
    status = fields.String(metadata={"description": "met, missing or not_applicable"})
    detail = fields.String()


class ToleranceChecklistSchema(StrictSchema):
    applies = fields.Boolean(metadata={"description": "the finding is on the tolerance path"})
    why = fields.String()
    complete = fields.Boolean(metadata={"description": "every item met: it may close without penalty"})
    items = fields.List(fields.Nested(ToleranceItemSchema))
    missing = fields.List(fields.String(), metadata={"description": "the keys of the items still missing"})


class FindingReinspectionSchema(StrictSchema):
    id = fields.Integer()
    outcome = fields.String()
    at = fields.AwareDateTime()
    visit_id = fields.UUID(allow_none=True)
    note = fields.String()
    recorded_by = fields.Nested(PersonBriefSchema)
    photos = fields.List(fields.Nested(FindingPhotoSchema))


class FindingOrderSchema(StrictSchema):
    id = fields.Integer()
    number = fields.String()
    issued_at = fields.AwareDateTime()
    issued_by = fields.Nested(PersonBriefSchema)
    deadline = fields.Date()
    reinspection_due = fields.Date()
    commitment = fields.String(metadata={"description": ", ".join(COMMITMENT)})
    status = fields.String(metadata={"description": ", ".join(ORDER_STATUSES)})
    closed_at = fields.AwareDateTime(allow_none=True)
    reinspections = fields.List(fields.Nested(FindingReinspectionSchema))


class FindingCaseSchema(StrictSchema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    filed_at = fields.AwareDateTime()
    filed_by = fields.Nested(PersonBriefSchema)
    investigators = fields.List(fields.Nested(PersonBriefSchema))
    decision_due = fields.Date()
    notified_at = fields.AwareDateTime(allow_none=True)
    party_statement = fields.String()
    hearing_requested_at = fields.AwareDateTime(allow_none=True)
    hearing_held_at = fields.AwareDateTime(allow_none=True)
    legal_review_required = fields.Boolean()
    decision = fields.String(allow_none=True)
    decision_note = fields.String()
    fine_yuan = fields.Integer(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    served_at = fields.AwareDateTime(allow_none=True)
    paid_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    transferred_at = fields.AwareDateTime(allow_none=True)


class FindingLegalReviewSchema(StrictSchema):
    id = fields.Integer()
    case_id = fields.Integer(allow_none=True, metadata={"description": "null: the review of a flagged finding"})
    reviewer = fields.Nested(PersonBriefSchema)
    outcome = fields.String()
    reason = fields.String()
    at = fields.AwareDateTime()


class FindingEducationSchema(StrictSchema):
    id = fields.Integer()
    by = fields.Nested(PersonBriefSchema)
    at = fields.AwareDateTime()
    text = fields.String()


class FindingToleranceRecordSchema(StrictSchema):
    id = fields.Integer()
    closed_at = fields.AwareDateTime()
    conditions_confirmed_by = fields.Nested(PersonBriefSchema, allow_none=True)
    first_offence_lookup = fields.Dict()


class FindingHistoryEntrySchema(StrictSchema):
    id = fields.Integer(metadata={"description": "the audit entry's position in the chain"})
    at = fields.AwareDateTime()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    actor = fields.Nested(PersonBriefSchema, allow_none=True)
    summary = fields.Dict()


class FindingDetailSchema(FindingRowSchema):
    photos = fields.List(fields.Nested(FindingPhotoSchema), metadata={"description": "the finding's photos, stored or waiting"})
    item_code = fields.String(allow_none=True)
    note = fields.String()
    facts = fields.Nested(FindingFactsSchema, metadata={"description": "the classifier's inputs as observed"})
    lookup = fields.Nested(FindingLookupSchema, metadata={"description": "the history looked up when the finding arrived"})
    classification = fields.Nested(FindingClassificationSchema)
    violation_type = fields.Nested(FindingViolationTypeSchema, allow_none=True)
    visit = fields.Nested(FindingVisitSchema)
    map = fields.Nested(FindingMapSchema, metadata={"description": "WGS 84 lon/lat"})
    tolerance_checklist = fields.Nested(ToleranceChecklistSchema, metadata={"description": "DOMAIN.md section 4"})
    orders = fields.List(fields.Nested(FindingOrderSchema))
    case = fields.Nested(FindingCaseSchema, allow_none=True)
    legal_reviews = fields.List(fields.Nested(FindingLegalReviewSchema))
    education_records = fields.List(fields.Nested(FindingEducationSchema))
    tolerance_record = fields.Nested(FindingToleranceRecordSchema, allow_none=True)
    history = fields.List(fields.Nested(FindingHistoryEntrySchema), metadata={
        "description": "audit entries of the finding, its orders, re-inspections, case, legal reviews, "
                       "education records, ledger entry and photos, oldest first"})

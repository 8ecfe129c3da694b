"""Today's work: what GET /api/me/today answers (everything the phone needs offline)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class TodayLastVisitSchema(ma.Schema):
    id = fields.String()
    started_at = fields.String()
    kind = fields.String()
    geofence = fields.String(metadata={"description": "the on-site verdict of that visit"})


class TodayOrderFindingSchema(ma.Schema):
    id = fields.String()
    domain = fields.String()
    severity = fields.String()
    violation_code = fields.String(allow_none=True)
    name_zh = fields.String()
    name_en = fields.String()
    final_tier = fields.String()
    note = fields.String()


class TodayOrderSchema(ma.Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    commitment = fields.String()
    deadline = fields.String()
    reinspection_due = fields.String()
    reinspection_open = fields.Boolean(metadata={"description": "the correction period is over: re-inspect now"})
    finding = fields.Nested(TodayOrderFindingSchema)


class SiteHistorySchema(ma.Schema):
    violation_code = fields.String()
    repeats = fields.Integer(metadata={"description": "earlier findings of the code here inside the policy's window"})
    earlier_tolerance_closed = fields.Boolean()
    earlier_order_failed = fields.Boolean()


class TodayStopSiteSchema(ma.Schema):
    id = fields.Integer()
    park_id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    credit_code = fields.String(allow_none=True)
    address = fields.String()
    industry = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    grades = fields.Dict(metadata={"description": "risk, credit_class, safety_std"})
    flags = fields.Dict(metadata={"description": "hazchem, major_hazard, key_polluter, key_object"})
    contact_name = fields.String()
    contact_phone = fields.String()
    last_visit = fields.Nested(TodayLastVisitSchema, allow_none=True)
    open_orders = fields.List(fields.Nested(TodayOrderSchema))
    history = fields.List(fields.Nested(SiteHistorySchema), metadata={
        "description": "the classifier's history for a finding of each listed code made here today (the phone's "
                       "preliminary tier reads it; a code not listed has none)"})


class TodayStopSchema(ma.Schema):
    seq = fields.Integer(metadata={"description": "the stop's place in the day, from 1"})
    plan_stop_id = fields.Integer(allow_none=True, metadata={
        "description": "send it back as the visit's plan_stop_id; null in a fallback list"})
    site_id = fields.Integer()
    kind = fields.String(metadata={"description": "the visit kind to record"})
    reasons = fields.List(fields.String())
    order_id = fields.Integer(allow_none=True, metadata={"description": "a re-inspection's order"})
    status = fields.String()
    visit_id = fields.String(allow_none=True)
    eta_min = fields.Float(allow_none=True)
    site = fields.Nested(TodayStopSiteSchema)


class TodayPlanSchema(ma.Schema):
    id = fields.Integer()
    route_id = fields.Integer()
    team_lead_id = fields.Integer()
    officer_ids = fields.List(fields.Integer())
    distance_km = fields.Float()
    duration_min = fields.Float()


class TodayChecklistItemSchema(ma.Schema):
    code = fields.String()
    position = fields.Integer()
    domain = fields.String()
    text_zh = fields.String()
    text_en = fields.String()
    legal_basis = fields.String()
    violation_codes = fields.List(fields.String(), metadata={"description": "catalogue codes a failed item usually leads to"})


class TodayChecklistSchema(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    version = fields.Integer()
    domain = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    items = fields.List(fields.Nested(TodayChecklistItemSchema))


class TodayCatalogueRowSchema(ma.Schema):
    code = fields.String()
    domain = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    violated_provision = fields.String()
    penalty_provision = fields.String()
    penalty_trigger = fields.String()
    tolerance_type = fields.String()
    correction_days = fields.Integer()
    correction_unit = fields.String()
    penalty_range_zh = fields.String()
    effective_from = fields.String()
    effective_to = fields.String(allow_none=True)


class TodayPolicySchema(ma.Schema):
    version = fields.Integer(allow_none=True, metadata={"description": "null until a version is stored"})
    values = fields.Dict(metadata={"description": "the classifier's knobs, the time zone, the clock tolerance "
                                                  "and the geofence"})


class GeofencePolicySchema(ma.Schema):
    radius_m = fields.Float(metadata={"description": "on_site within this distance of the site's point"})
    accuracy_threshold_m = fields.Float(metadata={"description": "a fix less accurate than this is poor_fix"})
    near_factor = fields.Float(metadata={"description": "near within near_factor times the radius; off_site beyond"})


class UploadLimitsSchema(ma.Schema):
    max_visits_per_batch = fields.Integer(metadata={"description": "POST /api/sync answers 413 beyond it"})
    max_findings_per_visit = fields.Integer(metadata={"description": "a visit with more is rejected"})
    max_results_per_visit = fields.Integer()
    max_photos_per_visit = fields.Integer()
    max_body_bytes = fields.Integer(metadata={"description": "any request body beyond it is answered 413"})
    photo_max_bytes = fields.Integer()
    photo_long_edge_px = fields.Integer(metadata={"description": "shrink photos to this long edge before upload"})
    photo_jpeg_quality = fields.Float(metadata={"description": "JPEG quality for the shrunk photo, 0 to 1"})


class TodayTeamMateSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    auxiliary = fields.Boolean(metadata={"description": "auxiliary staff: recorded on a visit, never counted"})
    certificate_no = fields.String(allow_none=True)
    certificate_expires = fields.String(allow_none=True)
    certificate_valid = fields.Boolean(metadata={"description": "counts as a certified officer today"})
    certified_domains = fields.List(fields.String())
    park_ids = fields.List(fields.Integer())
    me = fields.Boolean()


class TodaySchema(ma.Schema):
    day = fields.String(metadata={"description": "today in the bureau's time zone"})
    timezone = fields.String()
    source = fields.String(metadata={"description": "plan: the published plan's route; fallback: due "
                                                    "re-inspections, then the longest unvisited sites (at most 30)"})
    plan = fields.Nested(TodayPlanSchema, allow_none=True)
    stops = fields.List(fields.Nested(TodayStopSchema))
    checklists = fields.List(fields.Nested(TodayChecklistSchema))
    catalogue = fields.List(fields.Nested(TodayCatalogueRowSchema))
    rules = fields.Dict(metadata={"description": "server/domain/rules.json: the table the phone evaluates for "
                                                 "its preliminary tier (预判)"})
    policy = fields.Nested(TodayPolicySchema)
    geofence = fields.Nested(GeofencePolicySchema)
    limits = fields.Nested(UploadLimitsSchema)
    team = fields.List(fields.Nested(TodayTeamMateSchema))

"""The closed vocabularies of DOMAIN.md, named once and used by models, schemas and rules."""

ROLES = ("inspector", "supervisor", "legal_reviewer", "scheduler", "admin")
DOMAINS = ("safety", "environment", "fire", "city_appearance", "illegal_construction", "market", "other")
RISK_GRADES = ("low", "medium", "high", "very_high")
CREDIT_CLASSES = ("A", "B", "C", "D")
SAFETY_STD_GRADES = ("1", "2", "3", "ungraded")
SITE_KINDS = ("enterprise", "project_site")
VISIT_KINDS = ("routine", "key", "random", "reinspection", "case")
OUTCOMES = ("pass", "fail", "na")
SEVERITIES = ("advisory", "minor", "general", "serious", "major_hazard")
HARMS = ("none", "minor", "significant")
TIERS = ("service", "management", "enforcement")
PENALTY_TRIGGERS = ("immediate", "on_overdue", "none")
TOLERANCE_TYPES = ("minor_no_harm", "first_offense", "none")
CORRECTION_UNITS = ("working_days", "calendar_days")
TOLERANCE_PATHS = ("none", "service_on_spot", "no_penalty_if_corrected")
GEOFENCE_VERDICTS = ("on_site", "near", "off_site", "poor_fix", "no_fix")
FINDING_STATUSES = (
    "open", "awaiting_review", "legal_review", "order_issued", "reinspection_due",
    "escalated", "case_open", "closed", "closed_no_penalty",
)
ORDER_STATUSES = ("open", "passed", "failed", "overdue", "closed")
COMMITMENT = ("pending", "signed", "refused")
REINSPECTION_OUTCOMES = ("passed", "failed", "partly")
CASE_STATUSES = (
    "filed", "notified", "hearing_requested", "hearing_held", "legal_review",
    "decided", "served", "paid", "enforced", "closed", "transferred",
)
CASE_DECISIONS = ("penalty", "no_penalty", "not_established")
LEGAL_REVIEW_OUTCOMES = ("confirm_enforcement", "no_penalty")
CALENDAR_KINDS = ("holiday", "workday")
PLAN_STATUSES = ("draft", "published")
STOP_STATUSES = ("planned", "not_scheduled", "visited", "cancelled")
DRAW_SUBJECTS = ("sites", "inspectors")
CASE_REQUEST_SOURCES = ("complaint", "alert", "referral")
CHECKLIST_STATUSES = ("draft", "published", "retired")
PHOTO_STATUSES = ("waiting", "stored")
WEBHOOK_EVENTS = ("finding.created", "finding.tier_changed", "order.overdue", "case.opened", "plan.published")
DELIVERY_STATUSES = ("pending", "delivered", "failed")
# Numbered documents: rectification notices (the orders), cases, inspection records.
DOCUMENT_KINDS = ("order", "case", "record")
IMPORT_KINDS = ("enterprises", "parks", "people", "catalogue", "checklists")
IMPORT_STATUSES = ("checking", "checked", "applying", "applied", "failed")
IMPORT_ACTIONS = ("create", "update", "unchanged", "refused")

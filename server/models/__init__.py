"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .audit import AuditEntry
from .calendar import CalendarDay, PolicyVersion
from .catalogue import ChecklistItem, ChecklistTemplate, ViolationType
from .documents import DocumentCounter, InspectionRecordNumber
from .findings import Finding, Photo
from .imports import ImportJob, ImportKey, ImportRow
from .integrations import Device, WebhookDelivery, WebhookSubscription
from .orders import Case, EducationRecord, LegalReview, Order, Reinspection, ToleranceRecord
from .parks import Office, Park, Site
from .people import AuthToken, ConflictDeclaration, Leave, LoginFailure, User, user_parks
from .plans import CaseRequest, Draw, Plan, PlanStop, Route, route_officers
from .visits import CheckResult, SyncConflict, Visit, visit_officers

__all__ = [
    "AuditEntry", "AuthToken", "CalendarDay", "Case", "CaseRequest", "CheckResult", "ChecklistItem",
    "ChecklistTemplate", "ConflictDeclaration", "Device", "DocumentCounter", "Draw", "EducationRecord", "Finding",
    "ImportJob", "ImportKey", "ImportRow", "InspectionRecordNumber", "LegalReview", "Leave",
    "LoginFailure", "Office", "Order", "Park", "Photo", "Plan", "PlanStop", "PolicyVersion", "Reinspection",
    "Route", "Site", "SyncConflict", "ToleranceRecord", "User", "ViolationType", "Visit", "WebhookDelivery", "WebhookSubscription", "route_officers",
    "user_parks", "visit_officers",
]

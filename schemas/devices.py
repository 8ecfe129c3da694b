"""Sync health: the phone's report of itself, and the supervisor's view of every phone."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from .common import StrictSchema, Text

_COUNT = validate.Range(min=0, max=1_000_000, error="a count from 0 to 1000000")
_BYTES = validate.Range(min=0, max=2**62, error="a number of bytes, 0 or more")


class DeviceReportSchema(StrictSchema):
    device_id = Text(required=True, validate=validate.Length(min=1, max=64, error="a device id of 1 to 64 characters"),
                     metadata={"description": "the id the PWA keeps in IndexedDB and sends with POST /api/sync"})
    outbox_records = fields.Integer(load_default=0, strict=True, validate=_COUNT)
    outbox_photos = fields.Integer(load_default=0, strict=True, validate=_COUNT)
    held = fields.Integer(load_default=0, strict=True, validate=_COUNT, metadata={
        "description": "records and photos the server rejected or answered as a conflict, held on the phone for a person"})
    oldest_item_at = fields.AwareDateTime(load_default=None, allow_none=True)
    quota_bytes = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_BYTES)
    usage_bytes = fields.Integer(load_default=None, allow_none=True, strict=True, validate=_BYTES)
    persisted = fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "navigator.storage.persisted(); null when the browser cannot say"})
    app_version = Text(load_default="", validate=validate.Length(max=40, error="at most 40 characters"))
    last_sync_at = fields.AwareDateTime(load_default=None, allow_none=True)
    last_sync_error = Text(load_default="", allow_none=True, validate=validate.Length(max=300, error="at most 300 characters"))


class DeviceReportAnswerSchema(ma.Schema):
    device_id = fields.String()
    received_at = fields.DateTime()


class DeviceHealthSchema(ma.Schema):
    device_id = fields.String()
    first_seen_at = fields.DateTime(allow_none=True)
    reported_at = fields.DateTime(allow_none=True, metadata={"description": "the last report (null: never reported)"})
    last_visit_received_at = fields.DateTime(allow_none=True)
    last_contact_at = fields.DateTime(allow_none=True)
    outbox_records = fields.Integer()
    outbox_photos = fields.Integer()
    held = fields.Integer()
    oldest_item_at = fields.DateTime(allow_none=True)
    quota_bytes = fields.Integer(allow_none=True)
    usage_bytes = fields.Integer(allow_none=True)
    persisted = fields.Boolean(allow_none=True)
    app_version = fields.String()
    last_sync_at = fields.DateTime(allow_none=True)
    last_sync_error = fields.String(allow_none=True)
    conflicts = fields.Integer(metadata={"description": "unresolved sync conflicts the server keeps from this device"})
    needs_attention = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={
        "description": "silent, old_outbox, not_persistent, near_quota, held, conflicts"})


class InspectorHealthSchema(ma.Schema):
    user_id = fields.Integer()
    username = fields.String()
    name = fields.String()
    parks = fields.List(fields.String())
    last_contact_at = fields.DateTime(allow_none=True)
    needs_attention = fields.Boolean()
    devices = fields.List(fields.Nested(DeviceHealthSchema))


class ThresholdsSchema(ma.Schema):
    silent_hours = fields.Float()
    oldest_hours = fields.Float()
    near_quota = fields.Float()


class SyncHealthSchema(ma.Schema):
    now = fields.DateTime()
    thresholds = fields.Nested(ThresholdsSchema)
    needing_attention = fields.Integer()
    items = fields.List(fields.Nested(InspectorHealthSchema))


class SyncHealthQuerySchema(StrictSchema):
    attention = fields.Boolean(load_default=False, metadata={"description": "true: only inspectors needing attention"})

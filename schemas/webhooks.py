"""Webhooks: subscriptions (admin) and their deliveries."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.models.vocab import DELIVERY_STATUSES, WEBHOOK_EVENTS

from .common import StrictSchema, Text

_EVENT_WORDS = "must be one of: " + ", ".join(WEBHOOK_EVENTS)


def _events(**kw):
    return fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS, error=_EVENT_WORDS)),
                       validate=validate.Length(min=1, max=len(WEBHOOK_EVENTS), error="name 1 to 5 events"),
                       metadata={"description": "any of: " + ", ".join(WEBHOOK_EVENTS)}, **kw)


def _url(**kw):
    return Text(validate=validate.Length(min=1, max=2000, error="a URL of at most 2000 characters"), metadata={
        "description": "http:// or https:// only; redirects are not followed",
        "example": "https://receiver.example/fieldcheck"}, **kw)


def _secret():
    return fields.String(validate=validate.Length(min=16, max=200, error="a secret of 16 to 200 characters"),
                         metadata={"description": "signs each delivery (HMAC-SHA256); omit it and one is generated"})


def _description(**kw):
    return Text(validate=validate.Length(max=200, error="at most 200 characters"), **kw)


class WebhookCreateSchema(StrictSchema):
    url = _url(required=True)
    events = _events(required=True)
    secret = _secret()
    description = _description(load_default="")
    active = fields.Boolean(load_default=True)


class WebhookUpdateSchema(StrictSchema):
    url = _url()
    events = _events()
    secret = _secret()
    rotate_secret = fields.Boolean(metadata={"description": "true: generate a new secret and show it once"})
    description = _description()
    active = fields.Boolean(metadata={"description": "false: nothing new is queued and nothing pending is sent"})


class DeliveryCountsSchema(ma.Schema):
    pending = fields.Integer()
    delivered = fields.Integer()
    failed = fields.Integer()


class WebhookSchema(ma.Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    secret = fields.String(allow_none=True, metadata={
        "description": "only in the answer that made or rotated it: keep it, it is never shown again"})
    secret_hint = fields.String(metadata={"description": "the secret's last four characters"})
    deliveries = fields.Nested(DeliveryCountsSchema)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_error = fields.String()


class WebhookListSchema(ma.Schema):
    items = fields.List(fields.Nested(WebhookSchema))
    events = fields.List(fields.String(), metadata={"description": "every event one may subscribe to"})


class AttemptSchema(ma.Schema):
    at = fields.String()
    attempt = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    error = fields.String()
    ms = fields.Integer()


class DeliverySchema(ma.Schema):
    id = fields.UUID(metadata={"description": "sent as X-Fieldcheck-Delivery; the same on every retry and replay"})
    subscription_id = fields.Integer()
    event = fields.String()
    occurred_at = fields.DateTime()
    status = fields.String(metadata={"description": ", ".join(DELIVERY_STATUSES)})
    attempts = fields.Integer(metadata={"description": "attempts in the current round (a replay starts a new one)"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String()
    delivered_at = fields.DateTime(allow_none=True)
    replays = fields.Integer()
    log = fields.List(fields.Nested(AttemptSchema))
    payload = fields.Dict()


class DeliveryListSchema(ma.Schema):
    items = fields.List(fields.Nested(DeliverySchema))


class DeliveryQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES, error="must be one of: " + ", ".join(DELIVERY_STATUSES)))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500, error="limit is 1 to 500"))

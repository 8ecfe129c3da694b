"""Webhooks (admin): URLs told of events, their deliveries, replay. docs/integrations.md."""
from __future__ import annotations

from flask_smorest import Blueprint

from schemas.webhooks import (
    DeliveryListSchema, DeliveryQuerySchema, DeliverySchema, WebhookCreateSchema, WebhookListSchema, WebhookSchema,
    WebhookUpdateSchema,
)

from ..access import current_user, require
from ..models.vocab import WEBHOOK_EVENTS
from ..services import webhooks as service

blp = Blueprint("webhooks", __name__, description="Webhooks: signed POSTs to an admin's URLs when events happen")


@blp.route("/webhooks", methods=["GET"])
@require("admin")
@blp.response(200, WebhookListSchema)
def list_hooks():
    """Every webhook with its delivery counts and its last error (secrets are never shown here)."""
    return {"items": service.list_all(), "events": list(WEBHOOK_EVENTS)}


@blp.route("/webhooks", methods=["POST"])
@require("admin")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookSchema)
def create(body):
    """Register a URL (http or https) for some events. The answer carries the secret, given or
    generated, this once: the receiver needs it to check each delivery's signature."""
    return service.create(current_user(), body["url"], body["events"], body.get("secret"),
                          body.get("description", ""), body.get("active", True))


@blp.route("/webhooks/<int:hook_id>", methods=["PATCH"])
@require("admin")
@blp.arguments(WebhookUpdateSchema)
@blp.response(200, WebhookSchema)
@blp.alt_response(404, response="NOT_FOUND")
def update(body, hook_id):
    """Change the URL, the events, the description; disable or enable it (active); set or
    rotate the secret (the answer shows the new one once)."""
    return service.update(current_user(), hook_id, **body)


@blp.route("/webhooks/<int:hook_id>", methods=["DELETE"])
@require("admin")
@blp.response(204)
@blp.alt_response(404, response="NOT_FOUND")
def delete(hook_id):
    """Remove a webhook and its deliveries (pending ones are never sent). To pause it, PATCH
    active=false instead."""
    service.delete(current_user(), hook_id)


@blp.route("/webhooks/<int:hook_id>/deliveries", methods=["GET"])
@require("admin")
@blp.arguments(DeliveryQuerySchema, location="query")
@blp.response(200, DeliveryListSchema)
@blp.alt_response(404, response="NOT_FOUND")
def deliveries(query, hook_id):
    """The webhook's deliveries, newest first: status, attempts, the next attempt, the last
    status code and error, and each attempt's log."""
    return {"items": service.deliveries(hook_id, query.get("status"), query["limit"])}


@blp.route("/webhooks/<int:hook_id>/deliveries/<uuid:delivery_id>/replay", methods=["POST"])
@require("admin")
@blp.response(200, DeliverySchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="the delivery has not been tried yet")
def replay(hook_id, delivery_id):
    """Send a delivery again with the same id and body (receivers deduplicate on the id): it is
    pending now, with a new round of attempts, and goes with the worker's next run."""
    return service.replay(current_user(), hook_id, delivery_id)

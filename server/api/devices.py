"""Sync health: phones report their outbox and storage; supervisors see who needs attention."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from schemas.devices import DeviceReportAnswerSchema, DeviceReportSchema, SyncHealthQuerySchema, SyncHealthSchema

from ..access import current_user, park_scope, require
from ..services import devices as service

blp = Blueprint("devices", __name__, description="Sync health: each phone's outbox and storage, as it reports them")


@blp.route("/devices/report", methods=["POST"])
@require("inspector")
@blp.arguments(DeviceReportSchema)
@blp.response(200, DeviceReportAnswerSchema)
def report(body):
    """The phone's report after a sync attempt: what waits in its outbox and since when, what it
    holds for a person, its storage quota, usage and persistence, its app version. Overwrites the
    last report of this device and inspector. A phone that cannot send it simply drops it."""
    device_id = body.pop("device_id")
    return service.report(current_user(), device_id, body, request.headers.get("User-Agent", ""))


@blp.route("/sync-health", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(SyncHealthQuerySchema, location="query")
@blp.response(200, SyncHealthSchema)
def sync_health(query):
    """The inspectors of your parks and their phones: last contact, outbox, storage, conflicts,
    and whether (and why) each needs attention."""
    return service.health(park_scope(current_user()), attention_only=query["attention"])

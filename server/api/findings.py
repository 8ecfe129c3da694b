"""Findings for supervisors and legal reviewers: the queue, ordered by urgency, and one
finding with everything behind its tier. The actions on a finding are POSTs under
/api/findings/<id>/ in their own blueprint."""
from __future__ import annotations

import datetime as dt
import json
import uuid

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.findings import FindingDetailSchema, FindingPageSchema, QueueQuerySchema

from ..access import REVIEWERS, current_user, park_scope, require
from ..services import queue as service
from ..services.queue import QueueFilters

blp = Blueprint("findings", __name__, description="The supervisor's queue and a finding's detail")


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def page_json(page: dict) -> Response:
    """The page exactly as FindingPageSchema dumps it (tests/test_queue.py keeps the two equal),
    without marshmallow's work per field: a quarter of the request's CPU for 50 rows."""
    body = json.dumps(page, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return current_app.response_class(body, mimetype="application/json")


@blp.route("/findings")
class Findings(MethodView):
    @require(*REVIEWERS)
    @blp.arguments(QueueQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, FindingPageSchema)
    def get(self, args):
        """Findings in your parks, most urgent first: expired clocks (longest expired first), then the
        nearest deadline, then no clock; inside a day enforcement, management, service, then severity
        from major hazard down; then id.

        Filters combine. Keyset pages: pass next_cursor back as cursor with the same filters.
        """
        filters = QueueFilters(**{k: v for k, v in args.items() if k not in ("limit", "cursor")})
        return page_json(service.list_findings(filters, park_scope(current_user()), args["limit"], args.get("cursor")))


@blp.route("/findings/<uuid:finding_id>")
class FindingItem(MethodView):
    @require(*REVIEWERS)
    @blp.response(200, FindingDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, finding_id):
        """One finding: its facts and look-up, the rule and its explanation, photos, map point, the
        tolerance checklist with what is missing, orders, re-inspections, case, legal reviews, and its
        history from the audit trail. 403 when it is in a park you are not assigned to."""
        return service.finding_detail(finding_id, park_scope(current_user()))

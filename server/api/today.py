"""Today's work for the inspector's phone."""
from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.today import TodaySchema

from ..access import current_user, require
from ..services import today as service

blp = Blueprint("today", __name__, description="Everything the phone needs for the day, offline")


@blp.route("/me/today")
class Today(MethodView):
    @require("inspector")
    @blp.response(200, TodaySchema, headers={
        "ETag": {"description": "the content's hash; send it back as If-None-Match", "schema": {"type": "string"}}})
    @blp.alt_response(304, description="nothing changed since the ETag sent in If-None-Match")
    def get(self):
        """Today's stops, checklists, catalogue, rule table, policy, geofence, upload limits and team.

        The stops come from today's published plan when you are on one of its routes
        (`source: "plan"`, each with its plan_stop_id to send back with the visit); otherwise
        (`source: "fallback"`) the sites of your parks with a re-inspection due, then those
        unvisited for longest, at most 30. Days are the bureau's (its time zone).

        Fetch it once in the morning and keep it: send the ETag back as If-None-Match and a
        re-fetch that changed nothing answers 304 with no body.
        """
        answer = service.today(current_user())
        etag = answer["etag"]
        headers = {"ETag": f'"{etag}"', "Cache-Control": "private, no-cache"}
        if request.if_none_match.contains_weak(etag):
            return Response(status=304, headers=headers)
        return answer["body"], 200, headers

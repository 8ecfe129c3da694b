"""Public results of random inspections (双随机一公开), per park, without logging in: the JSON API
here and the page a citizen opens (server/public_page.py). What is withheld: docs/exports.md."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.exports import PublicResultsQuerySchema, PublicResultsSchema

from ..services import public_results as service

blp = Blueprint("public", __name__, description="Public results of random inspections (no login)")


@blp.route("/public/parks/<park_code>/results")
class PublicResults(MethodView):
    @blp.arguments(PublicResultsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, PublicResultsSchema)
    @blp.alt_response(404, response="NOT_FOUND", description="no park with this code")
    def get(self, args, park_code):
        """The random inspections (双随机抽查) made in a park in a period, newest first: the enterprise,
        the day, the checklist, its items and fields of law, and the result (no_problem, rectified,
        rectifying, order, case). Anyone may read it; no personal data, and the officers' names only
        when the policy's public_results_show_inspectors is true. Default period: the three months up
        to today; at most 366 days."""
        return service.park_results(park_code, args.get("date_from"), args.get("date_to"))

"""The 721 mix for supervisors and admins (DOMAIN.md section 1)."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.stats import TierStatsQuerySchema, TierStatsSchema

from ..access import current_user, park_scope, require
from ..services import stats as service

blp = Blueprint("stats", __name__, description="The 721 mix: findings per final tier against the target")


@blp.route("/stats/tiers")
class TierStats(MethodView):
    @require("supervisor", "admin")
    @blp.arguments(TierStatsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, TierStatsSchema)
    def get(self, args):
        """Counts and shares per final tier in your parks, by discovery date in the bureau's time zone:
        all findings (the excluded domains inside), the mix without the excluded domains, and the
        excluded ones alone; each against the policy's target, with the distance in percentage points.
        group_by=month|park|domain adds one group per month, park or domain (empty ones included)."""
        return service.tier_mix(args.get("date_from"), args.get("date_to"), args.get("park"),
                                args.get("group_by"), park_scope(current_user()))

"""Random draws (双随机): made step by step on the record, read, replayed."""
from __future__ import annotations

from flask_smorest import Blueprint

from schemas.draws import DrawCreateSchema, DrawSchema, ReplaySchema

from ..access import STAFF, current_user, require
from ..services import draws as service
from ..services.planning import PLANNERS

blp = Blueprint("draws", __name__, description="Random draws of sites or inspectors, replayable from the record")


@blp.route("/draws", methods=["POST"])
@require(*PLANNERS)
@blp.arguments(DrawCreateSchema)
@blp.response(201, DrawSchema)
def create(body):
    """Make a draw: the seed's SHA-256 is recorded first, then the pool (frozen, with its SHA-256), then
    the `count` members with the smallest HMAC-SHA256(seed, id). Drawn sites become random
    inspections in the plans from `visible_from` to `visit_by`."""
    row = service.create(current_user(), body["subject"], body["count"], body.get("pool") or {},
                         body["visible_from"], body.get("visit_by"), body.get("note", ""))
    return service.describe(row, current_user())


@blp.route("/draws/<int:draw_id>", methods=["GET"])
@require(*STAFF)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read(draw_id):
    """A draw's record. The seed and the members drawn are shown to schedulers and admins, and to
    everyone from `visible_from`."""
    return service.read(draw_id, current_user())


@blp.route("/draws/<int:draw_id>/replay", methods=["POST"])
@require(*STAFF)
@blp.response(200, ReplaySchema)
@blp.alt_response(404, response="NOT_FOUND")
def replay(draw_id):
    """Recompute the draw from its record and say whether the seed's hash, the pool's hash and the
    members drawn are reproduced (from `visible_from` for staff other than schedulers and admins)."""
    return service.replay(draw_id, current_user())

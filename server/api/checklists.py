"""Checklists (versioned: a visit keeps the version it was made with, so a published version
never changes) and the violation catalogue by the day it is in force."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.checklists import (
    CatalogueQuerySchema, CatalogueSchema, ChecklistDetailSchema, ChecklistEditSchema, ChecklistListSchema,
    ChecklistQuerySchema,
)

from ..access import current_user, require
from ..services import catalogue, checklists as service
from ..services.users import bureau_today

blp = Blueprint("checklists", __name__, description="Checklists and their versions; the violation catalogue")

READERS = ("supervisor", "legal_reviewer", "scheduler", "admin")


@blp.route("/checklists")
class Checklists(MethodView):
    @require(*READERS)
    @blp.arguments(ChecklistQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ChecklistListSchema)
    def get(self, args):
        """Every version of every checklist, newest first per code, with the visits made with each.
        (Inspectors get the versions in force with their day: GET /api/me/today.)"""
        return service.list_checklists(**args)


@blp.route("/checklists/<int:template_id>")
class ChecklistItem(MethodView):
    @require(*READERS)
    @blp.response(200, ChecklistDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, template_id):
        """One version with its items in order."""
        return service.detail(template_id)

    @require("admin")
    @blp.arguments(ChecklistEditSchema)
    @blp.response(200, ChecklistDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="the version is published or retired: make a new one")
    def patch(self, body, template_id):
        """Edit a draft (admin): its names and/or its whole item list (domain, text, legal basis,
        violation codes). A published version is refused: visits were made with it."""
        return service.edit(template_id, body, current_user().id)


@blp.route("/checklists/<int:template_id>/versions", methods=["POST"])
@require("admin")
@blp.response(201, ChecklistDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="the checklist already has a draft")
def new_version(template_id):
    """A new draft version made from this one, its items copied (admin)."""
    return service.new_version(template_id, current_user().id)


@blp.route("/checklists/<int:template_id>/publish", methods=["POST"])
@require("admin")
@blp.response(200, ChecklistDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="only a draft is published")
def publish(template_id):
    """Publish a draft (admin): it is in force from now (phones take it with their next day) and the
    version in force before is retired; visits made with that one keep it."""
    return service.publish(template_id, current_user().id)


@blp.route("/catalogue", methods=["GET"])
@require()
@blp.arguments(CatalogueQuerySchema, location="query", unknown=RAISE)
@blp.response(200, CatalogueSchema)
def catalogue_in_force(args):
    """The violation catalogue's rows in force on a day (default today): a finding uses the row in
    force on its discovery date."""
    return catalogue.rows_in_force(args.get("on") or bureau_today(), args.get("domain"), args.get("q"))

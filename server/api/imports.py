"""Imports (admin): upload a file for a dry run, read its report, apply exactly that file."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from werkzeug.datastructures import CombinedMultiDict

from schemas.imports import ImportListSchema, ImportReadQuerySchema, ImportSchema, ImportUploadSchema

from ..access import current_user, require
from ..extensions import Parser
from ..services import imports as service
from ..services.errors import Conflict

blp = Blueprint("imports", __name__, description="Imports: enterprises, parks, people, the catalogue and checklists "
                                                  "from files; a dry run first, then apply in one transaction")


class _MultipartParser(Parser):
    def load_files(self, req, schema):
        if req.mimetype != "multipart/form-data":
            abort(415, message="send the file as multipart/form-data: a `file` part and the fields kind, crs, ...")
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


blp.ARGUMENTS_PARSER = _MultipartParser()


def _inline(size: int) -> bool:
    return size <= current_app.config.get("IMPORT_INLINE_BYTES", service.INLINE_BYTES)


@blp.route("/imports")
class Imports(MethodView):
    @require("admin")
    @blp.arguments(ImportUploadSchema, location="files", content_type="multipart/form-data", unknown=RAISE)
    @blp.response(201, ImportSchema, description="stored and checked: the dry-run report")
    @blp.alt_response(202, schema=ImportSchema, description="stored; a large file is checked in the background: "
                                                            "follow GET /api/imports/<id>")
    @blp.alt_response(413, response="DEFAULT_ERROR", description="over the size limit")
    @blp.alt_response(415, response="DEFAULT_ERROR", description="not multipart/form-data")
    def post(self, args):
        """Upload a file and dry-run it: nothing is written but the report.

        The report counts what each row would do (create, update, unchanged, refused) and lists
        every refused or changed row with its row number, column and reason in zh-CN and en.
        Declare the file's coordinate system with `crs` (wgs84, gcj02, bd09); give a reference
        point (a known WGS 84 location) to be warned when the file looks like GCJ-02.
        """
        file = args.pop("file")
        kind = args.pop("kind")
        job = service.store_upload(kind, file.filename, file.stream, args, current_user().id)
        if _inline(job.size):
            return service.describe(service.dry_run(job.id)), 201
        service.start_in_background(current_app._get_current_object(), job.id, "check", current_user().id)
        return service.describe(job), 202

    @require("admin")
    @blp.response(200, ImportListSchema)
    def get(self):
        """The 20 most recent imports."""
        return {"items": service.recent()}


@blp.route("/imports/<int:import_id>")
class ImportItem(MethodView):
    @require("admin")
    @blp.arguments(ImportReadQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ImportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, import_id):
        """Status, progress, counts and a page of the report's rows (refused, updated, created)."""
        return service.read(import_id, args.get("action"), args["limit"], args["offset"])


@blp.route("/imports/<int:import_id>/apply")
class ImportApply(MethodView):
    @require("admin")
    @blp.response(200, ImportSchema, description="applied: every accepted row written, one audit entry")
    @blp.alt_response(202, schema=ImportSchema, description="a large file is applied in the background")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="already applied, still checking, or the database "
                                                            "changed since the dry run (nothing was written)")
    def post(self, import_id):
        """Apply exactly the file that was dry-run: the rows it accepted, in one transaction, or nothing.

        Refused rows are skipped (they are in the report). If the database changed since the
        dry run so that any row would end otherwise, nothing is written: 409, dry-run again.
        """
        job = service._job(import_id)
        if _inline(job.size):
            return service.describe(service.apply(import_id, current_user().id)), 200
        if service.is_running(job.id):
            raise Conflict(f"import {job.id} is running; follow GET /api/imports/{job.id}")
        if job.status != "checked":
            service.apply(import_id, current_user().id)  # not checked: raises the reason it cannot start
        service.start_in_background(current_app._get_current_object(), job.id, "apply", current_user().id)
        return service.describe(job), 202

"""Photos: the upload (idempotent by the id made on the phone) and the stored bytes."""
from __future__ import annotations

import functools
import logging

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.wsgi import wrap_file

from schemas.photos import PhotoSchema, PhotoUploadSchema

from ..access import current_user, require
from ..db import write_intent
from ..extensions import Parser
from ..services import photos as service
from ..services.errors import ServiceError
from ..storage import StorageUnavailable, photo_store

log = logging.getLogger("fieldcheck.photos")

blp = Blueprint("photos", __name__, description="Photos: upload from the phone, and the stored bytes")


class _MultipartParser(Parser):
    """The upload is one multipart/form-data body: its text parts and its file part load
    through one schema (a browser's FormData with a Blob, the simplest thing a phone sends)."""

    def load_files(self, req, schema):
        if req.mimetype != "multipart/form-data":
            abort(415, message="send the photo as multipart/form-data: a `file` part with the bytes and one part "
                               "per metadata field (finding_id or visit_id, sha256, captured_at, lon, lat, "
                               "accuracy_m, purpose)")
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


blp.ARGUMENTS_PARSER = _MultipartParser()

# Content-addressed bytes never change: a browser may keep them for a year without asking.
# `private`: they are for staff of one park, never for a shared cache.
CACHE = "private, max-age=31536000, immutable"
_IMAGE_DOC = {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                          for t in ("image/jpeg", "image/png", "image/webp", "image/heic")}}


def _reads_first(fn):
    """Authenticate and read the body without taking SQLite's write lock: the service takes
    it only for its last step, after the photo is decoded and stored."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        token = write_intent.set(False)
        try:
            return fn(*args, **kwargs)
        finally:
            write_intent.reset(token)

    return wrapper


def _serve(photo_id, kind: str) -> Response:
    item = service.servable(photo_id, kind, service.Actor.of(current_user()))
    headers = {
        "ETag": f'"{item.etag}"',
        "Cache-Control": CACHE,
        "Content-Disposition": f'inline; filename="{item.filename}"',
        # Image bytes are never a document: even opened directly nothing in them can run.
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        "X-Content-Type-Options": "nosniff",
    }
    if request.if_none_match.contains(item.etag):
        return Response(status=304, headers=headers)
    try:
        stream, size = photo_store().open(item.key)
    except FileNotFoundError:
        log.error("photo %s: the row names %s but the store has no such file", photo_id, item.key)
        raise ServiceError(f"the file of photo {photo_id} is missing on the server; tell the administrator",
                           status=404) from None
    except (StorageUnavailable, OSError):
        raise ServiceError("the photo store cannot be reached right now; try again later", status=503) from None
    resp = Response(wrap_file(request.environ, stream), mimetype=item.content_type, headers=headers,
                    direct_passthrough=True)
    resp.content_length = size
    return resp


@blp.route("/photos/<uuid:photo_id>")
class PhotoItem(MethodView):
    @_reads_first
    @require("inspector")
    @blp.arguments(PhotoUploadSchema, location="files", content_type="multipart/form-data", unknown=RAISE)
    @blp.response(201, PhotoSchema, description="stored by this request")
    @blp.alt_response(200, schema=PhotoSchema, description="already stored with these bytes: the same answer again")
    @blp.alt_response(409, response="CONFLICT", description="this id is stored with other bytes, or was named by "
                                                            "another record")
    @blp.alt_response(413, response="DEFAULT_ERROR", description="over the size or pixel limit")
    @blp.alt_response(415, response="DEFAULT_ERROR", description="not JPEG, PNG, WebP or HEIC")
    def put(self, args, photo_id):
        """Upload a photo: multipart/form-data with the `file` part and its metadata.

        Idempotent by the id: the same bytes again answer 200 with the first answer and change
        nothing; other bytes under a stored id are 409. The hash must match the bytes (422 names
        both). A photo may come before the record that names it: it is kept and linked when the
        record arrives (`linked` is false until then). Inspectors of the record's park only.

        From a browser: `const form = new FormData(); form.append("file", blob, "photo.jpg");
        form.append("sha256", hex); form.append("finding_id", findingId);
        form.append("captured_at", takenAt); fetch(`/api/photos/${photoId}`, {method: "PUT",
        headers: {Authorization: `Bearer ${token}`}, body: form})` (no Content-Type header: the
        browser sets multipart/form-data with its boundary).
        """
        file = args.pop("file")
        result = service.receive(photo_id, args, file, service.Actor.of(current_user()))
        return result.photo, (201 if result.created else 200)

    @require()
    @blp.doc(responses={"200": {"description": "the original, byte for byte as uploaded", **_IMAGE_DOC},
                        "304": {"description": "not modified (If-None-Match)"}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, photo_id):
        """The original bytes (staff of the photo's park)."""
        return _serve(photo_id, "original")


@blp.route("/photos/<uuid:photo_id>/thumb")
class PhotoThumb(MethodView):
    @require()
    @blp.doc(responses={"200": {"description": "an upright JPEG, 320 px on the long edge, without metadata",
                                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                        "304": {"description": "not modified (If-None-Match)"}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, photo_id):
        """The thumbnail (staff of the photo's park)."""
        return _serve(photo_id, "thumb")


@blp.route("/photos/<uuid:photo_id>/display")
class PhotoDisplay(MethodView):
    @require()
    @blp.doc(responses={"200": {"description": "an upright JPEG, 1600 px on the long edge, without metadata",
                                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                        "304": {"description": "not modified (If-None-Match)"}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, photo_id):
        """The display copy (staff of the photo's park)."""
        return _serve(photo_id, "display")

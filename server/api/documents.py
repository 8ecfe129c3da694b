"""Official documents as PDF: an order's rectification notice and a visit's inspection record
(docs/documents.md). Who may have them is decided in server/services/documents.py, on the
object: staff of its park, and of the inspectors only those who serve and re-inspect (the
notice) or made the visit (the record)."""
from __future__ import annotations

import hashlib
from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..access import current_user, require
from ..services import documents as service

blp = Blueprint("documents", __name__, description="Official documents: rectification notices and inspection records")

READERS = ("inspector", "supervisor", "legal_reviewer", "admin")
_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


def _answer(doc: service.Rendered) -> Response:
    etag = hashlib.sha256(doc.pdf).hexdigest()[:32]
    headers = {
        "Content-Disposition": service.words.content_disposition(doc.filename, doc.ascii_filename),
        # The same data gives the same bytes, but the data may change (a photo arrives): ask each time.
        "Cache-Control": "private, no-cache",
        "ETag": f'"{etag}"',
        # Percent-encoded UTF-8 (RFC 8187's way): a header is ASCII on its way through proxies.
        "X-Document-Number": quote(doc.number, safe=""),
    }
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    return Response(doc.pdf, mimetype="application/pdf", headers=headers)


@blp.route("/orders/<int:order_id>/notice.pdf")
class OrderNotice(MethodView):
    @require(*READERS)
    @blp.doc(responses={"200": {"description": "the rectification notice (责令限期整改通知书), A4, Chinese", "content": _PDF},
                        "304": {"description": "not modified (If-None-Match)"}})
    @blp.alt_response(404, response="NOT_FOUND", description="no such order")
    @blp.alt_response(503, response="DEFAULT_ERROR", description="no font with Chinese glyphs, or the photo store is "
                                                                 "unreachable")
    def get(self, order_id):
        """The order's rectification notice as PDF: the enterprise, the violation with the article it
        breaks and the one that penalises it, the deadline, the officers and their certificates, the
        photos, the order's number and a QR code to the finding. Staff of the finding's park
        (inspectors, supervisors, legal reviewers) and admins. Asked again, the same bytes."""
        return _answer(service.notice(order_id, current_user()))


@blp.route("/visits/<uuid:visit_id>/record.pdf")
class VisitRecord(MethodView):
    @require(*READERS)
    @blp.doc(responses={"200": {"description": "the inspection record (现场检查笔录), A4, Chinese", "content": _PDF},
                        "304": {"description": "not modified (If-None-Match)"}})
    @blp.alt_response(404, response="NOT_FOUND", description="no such visit")
    @blp.alt_response(503, response="DEFAULT_ERROR", description="no font with Chinese glyphs, or the photo store is "
                                                                 "unreachable")
    def get(self, visit_id):
        """The visit's inspection record as PDF: time, place and fix, the enterprise, the officers and
        their certificates, whether they showed them, the checklist's results, the findings with
        their legal basis, the photos, the party's signature or refusal, and a QR code to the visit.
        Numbered the first time it is asked for (the year's next record number), the same number
        and bytes afterwards. Supervisors, legal reviewers and admins of the visit's park, and the
        inspectors who made the visit."""
        return _answer(service.record(visit_id, current_user()))

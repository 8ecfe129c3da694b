"""Exports for the desk: findings, orders, cases and visits as CSV (UTF-8 with BOM, for Excel) and
GeoJSON, filtered as the queue is, limited to your parks, streamed (docs/exports.md)."""
from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.exports import ExportFindingsQuerySchema, ExportVisitsQuerySchema

from ..access import REVIEWERS, current_user, park_scope, require
from ..services import exports as service

blp = Blueprint("exports", __name__, description="Findings, orders, cases and visits as CSV and GeoJSON")

# Who may export: those who read the queue (supervisors, legal reviewers, admins). Inspectors and
# schedulers do not: an export is the bureau's record, not a field or planning tool.
EXPORTERS = REVIEWERS

_WHAT = {
    "findings": "Findings in the queue's urgency order, with the queue's filters (GET /api/findings); "
                "from/to by the day found.",
    "orders": "Rectification orders (责令限期改正) of the findings the queue's filters select; from/to by the day "
              "issued.",
    "cases": "Cases (立案) of the findings the queue's filters select; from/to by the day filed.",
    "visits": "Visits, by the time they started: park, enterprise, off_site, kind, from/to.",
}
_FORMATS = {
    "csv": ("text/csv", "UTF-8 with a byte-order mark; headers and vocabulary in Chinese (lang=zh, the default) or "
                        "the stable English keys and codes (lang=en)."),
    "geojson": ("application/geo+json", "a FeatureCollection of the enterprise's point (WGS 84 lon/lat), "
                                        "properties keyed as the CSV's English keys."),
}


_FEATURE_COLLECTION = {
    "type": "object", "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {
            "type": "object", "required": ["type", "geometry", "properties"],
            "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": {"type": "object", "nullable": True, "properties": {
                    "type": {"type": "string", "enum": ["Point"]},
                    "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}},
                "properties": {"type": "object"},
            }}},
    },
}


def _download(export: service.Export) -> Response:
    resp = Response(stream_with_context(export.chunks), mimetype=export.mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    resp.headers["Cache-Control"] = "no-store"  # the bureau's records: never kept by a cache
    return resp


def _view(kind: str, fmt: str) -> type[MethodView]:
    schema = ExportVisitsQuerySchema if kind == "visits" else ExportFindingsQuerySchema
    content_type, words = _FORMATS[fmt]

    def get(self, args):
        return _download(service.export(kind, fmt, args, park_scope(current_user())))

    get.__doc__ = f"{kind.capitalize()} as {fmt.upper()}, streamed\n\n{_WHAT[kind]} {words} Content-Disposition " \
                  "names the file with today's date. 403 when a park or enterprise named is not yours."
    # GeoJSON is JSON: described as a FeatureCollection so clients (and the fuzz test) can check it.
    body = _FEATURE_COLLECTION if fmt == "geojson" else {"type": "string", "format": "binary"}
    get = blp.response(200, body, content_type=content_type, description=words)(get)
    get = require(*EXPORTERS)(blp.arguments(schema, location="query", unknown=RAISE)(get))
    return type(f"Export{kind.capitalize()}{fmt.upper()}", (MethodView,), {"get": get})


for _kind in service.KINDS:
    for _fmt in _FORMATS:
        blp.route(f"/exports/{_kind}.{_fmt}")(_view(_kind, _fmt))

"""/api/docs: Swagger UI over /api/openapi.json, served from the swagger-ui-bundle package."""
from __future__ import annotations

from flask import Blueprint, Response, send_from_directory

bp = Blueprint("api_docs", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fieldcheck API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>
"""

_INIT = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true});\n"""

# Swagger UI injects style elements; the rest of the site keeps the stricter policy.
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def _bundle_dir() -> str:
    import swagger_ui_bundle

    return swagger_ui_bundle.swagger_ui_path


@bp.route("/api/docs")
def page():
    return Response(_PAGE, mimetype="text/html", headers={"Content-Security-Policy": _CSP})


@bp.route("/api/docs/init.js")
def init_js():
    return Response(_INIT, mimetype="text/javascript")


@bp.route("/api/docs/static/<path:filename>")
def static(filename: str):
    return send_from_directory(_bundle_dir(), filename, max_age=86400)

"""The public results page (双随机一公开) a citizen opens without logging in: /public/<park code>.

Server-rendered HTML (Jinja, autoescaped), Chinese first with the English beside it, no script,
one stylesheet of our own, so the app's Content-Security-Policy holds unchanged. It shows exactly
what GET /api/public/parks/<code>/results answers (server/services/public_results.py).
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from schemas.exports import PublicResultsQuerySchema

from .services import public_results as service
from .services.errors import ServiceError

HERE = Path(__file__).resolve().parent
bp = Blueprint("public_page", __name__, template_folder=str(HERE / "templates"),
               static_folder=str(HERE / "public_static"), static_url_path="/public/static")


@bp.route("/public/<park_code>")
def results_page(park_code: str):
    error, data, status = None, None, 200
    try:
        args = PublicResultsQuerySchema().load(request.args)
        data = service.park_results(park_code, args.get("date_from"), args.get("date_to"))
    except ValidationError as err:
        error, status = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                                  for k, v in err.messages.items()), 422
    except ServiceError as err:
        error, status = str(err), err.status
    resp = render_template("public_results.html", data=data, error=error, park_code=park_code,
                           query=request.args)
    return resp, status, {"Cache-Control": "public, max-age=300", "Content-Language": "zh-CN"}

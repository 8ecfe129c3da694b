"""Serves the PWA (pwa/ at the site root) and Leaflet from the xstatic-leaflet package."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, send_from_directory
from werkzeug.routing import PathConverter

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"

bp = Blueprint("pwa", __name__)


class NotApiPath(PathConverter):
    """Any path outside /api/, so that the API's own 404 and 405 (with Allow) stand."""

    regex = r"(?!api(?:/|$))[^/].*?"


bp.record_once(lambda state: state.app.url_map.converters.setdefault("notapi", NotApiPath))


def _leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as leaflet

    return Path(leaflet.BASE_DIR)


@bp.route("/")
def index():
    resp = send_from_directory(PWA_DIR, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/vendor/leaflet/<path:filename>")
def leaflet(filename: str):
    return send_from_directory(_leaflet_dir(), filename, max_age=86400)


@bp.route("/<notapi:filename>")
def static_file(filename: str):
    resp = send_from_directory(PWA_DIR, filename, max_age=0)
    # The service worker decides what is cached on the phone; the browser revalidates.
    resp.headers["Cache-Control"] = "no-cache"
    if filename == "sw.js":
        resp.headers["Service-Worker-Allowed"] = "/"
    return resp

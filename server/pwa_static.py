"""Serves the PWA (pwa/ at the site root) and Leaflet from the xstatic-leaflet package."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"

bp = Blueprint("pwa", __name__)


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


@bp.route("/<path:filename>")
def static_file(filename: str):
    if filename.startswith("api/"):
        abort(404)
    resp = send_from_directory(PWA_DIR, filename, max_age=0)
    # The service worker decides what is cached on the phone; the browser revalidates.
    resp.headers["Cache-Control"] = "no-cache"
    if filename == "sw.js":
        resp.headers["Service-Worker-Allowed"] = "/"
    return resp

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("sites", __name__, description="sites")

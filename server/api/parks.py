from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("parks", __name__, description="parks")

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.health import HealthSchema

from ..services.health import health

blp = Blueprint("health", __name__, description="Is the server up, and on which engine")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """The engine, the SQLite module, the SpatiaLite/PostGIS version and the schema revision."""
        return health()

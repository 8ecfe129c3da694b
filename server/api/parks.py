"""Parks: the areas the bureau patrols, as records and as GeoJSON polygons."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.common import GeoJSONFeatureCollection
from schemas.parks import ParkCreateSchema, ParkDetailSchema, ParkListSchema, ParkUpdateSchema

from ..access import check_park, current_user, park_scope, require
from ..services import sites as service

blp = Blueprint("parks", __name__, description="Parks and their boundaries")


@blp.route("/parks")
class Parks(MethodView):
    @require()
    @blp.response(200, ParkListSchema)
    def get(self):
        """The parks you are assigned to (all of them for an admin), with their site counts and extents."""
        return {"items": service.park_rows(park_scope(current_user()))}

    @require("admin")
    @blp.arguments(ParkCreateSchema)
    @blp.response(201, ParkDetailSchema)
    @blp.alt_response(409, response="CONFLICT", description="the park code is taken")
    def post(self, body):
        """Add a park (admin). An invalid boundary is refused with the reason; an overlap with
        another park is accepted and named in `warnings`."""
        return service.create_park(body, current_user().id)


@blp.route("/parks.geojson")
class ParksGeoJSON(MethodView):
    @require()
    @blp.response(200, GeoJSONFeatureCollection)
    def get(self):
        """Your parks as a GeoJSON FeatureCollection of (multi)polygons with id, code, names and kind."""
        return service.park_collection(park_scope(current_user()))


@blp.route("/parks/<int:park_id>")
class ParkItem(MethodView):
    @require()
    @blp.response(200, ParkDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, park_id):
        """One park with its boundary. 403 when you are not assigned to it."""
        check_park(current_user(), park_id)
        return service.park_detail(park_id)

    @require("admin")
    @blp.arguments(ParkUpdateSchema)
    @blp.response(200, ParkDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="the park code is taken")
    def patch(self, body, park_id):
        """Change a park (admin). A new boundary must keep the park's sites inside it; overlaps warn."""
        return service.update_park(park_id, body, current_user().id)

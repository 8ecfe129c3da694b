"""Sites: the enterprises and project sites inspectors visit, within the caller's parks."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.sites import (
    SiteCreateSchema, SiteDetailSchema, SiteFeatureCollectionSchema, SiteFilterSchema, SiteListQuerySchema,
    SiteRecordHistorySchema, SitePageSchema, SiteUpdateSchema,
)

from ..access import check_park, current_user, park_scope, require
from ..services import sites as service
from ..services.sites import SiteFilters

blp = Blueprint("sites", __name__, description="Enterprises and project sites: by park, by text, near a point")



def _filters(args: dict) -> SiteFilters:
    return SiteFilters(**{k: v for k, v in args.items() if k not in ("limit", "cursor")})


@blp.route("/sites")
class Sites(MethodView):
    @require()
    @blp.arguments(SiteListQuerySchema, location="query", unknown=RAISE)  # webargs would drop them
    @blp.response(200, SitePageSchema)
    def get(self, args):
        """Sites in your parks, filtered; with near=lon,lat&radius_m= the nearest first, each with distance_m.

        Keyset pages: pass next_cursor back as cursor with the same filters. radius_m is capped at 50 km.
        """
        return service.list_sites(_filters(args), park_scope(current_user()), args["limit"], args.get("cursor"))

    @require("admin")
    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteDetailSchema)
    @blp.alt_response(409, response="CONFLICT", description="the credit code belongs to another site")
    def post(self, body):
        """Add a site (admin). It must lie inside its park; a credit code must be valid and unique."""
        return service.create_site(body, current_user().id)


@blp.route("/sites.geojson")
class SitesGeoJSON(MethodView):
    @require()
    @blp.arguments(SiteFilterSchema, location="query", unknown=RAISE)
    @blp.response(200, SiteFeatureCollectionSchema)
    def get(self, args):
        """The same filters as GET /api/sites, as a GeoJSON FeatureCollection of points (WGS 84 lon/lat)."""
        return service.site_collection(_filters(args), park_scope(current_user()))


@blp.route("/sites/<int:site_id>")
class SiteItem(MethodView):
    @require()
    @blp.response(200, SiteDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, site_id):
        """One site, with its park and contact. 403 when it is in a park you are not assigned to."""
        site = service.site_detail(site_id)
        check_park(current_user(), site["park_id"])
        return site

    @require("admin")
    @blp.arguments(SiteUpdateSchema)
    @blp.response(200, SiteDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="the credit code belongs to another site")
    def patch(self, body, site_id):
        """Change a site (admin): only the fields sent; lon and lat together. Each change is audited."""
        return service.update_site(site_id, body, current_user().id)


@blp.route("/sites/<int:site_id>/history", methods=["GET"])
@require()
@blp.response(200, SiteRecordHistorySchema)
@blp.alt_response(404, response="NOT_FOUND")
def history(site_id):
    """A site's newest visits (with the checklist version each used) and findings, and the audited
    changes of its record. 403 when it is in a park you are not assigned to."""
    found = service.site_history(site_id)
    check_park(current_user(), found["park_id"])
    return found

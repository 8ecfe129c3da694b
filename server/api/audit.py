from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from marshmallow import RAISE

from schemas.audit import AuditPageSchema, AuditQuerySchema, AuditVerifySchema

from ..access import require
from ..services.audit import entries, verify_chain

blp = Blueprint("audit", __name__, description="The append-only audit trail")


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @require("admin")
    @blp.response(200, AuditVerifySchema)
    def get(self):
        """Walk the hash chain; name the first broken entry, if any."""
        return verify_chain()


@blp.route("/audit")
class AuditEntries(MethodView):
    @require("admin")
    @blp.arguments(AuditQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Audit entries, newest first, with who made each (admin): filter by entity (policy, user,
        checklist, site, park ...) and by the start of the action; page with before_id."""
        return entries(args.get("entity_type"), args.get("entity_id"), args.get("action"), args["limit"],
                       args.get("before_id"))

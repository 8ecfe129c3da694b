from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.audit import AuditVerifySchema

from ..access import require
from ..services.audit import verify_chain

blp = Blueprint("audit", __name__, description="The append-only audit trail")


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @require("admin")
    @blp.response(200, AuditVerifySchema)
    def get(self):
        """Walk the hash chain; name the first broken entry, if any."""
        return verify_chain()

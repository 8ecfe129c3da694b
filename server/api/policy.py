"""The policy in force (every number of DOMAIN.md as data): read by all staff, changed by an
admin with a reason; each change is a new, audited version, and every classification records
the version it used."""
from __future__ import annotations

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.policy import PolicyPatchSchema, PolicyPutSchema, PolicySchema, PolicyVersionsSchema

from ..access import current_user, require
from ..domain.policy import default_policy
from ..extensions import db
from ..models import PolicyVersion
from ..services import policy as service

blp = Blueprint("policy", __name__, description="The policy: excluded domains, windows, thresholds, clocks, targets")


def _answer(row: PolicyVersion | None, changed: bool | None = None) -> dict:
    body = {
        "version": row.version if row else None,
        "values": {**default_policy(), **(row.values if row else {})},
        "reason": row.reason if row else "the defaults of DOMAIN.md (no version stored yet)",
        "created_at": row.created_at if row else None,
        "created_by": row.created_by if row else None,
    }
    if changed is not None:
        body["changed"] = changed
    return body


@blp.route("/policy")
class Policy(MethodView):
    @require()
    @blp.response(200, PolicySchema)
    def get(self):
        """The policy in force: its version and every knob (a knob an older version lacks shows its default)."""
        row = db.session.execute(sa.select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1)).scalar()
        return _answer(row)

    @require("admin")
    @blp.arguments(PolicyPutSchema)
    @blp.response(200, PolicySchema)
    def put(self, body):
        """Replace the policy (admin): every knob, and the reason. Only the knobs that differ make the new
        version; when none differs, nothing is stored (`changed` false)."""
        row, changed = service.update(body["values"], body["reason"], current_user().id)
        return _answer(row, changed)

    @require("admin")
    @blp.arguments(PolicyPatchSchema)
    @blp.response(200, PolicySchema)
    def patch(self, body):
        """Change some knobs (admin), with the reason: a new version, audited."""
        row, changed = service.update(body["values"], body["reason"], current_user().id)
        return _answer(row, changed)


@blp.route("/policy/versions", methods=["GET"])
@require()
@blp.response(200, PolicyVersionsSchema)
def versions():
    """Every version of the policy, newest first: who changed what, when, and the reason given;
    with every knob's default."""
    return service.versions()

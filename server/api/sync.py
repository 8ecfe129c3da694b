"""Sync: the phone's outbox of visit records, stored exactly once."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.sync import SyncAnswerSchema, SyncBatchSchema

from ..access import current_user, require
from ..services import sync as service

blp = Blueprint("sync", __name__, description="Send recorded visits; every record is stored exactly once")


@blp.route("/sync")
class Sync(MethodView):
    @require("inspector")
    @blp.arguments(SyncBatchSchema)
    @blp.response(200, SyncAnswerSchema)
    # Read by tests/test_fuzz.py: a record that breaks VisitRecord is answered `rejected` inside a
    # 200 (the batch is not refused), so "invalid data must be refused with a 4xx" applies to the
    # envelope only.
    @blp.doc(**{"x-records-validated-one-by-one": True})
    @blp.alt_response(413, response="DEFAULT_ERROR", description=(
        "the body is over limits.max_body_bytes, or the batch has more than limits.max_visits_per_batch "
        "visits (the answer says how many are allowed); nothing was stored"))
    def post(self, body):
        """Send a batch of visit records; one result per record, sent only after the commit.

        Each record (a visit with its results and findings, made on the phone with a UUID) is
        accepted or rejected whole, on its own: a bad record never blocks the others. Each
        result carries the record's `index` in the batch, its `id` and a `status`:

        - `created`: stored now; `visit` is what the server assigned (each finding's tier,
          rule and deadline, the on-site proof, the clock check, the photos still awaited).
        - `duplicate`: stored before with the same canonical content (keys sorted; the
          server's own fields are never part of it); nothing changed, and `visit` is the
          very answer given the first time. Replays and retries are therefore safe: remove a
          record from the outbox on `created` or `duplicate`.
        - `conflict`: the id (or one of its findings' ids) is stored with other content.
          Nothing was overwritten; the new content is kept for a supervisor and `stored_id`
          names the stored record. A change after acknowledgement is a new record naming the
          old one in `corrects_id`.
        - `rejected`: the record breaks a rule; nothing of it was stored; `message` and
          `errors` (by field, findings by position) say what to fix. For example: a finding
          whose violation code belongs to another domain than the finding claims; an unknown
          site, officer or plan stop; a site outside your parks; on a visit that may lead to
          enforcement (a re-inspection, a case visit, or any finding naming a catalogue row),
          an officer without a certificate valid on the day, or fewer than two certified,
          non-auxiliary officers with distinct certificates.

        A finding whose photos have not been uploaded yet is accepted: `photos_waiting` counts
        them until PUT /api/photos/<id> brings them. The GPS fix is compared with the site's
        point (on_site, near, off_site, poor_fix, no_fix); the verdict never rejects a visit. A
        device clock off by more than the policy's tolerance is flagged and the visit is dated
        by the server's receive time.

        Limits (advertised in GET /api/me/today under `limits`): the body size (413), visits
        per batch (413 naming the maximum), findings and results per visit (that record is
        rejected).
        """
        return service.sync_batch(body["device_id"], body["visits"], current_user())

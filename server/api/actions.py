"""The finding's life: the supervisor's and the legal reviewer's actions, one POST each under
/api/findings/<id>/. Each checks the role, the finding's park and its state (409 with
`allowed_next` when the step is not allowed now), writes an audit entry and answers the
finding's state after it."""
from __future__ import annotations

from flask_smorest import Blueprint

from schemas.actions import (
    AllowedActionsSchema, CaseCloseSchema, ChangeTierSchema, CloseSchema, CommitmentSchema, DecideSchema,
    FileCaseSchema, FindingStateSchema, IssueOrderSchema, LegalReviewSchema, NoteSchema, NotifySchema,
    ReinspectionSchema, ReopenSchema, TransferSchema,
)

from ..access import REVIEWERS, check_park, current_user, require
from ..domain.lifecycle import roles_for
from ..services import lifecycle

blp = Blueprint("actions", __name__, description="A finding's life: tier, order, re-inspection, legal review, case")

SUPERVISOR = roles_for("confirm-tier")
LEGAL = roles_for("legal-review")
PATH = "/findings/<uuid:finding_id>/"


def _run(finding_id, action: str, body: dict) -> dict:
    return lifecycle.act(finding_id, action, current_user(), check_park, **body)


def _responses(fn):
    fn = blp.alt_response(404, response="NOT_FOUND", description="no such finding")(fn)
    return blp.alt_response(409, response="CONFLICT", description="not allowed in the finding's present state; "
                                                                  "`allowed_next` lists what is")(fn)


@blp.route(PATH + "actions", methods=["GET"])
@require(*REVIEWERS)
@blp.response(200, AllowedActionsSchema)
@blp.alt_response(404, response="NOT_FOUND")
def allowed_actions(finding_id):
    """The actions the finding admits now, and those your role may take."""
    finding = lifecycle.load(finding_id, lock=False)
    check_park(current_user(), finding.park_id)
    return {"status": finding.status, "allowed_next": lifecycle.allowed_actions(finding),
            "yours": lifecycle.allowed_actions(finding, current_user().role)}


@blp.route(PATH + "confirm-tier", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def confirm_tier(body, finding_id):
    """Confirm the suggested tier (awaiting review → open)."""
    return _run(finding_id, "confirm-tier", body)


@blp.route(PATH + "change-tier", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(ChangeTierSchema)
@blp.response(200, FindingStateSchema)
@_responses
def change_tier(body, finding_id):
    """Change the tier: both tiers are kept; a downgrade needs a written reason."""
    return _run(finding_id, "change-tier", body)


@blp.route(PATH + "issue-order", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(IssueOrderSchema)
@blp.response(200, FindingStateSchema)
@_responses
def issue_order(body, finding_id):
    """Issue a rectification notice (责令限期改正) with its number, deadline and re-inspection due date."""
    return _run(finding_id, "issue-order", body)


@blp.route(PATH + "record-commitment", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(CommitmentSchema)
@blp.response(200, FindingStateSchema)
@_responses
def record_commitment(body, finding_id):
    """Record the commitment letter (承诺书) signed, or its refusal."""
    return _run(finding_id, "record-commitment", body)


@blp.route(PATH + "record-reinspection", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(ReinspectionSchema)
@blp.response(200, FindingStateSchema)
@_responses
def record_reinspection(body, finding_id):
    """Record the re-inspection (复查): passed ends the order; failed or partly escalates (E4)."""
    return _run(finding_id, "record-reinspection", body)


@blp.route(PATH + "legal-review", methods=["POST"])
@require(*LEGAL)
@blp.arguments(LegalReviewSchema)
@blp.response(200, FindingStateSchema)
@_responses
def legal_review(body, finding_id):
    """法制审核 (legal reviewer): of a finding flagged for statutory minor review, or of a case submitted."""
    return _run(finding_id, "legal-review", body)


@blp.route(PATH + "file-case", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(FileCaseSchema)
@blp.response(200, FindingStateSchema)
@_responses
def file_case(body, finding_id):
    """立案: file the enforcement suggestion as a case with two investigators; the 90-day clock starts."""
    return _run(finding_id, "file-case", body)


@blp.route(PATH + "close", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(CloseSchema)
@blp.response(200, FindingStateSchema)
@_responses
def close(body, finding_id):
    """Close (on the tolerance path only with every condition of DOMAIN.md section 4; 409 lists what is missing)."""
    return _run(finding_id, "close", body)


@blp.route(PATH + "reopen", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(ReopenSchema)
@blp.response(200, FindingStateSchema)
@_responses
def reopen(body, finding_id):
    """Reopen a finding closed in error (not one closed through a case)."""
    return _run(finding_id, "reopen", body)


@blp.route(PATH + "case/notify", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NotifySchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_notify(body, finding_id):
    """告知: the notice before a decision, with the party's statement and defence (陈述申辩)."""
    return _run(finding_id, "case/notify", body)


@blp.route(PATH + "case/request-hearing", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_request_hearing(body, finding_id):
    """The party asked for a hearing (within the policy's working days after the notice)."""
    return _run(finding_id, "case/request-hearing", body)


@blp.route(PATH + "case/hold-hearing", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_hold_hearing(body, finding_id):
    """The hearing was held; the case then needs the legal review before its decision."""
    return _run(finding_id, "case/hold-hearing", body)


@blp.route(PATH + "case/submit-legal-review", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_submit_legal_review(body, finding_id):
    """Send the case to the legal reviewer before its decision."""
    return _run(finding_id, "case/submit-legal-review", body)


@blp.route(PATH + "case/decide", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(DecideSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_decide(body, finding_id):
    """Decide: penalty, no penalty or not established (never before the notice or a required legal review)."""
    return _run(finding_id, "case/decide", body)


@blp.route(PATH + "case/serve", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_serve(body, finding_id):
    """The decision was served on the party."""
    return _run(finding_id, "case/serve", body)


@blp.route(PATH + "case/record-payment", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_record_payment(body, finding_id):
    """The fine was paid."""
    return _run(finding_id, "case/record-payment", body)


@blp.route(PATH + "case/record-enforcement", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(NoteSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_record_enforcement(body, finding_id):
    """The unpaid fine was enforced (强制执行), after the payment period."""
    return _run(finding_id, "case/record-enforcement", body)


@blp.route(PATH + "case/close", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(CaseCloseSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_close(body, finding_id):
    """Close the case (and the finding); a no-penalty decision closes with an education record."""
    return _run(finding_id, "case/close", body)


@blp.route(PATH + "case/transfer", methods=["POST"])
@require(*SUPERVISOR)
@blp.arguments(TransferSchema)
@blp.response(200, FindingStateSchema)
@_responses
def case_transfer(body, finding_id):
    """Transfer the case to the judicial organs for suspected crime (rule E1)."""
    return _run(finding_id, "case/transfer", body)

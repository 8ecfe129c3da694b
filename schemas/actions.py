"""The supervisor's and the legal reviewer's actions on a finding (POST /api/findings/<id>/<action>),
and the finding's state each answers. docs/rules.md ("The finding's life") has the states."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate

from server.domain.lifecycle import ACTIONS
from server.models.vocab import CASE_DECISIONS, LEGAL_REVIEW_OUTCOMES, TIERS

from .common import ID_RANGE, StrictSchema, Text

MAX_TEXT = 4000
MAX_PHOTOS = 50


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


def _note(description: str = "a remark kept in the audit trail", required: bool = False, **kw):
    if required:
        return Text(required=True, metadata={"description": description}, **kw,
                    validate=validate.Length(min=1, max=MAX_TEXT, error=f"must be written: 1 to {MAX_TEXT} characters"))
    return Text(load_default="", metadata={"description": description}, **kw,
                validate=validate.Length(max=MAX_TEXT, error=f"at most {MAX_TEXT} characters"))


def _distinct(items):
    if len(set(items)) != len(items):
        raise ValidationError("an item is named twice")


class NoteSchema(StrictSchema):
    note = _note()


class ChangeTierSchema(StrictSchema):
    tier = fields.String(required=True, validate=_one_of(TIERS))
    reason = _note("why; required for a downgrade (both tiers are kept)")


class IssueOrderSchema(StrictSchema):
    deadline = fields.Date(metadata={"description": "the last day to correct; default and latest: the catalogue "
                                                    "row's correction period counted from today"})
    note = _note()


class CommitmentSchema(StrictSchema):
    commitment = fields.String(required=True, validate=_one_of(("signed", "refused")),
                               metadata={"description": "the commitment letter (承诺书) signed, or the refusal noted"})
    note = _note()


class ReinspectionSchema(StrictSchema):
    outcome = fields.String(required=True, validate=_one_of(("passed", "failed", "partly")),
                            metadata={"description": "passed: corrected; failed or partly: escalates to enforcement "
                                                     "(rule E4)"})
    at = fields.AwareDateTime(format="iso", metadata={"description": "when it was made (default: now)"})
    photo_ids = fields.List(fields.UUID(), load_default=list,
                            validate=[validate.Length(max=MAX_PHOTOS), _distinct],
                            metadata={"description": "the photos that show the result"})
    visit_id = fields.UUID(metadata={"description": "the field visit it was made on, if any"})
    note = _note()


class LegalReviewSchema(StrictSchema):
    outcome = fields.String(required=True, validate=_one_of(LEGAL_REVIEW_OUTCOMES))
    reason = _note("the legal reviewer's reasons", required=True)


class FileCaseSchema(StrictSchema):
    investigator_ids = fields.List(
        fields.Integer(strict=True, validate=ID_RANGE), required=True,
        validate=validate.Length(equal=2, error="name exactly two investigators"),
        metadata={"description": "two certified officers, not auxiliary staff, certificates valid today"})
    legal_review_required = fields.Boolean(load_default=False, metadata={
        "description": "the case needs the legal review (法制审核) before its decision (a hearing makes it so)"})
    note = _note()


class NotifySchema(StrictSchema):
    statement = _note("the party's statement and defence (陈述申辩), or that it made none", required=True)
    note = _note()


class DecideSchema(StrictSchema):
    decision = fields.String(required=True, validate=_one_of(CASE_DECISIONS))
    note = _note("the facts and grounds of the decision", required=True)
    fine_yuan = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                               metadata={"description": "the fine, with a penalty decision that imposes one"})


class CaseCloseSchema(StrictSchema):
    education = _note("the education given; required after a no-penalty decision")
    note = _note()


class TransferSchema(StrictSchema):
    reason = _note("why a crime is suspected, and to whom the case goes", required=True)


class CloseSchema(StrictSchema):
    education = _note("the education given (required for a service finding and any closing without penalty)")
    conditions_confirmed = fields.Boolean(load_default=False, metadata={
        "description": "on the tolerance path: the supervisor confirms the catalogue list's conditions"})
    note = _note()


class ReopenSchema(StrictSchema):
    reason = _note("why the closing was wrong", required=True)


class OrderBriefSchema(ma.Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    commitment = fields.String()
    issued_at = fields.AwareDateTime()
    deadline = fields.Date()
    reinspection_due = fields.Date()


class CaseBriefSchema(ma.Schema):
    id = fields.Integer()
    number = fields.String()
    status = fields.String()
    filed_at = fields.AwareDateTime()
    decision_due = fields.Date()
    legal_review_required = fields.Boolean()
    decision = fields.String(allow_none=True)
    fine_yuan = fields.Integer(allow_none=True)


_ACTIONS_DOC = {"description": "the actions the finding admits now (POST /api/findings/<id>/<action>): "
                               + ", ".join(ACTIONS)}


class FindingStateSchema(ma.Schema):
    id = fields.UUID()
    status = fields.String()
    suggested_tier = fields.String()
    final_tier = fields.String()
    rule_id = fields.String(metadata={"description": "the rule that suggested the tier (never recomputed)"})
    tier_reason = fields.String(metadata={"description": "why the final tier differs from the suggestion"})
    flags = fields.List(fields.String())
    tolerance_path = fields.String()
    next_deadline = fields.Date(allow_none=True)
    allowed_next = fields.List(fields.String(), metadata=_ACTIONS_DOC)
    order = fields.Nested(OrderBriefSchema, allow_none=True)
    case = fields.Nested(CaseBriefSchema, allow_none=True)


class AllowedActionsSchema(ma.Schema):
    status = fields.String()
    allowed_next = fields.List(fields.String(), metadata=_ACTIONS_DOC)
    yours = fields.List(fields.String(), metadata={"description": "those of them your role may take"})

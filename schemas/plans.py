"""A day's patrol plan: generating it, reading it, a scheduler's edits (docs/planning.md)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from server.domain.planning.routing import SOLVERS
from server.models.vocab import PLAN_STATUSES, STOP_STATUSES, VISIT_KINDS

from .common import ID_RANGE, StrictSchema

MAX_TEAMS = 50
MAX_AUXILIARIES = 3
MAX_SEQ = 500


def _one_of(words) -> validate.OneOf:
    return validate.OneOf(words, error="must be one of: " + ", ".join(words))


def _distinct(items):
    if len(set(items)) != len(items):
        raise ValidationError("an id is named twice")


class TeamChoiceSchema(StrictSchema):
    officer_ids = fields.List(
        fields.Integer(strict=True, validate=ID_RANGE), required=True,
        validate=[validate.Length(equal=2, error="a team has exactly two certified officers"), _distinct],
        metadata={"description": "the two certified officers, the team lead (whose phone records the visit) first"})
    auxiliary_ids = fields.List(
        fields.Integer(strict=True, validate=ID_RANGE), load_default=list,
        validate=[validate.Length(max=MAX_AUXILIARIES, error=f"at most {MAX_AUXILIARIES} auxiliary staff"), _distinct],
        metadata={"description": "auxiliary staff (协管员): recorded, never counted toward the two"})


class PlanOptionsSchema(StrictSchema):
    solver = fields.String(validate=_one_of(SOLVERS), metadata={"description": "default: pyvrp"})
    time_limit_s = fields.Float(allow_nan=False, validate=validate.Range(
        min=0.5, max=30, error="time_limit_s is between 0.5 and 30 seconds"))
    iterations = fields.Integer(strict=True, validate=validate.Range(
        min=50, max=20000, error="iterations is between 50 and 20000"),
        metadata={"description": "PyVRP's iterations (a fixed number gives the same plan every time)"})
    seed = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**31 - 1, error="seed is 0 to 2147483647"),
                          metadata={"description": "default: the day's ordinal, so a day is planned the same way"})
    max_teams = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_TEAMS,
                                                                    error=f"max_teams is 1 to {MAX_TEAMS}"))
    reform_teams = fields.Boolean(metadata={
        "description": "form the teams afresh instead of keeping those already on the day's plan (locked stops of a "
                       "team that is gone become not scheduled)"})


class PlanCreateSchema(StrictSchema):
    date = fields.Date(required=True, metadata={"description": "the day to plan (the bureau's calendar), today or later"})
    park_ids = fields.List(fields.Integer(strict=True, validate=ID_RANGE),
                           validate=[validate.Length(min=1, max=100), _distinct],
                           metadata={"description": "default: all your parks (a regeneration: the plan's)"})
    teams = fields.List(fields.Nested(TeamChoiceSchema),
                        validate=validate.Length(min=1, max=MAX_TEAMS, error=f"name 1 to {MAX_TEAMS} teams"),
                        metadata={"description": "the day's teams; default: those already on the plan, or formed "
                                                 "park by park from the certified officers working that day"})
    options = fields.Nested(PlanOptionsSchema, load_default=dict)


class StopEditSchema(StrictSchema):
    route_id = fields.Integer(strict=True, allow_none=True, validate=ID_RANGE, metadata={
        "description": "move to this route (of the plan, or of `day`'s plan); null takes the stop off the routes"})
    day = fields.Date(metadata={"description": "move to another day's plan (made as an empty draft if there is none)"})
    seq = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_SEQ, error=f"seq is 1 to {MAX_SEQ}"),
                         metadata={"description": "the place on the route, from 1 (default when moving: last)"})
    locked = fields.Boolean(metadata={"description": "a locked stop keeps its route and place when the day is "
                                                     "generated again"})

    @validates_schema
    def _something(self, data, **_kw):
        if not data:
            raise ValidationError("say what to change: route_id, day, seq or locked")
        if data.get("route_id") is None and "route_id" in data and ("seq" in data or data.get("locked")):
            raise ValidationError("a stop taken off the routes has no place and cannot be locked")


# --- answers --------------------------------------------------------------------------------


class PlanSiteSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    park_id = fields.Integer()
    lon = fields.Float()
    lat = fields.Float()
    risk_grade = fields.String()
    key_object = fields.Boolean()


class PlanStopSchema(ma.Schema):
    id = fields.Integer(metadata={"description": "the plan stop's id: a visit names it as plan_stop_id"})
    seq = fields.Integer(allow_none=True)
    site = fields.Nested(PlanSiteSchema)
    kind = fields.String(metadata={"enum": list(VISIT_KINDS)})
    priority = fields.Integer(metadata={"description": "0 (least urgent) to 4 (must be done that day)"})
    latest_date = fields.Date(allow_none=True)
    late = fields.Boolean()
    eta_min = fields.Float(allow_none=True, metadata={"description": "arrival, minutes after the day starts"})
    eta = fields.String(allow_none=True, metadata={"description": "arrival as HH:MM"})
    reasons = fields.List(fields.Raw(), metadata={"description": "every check the visit makes (budget, key, "
                                                                 "re-inspection, case, draw) with its dates"})
    order_id = fields.Integer(allow_none=True)
    draw_id = fields.Integer(allow_none=True)
    case_request_id = fields.Integer(allow_none=True)
    locked = fields.Boolean()
    status = fields.String(metadata={"enum": list(STOP_STATUSES)})
    visit_id = fields.String(allow_none=True)


class NotScheduledSchema(PlanStopSchema):
    reason = fields.String(metadata={"description": "why it is not on a route (a code)"})
    reason_day = fields.String(allow_none=True, metadata={"description": "the day the reason names, if any"})
    reason_words = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "the reason in words: zh and en"})
    rolls_to = fields.Date(allow_none=True, metadata={"description": "the next working day, when it is proposed again"})


class OfficerSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    auxiliary = fields.Boolean()
    lead = fields.Boolean(metadata={"description": "the team lead, whose phone records the visit"})


class RouteSchema(ma.Schema):
    id = fields.Integer()
    team_no = fields.Integer(metadata={"description": "the team's number in the plan, from 1"})
    team_lead_id = fields.Integer()
    officers = fields.List(fields.Nested(OfficerSchema))
    parks = fields.List(fields.Integer(), metadata={"description": "the parks the team visits"})
    distance_km = fields.Float()
    duration_min = fields.Float()
    start = fields.String(metadata={"description": "leaving the office, HH:MM"})
    end = fields.String(metadata={"description": "back at the office, HH:MM"})
    stops = fields.List(fields.Nested(PlanStopSchema))


class UnavailableSchema(ma.Schema):
    user_id = fields.Integer()
    name = fields.String()
    reason = fields.String(metadata={"description": "not_working_day, on_leave, no_certificate, "
                                                    "certificate_expired, not_drawn, no_partner, not_needed, no_team"})


class PlanTotalsSchema(ma.Schema):
    teams = fields.Integer()
    stops = fields.Integer()
    not_scheduled = fields.Integer()
    distance_km = fields.Float()
    duration_min = fields.Float()


class PlanSchema(ma.Schema):
    id = fields.Integer()
    day = fields.Date()
    status = fields.String(metadata={"enum": list(PLAN_STATUSES)})
    generated_at = fields.AwareDateTime()
    generated_by = fields.Integer(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)
    solver = fields.String()
    solve_seconds = fields.Float(allow_none=True)
    park_ids = fields.List(fields.Integer())
    settings = fields.Dict(metadata={"description": "the solver's settings and run, the teams' source, the edits"})
    inputs_sha256 = fields.String(allow_none=True, metadata={"description": "the hash of the inputs recorded"})
    office = fields.Dict(allow_none=True, metadata={"description": "lon, lat: where every route starts and ends"})
    counts = fields.Dict(metadata={"description": "sites, candidates, re-inspections, case requests, draws read"})
    routes = fields.List(fields.Nested(RouteSchema))
    not_scheduled = fields.List(fields.Nested(NotScheduledSchema))
    unavailable = fields.List(fields.Nested(UnavailableSchema))
    totals = fields.Nested(PlanTotalsSchema)
    allowed_next = fields.List(fields.String(), metadata={"description": "what a scheduler may do next"})

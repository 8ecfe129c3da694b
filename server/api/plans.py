"""A day's patrol plan: generate it, read it, edit its stops, publish it (docs/planning.md)."""
from __future__ import annotations

import datetime as dt

from flask_smorest import Blueprint, abort

from schemas.plans import PlanCreateSchema, PlanSchema, StopEditSchema

from ..access import STAFF, current_user, require
from ..services import planning as service

blp = Blueprint("plans", __name__, description="Patrol plans: teams, ordered stops, distance and time per route")

PLANNERS = service.PLANNERS


def _day(day: str) -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        abort(404, message=f"{day!r} is not a day: write it as YYYY-MM-DD")


def _plan(day: dt.date) -> dict:
    return service.describe(service.load(day), current_user())


@blp.route("/plans", methods=["POST"])
@require(*PLANNERS)
@blp.arguments(PlanCreateSchema)
@blp.response(201, PlanSchema)
@blp.alt_response(409, response="CONFLICT", description="the plan is published (unpublish it first) or changed "
                                                        "meanwhile; `allowed_next` says what may be done")
def generate(body):
    """Generate a day's plan, or generate it again: locked stops keep their route and place, the rest is
    planned afresh. Scheduler or admin, for their parks."""
    day = body["date"]
    service.generate(day, current_user(), park_ids=body.get("park_ids"), teams=body.get("teams"),
                     options=body.get("options") or {})
    return _plan(day)


@blp.route("/plans/<day>", methods=["GET"])
@require(*STAFF)
@blp.response(200, PlanSchema)
@blp.alt_response(404, response="NOT_FOUND", description="no plan (for other staff: no published plan) that day")
def read(day):
    """A day's plan: each team's route with its stops in order, distance and time, the visits not
    scheduled with their reasons. Other staff than schedulers read a published plan of their parks;
    inspectors only from its day (random inspections stay secret until then)."""
    return service.read(_day(day), current_user())


@blp.route("/plans/<day>/stops/<int:stop_id>", methods=["PATCH"])
@require(*PLANNERS)
@blp.arguments(StopEditSchema)
@blp.response(200, PlanSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def edit_stop(body, day, stop_id):
    """Move a stop to another route or another day, put it elsewhere on its route, take it off the routes,
    lock or unlock it. Refused in words when the team may not visit the site (its parks, a declared
    conflict, certificates, leave) or the day would run past the working day."""
    plan = service.edit_stop(_day(day), stop_id, current_user(), body)
    return service.describe(plan, current_user())


@blp.route("/plans/<day>/publish", methods=["POST"])
@require(*PLANNERS)
@blp.response(200, PlanSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def publish(day):
    """Publish the plan: it becomes the inspectors' today (GET /api/me/today), each stop with its id."""
    d = _day(day)
    service.publish(d, current_user())
    return _plan(d)


@blp.route("/plans/<day>/unpublish", methods=["POST"])
@require(*PLANNERS)
@blp.response(200, PlanSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def unpublish(day):
    """Take a published plan back to draft, to change it (refused once a stop was visited)."""
    d = _day(day)
    service.unpublish(d, current_user())
    return _plan(d)

"""People (admin): roles, parks, certificates and their expiry, auxiliary staff, conflict
declarations, leave, password resets, disabling. Every change is audited."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.users import (
    ConflictCreateSchema, ExpiringCertificatesSchema, LeaveCalendarSchema, LeaveCreateSchema, LeaveQuerySchema,
    PasswordResetAnswerSchema, PasswordResetSchema, UserCreateSchema, UserDetailSchema, UserListQuerySchema,
    UserListSchema, UserUpdateSchema,
)

from ..access import current_user, park_scope, require
from ..services import users as service

blp = Blueprint("users", __name__, description="People: roles, parks, certificates, conflicts, leave (admin)")


@blp.route("/users")
class Users(MethodView):
    @require("admin")
    @blp.arguments(UserListQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, UserListSchema)
    def get(self, args):
        """Everyone (admin), filtered by text, role, park, active and certificate state today."""
        return service.list_users(**args)

    @require("admin")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserDetailSchema)
    @blp.alt_response(409, response="CONFLICT", description="the username or the certificate number is taken")
    def post(self, body):
        """Add a user (admin). Without `password` one is made and answered once in `password`."""
        return service.admin_create(body, current_user().id)


@blp.route("/users/<int:user_id>")
class UserItem(MethodView):
    @require("admin")
    @blp.response(200, UserDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, user_id):
        """One user with their conflict declarations and leave (admin)."""
        return service.user_detail(user_id)

    @require("admin")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="the certificate number is another officer's")
    def patch(self, body, user_id):
        """Change a user (admin): role, parks, certificate and expiry, auxiliary flag, ... only the fields sent."""
        return service.admin_update(user_id, body, current_user().id)


@blp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@require("admin")
@blp.arguments(PasswordResetSchema, required=False)  # no body: the server makes the password
@blp.response(200, PasswordResetAnswerSchema)
@blp.alt_response(404, response="NOT_FOUND")
def reset_password(body, user_id):
    """Set a new password (admin) or, without one, make one shown this once; every token the user
    holds is revoked."""
    return service.admin_reset_password(user_id, body.get("password"), current_user().id)


@blp.route("/users/<int:user_id>/disable", methods=["POST"])
@require("admin")
@blp.response(200, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="an admin cannot disable their own account")
def disable(user_id):
    """Disable a user (admin): their tokens are revoked and they cannot log in."""
    return service.admin_set_active(user_id, False, current_user().id)


@blp.route("/users/<int:user_id>/enable", methods=["POST"])
@require("admin")
@blp.response(200, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
def enable(user_id):
    """Enable a disabled user again (admin); they log in with their password."""
    return service.admin_set_active(user_id, True, current_user().id)


@blp.route("/users/<int:user_id>/conflicts", methods=["POST"])
@require("admin")
@blp.arguments(ConflictCreateSchema)
@blp.response(201, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="this conflict is already declared")
def add_conflict(body, user_id):
    """Record a conflict of interest (回避, admin): the person is never sent to that site."""
    return service.add_conflict(user_id, body["site_id"], body["reason"], current_user().id)


@blp.route("/users/<int:user_id>/conflicts/<int:conflict_id>", methods=["DELETE"])
@require("admin")
@blp.response(200, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
def remove_conflict(user_id, conflict_id):
    """Withdraw a conflict declaration (admin)."""
    return service.remove_conflict(user_id, conflict_id, current_user().id)


@blp.route("/users/<int:user_id>/leaves", methods=["POST"])
@require("admin")
@blp.arguments(LeaveCreateSchema)
@blp.response(201, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="it overlaps a leave already recorded")
def add_leave(body, user_id):
    """Record leave (admin): the planner sends nobody on leave."""
    return service.add_leave(user_id, body["start_date"], body["end_date"], body["note"], current_user().id)


@blp.route("/users/<int:user_id>/leaves/<int:leave_id>", methods=["DELETE"])
@require("admin")
@blp.response(200, UserDetailSchema)
@blp.alt_response(404, response="NOT_FOUND")
def remove_leave(user_id, leave_id):
    """Cancel a leave (admin)."""
    return service.remove_leave(user_id, leave_id, current_user().id)


@blp.route("/leaves", methods=["GET"])
@require("admin", "scheduler", "supervisor")
@blp.arguments(LeaveQuerySchema, location="query", unknown=RAISE)
@blp.response(200, LeaveCalendarSchema)
def leave_calendar(args):
    """The leave calendar: every leave overlapping from..to (at most a year), of the people sharing
    a park with you (everyone for an admin). Schedulers and supervisors read it to plan."""
    return service.leave_calendar(args["date_from"], args["date_to"], park_scope(current_user()))


@blp.route("/certificates/expiring", methods=["GET"])
@require("admin")
@blp.response(200, ExpiringCertificatesSchema)
def expiring():
    """Certificates expiring within the policy's certificate_warning_days (default 30), and those
    already expired (no longer counted as certified officers): the admin's warning."""
    return service.expiring_certificates()

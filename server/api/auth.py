from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from schemas.auth import LoginSchema, TokenSchema

from ..access import bearer_token, current_user, require
from ..services import auth as auth_service

blp = Blueprint("auth", __name__, description="Log in and out")


def client_addr() -> str:
    # Behind a proxy this is the client's address only with FIELDCHECK_TRUSTED_PROXIES set.
    return request.remote_addr or "unknown"


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, response="UNAUTHORIZED", description="wrong username or password")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS", description="too many failed logins; see Retry-After")
    def post(self, body):
        """Log in: a new bearer token for a username and password."""
        try:
            token, row = auth_service.login(body["username"], body["password"], client_addr())
        except auth_service.LoginThrottled as t:
            who = "this username" if t.which == "username" else "this address"
            abort(429, message=f"too many failed logins for {who}; try again in {t.retry_after_s} s",
                  headers={"Retry-After": str(t.retry_after_s)})
        except auth_service.LoginFailed:
            abort(401, message="wrong username or password, or the account is disabled")
        user = row.user
        return {"token": token, "expires_at": row.expires_at,
                "user": {"id": user.id, "username": user.username, "name": user.name,
                         "role": user.role, "park_ids": user.park_ids}}

    @require()
    @blp.response(204)
    def delete(self):
        """Log out: revoke the token this request carries."""
        auth_service.revoke(bearer_token(), current_user().id)

"""API blueprints: thin (validate with a schema, call a service, answer)."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask, api) -> None:
    from . import (
        actions, audit, auth, checklists, draws, findings, health, parks, photos, plans, policy, sites, stats, sync, today,
        users,
    )

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "token from POST /api/auth/token"}
    )
    for module in (health, auth, audit, parks, sites, today, sync, findings, stats, photos, policy, actions, plans,
                   draws, users, checklists):
        api.register_blueprint(module.blp, url_prefix="/api")

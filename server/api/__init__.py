"""API blueprints: thin (validate with a schema, call a service, answer)."""
from __future__ import annotations

import importlib

from flask import Flask

# One module per line, in the order the OpenAPI document lists them.
BLUEPRINTS = (
    "health",
    "auth",
    "audit",
    "parks",
    "sites",
    "today",
    "sync",
    "findings",
    "stats",
    "photos",
    "policy",
    "actions",
    "plans",
    "draws",
    "webhooks",
    "devices",
    "documents",
    "exports",
    "public",
    "imports",
    "users",
    "checklists",
)


def register_blueprints(app: Flask, api) -> None:
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "token from POST /api/auth/token"}
    )
    for name in BLUEPRINTS:
        module = importlib.import_module(f"{__name__}.{name}")
        api.register_blueprint(module.blp, url_prefix="/api")
    # Last: every operation registered above gets its error answers documented.
    from .openapi_errors import complete_error_responses

    complete_error_responses(api.spec, app.config)

"""Every operation's error answers, documented from what the operation is.

flask-smorest documents the answers a view declares (@blp.response, @blp.alt_response); the
errors the framework and the app give on their own were missing from the document: 400 for a
body that is not JSON, 413 over the body limit, 415 for a body of the wrong media type, 422 for
fields that fail their schema, 404 for an id in the path that names nothing, 401/403 for a
protected operation. This pass runs once after every blueprint is registered and adds them from
the operation's shape (a request body, path parameters, a query, a security requirement), so an
endpoint added later is documented without anyone remembering to; the fuzz test
(tests/test_fuzz.py) fails on any status an operation answers that its entry does not list.
"""
from __future__ import annotations

import http

from ..config import json_body_limit

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

# status -> what it means in fieldcheck (the component is flask-smorest's, named after http.HTTPStatus)
ERRORS = {
    "400": "the body is not well-formed JSON (or is nested too deeply to be a fieldcheck request)",
    "401": "no token, or the token is unknown, expired or revoked, or its user is disabled; "
           "log in with POST /api/auth/token and send `Authorization: Bearer <token>`",
    "403": "your role may not do this, or the object belongs to a park you are not assigned to",
    "404": "the id in the path names nothing (or nothing you could know of)",
    "409": "not allowed in the object's present state, or it would duplicate another",
    "413": "the body is over the server's limit",
    "415": "the body is not of the media type the operation takes",
    "422": "a field is missing, unknown, or fails its rule; `errors` names each field",
    "429": "too many attempts; `Retry-After` says when to try again",
}


def _component(code: str) -> str:
    return http.HTTPStatus(int(code)).name  # the name Python gives it (413 is CONTENT_TOO_LARGE from 3.13)


def _limits_text(config) -> str:
    mb = config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
    json_mb = json_body_limit(config) / (1024 * 1024)
    photo_mb = config["PHOTO_MAX_BYTES"] / (1024 * 1024)
    return (f"Limits: a JSON body of at most {json_mb:g} MiB and a photo upload of at most {mb:g} MiB (413 beyond; "
            f"a declared Content-Length over it is refused before the body is read); a photo of at most "
            f"{photo_mb:g} MiB and {config['PHOTO_MAX_PIXELS'] / 1e6:g} megapixels (413); at most "
            f"{config['LOGIN_MAX_PER_USER']} failed logins per username and {config['LOGIN_MAX_PER_ADDR']} per client "
            f"address in {config['LOGIN_WINDOW_S']} s (429 with Retry-After); a bearer token lives "
            f"{config['TOKEN_TTL_HOURS']} h. Every error answers in the `Error` shape "
            "`{code, status, message, errors}`; `message` says what to do.")


def complete_error_responses(spec, config) -> None:
    """Add the error answers every operation can give to its entry in the OpenAPI document."""
    components = spec.components
    for code, text in ERRORS.items():
        components.get_ref("response", _component(code))  # registers flask-smorest's lazy component
        components.responses[_component(code)]["description"] = text
    components.responses[_component("413")]["description"] = (
        f"the body is over the server's limit ({json_body_limit(config)} bytes for JSON, "
        f"{config['MAX_CONTENT_LENGTH']} for a photo upload), or over the operation's own limit (a photo's bytes "
        "or pixels, a sync batch's visits), named in the message")
    spec.options.setdefault("info", {})
    info = spec.options["info"]
    info["description"] = (info.get("description", "") + "\n\n" + _limits_text(config)).strip()

    for path, item in spec._paths.items():
        for method, op in item.items():
            if method not in HTTP_METHODS or not isinstance(op, dict):
                continue
            wanted = set()
            if op.get("security"):
                wanted |= {"401", "403"}
            params = list(op.get("parameters", [])) + list(item.get("parameters", []))
            if "{" in path:
                wanted.add("404")
            if any(isinstance(p, dict) and p.get("in") == "query" for p in params):
                wanted.add("422")
            if "requestBody" in op:
                wanted |= {"413", "415", "422"}
                if "application/json" in op["requestBody"].get("content", {}):
                    wanted.add("400")
            responses = op.setdefault("responses", {})
            for code in sorted(wanted):
                if code not in responses:
                    responses[code] = components.get_ref("response", _component(code))

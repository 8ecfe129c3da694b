"""The one error shape every API error answers in (documented as `Error` in the OpenAPI document).

flask-smorest's own shape `{code, status, message, errors}` plus the extras a service adds so the
client can act (ServiceError(..., **extra)). A new extra must be added here: the fuzz test
(tests/test_fuzz.py) checks every error body against this schema and refuses an undocumented key.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ClosingConditionSchema(ma.Schema):
    """One condition of closing without penalty and whether it is met (not a checklist item)."""
    key = fields.String()
    status = fields.String()
    detail = fields.String()


class ErrorSchema(ma.Schema):
    code = fields.Integer(metadata={"description": "the HTTP status, repeated"})
    status = fields.String(metadata={"description": "the status's name"})
    message = fields.String(metadata={"description": "what went wrong and what to do, in words a person can act on"})
    errors = fields.Dict(metadata={"description": "per location (json, query, files...) and field, its messages"})
    allowed_next = fields.List(fields.String(), metadata={
        "description": "409: the actions the object admits in its present state"})
    problems = fields.List(fields.String(), metadata={
        "description": "422 on filing a case or forming teams: each reason the people named do not qualify"})
    missing = fields.List(fields.String(), metadata={
        "description": "409 on closing without penalty: the conditions not yet met"})
    checklist = fields.List(fields.Nested(ClosingConditionSchema), metadata={
        "description": "409 on closing without penalty: every condition and its status"})
    max_bytes = fields.Integer(metadata={"description": "413: the largest photo accepted, in bytes"})
    max_pixels = fields.Integer(metadata={"description": "413: the largest photo accepted, in pixels"})
    max_visits_per_batch = fields.Integer(metadata={"description": "413 on sync: the most visits a batch may hold"})
    visits = fields.Integer(metadata={"description": "413 on sync: how many visits this batch held"})

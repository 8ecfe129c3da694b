"""The one error a service raises when a request cannot be carried out.

The app answers it in the API's error shape (server/__init__.py), so blueprints need no
try/except: `raise ServiceError("why, in words a person can act on", fields=("deadline",))`.
"""
from __future__ import annotations


class ServiceError(ValueError):
    def __init__(self, message: str, fields: tuple[str, ...] = (), status: int = 422, location: str = "json",
                 **extra):
        super().__init__(message)
        self.fields = tuple(fields)
        self.status = status
        self.location = location
        # More the client can act on, e.g. allowed_next=["notify", "transfer"] on a 409.
        self.extra = extra

    @property
    def errors(self) -> dict:
        return {self.location: {f: [str(self)] for f in self.fields}} if self.fields else {}


class NotFound(ServiceError):
    def __init__(self, message: str):
        super().__init__(message, status=404)


class Conflict(ServiceError):
    """An illegal state transition or a clash with stored data (409)."""

    def __init__(self, message: str, fields: tuple[str, ...] = (), **extra):
        super().__init__(message, fields, status=409, **extra)

"""Shared extension objects, bound to an app in create_app()."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Api as _Api
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase
import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from schemas.errors import ErrorSchema


# Stable constraint names: the same migration then runs on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Headers a client needs to act on an error (405 Allow, 429 Retry-After, 401 challenge).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class Parser(FlaskParser):
    """Unknown query parameters are refused like unknown body fields: a misspelt filter
    must not silently return everything."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE, "querystring": ma.RAISE}

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except RecursionError:
            # json.loads recurses per nesting level; no payload of ours nests more than a few.
            from flask_smorest import abort

            abort(400, message="the JSON body is nested too deeply to be a fieldcheck request",
                  errors={"json": ["nested too deeply"]})
        except ValueError as err:
            # Not a JSONDecodeError (webargs answers those): Python refuses to read a number of more
            # than 4300 digits ("Exceeds the limit ... for integer string conversion").
            from flask_smorest import abort

            abort(400, message=f"the JSON body cannot be read: {str(err)[:120]}", errors={"json": ["unreadable"]})


class MaxStream(LimitedStream):
    """The request body stream when only the server's limit bounds it (a chunked body, no
    Content-Length). Werkzeug's stream stops silently at the limit when the body is read whole
    (`get_data`, hence JSON), handing the app the first MAX_CONTENT_LENGTH bytes as if they were
    all; this one answers 413 when anything is left beyond the limit."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class Request(flask.Request):
    @cached_property
    def stream(self):
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True', reading from the input stream is disabled.")
        stream = get_input_stream(self.environ, max_content_length=self.max_content_length)
        if isinstance(stream, LimitedStream) and stream._limit_is_max:
            return MaxStream(stream._stream, stream.limit, is_max=True)
        return stream


Blueprint.ARGUMENTS_PARSER = Parser()


class Id(IntegerConverter):
    """`<int:id>` in a URL: ids beyond the engines' 32-bit keys are 404, not a driver error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _first_field_message(errors, path=()) -> str | None:
    if isinstance(errors, dict):
        for key, value in errors.items():
            found = _first_field_message(value, path + (str(key),))
            if found:
                return found
    elif isinstance(errors, list) and errors:
        if all(isinstance(e, str) for e in errors):
            where = ".".join(p for p in path if p not in ("json", "query", "querystring", "_schema"))
            return f"{where}: {errors[0]}" if where else errors[0]
        return _first_field_message(errors[0], path)
    return None


class Api(_Api):
    """flask-smorest's Api with an error handler that keeps the exception's own
    headers and always says something a person can act on."""

    ERROR_SCHEMA = ErrorSchema  # with the extras services add (allowed_next, max_bytes...), documented

    def handle_http_exception(self, error: HTTPException):
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload and payload.get("errors"):
            first = _first_field_message(payload["errors"])
            if first:
                payload["message"] = f"invalid input: {first}"
        payload.setdefault("message", error.description or error.name)
        payload.setdefault("errors", {})
        merged = {k: v for k, v in error.get_headers() if k in _KEPT_HEADERS}
        merged.update(headers or {})
        return payload, code, merged


api = Api()

"""Pieces shared by several resources."""
from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping

import marshmallow as ma
from marshmallow import ValidationError, fields, pre_load, validate

# Ids fit both engines' integer columns; a larger number would fail in the driver, not here.
ID_RANGE = validate.Range(min=1, max=2**31 - 1, error="an id is a whole number from 1 to 2147483647")


# Set while a StrictSchema's load has walked its whole data for NUL (see StrictSchema.load).
_nul_walked: contextvars.ContextVar[bool] = contextvars.ContextVar("nul_walked", default=False)


def _has_nul(value) -> bool:
    """Whether any text in the value holds NUL (what `_nul_paths` walks: a mapping's values,
    a list's items), without building a path for every value; `_nul_paths` then names them."""
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is str:
            if "\x00" in v:
                return True
        elif kind is dict:
            stack.extend(v.values())
        elif kind is list:
            stack.extend(v)
        elif kind is int or kind is bool or kind is float or v is None:
            continue
        elif isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _nul_paths(value, path=()):
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, Mapping):  # a JSON object, or webargs' view of a query string
        for k, v in value.items():
            yield from _nul_paths(v, path + (str(k),))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _nul_paths(v, path + (str(i),))


class StrictSchema(ma.Schema):
    """Unknown fields are refused (422 naming the field), never silently dropped; so is the
    NUL character in any text, which PostgreSQL cannot store."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    def _do_load(self, data, **kw):  # under load() and validate() alike
        # A schema nested in another StrictSchema loads part of the data its parent's hook
        # already walked whole (every key, known or not): it need not walk it again. The mark
        # lasts while the outermost such load runs.
        outer = _nul_walked.get()
        try:
            return super()._do_load(data, **kw)
        finally:
            if not outer:
                _nul_walked.set(False)

    @pre_load
    def _refuse_nul(self, data, many=False, **_kw):
        if _nul_walked.get():
            return data
        if isinstance(data, Mapping):
            bad = list(_nul_paths(data)) if _has_nul(data) else ()
            if bad:
                raise ValidationError({".".join(p) or "_schema": ["must not contain the NUL character (\\u0000)"] for p in bad})
            if not many:  # with many, the hook sees one item at a time: the next is not walked yet
                _nul_walked.set(True)
        return data


class Text(fields.String):
    """A string trimmed of surrounding white space (a blank one then fails a minimum length)."""

    def _deserialize(self, value, attr, data, **kw):
        return super()._deserialize(value, attr, data, **kw).strip()


class Longitude(fields.Float):
    def __init__(self, **kw):
        kw.setdefault("validate", validate.Range(min=-180, max=180, error="longitude must be between -180 and 180 (WGS 84 degrees)"))
        kw.setdefault("allow_nan", False)
        super().__init__(**kw)


class Latitude(fields.Float):
    def __init__(self, **kw):
        kw.setdefault("validate", validate.Range(min=-90, max=90, error="latitude must be between -90 and 90 (WGS 84 degrees)"))
        kw.setdefault("allow_nan", False)
        super().__init__(**kw)


class PointSchema(StrictSchema):
    lon = Longitude(required=True)
    lat = Latitude(required=True)


class GeoJSONFeatureCollection(ma.Schema):
    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Dict())


class CursorPageSchema(ma.Schema):
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as ?cursor= for the next page; null at the end"})


class _Unsure(Exception):
    """The fast load met something it does not handle itself, or an error: the schema decides."""


class QuickLoad:
    """`schema.load(data)` for the common case, without marshmallow's per-load machinery.

    Each field is still read by its own `deserialize` (the same conversion, defaults and
    validators) and each `@validates_schema` hook still runs on the result; nested schemas
    are read the same way. What it leaves out is only bookkeeping a valid record does not
    need: the error store, the hooks' dispatch, the getters. Anything it is unsure of (an
    error of any kind, an unknown key, NUL in a text, a value not a JSON object where one
    is expected) makes it answer None, and the caller loads the data with the schema itself,
    which answers exactly as before (the messages included). A schema with any hook this
    does not know (other pre- or post-load processing, `@validates` of a field), partial or
    many loading, or an `unknown` other than RAISE is never read this way (`usable` is
    False)."""

    def __init__(self, schema: StrictSchema):
        self.schema = schema
        self.usable = self._plan(schema)

    @classmethod
    def _plan(cls, schema) -> bool:
        hooks = schema._hooks
        if (schema.many or schema.partial or schema.unknown != ma.RAISE or hooks.get(ma.decorators.POST_LOAD)
                or hooks.get(ma.decorators.VALIDATES)
                or [h for h in hooks.get(ma.decorators.PRE_LOAD, ()) if h[0] != "_refuse_nul"]
                or type(schema)._refuse_nul is not StrictSchema._refuse_nul
                or any(h[1] or h[2].get("pass_original") for h in hooks.get(ma.decorators.VALIDATES_SCHEMA, ()))):
            return False
        for field in schema.load_fields.values():
            if field.attribute is not None and field.attribute != field.name:
                return False
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                if inner.many or inner.only or inner.exclude or inner.validators or inner.unknown not in (None, ma.RAISE):
                    return False
                if isinstance(field, fields.List) and (field.validators or field.pre_load or field.post_load):
                    return False
                if inner.pre_load or inner.post_load:
                    return False
                if not isinstance(inner.schema, StrictSchema) or not cls._plan(inner.schema):
                    return False
        return True

    def __call__(self, data):
        if not self.usable or type(data) is not dict or _has_nul(data):
            return None
        try:
            return _load(_plans(self.schema), data)
        except (_Unsure, ValidationError):
            return None


# How each field of a schema is read: (name, key, field, kind, the nested plan, validators).
_LEAF, _NESTED, _NESTED_LIST, _STR, _BOOL, _INT, _TEXT, _FLOAT, _UUID, _UUID_LIST = range(10)


def _stock(field, cls, *methods) -> bool:
    """The field reads values as `cls` does (its class changes no method that loading calls)."""
    return (isinstance(field, cls) and not field.pre_load and not field.post_load
            and all(getattr(type(field), m) is getattr(cls, m) for m in methods))
_PLANS: dict[int, tuple] = {}


def _plans(schema) -> tuple:
    plan = _PLANS.get(id(schema))
    if plan is not None and plan[0] is schema:
        return plan[1]
    steps = []
    for name, field in schema.load_fields.items():
        key = field.data_key if field.data_key is not None else name
        kind, sub = _LEAF, None
        plain = not field.pre_load and not field.post_load
        if isinstance(field, fields.Nested):
            kind, sub = _NESTED, field.schema
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            kind, sub = _NESTED_LIST, field.inner.schema
        elif type(field) is fields.String and plain:
            kind = _STR  # a str is its own value (ensure_text_type); then the validators
        elif type(field) is fields.Boolean and plain and True in field.truthy and False in field.falsy:
            kind = _BOOL  # True and False are their own values
        elif type(field) is fields.Integer and plain:
            kind = _INT  # an int (not a bool) is its own value: int(value)
        elif type(field) is Text and plain:
            kind = _TEXT  # a str, stripped
        elif _stock(field, fields.Float, "deserialize", "_deserialize", "_validated", "_format_num", "_validate"):
            kind = _FLOAT  # a float is its own value: float(value), then NaN and infinities refused
        elif _stock(field, fields.UUID, "deserialize", "_deserialize", "_validated", "_validate"):
            kind = _UUID  # a str read by uuid.UUID (whatever it refuses, the field answers)
        elif (type(field) is fields.List and plain and type(field.inner) is fields.UUID
              and not field.inner.pre_load and not field.inner.post_load and not field.inner.validators):
            kind = _UUID_LIST
        steps.append((name, key, field, kind, sub, tuple(field.validators)))
    hooks = tuple(getattr(schema, attr_name) for attr_name, _m, _kw in schema._hooks.get(ma.decorators.VALIDATES_SCHEMA, ()))
    plan = (tuple(steps), hooks)
    _PLANS[id(schema)] = (schema, plan)
    return plan


_INF = float("inf")


def _unsure():
    raise _Unsure()


def _load(plan: tuple, data: dict) -> dict:
    steps, hooks = plan
    out = {}
    keys = 0
    for name, key, field, kind, sub, validators in steps:
        value = data.get(key, ma.missing)
        if value is ma.missing or value is None:
            result = field.deserialize(value, key, data)  # the default, None when allowed, or an error
            if result is ma.missing:
                if value is not ma.missing:
                    keys += 1
                continue
            if value is not ma.missing:
                keys += 1
            out[name] = result
            continue
        keys += 1
        if kind == _STR:
            if type(value) is not str:
                raise _Unsure()
        elif kind == _BOOL:
            if value is not True and value is not False:
                raise _Unsure()
        elif kind == _INT:
            if type(value) is not int:
                raise _Unsure()
        elif kind == _TEXT:
            if type(value) is not str:
                raise _Unsure()
            value = value.strip()
        elif kind == _FLOAT:
            if type(value) is not float or value != value or value in (_INF, -_INF):
                raise _Unsure()
        elif kind == _UUID:
            if type(value) is not str:
                raise _Unsure()
            try:
                value = uuid.UUID(value)
            except (ValueError, AttributeError, TypeError):
                raise _Unsure() from None
        elif kind == _UUID_LIST:
            if type(value) is not list:
                raise _Unsure()
            try:
                value = [uuid.UUID(v) if type(v) is str else _unsure() for v in value]
            except (ValueError, AttributeError, TypeError):
                raise _Unsure() from None
        elif kind == _NESTED:
            if type(value) is not dict:
                raise _Unsure()
            out[name] = _load(_plans(sub), value)
            continue
        elif kind == _NESTED_LIST:
            if type(value) is not list:
                raise _Unsure()
            sub_plan = _plans(sub)
            items = []
            for v in value:
                if type(v) is not dict:
                    raise _Unsure()
                items.append(_load(sub_plan, v))
            out[name] = items
            continue
        else:
            out[name] = field.deserialize(value, key, data)
            continue
        for validator in validators:  # the field's own, as And runs them
            if validator(value) is False:
                raise _Unsure()
        out[name] = value
    if keys != len(data):  # a key the schema does not know: RAISE names it
        raise _Unsure()
    for hook in hooks:
        hook(out, partial=None, many=False, unknown=ma.RAISE)
    return out


class QuickDumpSchema(ma.Schema):
    """A schema whose `dump` of plain JSON-like dicts skips marshmallow's per-field machinery
    where the value is already what the field would make of it: a str for a String, an int for
    an Integer, a float for a Float, True or False for a Boolean, a dict for a Nested schema
    of this kind, a list of those for a List. Every other value (None, a missing key, a Dict,
    an int for a Float, an object) is serialized by its field exactly as marshmallow does. A
    schema with dump hooks, `only`/`exclude`, or its own `get_attribute` dumps as marshmallow
    always does. For a large answer (a sync batch's receipts) this is most of its cost."""

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        if not _dumps_quickly(self):
            return super().dump(obj, many=many)
        if many and obj is not None:
            return [_dump(self, o) for o in obj]
        return _dump(self, obj)


_DUMP_PLANS: dict[int, tuple] = {}


def _dumps_quickly(schema) -> bool:
    hooks = schema._hooks
    return (isinstance(schema, QuickDumpSchema) and not hooks.get(ma.decorators.PRE_DUMP)
            and not hooks.get(ma.decorators.POST_DUMP) and not schema.only and not schema.exclude
            and type(schema).get_attribute is ma.Schema.get_attribute)


def _dump_plan(schema) -> tuple:
    plan = _DUMP_PLANS.get(id(schema))
    if plan is not None and plan[0] is schema:
        return plan[1]
    steps = []
    for name, field in schema.dump_fields.items():
        get = field.attribute if field.attribute is not None else name
        out = field.data_key if field.data_key is not None else name
        kind, sub = None, None
        inner = field.inner if type(field) is fields.List else None
        if "." in get or get in _DICT_ATTRIBUTES:
            kind = None  # marshmallow's accessor walks dotted names and falls back to attributes
        elif type(field) is fields.String:
            kind = str
        elif type(field) is fields.Integer and not field.as_string:
            kind = int
        elif type(field) is fields.Float and not field.as_string:
            kind = float
        elif type(field) is fields.Boolean and True in field.truthy and False in field.falsy:
            kind = bool
        elif (type(field) is fields.Nested and not field.many and not field.only and not field.exclude
              and _dumps_quickly(field.schema) and not field.schema.many):
            kind, sub = dict, field.schema
        elif inner is not None and type(inner) is fields.String:
            kind = "strings"
        elif (inner is not None and type(inner) is fields.Nested and not inner.many and not inner.only
              and not inner.exclude and _dumps_quickly(inner.schema) and not inner.schema.many):
            kind, sub = "nested", inner.schema
        steps.append((name, get, out, field, kind, sub))
    plan = tuple(steps)
    _DUMP_PLANS[id(schema)] = (schema, plan)
    return plan


_DICT_ATTRIBUTES = frozenset(dir(dict))


def _dump(schema, obj) -> dict:
    plan = _dump_plan(schema)
    quick = type(obj) is dict
    ret = {}
    for name, get, out, field, kind, sub in plan:
        value = obj.get(get, ma.missing) if quick and kind is not None else ma.missing
        if value is ma.missing or value is None:
            value = field.serialize(name, obj, accessor=schema.get_attribute)
            if value is ma.missing:
                continue
        elif kind is dict:
            value = _dump(sub, value) if type(value) is dict else field.serialize(name, obj, accessor=schema.get_attribute)
        elif kind == "nested":
            value = ([_dump(sub, v) for v in value] if type(value) is list and all(type(v) is dict for v in value)
                     else field.serialize(name, obj, accessor=schema.get_attribute))
        elif kind == "strings":
            value = (list(value) if type(value) is list and all(type(v) is str for v in value)
                     else field.serialize(name, obj, accessor=schema.get_attribute))
        elif kind is bool:
            if value is not True and value is not False:
                value = field.serialize(name, obj, accessor=schema.get_attribute)
        elif type(value) is not kind:
            value = field.serialize(name, obj, accessor=schema.get_attribute)
        ret[out] = value
    return ret

"""Column types shared by the models."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware datetime stored in UTC on both engines (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: fieldcheck stores only aware datetimes")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def choice(*values: str, name: str) -> sa.Enum:
    """A closed set of words stored as text with a CHECK constraint on both engines."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(len(v) for v in values))


def point() -> Geometry:
    return Geometry(geometry_type="POINT", srid=4326, spatial_index=True)


def multipolygon() -> Geometry:
    return Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=True)

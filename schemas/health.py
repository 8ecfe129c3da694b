from marshmallow import fields

from .common import StrictSchema


class HealthSchema(StrictSchema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"description": "spatialite or postgis"})
    sqlite_module = fields.String(allow_none=True, metadata={"description": "the DB-API module that loaded SpatiaLite"})
    spatial_version = fields.String()
    schema_revision = fields.String(allow_none=True)
    version = fields.String()

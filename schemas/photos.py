"""Photos: the upload's form (the bytes and what the phone knows about them) and the stored photo."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from .common import Latitude, Longitude, StrictSchema, Text

SHA256_RE = r"^[0-9a-fA-F]{64}$"


class PhotoUploadSchema(StrictSchema):
    """multipart/form-data, as a browser sends a FormData: the `file` part (the Blob, with its
    type) and one text part per field. Text parts carry Unicode, unlike a header."""

    file = Upload(required=True, metadata={
        "description": "the photo's bytes exactly as hashed on the phone: JPEG, PNG, WebP or HEIC"})
    finding_id = fields.UUID(metadata={"description": "the finding it proves (or give visit_id)"})
    visit_id = fields.UUID(metadata={"description": "the visit it belongs to, for a photo of no one finding "
                                                    "(a signature, a re-inspection's proof)"})
    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_RE, error="sha256 is 64 hex digits"),
                           metadata={"description": "SHA-256 of the bytes, computed on the phone at capture"})
    captured_at = fields.AwareDateTime(required=True, metadata={
        "description": "when it was taken, by the device's clock, ISO 8601 with offset"})
    lon = Longitude(metadata={"description": "the phone's fix when it was taken (WGS 84), with lat"})
    lat = Latitude(metadata={"description": "with lon"})
    accuracy_m = fields.Float(allow_nan=False, validate=validate.Range(
        min=0, max=100_000, error="accuracy_m is a radius in metres from 0 to 100000"),
        metadata={"description": "the fix's accuracy radius in metres (the Geolocation API's accuracy)"})
    purpose = Text(load_default="", validate=validate.Length(max=80, error="purpose is at most 80 characters"),
                   metadata={"description": "what it is meant to prove"})

    @validates_schema
    def _one_record_and_a_whole_fix(self, data, **_kw):
        if ("finding_id" in data) == ("visit_id" in data):
            raise ValidationError("name exactly one of finding_id and visit_id: the record this photo belongs to",
                                  "finding_id")
        if ("lon" in data) != ("lat" in data):
            raise ValidationError("lon and lat come together", "lat" if "lon" in data else "lon")
        if "accuracy_m" in data and "lon" not in data:
            raise ValidationError("accuracy_m describes a fix: send it with lon and lat", "accuracy_m")

    @post_load
    def _lower_hash(self, data, **_kw):
        data["sha256"] = data["sha256"].lower()
        return data


class FixSchema(StrictSchema):
    lon = fields.Float()
    lat = fields.Float()
    accuracy_m = fields.Float(allow_none=True)


class ExifSchema(StrictSchema):
    lon = fields.Float(allow_none=True)
    lat = fields.Float(allow_none=True)
    captured_at = fields.AwareDateTime(allow_none=True, metadata={"description": "DateTimeOriginal, placed in the "
                                                                                  "bureau's zone when it has no offset"})
    offset_m = fields.Float(allow_none=True, metadata={"description": "metres between the EXIF position and the phone's fix"})


class PhotoSchema(StrictSchema):
    id = fields.UUID()
    status = fields.String(metadata={"description": "waiting (named by a record, bytes not received) or stored"})
    finding_id = fields.UUID(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    claimed_finding_id = fields.UUID(allow_none=True, metadata={
        "description": "the finding the upload named (kept even before that record arrives)"})
    claimed_visit_id = fields.UUID(allow_none=True)
    linked = fields.Boolean(metadata={
        "description": "false while the record it names has not arrived: it is kept and linked when it does"})
    purpose = fields.String()
    sha256 = fields.String(allow_none=True)
    content_type = fields.String(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    width = fields.Integer(allow_none=True, metadata={"description": "upright width in pixels"})
    height = fields.Integer(allow_none=True, metadata={"description": "upright height in pixels"})
    captured_at = fields.AwareDateTime(allow_none=True, metadata={"description": "the device's clock"})
    received_at = fields.AwareDateTime(allow_none=True, metadata={"description": "the server's clock"})
    fix = fields.Nested(FixSchema, allow_none=True, metadata={"description": "the phone's claim"})
    exif = fields.Nested(ExifSchema, allow_none=True, metadata={"description": "what the file's EXIF says, if anything"})
    flags = fields.List(fields.String(), metadata={
        "description": "gps_differs, time_differs: the EXIF disagrees with the phone beyond the thresholds"})
    url = fields.String(allow_none=True, metadata={"description": "the original, byte for byte"})
    thumb = fields.String(allow_none=True, metadata={"description": "an upright JPEG, 320 px on the long edge"})
    display = fields.String(allow_none=True, metadata={"description": "an upright JPEG, 1600 px on the long edge"})

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload

from tasktracker.domain import rules


class UploadFormSchema(ma.Schema):
    file = Upload(
        required=True,
        metadata={"description": "The file; at most MAX_UPLOAD_BYTES (25 MiB unless configured otherwise)"},
    )


class AttachmentSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    filename = ma.fields.String(required=True, metadata={"description": "The uploaded name, without any path"})
    content_type = ma.fields.String(required=True)
    size_bytes = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class UploadRequestSchema(ma.Schema):
    content_type = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=255),
        metadata={"description": "The file's media type; S3 accepts the upload only with this Content-Type"},
    )


class UploadTicketSchema(ma.Schema):
    attachment_id = ma.fields.UUID(required=True, metadata={"description": "Send it back to confirm the upload"})
    url = ma.fields.String(required=True, metadata={"description": "Where to POST the form"})
    # `fields` is a Schema attribute of its own: the field takes another name and keeps `fields` on the wire.
    form_fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        data_key="fields",
        metadata={"description": "Form fields to send as they are, before the `file` field"},
    )
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds the form stays valid"})
    max_bytes = ma.fields.Integer(required=True, metadata={"description": "Largest file S3 will accept"})


class ConfirmUploadSchema(ma.Schema):
    attachment_id = ma.fields.UUID(required=True)
    filename = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=rules.FILENAME_MAX_LENGTH))

"""HTTP only: parse, call the use case, answer. Rules live in the application layer."""

from __future__ import annotations

import unicodedata
from typing import Any, BinaryIO, cast
from urllib.parse import quote
from uuid import UUID

from flask import Response, current_app, request

from tasktracker.application.attachments import AttachmentUseCases, clean_content_type
from tasktracker.domain.entities import Attachment
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import (
    AttachmentSchema,
    ConfirmUploadSchema,
    UploadFormSchema,
    UploadRequestSchema,
    UploadTicketSchema,
)
from .uploads import open_file_part

blp = FunctionBlueprint(
    "attachments",
    __name__,
    url_prefix="/api/v1",
    description="Files attached to tasks, kept in S3. Everyone may list and download; only the task's owner may "
    "add or remove.",
)

BINARY_BODY = {"type": "string", "format": "binary"}


def use_cases() -> AttachmentUseCases:
    attachments: AttachmentUseCases = current_app.extensions["attachment_use_cases"]
    return attachments


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback for old clients, then the exact name in UTF-8 (RFC 8187) for the rest."""
    ascii_only = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    # Quotes and backslashes would need escaping inside the quoted string, which some clients get wrong.
    fallback = "".join(ch if ch.isprintable() and ch not in '"\\' else "_" for ch in ascii_only).strip() or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@blp.route("/tasks/<uuid:task_id>/attachments", methods=["POST"])
@blp.requires_sign_in
# Documented as the form it is, but not parsed by webargs: that would spool the whole file before the view runs.
@blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadFormSchema}}})
@blp.response(201, AttachmentSchema)
@blp.error(400, description="No `file` part, or a body that is not multipart or ends before its last boundary")
@blp.error(403, description="Only the task's owner may add attachments")
@blp.error(404, description="The task does not exist")
@blp.error(413, description="The file is larger than MAX_UPLOAD_BYTES")
@blp.error(503, description="File storage is unavailable; nothing was stored")
def upload(task_id: UUID) -> Attachment:
    """Attach a file (multipart/form-data, field `file`); it is streamed to storage as it arrives"""
    file = open_file_part(request)
    return use_cases().upload(
        current_user_id(),
        task_id,
        filename=file.filename,
        content_type=file.content_type,
        stream=cast(BinaryIO, file.stream),
    )


@blp.route("/tasks/<uuid:task_id>/attachments", methods=["GET"])
@blp.requires_sign_in
@blp.response(200, AttachmentSchema(many=True))
@blp.error(404, description="The task does not exist")
def list_for_task(task_id: UUID) -> list[Attachment]:
    """The task's attachments, oldest first (no file data)"""
    return use_cases().list_for_task(task_id)


@blp.route("/tasks/<uuid:task_id>/attachments/upload-url", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(UploadRequestSchema, required=False)
@blp.response(200, UploadTicketSchema)
@blp.error(403, description="Only the task's owner may add attachments")
@blp.error(404, description="The task does not exist")
def request_upload(body: dict[str, Any], task_id: UUID) -> dict[str, Any]:
    """A presigned S3 form for uploading straight to storage; confirm it afterwards"""
    attachments = use_cases()
    ticket = attachments.request_upload(current_user_id(), task_id, content_type=body.get("content_type"))
    return {
        "attachment_id": ticket.attachment_id,
        "url": ticket.upload.url,
        "form_fields": ticket.upload.fields,
        "expires_in": ticket.upload.expires_in,
        "max_bytes": attachments.max_upload_bytes,
    }


@blp.route("/tasks/<uuid:task_id>/attachments/confirm", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(ConfirmUploadSchema)
@blp.response(201, AttachmentSchema)
@blp.error(403, description="Only the task's owner may add attachments")
@blp.error(404, description="The task does not exist")
@blp.error(503, description="File storage is unavailable; nothing was recorded")
def confirm_upload(body: dict[str, Any], task_id: UUID) -> Attachment:
    """Record a file uploaded with a presigned form; 400 if storage holds no such upload"""
    return use_cases().confirm_upload(
        current_user_id(), task_id, attachment_id=body["attachment_id"], filename=body["filename"]
    )


@blp.route("/attachments/<uuid:attachment_id>/download", methods=["GET"])
@blp.requires_sign_in
@blp.response(
    200,
    BINARY_BODY,
    # Served with the Content-Type it was uploaded with, whatever that is.
    content_type="*/*",
    description="The file's bytes, with its own Content-Type and a Content-Disposition: attachment",
)
@blp.error(404, description="The attachment does not exist")
@blp.error(503, description="File storage is unavailable")
def download(attachment_id: UUID) -> Response:
    """Download an attachment; streamed from storage"""
    found = use_cases().download(attachment_id)
    # Cleaned again on the way out: a row stored before the rule was this strict may hold a control character,
    # which the server would refuse to put in the header.
    content_type = clean_content_type(found.attachment.content_type)
    response = Response(found.content.chunks, status=200, content_type=content_type, direct_passthrough=True)
    response.headers["Content-Length"] = str(found.content.size_bytes)
    response.headers["Content-Disposition"] = content_disposition(found.attachment.filename)
    # Never rendered as something else than what was stored, whatever its bytes look like.
    response.headers["X-Content-Type-Options"] = "nosniff"
    # An uploaded HTML or SVG file opened in the browser anyway runs no script on the API's origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blp.route("/attachments/<uuid:attachment_id>", methods=["DELETE"])
@blp.requires_sign_in
@blp.response(204)
@blp.error(403, description="Only the task's owner may remove attachments")
@blp.error(404, description="The attachment does not exist")
@blp.error(503, description="File storage is unavailable; the attachment was kept")
def delete(attachment_id: UUID) -> None:
    """Remove an attachment: its row and its file"""
    use_cases().delete(current_user_id(), attachment_id)

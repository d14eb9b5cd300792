"""Uploads over HTTP: inline (multipart `file`), presigned (S3, or the local signed equivalent), preview."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from blueprints.api import api
from dms.clients import current_services
from dms.errors import DMSError, InvalidRequest, Text
from dms.pipeline.source import ReadOptions, validated_options
from dms.row_messages import translate_row_message
from dms.uploads import UploadLimits, Uploads, UploadTooLarge, public_record, utc_now
from factories.security import audit, current_principal, rate_limit

MAX_QUERY_OPTION_CHARS = 100
FORM_OVERHEAD_BYTES = 64 * 1024  # multipart boundaries and headers around the file
DEFAULT_LISTED_VALUES = 100
MAX_LISTED_VALUES = 1000


def current_uploads() -> Uploads:
    """The uploads service of the current app."""
    services = current_services()
    settings = current_app.config
    principal = current_principal()
    return Uploads(
        services.blobs,
        services.store("uploads"),
        UploadLimits.from_settings(settings),
        owner=principal.as_owner(),
        visible=principal.owns,
    )


def _form_file(limit: int, too_large: UploadTooLarge) -> FileStorage:
    """The multipart `file` field, parsed with the body capped at `limit` (werkzeug streams it to a temp file)."""
    request.max_content_length = limit + FORM_OVERHEAD_BYTES
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        raise too_large from None
    if upload is None:
        raise DMSError(
            Text("Send the file as a multipart/form-data field named `file`."),
            code="MISSING_FILE",
            field="file",
        )
    return upload


@api.post("/uploads")
def upload_inline() -> Any:
    """Receive a file inline (at most MAX_INLINE_UPLOAD_BYTES; larger files go by presigned upload)."""
    rate_limit("UPLOAD_LIMIT", "upload")
    uploads = current_uploads()
    uploads.check_inline_size(request.content_length)
    upload = _form_file(uploads.limits.max_inline_bytes, uploads.inline_too_large(None))
    record = uploads.receive_inline(upload.filename or "upload", upload.stream)
    audit("upload", target=record["id"], filename=record["filename"], size=record["size"])
    location = url_for("api.upload_record", upload_id=record["id"])
    return jsonify(record), 201, {"Location": location}


@api.post("/uploads/presign")
def upload_presign() -> Any:
    """A pending upload and where to POST the file: S3's presigned form, or this server's equivalent."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise DMSError(Text("Send a JSON object {filename, size}."), code="INVALID_REQUEST")
    rate_limit("UPLOAD_LIMIT", "upload")
    uploads = current_uploads()
    presigned = uploads.presign(payload.get("filename"), payload.get("size"))  # type: ignore[arg-type]
    upload_id = presigned.upload["id"]
    url = presigned.url or url_for("api.upload_content", upload_id=upload_id)
    body = {
        "upload": presigned.upload,
        "url": url,
        "method": "POST",
        "fields": presigned.fields,
        "file_field": "file",
        "expires_at": presigned.expires_at,
        # Single-use, shown only here: complete_url wants it as {"token": ...}.
        "token": presigned.token,
        "complete_url": url_for("api.upload_complete", upload_id=upload_id),
    }
    return jsonify(body), 201


@api.post("/uploads/<upload_id>/content")
def upload_content(upload_id: str) -> Any:
    """The local stand-in for S3's presigned POST: form fields `token` and `file`; 204 like S3."""
    uploads = current_uploads()
    uploads.get(upload_id)  # only the caller's own pending upload
    upload = _form_file(
        uploads.limits.max_upload_bytes,
        UploadTooLarge(
            Text(
                "Uploads are limited to %(max_upload_bytes)s bytes.",
                max_upload_bytes=f"{uploads.limits.max_upload_bytes:,}",
            )
        ),
    )
    uploads.receive_presigned_local(upload_id, request.form.get("token", ""), upload.stream)
    return "", 204


@api.post("/uploads/<upload_id>/complete")
def upload_complete(upload_id: str) -> Any:
    """Confirm a presigned upload arrived, with the token presign gave ({"token": ...}); it becomes `ready`."""
    payload = request.get_json(silent=True)
    token = payload.get("token") if isinstance(payload, dict) else request.form.get("token")
    uploads = current_uploads()
    uploads.get(upload_id)  # only the caller's own pending upload
    return jsonify(uploads.complete(upload_id, token))


@api.get("/uploads/<upload_id>")
def upload_record(upload_id: str) -> Any:
    """The upload record."""
    return jsonify(public_record(current_uploads().get(upload_id)))


def _read_option_query() -> dict[str, Any]:
    """The read options a GET names in its query (format, encoding, delimiter, sheet); each absent is detected."""
    options: dict[str, Any] = {}
    for name in ("format", "encoding", "delimiter", "sheet"):
        value = request.args.get(name)
        if value is None or value == "":
            continue
        if len(value) > MAX_QUERY_OPTION_CHARS:
            raise DMSError(Text("`%(name)s` is too long.", name=name), code="INVALID_REQUEST", field=name)
        options[name] = value
    if "sheet" in options and options["sheet"].isdigit():
        options["sheet"] = int(options["sheet"])  # a 0-based sheet index
    return options


def query_number(name: str, default: int, largest: int) -> int:
    """A whole-number query parameter from 1 to `largest` (its default when absent), else a 400 naming it."""
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdecimal() or not 1 <= int(text) <= largest:
        raise InvalidRequest(
            Text("`%(name)s` must be a whole number from 1 to %(largest)s.", name=name, largest=largest),
            field=name,
        )
    return int(text)


@api.get("/uploads/<upload_id>/preview")
def upload_preview(upload_id: str) -> Any:
    """Columns, inferred types, sample rows and what was detected; options override detection."""
    preview = current_uploads().preview(upload_id, **_read_option_query())
    preview["warnings"] = [
        translate_row_message(w, gettext) for w in preview["warnings"]
    ]  # caller's language
    preview["generated_at"] = utc_now()
    return jsonify(preview)


@api.get("/uploads/<upload_id>/columns/<path:column>/values")
def upload_column_values(upload_id: str, column: str) -> Any:
    """A column's distinct values with their counts over the whole file, for value maps."""
    limit = query_number("limit", DEFAULT_LISTED_VALUES, MAX_LISTED_VALUES)
    given = _read_option_query()
    options = validated_options(ReadOptions(**given), None)
    return jsonify(current_uploads().column_values(upload_id, column, options, limit))

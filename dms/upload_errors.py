"""The errors an upload request answers with (dms/uploads.py raises them; the API maps them to JSON)."""

from __future__ import annotations

from dms.errors import DMSError


class UploadError(DMSError):
    """An upload request that cannot be served as asked."""

    code = "UPLOAD_ERROR"
    http_status = 400


class UploadTooLarge(UploadError):
    """The file is larger than this way in accepts."""

    code = "UPLOAD_TOO_LARGE"
    http_status = 413


class UploadNotReady(UploadError):
    """The upload's bytes have not arrived (or the record is not complete) yet."""

    code = "UPLOAD_NOT_READY"
    http_status = 409


class UploadTokenInvalid(UploadError):
    """A presigned-upload token that is missing, forged, for another upload, expired or already used."""

    code = "UPLOAD_TOKEN_INVALID"
    http_status = 403

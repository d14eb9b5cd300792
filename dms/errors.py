"""The domain's one base error, with a stable `code` the API maps to JSON once."""

from __future__ import annotations

from typing import Any


class DMSError(Exception):
    """Base of every error DMS reports to a person: a stable code, a message, and where it happened."""

    code = "DMS_ERROR"
    http_status = 400

    def __init__(
        self, message: str, *, code: str | None = None, http_status: int | None = None, **where: Any
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.where = {k: v for k, v in where.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: code, message, and where (file, row, column...) when known."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.where:
            body["where"] = self.where
        return body


class ConfigurationError(DMSError):
    """A setting is missing or malformed."""

    code = "CONFIGURATION_ERROR"
    http_status = 500


class NotFound(DMSError):
    """The thing asked for does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class Conflict(DMSError):
    """The request conflicts with the current state (e.g. a document revision)."""

    code = "CONFLICT"
    http_status = 409


class ServiceUnavailable(DMSError):
    """A service DMS depends on did not answer."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503

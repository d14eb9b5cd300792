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


class InvalidRequest(DMSError):
    """A request field is missing, of the wrong JSON type, or out of range; `where.field` names it."""

    code = "INVALID_REQUEST"
    http_status = 400


# The JSON type names a person reads in an error, for the Python types json.loads makes.
_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}


def json_type_name(value: Any) -> str:
    """The JSON name of a decoded value's type (`object`, `array`, `number`...), for error messages."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPE_NAMES.items() if type(value) is kind), "number")


def typed_field(
    value: Any,
    kind: type | tuple[type, ...],
    field: str,
    what: str,
    *,
    error: type[DMSError] = InvalidRequest,
) -> Any:
    """A request field of the JSON type it must have (None when absent), or a 400 naming the field.

    JSON's true and false decode to bool, a subclass of int: they pass as a number only when bool is asked for.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise error(f"`{field}` must be {what}, not {json_type_name(value)}.", field=field)
    return value

"""Salesforce-shaped errors: a code, a message, the fields involved and the HTTP status."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SalesforceError(Exception):
    """An error Salesforce would report: errorCode, message, fields, HTTP status."""

    code: str
    message: str
    fields: list[str] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def rest_body(self) -> list[dict[str, object]]:
        """The REST error body: a list of {message, errorCode, fields}."""
        return [{"message": self.message, "errorCode": self.code, "fields": list(self.fields)}]

    def record_error(self) -> dict[str, object]:
        """The per-record error shape of sObject Collections and SaveResult."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk_error(self) -> str:
        """The sf__Error text of Bulk API 2.0 failedResults: CODE:message:FIELDS --."""
        fields = f"{', '.join(self.fields)} --" if self.fields else "--"
        return f"{self.code}:{self.message}:{fields}"


class JobFailure(Exception):
    """A Bulk job that cannot be processed at all (state Failed, errorMessage set)."""


def not_found() -> SalesforceError:
    """The error for a resource (record, object, job) that does not exist."""
    return SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)


def session_invalid() -> SalesforceError:
    """The 401 Salesforce answers for a missing, expired or revoked session."""
    return SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", status=401)


def rolled_back() -> SalesforceError:
    """The error given to valid records of an allOrNone request that had an invalid one."""
    return SalesforceError(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
    )

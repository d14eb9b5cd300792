"""One interface for the Salesforce APIs that load a chunk: a sender takes the rows, returns one result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pyarrow as pa
from simple_salesforce.exceptions import SalesforceError

from dms.clients.salesforce import SalesforceRequestError, salesforce_error
from dms.pipeline.model import Api, Operation
from dms.pipeline.results import ChunkResult

COLLECTION_SIZE = 200  # Salesforce's limit of records per sObject Collections request
BULK_CALLS_PER_CHUNK = 8  # create + upload + close + ~2 polls + 3 result files
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"
LOCK_RETRIES = 3  # resends of rows Salesforce could not lock (another transaction held the record or parent)

Record = Callable[..., Any]  # record(**fields): write progress to the chunk document before a side effect


class Sender(Protocol):
    """Loads one chunk's rows through one Salesforce API (Bulk 2.0 or sObject Collections)."""

    api: Api

    def send(self, table: pa.Table) -> ChunkResult:
        """Send the rows (ROW_COLUMN included) and say what Salesforce did with each."""
        ...


def choose_api(operation: str, rows: int, options: Mapping[str, Any]) -> Api:
    """Bulk 2.0 for large chunks; sObject Collections for small ones where a resend is harmless.

    An insert always goes through Bulk 2.0: its job id, recorded before the upload, is what makes a
    redelivered insert safe; a Collections insert that dies mid-request cannot be told apart from one that
    never ran. Hard delete exists only in Bulk.
    """
    if options["api"] == Api.BULK or operation in (Operation.INSERT, Operation.HARD_DELETE):
        return Api.BULK
    if options["api"] == Api.COLLECTIONS or rows <= options["collections_threshold"]:
        return Api.COLLECTIONS
    return Api.BULK


def estimate_calls(operation: str, rows: int, options: Mapping[str, Any]) -> int:
    """API requests a chunk will spend: a Bulk job's fixed calls, or one Collections request per 200 rows."""
    if choose_api(operation, rows, options) == Api.BULK:
        return BULK_CALLS_PER_CHUNK
    return -(-rows // COLLECTION_SIZE)


def lock_backoff(attempt: int) -> float:
    """Seconds to wait before resending rows that were locked."""
    return min(10.0, 0.5 * 2**attempt)


def refused(exc: SalesforceError) -> SalesforceRequestError:
    """A Salesforce refusal as a domain error carrying Salesforce's own code and message (never another body)."""
    code, message = salesforce_error(exc)
    if not message:
        message = f"HTTP {exc.status}, with an answer that is not a Salesforce error (not shown)"
    return SalesforceRequestError(f"Salesforce refused the request: {message}", code=code)

"""The pipeline's vocabulary: states, operations, APIs, task names and ids, spelled once.

Every other module of the pipeline imports its words from here (this module imports nothing of the
pipeline). The enums are StrEnums, so a value stored in a document or sent in a task message is the plain
string Salesforce, Cloudant and the HTTP API already use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

ROW_COLUMN = "__row__"  # the number of the source row a row was read from; it travels with the row
ORIGINAL_ROW_COLUMN = "dms_source_row"  # where a retried row came from in the first job's file
# A migration plan's grouped copy of a step's file (rows reordered by parent) keeps each row's number here.
GROUPED_ROW_COLUMN = "__dms_grouped_row__"


class JobState(StrEnum):
    """created -> planning -> loading -> one of the final states; a cancel moves any of the first three to
    cancelling, which ends in a final state once every row is settled."""

    CREATED = "created"
    PLANNING = "planning"
    LOADING = "loading"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {JobState.COMPLETED, JobState.COMPLETED_WITH_ERRORS, JobState.FAILED, JobState.CANCELLED}
)


class ChunkState(StrEnum):
    """staged -> loading -> done | cancelled."""

    STAGED = "staged"
    LOADING = "loading"
    DONE = "done"
    CANCELLED = "cancelled"


CHUNK_SETTLED = frozenset({ChunkState.DONE, ChunkState.CANCELLED})


class Operation(StrEnum):
    """Salesforce's DML operations, spelled as Bulk API 2.0 spells them."""

    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
    HARD_DELETE = "hardDelete"

    @classmethod
    def parse(cls, text: object) -> Operation | None:
        """The operation a person or an older mapping file meant (`hard_delete`, `Hard-Delete`...), or None."""
        if not isinstance(text, str):
            return None
        return _OPERATIONS_BY_KEY.get(text.replace("_", "").replace("-", "").lower())

    @property
    def needs_id(self) -> bool:
        """Whether each row names its record by Salesforce Id."""
        return self in (Operation.UPDATE, Operation.DELETE, Operation.HARD_DELETE)

    @property
    def deletes(self) -> bool:
        return self in (Operation.DELETE, Operation.HARD_DELETE)


_OPERATIONS_BY_KEY = {op.value.lower(): op for op in Operation}


class Api(StrEnum):
    """Which Salesforce API loads a chunk; AUTO lets the loader choose by operation and size."""

    AUTO = "auto"
    BULK = "bulk"
    COLLECTIONS = "collections"


class TaskName(StrEnum):
    """The Celery task names the domain enqueues by (it never imports the task layer)."""

    PLAN_JOB = "dms.plan_job"
    LOAD_CHUNK = "dms.load_chunk"
    HOUSEKEEPING = "dms.housekeeping"
    ADVANCE_PLAN = "dms.advance_plan"


# The job counters; total = succeeded + failed + invalid + cancelled + skipped + pending at every moment.
# Skipped rows are those a pass of a migration plan had nothing to do for (dms/migration/passes.py).
COUNTERS = (
    "total",
    "succeeded",
    "created",
    "updated",
    "failed",
    "invalid",
    "cancelled",
    "skipped",
    "pending",
)
SETTLED_COUNTERS = ("succeeded", "failed", "invalid", "cancelled", "skipped")

Enqueue = Callable[[str, list[Any]], None]  # (task name, args): publish a task; the task layer provides it


def chunk_id(job_id: str, index: int) -> str:
    """The document id of chunk `index` of a job (sorted by index under the job's prefix)."""
    return f"{job_id}:{index:05d}"


def now() -> str:
    """The current time as stored in documents: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")

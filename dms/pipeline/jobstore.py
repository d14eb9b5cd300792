"""Jobs and their chunks in the document store: create, read, list, the state machine, counters, progress.

The job document is the record of truth. Per-chunk progress lives in chunk documents; the job's counters are
always recomputed from them (never incremented), so a redelivered task can count nothing twice, and
total = succeeded + failed + invalid + cancelled + pending holds at every moment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dms.clients.docstore import DocumentStore, new_document_id
from dms.clients.listing import ListPage, ListQuery, newest
from dms.errors import Conflict, DMSError, Text, text_to_json, typed_field
from dms.pipeline.model import (
    CHUNK_SETTLED,
    COUNTERS,
    FINAL_STATES,
    SETTLED_COUNTERS,
    Api,
    JobState,
    Operation,
    now,
)
from dms.pipeline.source import ReadOptions, validated_options

log = logging.getLogger(__name__)

CHUNK_COUNTERS = ("succeeded", "created", "updated", "failed", "cancelled")  # what a settled chunk counts
MAX_CHUNK_ROWS = 1_000_000
# One owner's jobs in id (= creation) order, so a user's job list reads their jobs only, not every job.
JOBS_DESIGN = "jobs"
BY_OWNER_VIEW = "by_owner"
BY_OWNER_MAP = "function (doc) { if (doc.type === 'job' && doc.owner) { emit([doc.owner, doc._id], null); } }"


class JobError(DMSError):
    """A job request or action that cannot be carried out."""

    code = "INVALID_JOB"


# ---- the request --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOptions:
    """How a job runs, as stored in its document."""

    dry_run: bool = False
    chunk_rows: int = 50_000
    api: Api = Api.AUTO
    collections_threshold: int = 2000
    check_lookups: bool = False

    @classmethod
    def from_request(cls, given: Mapping[str, Any] | None, collections_threshold: int) -> JobOptions:
        """The options a request asks for; lookups are checked in rehearsals unless it says otherwise."""
        given = given or {}
        dry_run = bool(given.get("dry_run", False))
        if given.get("api", Api.AUTO) not in tuple(Api):
            raise JobError(Text("`options.api` must be auto, bulk or collections."), field="options.api")
        options = cls(
            dry_run=dry_run,
            chunk_rows=_whole_number(given.get("chunk_rows", cls.chunk_rows), "options.chunk_rows"),
            api=Api(given.get("api", Api.AUTO)),
            collections_threshold=_whole_number(
                given.get("collections_threshold", collections_threshold), "options.collections_threshold"
            ),
            check_lookups=bool(given.get("check_lookups", dry_run)),
        )
        if not 1 <= options.chunk_rows <= MAX_CHUNK_ROWS:
            raise JobError(
                Text(
                    "`options.chunk_rows` must be between 1 and %(max_chunk_rows)s.",
                    max_chunk_rows=f"{MAX_CHUNK_ROWS:,}",
                ),
                field="options.chunk_rows",
            )
        return options


def _whole_number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError(Text("`%(where)s` must be a whole number.", where=where), field=where)
    return value


def _typed(value: Any, kind: type | tuple[type, ...], where: str, what: Text) -> Any:
    return typed_field(value, kind, where, what, error=JobError)


def new_job_document(request: Mapping[str, Any], collections_threshold: int) -> dict[str, Any]:
    """Check a job request and build the job's document in state `created`."""
    target = _typed(request.get("target"), dict, "target", Text("an object")) or {}
    for name in ("object", "operation", "external_id", "connection_id"):
        _typed(target.get(name), str, f"target.{name}", Text("a string"))
    if not target.get("object"):
        raise JobError(Text("`target.object` is required (e.g. Account)."), field="target.object")
    operation = Operation.parse(target.get("operation"))
    if operation is None:
        raise JobError(
            Text("`target.operation` must be one of %(operations)s.", operations=", ".join(Operation)),
            field="target.operation",
        )
    if operation == Operation.UPSERT and not target.get("external_id"):
        raise JobError(
            Text("An upsert needs `target.external_id` (the external id field)."), field="target.external_id"
        )
    source = _typed(request.get("source"), dict, "source", Text("an object")) or {}
    if not source.get("blob_key"):
        raise JobError(Text("`source` must name an upload (upload_id) or a blob_key."), field="source")
    read_options = _typed(source.get("read_options"), dict, "read_options", Text("an object"))
    # A read option no file can be read with is the request's fault: said now, not when the plan runs.
    validated_options(
        ReadOptions.from_json(read_options, prefix="read_options."), None, prefix="read_options."
    )
    _typed(
        request.get("mapping"), dict, "mapping", Text("a mapping object (see GET /api/v1/mappings/suggest)")
    )
    _typed(request.get("options"), dict, "options", Text("an object"))
    options = JobOptions.from_request(request.get("options"), collections_threshold)
    stamp = now()
    return {
        # A migration plan's pass names its job (dms/migration/run.py), so that it is made once.
        "_id": request.get("id") or new_document_id("job"),
        "type": "job",
        "state": JobState.CREATED,
        "created_at": stamp,
        "updated_at": stamp,
        "source": source,
        "target": {
            "connection_id": target.get("connection_id") or "default",
            "object": target["object"],
            "operation": operation,
            "external_id": target.get("external_id"),
        },
        "mapping": request.get("mapping"),
        "options": asdict(options),
        "plan": None,
        "counters": dict.fromkeys(COUNTERS, 0),
        "api_calls": {"plan": 0, "load": 0},
        "retry_of": request.get("retry_of"),
        "migration": request.get("migration"),  # the pass of a plan's step this job is, if any
        # Who may see and act on the job (dms/security): the user who created it, and admins.
        "owner": request.get("owner"),
        "owner_name": request.get("owner_name"),
        "cancel_requested": False,
        "error": None,
    }


# ---- counters and states (pure) -----------------------------------------------------------------------


def job_counters(plan: Mapping[str, Any] | None, chunks: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The job's counters from its plan summary and its chunk documents."""
    chunks = list(chunks)
    counters = dict.fromkeys(COUNTERS, 0)
    # While planning, the total grows with the chunks staged so far (invalid rows are known at the end).
    counters["total"] = plan["total_rows"] if plan else sum(int(c["rows"]) for c in chunks)
    counters["invalid"] = (plan or {}).get("invalid_rows", 0)
    counters["cancelled"] = (plan or {}).get("cancelled_rows", 0)  # read after a cancel: never prepared
    counters["skipped"] = (plan or {}).get("skipped_rows", 0)  # a plan's pass had nothing to do for them
    for chunk in chunks:
        result = chunk.get("result") or {}
        for name in CHUNK_COUNTERS:
            counters[name] += int(result.get(name, 0))
    counters["pending"] = counters["total"] - sum(counters[n] for n in SETTLED_COUNTERS)
    return counters


def final_state(job: Mapping[str, Any]) -> JobState:
    """The state a job ends in once every row is settled."""
    counters = job["counters"]
    if job.get("cancel_requested") and counters.get("cancelled"):
        return JobState.CANCELLED
    if counters["failed"] or counters["invalid"]:
        return JobState.COMPLETED_WITH_ERRORS
    return JobState.COMPLETED


def is_finished_loading(job: Mapping[str, Any], settled_chunks: int) -> bool:
    """Whether a loading job has nothing left: every planned chunk settled and no row pending."""
    plan = job.get("plan")
    return (
        plan is not None
        and job["state"] in (JobState.LOADING, JobState.CANCELLING)
        and settled_chunks == plan.get("chunks", 0)
        and job["counters"]["pending"] == 0
    )


def progress(job: Mapping[str, Any]) -> dict[str, Any]:
    """The public view of a job: state, counters, percent done, and what it cost in API calls."""
    counters = job["counters"]
    plan = job.get("plan") or {}
    return {
        "id": job["_id"],
        "state": job["state"],
        "created_at": job["created_at"],
        "updated_at": job.get("updated_at"),
        "finished_at": job.get("finished_at"),
        "source": {k: v for k, v in job["source"].items() if not k.startswith("blob_")},
        "target": job["target"],
        "options": job["options"],
        "counters": counters,
        "percent": percent_done(job),
        "chunks": plan.get("chunks"),
        "api_calls": job.get("api_calls", {}),
        "estimated_api_calls": plan.get("estimated_api_calls"),
        # The error as the API shows it: code, English message, where (its kept Text is for read_progress).
        "error": {k: v for k, v in job["error"].items() if k != "text"} if job.get("error") else None,
        "retry_of": job.get("retry_of"),
        "warnings": plan.get("warnings", []),
        "migration": _pass_of(job.get("migration")),
        "throughput": throughput(job),
    }


THROUGHPUT_POINTS = 60  # points of a job's throughput series: enough for a chart, small in the document
RATE_WINDOW_POINTS = 10  # the latest points the rate is measured over: the recent pace, not the average


def throughput_series(
    chunks: Iterable[Mapping[str, Any]], points: int = THROUGHPUT_POINTS
) -> list[list[Any]]:
    """[time, rows settled by then] at each chunk's settle, in time order, thinned evenly to `points` (the
    first and the last kept): what a chart of processed rows over time draws."""
    settled = sorted(
        (str(c["finished_at"]), _rows_settled(c["result"]))
        for c in chunks
        if c.get("finished_at") and c.get("result")
    )
    series: list[list[Any]] = []
    done = 0
    for stamp, rows in settled:
        done += rows
        series.append([stamp, done])
    if len(series) > points:
        last = len(series) - 1
        series = [series[round(i * last / (points - 1))] for i in range(points)]
    return series


def _rows_settled(result: Mapping[str, Any]) -> int:
    return sum(int(result.get(name, 0)) for name in ("succeeded", "failed", "cancelled"))


def throughput(job: Mapping[str, Any]) -> dict[str, Any]:
    """Rows per second at the recent pace, and the seconds left at that pace (None while it is not known)."""
    series = job.get("throughput") or []
    rate = None
    if series:
        window = series[-RATE_WINDOW_POINTS:]
        if len(window) > 1:
            (start, rows_before), (end, rows_by) = window[0], window[-1]
        else:  # one settle so far: its rows over the time since the load began
            start = job.get("loading_started_at") or job["created_at"]
            (end, rows_by), rows_before = window[0], 0
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        if seconds > 0:
            rate = round((rows_by - rows_before) / seconds, 1)
    pending = int(job["counters"].get("pending") or 0)
    eta = None
    if job["state"] in FINAL_STATES:
        eta = 0
    elif rate:
        eta = round(pending / rate)
    return {"rows_per_second": rate, "eta_seconds": eta, "as_of": series[-1][0] if series else None}


def _pass_of(migration: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which plan, step and pass a job is (its spec and bookkeeping stay inside)."""
    if not migration:
        return None
    return {k: migration[k] for k in ("plan_id", "step", "pass", "attempt")}


def percent_done(job: Mapping[str, Any]) -> float:
    """Share of the rows settled; 0 while planning (the total is not known yet). Cancelled rows were never
    done: a cancelled job shows how far it got, not 100 %."""
    counters = job["counters"]
    total = counters.get("total") or 0
    if total and job["state"] != JobState.PLANNING:
        done = total - counters.get("pending", 0) - counters.get("cancelled", 0)
        return round(100.0 * done / total, 1)
    return 100.0 if job["state"] in FINAL_STATES - {JobState.CANCELLED} else 0.0


# ---- the store ----------------------------------------------------------------------------------------


class JobStore:
    """Job and chunk documents, and the only code that moves a job from one state to the next."""

    def __init__(self, jobs: DocumentStore, chunks: DocumentStore) -> None:
        self.jobs = jobs
        self.chunks = chunks

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        return self.jobs.create(doc)

    def get(self, job_id: str) -> dict[str, Any]:
        return self.jobs.get(job_id)

    def list(self, limit: int = 50, owner: str | None = None) -> list[dict[str, Any]]:
        """The newest jobs, newest first: every job's for an admin (owner None), else that owner's, read
        through the by_owner view (the design document is written on first use)."""
        if owner is None:
            return list(self.jobs.iter_all("job-", descending=True, limit=limit))
        self.jobs.ensure_design(JOBS_DESIGN, {BY_OWNER_VIEW: BY_OWNER_MAP})
        # Descending, the range runs from the owner's highest key down: {} sorts after every string.
        newest_first = self.jobs.iter_view(
            JOBS_DESIGN, BY_OWNER_VIEW, start_key=[owner, {}], end_key=[owner], descending=True, limit=limit
        )
        return list(newest_first)

    def find(self, query: ListQuery, object_name: str | None = None, dry_run: bool | None = None) -> ListPage:
        """A page of the newest jobs the query selects (owner, state, time, cursor), of an object
        (case-insensitive) and rehearsals or loads only when asked."""
        wanted_object = object_name.lower() if object_name else None

        def matches(doc: dict[str, Any]) -> bool:
            if wanted_object is not None and str(doc["target"].get("object", "")).lower() != wanted_object:
                return False
            return dry_run is None or bool(doc["options"].get("dry_run")) == dry_run

        return newest(self.jobs, "job", query, matches)

    def chunk_docs(self, job_id: str) -> Iterator[dict[str, Any]]:
        return self.chunks.iter_all(f"{job_id}:")

    def update(self, job_id: str, **fields: Any) -> dict[str, Any]:
        """Write fields of a job without changing its state."""
        return self.jobs.update(job_id, lambda doc: {**doc, **fields, "updated_at": now()})

    def set_state(self, job_id: str, state: JobState, **fields: Any) -> dict[str, Any]:
        """Move a job to a state (never out of a final one)."""

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES and state != doc["state"]:
                raise Conflict(
                    Text("Job %(job_id)s is already %(state)s.", job_id=job_id, state=doc["state"]),
                    code="JOB_FINISHED",
                )
            # A cancelling job goes on planning or loading what it must settle, but it stays cancelling.
            keep = doc["state"] == JobState.CANCELLING and state not in FINAL_STATES
            return {**doc, **fields, "state": JobState.CANCELLING if keep else state, "updated_at": now()}

        return self.jobs.update(job_id, change)

    def fail(
        self, job_id: str, code: str, message: str | Text, where: Mapping[str, Any] | None = None
    ) -> None:
        """Mark a job failed with a reason a person understands (pending rows stay counted as pending), and
        where it happened (the file's part, column, row, the limit) when the error says. The message is kept in
        English, and as its Text too when it is one, for a page to say it in its reader's language."""
        log.error("job failed job=%s code=%s message=%s", job_id, code, message)
        error: dict[str, Any] = {"code": code, "message": str(message)}
        if isinstance(message, Text):
            error["text"] = text_to_json(message)
        if where:
            error["where"] = dict(where)
        try:
            self.set_state(job_id, JobState.FAILED, error=error)
        except Conflict:
            pass

    def cancel_requested(self, job_id: str) -> bool:
        """Whether the job was asked to stop, read now: the job document a task began with may predate it."""
        return bool(self.jobs.get(job_id).get("cancel_requested"))

    def request_cancel(self, job_id: str) -> dict[str, Any]:
        """Record that a job should stop: it is cancelling until its tasks have settled every row."""

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES:
                raise Conflict(
                    Text("Job %(job_id)s is already %(state)s.", job_id=job_id, state=doc["state"]),
                    code="JOB_FINISHED",
                )
            stamp = now()
            fields = {"cancel_requested": True, "cancel_requested_at": stamp, "updated_at": stamp}
            return {**doc, **fields, "state": JobState.CANCELLING}

        return self.jobs.update(job_id, change)

    def refresh_counters(self, job_id: str) -> dict[str, Any]:
        """Recompute the job's counters from its chunks; a loading job with nothing left moves to its final
        state in the same write."""
        chunks = list(self.chunk_docs(job_id))
        settled = sum(chunk["state"] in CHUNK_SETTLED for chunk in chunks)
        load_calls = sum(int(chunk.get("api_calls", 0)) for chunk in chunks)

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES:
                return doc
            counters = job_counters(doc.get("plan"), chunks)
            api_calls = {**doc.get("api_calls", {}), "load": load_calls}
            doc = {**doc, "counters": counters, "api_calls": api_calls, "updated_at": now()}
            doc["throughput"] = throughput_series(chunks)
            if is_finished_loading(doc, settled):
                doc["state"] = final_state(doc)
                doc["finished_at"] = now()
                log.info("job finished job=%s state=%s counters=%s", job_id, doc["state"], counters)
            return doc

        return self.jobs.update(job_id, change)

"""A job's life from outside its tasks: create, cancel, retry, run directly, and the housekeeping sweeps.

The top floor of the pipeline: it calls the plan and the load (direct runs) and the job store; nothing below
imports it.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dms.clients.docstore import new_document_id
from dms.clients.salesforce import OrgClient
from dms.errors import Conflict, DMSError
from dms.pipeline import results as res
from dms.pipeline.apis import StillProcessing, abort_bulk_job
from dms.pipeline.chunks import JobFile, job_spec, parent_describes, source_file
from dms.pipeline.context import JobContext, Pipeline
from dms.pipeline.describe import ObjectDescribe
from dms.pipeline.jobstore import new_job_document
from dms.pipeline.load import ChunkBusy, load_chunk
from dms.pipeline.model import (
    CHUNK_SETTLED,
    FINAL_STATES,
    ORIGINAL_ROW_COLUMN,
    ROW_COLUMN,
    ChunkState,
    Enqueue,
    JobState,
    TaskName,
    now,
)
from dms.pipeline.plan import plan_job
from dms.pipeline.prepare import check_mapping
from dms.pipeline.problems import JobProblems
from dms.pipeline.staging import drop_staged

log = logging.getLogger(__name__)

DIRECT_SECONDS = 20.0  # inside API Gateway's 29 s, with room for the response


# ---- create and cancel --------------------------------------------------------------------------------


def create_job(p: Pipeline, request: dict[str, Any]) -> dict[str, Any]:
    """Check a job request, store the job as `created` and enqueue its plan."""
    doc = new_job_document(request, collections_threshold=p.settings.collections_threshold)
    check_job(p.job_context(doc), doc)
    job = p.store.create(doc)
    p.enqueue(TaskName.PLAN_JOB, [job["_id"]])
    target = job["target"]
    log.info(
        "job created job=%s object=%s operation=%s dry_run=%s",
        job["_id"],
        target["object"],
        target["operation"],
        job["options"]["dry_run"],
    )
    return job


def check_job(ctx: JobContext, job: dict[str, Any]) -> None:
    """Check at creation what the org's describe can tell before a row is read: the target, and the mapping
    (its fields, formats and transforms). Answers 4xx with `where`."""
    describe = check_target(ctx, job["target"])  # the read options were checked with the request's shape
    if job.get("mapping") is None:
        return  # auto-mapped from the file's columns when the plan reads them
    spec = job_spec(job, [], describe)
    problems = check_mapping(spec, describe, None, parent_describes=parent_describes(ctx, spec, describe))
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise DMSError(
            "The mapping cannot be used: " + "; ".join(problem.message for problem in errors),
            code="MAPPING_INVALID",
            http_status=422,
            field="mapping",
            problems=[problem.to_dict() for problem in errors],
        )


def check_target(ctx: JobContext, target: dict[str, Any]) -> dict[str, Any]:
    """What the org's describe can tell before anything is read: the object exists (its name as the org
    spells it is kept) and the external id is a field that can match records. Answers 422 with `where`."""
    describe = ctx.describe(target["object"])
    target["object"] = describe.get("name") or target["object"]
    external_id = target.get("external_id")
    if not external_id:
        return describe
    view = ObjectDescribe.of(describe)
    field = view.field(external_id)
    if field is None or not (field.external_id or field.id_lookup):
        matching = sorted(f.name for f in view.fields.values() if f.external_id or f.name == "Id")
        raise DMSError(
            f"{target['object']}.{external_id} cannot match records: use an external id field "
            f"({', '.join(matching) or 'the object has none'}).",
            code="INVALID_EXTERNAL_ID",
            http_status=422,
            field="target.external_id",
            suggestions=matching or None,
        )
    target["external_id"] = field.name
    return describe


def cancel(p: Pipeline, job_id: str) -> dict[str, Any]:
    """Stop a job: staged chunks are cancelled, running Salesforce bulk jobs aborted; a job not yet
    planned is cancelled by its plan task, which stops reading the file when it sees the request."""
    job = p.store.request_cancel(job_id)
    org: OrgClient | None = None
    for chunk in p.store.chunk_docs(job_id):
        if chunk["state"] == ChunkState.STAGED:
            try:
                p.chunks.update(chunk["_id"], _cancel_staged)
            except Conflict:
                continue  # a worker took it meanwhile: it sees the request itself
            drop_staged(p.redis, job_id, chunk["index"])  # its rows will never load
        elif chunk["state"] == ChunkState.LOADING and chunk.get("bulk_job_id"):
            org = org or p.job_context(job).org
            abort_bulk_job(org, job["target"]["object"], chunk["bulk_job_id"])
    return p.store.refresh_counters(job_id)


def _cancel_staged(chunk: dict[str, Any]) -> dict[str, Any]:
    if chunk["state"] != ChunkState.STAGED:
        raise Conflict("chunk moved on", code="REVISION_CONFLICT")
    return {
        **chunk,
        "state": ChunkState.CANCELLED,
        "result": {"cancelled": chunk["rows"]},
        "updated_at": now(),
    }


# ---- retry ----------------------------------------------------------------------------------------------


def retry_failed(
    p: Pipeline,
    job_id: str,
    corrected: dict[str, Any] | None = None,
    owner: dict[str, Any] | None = None,
    edited: Mapping[int, Mapping[str, str | None]] | None = None,
) -> dict[str, Any]:
    """A new job for the failed/invalid rows of `job_id` (or for a corrected upload, or for the rows a person
    `edited` in the page: row -> new values by column), same target and mapping; owned by `owner` (who
    retries), else by the job's owner."""
    job = p.store.get(job_id)
    if job.get("migration"):
        plan_id = job["migration"]["plan_id"]
        raise DMSError(
            f"Job {job_id} is a pass of plan {plan_id}: retry the plan (POST /api/v1/plans/{plan_id}/retry), "
            "which retries its steps in order.",
            code="JOB_OF_PLAN",
        )
    if job["state"] not in FINAL_STATES:
        raise DMSError(
            f"Job {job_id} is still {job['state']}; retry it once it has finished.", code="JOB_NOT_FINISHED"
        )
    if job["options"].get("dry_run"):
        raise DMSError(
            "A rehearsal loaded nothing; run the job for real instead of retrying it.", code="JOB_IS_DRY_RUN"
        )
    if corrected is not None:
        source = corrected
    elif edited:
        source = _edited_rows_source(p, job, edited)
    else:
        source = _failed_rows_source(p, job)
    request = {
        "source": source,
        "target": job["target"],
        "mapping": job.get("mapping"),
        "options": {k: v for k, v in job["options"].items() if k != "dry_run"},
        "retry_of": job_id,
        **(owner or {"owner": job.get("owner"), "owner_name": job.get("owner_name")}),
    }
    return create_job(p, request)


def _failed_rows_source(p: Pipeline, job: dict[str, Any]) -> dict[str, Any]:
    """A CSV of every row of the job that did not load (failed, invalid, or never sent because of a
    cancel), as read from its source, to retry them from."""
    job_id = job["_id"]
    counters = job["counters"]
    owed = sum(int(counters.get(name) or 0) for name in ("failed", "invalid", "cancelled", "pending"))
    if not owed:
        raise DMSError(f"Job {job_id} has no failed rows to retry.", code="NOTHING_TO_RETRY")
    key = f"jobs/{job_id}/retry/{owed}-rows.csv"
    written = write_unloaded_rows(p, job, key)
    log.info(
        "retry source written job=%s rows=%d (of %d not loaded; unreadable rows cannot be resent)",
        job_id,
        written,
        owed,
    )
    return {
        "blob_key": key,
        "filename": f"retry-of-{job_id}.csv",
        "read_options": {"format": "csv", "encoding": "utf-8", "delimiter": ","},
    }


def _edited_rows_source(
    p: Pipeline, job: dict[str, Any], edited: Mapping[int, Mapping[str, str | None]]
) -> dict[str, Any]:
    """A CSV of the rows a person corrected (only those, with their new values and their first file's row
    numbers), to retry them from; a row that did not fail or was not invalid is refused (422)."""
    job_id = job["_id"]
    key = f"jobs/{job_id}/retry/edited-{new_document_id('rows')}.csv"
    problems = JobProblems(p.blobs, job)
    with p.blobs.open_write(key) as out:
        written = problems.write_edited(edited, out)
    log.info("retry source of edited rows written job=%s rows=%d", job_id, written)
    return {
        "blob_key": key,
        "filename": f"corrected-rows-of-{job_id}.csv",
        "read_options": {"format": "csv", "encoding": "utf-8", "delimiter": ","},
    }


def write_unloaded_rows(p: Pipeline, job: dict[str, Any], key: str) -> int:
    """Copy the source rows that did not load (as read, all as text) to a CSV blob with their original row
    numbers."""
    written = 0
    with p.blobs.open_write(key) as out:
        for block, rows in source_rows_csv(p, job, res.succeeded_rows):
            out.write(block)
            written += rows
    return written


def unsent_rows_csv(p: Pipeline, job: dict[str, Any]) -> Iterator[bytes]:
    """unsent.csv: the source rows never sent to Salesforce (a cancel stopped them), as read."""

    def settled(blobs: Any, job_id: str, index: int) -> set[int]:  # loaded, invalid or failed
        failed = {int(r[0]) for r in res.error_part_rows(blobs, job_id, index) if r}
        return res.succeeded_rows(blobs, job_id, index) | failed

    yield ("\ufeff").encode("utf-8")  # for spreadsheets, as every exported file
    for block, _ in source_rows_csv(p, job, settled):
        yield block


def source_rows_csv(
    p: Pipeline, job: dict[str, Any], leave_out: Callable[[Any, str, int], set[int]]
) -> Iterator[tuple[bytes, int]]:
    """The job's source rows as CSV (all as text, with their original row numbers), chunk by chunk, less the
    rows `leave_out` names for each reader chunk: only one chunk's rows are ever held."""
    with source_file(p, job) as path:
        file = JobFile.of(job, path, p.settings)
        info = file.info
        header = True
        for chunk in file.chunks():
            left_out = pa.array(sorted(leave_out(p.blobs, job["_id"], chunk.index)), type=pa.int64())
            keep = pc.invert(pc.is_in(chunk.table.column(ROW_COLUMN), value_set=left_out))
            picked = chunk.table.filter(keep)
            if picked.num_rows == 0 and not header:
                continue
            columns = {name: picked.column(name).cast(pa.string()) for name in info.columns}
            if ORIGINAL_ROW_COLUMN not in columns:  # a retry of a retry keeps the first job's rows
                columns[ORIGINAL_ROW_COLUMN] = picked.column(ROW_COLUMN).cast(pa.string())
            buffer = io.BytesIO()
            write_options = pacsv.WriteOptions(include_header=header, quoting_style="needed")
            pacsv.write_csv(pa.table(columns), buffer, write_options)
            header = False
            yield buffer.getvalue(), picked.num_rows


# ---- direct runs -----------------------------------------------------------------------------------------


def run_direct(
    make_pipeline: Callable[[Enqueue], Pipeline], request: dict[str, Any], queue: Enqueue
) -> dict[str, Any]:
    """Small jobs run in the web request, as the original design allowed: no queue round trips. The same
    plan and load steps run here in order; past the time budget (or when Salesforce is still processing a
    bulk job, or a chunk is busy) the rest goes to `queue`, so a direct job is never slower or less safe
    than a queued one."""
    steps: list[tuple[str, list[Any]]] = []
    p = make_pipeline(lambda name, args: steps.append((name, args)))
    job = create_job(p, request)
    deadline = time.monotonic() + DIRECT_SECONDS
    while steps:
        name, args = steps.pop(0)
        left = deadline - time.monotonic()
        if left <= 1:
            queue(name, args)
            continue
        try:
            if name == TaskName.PLAN_JOB:
                plan_job(p, args[0])
            else:
                job_id, index = args
                load_chunk(p, job_id, index, lease_seconds=left)
        except (StillProcessing, ChunkBusy):
            log.info("direct job goes on in the queue job=%s step=%s", job["_id"], name)
            queue(name, args)
    return p.store.get(job["_id"])


# ---- housekeeping sweeps -------------------------------------------------------------------------------


def requeue_stalled_work(p: Pipeline, stalled_after: float, recent: int = 200) -> int:
    """Enqueue again the plans and chunk loads that have made no progress for `stalled_after` seconds.

    A message that SQS moved to the dead-letter queue after too many deliveries, or one lost with a purged
    queue, would otherwise leave its job unfinished for ever. Every task is idempotent, so a message sent
    for work that was merely slow costs one quick no-op.
    """
    cutoff = datetime.now(UTC).timestamp() - stalled_after
    requeued = 0
    for job in p.store.list(limit=recent):
        if job["state"] in (JobState.CREATED, JobState.PLANNING) and _stamp(job.get("updated_at")) < cutoff:
            p.enqueue(TaskName.PLAN_JOB, [job["_id"]])
            requeued += 1
        elif job["state"] == JobState.LOADING:
            for chunk in p.store.chunk_docs(job["_id"]):
                if chunk["state"] not in CHUNK_SETTLED and _last_activity(chunk) < cutoff:
                    p.enqueue(TaskName.LOAD_CHUNK, [job["_id"], chunk["index"]])
                    requeued += 1
    if requeued:
        log.warning("requeued stalled work count=%d", requeued)
    return requeued


def _last_activity(chunk: dict[str, Any]) -> float:
    lease = chunk.get("lease") or {}
    return max(_stamp(chunk.get("updated_at")), _stamp(chunk.get("created_at")), float(lease.get("until", 0)))


def _stamp(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


def abort_orphaned_bulk_jobs(p: Pipeline, recent: int = 200) -> int:
    """Abort Salesforce bulk jobs left running by DMS jobs that ended (failed or cancelled) before them."""
    aborted = 0
    for job in p.store.list(limit=recent):
        if job["state"] not in (JobState.FAILED, JobState.CANCELLED):
            continue
        org: OrgClient | None = None
        for chunk in p.store.chunk_docs(job["_id"]):
            if chunk["state"] == ChunkState.LOADING and chunk.get("bulk_job_id"):
                org = org or p.job_context(job).org
                abort_bulk_job(org, job["target"]["object"], chunk["bulk_job_id"])
                aborted += 1
    return aborted

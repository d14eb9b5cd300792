"""Planning a job: stream the source, map and validate every row, stage the valid rows, enqueue the loads.

Chunk n of the plan is reader chunk n's valid rows (chunks.py holds the recipe). Invalid rows go straight to
the job's error results with their source row, column, value and reason; they are never sent. Loads are
enqueued as chunks are staged, so loading overlaps planning; past a bound of staged chunks the planner loads
chunks itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dms.crashpoints import crash_point
from dms.errors import Conflict, DMSError, ServiceUnavailable
from dms.pipeline import results as res
from dms.pipeline.apis import StillProcessing, estimate_calls
from dms.pipeline.chunks import ChunkRecipe, JobFile, source_file, staged_parts
from dms.pipeline.context import JobContext, Pipeline
from dms.pipeline.exported import neutralise
from dms.pipeline.load import ChunkBusy, load_chunk
from dms.pipeline.model import (
    CHUNK_SETTLED,
    FINAL_STATES,
    ROW_COLUMN,
    ChunkState,
    JobState,
    TaskName,
    chunk_id,
    now,
)
from dms.pipeline.prepare import MappingError, Prepared
from dms.pipeline.source import Chunk, SourceInfo
from dms.pipeline.staging import is_staged, stage_chunk

log = logging.getLogger(__name__)

BUSY_PAUSE_SECONDS = 0.5  # every waiting chunk is held or in Salesforce's hands: they will drain


def plan_job(p: Pipeline, job_id: str) -> str:
    """Plan a job (idempotent: a redelivery re-stages the same chunks and re-enqueues harmlessly)."""
    store = p.store
    job = store.get(job_id)
    if job["state"] in FINAL_STATES or job["state"] == JobState.LOADING:
        return "already_" + job["state"]
    if job.get("plan") is not None:  # planned before a crash: only the hand-over to loading is left
        return _hand_over(p, job_id, requeue=True)
    job = store.set_state(job_id, JobState.PLANNING, planning_started_at=now())
    ctx = p.job_context(job)
    try:
        with source_file(p, job) as path:
            if job.get("cancel_requested"):  # cancelled before a row was read: every row is cancelled
                return _finish_unread(p, ctx, path)
            check_lookups = bool(job["options"].get("check_lookups"))
            try:
                recipe = ChunkRecipe.for_job(ctx, path, infer_formats=True, check_lookups=check_lookups)
            except MappingError as exc:
                errors = [pr.message for pr in exc.problems if pr.severity == "error"]
                store.fail(job_id, "MAPPING_INVALID", "The mapping cannot be used: " + "; ".join(errors))
                return "failed"
            # The spec as compiled (inferred formats included) before any chunk is queued: a load that must
            # rebuild its chunk reads this one, and so rebuilds exactly what was staged.
            store.update(job_id, mapping=recipe.spec)
            summary = _stage_all(ctx, path, recipe)
            crash_point("after_staging")
    except ServiceUnavailable:
        raise  # the document store did not answer: the task waits for it (never a failed job)
    except DMSError as exc:
        store.fail(job_id, exc.code, exc.text, exc.where)
        return "failed"
    summary["api_calls"] = ctx.org.api_calls
    summary["warnings"] = recipe.info.warnings + summary.get("warnings", [])
    calls = ctx.org.api_calls
    p.jobs.update(
        job_id,
        lambda d: {
            **d,
            "plan": summary,
            "updated_at": now(),
            "api_calls": {**d.get("api_calls", {}), "plan": calls},
        },
    )
    if job["options"]["dry_run"]:
        return _finish_rehearsal(p, job_id, summary)
    return _hand_over(p, job_id, requeue=False)


@dataclass
class PlanTally:
    """What the plan has read and staged so far."""

    total: int = 0
    invalid: int = 0
    valid: int = 0
    cancelled: int = 0  # rows read after a cancel: counted, never prepared or sent
    skipped: int = 0  # rows a migration plan's pass had nothing to do for
    reader_chunks: int = 0
    estimated_calls: int = 0
    chunk_indexes: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)  # staged by this delivery, not loaded as it last looked

    def summary(self, info: SourceInfo) -> dict[str, Any]:
        """The plan as the job document keeps it."""
        return {
            "total_rows": self.total,
            "invalid_rows": self.invalid,
            "valid_rows": self.valid,
            "cancelled_rows": self.cancelled,
            "skipped_rows": self.skipped,
            "chunks": len(self.chunk_indexes),
            "chunk_indexes": self.chunk_indexes,
            "reader_chunks": self.reader_chunks,
            "columns": info.columns,
            "source_info": asdict(info),
            "estimated_api_calls": self.estimated_calls,
            "planned_at": now(),
        }


def _stage_all(ctx: JobContext, path: Path, recipe: ChunkRecipe) -> dict[str, Any]:
    p, job_id, job = ctx.pipeline, ctx.job_id, ctx.job
    dry_run = job["options"]["dry_run"]
    tally = PlanTally()
    # A redelivered plan (its worker died before the hand-over) reads the file again: chunks an earlier
    # delivery already loaded are counted and listed, never staged or queued again.
    settled = {c["index"] for c in p.store.chunk_docs(job_id) if c["state"] in CHUNK_SETTLED}
    cancelled = False
    for chunk in recipe.chunks():
        tally.reader_chunks += 1
        rows_read = chunk.table.num_rows + len(chunk.problems)
        tally.total += rows_read
        # Past a cancel the file is still read to the end, only to count it: the total is every row.
        cancelled = cancelled or p.store.cancel_requested(job_id)
        if cancelled:
            tally.cancelled += rows_read
            continue
        prepared = recipe.prepare(chunk)
        tally.invalid += write_invalid_part(p, job_id, chunk, prepared)
        tally.skipped += prepared.skipped_rows
        rows = prepared.table.num_rows
        tally.valid += rows
        if rows == 0:
            continue
        tally.estimated_calls += estimate_calls(ctx.operation, rows, job["options"])
        if dry_run:
            continue
        tally.chunk_indexes.append(chunk.index)
        if chunk.index in settled:
            continue
        parts = staged_parts(chunk, prepared)
        stage_chunk(p.redis, job_id, chunk.index, parts, p.settings.staging_ttl_seconds)
        _ensure_chunk_doc(p, job_id, chunk.index, rows, parts["load"])
        p.enqueue(TaskName.LOAD_CHUNK, [job_id, chunk.index])
        tally.waiting.append(chunk.index)
        relieve_staging(p, job_id, tally.waiting)
    log.info(
        "job planned job=%s total=%d invalid=%d valid=%d chunks=%d",
        job_id,
        tally.total,
        tally.invalid,
        tally.valid,
        len(tally.chunk_indexes),
    )
    return tally.summary(recipe.info)


def _finish_unread(p: Pipeline, ctx: JobContext, path: Path) -> str:
    """A job cancelled before its plan read a row: count the file's rows, every one cancelled, and end."""
    file = JobFile.of(ctx.job, path, p.settings)
    tally = PlanTally()
    for chunk in file.chunks():
        tally.reader_chunks += 1
        tally.total += chunk.table.num_rows + len(chunk.problems)
    tally.cancelled = tally.total
    p.store.update(ctx.job_id, plan=tally.summary(file.info))
    return _hand_over(p, ctx.job_id, requeue=False)


def relieve_staging(p: Pipeline, job_id: str, waiting: list[int]) -> None:
    """Keep at most STAGING_MAX_CHUNKS_PER_JOB chunks staged in Redis: past that, the planner loads a
    waiting chunk itself (idempotent, leased like any delivery) instead of reading further.

    Reading outruns Salesforce by far, so without this a 10 GB file would sit in Redis while it loads.
    Loading rather than waiting also means a single worker can never deadlock on its own plan.
    `waiting` is the caller's list of the chunks it staged; those loaded meanwhile are taken out of it, so
    each call looks at a few chunks, not at every chunk of the file so far.
    """
    limit = p.settings.staging_max_chunks
    while True:
        waiting[:] = [i for i in waiting if is_staged(p.redis, job_id, i)]
        if len(waiting) < limit:
            return
        # Newest first: the queue hands the oldest chunks to the other workers, so the newest is the one
        # nobody holds. A chunk someone holds, or that Salesforce is still processing, is passed over for
        # the next one: the planner never waits behind a lease while it could be loading.
        if not any(_load_one(p, job_id, index) for index in reversed(waiting)):
            time.sleep(BUSY_PAUSE_SECONDS)


def _load_one(p: Pipeline, job_id: str, index: int) -> bool:
    """Load a waiting chunk from the planner; False when another delivery or Salesforce has it in hand."""
    settings = p.settings
    try:
        load_chunk(
            p,
            job_id,
            index,
            lease_seconds=settings.planner_lease_seconds,
            wait_seconds=settings.bulk_wait_in_task_seconds,
        )
    except (ChunkBusy, StillProcessing):
        return False
    return True


def _ensure_chunk_doc(p: Pipeline, job_id: str, index: int, rows: int, table: pa.Table) -> None:
    row_numbers = table.column(ROW_COLUMN)
    doc = {
        "_id": chunk_id(job_id, index),
        "type": "chunk",
        "job_id": job_id,
        "index": index,
        "rows": rows,
        "first_row": int(pa.compute.min(row_numbers).as_py()),
        "last_row": int(pa.compute.max(row_numbers).as_py()),
        "state": ChunkState.STAGED,
        "created_at": now(),
    }
    try:
        p.chunks.create(doc)
    except Conflict:
        pass  # staged by an earlier delivery of this plan: its progress record stays as it is


def write_invalid_part(p: Pipeline, job_id: str, chunk: Chunk, prepared: Prepared) -> int:
    """Write the chunk's unreadable and invalid rows to its error part; returns how many rows that is."""
    failures: list[tuple[int, str, str, str, str]] = []
    for problem in chunk.problems:
        message = problem.message + (f" Raw text: {problem.raw}" if problem.raw else "")
        failures.append((problem.row, "read", problem.code, message, problem.column or ""))
    for error in prepared.errors:
        failures.append(
            (error.row, "validation", error.code, error.message, error.field or error.column or "")
        )
    # Only the failing rows' original values are needed: converting the whole chunk cost more than reading it.
    originals = res.source_values(chunk.table, rows=[f[0] for f in failures]) if failures else {}
    for problem in chunk.problems:  # a row that could not be read keeps the fields it has
        if problem.values is not None:
            originals[problem.row] = tuple(neutralise(value) for value in problem.values)
    with p.blobs.open_write(res.part_key(job_id, chunk.index, "invalid")) as out:
        res.write_csv_rows(out, res.error_rows(failures, originals))
    return len(chunk.problems) + prepared.invalid_rows


def _hand_over(p: Pipeline, job_id: str, requeue: bool) -> str:
    """Move the job to loading; after a crash, enqueue every chunk's load again (loads are idempotent)."""
    store = p.store
    job = store.get(job_id)
    if requeue:
        for index in job["plan"]["chunk_indexes"]:
            p.enqueue(TaskName.LOAD_CHUNK, [job_id, index])
    try:
        store.set_state(job_id, JobState.LOADING, loading_started_at=now())
    except Conflict:
        return "already_final"
    store.refresh_counters(job_id)
    return "loading"


def _finish_rehearsal(p: Pipeline, job_id: str, summary: dict[str, Any]) -> str:
    """A dry run ends after planning: every row is either valid (would load), invalid, or cancelled."""
    counted = {
        "total": summary["total_rows"],
        "invalid": summary["invalid_rows"],
        "valid": summary["valid_rows"],
        "cancelled": summary["cancelled_rows"],
        "skipped": summary.get("skipped_rows", 0),
    }

    def finish(doc: dict[str, Any]) -> dict[str, Any]:
        counters = {**doc["counters"], **counted, "pending": 0}
        state = JobState.COMPLETED_WITH_ERRORS if summary["invalid_rows"] else JobState.COMPLETED
        if summary["cancelled_rows"]:
            state = JobState.CANCELLED
        stamp = now()
        return {**doc, "counters": counters, "state": state, "finished_at": stamp, "updated_at": stamp}

    p.jobs.update(job_id, finish)
    return "rehearsed"

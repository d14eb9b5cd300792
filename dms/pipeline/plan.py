"""Planning a job: stream the source, map and validate every row, stage the valid rows, enqueue the loads.

Chunk n of the plan is reader chunk n's valid rows, a deterministic slice of the source, so a chunk lost from
Redis is rebuilt by re-reading chunk n. Invalid rows go straight to the job's error results with their
source row, column, value and reason; they are never sent. Loads are enqueued as chunks are staged, so
loading overlaps planning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from dms.clients.salesforce import OrgClient
from dms.crashpoints import crash_point
from dms.errors import Conflict, DMSError
from dms.pipeline import results as res
from dms.pipeline.jobs import CHUNK_SETTLED, FINAL_STATES, Pipeline, now
from dms.pipeline.load import STAGED_PARTS, choose_api, chunk_id, result_key
from dms.pipeline.prepare import (
    CompiledMapping,
    MappingError,
    Prepared,
    PrepareOptions,
    RowError,
    apply_profiles,
    compile_mapping,
    infer_column,
    new_mapping,
    prepare,
)
from dms.pipeline.readers import ReadOptions, read_chunks, read_sample, sniff
from dms.pipeline.sniff import ROW_COLUMN, Chunk, SourceInfo
from dms.pipeline.staging import stage_chunk, stage_key

log = logging.getLogger(__name__)

SPEC_OPERATIONS = {"hardDelete": "hard_delete"}  # the mapping layer's name for Salesforce's operation


def read_options(job: dict[str, Any], settings: Any) -> ReadOptions:
    """The job's read options (from the upload preview the user confirmed) with the deployment's limits."""
    given = dict(job["source"].get("read_options") or {})
    allowed = {
        k: v for k, v in given.items() if k in ("format", "encoding", "delimiter", "sheet", "has_header")
    }
    return ReadOptions(
        **allowed,
        chunk_rows=job["options"]["chunk_rows"],
        chunk_bytes=int(settings.get("READ_CHUNK_MAX_BYTES", 48 * 1024 * 1024)),
        allow_pickle=bool(settings.get("ALLOW_PICKLE_UPLOADS")),
    )


def job_spec(job: dict[str, Any], columns: list[str], describe: dict[str, Any]) -> dict[str, Any]:
    """The job's mapping (auto-mapped when none was given), with the job's target written into it."""
    target = job["target"]
    operation = SPEC_OPERATIONS.get(target["operation"], target["operation"])
    spec = job.get("mapping") or new_mapping(
        target["object"], operation, columns, describe, external_id=target.get("external_id")
    )
    spec = {**spec, "object": target["object"], "operation": operation}
    if target.get("external_id"):
        spec["external_id"] = target["external_id"]
    return spec


PROFILE_SAMPLE_ROWS = 2000


def with_inferred_formats(spec: dict[str, Any], path: Path, options: ReadOptions) -> dict[str, Any]:
    """Fill in date and number formats the file makes plain (never ambiguous ones: those stay invalid rows
    with a message that asks for a format, rather than a silent guess)."""
    _, sample = read_sample(path, options, rows=PROFILE_SAMPLE_ROWS)
    profiles = {
        name: infer_column(sample.column(name), name=name)
        for name in sample.column_names
        if name != ROW_COLUMN
    }
    return apply_profiles(spec, profiles)


def parent_describes(
    p: Pipeline, job: dict[str, Any], org: OrgClient, spec: dict[str, Any], describe: dict[str, Any]
) -> dict[str, Any]:
    """Describes of the parents named by relationship targets like `Account.Legacy_Id__c`."""
    by_relationship = {
        f.get("relationshipName"): f for f in describe.get("fields", []) if f.get("relationshipName")
    }
    parents: dict[str, Any] = {}
    for entry in spec.get("fields", []):
        relation = (
            str(entry.get("target", "")).split(".", 1)[0] if "." in str(entry.get("target", "")) else None
        )
        field = by_relationship.get(relation)
        for parent in (field or {}).get("referenceTo") or []:
            if parent not in parents:
                parents[parent] = p.describe(job, org, parent)
    return parents


class LookupChecker:
    """Answers which external ids exist on a parent object, with SOQL in batches (rehearsals and opt-in)."""

    def __init__(self, org: OrgClient) -> None:
        self.org = org

    def __call__(self, object_name: str, field: str, values: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(values)
        for start in range(0, len(ordered), 200):
            batch = ordered[start : start + 200]
            quoted = ",".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in batch)
            soql = f"SELECT {field} FROM {object_name} WHERE {field} IN ({quoted})"
            result = self.org.call(_query_all(soql), what=f"lookup {object_name}.{field}")
            found.update(str(r[field]).lower() for r in result["records"] if r.get(field) is not None)
        return {v for v in values if v.lower() in found}


def _query_all(soql: str) -> Callable[[Any], dict[str, Any]]:
    return lambda sf: dict(sf.query_all(soql))


@contextmanager
def source_file(p: Pipeline, job: dict[str, Any]) -> Iterator[Path]:
    with p.blobs.local_copy(job["source"]["blob_key"]) as path:
        yield path


def plan_job(p: Pipeline, job_id: str) -> str:
    """Plan a job (idempotent: a redelivery re-stages the same chunks and re-enqueues harmlessly)."""
    job = p.get_job(job_id)
    if job["state"] in FINAL_STATES or job["state"] == "loading":
        return "already_" + job["state"]
    if job.get("cancel_requested") and job["state"] == "created":
        p.cancel_unplanned(job_id)
        return "cancelled"
    if job.get("plan") is not None:  # planned before a crash: only the hand-over to loading is left
        return _hand_over(p, job_id, requeue=True)
    p.set_state(job_id, "planning", planning_started_at=now())
    org = p.org(job)
    try:
        describe = p.describe(job, org, job["target"]["object"])
        with source_file(p, job) as path:
            options = read_options(job, p.settings)
            info = sniff(path, options)
            spec = with_inferred_formats(job_spec(job, info.columns, describe), path, options)
            parents = parent_describes(p, job, org, spec, describe)
            try:
                compiled = compile_mapping(spec, describe, info.columns, parent_describes=parents)
            except MappingError as exc:
                errors = [pr.message for pr in exc.problems if pr.severity == "error"]
                p.fail(job_id, "MAPPING_INVALID", "The mapping cannot be used: " + "; ".join(errors))
                return "failed"
            lookups = LookupChecker(org) if job["options"].get("check_lookups") else None
            prepare_options = PrepareOptions(resolve_lookups=lookups, parent_describes=parents)
            summary = _stage_all(p, job, path, options, info, compiled, describe, prepare_options)
            crash_point("after_staging")
    except DMSError as exc:
        p.fail(job_id, exc.code, exc.message)
        return "failed"
    summary["api_calls"] = org.api_calls
    summary["warnings"] = info.warnings + summary.get("warnings", [])
    p.jobs.update(job_id, lambda d: {**d, "plan": summary, "mapping": spec, "updated_at": now(),
                                     "api_calls": {**d.get("api_calls", {}), "plan": org.api_calls}})  # fmt: skip
    if job["options"]["dry_run"]:
        return _finish_rehearsal(p, job_id, summary)
    return _hand_over(p, job_id, requeue=False)


def _stage_all(
    p: Pipeline,
    job: dict[str, Any],
    path: Path,
    options: ReadOptions,
    info: SourceInfo,
    compiled: CompiledMapping,
    describe: dict[str, Any],
    prepare_options: PrepareOptions,
) -> dict[str, Any]:
    job_id = job["_id"]
    dry_run = job["options"]["dry_run"]
    total = invalid = valid = 0
    chunk_indexes: list[int] = []
    waiting: list[int] = []  # staged by this delivery and not loaded yet, as far as it last looked
    reader_chunks = 0
    estimated_calls = 0
    # A redelivered plan (its worker died before the hand-over) reads the file again: chunks an earlier
    # delivery already loaded are counted and listed, never staged or queued again.
    settled = {c["index"] for c in p.chunk_docs(job_id) if c["state"] in CHUNK_SETTLED}
    for chunk in read_chunks(path, options, info):
        reader_chunks += 1
        prepared = prepare(chunk.table, compiled, describe, prepare_options)
        if prepare_options.resolve_lookups is not None and job["target"]["operation"] == "upsert":
            prepared = check_new_rows(
                prepared, describe, job["target"]["external_id"], prepare_options.resolve_lookups
            )
        bad_rows = write_invalid_part(p, job_id, chunk, prepared)
        total += chunk.table.num_rows + len(chunk.problems)
        invalid += bad_rows
        rows = prepared.table.num_rows
        valid += rows
        if rows == 0:
            continue
        estimated_calls += estimate_calls(job["target"]["operation"], rows, job["options"])
        if dry_run:
            continue
        if chunk.index in settled:
            chunk_indexes.append(chunk.index)
            continue
        parts = staged_parts(chunk, prepared)
        stage_chunk(p.redis, job_id, chunk.index, parts, int(p.settings["STAGING_TTL_SECONDS"]))
        _ensure_chunk_doc(p, job_id, chunk.index, rows, parts["load"])
        p.enqueue("dms.load_chunk", [job_id, chunk.index])
        chunk_indexes.append(chunk.index)
        waiting.append(chunk.index)
        relieve_staging(p, job_id, waiting)
        if p.get_job(job_id).get("cancel_requested"):
            break
    log.info(
        "job planned job=%s total=%d invalid=%d valid=%d chunks=%d",
        job_id,
        total,
        invalid,
        valid,
        len(chunk_indexes),
    )
    return {
        "total_rows": total,
        "invalid_rows": invalid,
        "valid_rows": valid,
        "chunks": len(chunk_indexes),
        "chunk_indexes": chunk_indexes,
        "reader_chunks": reader_chunks,
        "columns": info.columns,
        "source_info": asdict(info),
        "estimated_api_calls": estimated_calls,
        "planned_at": now(),
    }


def staged_parts(chunk: Chunk, prepared: Prepared) -> dict[str, pa.Table]:
    """What a chunk stages: `load` (the valid rows as sent) and `source` (their original values)."""
    load_table = prepared.table
    if load_table.num_rows == chunk.table.num_rows:
        # Every row read is valid (the usual case): the source rows are the chunk itself, no lookup needed.
        return {"load": load_table, "source": chunk.table}
    kept = pa.array(load_table.column(ROW_COLUMN).to_numpy(), type=pa.int64())
    source = chunk.table.filter(pa.compute.is_in(chunk.table.column(ROW_COLUMN), value_set=kept))
    return {"load": load_table, "source": source}


def check_new_rows(prepared: Prepared, describe: dict[str, Any], external_id: str, lookups: Any) -> Prepared:
    """On an upsert, rows whose external id is not in the org yet will be created: hold them to the fields
    an insert requires, as Salesforce will (a rehearsal then rejects exactly what the load would)."""
    table = prepared.table
    if table.num_rows == 0 or external_id not in table.column_names:
        return prepared
    keys = table.column(external_id).to_pylist()
    existing = lookups(describe["name"], external_id, {k for k in keys if k})
    required = [
        f["name"] for f in describe.get("fields", [])
        if f.get("createable") and not f.get("nillable") and not f.get("defaultedOnCreate") and f.get("type") != "boolean"
    ]  # fmt: skip
    rows = table.column(ROW_COLUMN).to_pylist()
    errors = list(prepared.errors)
    bad: set[int] = set()
    for name in required:
        values = table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
        for row, key, value in zip(rows, keys, values, strict=True):
            if key not in existing and value in (None, "", "#N/A"):
                message = f"{name} is required: no {describe['name']} has {external_id} '{key}' yet, so this row creates one."
                errors.append(
                    RowError(
                        row=row,
                        column=None,
                        field=name,
                        value=None,
                        code="REQUIRED_FIELD_MISSING",
                        message=message,
                    )
                )
                bad.add(row)
    if not bad:
        return prepared
    keep = pa.compute.invert(
        pa.compute.is_in(table.column(ROW_COLUMN), value_set=pa.array(sorted(bad), type=pa.int64()))
    )
    return Prepared(table=table.filter(keep), errors=errors, invalid_rows=prepared.invalid_rows + len(bad))


def relieve_staging(p: Pipeline, job_id: str, waiting: list[int]) -> None:
    """Keep at most STAGING_MAX_CHUNKS_PER_JOB chunks staged in Redis: past that, the planner loads a
    waiting chunk itself (idempotent, leased like any delivery) instead of reading further.

    Reading outruns Salesforce by far, so without this a 10 GB file would sit in Redis while it loads.
    Loading rather than waiting also means a single worker can never deadlock on its own plan.
    `waiting` is the caller's list of the chunks it staged; those loaded meanwhile are taken out of it, so
    each call looks at a few chunks, not at every chunk of the file so far.
    """
    limit = int(p.settings.get("STAGING_MAX_CHUNKS_PER_JOB", 8))
    lease = float(p.settings.get("TASK_SOFT_TIME_LIMIT", 300)) / 4
    while True:
        waiting[:] = [i for i in waiting if p.redis.exists(stage_key(job_id, i, "load"))]
        if len(waiting) < limit:
            return
        # Newest first: the queue hands the oldest chunks to the other workers, so the newest is the one
        # nobody holds. A chunk someone holds, or that Salesforce is still processing, is passed over for
        # the next one: the planner never waits behind a lease while it could be loading.
        if not any(_load_one(p, job_id, index, lease) for index in reversed(waiting)):
            time.sleep(0.5)  # every waiting chunk is held or in Salesforce's hands: they will drain


def _load_one(p: Pipeline, job_id: str, index: int, lease: float) -> bool:
    """Load a waiting chunk from the planner; False when another delivery or Salesforce has it in hand."""
    from dms.pipeline.load import ChunkBusy, StillProcessing, load_chunk

    try:
        load_chunk(
            p,
            job_id,
            index,
            lease_seconds=lease,
            wait_seconds=float(p.settings.get("BULK_WAIT_IN_TASK_SECONDS", 2.0)),
        )
    except (ChunkBusy, StillProcessing):
        return False
    return True


def estimate_calls(operation: str, rows: int, options: dict[str, Any]) -> int:
    """API requests a chunk will spend: Bulk = create + upload + close + ~2 polls + 3 result files."""
    if choose_api(operation, rows, options) == "bulk":
        return 8
    return -(-rows // 200)


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
        "state": "staged",
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
    with p.blobs.open_write(result_key(job_id, chunk.index, "invalid")) as out:
        res.write_csv_rows(out, res.error_rows(failures, originals))
    return len(chunk.problems) + prepared.invalid_rows


def rebuild_chunk(p: Pipeline, job: dict[str, Any], index: int) -> dict[str, pa.Table]:
    """Re-read and re-prepare reader chunk `index` when its staging was lost (deterministic slices)."""
    org = p.org(job)
    describe = p.describe(job, org, job["target"]["object"])
    with source_file(p, job) as path:
        options = read_options(job, p.settings)
        info = sniff(path, options)
        spec = job.get("mapping") or job_spec(job, info.columns, describe)
        parents = parent_describes(p, job, org, spec, describe)
        compiled = compile_mapping(spec, describe, info.columns, parent_describes=parents)
        prepare_options = PrepareOptions(parent_describes=parents)
        for chunk in read_chunks(path, options, info):
            if chunk.index != index:
                continue
            return staged_parts(chunk, prepare(chunk.table, compiled, describe, prepare_options))
    raise DMSError(f"Chunk {index} is not in the source any more.", code="SOURCE_CHANGED")


def _hand_over(p: Pipeline, job_id: str, requeue: bool) -> str:
    """Move the job to loading; after a crash, enqueue every chunk's load again (loads are idempotent)."""
    job = p.get_job(job_id)
    if requeue:
        for index in job["plan"]["chunk_indexes"]:
            p.enqueue("dms.load_chunk", [job_id, index])
    try:
        p.set_state(job_id, "loading", loading_started_at=now())
    except Conflict:
        return "already_final"
    p.refresh_counters(job_id)
    return "loading"


def _finish_rehearsal(p: Pipeline, job_id: str, summary: dict[str, Any]) -> str:
    """A dry run ends after planning: every row is either valid (would load) or invalid."""

    def finish(doc: dict[str, Any]) -> dict[str, Any]:
        counters = {**doc["counters"], "total": summary["total_rows"], "invalid": summary["invalid_rows"],
                    "valid": summary["valid_rows"], "pending": 0}  # fmt: skip
        state = "completed_with_errors" if summary["invalid_rows"] else "completed"
        return {**doc, "counters": counters, "state": state, "finished_at": now(), "updated_at": now()}

    p.jobs.update(job_id, finish)
    return "rehearsed"


__all__ = ["STAGED_PARTS", "MappingError", "plan_job", "rebuild_chunk"]

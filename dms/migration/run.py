"""Running a migration plan: its document, the passes of its steps as ordinary jobs, and the key maps between.

A plan's document (store `plans`) holds its spec, its order, and one entry per pass of each step and attempt
(`accounts:load:1`, `accounts:update:1`, ...): waiting, running (its job's id), done, skipped or not run.
Every pass is a job with an id made from the plan, the step, the pass and the attempt, so that `advance_plan`
can be run any number of times, by any number of workers, after any crash: it creates each job at most once
(a second create of the same id is refused by the store), moves each entry forward only, and builds a key map
from a finished load pass's final results, which gives the same bytes however often it is built.

`advance_plan` runs when a pass's job ends (tasks/jobs.py asks for it), when the plan is made, retried or
cancelled, and from the housekeeping sweep for a plan that has made no progress for a while. It:
1. starts each waiting pass whose steps it waits for have loaded (order.py), or skips it when a retry finds
   nothing left for it;
2. for a running pass whose job has ended: a load pass's key maps are written (keymap.py: a part per chunk,
   then compacted), then the pass is done;
3. ends the plan once every pass of the attempt is done, skipped or not run.
A job that fails (not a row: the job) stops the plan from starting new passes: the plan ends failed once the
running ones end, and its retry goes on from there.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa

from dms.clients.docstore import DocumentStore, new_document_id
from dms.clients.listing import ListPage, ListQuery, newest
from dms.crashpoints import crash_point
from dms.errors import Conflict, DMSError, NotFound
from dms.migration.grouping import NotGroupable, write_grouped_copy
from dms.migration.keymap import Duplicate, KeyMapStore, bucket_count
from dms.migration.order import StepOrder, order_steps
from dms.migration.passes import PassKind, StepPass, rehearsal_id
from dms.migration.references import key_texts
from dms.migration.sources import extract_member
from dms.migration.spec import InvalidPlan, MigrationPlan, Step, parse_plan
from dms.migration.states import LEFTOVER_COUNTERS, PLAN_FINAL, PlanState
from dms.pipeline import lifecycle
from dms.pipeline import results as res
from dms.pipeline.chunks import JobFile, source_file
from dms.pipeline.context import Pipeline
from dms.pipeline.jobstore import JobOptions
from dms.pipeline.model import FINAL_STATES, ROW_COLUMN, JobState, TaskName, now
from dms.pipeline.source import ReadOptions
from dms.uploads import safe_filename

log = logging.getLogger(__name__)

PLANS_STORE = "plans"
BYTES_PER_ROW_GUESS = 40  # a step's bucket count is fixed from its file's size: a few bytes less per row
ZIP_PACKING = 10  # more buckets than needed cost a few small files; fewer, bigger lookups
DUPLICATES_SHOWN = 20  # duplicate keys listed per step in the plan (all of them are counted)


class PassState(StrEnum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"  # a retry found nothing left for it
    NOT_RUN = "not_run"  # the plan was cancelled, or failed, before it could start


PASS_ENDED = frozenset({PassState.DONE, PassState.SKIPPED, PassState.NOT_RUN})
_PASS_RANK = {PassState.WAITING: 0, PassState.RUNNING: 1, PassState.DONE: 2, PassState.SKIPPED: 2}
_PASS_RANK[PassState.NOT_RUN] = 2


def pass_key(step: str, kind: str, attempt: int) -> str:
    return f"{step}:{kind}:{attempt}"


def pass_job_id(plan_id: str, step: str, kind: str, attempt: int) -> str:
    """The job of one pass: the same id every time it is asked for, so it is made once."""
    return f"job-{plan_id.removeprefix('plan-')}-{step}-{kind}{attempt}"


def kinds_of(order: StepOrder, step: str) -> tuple[str, ...]:
    return (PassKind.LOAD, PassKind.UPDATE) if order.deferred_of(step) else (PassKind.LOAD,)


# ---- making a plan -------------------------------------------------------------------------------------


def plans_store(p: Pipeline) -> DocumentStore:
    return p.services.store(PLANS_STORE)


def create_plan(
    p: Pipeline,
    document: Mapping[str, Any],
    sources: Mapping[str, dict[str, Any]],
    *,
    dry_run: bool,
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """Check a plan and store it, running; `sources` gives each step's job source (the upload, as checked
    by the caller, with its `size`). Its first passes start at once."""
    plan = parse_plan(document)
    order = order_steps(plan)
    missing = [s.name for s in plan.steps if s.name not in sources]
    if missing:
        raise InvalidPlan(f"No source for step(s) {', '.join(missing)}.", field="steps")
    plan_id = new_document_id("plan")
    prefixes = {}
    for step in plan.steps:  # every object exists (a 422 naming the closest ones if not), and its Id prefix
        ctx = p.job_context(
            {"_id": plan_id, "target": {"connection_id": plan.connection_id, "object": step.object}}
        )
        try:
            prefixes[step.object] = ctx.describe(step.object).get("keyPrefix")
        except DMSError as exc:
            raise InvalidPlan(f"Step {step.name}: {exc.message}", step=step.name, field="object") from None
    stamp = now()
    passes = {
        pass_key(step.name, kind, 1): _new_pass(step.name, kind, 1)
        for step in plan.steps
        for kind in kinds_of(order, step.name)
    }
    doc = {
        "_id": plan_id,
        "type": "plan",
        "name": plan.name,
        "state": PlanState.RUNNING,
        "dry_run": dry_run,
        "attempt": 1,
        "created_at": stamp,
        "updated_at": stamp,
        "finished_at": None,
        "spec": dict(document),
        "sources": {name: dict(source) for name, source in sources.items()},
        "buckets": {s.name: bucket_count(_rows_guess(sources[s.name])) for s in plan.steps},
        "rehearsal_ids": {s.name: rehearsal_id(prefixes.get(s.object)) for s in plan.steps if dry_run},
        "order": order_view(order),
        "passes": passes,
        "duplicates": {},
        "cancel_requested": False,
        "error": None,
        **{k: owner.get(k) for k in ("owner", "owner_name")},
    }
    created = plans_store(p).create(doc)
    p.enqueue(TaskName.ADVANCE_PLAN, [plan_id])
    log.info("plan created plan=%s steps=%d dry_run=%s", plan_id, len(plan.steps), dry_run)
    return created


def _rows_guess(source: Mapping[str, Any]) -> int:
    """About how many rows a source holds, from its size (a zip's member from the zip's: CSV packs ~10x)."""
    size = int(source.get("size") or 0) * (ZIP_PACKING if source.get("member") else 1)
    return size // BYTES_PER_ROW_GUESS


def _new_pass(step: str, kind: str, attempt: int) -> dict[str, Any]:
    return {"step": step, "kind": kind, "attempt": attempt, "state": PassState.WAITING, "job_id": None}


def order_view(order: StepOrder) -> dict[str, Any]:
    """The order as the plan shows it: the waves of loads, and each deferred field with its reason."""
    return {
        "waves": [list(wave) for wave in order.waves],
        "load_after": {k: list(v) for k, v in order.load_after.items()},
        "update_after": {k: list(v) for k, v in order.update_after.items()},
        "deferred": [
            {
                "step": d.reference.step,
                "field": d.reference.target,
                "source": d.reference.source,
                "reason": d.reason,
            }
            for d in order.deferred
        ],
    }


# ---- advancing -----------------------------------------------------------------------------------------


def advance_plan(p: Pipeline, plan_id: str) -> str:
    """Move the plan on as far as it can go now (idempotent; see the module's docstring)."""
    store = plans_store(p)
    plan_doc = store.get(plan_id)
    if plan_doc["state"] in PLAN_FINAL:
        return "already_" + plan_doc["state"]
    plan = parse_plan(plan_doc["spec"])
    order = order_steps(plan)
    attempt = int(plan_doc["attempt"])
    while True:
        changes = _next_changes(p, plan_doc, plan, order, attempt)
        if not changes:
            break
        plan_doc = store.update(plan_id, functools.partial(_apply, changes=changes, attempt=attempt))
    plan_doc = store.update(plan_id, lambda d: _with_progress(p, d))
    ended = all(
        plan_doc["passes"][pass_key(s.name, k, attempt)]["state"] in PASS_ENDED
        for s in plan.steps
        for k in kinds_of(order, s.name)
    )
    if not ended:
        return "running"
    final = store.update(plan_id, _finish)
    log.info("plan finished plan=%s state=%s", plan_id, final["state"])
    return str(final["state"])


def _next_changes(
    p: Pipeline, plan_doc: dict[str, Any], plan: MigrationPlan, order: StepOrder, attempt: int
) -> dict[str, dict[str, Any]]:
    """What can change now, per pass key: a pass started or skipped, an ended job's pass done."""
    changes: dict[str, dict[str, Any]] = {}
    passes = plan_doc["passes"]
    stopping = plan_doc.get("cancel_requested") or plan_doc.get("error")
    for step in plan.steps:
        for kind in kinds_of(order, step.name):
            key = pass_key(step.name, kind, attempt)
            entry = passes[key]
            if entry["state"] == PassState.WAITING:
                if stopping:
                    why = "the plan was cancelled" if plan_doc.get("cancel_requested") else "the plan failed"
                    changes[key] = {"state": PassState.NOT_RUN, "reason": why}
                elif _ready(passes, order, step.name, kind, attempt):
                    if _nothing_to_do(passes, step.name, kind, attempt):
                        changes[key] = {"state": PassState.SKIPPED, "reason": "nothing left to do"}
                    else:
                        job_id = start_pass(p, plan_doc, plan, step, kind, attempt)
                        crash_point("plan_after_pass_started")
                        changes[key] = {"state": PassState.RUNNING, "job_id": job_id, "started_at": now()}
            elif entry["state"] == PassState.RUNNING:
                job = p.store.get(entry["job_id"])
                if job["state"] not in FINAL_STATES:
                    continue
                done: dict[str, Any] = {"state": PassState.DONE, "finished_at": now(), **pass_figures(job)}
                if job["state"] == JobState.FAILED:
                    error = job.get("error") or {}
                    done["error"] = {"step": step.name, "pass": kind, "job_id": job["_id"], **error}
                elif kind == PassKind.LOAD:
                    try:
                        duplicates = build_key_maps(p, plan_doc, plan, step, job, attempt)
                    except DMSError as exc:
                        done["error"] = {
                            "step": step.name,
                            "pass": kind,
                            "code": exc.code,
                            "message": exc.message,
                        }
                        changes[key] = done
                        continue
                    crash_point("plan_after_key_maps")
                    done["duplicates"] = {
                        "count": len(duplicates),
                        "examples": [
                            {"key": d.key, "rows": list(d.rows)} for d in duplicates[:DUPLICATES_SHOWN]
                        ],
                    }
                changes[key] = done
    return changes


def _apply(doc: dict[str, Any], changes: Mapping[str, dict[str, Any]], attempt: int) -> dict[str, Any]:
    """The plan with its passes moved forward (never back: another advance may have moved one already)."""
    passes = dict(doc["passes"])
    error = doc.get("error")
    for key, change in changes.items():
        entry = passes[key]
        if _PASS_RANK[PassState(change["state"])] <= _PASS_RANK[PassState(entry["state"])]:
            continue
        passes[key] = {**entry, **change}
        if change.get("error") and not error:
            error = change["error"]
    return {**doc, "passes": passes, "error": error, "updated_at": now()}


def _ready(passes: Mapping[str, Any], order: StepOrder, step: str, kind: str, attempt: int) -> bool:
    """Whether every step this pass waits for has loaded in this attempt (or had nothing left to load)."""
    waits = order.load_after[step] if kind == PassKind.LOAD else order.update_after[step]
    return all(
        passes[pass_key(other, PassKind.LOAD, attempt)]["state"] in (PassState.DONE, PassState.SKIPPED)
        for other in waits
    )


def _nothing_to_do(passes: Mapping[str, Any], step: str, kind: str, attempt: int) -> bool:
    """A retry's pass whose step has nothing left: its last pass left no row undone (an update pass: and
    no record was loaded since)."""
    if attempt == 1:
        return False
    last = _last_done(passes, step, kind, before=attempt)
    if last is None or last.get("job_state") == JobState.FAILED:
        return False
    leftover = sum(int(last.get("counters", {}).get(name, 0)) for name in LEFTOVER_COUNTERS)
    if kind == PassKind.UPDATE:
        loaded_now = passes[pass_key(step, PassKind.LOAD, attempt)]
        if loaded_now["state"] == PassState.DONE and loaded_now.get("counters", {}).get("succeeded"):
            return False
    return leftover == 0


def _last_done(passes: Mapping[str, Any], step: str, kind: str, before: int) -> dict[str, Any] | None:
    for attempt in range(before - 1, 0, -1):
        entry = passes.get(pass_key(step, kind, attempt))
        if entry and entry["state"] == PassState.DONE:
            return dict(entry)
    return None


def _done_jobs(passes: Mapping[str, Any], step: str, kind: str, before: int) -> list[str]:
    """The jobs of the step's passes of this kind that ran before `attempt`, oldest first."""
    found = []
    for attempt in range(1, before):
        entry = passes.get(pass_key(step, kind, attempt))
        if entry and entry["state"] == PassState.DONE and entry.get("job_id"):
            found.append(entry["job_id"])
    return found


def pass_figures(job: Mapping[str, Any]) -> dict[str, Any]:
    plan = job.get("plan") or {}
    return {
        "job_state": job["state"],
        "counters": dict(job["counters"]),
        "estimated_api_calls": plan.get("estimated_api_calls"),
        "api_calls": dict(job.get("api_calls", {})),
    }


def _with_progress(p: Pipeline, doc: dict[str, Any]) -> dict[str, Any]:
    return {**with_live_passes(doc, p.store.get), "updated_at": now()}


def with_live_passes(doc: Mapping[str, Any], job: Callable[[str], Mapping[str, Any]]) -> dict[str, Any]:
    """The plan with its running passes' figures as their jobs have them now (the plan document has them
    as of its last advance, which is mostly when a pass ends)."""
    passes = dict(doc["passes"])
    for key, entry in passes.items():
        if entry["state"] == PassState.RUNNING and entry.get("job_id"):
            try:
                passes[key] = {**entry, **pass_figures(job(entry["job_id"]))}
            except NotFound:
                continue  # made by an advance that has not recorded it yet
    return {**doc, "passes": passes}


def _finish(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["state"] in PLAN_FINAL:
        return doc
    if doc.get("error"):
        state = PlanState.FAILED
    elif doc.get("cancel_requested"):
        state = PlanState.CANCELLED
    elif _rows_left(doc) or any((e.get("duplicates") or {}).get("count") for e in doc["passes"].values()):
        state = PlanState.COMPLETED_WITH_ERRORS
    else:
        state = PlanState.COMPLETED
    stamp = now()
    return {**doc, "state": state, "finished_at": stamp, "updated_at": stamp}


def _rows_left(doc: Mapping[str, Any]) -> int:
    """Rows of the latest passes that ran which did not load (or whose deferred fields were not set)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in doc["passes"].values():
        if entry["state"] != PassState.DONE:
            continue
        slot = (entry["step"], entry["kind"])
        if slot not in latest or entry["attempt"] > latest[slot]["attempt"]:
            latest[slot] = entry
    return sum(int(e.get("counters", {}).get(n, 0)) for e in latest.values() for n in LEFTOVER_COUNTERS)


# ---- a pass's job --------------------------------------------------------------------------------------


def start_pass(
    p: Pipeline, plan_doc: Mapping[str, Any], plan: MigrationPlan, step: Step, kind: str, attempt: int
) -> str:
    """Create the pass's job (once: a redelivered advance finds it made and only enqueues its plan again)."""
    job_id = pass_job_id(plan_doc["_id"], step.name, kind, attempt)
    passes = plan_doc["passes"]
    loads = _done_jobs(passes, step.name, PassKind.LOAD, attempt + (kind == PassKind.UPDATE))
    migration = {
        "plan_id": plan_doc["_id"],
        "step": step.name,
        "pass": kind,
        "attempt": attempt,
        "spec": plan_doc["spec"],
        "buckets": plan_doc["buckets"],
        "earlier_loads": _done_jobs(passes, step.name, PassKind.LOAD, attempt),
        "loads": loads,
        "earlier_updates": _done_jobs(passes, step.name, PassKind.UPDATE, attempt),
        "rehearsal_ids": {j: plan_doc["rehearsal_ids"][step.name] for j in loads if plan_doc["dry_run"]},
    }
    step_pass_mapping = _pass_mapping(migration, p)
    request = {
        "id": job_id,
        "source": step_source(p, plan_doc, plan, step),
        "target": {
            "connection_id": plan.connection_id,
            "object": step.object,
            "operation": step.operation if kind == PassKind.LOAD else "update",
            "external_id": step.external_id if kind == PassKind.LOAD else None,
        },
        "mapping": step_pass_mapping,
        "options": {**(plan_doc["spec"].get("options") or {}), "dry_run": bool(plan_doc["dry_run"])},
        "migration": migration,
        "owner": plan_doc.get("owner"),
        "owner_name": plan_doc.get("owner_name"),
    }
    try:
        lifecycle.create_job(p, request)
    except Conflict:
        p.enqueue(TaskName.PLAN_JOB, [job_id])  # made by an advance that died before it was recorded
    log.info(
        "plan pass started plan=%s step=%s pass=%s attempt=%d job=%s",
        plan_doc["_id"],
        step.name,
        kind,
        attempt,
        job_id,
    )
    return job_id


def step_source(p: Pipeline, plan_doc: Mapping[str, Any], plan: MigrationPlan, step: Step) -> dict[str, Any]:
    """The source every pass of a step reads: its upload, or the file of the uploaded zip it names (extracted
    once, sources.py), regrouped by parent when it refers to one (grouping.py). Made once, on the step's
    first pass, and the same for every pass after, so that all read the same rows in the same chunks."""
    source = dict(plan_doc["sources"][step.name])
    member = source.pop("member", None)
    folder = f"plans/{plan_doc['_id']}/sources/{step.name}"
    pinned = ("upload_id", "blob_etag", "blob_version_id")  # a blob of the plan's is not the upload
    if member:
        key = f"{folder}/{safe_filename(PurePosixPath(member).name)}"
        if not p.blobs.exists(key):
            with source_file(p, {"source": source}) as archive:
                written = extract_member(p.blobs, archive, member, key, ReadOptions())
            log.info("zip member extracted plan=%s step=%s bytes=%d", plan_doc["_id"], step.name, written)
        kept = {k: v for k, v in source.items() if k not in pinned}
        source = {**kept, "blob_key": key, "filename": member, "archive_upload_id": source.get("upload_id")}
    parent = grouping_column(plan, step)
    if parent is None:
        return source
    grouped, refused = f"{folder}/grouped.parquet", f"{folder}/grouped.refused"
    if not p.blobs.exists(grouped) and not p.blobs.exists(refused):
        chunk_rows = int((plan_doc["spec"].get("options") or {}).get("chunk_rows") or JobOptions.chunk_rows)
        try:
            write_grouped_copy(p, {"source": source, "options": {"chunk_rows": chunk_rows}}, parent, grouped)
        except NotGroupable as exc:
            log.info("step loaded in file order plan=%s step=%s because=%s", plan_doc["_id"], step.name, exc)
            with p.blobs.open_write(refused) as out:
                out.write(str(exc).encode())
    if not p.blobs.exists(grouped):
        return source
    kept = {k: v for k, v in source.items() if k not in (*pinned, "read_options")}
    return {**kept, "blob_key": grouped, "grouped_copy": True, "read_options": {"format": "parquet"}}


def grouping_column(plan: MigrationPlan, step: Step) -> str | None:
    """The column a step's rows are grouped by: its first reference resolved on load (not deferred)."""
    deferred = {d.reference for d in order_steps(plan).deferred_of(step.name)}
    return next((r.source for r in step.references if r not in deferred), None)


def _pass_mapping(migration: Mapping[str, Any], p: Pipeline) -> dict[str, Any] | None:
    step_pass = StepPass.of({"migration": migration}, p.blobs)
    assert step_pass is not None
    mapping = step_pass.mapping()
    return None if mapping is None else {k: v for k, v in mapping.items() if k not in ("object", "operation")}


# ---- key maps ------------------------------------------------------------------------------------------


def key_columns_of(plan: MigrationPlan, step: str) -> list[str]:
    """The columns of a step other steps refer to it by (its `key`, or a reference's own `key`)."""
    columns = {ref.key_of(plan, step) for ref in plan.references if step in ref.steps}
    return sorted(c for c in columns if c)


def build_key_maps(
    p: Pipeline,
    plan_doc: Mapping[str, Any],
    plan: MigrationPlan,
    step: Step,
    job: Mapping[str, Any],
    attempt: int,
) -> list[Duplicate]:
    """Write the key map parts of a finished load pass from its final results (row -> Id, or why none),
    chunk by chunk, then compact the step's maps; the keys given by two rows."""
    columns = key_columns_of(plan, step.name)
    if not columns:
        return []
    keys = KeyMapStore(p.blobs, plan_doc["_id"])
    buckets = int(plan_doc["buckets"][step.name])
    earlier = _done_jobs(plan_doc["passes"], step.name, PassKind.LOAD, attempt)
    placeholder = plan_doc["rehearsal_ids"].get(step.name) if plan_doc["dry_run"] else None
    job_id = job["_id"]
    with source_file(p, dict(job)) as path:
        file = JobFile.of(dict(job), path, p.settings)
        info = file.info
        missing = [c for c in columns if c not in info.columns]
        if missing:
            raise DMSError(
                f"Step {step.name}: other steps refer to it by column(s) {', '.join(missing)}, which its file "
                f"does not have (columns: {', '.join(info.columns)}).",
                code="PLAN_KEY_COLUMN_MISSING",
                step=step.name,
                column=missing[0],
            )
        for chunk in file.chunks():
            rows = chunk.table[ROW_COLUMN].to_pylist()
            earlier_loaded: set[int] = set()
            for earlier_job in earlier:
                earlier_loaded |= res.succeeded_rows(p.blobs, earlier_job, chunk.index)
            failures = _failures(p, job_id, chunk.index)
            if placeholder is None:
                ids = res.succeeded_ids(p.blobs, job_id, chunk.index)
            else:
                ids = {r: placeholder for r in rows if r not in failures}
            entry_ids, entry_errors, keep = [], [], []
            for position, row in enumerate(rows):
                if row in earlier_loaded:
                    continue  # its entry (an Id) is an earlier attempt's
                keep.append(position)
                entry_ids.append(ids.get(row))
                entry_errors.append(
                    None if row in ids else failures.get(row, "not loaded: the pass was cancelled")
                )
            taken = chunk.table.take(pa.array(keep, pa.int64()))
            for column in columns:
                entries = pa.table(
                    {
                        "key": key_texts(taken[column]),
                        "row": taken[ROW_COLUMN],
                        "id": pa.array(entry_ids, pa.string()),
                        "error": pa.array(entry_errors, pa.string()),
                    }
                )
                keys.write_part(step.name, column, chunk.index, entries, buckets, attempt=attempt)
    duplicates: list[Duplicate] = []
    for column in columns:
        duplicates.extend(keys.compact(step.name, column, buckets))
    log.info(
        "key maps built plan=%s step=%s columns=%s duplicates=%d",
        plan_doc["_id"],
        step.name,
        columns,
        len(duplicates),
    )
    return duplicates


def _failures(p: Pipeline, job_id: str, index: int) -> dict[int, str]:
    """Source row -> why it did not load (its problems as errors.csv words them), for one reader chunk."""
    found: dict[int, list[str]] = {}
    for row in res.error_part_rows(p.blobs, job_id, index):
        if row:
            found.setdefault(int(row[0]), []).append(f"{row[2]}: {row[3]}")
    return {r: "; ".join(problems) for r, problems in found.items()}


def fail_plan(p: Pipeline, plan_id: str, code: str, message: str) -> None:
    """End a plan that cannot go on, saying why; passes already running go on to their own ends as jobs."""
    log.error("plan failed plan=%s code=%s message=%s", plan_id, code, message)

    def fail(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["state"] in PLAN_FINAL:
            return doc
        stamp = now()
        error = doc.get("error") or {"code": code, "message": message}
        return {**doc, "state": PlanState.FAILED, "error": error, "finished_at": stamp, "updated_at": stamp}

    plans_store(p).update(plan_id, fail)


def notify_plan(p: Pipeline, job_id: str) -> None:
    """A job's task has run: if the job is a plan's pass and has ended, the plan moves on, here and now.

    Advancing in the task that ended the pass, rather than in a queued advance task, starts the next passes
    at once: a queued message waits behind every chunk load already on the queue (seconds per wave in
    bench/plan_e2e.py). Advancing is idempotent, so a redelivered task advances again harmlessly. If it
    fails here, the advance task takes over: it owns the retries and ends the plan on an error that lasts."""
    job = p.store.get(job_id)
    migration = job.get("migration")
    if not migration or job["state"] not in FINAL_STATES:
        return
    plan_id = migration["plan_id"]
    try:
        advance_plan(p, plan_id)
    except Exception as exc:  # noqa: BLE001 - any failure: the queued advance retries it, or fails the plan
        log.warning("plan not advanced inline; queued plan=%s job=%s error=%r", plan_id, job_id, exc)
        p.enqueue(TaskName.ADVANCE_PLAN, [plan_id])


# ---- cancel and retry ----------------------------------------------------------------------------------


def cancel_plan(p: Pipeline, plan_id: str) -> dict[str, Any]:
    """Stop a plan: no pass starts any more; the running ones are cancelled as jobs are."""

    def request(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["state"] in PLAN_FINAL:
            raise Conflict(f"Plan {plan_id} is already {doc['state']}.", code="PLAN_FINISHED")
        return {**doc, "cancel_requested": True, "state": PlanState.CANCELLING, "updated_at": now()}

    doc = plans_store(p).update(plan_id, request)
    for entry in doc["passes"].values():
        if entry["state"] == PassState.RUNNING and entry.get("job_id"):
            try:
                lifecycle.cancel(p, entry["job_id"])
            except Conflict:
                continue  # it ended meanwhile
    p.enqueue(TaskName.ADVANCE_PLAN, [plan_id])
    return plans_store(p).get(plan_id)


def retry_plan(p: Pipeline, plan_id: str) -> dict[str, Any]:
    """Run the plan again for what it left undone: every step's rows that did not load, in order, then the
    deferred fields not set; rows already loaded are never sent again (the passes skip them)."""
    store = plans_store(p)
    doc = store.get(plan_id)
    if doc["state"] not in PLAN_FINAL:
        raise DMSError(
            f"Plan {plan_id} is still {doc['state']}; retry it once it has ended.", code="PLAN_NOT_FINISHED"
        )
    if doc["dry_run"]:
        raise DMSError("A rehearsal loaded nothing; run the plan for real instead.", code="PLAN_IS_DRY_RUN")
    if doc["state"] == PlanState.COMPLETED:
        raise DMSError(f"Plan {plan_id} left nothing to retry.", code="NOTHING_TO_RETRY")
    plan = parse_plan(doc["spec"])
    order = order_steps(plan)

    def again(d: dict[str, Any]) -> dict[str, Any]:
        if d["state"] not in PLAN_FINAL:
            raise Conflict(f"Plan {plan_id} is being retried already.", code="PLAN_NOT_FINISHED")
        attempt = int(d["attempt"]) + 1
        passes = dict(d["passes"])
        for step in plan.steps:
            for kind in kinds_of(order, step.name):
                passes[pass_key(step.name, kind, attempt)] = _new_pass(step.name, kind, attempt)
        return {
            **d,
            "attempt": attempt,
            "passes": passes,
            "state": PlanState.RUNNING,
            "error": None,
            "cancel_requested": False,
            "finished_at": None,
            "updated_at": now(),
        }

    doc = store.update(plan_id, again)
    p.enqueue(TaskName.ADVANCE_PLAN, [plan_id])
    log.info("plan retried plan=%s attempt=%d", plan_id, doc["attempt"])
    return doc


def find_plans(p: Pipeline, query: ListQuery) -> ListPage:
    """A page of the newest plans the query selects (owner, state, time, cursor)."""
    return newest(plans_store(p), "plan", query)


def requeue_stalled_plans(p: Pipeline, stalled_after: float, recent: int = 200) -> int:
    """Advance again the plans that have not moved for `stalled_after` seconds: a message lost (a purged
    queue, the dead-letter queue) must not leave a plan running for ever. advance_plan is idempotent, so a
    plan that is merely busy with a long pass only has its progress refreshed."""
    cutoff = datetime.now(UTC).timestamp() - stalled_after
    requeued = 0
    for doc in plans_store(p).iter_all("plan-", descending=True, limit=recent):
        stamp = doc.get("updated_at")
        if doc["state"] in PLAN_FINAL or (stamp and datetime.fromisoformat(stamp).timestamp() >= cutoff):
            continue
        p.enqueue(TaskName.ADVANCE_PLAN, [doc["_id"]])
        requeued += 1
    if requeued:
        log.warning("requeued stalled plans count=%d", requeued)
    return requeued

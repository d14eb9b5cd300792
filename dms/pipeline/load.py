"""Loading one staged chunk into Salesforce, exactly once in effect under at-least-once delivery.

Each step is recorded in the chunk document before its side effect, and a redelivered task resumes from the
record (the senders in apis/ say how for each API); results are written to deterministic blob keys; and the
chunk's counts land in one document write that moves it to `done`. A lease on the chunk document (a
compare-and-set through its revision) keeps two deliveries of the same message from loading at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pyarrow as pa
from simple_salesforce.exceptions import SalesforceError

from dms.crashpoints import crash_point
from dms.errors import DMSError
from dms.pipeline import results as res
from dms.pipeline.apis import choose_api, refused, sender_for
from dms.pipeline.chunks import rebuild_chunk
from dms.pipeline.context import JobContext, Pipeline
from dms.pipeline.model import CHUNK_SETTLED, ROW_COLUMN, Api, ChunkState, chunk_id, now
from dms.pipeline.staging import drop_staged, load_staged

log = logging.getLogger(__name__)


class ChunkBusy(DMSError):
    """Another delivery of this chunk holds its lease; try again later."""

    code = "CHUNK_BUSY"


def load_chunk(
    p: Pipeline,
    job_id: str,
    index: int,
    lease_seconds: float,
    wait_seconds: float | None = None,
) -> str:
    """Load chunk `index` of a job; returns what happened (done, already_done, cancelled)."""
    store = p.store
    cid = chunk_id(job_id, index)
    chunk = p.chunks.get(cid)
    if chunk["state"] in CHUNK_SETTLED:
        drop_staged(p.redis, job_id, index)  # left by a delivery that died after settling
        store.refresh_counters(job_id)
        return "already_" + chunk["state"]
    ctx = p.job_context(store.get(job_id))
    owner = uuid.uuid4().hex
    chunk = take_lease(p, cid, owner, lease_seconds)
    try:
        if ctx.job.get("cancel_requested") and not chunk.get("bulk_job_id"):
            settle(ctx, chunk, res.ChunkResult([], [], cancelled=chunk["rows"]))
            return "cancelled"
        staged = staged_rows(ctx, index)
        api = Api(chunk.get("api") or choose_api(ctx.operation, chunk["rows"], ctx.job["options"]))
        wait = lease_seconds * 0.8 if wait_seconds is None else min(wait_seconds, lease_seconds * 0.8)
        sender = sender_for(api, ctx, chunk, lambda **fields: record(p, cid, **fields), wait)
        try:
            outcome = sender.send(staged["load"])
        except SalesforceError as exc:
            if not p.store.cancel_requested(job_id):
                raise refused(exc) from exc
            # The cancel aborted the bulk job under its upload (Salesforce processes nothing of an Open job).
            log.info("bulk job aborted by a cancel job=%s chunk=%d", job_id, index)
            outcome = res.ChunkResult([], [], cancelled=chunk["rows"])
        settle(ctx, chunk, outcome, source=staged["source"])
        return "done"
    finally:
        release_lease(p, cid, owner)


def fail_chunk(p: Pipeline, job_id: str, index: int, code: str, message: str) -> None:
    """Settle a chunk whose every row failed for one reason (the job goes on with its other chunks)."""
    chunk = p.chunks.get(chunk_id(job_id, index))
    if chunk["state"] in CHUNK_SETTLED:
        return
    ctx = p.job_context(p.store.get(job_id))
    staged = staged_rows(ctx, index)
    rows = [int(r) for r in staged["load"].column(ROW_COLUMN).to_pylist()]
    outcome = res.ChunkResult([], [(row, code, message, "") for row in rows])
    settle(ctx, chunk, outcome, source=staged["source"])


def staged_rows(ctx: JobContext, index: int) -> dict[str, pa.Table]:
    """The chunk's staged parts, re-read and re-prepared from the source file when Redis lost them."""
    staged = load_staged(ctx.pipeline.redis, ctx.job_id, index)
    if staged is None:
        log.warning("staging lost; rebuilding from the source job=%s chunk=%d", ctx.job_id, index)
        staged = rebuild_chunk(ctx, index)
    return staged


def take_lease(p: Pipeline, cid: str, owner: str, seconds: float) -> dict[str, Any]:
    """Claim the chunk for this delivery (compare-and-set on the document revision)."""

    def claim(doc: dict[str, Any]) -> dict[str, Any]:
        lease = doc.get("lease") or {}
        if lease.get("owner") not in (None, owner) and lease.get("until", 0) > time.time():
            raise ChunkBusy(f"Chunk {cid} is being loaded by another delivery.")
        state = doc["state"] if doc["state"] in CHUNK_SETTLED else ChunkState.LOADING
        return {**doc, "lease": {"owner": owner, "until": time.time() + seconds}, "state": state}

    return p.chunks.update(cid, claim)


def release_lease(p: Pipeline, cid: str, owner: str) -> None:
    def release(doc: dict[str, Any]) -> dict[str, Any]:
        if (doc.get("lease") or {}).get("owner") == owner:
            doc = {**doc, "lease": None}
        return doc

    try:
        p.chunks.update(cid, release)
    except Exception:  # a lease left behind simply expires; never mask the task's own outcome
        log.warning("could not release lease chunk=%s", cid, exc_info=True)


def record(p: Pipeline, cid: str, **fields: Any) -> dict[str, Any]:
    """Write progress to the chunk document (before the side effect it guards)."""
    return p.chunks.update(cid, lambda d: {**d, **fields, "updated_at": now()})


def settle(
    ctx: JobContext, chunk: dict[str, Any], outcome: res.ChunkResult, source: pa.Table | None = None
) -> None:
    """Write the chunk's result parts, move it to done/cancelled with its counts in one write, and free its
    staging."""
    p, job_id, index = ctx.pipeline, ctx.job_id, chunk["index"]
    with p.blobs.open_write(res.part_key(job_id, index, "success")) as out:
        out.write(res.success_part(outcome, source))
    failed = [(row, "salesforce", code, msg, fields) for row, code, msg, fields in outcome.failed]
    originals = res.source_values(source, [f[0] for f in failed]) if source is not None and failed else {}
    with p.blobs.open_write(res.part_key(job_id, index, "errors")) as out:
        res.write_csv_rows(out, res.error_rows(failed, originals))
    crash_point("after_results", ctx.operation)
    counts = {**outcome.counts, "cancelled": outcome.cancelled}
    if counts["succeeded"] + counts["failed"] + outcome.cancelled != chunk["rows"]:
        raise DMSError(
            f"Chunk {chunk['_id']} results do not add up: {counts} for {chunk['rows']} rows.",
            code="RESULTS_MISMATCH",
        )
    state = ChunkState.CANCELLED if outcome.cancelled == chunk["rows"] else ChunkState.DONE
    calls = ctx.org.api_calls

    def finish(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["state"] in CHUNK_SETTLED:  # another delivery settled it first: keep its counts
            return doc
        spent = int(doc.get("api_calls", 0)) + calls
        return {**doc, "state": state, "result": counts, "api_calls": spent, "finished_at": now()}

    p.chunks.update(chunk["_id"], finish)
    crash_point("after_settle", ctx.operation)
    drop_staged(p.redis, job_id, index)  # a settled chunk's rows are never sent again
    ctx.org.api_calls = 0
    log.info("chunk settled job=%s chunk=%d state=%s counts=%s", job_id, index, state, counts)
    p.store.refresh_counters(job_id)

"""Loading one staged chunk into Salesforce, exactly once in effect under at-least-once delivery.

Each step is recorded in the chunk document before its side effect, and a redelivered task resumes from the
record: a Bulk 2.0 job id is stored before any data is uploaded; an Open job found on redelivery may hold a
partial upload, so it is aborted (Salesforce processes nothing of an Open job) and a new one is made; a job
that reached UploadComplete is never re-sent, only awaited; results are written to deterministic blob keys;
and the chunk's counts land in one document write that moves it to `done`. A lease on the chunk document
(a compare-and-set through its revision) keeps two deliveries of the same message from loading at once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from simple_salesforce.exceptions import SalesforceError

from dms.clients.salesforce import OrgClient, SalesforceRequestError, error_codes
from dms.crashpoints import crash_point
from dms.errors import DMSError
from dms.pipeline import results as res
from dms.pipeline.jobs import CHUNK_SETTLED, Pipeline, now
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.staging import drop_staged, load_staged

log = logging.getLogger(__name__)

STAGED_PARTS = ("load", "source")
BULK_FINAL = ("JobComplete", "Failed", "Aborted")
COLLECTION_SIZE = 200  # Salesforce's limit of records per sObject Collections request
LOCK_ERROR = "UNABLE_TO_LOCK_ROW"
LOCK_RETRIES = 3  # resends of rows Salesforce could not lock (another transaction held the record or parent)
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 0.2, 5.0  # each bulk status poll is an API request, and they cost


class ChunkBusy(DMSError):
    """Another delivery of this chunk holds its lease; try again later."""

    code = "CHUNK_BUSY"


class StillProcessing(DMSError):
    """Salesforce is still processing the chunk's bulk job; check again later (without holding a worker)."""

    code = "STILL_PROCESSING"

    def __init__(self, message: str, retry_in: float = 2.0) -> None:
        super().__init__(message)
        self.retry_in = retry_in  # seconds until the job should be done, at its observed rate


def chunk_id(job_id: str, index: int) -> str:
    return f"{job_id}:{index:05d}"


result_key = res.part_key


def choose_api(operation: str, rows: int, options: dict[str, Any]) -> str:
    """Bulk 2.0 for large chunks; sObject Collections for small ones where a resend is harmless.

    An insert always goes through Bulk 2.0: its job id, recorded before the upload, is what makes a
    redelivered insert safe; a Collections insert that dies mid-request cannot be told apart from one that
    never ran. Hard delete exists only in Bulk.
    """
    if options.get("api") == "bulk" or operation in ("insert", "hardDelete"):
        return "bulk"
    if options.get("api") == "collections" or rows <= options.get("collections_threshold", 2000):
        return "collections"
    return "bulk"


# ---- the task body -----------------------------------------------------------------------------------


def load_chunk(
    p: Pipeline,
    job_id: str,
    index: int,
    lease_seconds: float,
    wait_seconds: float | None = None,
) -> str:
    """Load chunk `index` of a job; returns what happened (done, already_done, cancelled)."""
    cid = chunk_id(job_id, index)
    chunk = p.chunks.get(cid)
    if chunk["state"] in CHUNK_SETTLED:
        drop_staged(p.redis, job_id, index, STAGED_PARTS)  # left by a delivery that died after settling
        p.refresh_counters(job_id)
        return "already_" + chunk["state"]
    job = p.get_job(job_id)
    owner = uuid.uuid4().hex
    chunk = take_lease(p, cid, owner, lease_seconds)
    org = p.org(job)
    try:
        if job.get("cancel_requested") and not chunk.get("bulk_job_id"):
            settle(p, job, chunk, res.ChunkResult([], []), cancelled=chunk["rows"], org=org)
            return "cancelled"
        staged = staged_rows(p, job, index)
        api = chunk.get("api") or choose_api(job["target"]["operation"], chunk["rows"], job["options"])
        try:
            if api == "bulk":
                wait = lease_seconds * 0.8 if wait_seconds is None else min(wait_seconds, lease_seconds * 0.8)
                outcome, cancelled = run_bulk(p, job, chunk, staged["load"], org, wait)
            else:
                outcome, cancelled = run_collections(p, job, chunk, staged["load"], org), 0
        except SalesforceError as exc:
            raise refused(exc) from exc
        settle(p, job, chunk, outcome, cancelled=cancelled, org=org, source=staged["source"])
        return "done"
    finally:
        release_lease(p, cid, owner)


def refused(exc: SalesforceError) -> SalesforceRequestError:
    """A Salesforce refusal as a domain error carrying Salesforce's own code and message."""
    content: Any = exc.content
    first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    code = first.get("errorCode") or f"HTTP_{exc.status}"
    message = first.get("message") or str(content)[:300]
    return SalesforceRequestError(f"Salesforce refused the request: {message}", code=code)


def fail_chunk(p: Pipeline, job_id: str, index: int, code: str, message: str) -> None:
    """Settle a chunk whose every row failed for one reason (the job goes on with its other chunks)."""
    cid = chunk_id(job_id, index)
    chunk = p.chunks.get(cid)
    if chunk["state"] in CHUNK_SETTLED:
        return
    job = p.get_job(job_id)
    staged = staged_rows(p, job, index)
    rows = [int(r) for r in staged["load"].column(ROW_COLUMN).to_pylist()]
    outcome = res.ChunkResult([], [(row, code, message, "") for row in rows])
    settle(p, job, chunk, outcome, cancelled=0, org=p.org(job), source=staged["source"])


def staged_rows(p: Pipeline, job: dict[str, Any], index: int) -> dict[str, pa.Table]:
    """The chunk's staged parts, re-read and re-prepared from the source file when Redis lost them."""
    staged = load_staged(p.redis, job["_id"], index, STAGED_PARTS)
    if staged is None:
        from dms.pipeline.plan import rebuild_chunk  # plan imports this module

        log.warning("staging lost; rebuilding from the source job=%s chunk=%d", job["_id"], index)
        staged = rebuild_chunk(p, job, index)
    return staged


def take_lease(p: Pipeline, cid: str, owner: str, seconds: float) -> dict[str, Any]:
    """Claim the chunk for this delivery (compare-and-set on the document revision)."""

    def claim(doc: dict[str, Any]) -> dict[str, Any]:
        lease = doc.get("lease") or {}
        if lease.get("owner") not in (None, owner) and lease.get("until", 0) > time.time():
            raise ChunkBusy(f"Chunk {cid} is being loaded by another delivery.")
        return {**doc, "lease": {"owner": owner, "until": time.time() + seconds}, "state": _loading(doc)}

    return p.chunks.update(cid, claim)


def _loading(doc: dict[str, Any]) -> str:
    return doc["state"] if doc["state"] in CHUNK_SETTLED else "loading"


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
    p: Pipeline,
    job: dict[str, Any],
    chunk: dict[str, Any],
    outcome: res.ChunkResult,
    *,
    cancelled: int,
    org: OrgClient,
    source: pa.Table | None = None,
) -> None:
    """Write the chunk's result parts, move it to done/cancelled with its counts in one write, and free its
    staging."""
    job_id, index = job["_id"], chunk["index"]
    with p.blobs.open_write(result_key(job_id, index, "success")) as out:
        out.write(res.success_part(outcome, source))
    failed = [(row, "salesforce", code, msg, fields) for row, code, msg, fields in outcome.failed]
    originals = res.source_values(source, [f[0] for f in failed]) if source is not None and failed else {}
    with p.blobs.open_write(result_key(job_id, index, "errors")) as out:
        res.write_csv_rows(out, res.error_rows(failed, originals))
    crash_point("after_results")
    counts = {**outcome.counts, "cancelled": cancelled}
    if counts["succeeded"] + counts["failed"] + cancelled != chunk["rows"]:
        raise DMSError(
            f"Chunk {chunk['_id']} results do not add up: {counts} for {chunk['rows']} rows.",
            code="RESULTS_MISMATCH",
        )
    state = "cancelled" if cancelled == chunk["rows"] else "done"

    def finish(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["state"] in CHUNK_SETTLED:  # another delivery settled it first: keep its counts
            return doc
        calls = int(doc.get("api_calls", 0)) + org.api_calls
        return {**doc, "state": state, "result": counts, "api_calls": calls, "finished_at": now()}

    p.chunks.update(chunk["_id"], finish)
    crash_point("after_settle")
    drop_staged(p.redis, job_id, index, STAGED_PARTS)  # a settled chunk's rows are never sent again
    org.api_calls = 0
    log.info("chunk settled job=%s chunk=%d state=%s counts=%s", job_id, index, state, counts)
    p.refresh_counters(job_id)


# ---- Bulk API 2.0 --------------------------------------------------------------------------------------


def to_csv(table: pa.Table) -> bytes:
    """The rows to send as Bulk 2.0 CSV: API-name header, UTF-8, LF, null as empty."""
    body = table.drop_columns([ROW_COLUMN]) if ROW_COLUMN in table.column_names else table
    return res.table_csv(body)


def abort_bulk_job(org: OrgClient, object_name: str, bulk_job_id: str) -> None:
    """Abort a Salesforce bulk job if it can still be aborted (cancel, or a partial upload)."""
    try:
        org.call(lambda sf: org.bulk(object_name).abort_job(bulk_job_id, False), what="abort bulk job")
    except SalesforceError as exc:  # already complete/aborted: nothing to stop
        log.info("bulk job not aborted job=%s codes=%s", bulk_job_id, error_codes(exc))


def run_bulk(
    p: Pipeline,
    job: dict[str, Any],
    chunk: dict[str, Any],
    table: pa.Table,
    org: OrgClient,
    wait_seconds: float,
) -> tuple[res.ChunkResult, int]:
    """Load the chunk through Bulk 2.0, resending rows Salesforce could not lock (UNABLE_TO_LOCK_ROW) in
    a new bulk job, a few times with backoff.

    Every attempt's bulk job id is recorded before its upload; on redelivery the finished attempts' results
    are read back from Salesforce (they stay there for days), so the rows of attempt n+1 are rebuilt exactly.
    """
    ids: list[str] = list(
        chunk.get("bulk_job_ids") or ([chunk["bulk_job_id"]] if chunk.get("bulk_job_id") else [])
    )
    total = res.ChunkResult([], [])
    remaining = table
    for attempt in range(LOCK_RETRIES + 1):
        known = ids[attempt] if attempt < len(ids) else None
        outcome, cancelled, used = bulk_attempt(
            p, job, chunk, remaining, org, wait_seconds, known, ids[:attempt]
        )
        ids = [*ids[:attempt], used, *ids[attempt + 1 :]] if used != known else ids
        locked = {f[0] for f in outcome.failed if f[1] == LOCK_ERROR}
        last = attempt == LOCK_RETRIES or cancelled > 0 or not locked
        total.succeeded += outcome.succeeded
        total.failed += outcome.failed if last else [f for f in outcome.failed if f[0] not in locked]
        if last:
            return total, cancelled
        log.info("resending rows salesforce could not lock job=%s chunk=%d rows=%d attempt=%d",
                 job["_id"], chunk["index"], len(locked), attempt + 2)  # fmt: skip
        remaining = remaining.filter(
            pc.is_in(remaining.column(ROW_COLUMN), value_set=pa.array(sorted(locked), pa.int64()))
        )
        if attempt + 1 >= len(ids):  # a new bulk job follows: give the lock holder time to finish
            time.sleep(lock_backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def lock_backoff(attempt: int) -> float:
    """Seconds to wait before resending rows that were locked."""
    return min(10.0, 0.5 * 2**attempt)


def bulk_attempt(
    p: Pipeline,
    job: dict[str, Any],
    chunk: dict[str, Any],
    table: pa.Table,
    org: OrgClient,
    wait_seconds: float,
    bulk_id: str | None,
    earlier: list[str],
) -> tuple[res.ChunkResult, int, str]:
    """One Bulk 2.0 job for `table`: create/upload/close it (or resume `bulk_id`), wait, match its results.

    Returns the outcome, the rows cancelled, and the bulk job id used.
    """
    target = job["target"]
    obj = target["object"]
    cid = chunk["_id"]
    info: dict[str, Any] | None = None
    if bulk_id:
        info = bulk_status(org, obj, bulk_id)
        state = info["state"]
        if state == "Open":
            # A redelivery after (part of) an upload: Salesforce has processed nothing of an Open job.
            log.info(
                "resuming: aborting open bulk job with a partial upload job=%s bulk=%s", job["_id"], bulk_id
            )
            abort_bulk_job(org, obj, bulk_id)
            bulk_id, info = None, None
        elif (
            state == "Aborted"
            and int(info.get("numberRecordsProcessed", 0)) == 0
            and not job.get("cancel_requested")
        ):
            bulk_id, info = None, None
    if not bulk_id:
        created = org.call(
            lambda sf: org.bulk(obj).create_job(
                target["operation"], external_id_field=target.get("external_id") or None
            ),
            what="create bulk job",
        )
        new_id: str = created["id"]
        record(p, cid, bulk_job_id=new_id, bulk_job_ids=[*earlier, new_id], api="bulk")
        crash_point("before_upload")
        data = to_csv(table).decode("utf-8")
        org.call(lambda sf: org.bulk(obj).upload_job_data(new_id, data), what="upload bulk data")
        crash_point("after_upload")
        org.call(lambda sf: org.bulk(obj).close_job(new_id), what="close bulk job")
        crash_point("after_close")
        bulk_id = new_id
        log.info(
            "bulk job uploaded job=%s chunk=%d bulk=%s rows=%d",
            job["_id"],
            chunk["index"],
            bulk_id,
            table.num_rows,
        )
    info = wait_for_bulk(org, obj, bulk_id, deadline=time.monotonic() + wait_seconds, rows=table.num_rows)
    if info["state"] == "Failed":
        message = info.get("errorMessage") or "Salesforce failed the bulk job."
        failed = [(int(r), "BULK_JOB_FAILED", message, "") for r in table.column(ROW_COLUMN).to_pylist()]
        return res.ChunkResult([], failed), 0, bulk_id
    wanted = result_files_needed(info, table.num_rows)
    finished_id = bulk_id

    def fetch(kind: str) -> str:
        if kind not in wanted:
            return ""
        # org.bulk() inside the call: after a re-login the client must carry the new session.
        return str(
            org.call(lambda sf: org.bulk(obj).get_ingest_results(finished_id, kind), what="bulk results")
        )

    successful, failed_csv = fetch("successfulResults"), fetch("failedResults")
    unprocessed = fetch("unprocessedrecords")
    # The job document read at the start of this task predates a cancel that aborted the bulk job: ask again.
    cancelled_run = info["state"] == "Aborted" and bool(p.get_job(job["_id"]).get("cancel_requested"))
    outcome = res.bulk_chunk_result(
        table, successful, failed_csv, unprocessed, "CANCELLED" if cancelled_run else "NOT_PROCESSED"
    )
    cancelled = 0
    if cancelled_run:
        cancelled = sum(1 for f in outcome.failed if f[1] == "CANCELLED")
        outcome.failed = [f for f in outcome.failed if f[1] != "CANCELLED"]
    return outcome, cancelled, bulk_id


def result_files_needed(info: dict[str, Any], rows: int) -> set[str]:
    """The result files that can hold rows, by the final job's counters: a file the counters say is empty
    costs an API request (and the org the work of joining every row to find none) for nothing. A row
    that none of the fetched files names is still reported, as RESULT_MISSING."""
    processed = int(info.get("numberRecordsProcessed") or 0)
    failed = int(info.get("numberRecordsFailed") or 0)
    wanted = set()
    if processed > failed or "numberRecordsProcessed" not in info:
        wanted.add("successfulResults")
    if failed or "numberRecordsFailed" not in info:
        wanted.add("failedResults")
    if info.get("state") != "JobComplete" or processed < rows:
        wanted.add("unprocessedrecords")
    return wanted


def bulk_status(org: OrgClient, obj: str, bulk_id: str) -> dict[str, Any]:
    """The bulk job's info (state, counters, errorMessage)."""
    return dict(org.call(lambda sf: org.bulk(obj).get_job(bulk_id, False), what="bulk job status"))


def wait_for_bulk(org: OrgClient, obj: str, bulk_id: str, deadline: float, rows: int = 0) -> dict[str, Any]:
    """Poll the bulk job until it is final; past the deadline, StillProcessing (the task re-checks later)."""
    delay = 0.2
    last: tuple[float, int] | None = None
    while True:
        info = bulk_status(org, obj, bulk_id)
        if info["state"] in BULK_FINAL:
            return info
        seen = (time.monotonic(), int(info.get("numberRecordsProcessed") or 0))
        delay = next_poll_delay(delay, last, seen, rows)
        last = seen
        if time.monotonic() + delay > deadline:
            raise StillProcessing(f"Bulk job {bulk_id} is still {info['state']}.", retry_in=delay)
        time.sleep(delay)


def next_poll_delay(
    delay: float, last: tuple[float, int] | None, seen: tuple[float, int], rows: int
) -> float:
    """The pause before the next status poll: when the job reports progress, about the time it needs to
    finish at its current rate (no poll wasted, little idle time after it ends); otherwise back off."""
    backoff = min(delay * 1.5, MAX_POLL_SECONDS)
    if last is None or rows <= 0:
        return backoff
    (then, done_then), (now, done) = last, seen
    if done >= rows:  # every row processed: only the final state is left to be written
        return MIN_POLL_SECONDS
    if done <= done_then or now <= then:
        return backoff
    remaining = (rows - done) * (now - then) / (done - done_then)
    return min(max(remaining * 1.1, MIN_POLL_SECONDS), MAX_POLL_SECONDS)


# ---- sObject Collections ----------------------------------------------------------------------------


def run_collections(
    p: Pipeline, job: dict[str, Any], chunk: dict[str, Any], table: pa.Table, org: OrgClient
) -> res.ChunkResult:
    """Update/upsert/delete in requests of 200 records; results come back in request order."""
    target = job["target"]
    obj = target["object"]
    record(p, chunk["_id"], api="collections")
    rows = [int(r) for r in table.column(ROW_COLUMN).to_pylist()]
    body = table.drop_columns([ROW_COLUMN])
    names = body.column_names
    columns = [body.column(n).to_pylist() for n in names]
    describe = p.describe(job, org, obj)
    kinds = {f["name"]: f["type"] for f in describe.get("fields", [])}
    outcome = res.ChunkResult([], [])
    for start in range(0, len(rows), COLLECTION_SIZE):
        batch_rows = rows[start : start + COLLECTION_SIZE]
        records = [
            json_record(obj, names, [col[i] for col in columns], kinds)
            for i in range(start, start + len(batch_rows))
        ]
        answer = send_collection(org, target, records)
        crash_point("after_collections_batch")
        for attempt in range(LOCK_RETRIES):
            # Records Salesforce could not lock are sent again (update/upsert/delete: a resend is harmless).
            locked = [
                i for i, item in enumerate(answer) if not item.get("success") and _status(item) == LOCK_ERROR
            ]
            if not locked:
                break
            time.sleep(lock_backoff(attempt))
            again = send_collection(org, target, [records[i] for i in locked])
            for i, item in zip(locked, again, strict=True):
                answer[i] = item
        for row, item in zip(batch_rows, answer, strict=True):
            if item.get("success"):
                outcome.succeeded.append((row, item.get("id") or "", bool(item.get("created", False))))
            else:
                errors = item.get("errors") or [{}]
                first = errors[0]
                message = "; ".join(e.get("message", "") for e in errors)
                fields = ";".join(f for e in errors for f in e.get("fields", []) or [])
                outcome.failed.append((row, first.get("statusCode", "UNKNOWN_ERROR"), message, fields))
    return outcome


def send_collection(
    org: OrgClient, target: dict[str, Any], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One sObject Collections request (at most 200 records, allOrNone false); results in request order."""
    obj, operation = target["object"], target["operation"]
    if operation == "delete":
        ids = ",".join(r.get("Id", "") for r in records)
        answer = org.rest("DELETE", f"composite/sobjects?ids={ids}&allOrNone=false")
    elif operation == "upsert":
        path = f"composite/sobjects/{obj}/{target['external_id']}"
        answer = org.rest("PATCH", path, data=json.dumps({"allOrNone": False, "records": records}))
    else:
        answer = org.rest(
            "PATCH", "composite/sobjects", data=json.dumps({"allOrNone": False, "records": records})
        )
    if not isinstance(answer, list) or len(answer) != len(records):
        got = len(answer) if isinstance(answer, list) else "no list"
        raise SalesforceRequestError(f"Salesforce answered {got} results for {len(records)} records.")
    return [dict(item) for item in answer]


def _status(item: dict[str, Any]) -> str:
    errors = item.get("errors") or [{}]
    return str(errors[0].get("statusCode", ""))


def json_record(obj: str, names: list[str], values: list[Any], kinds: dict[str, str]) -> dict[str, Any]:
    """A Bulk-CSV-shaped row as REST JSON: `#N/A` is null, empty is left out, types as the describe says,
    and `Account.Legacy_Id__c` becomes {"Account": {"Legacy_Id__c": ...}}."""
    record: dict[str, Any] = {"attributes": {"type": obj}}
    for name, value in zip(names, values, strict=True):
        if value is None or value == "":
            continue
        if "." in name:
            relation, field = name.split(".", 1)
            record[relation] = {field: value}
            continue
        if value == "#N/A":
            record[name] = None
            continue
        kind = kinds.get(name, "string")
        if kind == "boolean":
            record[name] = value.lower() == "true"
        elif kind == "int":
            record[name] = int(value)
        elif kind in ("double", "currency", "percent"):
            record[name] = float(value)
        else:
            record[name] = value
    return record

"""Bulk API 2.0: one ingest job per attempt, recorded before its upload so a redelivery resumes it.

An Open job found on redelivery may hold a partial upload, so it is aborted (Salesforce processes nothing of
an Open job) and a new one is made; a job that reached UploadComplete is never re-sent, only awaited.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from simple_salesforce.exceptions import SalesforceError

from dms.clients.salesforce import OrgClient, error_codes
from dms.crashpoints import crash_point
from dms.errors import DMSError
from dms.pipeline import results as res
from dms.pipeline.apis.sender import LOCK_ERROR, LOCK_RETRIES, Record, lock_backoff
from dms.pipeline.context import JobContext
from dms.pipeline.csvtext import table_csv
from dms.pipeline.model import ROW_COLUMN, Api

log = logging.getLogger(__name__)

BULK_FINAL = ("JobComplete", "Failed", "Aborted")
JOB_FAILED = "BULK_JOB_FAILED"  # a row a Failed job never processed: sent again in a new job, then reported
RESENT_CODES = frozenset({LOCK_ERROR, JOB_FAILED})
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 0.2, 5.0  # each bulk status poll is an API request, and they cost


class StillProcessing(DMSError):
    """Salesforce is still processing the chunk's bulk job; check again later (without holding a worker)."""

    code = "STILL_PROCESSING"

    def __init__(self, message: str, retry_in: float = 2.0) -> None:
        super().__init__(message)
        self.retry_in = retry_in  # seconds until the job should be done, at its observed rate


class BulkSender:
    """Loads a chunk through Bulk 2.0, resending rows Salesforce could not lock (UNABLE_TO_LOCK_ROW), and rows
    a Failed job never processed, in a new bulk job, a few times with backoff.

    A Failed job is read like any finished one: Salesforce does not roll back the rows it processed before it
    failed, so they count by its result files; only the rows it lists as unprocessed are sent again.

    Every attempt's bulk job id is recorded before its upload; on redelivery the finished attempts' results
    are read back from Salesforce (they stay there for days), so the rows of attempt n+1 are rebuilt exactly.
    """

    api = Api.BULK

    def __init__(self, ctx: JobContext, chunk: dict[str, Any], record: Record, wait_seconds: float) -> None:
        self.ctx = ctx
        self.org = ctx.org
        self.chunk = chunk
        self.record = record
        self.wait_seconds = wait_seconds

    def send(self, table: pa.Table) -> res.ChunkResult:
        chunk = self.chunk
        ids: list[str] = list(
            chunk.get("bulk_job_ids") or ([chunk["bulk_job_id"]] if chunk.get("bulk_job_id") else [])
        )
        total = res.ChunkResult([], [])
        remaining = table
        for attempt in range(LOCK_RETRIES + 1):
            known = ids[attempt] if attempt < len(ids) else None
            outcome, used = self.attempt(remaining, known, ids[:attempt])
            ids = [*ids[:attempt], used, *ids[attempt + 1 :]] if used != known else ids
            locked = {f[0] for f in outcome.failed if f[1] in RESENT_CODES}
            last = attempt == LOCK_RETRIES or outcome.cancelled > 0 or not locked
            total.succeeded += outcome.succeeded
            total.failed += outcome.failed if last else [f for f in outcome.failed if f[0] not in locked]
            if last:
                total.cancelled = outcome.cancelled
                return total
            log.info(
                "resending rows salesforce could not lock or never processed job=%s chunk=%d rows=%d attempt=%d",
                self.ctx.job_id,
                chunk["index"],
                len(locked),
                attempt + 2,
            )
            remaining = remaining.filter(
                pc.is_in(remaining.column(ROW_COLUMN), value_set=pa.array(sorted(locked), pa.int64()))
            )
            if attempt + 1 >= len(ids):  # a new bulk job follows: give the lock holder time to finish
                time.sleep(lock_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def attempt(
        self, table: pa.Table, bulk_id: str | None, earlier: list[str]
    ) -> tuple[res.ChunkResult, str]:
        """One Bulk 2.0 job for `table`: create/upload/close it (or resume `bulk_id`), wait, match its results.

        Returns the outcome (with the rows a cancel stopped) and the bulk job id used.
        """
        org, obj = self.org, self.ctx.object_name
        if bulk_id and not self.resumable(bulk_id):
            bulk_id = None
        if not bulk_id:
            if self.ctx.pipeline.store.cancel_requested(self.ctx.job_id):  # no new bulk job after a cancel
                return res.ChunkResult([], [], cancelled=table.num_rows), ""
            bulk_id = self.create_and_upload(table, earlier)
        info = wait_for_bulk(
            org, obj, bulk_id, deadline=time.monotonic() + self.wait_seconds, rows=table.num_rows
        )
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
        cancelled_run = info["state"] == "Aborted" and self.ctx.pipeline.store.cancel_requested(
            self.ctx.job_id
        )
        unprocessed_code = "CANCELLED" if cancelled_run else "NOT_PROCESSED"
        if info["state"] == "Failed":
            unprocessed_code = JOB_FAILED
            log.warning(
                "bulk job failed; reading what it processed job=%s bulk=%s error=%s",
                self.ctx.job_id,
                bulk_id,
                info.get("errorMessage"),
            )
        outcome = res.bulk_chunk_result(table, successful, failed_csv, unprocessed, unprocessed_code)
        if info["state"] == "Failed":
            message = info.get("errorMessage") or "Salesforce failed the bulk job."
            outcome.failed = [(r, c, message if c == JOB_FAILED else m, f) for r, c, m, f in outcome.failed]
        if cancelled_run:
            outcome.cancelled = sum(1 for f in outcome.failed if f[1] == "CANCELLED")
            outcome.failed = [f for f in outcome.failed if f[1] != "CANCELLED"]
        return outcome, bulk_id

    def resumable(self, bulk_id: str) -> bool:
        """Whether a recorded bulk job is to be awaited (False: make a new one)."""
        info = bulk_status(self.org, self.ctx.object_name, bulk_id)
        if info["state"] == "Open":
            # A redelivery after (part of) an upload: Salesforce has processed nothing of an Open job.
            log.info(
                "resuming: aborting open bulk job with a partial upload job=%s bulk=%s",
                self.ctx.job_id,
                bulk_id,
            )
            abort_bulk_job(self.org, self.ctx.object_name, bulk_id)
            return False
        processed = int(info.get("numberRecordsProcessed", 0))
        return not (
            info["state"] == "Aborted" and processed == 0 and not self.ctx.job.get("cancel_requested")
        )

    def create_and_upload(self, table: pa.Table, earlier: list[str]) -> str:
        """Create a bulk job, record its id, upload the rows and close it; returns the job id."""
        org, obj, target = self.org, self.ctx.object_name, self.ctx.job["target"]
        created = org.call(
            lambda sf: org.bulk(obj).create_job(
                target["operation"], external_id_field=target.get("external_id") or None
            ),
            what="create bulk job",
        )
        bulk_id: str = created["id"]
        self.record(bulk_job_id=bulk_id, bulk_job_ids=[*earlier, bulk_id], api=Api.BULK)
        crash_point("before_upload", target["operation"])
        data = to_csv(table).decode("utf-8")
        org.call(lambda sf: org.bulk(obj).upload_job_data(bulk_id, data), what="upload bulk data")
        crash_point("after_upload", target["operation"])
        org.call(lambda sf: org.bulk(obj).close_job(bulk_id), what="close bulk job")
        crash_point("after_close", target["operation"])
        log.info(
            "bulk job uploaded job=%s chunk=%d bulk=%s rows=%d",
            self.ctx.job_id,
            self.chunk["index"],
            bulk_id,
            table.num_rows,
        )
        return bulk_id


def to_csv(table: pa.Table) -> bytes:
    """The rows to send as Bulk 2.0 CSV: API-name header, UTF-8, LF, null as empty."""
    body = table.drop_columns([ROW_COLUMN]) if ROW_COLUMN in table.column_names else table
    return table_csv(body)


def abort_bulk_job(org: OrgClient, object_name: str, bulk_job_id: str) -> None:
    """Abort a Salesforce bulk job if it can still be aborted (cancel, or a partial upload)."""
    try:
        org.call(lambda sf: org.bulk(object_name).abort_job(bulk_job_id, False), what="abort bulk job")
    except SalesforceError as exc:  # already complete/aborted: nothing to stop
        log.info("bulk job not aborted job=%s codes=%s", bulk_job_id, error_codes(exc))


def result_files_needed(info: dict[str, Any], rows: int) -> set[str]:
    """The result files that can hold rows, by the final job's counters: a file the counters say is empty
    costs an API request (and the org the work of joining every row to find none) for nothing. A row
    that none of the fetched files names is still reported, as RESULT_MISSING."""
    if info.get("state") != "JobComplete":  # a Failed or Aborted job's counters may lag behind its results
        return {"successfulResults", "failedResults", "unprocessedrecords"}
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
    (then, done_then), (seen_at, done) = last, seen
    if done >= rows:  # every row processed: only the final state is left to be written
        return MIN_POLL_SECONDS
    if done <= done_then or seen_at <= then:
        return backoff
    remaining = (rows - done) * (seen_at - then) / (done - done_then)
    return min(max(remaining * 1.1, MIN_POLL_SECONDS), MAX_POLL_SECONDS)

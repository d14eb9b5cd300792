"""The job lifecycle: created → planning → loading → completed | completed_with_errors | failed | cancelled.

The job document in Cloudant is the record of truth. Per-chunk progress lives in chunk documents; the job's
counters are always recomputed from them (never incremented), so a redelivered task can count nothing twice,
and total = succeeded + failed + invalid + cancelled + pending holds at every moment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from dms.clients import Services
from dms.clients.blobstore import BlobStore
from dms.clients.docstore import DocumentStore, new_document_id
from dms.clients.salesforce import OrgClient
from dms.connections import ConnectionStore
from dms.errors import Conflict, DMSError

log = logging.getLogger(__name__)

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
FINAL_STATES = ("completed", "completed_with_errors", "failed", "cancelled")
STATES = ("created", "planning", "loading", *FINAL_STATES)
CHUNK_SETTLED = ("done", "cancelled")
COUNTERS = ("total", "succeeded", "created", "updated", "failed", "invalid", "cancelled", "pending")

Enqueue = Callable[[str, list[Any]], None]  # (task name, args): publish a task; the task layer provides it


def publisher(celery: Any) -> Enqueue:
    """Enqueue by task name on a Celery app (the domain names tasks; it never imports them)."""
    return lambda name, args: celery.send_task(name, args=args)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobError(DMSError):
    """A job request or action that cannot be carried out."""

    code = "INVALID_JOB"


@dataclass
class Pipeline:
    """What the pipeline's steps need: stores, staging, blobs, orgs, settings, and a way to enqueue."""

    services: Services
    enqueue: Enqueue

    @property
    def jobs(self) -> DocumentStore:
        return self.services.store("jobs")

    @property
    def chunks(self) -> DocumentStore:
        return self.services.store("chunks")

    @property
    def redis(self) -> redis.Redis:
        return self.services.redis

    @property
    def blobs(self) -> BlobStore:
        return self.services.blobs

    @property
    def settings(self) -> Any:
        return self.services.settings

    def org(self, job: dict[str, Any]) -> OrgClient:
        """A counted, retrying client for the job's org."""
        return OrgClient(ConnectionStore(self.services).credentials(job["target"].get("connection_id")))

    def describe(self, job: dict[str, Any], org: OrgClient, object_name: str) -> dict[str, Any]:
        """The object's describe, cached in Redis per connection (describes change rarely, calls cost)."""
        key = f"dms:describe:{job['target'].get('connection_id') or 'default'}:{object_name}"
        cached = self.redis.get(key)
        if cached:
            return dict(json.loads(cached))
        describe = org.describe(object_name)
        self.redis.set(key, json.dumps(describe), ex=int(self.settings.get("DESCRIBE_CACHE_SECONDS", 900)))
        return describe

    # ---- creating and reading jobs -------------------------------------------------------------------

    def create_job(self, request: dict[str, Any]) -> dict[str, Any]:
        """Check a job request, store the job as `created` and enqueue its plan."""
        target = request.get("target") or {}
        operation = target.get("operation")
        if not target.get("object"):
            raise JobError("`target.object` is required (e.g. Account).", code="INVALID_JOB")
        if operation not in OPERATIONS:
            raise JobError(f"`target.operation` must be one of {', '.join(OPERATIONS)}.", code="INVALID_JOB")
        if operation == "upsert" and not target.get("external_id"):
            raise JobError(
                "An upsert needs `target.external_id` (the external id field).", code="INVALID_JOB"
            )
        source = request.get("source") or {}
        if not source.get("blob_key"):
            raise JobError("`source` must name an upload (upload_id) or a blob_key.", code="INVALID_JOB")
        options = {
            "dry_run": bool(request.get("options", {}).get("dry_run", False)),
            "chunk_rows": int(request.get("options", {}).get("chunk_rows", 50_000)),
            "api": request.get("options", {}).get("api", "auto"),
            "collections_threshold": int(
                request.get("options", {}).get(
                    "collections_threshold", self.settings.get("COLLECTIONS_THRESHOLD", 2000)
                )
            ),
            "check_lookups": bool(
                request.get("options", {}).get(
                    "check_lookups", request.get("options", {}).get("dry_run", False)
                )
            ),
        }
        if options["api"] not in ("auto", "bulk", "collections"):
            raise JobError("`options.api` must be auto, bulk or collections.", code="INVALID_JOB")
        if not 1 <= options["chunk_rows"] <= 1_000_000:
            raise JobError("`options.chunk_rows` must be between 1 and 1,000,000.", code="INVALID_JOB")
        doc = {
            "_id": new_document_id("job"),
            "type": "job",
            "state": "created",
            "created_at": now(),
            "updated_at": now(),
            "source": source,
            "target": {
                "connection_id": target.get("connection_id") or "default",
                "object": target["object"],
                "operation": operation,
                "external_id": target.get("external_id"),
            },
            "mapping": request.get("mapping"),
            "options": options,
            "plan": None,
            "counters": dict.fromkeys(COUNTERS, 0),
            "api_calls": {"plan": 0, "load": 0},
            "retry_of": request.get("retry_of"),
            "cancel_requested": False,
            "error": None,
        }
        job = self.jobs.create(doc)
        self.enqueue("dms.plan_job", [job["_id"]])
        log.info(
            "job created job=%s object=%s operation=%s dry_run=%s",
            job["_id"],
            target["object"],
            operation,
            options["dry_run"],
        )
        return job

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.jobs.get(job_id)

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.jobs.iter_all("job-", descending=True, limit=limit))

    def chunk_docs(self, job_id: str) -> Iterator[dict[str, Any]]:
        return self.chunks.iter_all(f"{job_id}:")

    # ---- state ------------------------------------------------------------------------------------------

    def set_state(self, job_id: str, state: str, **fields: Any) -> dict[str, Any]:
        """Move a job to a state (never out of a final one)."""

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES and state != doc["state"]:
                raise Conflict(f"Job {job_id} is already {doc['state']}.", code="JOB_FINISHED")
            return {**doc, **fields, "state": state, "updated_at": now()}

        return self.jobs.update(job_id, change)

    def fail(self, job_id: str, code: str, message: str) -> None:
        """Mark a job failed with a reason a person understands (pending rows stay counted as pending)."""
        log.error("job failed job=%s code=%s message=%s", job_id, code, message)
        try:
            self.set_state(job_id, "failed", error={"code": code, "message": message})
        except Conflict:
            pass

    def refresh_counters(self, job_id: str) -> dict[str, Any]:
        """Recompute the job's counters from its plan and chunk documents; finish the job when all are settled."""
        chunks = list(self.chunk_docs(job_id))

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES:
                return doc
            plan = doc.get("plan") or {}
            counters = dict.fromkeys(COUNTERS, 0)
            # While planning, the total grows with the chunks staged so far (invalid rows are known at the end).
            counters["total"] = plan["total_rows"] if plan else sum(int(c["rows"]) for c in chunks)
            counters["invalid"] = plan.get("invalid_rows", 0)
            load_calls = 0
            settled = 0
            for chunk in chunks:
                result = chunk.get("result") or {}
                for name in ("succeeded", "created", "updated", "failed", "cancelled"):
                    counters[name] += int(result.get(name, 0))
                load_calls += int(chunk.get("api_calls", 0))
                settled += chunk["state"] in CHUNK_SETTLED
            counters["pending"] = counters["total"] - sum(
                counters[n] for n in ("succeeded", "failed", "invalid", "cancelled")
            )
            doc = {**doc, "counters": counters, "updated_at": now()}
            doc["api_calls"] = {**doc.get("api_calls", {}), "load": load_calls}
            planned = doc.get("plan") is not None and doc["state"] == "loading"
            if planned and settled == plan.get("chunks", 0) and counters["pending"] == 0:
                doc["state"] = final_state(doc)
                doc["finished_at"] = now()
                log.info("job finished job=%s state=%s counters=%s", job_id, doc["state"], counters)
            return doc

        return self.jobs.update(job_id, change)

    # ---- cancel and retry ------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop a job: staged chunks are cancelled, running Salesforce bulk jobs aborted; a job not yet
        planned is cancelled by its plan task, which stops reading the file when it sees the request."""
        job = self.jobs.get(job_id)
        if job["state"] in FINAL_STATES:
            raise Conflict(f"Job {job_id} is already {job['state']}.", code="JOB_FINISHED")
        self.jobs.update(job_id, lambda d: {**d, "cancel_requested": True, "updated_at": now()})
        org: OrgClient | None = None
        from dms.pipeline.load import STAGED_PARTS, abort_bulk_job
        from dms.pipeline.staging import drop_staged

        for chunk in self.chunk_docs(job_id):
            if chunk["state"] == "staged":
                try:
                    self.chunks.update(chunk["_id"], _cancel_staged)
                except Conflict:
                    continue  # a worker took it meanwhile: it sees the request itself
                drop_staged(self.redis, job_id, chunk["index"], STAGED_PARTS)  # its rows will never load
            elif chunk["state"] == "loading" and chunk.get("bulk_job_id"):
                org = org or self.org(job)
                abort_bulk_job(org, job["target"]["object"], chunk["bulk_job_id"])
        return self.refresh_counters(job_id)

    def cancel_unplanned(self, job_id: str) -> None:
        """Cancel a job the plan task had not started reading: nothing was read, nothing is owed."""

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["state"] in FINAL_STATES:
                return doc
            return {**doc, "state": "cancelled", "updated_at": now(), "finished_at": now()}

        self.jobs.update(job_id, change)


def requeue_stalled_work(p: Pipeline, stalled_after: float, recent: int = 200) -> int:
    """Enqueue again the plans and chunk loads that have made no progress for `stalled_after` seconds.

    A message that SQS moved to the dead-letter queue after too many deliveries, or one lost with a purged
    queue, would otherwise leave its job unfinished for ever. Every task is idempotent, so a message sent
    for work that was merely slow costs one quick no-op.
    """
    cutoff = datetime.now(UTC).timestamp() - stalled_after
    requeued = 0
    for job in p.list_jobs(limit=recent):
        if job["state"] in ("created", "planning") and _stamp(job.get("updated_at")) < cutoff:
            p.enqueue("dms.plan_job", [job["_id"]])
            requeued += 1
        elif job["state"] == "loading":
            for chunk in p.chunk_docs(job["_id"]):
                lease = chunk.get("lease") or {}
                idle = max(
                    _stamp(chunk.get("updated_at")),
                    _stamp(chunk.get("created_at")),
                    float(lease.get("until", 0)),
                )
                if chunk["state"] not in CHUNK_SETTLED and idle < cutoff:
                    p.enqueue("dms.load_chunk", [job["_id"], chunk["index"]])
                    requeued += 1
    if requeued:
        log.warning("requeued stalled work count=%d", requeued)
    return requeued


def _stamp(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


def abort_orphaned_bulk_jobs(p: Pipeline, recent: int = 200) -> int:
    """Abort Salesforce bulk jobs left running by DMS jobs that ended (failed or cancelled) before them."""
    from dms.pipeline.load import abort_bulk_job

    aborted = 0
    for job in p.list_jobs(limit=recent):
        if job["state"] not in ("failed", "cancelled"):
            continue
        org: OrgClient | None = None
        for chunk in p.chunk_docs(job["_id"]):
            if chunk["state"] == "loading" and chunk.get("bulk_job_id"):
                org = org or p.org(job)
                abort_bulk_job(org, job["target"]["object"], chunk["bulk_job_id"])
                aborted += 1
    return aborted


def _cancel_staged(chunk: dict[str, Any]) -> dict[str, Any]:
    if chunk["state"] != "staged":
        raise Conflict("chunk moved on", code="REVISION_CONFLICT")
    return {**chunk, "state": "cancelled", "result": {"cancelled": chunk["rows"]}, "updated_at": now()}


def final_state(job: dict[str, Any]) -> str:
    """The state a job ends in once every row is settled."""
    counters = job["counters"]
    if job.get("cancel_requested") and counters.get("cancelled"):
        return "cancelled"
    if counters["failed"] or counters["invalid"]:
        return "completed_with_errors"
    return "completed"


def progress(job: dict[str, Any]) -> dict[str, Any]:
    """The public view of a job: state, counters, percent done, and what it cost in API calls."""
    counters = job["counters"]
    total = counters.get("total") or 0
    done = total - counters.get("pending", 0)
    plan = job.get("plan") or {}
    return {
        "id": job["_id"],
        "state": job["state"],
        "created_at": job["created_at"],
        "updated_at": job.get("updated_at"),
        "finished_at": job.get("finished_at"),
        "source": {k: v for k, v in job["source"].items() if k != "blob_key"},
        "target": job["target"],
        "options": job["options"],
        "counters": counters,
        "percent": round(100.0 * done / total, 1)
        if total and job["state"] != "planning"
        else (100.0 if job["state"] in FINAL_STATES else 0.0),
        "chunks": plan.get("chunks"),
        "api_calls": job.get("api_calls", {}),
        "estimated_api_calls": plan.get("estimated_api_calls"),
        "error": job.get("error"),
        "retry_of": job.get("retry_of"),
        "warnings": plan.get("warnings", []),
    }

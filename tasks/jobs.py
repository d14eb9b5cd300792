"""The job tasks: thin and named; they call the pipeline and own only retry and timeout policy."""

from __future__ import annotations

import logging
import random
from typing import Any

import redis
import requests
from celery.exceptions import SoftTimeLimitExceeded

from celery_holder import celery
from dms.clients import current_services
from dms.clients.salesforce import SalesforceTransientError
from dms.errors import DMSError, ServiceUnavailable, Text
from dms.migration.run import notify_plan
from dms.pipeline.apis import StillProcessing
from dms.pipeline.context import Pipeline, publisher
from dms.pipeline.load import ChunkBusy, fail_chunk, load_chunk
from dms.pipeline.model import TaskName
from dms.pipeline.plan import plan_job

log = logging.getLogger(__name__)

# A service that does not answer (restarted, failing over): the task waits for it, never fails the job for it.
SERVICE_OUTAGES = (
    ServiceUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
)
OUTAGE_RETRIES = 20  # backoff capped at 30 s: about ten minutes of outage before the job fails
# Nothing reads these tasks' results (the job document is the record), and with a result the worker writes
# "started" to Redis before the task body runs: a Redis outage would fail the task unrun and ack its message.
PIPELINE_TASK = {"bind": True, "ignore_result": True}


class TaskError(DMSError):
    """An unexpected error as it crosses Celery: its class and message only, so JSON carries it whole."""

    code = "INTERNAL_ERROR"

    @classmethod
    def of(cls, exc: BaseException) -> TaskError:
        return cls(f"{exc.__class__.__name__}: {str(exc)[:500]}")


def pipeline() -> Pipeline:
    """The pipeline bound to this worker's services, enqueueing on the same broker."""
    services = current_services()
    return Pipeline(services, enqueue=publisher(celery))


def backoff(retries: int, base: float = 5.0, cap: float = 300.0) -> float:
    """Exponential backoff with jitter, in seconds."""
    return min(cap, base * 2**retries) * (0.5 + random.random() / 2)


@celery.task(name=TaskName.PLAN_JOB, max_retries=None, **PIPELINE_TASK)
def plan_job_task(self: Any, job_id: str) -> str:
    """Read, map, validate and stage a job's rows; enqueue its chunk loads."""
    p = pipeline()
    return ended(p, job_id, _plan_job(self, p, job_id))


def _plan_job(self: Any, p: Pipeline, job_id: str) -> str:
    try:
        return plan_job(p, job_id)
    except SalesforceTransientError as exc:
        if self.request.retries >= 8:
            p.store.fail(job_id, exc.code, exc.text, exc.where)
            return "failed"
        log.warning("plan waits for salesforce job=%s retries=%d", job_id, self.request.retries)
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except SoftTimeLimitExceeded:
        p.store.fail(
            job_id,
            "PLAN_TIMEOUT",
            Text("Planning took longer than the task time limit; split the file or raise it."),
        )
        return "failed"
    except SERVICE_OUTAGES as exc:
        return wait_for_service(self, p, job_id, exc)
    except DMSError as exc:  # refused before planning began (e.g. the job's connection was deleted)
        p.store.fail(job_id, exc.code, exc.text, exc.where)
        return "failed"
    except Exception as exc:
        return unexpected(self, p, job_id, exc)


@celery.task(name=TaskName.LOAD_CHUNK, max_retries=None, **PIPELINE_TASK)
def load_chunk_task(self: Any, job_id: str, index: int) -> str:
    """Load one staged chunk into Salesforce (idempotent under redelivery)."""
    p = pipeline()
    return ended(p, job_id, _load_chunk(self, p, job_id, index))


def ended(p: Pipeline, job_id: str, outcome: str) -> str:
    """The task's outcome, after telling the job's plan (if any) that the job may have ended. Every task
    that ends a job passes here, and a redelivered one again: a plan never waits for a message lost."""
    notify_plan(p, job_id)
    return outcome


def _load_chunk(self: Any, p: Pipeline, job_id: str, index: int) -> str:
    settings = p.settings
    try:
        return load_chunk(
            p,
            job_id,
            index,
            lease_seconds=settings.task_soft_time_limit,
            wait_seconds=settings.bulk_wait_in_task_seconds,
        )
    except StillProcessing as exc:
        # Uploaded; Salesforce works on it. Free this worker for the next chunk and look again when the job
        # should be done: several bulk jobs in flight keep the org busy instead of the worker waiting.
        raise self.retry(exc=exc, countdown=max(0.5, min(exc.retry_in, 30.0)), max_retries=5000) from exc
    except ChunkBusy as exc:
        # Not an error: another delivery holds the chunk, or Salesforce is still working. Look again later
        # rather than holding a worker.
        raise self.retry(
            exc=exc, countdown=min(60.0, 2.0 + 2 * self.request.retries), max_retries=500
        ) from exc
    except SalesforceTransientError as exc:
        if self.request.retries >= 8:
            fail_chunk(p, job_id, index, exc.code, exc.message)
            return "failed"
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except SoftTimeLimitExceeded:
        raise self.retry(countdown=5, max_retries=500) from None
    except SERVICE_OUTAGES as exc:
        return wait_for_service(self, p, job_id, exc)
    except DMSError as exc:
        # A permanent problem with this chunk (e.g. Salesforce refused the job): its rows fail with the reason;
        # the rest of the job goes on.
        fail_chunk(p, job_id, index, exc.code, exc.message)
        return "failed"
    except Exception as exc:
        return unexpected(self, p, job_id, exc)


def wait_for_service(task: Any, p: Pipeline, job_id: str, exc: Exception) -> str:
    """Redis, the document store or a network path did not answer: the same task again soon (every task is
    idempotent), for as long as an outage reasonably lasts; only then does the job fail, saying why."""
    retries = task.request.retries
    log.warning(
        "task waits for a service task=%s job=%s retries=%d error=%s", task.name, job_id, retries, exc
    )
    if retries < OUTAGE_RETRIES:
        raise task.retry(
            exc=TaskError.of(exc), countdown=backoff(retries, base=1.0, cap=30.0), max_retries=None
        )
    p.store.fail(
        job_id,
        "SERVICE_UNAVAILABLE",
        Text("A service DMS needs stayed unreachable: %(reason)s", reason=TaskError.of(exc).message),
    )
    return "failed"


def unexpected(task: Any, p: Pipeline, job_id: str, exc: Exception) -> str:
    """An error nobody planned for: try again a few times; then fail the job loudly. Rows whose fate is
    unknown stay counted as pending, never guessed."""
    log.error("task error task=%s job=%s retries=%d", task.name, job_id, task.request.retries, exc_info=exc)
    if task.request.retries < 3:
        raise task.retry(
            exc=TaskError.of(exc), countdown=backoff(task.request.retries, base=2.0), max_retries=None
        )
    p.store.fail(
        job_id,
        "INTERNAL_ERROR",
        Text("DMS hit an unexpected error (%(kind)s); it has been logged.", kind=exc.__class__.__name__),
    )
    return "failed"

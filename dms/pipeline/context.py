"""What the pipeline's steps run in: the services, typed settings, a way to enqueue, and one job's org session.

`Pipeline` is the deployment's side (stores, staging, blobs, settings, the queue); `JobContext` is one job's
side (its document, its org client with the API calls it spent, and the describes it has looked up). Steps
take the one they need instead of re-deriving the org and the describe from a raw job dict.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis
from simple_salesforce.exceptions import SalesforceResourceNotFound

from dms.clients import Services
from dms.clients.blobstore import BlobStore
from dms.clients.docstore import DocumentStore
from dms.clients.salesforce import OrgClient
from dms.connections import ConnectionStore
from dms.errors import DMSError
from dms.pipeline.jobstore import JobStore
from dms.pipeline.model import Enqueue, Operation
from dms.pipeline.source import ReadLimits
from dms.settings import task_time_limits


def publisher(celery: Any) -> Enqueue:
    """Enqueue by task name on a Celery app (the domain names tasks; it never imports them)."""
    return lambda name, args: celery.send_task(name, args=args)


@dataclass(frozen=True)
class PipelineSettings:
    """The settings the pipeline reads, typed and read once (their defaults live in config_dev only)."""

    staging_ttl_seconds: int
    staging_max_chunks: int
    read_chunk_max_bytes: int
    allow_pickle: bool
    read_limits: ReadLimits
    collections_threshold: int
    describe_cache_seconds: int
    bulk_wait_in_task_seconds: float
    task_soft_time_limit: float  # as it takes effect: inside the SQS visibility timeout

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PipelineSettings:
        return cls(
            staging_ttl_seconds=int(settings["STAGING_TTL_SECONDS"]),
            staging_max_chunks=int(settings["STAGING_MAX_CHUNKS_PER_JOB"]),
            read_chunk_max_bytes=int(settings["READ_CHUNK_MAX_BYTES"]),
            allow_pickle=bool(settings["ALLOW_PICKLE_UPLOADS"]),
            read_limits=ReadLimits.from_settings(settings),
            collections_threshold=int(settings["COLLECTIONS_THRESHOLD"]),
            describe_cache_seconds=int(settings["DESCRIBE_CACHE_SECONDS"]),
            bulk_wait_in_task_seconds=float(settings["BULK_WAIT_IN_TASK_SECONDS"]),
            task_soft_time_limit=task_time_limits(settings)[0],
        )

    @property
    def planner_lease_seconds(self) -> float:
        """The lease the planner takes on a chunk it loads itself: a quarter of a task's time, so a
        planner that dies holding one stalls that chunk for minutes, not for a whole task's limit."""
        return self.task_soft_time_limit / 4


@dataclass
class Pipeline:
    """The deployment as the pipeline's steps see it: job store, staging, blobs, typed settings, the queue."""

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

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.jobs, self.chunks)

    @cached_property
    def settings(self) -> PipelineSettings:
        return PipelineSettings.from_settings(self.services.settings)

    def job_context(self, job: dict[str, Any]) -> JobContext:
        """A fresh org session (with its own API call count) and describe cache for one job."""
        credentials = ConnectionStore(self.services).credentials(job["target"].get("connection_id"))
        return JobContext(self, job, OrgClient(credentials))


@dataclass
class JobContext:
    """One job's org session: a counted, retrying org client and the describes looked up through it."""

    pipeline: Pipeline
    job: dict[str, Any]
    org: OrgClient
    _describes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return str(self.job["_id"])

    @property
    def object_name(self) -> str:
        return str(self.job["target"]["object"])

    @property
    def operation(self) -> Operation:
        return Operation(self.job["target"]["operation"])

    @property
    def connection_id(self) -> str:
        return str(self.job["target"].get("connection_id") or "default")

    def describe(self, object_name: str | None = None) -> dict[str, Any]:
        """The object's describe (the job's target by default), cached in Redis per connection: describes
        change rarely, and each call costs. An object the org does not have is a 422 with a suggestion."""
        name = object_name or self.object_name
        if name not in self._describes:
            key = f"dms:describe:{self.connection_id}:{name}"
            try:
                self._describes[name] = self._cached(key, lambda: self.org.describe(name))
            except SalesforceResourceNotFound:
                raise unknown_object(name, [o["name"] for o in self.objects()]) from None
        return self._describes[name]

    def objects(self) -> list[dict[str, Any]]:
        """The org's objects as describe global lists them (cached like describes)."""
        return list(self._cached(f"dms:describe-global:{self.connection_id}", self.org.describe_global))

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        cached = self.pipeline.redis.get(key)
        if cached:
            return json.loads(cached)
        value = fetch()
        self.pipeline.redis.set(key, json.dumps(value), ex=self.pipeline.settings.describe_cache_seconds)
        return value


def closest(word: str, candidates: list[str], cutoff: float = 0.75) -> list[str]:
    """The candidates nearest to a misspelt word: the best match and any about as good (at most three)."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates), reverse=True)
    best = scored[0][0] if scored else 0.0
    return [c for score, c in scored[:3] if score >= cutoff and score >= best - 0.1]


def unknown_object(name: str, known: list[str]) -> DMSError:
    """The error for an object the org does not have, with the closest names it does have."""
    by_lower = {k.lower(): k for k in known}
    close = [by_lower[m] for m in closest(name.lower(), list(by_lower))]
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return DMSError(
        f"The org has no object {name!r}.{hint}",
        code="INVALID_TYPE",
        http_status=422,
        field="target.object",
        suggestions=close or None,
    )

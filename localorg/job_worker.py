"""What ingest and query jobs share: their table and files, the restart rule, delete and reset, and the worker
thread that runs them one at a time in the order they were queued."""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from localorg.errors import SalesforceError, not_found
from localorg.store import Store
from localorg.values import format_datetime

log = logging.getLogger(__name__)


class Job(Protocol):
    """What the worker reads and writes of a job (IngestJob, QueryJob)."""

    id: str
    state: str
    error_message: str | None
    system_modstamp: str
    abort_requested: bool

    def to_record(self) -> str: ...


JobT = TypeVar("JobT", bound=Job)


def job_timestamp() -> str:
    """Now, as a job's createdDate and systemModstamp."""
    return format_datetime(datetime.now(UTC))


class JobWorker(Generic[JobT]):
    """The jobs of one kind, kept in `table` (id, info as JSON) and under jobs_dir/<id>, and the thread that
    runs them; a subclass provides `_process`, and `_restarted` when a restart must recount a job."""

    def __init__(
        self,
        store: Store,
        jobs_dir: Path,
        *,
        table: str,
        job_type: type[JobT],
        what: str,
        outcome_table: str | None = None,
    ) -> None:
        self.store = store
        self.jobs_dir = jobs_dir
        self.table = table
        self.job_type = job_type
        self.what = what  # for log lines: "bulk job", "bulk query job"
        self.outcome_table = outcome_table  # per-row results keyed by job_id, deleted with their job
        self.jobs: dict[str, JobT] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._processing: str | None = None  # the job the worker is writing, even once it shows Aborted
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        with self.store.lock:
            self.store.conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, info TEXT)")
        self._load_jobs()
        self._worker = threading.Thread(
            target=self._work, name=f"localorg-{what.replace(' ', '-')}", daemon=True
        )
        self._worker.start()

    def _process(self, job: JobT) -> None:
        raise NotImplementedError

    def _restarted(self, job: JobT) -> None:
        """Correct a job that was in progress when localorg stopped (it is Failed now) before it is saved."""

    # ---- job lifecycle --------------------------------------------------------------------------------

    def _load_jobs(self) -> None:
        with self.store.lock:
            rows = self.store.conn.execute(f"SELECT info FROM {self.table}").fetchall()
        for (text,) in rows:
            job = self.job_type(**json.loads(text))
            if job.state == "InProgress":
                job.state = "Failed"
                job.error_message = "localorg restarted while the job was in progress"
                self._restarted(job)
                self._save(job)
            self.jobs[job.id] = job
            if job.state == "UploadComplete":
                self._queue.put(job.id)

    def _save(self, job: JobT) -> None:
        # Serialised under the store lock: the request thread and the worker both save a job, and the
        # last write must carry the newest state, not the state of whichever thread serialised first.
        with self.store.lock:
            job.system_modstamp = job_timestamp()
            self.store.conn.execute(
                f"INSERT OR REPLACE INTO {self.table} (id, info) VALUES (?, ?)", (job.id, job.to_record())
            )

    def get(self, job_id: str) -> JobT:
        """The job with this id, or NOT_FOUND."""
        with self._lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def delete(self, job_id: str) -> None:
        """Delete a job that is neither Open nor being processed, with its rows and files."""
        job = self.get(job_id)
        with self._lock:
            if job.state in {"Open", "InProgress"} or self._processing == job_id:
                state = "InProgress" if self._processing == job_id else job.state
                raise SalesforceError("INVALIDJOBSTATE", f"Job {job_id} is {state} and cannot be deleted yet")
            self.jobs.pop(job_id, None)
        with self.store.transaction() as conn:
            conn.execute(f"DELETE FROM {self.table} WHERE id = ?", (job_id,))
            if self.outcome_table:
                conn.execute(f"DELETE FROM {self.outcome_table} WHERE job_id = ?", (job_id,))
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)

    def forget_all(self) -> None:
        """Drop every job but the one being processed, with its rows and files (used by reset)."""
        with self._lock:
            kept = self._processing or ""
            for job_id in [k for k in self.jobs if k != kept]:
                del self.jobs[job_id]
                shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        # The job being processed is saved again by the worker when it ends: its rows stay, consistent.
        with self.store.transaction() as conn:
            conn.execute(f"DELETE FROM {self.table} WHERE id != ?", (kept,))
            if self.outcome_table:
                conn.execute(f"DELETE FROM {self.outcome_table} WHERE job_id != ?", (kept,))

    # ---- the worker ---------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self.jobs.get(job_id)
                if job is None or job.state != "UploadComplete":
                    continue  # aborted or deleted while queued
                job.state = "InProgress"
                self._processing = job.id
            try:
                self._process(job)
            except Exception as exc:  # a worker that dies would silently stall every later job
                log.exception("%s crashed job=%s", self.what, job_id)
                with self._lock:
                    if not job.abort_requested:
                        job.state = "Failed"
                        job.error_message = f"InternalServerError : {exc}"
                self._save(job)
            finally:
                with self._lock:
                    self._processing = None

    def stop(self) -> None:
        """Stop the worker after the current job."""
        self._queue.put(None)

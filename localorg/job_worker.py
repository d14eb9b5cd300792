"""The worker thread that ingest and query jobs share: one job at a time, in the order they were queued."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

log = logging.getLogger(__name__)


class JobWorker:
    """Runs queued jobs in order; a subclass keeps `jobs` and provides `_process` and `_save`."""

    what = "bulk job"  # for the log line of a crashed job
    jobs: dict[str, Any]
    _lock: threading.Lock
    _queue: queue.Queue[str | None]
    _processing: str | None  # the job the worker is writing, even once it shows Aborted

    def _process(self, job: Any) -> None:
        raise NotImplementedError

    def _save(self, job: Any) -> None:
        raise NotImplementedError

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

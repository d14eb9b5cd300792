"""Worker liveness for container health checks, where Celery's remote control (`inspect ping`) is off on SQS.

The worker loads this module with `--include deploy.worker_health`: it adds a consumer bootstep that touches
a file from the consumer's own event loop every LIVENESS_INTERVAL_SECONDS, so the file stays fresh only while
that loop runs. `python -m deploy.worker_health` (the container's HEALTHCHECK) exits 0 while the file is
fresh and 1 with the reason otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from celery import bootsteps

from celery_holder import celery
from dms.settings import load_settings

LIVENESS_INTERVAL_SECONDS = 15.0
STALE_AFTER_SECONDS = 4 * LIVENESS_INTERVAL_SECONDS

log = logging.getLogger(__name__)


def liveness_file() -> Path:
    """Where the heartbeat file is (WORKER_LIVENESS_FILE; one per container, so a fixed path is fine)."""
    return Path(load_settings()["WORKER_LIVENESS_FILE"])


class LivenessFile(bootsteps.StartStopStep):
    """Touch the liveness file from the consumer's event loop while the worker consumes."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.path = liveness_file()
        self.timer_ref: Any = None

    def touch(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def start(self, parent: Any) -> None:
        self.touch()
        self.timer_ref = parent.timer.call_repeatedly(LIVENESS_INTERVAL_SECONDS, self.touch)
        log.info("worker liveness file=%s interval=%.0fs", self.path, LIVENESS_INTERVAL_SECONDS)

    def stop(self, parent: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
        self.path.unlink(missing_ok=True)


celery.steps["consumer"].add(LivenessFile)


def check(path: Path, now: float | None = None) -> str | None:
    """None when the worker is alive, else why not."""
    try:
        age = (now if now is not None else time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return f"no liveness file at {path}: the worker is not consuming (starting, stopped, or not run with --include deploy.worker_health)"
    if age > STALE_AFTER_SECONDS:
        return f"liveness file {path} is {age:.0f}s old (limit {STALE_AFTER_SECONDS:.0f}s): the worker's loop is stuck"
    return None


def main() -> int:
    problem = check(liveness_file())
    if problem:
        sys.stderr.write(f"unhealthy: {problem}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

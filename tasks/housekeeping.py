"""Housekeeping: sweeps that keep storage tidy; scheduled by zappa (deploy/housekeeping.py) every hour.

Each sweep is idempotent, so a redelivered or overlapping run is harmless. Staged chunks in Redis need no
sweep: they carry a TTL (STAGING_TTL_SECONDS) and expire by themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app

from celery_holder import celery
from dms.clients import current_services
from dms.migration.run import requeue_stalled_plans
from dms.pipeline.lifecycle import abort_orphaned_bulk_jobs, requeue_stalled_work
from dms.pipeline.model import TaskName
from dms.uploads import UploadLimits, Uploads
from tasks.jobs import pipeline

log = logging.getLogger(__name__)


def sweep_stale_uploads() -> int:
    """Remove presigned uploads never completed within UPLOAD_PENDING_TTL_HOURS (and any partial blob)."""
    services = current_services()
    settings = current_app.config
    uploads = Uploads(services.blobs, services.store("uploads"), UploadLimits.from_settings(settings))
    return uploads.sweep_stale(dt.timedelta(hours=float(settings["UPLOAD_PENDING_TTL_HOURS"])))


def sweep_orphaned_bulk_jobs() -> int:
    """Abort Salesforce bulk jobs still open or running for DMS jobs that have ended."""
    return abort_orphaned_bulk_jobs(pipeline())


def sweep_stalled_work() -> int:
    """Re-enqueue plans and loads idle for longer than SQS would keep retrying them (visibility x receives)."""
    settings = current_app.config
    stalled_after = float(settings["SQS_VISIBILITY_TIMEOUT"]) * (int(settings["SQS_MAX_RECEIVE_COUNT"]) + 1)
    return requeue_stalled_work(pipeline(), stalled_after) + requeue_stalled_plans(pipeline(), stalled_after)


# name -> sweep; each returns how many things it removed or repaired.
SWEEPS: dict[str, Callable[[], int]] = {
    "stale_uploads": sweep_stale_uploads,
    "orphaned_bulk_jobs": sweep_orphaned_bulk_jobs,
    "stalled_work": sweep_stalled_work,
}


@celery.task(name=TaskName.HOUSEKEEPING, soft_time_limit=900, time_limit=960)
def housekeeping() -> dict[str, int | str]:
    """Run every sweep; one failing sweep is logged and reported, the others still run."""
    report: dict[str, int | str] = {}
    for name, sweep in SWEEPS.items():
        try:
            report[name] = sweep()
        except SoftTimeLimitExceeded:
            log.warning("housekeeping out of time sweep=%s", name)
            report[name] = "timed out"
            break
        except Exception as exc:  # one broken sweep must not stop the others
            log.error("housekeeping sweep failed sweep=%s", name, exc_info=exc)
            report[name] = f"failed: {exc.__class__.__name__}"
    log.info("housekeeping done report=%s", report)
    return report

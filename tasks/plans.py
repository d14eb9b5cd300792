"""The plan task: advance a migration plan (dms/migration/run.py) as far as it can go now."""

from __future__ import annotations

import logging
from typing import Any

from celery_holder import celery
from dms.errors import DMSError
from dms.migration.run import advance_plan, fail_plan
from dms.pipeline.model import TaskName
from tasks.jobs import OUTAGE_RETRIES, PIPELINE_TASK, SERVICE_OUTAGES, TaskError, backoff, pipeline

log = logging.getLogger(__name__)


@celery.task(name=TaskName.ADVANCE_PLAN, max_retries=None, **PIPELINE_TASK)
def advance_plan_task(self: Any, plan_id: str) -> str:
    """Start the passes whose steps are ready, record the ended ones (idempotent: any delivery, any time)."""
    p = pipeline()
    try:
        return advance_plan(p, plan_id)
    except SERVICE_OUTAGES as exc:
        retries = self.request.retries
        log.warning("plan waits for a service plan=%s retries=%d error=%s", plan_id, retries, exc)
        if retries < OUTAGE_RETRIES:
            raise self.retry(exc=TaskError.of(exc), countdown=backoff(retries, 1.0, 30.0)) from exc
        fail_plan(
            p,
            plan_id,
            "SERVICE_UNAVAILABLE",
            f"A service DMS needs stayed unreachable: {TaskError.of(exc).message}",
        )
        return "failed"
    except DMSError as exc:  # the plan cannot go on (e.g. its connection was deleted): it ends, saying why
        fail_plan(p, plan_id, exc.code, exc.message)
        return "failed"
    except Exception as exc:
        log.error("plan task error plan=%s retries=%d", plan_id, self.request.retries, exc_info=exc)
        if self.request.retries < 3:
            raise self.retry(exc=TaskError.of(exc), countdown=backoff(self.request.retries, 2.0)) from exc
        fail_plan(p, plan_id, "INTERNAL_ERROR", f"DMS hit an unexpected error ({exc.__class__.__name__}).")
        return "failed"

"""Small jobs run directly in the web request, as the original design allowed: no queue round trips.

The same plan and load steps run in order in this process. If a step cannot finish in time (Salesforce is
still processing a bulk job, or a chunk is busy), the rest goes to the queue and the job goes on there, so
a "direct" job is never slower or less safe than a queued one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from dms.pipeline.jobs import Enqueue, Pipeline
from dms.pipeline.load import ChunkBusy, StillProcessing, load_chunk
from dms.pipeline.plan import plan_job

log = logging.getLogger(__name__)

DIRECT_SECONDS = 20.0  # inside API Gateway's 29 s, with room for the response


def run_direct(
    make_pipeline: Callable[[Enqueue], Pipeline], request: dict[str, Any], queue: Enqueue
) -> dict[str, Any]:
    """Create the job and run its plan and loads here; hand whatever is left to `queue` past the budget."""
    steps: list[tuple[str, list[Any]]] = []
    pipeline = make_pipeline(lambda name, args: steps.append((name, args)))
    job = pipeline.create_job(request)
    deadline = time.monotonic() + DIRECT_SECONDS
    while steps:
        name, args = steps.pop(0)
        left = deadline - time.monotonic()
        if left <= 1:
            queue(name, args)
            continue
        try:
            if name == "dms.plan_job":
                plan_job(pipeline, args[0])
            else:
                job_id, index = args
                load_chunk(
                    pipeline,
                    job_id,
                    index,
                    lease_seconds=left,
                )
        except (StillProcessing, ChunkBusy):
            log.info("direct job goes on in the queue job=%s step=%s", job["_id"], name)
            queue(name, args)
    return pipeline.get_job(job["_id"])

"""The scheduled housekeeping entry point: zappa's event calls `enqueue`, which hands the work to a worker.

The Lambda only puts one `dms.housekeeping` message on the queue: the sweeps run on a worker, where time
limits are generous and the blob store and Salesforce are close, not inside the web tier's 30 s.
Run it by hand with `python -m deploy.housekeeping`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from dms.pipeline.model import TaskName

log = logging.getLogger(__name__)


def enqueue(event: Mapping[str, Any] | None = None, context: Any = None) -> dict[str, str]:
    """Queue one housekeeping run; returns its task id (zappa calls this with the scheduled event)."""
    # Inside the Lambda the handler has already imported the app, so this import costs nothing there.
    from application import app

    task = app.extensions["celery"].send_task(TaskName.HOUSEKEEPING)
    log.info("housekeeping queued task=%s source=%s", task.id, (event or {}).get("source", "manual"))
    return {"task_id": task.id}


if __name__ == "__main__":
    sys.stdout.write(f"{enqueue()['task_id']}\n")

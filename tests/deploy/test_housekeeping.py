"""The scheduled housekeeping path for real: the entry zappa calls queues `dms.housekeeping` on SQS, and a
worker process runs the sweeps."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from celery.result import AsyncResult

from deploy.housekeeping import enqueue
from dms.clients.docstore import new_document_id
from tests.conftest import wait_for


def test_scheduled_housekeeping_sweeps_stale_uploads_on_a_worker(app: Any, worker: str) -> None:
    services = app.extensions["dms"]
    store = services.store("uploads")
    # Presigned two days ago and never completed (ids begin with their creation time, as new_document_id makes).
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    stale_id = f"upl-{two_days_ago:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"
    blob_key = f"uploads/{stale_id}/part.csv"
    services.blobs.put_bytes(blob_key, b"half an upl")
    store.create(
        {
            "_id": stale_id,
            "type": "upload",
            "filename": "part.csv",
            "blob_key": blob_key,
            "state": "pending",
            "created_at": f"{two_days_ago:%Y-%m-%dT%H:%M:%S}Z",
            "size": None,
        }
    )
    fresh_id = new_document_id("upl")
    store.create(
        {
            "_id": fresh_id,
            "type": "upload",
            "filename": "new.csv",
            "blob_key": f"uploads/{fresh_id}/new.csv",
            "state": "pending",
            "created_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S}Z",
            "size": None,
        }
    )

    queued = enqueue({"source": "aws.events"}, None)
    result = AsyncResult(queued["task_id"], app=app.extensions["celery"])
    wait_for(lambda: result.ready(), timeout=90, what="the housekeeping task to run on the worker")
    assert result.successful(), result.result
    assert result.result["stale_uploads"] >= 1
    assert not services.blobs.exists(blob_key)
    assert [doc["_id"] for doc in store.iter_all(prefix=stale_id)] == []
    assert [doc["_id"] for doc in store.iter_all(prefix=fresh_id)] == [fresh_id]

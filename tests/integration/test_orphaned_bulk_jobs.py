"""Housekeeping: abort bulk jobs that ended DMS jobs left open; finish jobs whose messages were lost."""

from __future__ import annotations

from typing import Any

from dms.clients.docstore import new_document_id
from dms.pipeline.context import Pipeline
from dms.pipeline.lifecycle import abort_orphaned_bulk_jobs, create_job, requeue_stalled_work
from dms.pipeline.model import chunk_id, now
from tests.conftest import wait_for
from tests.integration.pipeline_helpers import org_client


def test_bulk_job_of_a_failed_dms_job_is_aborted(app: Any, localorg: Any) -> None:
    sf = org_client(localorg)
    bulk_id = sf.bulk2.Account._client.create_job("insert")["id"]
    p = Pipeline(app.extensions["dms"], enqueue=lambda name, args: None)
    job = p.jobs.create(
        {
            "_id": new_document_id("job"),
            "type": "job",
            "state": "failed",
            "created_at": now(),
            "source": {},
            "target": {"object": "Account", "operation": "insert", "connection_id": "default"},
            "options": {},
            "counters": {},
        }
    )
    p.chunks.create(
        {
            "_id": chunk_id(job["_id"], 0),
            "job_id": job["_id"],
            "index": 0,
            "rows": 1,
            "state": "loading",
            "bulk_job_id": bulk_id,
        }
    )

    assert abort_orphaned_bulk_jobs(p) >= 1
    assert sf.bulk2.Account._client.get_job(bulk_id, False)["state"] == "Aborted"


def test_a_job_whose_messages_were_lost_is_finished_by_the_stalled_work_sweep(
    app: Any, worker: str, localorg: Any, tmp_path: Any
) -> None:
    """Plan and loads whose messages never arrive (as if dead-lettered) are enqueued again, and the job ends."""
    services = app.extensions["dms"]
    lost = Pipeline(services, enqueue=lambda name, args: None)
    path = tmp_path / "accounts.csv"
    path.write_text(
        "Name,Legacy_Id__c\n" + "".join(f"Stalled {n},stalled-{n}-{tmp_path.name}\n" for n in range(5))
    )
    services.blobs.put_file(f"uploads/{tmp_path.name}/accounts.csv", path)
    job = create_job(
        lost,
        {
            "source": {"blob_key": f"uploads/{tmp_path.name}/accounts.csv", "filename": "accounts.csv"},
            "target": {"object": "Account", "operation": "insert"},
        },
    )
    celery = app.extensions["celery"]
    live = Pipeline(services, enqueue=lambda name, args: celery.send_task(name, args=args))
    assert requeue_stalled_work(live, stalled_after=3600) == 0  # nothing is stalled yet
    assert requeue_stalled_work(live, stalled_after=-1) >= 1
    final = wait_for(
        lambda: (j := live.store.get(job["_id"]))["state"] in ("completed", "failed") and j, timeout=60
    )
    assert final["state"] == "completed" and final["counters"]["created"] == 5

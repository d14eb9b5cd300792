"""Housekeeping aborts Salesforce bulk jobs that a failed DMS job left open."""

from __future__ import annotations

from typing import Any

from dms.clients.docstore import new_document_id
from dms.pipeline.jobs import Pipeline, abort_orphaned_bulk_jobs, now
from dms.pipeline.load import chunk_id
from tests.integration.pipeline_helpers import org_client


def test_bulk_job_of_a_failed_dms_job_is_aborted(app: Any, localorg: Any) -> None:
    sf = org_client(localorg)
    bulk_id = sf.bulk2.Account._client.create_job("insert")["id"]
    p = Pipeline(app.extensions["dms"], enqueue=lambda name, args: None)
    job = p.jobs.create({"_id": new_document_id("job"), "type": "job", "state": "failed", "created_at": now(),
                         "source": {}, "target": {"object": "Account", "operation": "insert", "connection_id": "default"},
                         "options": {}, "counters": {}})  # fmt: skip
    p.chunks.create({"_id": chunk_id(job["_id"], 0), "job_id": job["_id"], "index": 0, "rows": 1,
                     "state": "loading", "bulk_job_id": bulk_id})  # fmt: skip

    assert abort_orphaned_bulk_jobs(p) >= 1
    assert sf.bulk2.Account._client.get_job(bulk_id, False)["state"] == "Aborted"

"""Cancel a running job; retry the failed rows as a new job, from the originals or a corrected file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import wait_for
from tests.integration.pipeline_helpers import (
    ACCOUNT_UPSERT,
    org_client,
    result_rows,
    run_job,
    upload,
    wait_job,
)

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "Name", "source": "name"},
        {"target": "Founded__c", "source": "founded"},
    ]
}


def test_retry_resends_only_the_failed_rows_and_keeps_their_source_rows(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text(
        "legacy,name,founded\n"
        f"{prefix}-1,One,2001-01-01\n{prefix}-2,Two,31.12.2001\n{prefix}-3,Three,2001-01-03\n{prefix}-4,Four,bad\n"
    )
    first = run_job(
        client,
        upload_id=upload(client, path),
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )
    assert (first["counters"]["succeeded"], first["counters"]["invalid"]) == (2, 2)

    # Retry as is: the same two rows fail again, and the new job's error file says where they came from.
    response = client.post(f"/api/v1/jobs/{first['id']}/retry", json={})
    assert response.status_code == 201
    again = wait_job(client, response.json["id"])
    assert again["retry_of"] == first["id"]
    assert (again["counters"]["total"], again["counters"]["invalid"]) == (2, 2)
    assert sorted(r["dms_source_row"] for r in result_rows(client, again["id"], "errors.csv")) == ["2", "4"]

    # Retry from a corrected file: the rows load, nothing else is touched.
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(f"legacy,name,founded\n{prefix}-2,Two,2001-12-31\n{prefix}-4,Four,2001-01-04\n")
    response = client.post(f"/api/v1/jobs/{first['id']}/retry", json={"upload_id": upload(client, fixed)})
    corrected = wait_job(client, response.json["id"])
    assert corrected["state"] == "completed", corrected
    assert corrected["counters"]["created"] == 2
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == 4


def test_cancel_stops_pending_chunks_and_counters_still_add_up(
    app: Any, client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "many.csv"
    path.write_text("legacy,name,founded\n" + "".join(f"{prefix}-{n},N{n},2001-01-01\n" for n in range(400)))
    localorg.set_faults(kind="latency", latency_ms=300, path_prefix="/services/data")
    try:
        response = client.post(
            "/api/v1/jobs",
            json={
                "upload_id": upload(client, path),
                "object": "Account",
                "operation": "insert",
                "mapping": MAPPING,
                "options": {"chunk_rows": 20},
            },
        )
        job_id = response.json["id"]
        wait_for(
            lambda: client.get(f"/api/v1/jobs/{job_id}").json["state"] == "loading",
            timeout=60,
            what="loading",
        )
        cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel")
        assert cancelled.status_code == 200, cancelled.json
    finally:
        localorg.clear_faults()
    job = wait_job(client, job_id)
    counters = job["counters"]
    assert job["state"] == "cancelled", job
    assert counters["cancelled"] > 0
    assert counters["total"] == 400
    assert (
        counters["total"]
        == counters["succeeded"] + counters["failed"] + counters["invalid"] + counters["cancelled"]
    )
    sf = org_client(localorg)
    loaded = sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"]
    assert loaded == counters["succeeded"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel").json["error"]["code"] == "JOB_FINISHED"
    from dms.pipeline.staging import STAGE_PREFIX

    staged = list(app.extensions["dms"].redis.scan_iter(f"{STAGE_PREFIX}:{job_id}:*"))
    assert staged == [], "cancelled chunks must not leave their rows in Redis"


def test_a_job_cancelled_while_planning_ends_cancelled_counting_every_row_and_its_retry_loads_the_rest(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    rows = 60_000
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "long.csv"
    path.write_text("legacy,name,founded\n" + "".join(f"{prefix}-{n},N{n},2001-01-01\n" for n in range(rows)))
    body = {"upload_id": upload(client, path), "object": "Account", "operation": "insert", "mapping": MAPPING}
    job_id = client.post("/api/v1/jobs", json={**body, "options": {"chunk_rows": 500}}).json["id"]
    wait_for(
        lambda: (
            (j := client.get(f"/api/v1/jobs/{job_id}").json)["state"] == "planning"
            and j["counters"]["succeeded"] > 0
        ),
        timeout=90,
        what="a plan that has loaded some chunks",
    )
    answer = client.post(f"/api/v1/jobs/{job_id}/cancel")
    # cancelling until every row is settled (the plan may settle them all before this answer is sent)
    assert answer.status_code == 200 and answer.json["state"] in ("cancelling", "cancelled"), answer.json
    asked = datetime.now(UTC)
    job = wait_job(client, job_id, timeout=60)  # bounded: a cancel settles within a minute

    counters = job["counters"]
    assert job["state"] == "cancelled", job
    assert counters["total"] == rows  # the rows never read count too
    assert counters["cancelled"] > 0 and counters["pending"] == 0
    assert rows == counters["succeeded"] + counters["failed"] + counters["invalid"] + counters["cancelled"]
    assert job["percent"] < 100
    sf = org_client(localorg)
    loaded = sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"]
    assert loaded == counters["succeeded"]
    late = [
        j
        for j in sf.restful("jobs/ingest")["records"]
        if datetime.fromisoformat(j["createdDate"].replace("+0000", "+00:00")) > asked + timedelta(seconds=1)
    ]
    assert late == [], "no bulk job may be created after the cancel"

    unsent = result_rows(client, job_id, "unsent.csv")
    assert len(unsent) == counters["cancelled"]
    assert {r["legacy"] for r in unsent}.isdisjoint(
        r["Legacy_Id__c"]
        for r in sf.query_all(f"SELECT Legacy_Id__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")[
            "records"
        ]
    )

    retried = client.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 201, retried.json
    again = wait_job(client, retried.json["id"], timeout=180)
    assert again["state"] == "completed" and again["counters"]["succeeded"] == counters["cancelled"], again
    loaded = sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"]
    assert loaded == rows  # every row once: the retry resumed exactly the rows never sent

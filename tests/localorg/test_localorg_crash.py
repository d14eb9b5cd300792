"""localorg killed outright (SIGKILL) in the middle of a bulk job: after the restart the job is Failed, and
its results list exactly the rows that are in the org, no more and no fewer, as Salesforce's results of a job
that failed part way do. A client that re-sends the unprocessed rows therefore never writes a row twice."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from localorg.testing import LocalOrgHandle, running_localorg

ROWS = 120_000


def bulk_job(sf: Salesforce) -> tuple[str, str]:
    """An insert job of ROWS Accounts, uploaded and closed; returns its id and the rows' name prefix."""
    prefix = uuid.uuid4().hex[:8]
    client = sf.bulk2.Account._client
    job = client.create_job("insert")
    client.upload_job_data(job["id"], "Name\n" + "".join(f"{prefix}-{n}\n" for n in range(ROWS)))
    client.close_job(job["id"])
    return job["id"], prefix


def in_progress(sf: Salesforce, job_id: str, kill_after: int) -> None:
    """Wait until the org has processed at least `kill_after` rows of the job, and not all of them."""
    deadline = time.monotonic() + 120
    while True:
        info = sf.bulk2.Account._client.get_job(job_id, False)
        if info["state"] == "InProgress" and int(info["numberRecordsProcessed"]) >= kill_after:
            return
        assert info["state"] in ("UploadComplete", "InProgress"), f"missed the job in progress: {info}"
        assert time.monotonic() < deadline
        time.sleep(0.005)


@pytest.mark.parametrize("kill_after", [1, 30_000, 70_000])
def test_a_killed_org_reports_exactly_the_rows_it_committed(tmp_path: Path, kill_after: int) -> None:
    db, port = str(tmp_path / "org.db"), None
    with contextlib.ExitStack() as first:
        org: LocalOrgHandle = first.enter_context(running_localorg(db=db, workdir=str(tmp_path)))
        port = int(org.base_url.rsplit(":", 1)[1])
        job_id, prefix = bulk_job(org.salesforce())
        in_progress(org.salesforce(), job_id, kill_after)
        os.kill(org.pid, signal.SIGKILL)  # no shutdown code runs: whatever was committed is all there is

    with running_localorg(db=db, workdir=str(tmp_path), port=port) as org:
        sf = org.salesforce()
        client = sf.bulk2.Account._client
        info = client.get_job(job_id, False)
        in_org = sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE '{prefix}-%'")["totalSize"]
        successful = list(csv.DictReader(io.StringIO(client.get_ingest_results(job_id, "successfulResults"))))
        unprocessed = list(
            csv.DictReader(io.StringIO(client.get_ingest_results(job_id, "unprocessedrecords")))
        )
    assert info["state"] == "Failed", info
    assert 0 < in_org < ROWS
    assert int(info["numberRecordsProcessed"]) == len(successful) == in_org
    # The rows it never got to are exactly the others, in order: re-sending them completes the load once.
    assert [row["Name"] for row in unprocessed] == [f"{prefix}-{n}" for n in range(in_org, ROWS)]

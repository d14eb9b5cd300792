"""Salesforce being busy or expiring sessions mid-load: DMS retries with backoff, logs in again, loses nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline_helpers import org_client, org_credentials, result_rows, run_job, upload

MAPPING = {"fields": [{"target": "Legacy_Id__c", "source": "legacy"}, {"target": "Name", "source": "name"}]}
ROWS = 60


@pytest.mark.parametrize(
    ("fault", "operation"),
    [
        ({"kind": "unavailable", "every_nth": 3}, "insert"),  # HTTP 503 on every third API request
        ({"kind": "request_limit", "every_nth": 4}, "upsert"),  # 403 REQUEST_LIMIT_EXCEEDED
        ({"kind": "session_expired", "every_nth": 5}, "insert"),  # 401 INVALID_SESSION_ID: log in again
        ({"kind": "session_expired", "every_nth": 5}, "upsert"),
    ],
)
def test_load_survives_transient_salesforce_faults(
    client: Any, worker: str, localorg: Any, tmp_path: Path, fault: dict[str, Any], operation: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("legacy,name\n" + "".join(f"{prefix}-{n},Account {n}\n" for n in range(ROWS)))
    upload_id = upload(client, path)
    localorg.set_faults(**fault)
    try:
        job = run_job(
            client,
            upload_id=upload_id,
            object="Account",
            operation=operation,
            external_id="Legacy_Id__c",
            mapping=MAPPING,
            options={"chunk_rows": 20},
        )
    finally:
        localorg.clear_faults()
    assert job["state"] == "completed", (job, result_rows(client, job["id"], "errors.csv"))
    assert (job["counters"]["succeeded"], job["counters"]["created"]) == (ROWS, ROWS)
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == ROWS


@pytest.mark.parametrize("operation", ["insert", "upsert"])  # Bulk 2.0 and sObject Collections
def test_rows_salesforce_could_not_lock_are_sent_again(
    client: Any, worker: str, localorg: Any, tmp_path: Path, operation: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("legacy,name\n" + "".join(f"{prefix}-{n},Account {n}\n" for n in range(ROWS)))
    upload_id = upload(client, path)
    localorg.set_faults(kind="lock_row", every_nth=7, times=6)  # six records locked once each
    try:
        job = run_job(
            client,
            upload_id=upload_id,
            object="Account",
            operation=operation,
            external_id="Legacy_Id__c",
            mapping=MAPPING,
            options={"chunk_rows": 30},
        )
    finally:
        localorg.clear_faults()
    assert job["state"] == "completed", (job, result_rows(client, job["id"], "errors.csv"))
    assert (job["counters"]["succeeded"], job["counters"]["failed"]) == (ROWS, 0)
    success = result_rows(client, job["id"], "success.csv")
    assert sorted(int(r["source_row"]) for r in success) == list(range(1, ROWS + 1))
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == ROWS


def test_rows_locked_on_every_attempt_are_reported_not_lost(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("legacy,name\n" + "".join(f"{prefix}-{n},Account {n}\n" for n in range(10)))
    localorg.set_faults(kind="lock_row", rate=1.0, path_prefix="/services/data")
    try:
        job = run_job(
            client, upload_id=upload(client, path), object="Account", operation="insert", mapping=MAPPING
        )
    finally:
        localorg.clear_faults()
    assert (job["counters"]["succeeded"], job["counters"]["failed"]) == (0, 10)
    errors = result_rows(client, job["id"], "errors.csv")
    assert {r["error_code"] for r in errors} == {"UNABLE_TO_LOCK_ROW"}
    assert sorted(int(r["source_row"]) for r in errors) == list(range(1, 11))


def test_clients_of_one_process_share_a_session_and_log_in_again_when_it_expires(localorg: Any) -> None:
    from dms.clients.salesforce import SESSIONS, OrgClient

    credentials = org_credentials(localorg)
    first, second = OrgClient(credentials), OrgClient(credentials)
    first.rest("GET", "limits")
    second.rest("GET", "limits")
    assert second.sf.session_id == first.sf.session_id
    assert first.logins + second.logins <= 1  # one login for both (none if this process already had one)
    localorg.expire_sessions()
    third = OrgClient(credentials)
    assert third.rest("GET", "limits")["DailyApiRequests"]  # the cached token fails; it logs in again
    assert third.logins == 1 and third.sf.session_id != first.sf.session_id
    assert (SESSIONS.get(credentials) or ("", ""))[1] == third.sf.session_id  # the renewed token is shared
    fresh = OrgClient(credentials, reuse_session=False)  # testing a connection proves the password again
    fresh.rest("GET", "limits")
    assert fresh.logins == 1


def test_a_session_revoked_again_right_after_the_re_login_is_renewed_again(localorg: Any) -> None:
    # The first two requests are refused as expired sessions (each revokes the session it carried): the call
    # must log in twice and then succeed, not give up after the first re-login.
    from dms.clients.salesforce import OrgClient

    client = OrgClient(org_credentials(localorg), reuse_session=False)
    localorg.set_faults(kind="session_expired", every_nth=1, times=2)
    try:
        assert client.rest("GET", "limits")["DailyApiRequests"]
    finally:
        localorg.clear_faults()
    assert client.logins == 3  # the first login, then one per expired session

"""Fault injection switched at run time, seen through unmodified simple-salesforce; health and CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from localorg.testing import LocalOrgHandle, running_localorg


def test_every_nth_request_under_a_path_prefix_gets_503(org: LocalOrgHandle, sf: Any) -> None:
    org.set_faults(kind="unavailable", every_nth=2, path_prefix="/jobs/ingest")
    outcomes = []
    for _ in range(4):
        try:
            sf.bulk2.Account._client.create_job("insert")
            outcomes.append("ok")
        except SalesforceGeneralError as exc:
            assert exc.status == 503
            outcomes.append("503")
    assert outcomes == ["ok", "503", "ok", "503"]
    # Other resources are untouched by the rule.
    for _ in range(3):
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_request_limit_exceeded_is_a_403(org: LocalOrgHandle, sf: Any) -> None:
    org.set_faults(kind="request_limit", rate=1.0, times=1)
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT COUNT() FROM Account")
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0  # `times` spent


def test_unable_to_lock_row_fails_individual_collection_records(org: LocalOrgHandle, sf: Any) -> None:
    org.set_faults(kind="lock_row", every_nth=3)
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(9)]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    codes = [r["errors"][0]["statusCode"] if not r["success"] else "ok" for r in results]
    assert codes == ["ok", "ok", "UNABLE_TO_LOCK_ROW"] * 3
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 6


def test_unable_to_lock_row_appears_in_bulk_failed_results(
    org: LocalOrgHandle, sf: Any, tmp_path: Path
) -> None:
    org.set_faults(kind="lock_row", every_nth=10, path_prefix="/jobs/ingest")
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Name", "Legacy_Id__c"])
        writer.writerows([f"A{i}", f"L{i}"] for i in range(100))
    [result] = sf.bulk2.Account.upsert(csv_file=str(path), external_id_field="Legacy_Id__c", wait=0.1)
    assert result["numberRecordsFailed"] == 10
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Account.get_failed_records(result["job_id"]))))
    assert {r["sf__Error"].split(":")[0] for r in failed} == {"UNABLE_TO_LOCK_ROW"}
    org.clear_faults()
    # Retrying only the failed rows succeeds once the lock fault is gone.
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Name", "Legacy_Id__c"])
        writer.writerows([r["Name"], r["Legacy_Id__c"]] for r in failed)
    [retry] = sf.bulk2.Account.upsert(csv_file=str(path), external_id_field="Legacy_Id__c", wait=0.1)
    assert retry["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 100


def test_latency_is_added_to_matching_requests(org: LocalOrgHandle, sf: Any) -> None:
    org.set_faults(kind="latency", latency_ms=300, path_prefix="/limits")
    started = time.monotonic()
    sf.limits()
    slow = time.monotonic() - started
    started = time.monotonic()
    sf.query("SELECT COUNT() FROM Account")
    fast = time.monotonic() - started
    assert slow >= 0.3 and fast < 0.3


def test_expired_session_fault_revokes_the_session(org: LocalOrgHandle, http: Any) -> None:
    org.set_faults(kind="session_expired", every_nth=1, times=1)
    first = http.get(http.base_url + "/limits")
    assert first.status_code == 401 and first.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert http.get(http.base_url + "/limits").status_code == 401


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "meteor", "rate": 0.5},
        {"kind": "unavailable"},
        {"kind": "unavailable", "rate": 2},
        {"kind": "latency"},
        {"kind": "unavailable", "rate": 0.1, "colour": "red"},
    ],
)
def test_invalid_fault_specs_are_refused(org: LocalOrgHandle, spec: dict[str, Any]) -> None:
    with org.admin_session() as session:
        response = session.post(org.admin_url + "/faults", json=spec)
    assert response.status_code == 400
    assert response.json()["error"]


def test_health_reports_status_and_active_faults(org: LocalOrgHandle) -> None:
    org.set_faults(kind="unavailable", rate=0.5, path_prefix="/query")
    with org.admin_session() as session:
        health = session.get(org.admin_url + "/health").json()
    assert health["status"] == "ok"
    assert health["faults"][0]["kind"] == "unavailable" and health["faults"][0]["rate"] == 0.5


def test_faults_cli_sets_shows_and_clears(org: LocalOrgHandle) -> None:
    base = [sys.executable, "-m", "localorg", "faults", "--url", org.base_url, "--ca", org.ca_path]
    env = {**os.environ, "LOCALORG_ADMIN_TOKEN": org.admin_token}
    set_run = subprocess.run(
        [*base, "set", "unavailable", "--every-nth", "5"], capture_output=True, text=True, check=True, env=env
    )
    assert '"every_nth": 5' in set_run.stdout
    shown = subprocess.run([*base, "show"], capture_output=True, text=True, check=True, env=env)
    assert '"kind": "unavailable"' in shown.stdout
    subprocess.run([*base, "clear"], capture_output=True, text=True, check=True, env=env)
    with org.admin_session() as session:
        assert session.get(org.admin_url + "/faults").json()["rules"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/faults"),
        ("POST", "/faults"),
        ("DELETE", "/faults"),
        ("POST", "/sessions/expire"),
        ("POST", "/reset"),
    ],
)
def test_the_admin_api_needs_the_admin_token(org: LocalOrgHandle, method: str, path: str) -> None:
    with org.requests_session() as session:
        for headers in (
            {},
            {"X-Localorg-Admin-Token": "wrong"},
            {"Authorization": f"Bearer {org.admin_token}"},
        ):
            refused = session.request(
                method, org.admin_url + path, json={"kind": "unavailable"}, headers=headers
            )
            assert refused.status_code == 401, (method, path, headers, refused.text)
        # The readiness probe stays open, and says only that it is up.
        assert set(session.get(org.admin_url + "/health").json()) == {"status", "version"}
    assert org._admin("GET", "/faults")["rules"] == []  # the token opens it


def test_the_ready_line_and_the_log_hold_no_secret(tmp_path: Path) -> None:
    """Started --verbose (every request logged), with secrets sent where a careless client puts them."""
    secrets = {
        "LOCALORG_PASSWORD": f"pw-{uuid.uuid4().hex}",
        "LOCALORG_CLIENT_SECRET": f"cs-{uuid.uuid4().hex}",
    }
    # No LOCALORG_ADMIN_TOKEN: the server makes its own and names the file it is in.
    with running_localorg(
        workdir=str(tmp_path), env={**secrets, "LOCALORG_ADMIN_TOKEN": ""}, verbose=True
    ) as org:
        token_file = Path(org.ready_line.split("admin_token=")[1].split()[0])
        assert token_file.stat().st_mode & 0o777 == 0o600
        with org.requests_session() as session:
            query = {"grant_type": "password", "username": org.username, "password": org.password}
            query |= {"client_id": org.client_id, "client_secret": org.client_secret}
            assert session.post(
                org.base_url + "/services/oauth2/token", params=query, timeout=30
            ).status_code in (
                200,
                400,
            )
            session.get(
                org.base_url + "/services/oauth2/authorize",
                params={"code_verifier": "v-secret-1", "code": "c-secret-2"},
                timeout=30,
            )
        assert org._admin("GET", "/faults")["rules"] == []  # the token in the file opens the admin API
    log = Path(org.log_path).read_text()
    assert "/services/oauth2/token" in log  # the requests were logged...
    for secret in (*secrets.values(), "v-secret-1", "c-secret-2", token_file.read_text()):
        assert secret not in org.ready_line and secret not in log  # ...without their secrets

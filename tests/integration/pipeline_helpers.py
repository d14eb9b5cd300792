"""Helpers for pipeline tests: upload through the API, run a job to its end, read the org back."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from simple_salesforce import Salesforce

from dms.clients.salesforce import SalesforceCredentials, connect
from dms.clients.trusted_hosts import TrustedHosts
from dms.pipeline.model import FINAL_STATES

# The target most tests load into: Accounts upserted by their legacy key.
ACCOUNT_UPSERT = {"object": "Account", "operation": "upsert", "external_id": "Legacy_Id__c"}


def upload(client: Any, path: Path) -> str:
    return upload_bytes(client, path.read_bytes(), path.name)


def upload_bytes(client: Any, data: bytes, filename: str) -> str:
    """Upload `data` as the file `filename` through the API; the upload's id."""
    response = client.post(
        "/api/v1/uploads", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def run_job(client: Any, timeout: float = 120.0, **body: Any) -> dict[str, Any]:
    """Create a job through the API and follow it to a final state."""
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.json
    return wait_job(client, response.json["id"], timeout)


def wait_job(client: Any, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    return wait_final(client, f"/api/v1/jobs/{job_id}", FINAL_STATES, timeout)


def wait_final(client: Any, path: str, final: Collection[str], timeout: float) -> dict[str, Any]:
    """GET `path` (a job or a plan) until its state is final."""
    deadline = time.monotonic() + timeout
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = client.get(path).json
        if answer["state"] in final:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{path} did not end in {timeout}s: {answer}")


def result_rows(client: Any, job_id: str, kind: str) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/jobs/{job_id}/results/{kind}")
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def org_credentials(localorg: Any) -> SalesforceCredentials:
    return SalesforceCredentials(
        login_url=localorg.base_url,
        username=localorg.username,
        password=localorg.password,
        client_id=localorg.client_id,
        client_secret=localorg.client_secret,
        ca_bundle=localorg.ca_path,
        trusted_hosts=TrustedHosts.from_settings({"SALESFORCE_LOGIN_URL": localorg.base_url}),
    )


def org_client(localorg: Any) -> Salesforce:
    """simple-salesforce on localorg, as any user of a real org would hold it."""
    return connect(org_credentials(localorg))


def records_by(sf: Salesforce, soql: str, key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in sf.query_all_iter(soql)}


# examples/legacy-crm's objects that keep its legacy keys in their unique Legacy_Id__c: (object, file, key column),
# children first, so a record is deleted before the one it points at.
EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "legacy-crm"
EXAMPLE_KEYED = (
    ("Opportunity", "opportunities.csv", "DealRef"),
    ("Contact", "contacts.csv", "ContactRef"),
    ("Account", "accounts.csv", "LegacyId"),
)


def forget_the_example(localorg: Any) -> None:
    """Delete from the org what a run of examples/legacy-crm left there (by its legacy keys), so the next run
    starts as on a new org: a second run into one org is refused row by row as DUPLICATE_VALUE, as it should be,
    and the tests that run the example (in the browser and over the API) each want the first run's outcome."""
    sf = org_client(localorg)
    for object_name, file_name, column in EXAMPLE_KEYED:
        with (EXAMPLE_PLAN / file_name).open(encoding="utf-8", newline="") as handle:
            keys = sorted({row[column] for row in csv.DictReader(handle) if row[column]})
        listed = ", ".join("'" + key.replace("'", "\\'") + "'" for key in keys)
        soql = f"SELECT Id FROM {object_name} WHERE Legacy_Id__c IN ({listed})"
        for record in sf.query_all_iter(soql):
            getattr(sf, object_name).delete(record["Id"])

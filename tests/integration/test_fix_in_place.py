"""A job's errors read in the page: grouped by reason with examples and advice, listed row by row with the
column each concerns, and corrected rows retried alone, keeping the first file's row numbers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import org_client, records_by, result_rows, run_job, upload, wait_job
from tests.integration.test_security import new_user

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "Name", "source": "name"},
        {"target": "Founded__c", "source": "founded", "format": "%Y-%m-%d"},
        {
            "target": "Tier__c",
            "source": "tier",
            "transforms": [
                {"op": "map", "values": {"G": "Gold", "S": "Silver", "B": "Bronze"}, "else": "error"}
            ],
        },
    ]
}


@pytest.fixture(scope="module")
def loaded_with_errors(
    app: Any, admin_token: str, worker: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A finished insert of six rows: three loaded, two invalid (a date, a code), one refused by the org."""
    client = calling_as(app, admin_token)
    folder = tmp_path_factory.mktemp("fix")
    prefix = uuid.uuid4().hex[:8]
    first = folder / "first.csv"
    first.write_text(f"legacy,name,founded,tier\n{prefix}-dup,Taken,2000-01-01,G\n")
    run_job(client, upload_id=upload(client, first), object="Account", operation="insert", mapping=MAPPING)
    path = folder / "accounts.csv"
    path.write_text(
        "legacy,name,founded,tier\n"
        f"{prefix}-1,One,2001-01-01,G\n"
        f"{prefix}-2,Two,2001-01-02,S\n"
        f"{prefix}-3,Three,03.01.2001,B\n"
        f"{prefix}-4,Four,2001-01-04,X\n"
        f"{prefix}-dup,Five,2001-01-05,G\n"
        f"{prefix}-6,Six,2001-01-06,B\n"
    )
    job = run_job(
        client, upload_id=upload(client, path), object="Account", operation="insert", mapping=MAPPING
    )
    counters = job["counters"]
    assert (counters["succeeded"], counters["invalid"], counters["failed"]) == (3, 2, 1), job
    return {"job": job, "prefix": prefix}


def test_errors_are_grouped_by_reason_with_examples_and_what_to_do(
    client: Any, loaded_with_errors: dict[str, Any]
) -> None:
    job_id = loaded_with_errors["job"]["id"]
    answer = client.get(f"/api/v1/jobs/{job_id}/errors/summary")
    assert answer.status_code == 200, answer.json
    summary = answer.json
    assert (summary["rows"], summary["problems"], summary["invalid"], summary["failed"]) == (3, 3, 2, 1)
    groups = {(g["code"], g["field"]): g for g in summary["groups"]}
    date = groups[("INVALID_DATE", "Founded__c")]
    assert (date["outcome"], date["stage"], date["column"], date["count"]) == (
        "invalid",
        "validation",
        "founded",
        1,
    )
    assert date["examples"] == [
        {
            "row": 3,
            "source_row": 3,
            "column": "founded",
            "value": "03.01.2001",
            "message": date["examples"][0]["message"],
        }
    ]
    assert "format" in date["advice"]
    code = groups[("UNMAPPED_VALUE", "Tier__c")]
    assert code["examples"][0]["value"] == "X" and "value map" in code["advice"]
    refused = next(g for g in summary["groups"] if g["outcome"] == "failed")
    assert refused["stage"] == "salesforce" and refused["examples"][0]["row"] == 5
    assert refused["code"] == "DUPLICATE_VALUE"


def test_invalid_and_failed_rows_are_listed_with_their_values_and_paged(
    client: Any, loaded_with_errors: dict[str, Any]
) -> None:
    job_id, prefix = loaded_with_errors["job"]["id"], loaded_with_errors["prefix"]
    invalid = client.get(f"/api/v1/jobs/{job_id}/rows?outcome=invalid").json
    assert invalid["columns"] == ["legacy", "name", "founded", "tier"]
    assert [r["row"] for r in invalid["rows"]] == [3, 4] and invalid["next_offset"] is None
    assert invalid["rows"][0]["values"] == {
        "legacy": f"{prefix}-3",
        "name": "Three",
        "founded": "03.01.2001",
        "tier": "B",
    }
    assert [(e["code"], e["column"], e["value"]) for e in invalid["rows"][0]["errors"]] == [
        ("INVALID_DATE", "founded", "03.01.2001")
    ]
    page = client.get(f"/api/v1/jobs/{job_id}/rows?outcome=invalid&limit=1").json
    assert [r["row"] for r in page["rows"]] == [3] and page["next_offset"] == 1 and page["total"] == 2
    second = client.get(f"/api/v1/jobs/{job_id}/rows?outcome=invalid&limit=1&offset=1").json
    assert [r["row"] for r in second["rows"]] == [4] and second["next_offset"] is None
    failed = client.get(f"/api/v1/jobs/{job_id}/rows?outcome=failed").json
    assert [(r["row"], r["errors"][0]["stage"]) for r in failed["rows"]] == [(5, "salesforce")]
    for query in ("", "outcome=loaded", "outcome=invalid&offset=-1", "outcome=invalid&limit=0"):
        bad = client.get(f"/api/v1/jobs/{job_id}/rows?{query}")
        assert bad.status_code == 400 and bad.json["error"]["where"]["field"], (query, bad.json)


def test_rows_corrected_in_the_page_are_retried_alone_with_their_first_row_numbers(
    client: Any, localorg: Any, loaded_with_errors: dict[str, Any]
) -> None:
    job_id, prefix = loaded_with_errors["job"]["id"], loaded_with_errors["prefix"]
    rows = [{"row": 3, "values": {"founded": "2001-01-03"}}, {"row": 4, "values": {"tier": "G"}}]
    answer = client.post(f"/api/v1/jobs/{job_id}/retry", json={"rows": rows})
    assert answer.status_code == 201, answer.json
    retried = wait_job(client, answer.json["id"])
    assert retried["state"] == "completed" and retried["retry_of"] == job_id, retried
    assert (retried["counters"]["total"], retried["counters"]["created"]) == (2, 2)
    assert sorted(r["dms_source_row"] for r in result_rows(client, retried["id"], "success.csv")) == [
        "3",
        "4",
    ]
    records = records_by(
        org_client(localorg),
        f"SELECT Legacy_Id__c, Founded__c, Tier__c FROM Account WHERE Legacy_Id__c IN ('{prefix}-3', '{prefix}-4')",
        "Legacy_Id__c",
    )
    assert (records[f"{prefix}-3"]["Founded__c"], records[f"{prefix}-4"]["Tier__c"]) == ("2001-01-03", "Gold")


def test_a_retry_of_rows_that_cannot_be_served_says_what_and_where(
    app: Any, client: Any, loaded_with_errors: dict[str, Any]
) -> None:
    job_id = loaded_with_errors["job"]["id"]
    loaded = client.post(
        f"/api/v1/jobs/{job_id}/retry", json={"rows": [{"row": 1, "values": {"name": "Uno"}}]}
    )
    assert loaded.status_code == 422 and loaded.json["error"]["code"] == "ROW_NOT_RETRYABLE"
    assert loaded.json["error"]["where"]["rows"] == [1]
    cases = [
        ({"rows": [{"row": 3, "values": {"founded_on": "2001-01-03"}}]}, "rows"),
        ({"rows": []}, "rows"),
        ({"rows": [{"row": "3", "values": {}}]}, "rows[0].row"),
        ({"rows": [{"row": 3, "values": {"name": 5}}]}, "rows[0].values"),
        ({"rows": [{"row": 3, "values": {}}, {"row": 3, "values": {}}]}, "rows[1].row"),
        ({"rows": [{"row": 3, "values": {}}], "upload_id": "upl-x"}, "rows"),
    ]
    for body, field in cases:
        bad = client.post(f"/api/v1/jobs/{job_id}/retry", json=body)
        assert bad.status_code == 400, (body, bad.json)
        assert bad.json["error"]["where"]["field"] == field, (body, bad.json)
    someone_else = calling_as(app, new_user("operator")[2])
    for path in (f"/api/v1/jobs/{job_id}/errors/summary", f"/api/v1/jobs/{job_id}/rows?outcome=invalid"):
        assert someone_else.get(path).status_code == 404
    assert (
        someone_else.post(
            f"/api/v1/jobs/{job_id}/retry", json={"rows": [{"row": 3, "values": {}}]}
        ).status_code
        == 404
    )

"""Bulk API 2.0 ingest through simple-salesforce's sf.bulk2 and plain HTTP."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from localorg.testing import LocalOrgHandle

HEADER = [
    "Name",
    "Legacy_Id__c",
    "Phone",
    "Industry",
    "AnnualRevenue",
    "NumberOfEmployees",
    "Founded__c",
    "Tier__c",
    "BillingCity",
    "Primary_Email__c",
]


def _write_csv(
    path: Path, header: list[str], rows: list[list[Any]], delimiter: str = ",", line_end: str = "\n"
) -> str:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _wait(http: Any, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = http.get(f"{http.base_url}/jobs/ingest/{job_id}").json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            return info  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _job(http: Any, **body: Any) -> str:
    response = http.post(f"{http.base_url}/jobs/ingest", json={"contentType": "CSV", **body})
    assert response.status_code == 200, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


def test_bulk_upsert_of_100k_rows_reports_bad_rows_precisely(sf: Any, tmp_path: Path) -> None:
    rows = []
    expected_errors: dict[str, str] = {}
    for i in range(100_000):
        row = [
            f"Account {i}",
            f"LEG-{i}",
            "+1 555 0100",
            "Banking",
            "1000000",
            str(i % 5000),
            "2001-02-03",
            "Gold",
            "Lyon",
            f"info{i}@example.com",
        ]
        if i % 1000 == 7:
            row[6] = "2001-02-30"
            expected_errors[f"LEG-{i}"] = "INVALID_TYPE_ON_FIELD_IN_RECORD"
        elif i % 1000 == 99:
            row[7] = "Platinum"
            expected_errors[f"LEG-{i}"] = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        elif i % 1000 == 500:
            row[0] = ""
            expected_errors[f"LEG-{i}"] = "REQUIRED_FIELD_MISSING"
        elif i % 1000 == 640:
            row[9] = "nobody-at-example"
            expected_errors[f"LEG-{i}"] = "INVALID_EMAIL_ADDRESS"
        rows.append(row)
    path = _write_csv(tmp_path / "accounts.csv", HEADER, rows)
    started = time.monotonic()
    [result] = sf.bulk2.Account.upsert(csv_file=path, external_id_field="Legacy_Id__c", wait=0.1)
    elapsed = time.monotonic() - started
    assert result["numberRecordsProcessed"] == 100_000
    assert result["numberRecordsFailed"] == len(expected_errors) == 400
    failed = _parse(sf.bulk2.Account.get_failed_records(result["job_id"]))
    got = {row["Legacy_Id__c"]: row["sf__Error"] for row in failed}
    assert set(got) == set(expected_errors)
    for legacy_id, code in expected_errors.items():
        assert got[legacy_id].startswith(code + ":"), got[legacy_id]
    sample = next(r for r in failed if r["Legacy_Id__c"] == "LEG-7")
    assert sample["sf__Error"] == (
        "INVALID_TYPE_ON_FIELD_IN_RECORD:Founded: value not of required type: 2001-02-30:Founded__c --"
    )
    assert sample["sf__Id"] == "" and sample["Founded__c"] == "2001-02-30"
    successful = _parse(sf.bulk2.Account.get_successful_records(result["job_id"]))
    assert len(successful) == 99_600 and all(r["sf__Created"] == "true" for r in successful[:100])
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 99_600
    # A second run of the same file updates instead of creating.
    [again] = sf.bulk2.Account.upsert(csv_file=path, external_id_field="Legacy_Id__c", wait=0.1)
    assert again["numberRecordsFailed"] == 400
    successful = _parse(sf.bulk2.Account.get_successful_records(again["job_id"]))
    assert {r["sf__Created"] for r in successful} == {"false"}
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 99_600
    assert elapsed < 60


def test_insert_results_carry_ids_and_original_columns(sf: Any, tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "a.csv", ["Name", "Phone"], [["One", "1"], ["Two", "2"]])
    [result] = sf.bulk2.Account.insert(csv_file=path, wait=0.1)
    successful = _parse(sf.bulk2.Account.get_successful_records(result["job_id"]))
    assert [(r["Name"], r["Phone"], r["sf__Created"]) for r in successful] == [
        ("One", "1", "true"),
        ("Two", "2", "true"),
    ]
    ids = {r["sf__Id"] for r in successful}
    assert {r["Id"] for r in sf.query("SELECT Id FROM Account")["records"]} == ids
    assert sf.bulk2.Account.get_unprocessed_records(result["job_id"]).strip() == "Name,Phone"


def test_update_ignores_empty_values_and_nulls_na(sf: Any, tmp_path: Path) -> None:
    first = sf.Account.create({"Name": "Keep", "Phone": "111", "Website": "https://a.example"})
    path = _write_csv(
        tmp_path / "u.csv", ["Id", "Name", "Phone", "Website"], [[first["id"], "", "#N/A", "https://b"]]
    )
    [result] = sf.bulk2.Account.update(csv_file=path, wait=0.1)
    assert result["numberRecordsFailed"] == 0
    record = sf.Account.get(first["id"])
    assert (record["Name"], record["Phone"], record["Website"]) == ("Keep", None, "https://b")


def test_contacts_reference_accounts_through_relationship_header(sf: Any, tmp_path: Path) -> None:
    sf.Account.create({"Name": "Parent", "Legacy_Id__c": "ACC-1"})
    path = _write_csv(
        tmp_path / "c.csv",
        ["LastName", "Legacy_Id__c", "Account.Legacy_Id__c"],
        [["Kid", "C-1", "acc-1"], ["Lost", "C-2", "ACC-404"], ["Alone", "C-3", ""]],
    )
    [result] = sf.bulk2.Contact.upsert(csv_file=path, external_id_field="Legacy_Id__c", wait=0.1)
    assert result["numberRecordsFailed"] == 1
    failed = _parse(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert failed[0]["sf__Error"] == (
        "INVALID_FIELD:Foreign key external ID: ACC-404 not found for field Legacy_Id__c in entity Account:--"
    )
    contacts = sf.query("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")["records"]
    assert [(c["LastName"], c["Account"] and c["Account"]["Name"]) for c in contacts] == [
        ("Alone", None),
        ("Kid", "Parent"),
    ]


def test_one_parent_written_in_two_cases_among_many_parents_is_one_match(sf: Any, tmp_path: Path) -> None:
    # More distinct parent keys than one SQL IN list holds (900): `ACC-1` leads the first list and `acc-1`
    # falls in the second; both find the same Account, which must count as one match, not two.
    sf.Account.create({"Name": "Parent", "Legacy_Id__c": "ACC-1"})
    rows = [["Upper", "C-1", "ACC-1"]]
    rows += [[f"Orphan {n}", f"C-O{n}", f"MISSING-{n}"] for n in range(1000)]
    rows += [["Lower", "C-2", "acc-1"]]
    path = _write_csv(tmp_path / "c.csv", ["LastName", "Legacy_Id__c", "Account.Legacy_Id__c"], rows)
    [result] = sf.bulk2.Contact.upsert(csv_file=path, external_id_field="Legacy_Id__c", wait=0.1)
    assert result["numberRecordsFailed"] == 1000
    kids = sf.query("SELECT LastName, Account.Name FROM Contact ORDER BY LastName")["records"]
    assert [(c["LastName"], c["Account"]["Name"]) for c in kids] == [("Lower", "Parent"), ("Upper", "Parent")]


def test_delete_and_hard_delete(sf: Any, tmp_path: Path) -> None:
    ids = [sf.Account.create({"Name": f"A{i}"})["id"] for i in range(3)]
    soft = _write_csv(tmp_path / "d.csv", ["Id"], [[ids[0]], ["001000000000009AAA"]])
    [result] = sf.bulk2.Account.delete(csv_file=soft, wait=0.1)
    assert result["numberRecordsFailed"] == 1
    hard = _write_csv(tmp_path / "h.csv", ["Id"], [[ids[1]]])
    sf.bulk2.Account.hard_delete(csv_file=hard, wait=0.1)
    remaining = sf.query_all("SELECT Id, IsDeleted FROM Account", include_deleted=True)["records"]
    assert {(r["Id"], r["IsDeleted"]) for r in remaining} == {(ids[0], True), (ids[2], False)}


def test_pipe_delimited_crlf_upload_in_two_batches(http: Any) -> None:
    job_id = _job(http, object="Account", operation="insert", columnDelimiter="PIPE", lineEnding="CRLF")
    for chunk in (["A|1"], ["B|2", "C|3"]):
        body = "\r\n".join(["Name|NumberOfEmployees", *chunk]) + "\r\n"
        response = http.put(
            f"{http.base_url}/jobs/ingest/{job_id}/batches",
            data=body.encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert response.status_code == 201
    http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    info = _wait(http, job_id)
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (
        "JobComplete",
        3,
        0,
    )
    text = http.get(f"{http.base_url}/jobs/ingest/{job_id}/successfulResults/").text
    assert text.startswith("sf__Id|sf__Created|Name|NumberOfEmployees\r\n")
    listed = http.get(f"{http.base_url}/jobs/ingest").json()["records"]
    assert job_id in {j["id"] for j in listed}


def test_unknown_column_fails_the_job_with_a_message(http: Any) -> None:
    job_id = _job(http, object="Account", operation="insert")
    http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches",
        data=b"Name,Bogus__c\nA,1\n",
        headers={"Content-Type": "text/csv"},
    )
    http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    info = _wait(http, job_id)
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Bogus__c"


def test_wrong_line_ending_fails_the_job(http: Any) -> None:
    job_id = _job(http, object="Account", operation="insert", lineEnding="LF")
    http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches",
        data=b"Name\r\nA\r\n",
        headers={"Content-Type": "text/csv"},
    )
    http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    info = _wait(http, job_id)
    assert info["state"] == "Failed" and "LineEnding is invalid" in info["errorMessage"]


def test_aborted_job_leaves_its_rows_unprocessed(http: Any) -> None:
    job_id = _job(http, object="Account", operation="insert")
    http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches",
        data=b"Name\nA\nB\n",
        headers={"Content-Type": "text/csv"},
    )
    aborted = http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    assert http.get(f"{http.base_url}/jobs/ingest/{job_id}/unprocessedrecords/").text == "Name\nA\nB\n"
    late = http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches",
        data=b"Name\nC\n",
        headers={"Content-Type": "text/csv"},
    )
    assert late.status_code == 409
    assert http.delete(f"{http.base_url}/jobs/ingest/{job_id}").status_code == 204
    assert http.get(f"{http.base_url}/jobs/ingest/{job_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"object": "Nope__c", "operation": "insert"}, "Unable to find object"),
        ({"object": "Account", "operation": "merge"}, "Invalid operation"),
        ({"object": "Account", "operation": "upsert"}, "External ID was blank"),
        ({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}, "not an External ID"),
        (
            {"object": "Account", "operation": "insert", "columnDelimiter": "SPACE"},
            "Invalid column delimiter",
        ),
    ],
)
def test_invalid_job_requests_are_refused(http: Any, body: dict[str, Any], message: str) -> None:
    response = http.post(f"{http.base_url}/jobs/ingest", json=body)
    assert response.status_code == 400
    assert message in response.json()[0]["message"]


def test_upload_over_150_mb_is_refused(http: Any, org: LocalOrgHandle) -> None:
    job_id = _job(http, object="Account", operation="insert")
    block = b"Name\n" + b"x" * (1024 * 1024 - 5)

    def stream() -> Any:
        for _ in range(151):
            yield block

    response = http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches", data=stream(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 400
    assert "150 MB" in response.json()[0]["message"]
    info = http.get(f"{http.base_url}/jobs/ingest/{job_id}").json()
    assert info["state"] == "Open"


def test_every_close_answers_upload_complete_even_when_the_worker_is_quick(http: Any) -> None:
    # The worker may pick a job up the moment it is queued; the PATCH answer must still be the state it
    # set (Salesforce answers UploadComplete), not whatever the worker made of the job since.
    answers = []
    job_ids = []
    for i in range(200):
        job_id = _job(http, object="Account", operation="insert")
        upload = http.put(
            f"{http.base_url}/jobs/ingest/{job_id}/batches",
            data=f"Name\nLoop {i}\n".encode(),
            headers={"Content-Type": "text/csv"},
        )
        assert upload.status_code == 201
        closed = http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
        assert closed.status_code == 200
        answers.append(closed.json()["state"])
        job_ids.append(job_id)
    assert answers == ["UploadComplete"] * 200
    finished = [_wait(http, job_id) for job_id in job_ids]
    assert [(f["state"], f["numberRecordsProcessed"]) for f in finished] == [("JobComplete", 1)] * 200


def test_abort_answers_aborted_and_the_job_stays_aborted(http: Any) -> None:
    job_id = _job(http, object="Account", operation="insert")
    rows = "".join(f"A{i}\n" for i in range(30_000))
    http.put(
        f"{http.base_url}/jobs/ingest/{job_id}/batches",
        data=("Name\n" + rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "UploadComplete"})
    aborted = http.patch(f"{http.base_url}/jobs/ingest/{job_id}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    info = _wait(http, job_id)
    assert info["state"] == "Aborted" and info["numberRecordsProcessed"] < 30_000

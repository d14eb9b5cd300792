"""Bulk API 2.0 query jobs through simple-salesforce's sf.bulk2 and plain HTTP."""

from __future__ import annotations

import base64
import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from localorg.org import LocalOrg, OrgSettings
from localorg.store import RowBatch, WriteOptions


def _parse(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def _load_accounts(http: Any, count: int) -> None:
    """Insert Account 0..count-1 (Legacy_Id__c L-n) through one Bulk ingest job."""
    job = http.post(
        f"{http.base_url}/jobs/ingest",
        json={"object": "Account", "operation": "insert", "contentType": "CSV"},
    ).json()
    rows = "".join(f"Account {n},L-{n}\n" for n in range(count))
    http.put(
        f"{http.base_url}/jobs/ingest/{job['id']}/batches",
        data=("Name,Legacy_Id__c\n" + rows).encode(),
        headers={"Content-Type": "text/csv"},
    )
    http.patch(f"{http.base_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert _wait(http, job["id"], kind="ingest")["numberRecordsProcessed"] == count


def _wait(http: Any, job_id: str, kind: str = "query", timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = http.get(f"{http.base_url}/jobs/{kind}/{job_id}").json()
        if info["state"] in {"JobComplete", "Failed", "Aborted"}:
            return info  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _query_job(http: Any, soql: str, **options: Any) -> str:
    response = http.post(f"{http.base_url}/jobs/query", json={"operation": "query", "query": soql, **options})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["state"] == "UploadComplete"
    return info["id"]  # type: ignore[no-any-return]


def test_simple_salesforce_query_pages_by_max_records(sf: Any, http: Any) -> None:
    _load_accounts(http, 5000)
    pages = list(sf.bulk2.Account.query("SELECT Name FROM Account", max_records=1234, wait=0.1))
    parsed = [_parse(page) for page in pages]
    assert [len(rows) for rows in parsed] == [1234, 1234, 1234, 1234, 64]
    names = [row["Name"] for rows in parsed for row in rows]
    assert names == [f"Account {n}" for n in range(5000)]


def test_results_headers_locators_and_content_type(http: Any) -> None:
    _load_accounts(http, 25)
    job_id = _query_job(http, "SELECT Legacy_Id__c FROM Account")
    info = _wait(http, job_id)
    assert (info["state"], info["numberRecordsProcessed"], info["jobType"]) == ("JobComplete", 25, "V2Query")
    assert {"retries", "totalProcessingTime", "isPkChunkingSupported"} <= set(info)
    first = http.get(f"{http.base_url}/jobs/query/{job_id}/results", params={"maxRecords": 10})
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/csv")
    assert first.headers["Sforce-NumberOfRecords"] == "10"
    locator = first.headers["Sforce-Locator"]
    assert base64.b64decode(locator + "=" * (-len(locator) % 4)) == b"10"
    seen = [r["Legacy_Id__c"] for r in _parse(first.text)]
    while locator != "null":
        page = http.get(
            f"{http.base_url}/jobs/query/{job_id}/results", params={"maxRecords": 10, "locator": locator}
        )
        assert page.status_code == 200
        rows = _parse(page.text)  # every set starts with the header row
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(rows)
        seen += [r["Legacy_Id__c"] for r in rows]
        locator = page.headers["Sforce-Locator"]
    assert seen == [f"L-{n}" for n in range(25)]
    # A locator can be used again; without maxRecords the set runs to the end.
    again = http.get(
        f"{http.base_url}/jobs/query/{job_id}/results", params={"locator": first.headers["Sforce-Locator"]}
    )
    assert again.headers["Sforce-NumberOfRecords"] == "15" and again.headers["Sforce-Locator"] == "null"


def test_results_are_written_as_salesforce_writes_them(sf: Any, http: Any) -> None:
    parent = sf.Account.create({"Name": 'Acme "Global"', "Founded__c": "2001-02-03", "NumberOfEmployees": 12})
    sf.Contact.create({"LastName": "Zoë\nSecond line", "AccountId": parent["id"], "HasOptedOutOfEmail": True})
    sf.Contact.create({"LastName": "Alone"})
    job_id = _query_job(
        http,
        "SELECT LastName, HasOptedOutOfEmail, Account.Name, Account.Founded__c, Account.NumberOfEmployees, "
        "CreatedDate FROM Contact ORDER BY LastName DESC",
    )
    _wait(http, job_id)
    text = http.get(f"{http.base_url}/jobs/query/{job_id}/results").content.decode("utf-8")
    header, _, _ = text.partition("\n")
    assert header == (
        '"LastName","HasOptedOutOfEmail","Account.Name","Account.Founded__c","Account.NumberOfEmployees",'
        '"CreatedDate"'
    )
    kid, alone = _parse(text)
    assert (kid["LastName"], kid["HasOptedOutOfEmail"], kid["Account.Name"]) == (
        "Zoë\nSecond line",
        "true",
        'Acme "Global"',
    )
    assert (kid["Account.Founded__c"], kid["Account.NumberOfEmployees"]) == ("2001-02-03", "12")
    assert kid["CreatedDate"].endswith("Z") and len(kid["CreatedDate"]) == len("2024-01-31T12:00:00.000Z")
    assert (alone["HasOptedOutOfEmail"], alone["Account.Name"], alone["Account.Founded__c"]) == (
        "false",
        "",
        "",
    )
    # Paging by one record lands exactly on each row, multi-byte characters and newlines included.
    one = http.get(f"{http.base_url}/jobs/query/{job_id}/results", params={"maxRecords": 1})
    second = http.get(
        f"{http.base_url}/jobs/query/{job_id}/results", params={"locator": one.headers["Sforce-Locator"]}
    )
    assert [r["LastName"] for r in _parse(one.content.decode()) + _parse(second.content.decode())] == [
        "Zoë\nSecond line",
        "Alone",
    ]


def test_pipe_delimited_crlf_results(http: Any) -> None:
    _load_accounts(http, 2)
    job_id = _query_job(
        http, "SELECT Name, Legacy_Id__c FROM Account", columnDelimiter="PIPE", lineEnding="CRLF"
    )
    info = _wait(http, job_id)
    assert (info["columnDelimiter"], info["lineEnding"]) == ("PIPE", "CRLF")
    text = http.get(f"{http.base_url}/jobs/query/{job_id}/results").text
    assert text == '"Name"|"Legacy_Id__c"\r\n"Account 0"|"L-0"\r\n"Account 1"|"L-1"\r\n'


def test_query_all_sees_deleted_rows_and_query_does_not(sf: Any, http: Any) -> None:
    keep = sf.Account.create({"Name": "Keep"})["id"]
    gone = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(gone)
    live = [_parse(page) for page in sf.bulk2.Account.query("SELECT Id FROM Account", wait=0.1)]
    assert [r["Id"] for rows in live for r in rows] == [keep]
    everything = sf.bulk2.Account.query_all("SELECT Id, IsDeleted FROM Account", wait=0.1)
    rows = [r for page in everything for r in _parse(page)]
    assert {(r["Id"], r["IsDeleted"]) for r in rows} == {(keep, "false"), (gone, "true")}


def test_download_writes_each_set_to_a_file(sf: Any, http: Any, tmp_path: Path) -> None:
    _load_accounts(http, 30)
    results = sf.bulk2.Account.download(
        "SELECT Legacy_Id__c FROM Account", str(tmp_path), max_records=12, wait=0.1
    )
    assert [r["number_of_records"] for r in results] == [12, 12, 6]
    assert results[-1]["locator"] == ""  # simple-salesforce turns the "null" locator into ""
    ids = [row["Legacy_Id__c"] for r in results for row in _parse(Path(r["file"]).read_text())]
    assert ids == [f"L-{n}" for n in range(30)]


def test_results_before_completion_are_refused_and_abort_stops_the_job(http: Any) -> None:
    _load_accounts(http, 200_000)
    job_id = _query_job(http, "SELECT Id, Name, Legacy_Id__c FROM Account")
    early = http.get(f"{http.base_url}/jobs/query/{job_id}/results")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    aborted = http.patch(f"{http.base_url}/jobs/query/{job_id}", json={"state": "Aborted"})
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    info = _wait(http, job_id)
    assert info["state"] == "Aborted" and info["numberRecordsProcessed"] < 200_000
    again = http.patch(f"{http.base_url}/jobs/query/{job_id}", json={"state": "Aborted"})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    late = http.get(f"{http.base_url}/jobs/query/{job_id}/results")
    assert late.status_code == 400 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_delete_removes_the_job(http: Any) -> None:
    job_id = _query_job(http, "SELECT Id FROM Account")
    _wait(http, job_id)
    assert http.delete(f"{http.base_url}/jobs/query/{job_id}").status_code == 204
    assert http.get(f"{http.base_url}/jobs/query/{job_id}").status_code == 404
    assert http.get(f"{http.base_url}/jobs/query/{job_id}/results").status_code == 404
    assert job_id not in {j["id"] for j in http.get(f"{http.base_url}/jobs/query").json()["records"]}


def test_ingest_and_query_lists_do_not_mix(http: Any) -> None:
    ingest = http.post(
        f"{http.base_url}/jobs/ingest",
        json={"object": "Account", "operation": "insert", "contentType": "CSV"},
    ).json()["id"]
    query = _query_job(http, "SELECT Id FROM Account")
    _wait(http, query)
    listed = http.get(f"{http.base_url}/jobs/query").json()
    assert (listed["done"], listed["nextRecordsUrl"]) == (True, None)
    assert [(j["id"], j["jobType"], j["operation"]) for j in listed["records"]] == [
        (query, "V2Query", "query")
    ]
    assert [j["id"] for j in http.get(f"{http.base_url}/jobs/ingest").json()["records"]] == [ingest]
    assert http.get(f"{http.base_url}/jobs/ingest/{query}").status_code == 404
    assert http.get(f"{http.base_url}/jobs/query/{ingest}").status_code == 404
    for params in ({"jobType": "V2Ingest"}, {"jobType": "Classic"}, {"isPkChunkingEnabled": "true"}):
        assert http.get(f"{http.base_url}/jobs/query", params=params).json()["records"] == []
    filtered = http.get(
        f"{http.base_url}/jobs/query", params={"jobType": "V2Query", "concurrencyMode": "parallel"}
    )
    assert [j["id"] for j in filtered.json()["records"]] == [query]


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        ("SELECT COUNT() FROM Account", "FEATURENOTENABLED", "Aggregate functions not supported"),
        ("SELECT Name, COUNT(Id) FROM Account GROUP BY Name", "FEATURENOTENABLED", "not supported"),
        ("SELECT Name FROM Account GROUP BY Name", "FEATURENOTENABLED", "GROUP BY not supported"),
        ("SELECT Name FROM Account LIMIT 5 OFFSET 2", "FEATURENOTENABLED", "OFFSET not supported"),
        (
            "SELECT TYPEOF Owner WHEN User THEN Name END FROM Account",
            "FEATURENOTENABLED",
            "TYPEOF not supported",
        ),
        (
            "SELECT Name, (SELECT LastName FROM Contacts) FROM Account",
            "FEATURENOTENABLED",
            "Aggregate Relationships not supported in Bulk V2 Query with CSV content type",
        ),
        ("SELECT Bogus__c FROM Account", "INVALID_FIELD", "No such column 'Bogus__c'"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE", "sObject type 'Nope__c' is not supported"),
        ("SELECT Id Account", "MALFORMED_QUERY", "FROM is missing"),
    ],
)
def test_queries_bulk_cannot_run_are_refused_at_creation(
    http: Any, soql: str, code: str, message: str
) -> None:
    response = http.post(f"{http.base_url}/jobs/query", json={"operation": "query", "query": soql})
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code and message in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operation": "insert", "query": "SELECT Id FROM Account"}, "Invalid operation"),
        ({"operation": "query"}, "A query is required"),
        (
            {"operation": "query", "query": "SELECT Id FROM Account", "contentType": "JSON"},
            "Invalid content type",
        ),
        (
            {"operation": "query", "query": "SELECT Id FROM Account", "columnDelimiter": "SPACE"},
            "column delimiter",
        ),
        (
            {"operation": "query", "query": "SELECT Id FROM Account", "lineEnding": "CR"},
            "Invalid line ending",
        ),
    ],
)
def test_invalid_query_job_requests_are_refused(http: Any, body: dict[str, Any], message: str) -> None:
    response = http.post(f"{http.base_url}/jobs/query", json=body)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOB" and message in response.json()[0]["message"]


def test_bad_locator_and_max_records_are_refused(http: Any) -> None:
    _load_accounts(http, 3)
    job_id = _query_job(http, "SELECT Id FROM Account")
    _wait(http, job_id)
    url = f"{http.base_url}/jobs/query/{job_id}/results"
    for locator in ("not-a-locator!", base64.b64encode(b"3").decode(), base64.b64encode(b"-1").decode()):
        response = http.get(url, params={"locator": locator})
        assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    for max_records in ("0", "ten"):
        assert http.get(url, params={"maxRecords": max_records}).status_code == 400
    bad_list = http.get(f"{http.base_url}/jobs/query", params={"queryLocator": "zzz"})
    assert bad_list.status_code == 400


def test_a_select_wider_than_one_sqlite_call_is_written_whole(tmp_path: Path) -> None:
    # SQLite functions take at most 127 arguments: a line of 150 fields is printed in groups.
    fields = "\n".join(f"      - {{name: F{n}__c, type: string, length: 20}}" for n in range(150))
    schema = tmp_path / "wide.yaml"
    schema.write_text(f"objects:\n  Wide__c:\n    fields:\n{fields}\n")
    local = LocalOrg(OrgSettings(schema_file=str(schema), jobs_dir=str(tmp_path / "jobs")))
    try:
        wide = local.store.schema.get("Wide__c")
        assert wide is not None
        values = {f"F{n}__c": [f'v{n}"'] for n in range(150)}
        batch = RowBatch(size=1, columns={"Name": ["W"], **values})
        local.store.write(wide, "insert", batch, WriteOptions(user_id=local.store.user_id))
        soql = "SELECT Name, " + ", ".join(f"F{n}__c" for n in range(150)) + " FROM Wide__c"
        job_id = local.bulk_queries.create(
            {"operation": "query", "query": soql}, "62.0", local.store.user_id
        )["id"]
        deadline = time.monotonic() + 30
        while local.bulk_queries.get(job_id).state in {"UploadComplete", "InProgress"}:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        page = local.bulk_queries.results(job_id, None, None)
        [row] = _parse(b"".join(page.body).decode())
        assert row == {"Name": "W", **{f"F{n}__c": f'v{n}"' for n in range(150)}}
    finally:
        local.close()

"""End to end on the real local stack: upload → plan → SQS → worker → localorg → row-accurate results."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline_helpers import (
    ACCOUNT_UPSERT,
    org_client,
    records_by,
    result_rows,
    run_job,
    upload,
)

MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy id"},
        {"target": "Name", "source": "Company", "transforms": [{"op": "trim"}]},
        {
            "target": "Tier__c",
            "source": "tier",
            "transforms": [
                {"op": "map", "values": {"G": "Gold", "S": "Silver", "B": "Bronze"}, "else": "keep"}
            ],
        },
        {"target": "Founded__c", "source": "founded", "format": "%d/%m/%Y"},
        {"target": "Credit_Limit__c", "source": "credit", "decimal": ",", "thousands": "."},
        {"target": "Employees_Verified__c", "source": "verified"},
        {"target": "Primary_Email__c", "source": "email"},
    ]
}


def accounts_csv(path: Path, prefix: str) -> tuple[Path, dict[str, dict[str, Any]], dict[int, str]]:
    """Ten good rows (source rows 1-10) and four bad ones (11-14): bad picklist, impossible date, no name, bad email."""
    good: dict[str, dict[str, Any]] = {}
    lines = ["legacy id;Company;tier;founded;credit;verified;email"]
    for n in range(1, 11):
        legacy, tier = f"{prefix}-{n}", ["Gold", "Silver", "Bronze"][n % 3]
        good[legacy] = {
            "Name": f"Company {n}",
            "Tier__c": tier,
            "Founded__c": f"2001-02-{n:02d}",
            "Credit_Limit__c": 1234.5 + n,
            "Employees_Verified__c": n % 2 == 0,
            "Primary_Email__c": f"c{n}@example.com",
        }
        verified = "Y" if n % 2 == 0 else "N"
        lines.append(
            f"{legacy};  Company {n} ;{tier[0]};{n:02d}/02/2001;1.{234 + n},50;{verified};c{n}@example.com"
        )
    bad = {
        11: f"{prefix}-bad-tier;Bad Tier;X;01/01/2000;1,00;Y;x@example.com",
        12: f"{prefix}-bad-date;Bad Date;G;31/02/2024;1,00;Y;x@example.com",
        13: f"{prefix}-no-name;;G;01/01/2000;1,00;Y;x@example.com",
        14: f"{prefix}-bad-email;Bad Email;G;01/01/2000;1,00;Y;not-an-email",
    }
    lines.extend(bad.values())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, good, {row: text.split(";")[0] for row, text in bad.items()}


def test_csv_upsert_loads_good_rows_field_by_field_and_reports_bad_ones(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path, good, bad = accounts_csv(tmp_path / "accounts.csv", prefix)
    job = run_job(
        client,
        upload_id=upload(client, path),
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )

    assert job["state"] == "completed_with_errors", job
    counters = job["counters"]
    # A blank Name is not caught before the load on an upsert (an update may leave Name as it is):
    # Salesforce refuses it when the row turns out to be new, and that is reported against its source row.
    assert (counters["total"], counters["succeeded"], counters["invalid"], counters["failed"]) == (
        14,
        10,
        3,
        1,
    )
    assert counters["created"] == 10 and counters["pending"] == 0
    assert (
        counters["total"]
        == counters["succeeded"] + counters["failed"] + counters["invalid"] + counters["cancelled"]
    )

    sf = org_client(localorg)
    fields = (
        "Legacy_Id__c, Name, Tier__c, Founded__c, Credit_Limit__c, Employees_Verified__c, Primary_Email__c"
    )
    org = records_by(
        sf, f"SELECT Id, {fields} FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'", "Legacy_Id__c"
    )
    assert set(org) == set(good)
    for legacy, expected in good.items():
        for field, value in expected.items():
            assert org[legacy][field] == value, (legacy, field, org[legacy][field], value)

    success = result_rows(client, job["id"], "success.csv")
    assert [int(r["source_row"]) for r in success] == list(range(1, 11))
    for row in success:
        assert org[row["legacy id"]]["Id"] == row["salesforce_id"]
        assert row["created"] == "true"
    errors = result_rows(client, job["id"], "errors.csv")
    assert {int(r["source_row"]): r["legacy id"] for r in errors} == bad
    codes = {r["legacy id"].rsplit("-", 1)[-1]: r["error_code"] for r in errors}
    assert codes["tier"] in ("INVALID_PICKLIST_VALUE", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")
    assert codes["date"] == "INVALID_DATE"
    assert codes["name"] == "REQUIRED_FIELD_MISSING"
    assert codes["email"] in ("INVALID_EMAIL", "INVALID_EMAIL_ADDRESS")
    assert {r["legacy id"]: r["stage"] for r in errors}[f"{prefix}-no-name"] == "salesforce"
    assert [r["stage"] for r in errors].count("validation") == 3
    assert "31/02/2024" in next(r["error_message"] for r in errors if r["legacy id"].endswith("bad-date"))


def test_rehearsal_loads_nothing_and_reports_every_error(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path, good, bad = accounts_csv(tmp_path / "accounts.csv", prefix)
    job = run_job(
        client,
        upload_id=upload(client, path),
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
        dry_run=True,
    )
    assert job["state"] == "completed_with_errors"
    # The rehearsal looks the external ids up: the blank-Name row would be created, so it is caught here too.
    assert (job["counters"]["valid"], job["counters"]["invalid"]) == (10, 4)
    assert job["estimated_api_calls"] >= 1
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == 0
    assert {int(r["source_row"]) for r in result_rows(client, job["id"], "errors.csv")} == set(bad)


def test_second_upsert_updates_instead_of_duplicating(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path, good, _ = accounts_csv(tmp_path / "accounts.csv", prefix)
    upload_id = upload(client, path)
    first = run_job(
        client,
        upload_id=upload_id,
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )
    second = run_job(
        client,
        upload_id=upload_id,
        **ACCOUNT_UPSERT,
        mapping=MAPPING,
    )
    assert first["counters"]["created"] == 10
    assert (second["counters"]["created"], second["counters"]["updated"]) == (0, 10)
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == 10


def test_a_job_without_a_mapping_is_auto_mapped(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "contacts.csv"
    path.write_text(
        f"Last Name,First Name,Email,Legacy Id\nDoe,Jane,jane@example.com,{prefix}-1\n", encoding="utf-8"
    )
    job = run_job(client, upload_id=upload(client, path), object="Contact", operation="insert")
    assert job["state"] == "completed", job
    sf = org_client(localorg)
    row = sf.query(f"SELECT LastName, FirstName, Email FROM Contact WHERE Legacy_Id__c = '{prefix}-1'")[
        "records"
    ][0]
    assert (row["LastName"], row["FirstName"], row["Email"]) == ("Doe", "Jane", "jane@example.com")


@pytest.mark.parametrize("operation", ["update", "delete", "hardDelete"])
def test_update_and_delete_by_id(
    client: Any, worker: str, localorg: Any, tmp_path: Path, operation: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    sf = org_client(localorg)
    ids = [
        sf.Account.create({"Name": f"{prefix} {n}", "Legacy_Id__c": f"{prefix}-{n}"})["id"] for n in range(3)
    ]
    path = tmp_path / "changes.csv"
    path.write_text(
        "Id,Name\n" + "".join(f"{i},Renamed {n}\n" for n, i in enumerate(ids)) + "001000000000000AAA,Ghost\n"
    )
    job = run_job(client, upload_id=upload(client, path), object="Account", operation=operation)
    assert job["counters"]["succeeded"] == 3
    assert job["counters"]["failed"] + job["counters"]["invalid"] == 1
    left = records_by(sf, f"SELECT Id, Name FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'", "Id")
    if operation == "update":
        assert sorted(r["Name"] for r in left.values()) == ["Renamed 0", "Renamed 1", "Renamed 2"]
    else:
        assert left == {}
    errors = result_rows(client, job["id"], "errors.csv")
    assert [int(r["source_row"]) for r in errors] == [4]


def test_a_small_direct_job_finishes_within_the_request(client: Any, localorg: Any, tmp_path: Path) -> None:
    """No worker fixture here: the job must finish in the web request itself."""
    prefix = uuid.uuid4().hex[:8]
    path, good, bad = accounts_csv(tmp_path / "accounts.csv", prefix)
    response = client.post(
        "/api/v1/jobs",
        json={
            "upload_id": upload(client, path),
            "object": "Account",
            "operation": "upsert",
            "external_id": "Legacy_Id__c",
            "mapping": MAPPING,
            "direct": True,
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["state"] == "completed_with_errors"
    assert (response.json["counters"]["succeeded"], response.json["counters"]["pending"]) == (10, 0)
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"] == 10


def test_a_large_file_is_refused_for_a_direct_job(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("Name\n" + ("x" * 79 + "\n") * 4000)  # 320 KB
    response = client.post(
        "/api/v1/jobs",
        json={"upload_id": upload(client, path), "object": "Account", "operation": "insert", "direct": True},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "DIRECT_TOO_LARGE"


def test_a_mapping_naming_an_unknown_field_fails_the_job_with_the_reason(
    client: Any, worker: str, tmp_path: Path
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("Company\nAcme\n")
    mapping = {
        "fields": [
            {"target": "Name", "source": "Company"},
            {"target": "No_Such_Field__c", "source": "Company"},
        ]
    }
    body = {"upload_id": upload(client, path), "object": "Account", "operation": "insert", "mapping": mapping}
    # Checked at creation since issue 10 (it used to be accepted and fail in the plan): same code, same reason.
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "MAPPING_INVALID"
    assert "No_Such_Field__c" in response.json["error"]["message"]


def test_wide_rows_are_loaded_in_chunks_cut_by_size_and_every_row_arrives(
    app: Any, localorg: Any, tmp_path: Path
) -> None:
    """Long descriptions make 50,000-row chunks too big for one Bulk upload (Salesforce: 100 MB). The reader
    cuts chunks by size as well; here at 40 KB, so 12 rows of ~10 KB become several Bulk jobs, each row once."""
    from dms.clients import Services
    from dms.pipeline.context import Pipeline
    from dms.pipeline.lifecycle import create_job
    from dms.pipeline.plan import plan_job

    settings = {
        **app.extensions["dms"].settings,
        "READ_CHUNK_MAX_BYTES": 40_000,
        "STAGING_MAX_CHUNKS_PER_JOB": 1,
    }
    p = Pipeline(Services(settings), enqueue=lambda name, args: None)  # the planner loads every chunk itself
    prefix = uuid.uuid4().hex[:8]
    texts = {n: f"{n:02d} " + ("lorem ipsum, dolor " * 600)[: 9_000 + n * 100] for n in range(1, 13)}
    path = tmp_path / "wide.csv"
    path.write_text(
        "Name,Legacy_Id__c,Description\n"
        + "".join(f'Wide {n},{prefix}-{n},"{t}"\n' for n, t in texts.items())
    )
    key = f"uploads/test-{prefix}/wide.csv"
    p.blobs.put_file(key, path)
    job = create_job(
        p,
        {
            "source": {"blob_key": key, "filename": "wide.csv"},
            "target": {"object": "Account", "operation": "insert"},
            "options": {"chunk_rows": 1000},
        },
    )
    assert plan_job(p, job["_id"]) == "loading"
    final = p.store.refresh_counters(job["_id"])
    chunks = list(p.store.chunk_docs(job["_id"]))
    assert len(chunks) == 4 and all(c["state"] == "done" for c in chunks)  # ~110 KB / 40 KB per chunk
    assert final["state"] == "completed" and final["counters"]["succeeded"] == 12, final
    org = records_by(
        org_client(localorg),
        f"SELECT Legacy_Id__c, Description FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    assert {k: r["Description"] for k, r in org.items()} == {f"{prefix}-{n}": t for n, t in texts.items()}


def test_preview_and_rehearsal_agree_on_dates_the_data_cannot_order(
    client: Any, worker: str, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "founded.csv"
    rows = [f"{prefix}-{n};Company {n};0{n}/0{n + 1}/2001" for n in range(1, 6)]  # no day above 12
    path.write_text("\n".join(["Legacy Id;Name;Founded", *rows]) + "\n", encoding="utf-8")
    upload_id = upload(client, path)
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    founded = next(column for column in preview["columns"] if column["name"] == "Founded")
    # The preview claims no reading it will not apply: no format, five values a job without one rejects.
    assert (founded["kind"], founded["ambiguous"], founded["format"]) == ("date", True, None)
    assert founded["alternatives"] == ["%d/%m/%Y", "%m/%d/%Y"] and founded["invalid_count"] == 5
    suggested = client.post("/api/v1/mappings/suggest", json={"upload_id": upload_id, **ACCOUNT_UPSERT}).json
    as_suggested = run_job(
        client, upload_id=upload_id, **ACCOUNT_UPSERT, mapping=suggested["mapping"], dry_run=True
    )
    assert (as_suggested["counters"]["valid"], as_suggested["counters"]["invalid"]) == (0, 5)
    assert {r["error_code"] for r in result_rows(client, as_suggested["id"], "errors.csv")} == {
        "INVALID_DATE"
    }
    # Choosing one of the preview's alternatives reads every row.
    chosen = {
        **suggested["mapping"],
        "fields": [
            {**entry, "format": founded["alternatives"][0]} if entry["source"] == "Founded" else entry
            for entry in suggested["mapping"]["fields"]
        ],
    }
    rehearsal = run_job(client, upload_id=upload_id, **ACCOUNT_UPSERT, mapping=chosen, dry_run=True)
    assert (rehearsal["counters"]["valid"], rehearsal["counters"]["invalid"]) == (5, 0)


def test_preview_and_rehearsal_agree_on_numbers_the_data_cannot_separate(
    client: Any, worker: str, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "staff.csv"
    rows = [f"{prefix}-{n};Company {n};{n},{n}{n}{n}" for n in range(1, 6)]  # 1,111: 1111 or 1.111?
    path.write_text("\n".join(["Legacy Id;Name;Employees", *rows]) + "\n", encoding="utf-8")
    upload_id = upload(client, path)
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    staff = next(column for column in preview["columns"] if column["name"] == "Employees")
    # The preview claims no separators it will not apply, and counts what a job without them rejects.
    assert (staff["ambiguous"], staff["decimal"], staff["thousands"], staff["invalid_count"]) == (
        True,
        None,
        None,
        5,
    )
    assert {"decimal": ".", "thousands": ","} in staff["number_readings"]
    suggested = client.post("/api/v1/mappings/suggest", json={"upload_id": upload_id, **ACCOUNT_UPSERT}).json
    as_suggested = run_job(
        client, upload_id=upload_id, **ACCOUNT_UPSERT, mapping=suggested["mapping"], dry_run=True
    )
    assert (as_suggested["counters"]["valid"], as_suggested["counters"]["invalid"]) == (0, 5)
    assert {r["error_code"] for r in result_rows(client, as_suggested["id"], "errors.csv")} == {
        "INVALID_NUMBER"
    }
    # Choosing one of the preview's readings reads every row.
    reading = {"decimal": ".", "thousands": ","}
    chosen = {
        **suggested["mapping"],
        "fields": [
            {**entry, **reading} if entry["source"] == "Employees" else entry
            for entry in suggested["mapping"]["fields"]
        ],
    }
    rehearsal = run_job(client, upload_id=upload_id, **ACCOUNT_UPSERT, mapping=chosen, dry_run=True)
    assert (rehearsal["counters"]["valid"], rehearsal["counters"]["invalid"]) == (5, 0)


def test_java_style_date_patterns_load_like_strftime_and_unknown_letters_are_named(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "audits.csv"
    path.write_text(
        "Legacy Id;Name;Founded;Audited\n"
        f"{prefix}-1;Audit One;07/03/2001;2024-03-07T10:11:12.345+0100\n"
        f"{prefix}-2;Audit Two;25/12/1999;2024-12-31T23:00:00.000Z\n",
        encoding="utf-8",
    )
    upload_id = upload(client, path)
    fields = [
        {"target": "Legacy_Id__c", "source": "Legacy Id"},
        {"target": "Name", "source": "Name"},
        {"target": "Founded__c", "source": "Founded", "format": "dd/MM/yyyy"},
        {"target": "Last_Audit__c", "source": "Audited", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
    ]
    job = run_job(client, upload_id=upload_id, **ACCOUNT_UPSERT, mapping={"fields": fields})
    assert (job["state"], job["counters"]["succeeded"]) == ("completed", 2), job
    org = records_by(
        org_client(localorg),
        f"SELECT Legacy_Id__c, Founded__c, Last_Audit__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    assert org[f"{prefix}-1"]["Founded__c"] == "2001-03-07"
    assert org[f"{prefix}-2"]["Founded__c"] == "1999-12-25"
    assert org[f"{prefix}-1"]["Last_Audit__c"].startswith("2024-03-07T09:11:12.345")
    assert org[f"{prefix}-2"]["Last_Audit__c"].startswith("2024-12-31T23:00:00.000")

    fields[2] = {**fields[2], "format": "dd/MM/YYYY"}
    body = {"upload_id": upload_id, **ACCOUNT_UPSERT, "mapping": {"fields": fields}}
    refused = client.post("/api/v1/jobs", json=body)  # refused at creation, naming the letter
    assert (refused.status_code, refused.json["error"]["code"]) == (422, "MAPPING_INVALID"), refused.json
    assert "'Y' is the week-based year" in refused.json["error"]["message"]


def test_headers_in_other_languages_are_auto_mapped_and_loaded(
    client: Any, worker: str, localorg: Any, tmp_path: Path
) -> None:
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "客户导出.csv"
    path.write_text(
        "Legacy Id;公司名称;电话;网站;城市;Branche\n"
        f"{prefix}-1;北京科技有限公司;010-12345678;https://example.cn;北京;Technology\n",
        encoding="utf-8",
    )
    upload_id = upload(client, path)
    suggested = client.post("/api/v1/mappings/suggest", json={"upload_id": upload_id, **ACCOUNT_UPSERT}).json
    assert {e["source"]: e["target"] for e in suggested["mapping"]["fields"]} == {
        "Legacy Id": "Legacy_Id__c",
        "公司名称": "Name",
        "电话": "Phone",
        "网站": "Website",
        "城市": "BillingCity",
        "Branche": "Industry",
    }
    job = run_job(client, upload_id=upload_id, **ACCOUNT_UPSERT)  # no mapping: auto-mapped in the plan
    assert (job["state"], job["counters"]["succeeded"]) == ("completed", 1), job
    org = records_by(
        org_client(localorg),
        "SELECT Legacy_Id__c, Name, Phone, Website, BillingCity, Industry FROM Account "
        f"WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    account = org[f"{prefix}-1"]
    assert (account["Name"], account["Phone"], account["BillingCity"], account["Industry"]) == (
        "北京科技有限公司",
        "010-12345678",
        "北京",
        "Technology",
    )

"""Uploads for real: inline and presigned (local signed endpoint, and S3 through moto_server), then preview."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest
import requests

from dms.clients.blobstore import LocalBlobStore
from dms.clients.docstore import DocumentStore
from dms.uploads import UploadLimits, Uploads, UploadTooLarge, safe_filename
from factories.flask_instance import create_app
from tests.conftest import calling_as
from tests.integration.pipeline_helpers import ACCOUNT_UPSERT

LEGACY_CSV = "Name;Amount;Joined\nMüller;1.234,50;31/12/2024\nZoë;12,00;01/02/2023\n".encode("cp1252")


def upload(client: Any, data: bytes, filename: str = "export.csv") -> Any:
    return client.post(
        "/api/v1/uploads", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


@pytest.fixture(scope="module")
def small_cap_client(stack_env: dict[str, str], admin_token: str) -> Any:
    """A web app whose inline cap is 1,000 bytes (the real one is API Gateway's 10 MB)."""
    app = create_app({"TESTING": True, "MAX_INLINE_UPLOAD_BYTES": 1000, "MAX_UPLOAD_BYTES": 5000})
    return calling_as(app, admin_token)


@pytest.fixture(scope="module")
def s3_bucket(sqs_endpoint: str, stack_env: dict[str, str]) -> str:
    """A bucket on moto_server (the same server speaks SQS and S3)."""
    bucket = f"dms-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint).create_bucket(Bucket=bucket)
    return bucket


def _s3_app(bucket: str, endpoint: str, full_app: Any) -> Any:
    """A web app whose blob store is S3 (moto), with a tiny preview head to exercise partial previews."""
    s3_app = create_app(
        {
            "TESTING": True,
            "BLOB_STORE_URL": f"s3://{bucket}/blobs",
            "S3_ENDPOINT_URL": endpoint,
            "UPLOAD_PREVIEW_HEAD_BYTES": 2000,
        }
    )
    # A direct job hands what it cannot finish in time to the queue: the session's Celery, as configured.
    s3_app.extensions["celery"] = full_app.extensions["celery"]
    return s3_app


@pytest.fixture(scope="module")
def s3_client(
    stack_env: dict[str, str], sqs_endpoint: str, s3_bucket: str, admin_token: str, app: Any
) -> Any:
    """A client of a web app whose blob store is S3 (moto)."""
    return calling_as(_s3_app(s3_bucket, sqs_endpoint, app), admin_token)


@pytest.fixture(scope="module")
def versioned_s3_client(stack_env: dict[str, str], sqs_endpoint: str, admin_token: str, app: Any) -> Any:
    """A client of a web app whose blob store is a versioned S3 bucket (moto)."""
    bucket = f"dms-test-v-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return calling_as(_s3_app(bucket, sqs_endpoint, app), admin_token)


def test_inline_upload_is_stored_whole_and_recorded_ready(client: Any, app: Any) -> None:
    response = upload(client, LEGACY_CSV, "legacy export.csv")
    assert response.status_code == 201, response.json
    record = response.json
    assert response.headers["Location"] == f"/api/v1/uploads/{record['id']}"
    assert record["state"] == "ready" and record["via"] == "inline"
    assert record["size"] == len(LEGACY_CSV)
    assert record["sha256"] == hashlib.sha256(LEGACY_CSV).hexdigest()
    assert record["filename"] == "legacy export.csv"
    assert record["blob_key"] == f"uploads/{record['id']}/legacy_export.csv"
    with app.extensions["dms"].blobs.open_read(record["blob_key"]) as stored:
        assert stored.read() == LEGACY_CSV
    assert client.get(f"/api/v1/uploads/{record['id']}").json == record


def test_preview_detects_encoding_delimiter_and_column_types(client: Any) -> None:
    upload_id = upload(client, LEGACY_CSV).json["id"]
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert preview["format"] == "csv"
    assert preview["delimiter"] == ";"
    assert preview["encoding"] == "cp1252"
    kinds = {column["name"]: column["kind"] for column in preview["columns"]}
    assert kinds == {"Name": "text", "Amount": "number", "Joined": "date"}
    joined = next(column for column in preview["columns"] if column["name"] == "Joined")
    assert joined["format"] == "%d/%m/%Y"
    assert [row["Name"] for row in preview["rows"]] == ["Müller", "Zoë"]
    assert [row["__row__"] for row in preview["rows"]] == [1, 2]


def test_preview_options_override_detection(client: Any) -> None:
    upload_id = upload(client, b"a|b\n1|2\n", "pipes.txt").json["id"]
    as_comma = client.get(f"/api/v1/uploads/{upload_id}/preview?delimiter=comma").json
    assert [column["name"] for column in as_comma["columns"]] == ["a|b"]
    detected = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert [column["name"] for column in detected["columns"]] == ["a", "b"]


def test_preview_rejects_an_unknown_encoding_with_a_stable_code(client: Any) -> None:
    upload_id = upload(client, LEGACY_CSV).json["id"]
    response = client.get(f"/api/v1/uploads/{upload_id}/preview?encoding=klingon-8")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "INVALID_ENCODING"
    assert response.json["error"]["where"]["field"] == "encoding"


def test_preview_says_how_many_rows_it_could_not_read(client: Any) -> None:
    ragged = b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n13\n"
    preview = client.get(f"/api/v1/uploads/{upload(client, ragged).json['id']}/preview").json
    assert [row["__row__"] for row in preview["rows"]] == [1, 4]
    unreadable = [w for w in preview["warnings"] if "could not be read" in w]
    assert len(unreadable) == 1 and unreadable[0].startswith("3 of 5 rows could not be read (rows 2, 3, 5)")
    assert "Row 2 has 2 fields but the file has 3 columns" in unreadable[0]


@pytest.mark.parametrize(
    ("text", "written_as", "chosen", "reads_as"),
    [
        ("Name;City\nMüller;Köln\nZoë;Zürich\n", "utf-8", "latin-1", "utf-8"),  # mojibake: MÃ¼ller
        ("名称;城市\n张三;北京\n李四;上海\n", "gb18030", "cp1252", "gb18030"),  # Ãû³Æ
        ("Name;City\nMüller;Köln\nZoë;Zürich\n", "cp1252", "utf-8", "cp1252"),  # M\ufffdller
    ],
)
def test_a_chosen_encoding_that_garbles_the_text_is_flagged(
    client: Any, text: str, written_as: str, chosen: str, reads_as: str
) -> None:
    upload_id = upload(client, text.encode(written_as)).json["id"]
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview?encoding={chosen}").json
    assert preview["encoding_confidence"] < 0.5
    doubt = next(w for w in preview["warnings"] if w.startswith("The text read as"))
    assert f"choose {reads_as}" in doubt
    right = client.get(f"/api/v1/uploads/{upload_id}/preview?encoding={reads_as}").json
    assert (right["encoding_confidence"], right["warnings"]) == (1.0, [])


def test_preview_shows_twenty_rows_and_reads_their_types_from_the_rows_a_job_reads(client: Any) -> None:
    # The first 40 dates fit dd/mm and mm/dd alike; row 41 settles it. A job infers from the first 2,000 rows,
    # so the preview must too (from the 20 it shows it would call the column ambiguous).
    lines = ["n;when"] + [f"{n};0{n % 9 + 1}/0{n % 9 + 1}/2020" for n in range(1, 41)]
    lines += [f"{n};25/12/2020" for n in range(41, 61)]
    upload_id = upload(client, ("\n".join(lines) + "\n").encode()).json["id"]
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert [row["__row__"] for row in preview["rows"]] == list(range(1, 21))
    when = next(column for column in preview["columns"] if column["name"] == "when")
    assert (when["format"], when["ambiguous"], when["non_blank"]) == ("%d/%m/%Y", False, 60)


def test_excel_preview_lists_sheets_and_reads_the_one_asked_for(client: Any, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Accounts"
    book.active.append(["Id", "Name"])
    book.active.append([1, "Acme"])
    contacts = book.create_sheet("Contacts")
    contacts.append(["Email"])
    contacts.append(["a@example.com"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    upload_id = upload(client, path.read_bytes(), "book.xlsx").json["id"]
    first = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert (first["format"], first["sheet"], first["sheet_names"]) == (
        "excel",
        "Accounts",
        ["Accounts", "Contacts"],
    )
    second = client.get(f"/api/v1/uploads/{upload_id}/preview?sheet=1").json
    assert second["sheet"] == "Contacts"
    assert second["rows"][0]["Email"] == "a@example.com"


def test_hostile_file_names_cannot_leave_the_upload_folder(client: Any) -> None:
    for hostile in ("../../etc/passwd", "..\\..\\win.ini", "\x00evil\t.csv", "…" * 500 + ".csv"):
        record = upload(client, b"a,b\n1,2\n", hostile).json
        prefix = f"uploads/{record['id']}/"
        assert record["blob_key"].startswith(prefix)
        name = record["blob_key"][len(prefix) :]
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert len(name) <= 120 and len(record["filename"]) <= 120
        assert "\x00" not in record["filename"] and "\n" not in record["filename"]
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("Données 2024.CSV") == "Donnees_2024.csv"
    assert safe_filename("…" * 500 + ".csv").endswith(".csv")
    assert safe_filename("...") == "upload"


def test_inline_upload_over_the_cap_points_at_the_presigned_path(small_cap_client: Any) -> None:
    response = upload(small_cap_client, b"x" * 200_000)
    assert response.status_code == 413
    error = response.json["error"]
    assert error["code"] == "UPLOAD_TOO_LARGE"
    assert "/api/v1/uploads/presign" in error["message"]


def test_stream_over_the_cap_leaves_no_blob_and_no_ready_record(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    # Without a Content-Length (chunked bodies) only the copy loop sees the size: check it directly.
    app = create_app({"TESTING": True})
    blobs = LocalBlobStore(tmp_path / "blobs")
    store: DocumentStore = app.extensions["dms"].store("uploads")
    uploads = Uploads(blobs, store, UploadLimits(max_inline_bytes=1000, max_upload_bytes=5000))
    before = {doc["_id"] for doc in store.iter_all(prefix="upl-")}
    with pytest.raises(UploadTooLarge):
        uploads.receive_inline("big.csv", io.BytesIO(b"y" * 5000))
    assert blobs.list("uploads/") == []
    assert {doc["_id"] for doc in store.iter_all(prefix="upl-")} == before  # no record left behind either


def test_missing_and_empty_files_are_refused_clearly(client: Any) -> None:
    missing = client.post("/api/v1/uploads", data={"other": "x"}, content_type="multipart/form-data")
    assert (missing.status_code, missing.json["error"]["code"]) == (400, "MISSING_FILE")
    empty = upload(client, b"")
    assert (empty.status_code, empty.json["error"]["code"]) == (400, "EMPTY_UPLOAD")


def test_unknown_and_malformed_upload_ids_are_not_found(client: Any) -> None:
    for upload_id in ("upl-20200101T000000000000Z-abcdef", "_all_docs", "upl-x'; DROP"):
        response = client.get(f"/api/v1/uploads/{upload_id}")
        assert response.status_code == 404
        assert response.json["error"]["code"] == "UPLOAD_NOT_FOUND"


def test_local_presigned_upload_then_complete_then_preview(client: Any) -> None:
    presigned = client.post("/api/v1/uploads/presign", json={"filename": "big.csv", "size": len(LEGACY_CSV)})
    assert presigned.status_code == 201
    body = presigned.json
    upload_id = body["upload"]["id"]
    assert body["upload"]["state"] == "pending"
    token = {"token": body["token"]}
    early = client.post(body["complete_url"], json=token)
    assert (early.status_code, early.json["error"]["code"]) == (409, "UPLOAD_NOT_READY")

    form = {**body["fields"], body["file_field"]: (io.BytesIO(LEGACY_CSV), "big.csv")}
    sent = client.post(body["url"], data=form, content_type="multipart/form-data")
    assert sent.status_code == 204, sent.json
    done = client.post(body["complete_url"], json=token).json
    assert (done["state"], done["size"]) == ("ready", len(LEGACY_CSV))
    assert client.post(body["complete_url"], json=token).json == done  # completing twice is harmless
    preview = client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert [column["name"] for column in preview["columns"]] == ["Name", "Amount", "Joined"]


def test_local_presigned_upload_refuses_forged_tokens_and_undeclared_bytes(client: Any) -> None:
    body = client.post("/api/v1/uploads/presign", json={"filename": "a.csv", "size": 10}).json
    other = client.post("/api/v1/uploads/presign", json={"filename": "b.csv", "size": 10}).json
    stolen = {"token": other["fields"]["token"], "file": (io.BytesIO(b"a,b\n1,2\n"), "a.csv")}
    forged = client.post(body["url"], data=stolen, content_type="multipart/form-data")
    assert (forged.status_code, forged.json["error"]["code"]) == (403, "UPLOAD_TOKEN_INVALID")
    oversized = {**body["fields"], "file": (io.BytesIO(b"z" * 11), "a.csv")}
    refused = client.post(body["url"], data=oversized, content_type="multipart/form-data")
    assert (refused.status_code, refused.json["error"]["code"]) == (413, "UPLOAD_TOO_LARGE")
    assert client.post(body["complete_url"], json={"token": body["token"]}).status_code == 409


def test_presign_validates_the_request(small_cap_client: Any) -> None:
    for payload in ({"filename": "", "size": 10}, {"filename": "a.csv", "size": "10"}, {"filename": "a.csv"}):
        response = small_cap_client.post("/api/v1/uploads/presign", json=payload)
        assert (response.status_code, response.json["error"]["code"]) == (400, "INVALID_REQUEST"), payload
    too_big = small_cap_client.post("/api/v1/uploads/presign", json={"filename": "a.csv", "size": 5001})
    assert (too_big.status_code, too_big.json["error"]["code"]) == (413, "UPLOAD_TOO_LARGE")


def test_s3_presigned_post_then_complete_then_preview(
    s3_client: Any, sqs_endpoint: str, s3_bucket: str
) -> None:
    rows = "".join(f"{i},Name {i},2024-01-{1 + i % 28:02d}\n" for i in range(500))
    data = ("Id,Name,Created\n" + rows).encode()
    body = s3_client.post(
        "/api/v1/uploads/presign", json={"filename": "accounts.csv", "size": len(data)}
    ).json
    assert body["url"].startswith(sqs_endpoint)
    # A real multipart POST to S3 (moto), exactly as a browser sends it: the fields, then the file.
    sent = requests.post(body["url"], data=body["fields"], files={"file": ("accounts.csv", data)}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    key = body["fields"]["key"]
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint)
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == data
    assert key == f"blobs/uploads/{body['upload']['id']}/accounts.csv"

    assert s3_client.post(body["complete_url"]).json["error"]["code"] == "UPLOAD_TOKEN_INVALID"
    done = s3_client.post(body["complete_url"], json={"token": body["token"]}).json
    assert (done["state"], done["size"]) == ("ready", len(data))
    preview = s3_client.get(f"/api/v1/uploads/{done['id']}/preview").json
    assert [column["name"] for column in preview["columns"]] == ["Id", "Name", "Created"]
    assert {column["name"]: column["kind"] for column in preview["columns"]}["Created"] == "date"
    assert len(preview["rows"]) == 20
    # Only the 2,000-byte head was fetched for the preview, and the preview says so.
    assert any("first 2,000 bytes" in warning for warning in preview["warnings"])


ACCOUNTS = b"Legacy_Id__c,Name\nPIN-1,Pinned One\nPIN-2,Pinned Two\n"
REPLAYED = b"Legacy_Id__c,Name\nEVIL-1,Swapped\n"


def _s3_presigned_and_completed(client: Any, data: bytes) -> dict[str, Any]:
    """Presign, POST the file to S3 as a browser does, complete; the presign response."""
    body = client.post("/api/v1/uploads/presign", json={"filename": "accounts.csv", "size": len(data)}).json
    sent = requests.post(body["url"], data=body["fields"], files={"file": ("accounts.csv", data)}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    done = client.post(body["complete_url"], json={"token": body["token"]}).json
    assert done["state"] == "ready", done
    return dict(body)


def _replay(body: dict[str, Any], data: bytes) -> None:
    """POST another file with the same presigned fields: S3 takes it, the policy is valid until it expires."""
    sent = requests.post(body["url"], data=body["fields"], files={"file": ("accounts.csv", data)}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text


def _direct_rehearsal(client: Any, upload_id: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/jobs",
        json={"upload_id": upload_id, **ACCOUNT_UPSERT, "direct": True, "dry_run": True},
    )
    assert response.status_code in (200, 201, 202), response.json
    return dict(response.json)


def test_a_presigned_post_sent_again_after_complete_is_refused_never_read(
    s3_client: Any, sqs_endpoint: str, s3_bucket: str
) -> None:
    body = _s3_presigned_and_completed(s3_client, ACCOUNTS)
    upload_id = body["upload"]["id"]
    # The normal path, pinned: preview and a rehearsal (the plan downloads the file) read the completed file.
    preview = s3_client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert [row["Legacy_Id__c"] for row in preview["rows"]] == ["PIN-1", "PIN-2"]
    rehearsed = _direct_rehearsal(s3_client, upload_id)
    assert rehearsed["state"] == "completed", rehearsed
    assert rehearsed["counters"]["total"] == 2
    assert not any(key.startswith("blob_") for key in rehearsed["source"])  # the pin stays internal

    _replay(body, REPLAYED)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint)
    assert s3.get_object(Bucket=s3_bucket, Key=body["fields"]["key"])["Body"].read() == REPLAYED

    message = f"The file of upload {upload_id} changed after it was completed; upload it again."
    refused = s3_client.get(f"/api/v1/uploads/{upload_id}/preview")
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "UPLOAD_CHANGED")
    assert refused.json["error"]["message"] == message
    suggested = s3_client.post("/api/v1/mappings/suggest", json={"upload_id": upload_id, "object": "Account"})
    assert (suggested.status_code, suggested.json["error"]["code"]) == (409, "UPLOAD_CHANGED")
    job = _direct_rehearsal(s3_client, upload_id)  # its plan reads the file through the job's pin
    assert job["state"] == "failed", job
    assert (job["error"]["code"], job["error"]["message"]) == ("UPLOAD_CHANGED", message)


def test_a_replayed_post_to_a_versioned_bucket_leaves_the_completed_version_read(
    versioned_s3_client: Any,
) -> None:
    body = _s3_presigned_and_completed(versioned_s3_client, ACCOUNTS)
    upload_id = body["upload"]["id"]
    _replay(body, REPLAYED)
    preview = versioned_s3_client.get(f"/api/v1/uploads/{upload_id}/preview").json
    assert [row["Legacy_Id__c"] for row in preview["rows"]] == ["PIN-1", "PIN-2"]
    job = _direct_rehearsal(versioned_s3_client, upload_id)
    assert (job["state"], job["counters"]["total"]) == ("completed", 2), job


def test_s3_inline_upload_lands_in_the_bucket(s3_client: Any, sqs_endpoint: str, s3_bucket: str) -> None:
    record = upload(s3_client, LEGACY_CSV).json
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=sqs_endpoint)
    stored = s3.get_object(Bucket=s3_bucket, Key=f"blobs/{record['blob_key']}")["Body"].read()
    assert stored == LEGACY_CSV


def test_sweep_removes_only_stale_pending_uploads(app: Any, client: Any) -> None:
    pending = client.post("/api/v1/uploads/presign", json={"filename": "p.csv", "size": 5}).json["upload"][
        "id"
    ]
    ready = upload(client, LEGACY_CSV).json["id"]
    services = app.extensions["dms"]
    uploads = Uploads(services.blobs, services.store("uploads"), UploadLimits.from_settings(app.config))
    uploads.sweep_stale(dt.timedelta(hours=1))
    assert client.get(f"/api/v1/uploads/{pending}").json["state"] == "pending"  # fresh: kept
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert uploads.sweep_stale(dt.timedelta(hours=1), now=later) >= 1
    assert client.get(f"/api/v1/uploads/{pending}").status_code == 404
    assert client.get(f"/api/v1/uploads/{ready}").json["state"] == "ready"


def _presigned(client: Any, data: bytes = LEGACY_CSV) -> dict[str, Any]:
    body = client.post("/api/v1/uploads/presign", json={"filename": "a.csv", "size": len(data)}).json
    assert body["token"] and body["fields"]["token"] == body["token"]
    return dict(body)


def _send(client: Any, body: dict[str, Any], data: bytes = LEGACY_CSV) -> Any:
    form = {**body["fields"], body["file_field"]: (io.BytesIO(data), "a.csv")}
    return client.post(body["url"], data=form, content_type="multipart/form-data")


def test_complete_needs_the_upload_token(client: Any) -> None:
    body = _presigned(client)
    assert _send(client, body).status_code == 204
    other = _presigned(client)
    for given in (None, {}, {"token": ""}, {"token": other["token"]}, {"token": body["token"] + "x"}):
        refused = client.post(body["complete_url"], json=given)
        assert (refused.status_code, refused.json["error"]["code"]) == (403, "UPLOAD_TOKEN_INVALID"), given
    assert client.get(f"/api/v1/uploads/{body['upload']['id']}").json["state"] == "pending"
    done = client.post(body["complete_url"], json={"token": body["token"]}).json
    assert done["state"] == "ready"
    # Once complete, the token answers the same record but no other token does.
    assert client.post(body["complete_url"], json={"token": other["token"]}).status_code == 403


def test_the_upload_token_sends_the_file_once(client: Any) -> None:
    body = _presigned(client)
    assert _send(client, body).status_code == 204
    again = _send(client, body, b"x,y\n1,2\n")
    assert (again.status_code, again.json["error"]["code"]) == (403, "UPLOAD_TOKEN_USED")
    client.post(body["complete_url"], json={"token": body["token"]})
    after = _send(client, body, b"x,y\n1,2\n")
    assert (after.status_code, after.json["error"]["code"]) == (409, "UPLOAD_ALREADY_COMPLETE")
    preview = client.get(f"/api/v1/uploads/{body['upload']['id']}/preview").json
    assert [column["name"] for column in preview["columns"]] == ["Name", "Amount", "Joined"]  # not replaced


def test_a_send_that_was_refused_does_not_spend_the_token(client: Any) -> None:
    body = _presigned(client, b"a,b\n1,2\n")
    too_big = _send(client, body, b"a,b\n1,2\n" * 10)
    assert too_big.status_code == 413
    assert _send(client, body, b"a,b\n1,2\n").status_code == 204


def test_an_expired_upload_token_is_refused(stack_env: dict[str, str], admin_token: str) -> None:
    expiring = calling_as(create_app({"TESTING": True, "UPLOAD_PRESIGN_EXPIRES_SECONDS": 1}), admin_token)
    body = _presigned(expiring)
    time.sleep(2.1)
    sent = _send(expiring, body)
    assert (sent.status_code, sent.json["error"]["code"]) == (403, "UPLOAD_TOKEN_EXPIRED")
    late = expiring.post(body["complete_url"], json={"token": body["token"]})
    assert (late.status_code, late.json["error"]["code"]) == (403, "UPLOAD_TOKEN_EXPIRED")

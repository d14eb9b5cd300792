"""Jobs that cannot run are refused at creation with `where`, or end `failed` within seconds: never stuck."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from dms.pipeline.context import Pipeline
from dms.pipeline.jobstore import new_job_document
from dms.pipeline.model import TaskName
from tests.integration.pipeline_helpers import upload, wait_job


@pytest.fixture()
def upload_id(client: Any, tmp_path: Path) -> str:
    path = tmp_path / "accounts.csv"
    path.write_text("Name,Legacy_Id__c\nAcme,F-1\n")
    return upload(client, path)


def job_body(upload_id: str, **fields: Any) -> dict[str, Any]:
    return {"upload_id": upload_id, "object": "Account", "operation": "insert", **fields}


def test_an_unknown_object_is_refused_at_creation_with_a_suggestion(client: Any, upload_id: str) -> None:
    response = client.post("/api/v1/jobs", json=job_body(upload_id, object="Acount"))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "INVALID_TYPE" and "Did you mean Account?" in error["message"]
    assert error["where"]["field"] == "target.object" and "Account" in error["where"]["suggestions"]


@pytest.mark.parametrize("name", ["session", "Account?x=", "../sobjects", "__main__"])
def test_object_names_that_are_attributes_or_paths_are_client_errors(
    client: Any, upload_id: str, name: str
) -> None:
    response = client.post("/api/v1/jobs", json=job_body(upload_id, object=name))
    assert response.status_code in (400, 422), response.json
    assert response.json["error"]["code"] in ("INVALID_OBJECT_NAME", "INVALID_TYPE")


def test_an_external_id_that_cannot_match_records_is_refused(client: Any, upload_id: str) -> None:
    body = job_body(upload_id, operation="upsert", external_id="Name")
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "INVALID_EXTERNAL_ID" and error["where"]["field"] == "target.external_id"
    assert "Legacy_Id__c" in error["where"]["suggestions"]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"mapping": "x"}, "mapping"),
        ({"read_options": "x"}, "read_options"),
        ({"object": ["Account"]}, "target.object"),
        ({"operation": 5}, "target.operation"),
        ({"options": {"chunk_rows": "many"}}, "options.chunk_rows"),
        ({"options": {"api": ["bulk"]}}, "options.api"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_a_400_that_names_it(
    client: Any, upload_id: str, fields: dict[str, Any], where: str
) -> None:
    response = client.post("/api/v1/jobs", json=job_body(upload_id, **fields))
    assert response.status_code == 400, response.json
    assert response.json["error"]["where"]["field"] == where


@pytest.mark.parametrize("job_id", ["..", "_all_docs", "__main__", "_design"])
def test_ids_that_are_couchdb_paths_are_not_found(client: Any, job_id: str) -> None:
    for path in (f"/api/v1/jobs/{job_id}", f"/api/v1/uploads/{job_id}", f"/api/v1/jobs/{job_id}/chunks"):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code, response.data[:200])


def queue_without_checks(app: Any, request: dict[str, Any]) -> str:
    """A job stored as if its check at creation had passed (the org changed since), and its plan queued."""
    celery = app.extensions["celery"]
    p = Pipeline(app.extensions["dms"], enqueue=lambda name, args: celery.send_task(name, args=args))
    job = p.store.create(new_job_document(request, collections_threshold=2000))
    p.enqueue(TaskName.PLAN_JOB, [job["_id"]])
    return str(job["_id"])


def source(client: Any, upload_id: str) -> dict[str, Any]:
    return {"blob_key": client.get(f"/api/v1/uploads/{upload_id}").json["blob_key"]}


def test_a_plan_whose_object_is_gone_fails_the_job_within_seconds(
    app: Any, client: Any, worker: str, upload_id: str
) -> None:
    request = {"source": source(client, upload_id), "target": {"object": "Acount", "operation": "insert"}}
    started = time.monotonic()
    job = wait_job(client, queue_without_checks(app, request), timeout=30)
    assert job["state"] == "failed" and job["error"]["code"] == "INVALID_TYPE", job
    assert "Account" in job["error"]["message"]
    assert time.monotonic() - started < 30


def test_a_job_whose_connection_was_deleted_fails_within_seconds(
    app: Any, client: Any, worker: str, upload_id: str
) -> None:
    target = {"object": "Account", "operation": "insert", "connection_id": "conn-deleted-long-ago"}
    job = wait_job(
        client, queue_without_checks(app, {"source": source(client, upload_id), "target": target}), 30
    )
    assert job["state"] == "failed" and job["error"]["code"] == "CONNECTION_NOT_FOUND", job
    assert job["error"]["message"] == "Connection conn-deleted-long-ago does not exist.", job
    assert "text" not in job["error"]  # what the worker kept to say it again is not part of the API
    # The worker wrote it in English; a Chinese reader reads it in Chinese, the same code.
    chinese = client.get(f"/api/v1/jobs/{job['id']}", headers={"Accept-Language": "zh-CN"}).json["error"]
    assert chinese["code"] == "CONNECTION_NOT_FOUND" and "conn-deleted-long-ago" in chinese["message"], (
        chinese
    )
    assert chinese["message"] != job["error"]["message"] and "连接" in chinese["message"], chinese


def test_a_mapping_that_cannot_compile_is_refused_at_creation(client: Any, upload_id: str) -> None:
    mapping = {
        "fields": [
            {"target": "Name", "source": "Name"},
            {"target": "Founded__c", "source": "Name", "format": "%Q-%d"},
        ]
    }
    response = client.post("/api/v1/jobs", json=job_body(upload_id, mapping=mapping))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "MAPPING_INVALID" and error["where"]["field"] == "mapping"
    assert any(p.get("target") == "Founded__c" for p in error["where"]["problems"]), error


def test_read_options_that_cannot_be_used_are_refused_at_creation(client: Any, upload_id: str) -> None:
    response = client.post(
        "/api/v1/jobs", json=job_body(upload_id, read_options={"encoding": "no-such-codec"})
    )
    assert 400 <= response.status_code < 500, response.json
    assert "no-such-codec" in response.json["error"]["message"]

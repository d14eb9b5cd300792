"""No input gives a 5xx: wrong JSON types in any body are 400s naming the field, read options no file can be
read with are 400s, a DTD in a workbook is a 422, and a 405 says which methods are allowed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import upload_bytes

CSV = b"Name,Legacy Id\nAcme,L-1\n"


def _upload(client: Any, data: bytes = CSV, filename: str = "accounts.csv") -> str:
    return upload_bytes(client, data, filename)


@pytest.fixture(scope="module")
def upload_id(app: Any, admin_token: str) -> str:
    return _upload(calling_as(app, admin_token))


def _assert_400_naming(response: Any, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.json)
    assert response.json["error"]["where"]["field"] == field, response.json


JOB = {"object": "Account", "operation": "insert"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upload_id": 7}, "upload_id"),
        ({"read_options": {"encoding": 8}}, "read_options.encoding"),
        ({"read_options": {"sheet": True}}, "read_options.sheet"),
        ({"read_options": {"has_header": "no"}}, "read_options.has_header"),
        ({"options": ["bulk"]}, "options"),
        ({"dry_run": "false"}, "dry_run"),
        ({"direct": 1}, "direct"),
        ({"template": {"name": "x"}}, "template"),
        ({"template": "t", "object": ["Account"], "mapping": None}, "object"),
    ],
)
def test_job_request_of_the_wrong_json_type_is_a_400_naming_the_field(
    client: Any, upload_id: str, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/jobs", json={"upload_id": upload_id, **JOB, **body})
    _assert_400_naming(response, field)


@pytest.mark.parametrize(
    ("read_options", "code", "field"),
    [
        ({"encoding": "rot13"}, "INVALID_ENCODING", "read_options.encoding"),
        ({"encoding": "zlib"}, "INVALID_ENCODING", "read_options.encoding"),
        ({"delimiter": "\x00"}, "BAD_OPTION", "read_options.delimiter"),
    ],
)
def test_job_with_read_options_no_file_can_be_read_with_is_refused_at_creation(
    client: Any, upload_id: str, read_options: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/api/v1/jobs", json={"upload_id": upload_id, **JOB, "read_options": read_options})
    _assert_400_naming(response, field)
    assert response.json["error"]["code"] == code


def test_retry_body_of_the_wrong_json_type_is_a_400(client: Any, upload_id: str) -> None:
    job = client.post("/api/v1/jobs", json={"upload_id": upload_id, **JOB, "dry_run": True}).json
    assert job["id"]
    for body, field in (
        ({"upload_id": 12}, "upload_id"),
        ({"upload_id": upload_id, "read_options": 3}, "read_options"),
    ):
        _assert_400_naming(client.post(f"/api/v1/jobs/{job['id']}/retry", json=body), field)
    response = client.post(f"/api/v1/jobs/{job['id']}/retry", json=["upload_id"])
    assert (response.status_code, response.json["error"]["code"]) == (400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upload_id": ["u"]}, "upload_id"),
        ({"object": 5}, "object"),
        ({"object": None}, "object"),
        ({"operation": ["insert"]}, "operation"),
        ({"operation": "merge"}, "operation"),
        ({"external_id": {}}, "external_id"),
        ({"connection_id": 1}, "connection_id"),
        ({"read_options": "csv"}, "read_options"),
        ({"read_options": {"delimiter": 1}}, "read_options.delimiter"),
        ({"read_options": {"encoding": "base64"}}, "read_options.encoding"),
    ],
)
def test_mapping_suggestion_of_the_wrong_json_type_is_a_400_naming_the_field(
    client: Any, upload_id: str, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/mappings/suggest", json={"upload_id": upload_id, **JOB, **body})
    _assert_400_naming(response, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["n"]}, "name"),
        ({"login_url": 443}, "login_url"),
        ({"flow": ["password"]}, "flow"),
        ({"username": {"u": 1}}, "username"),
        ({"password": 1234}, "password"),
        ({"api_version": 61.0}, "api_version"),
    ],
)
def test_connection_of_the_wrong_json_type_is_a_400_naming_the_field(
    client: Any, body: dict[str, Any], field: str
) -> None:
    spec = {"name": "n", "login_url": "https://login.example.com", "username": "u", "password": "p"}
    _assert_400_naming(client.post("/api/v1/connections", json={**spec, **body}), field)


def test_template_mapping_of_the_wrong_json_type_is_a_400_naming_the_field(client: Any) -> None:
    for mapping in (["fields"], "x", {"fields": "Name"}):
        _assert_400_naming(client.put("/api/v1/templates/Account/t1", json={"mapping": mapping}), "mapping")


@pytest.mark.parametrize("body", [b"\x00", b"[1, 2]", b'"ping"'])
def test_echo_body_that_is_not_a_json_object_is_a_400(client: Any, body: bytes) -> None:
    response = client.post("/api/v1/diagnostics/echo", data=body, content_type="application/json")
    assert (response.status_code, response.json["error"]["code"]) == (400, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("encoding=zlib", "INVALID_ENCODING", "encoding"),
        ("encoding=rot13", "INVALID_ENCODING", "encoding"),
        ("encoding=base64", "INVALID_ENCODING", "encoding"),
        ("encoding=uu", "INVALID_ENCODING", "encoding"),
        ("encoding=idna", "INVALID_ENCODING", "encoding"),
        ("delimiter=%00", "BAD_OPTION", "delimiter"),
        ("delimiter=%C3%A9", "BAD_OPTION", "delimiter"),
    ],
)
def test_preview_with_an_option_no_file_can_be_read_with_is_a_400(
    client: Any, upload_id: str, query: str, code: str, field: str
) -> None:
    response = client.get(f"/api/v1/uploads/{upload_id}/preview?{query}")
    _assert_400_naming(response, field)
    assert response.json["error"]["code"] == code


def test_preview_of_an_xlsx_with_a_dtd_is_a_422(client: Any, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Name"])
    plain, hostile = tmp_path / "plain.xlsx", io.BytesIO()
    book.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(hostile, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + data
            target.writestr(entry.filename, data)
    response = client.get(f"/api/v1/uploads/{_upload(client, hostile.getvalue(), 'book.xlsx')}/preview")
    assert (response.status_code, response.json["error"]["code"]) == (422, "XML_DTD")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/v1/jobs", {"GET", "POST"}),
        ("put", "/api/v1/uploads/presign", {"POST"}),
        ("post", "/api/v1/openapi.json", {"GET"}),
        ("patch", "/api/v1/templates/Account/t1", {"GET", "PUT", "DELETE"}),
    ],
)
def test_method_not_allowed_carries_allow_and_the_api_error_shape(
    client: Any, method: str, path: str, allowed: set[str]
) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == "METHOD_NOT_ALLOWED"

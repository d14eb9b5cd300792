"""A job's row errors, written in English by the worker, are read in the page's language: the error summary
and the fix-in-place rows answer in Chinese to a Chinese reader with the same codes, rows and columns, while
errors.csv stays the English the worker wrote."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import run_job, upload

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
MAPPING = {
    "fields": [
        {"target": "Legacy_Id__c", "source": "legacy"},
        {"target": "Name", "source": "name"},
        {"target": "Founded__c", "source": "founded", "format": "%d/%m/%Y"},
        {"target": "Tier__c", "source": "tier"},
    ]
}
ENGLISH_MESSAGES = {
    "REQUIRED_FIELD_MISSING": "Account Name (Name) is required",
    "INVALID_DATE": "'31/02/2001' is not a date in format dd/mm/yyyy (or is outside 1700-4000)",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "'Platinum' is not an allowed value of Tier__c (Gold, Silver, Bronze)",
}
CHINESE_MESSAGES = {
    "REQUIRED_FIELD_MISSING": "Account Name（Name）为必填项",
    "INVALID_DATE": "'31/02/2001' 不是格式为 dd/mm/yyyy 的日期（或超出 1700-4000 年范围）",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "'Platinum' 不是 Tier__c 允许的值（Gold, Silver, Bronze）",
}


@pytest.fixture(scope="module")
def job_with_bad_rows(
    app: Any, admin_token: str, worker: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """An insert of four rows: one loads; one lacks its name, one has no such date, one a tier not allowed."""
    client = calling_as(app, admin_token)
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path_factory.mktemp("row-language") / "accounts.csv"
    path.write_text(
        "legacy,name,founded,tier\n"
        f"{prefix}-1,One,01/01/2001,Gold\n"
        f"{prefix}-2,,02/01/2001,Silver\n"
        f"{prefix}-3,Three,31/02/2001,Bronze\n"
        f"{prefix}-4,Four,04/01/2001,Platinum\n"
    )
    job = run_job(
        client, upload_id=upload(client, path), object="Account", operation="insert", mapping=MAPPING
    )
    assert (job["counters"]["succeeded"], job["counters"]["invalid"]) == (1, 3), job
    return str(job["id"])


def _examples(summary: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {group["code"]: group["examples"] for group in summary["groups"]}


def test_the_error_summary_says_each_rows_message_in_the_readers_language(
    client: Any, job_with_bad_rows: str
) -> None:
    url = f"/api/v1/jobs/{job_with_bad_rows}/errors/summary"
    english, chinese = client.get(url), client.get(url, headers=CHINESE)
    assert english.status_code == chinese.status_code == 200, (english.json, chinese.json)
    english_examples, chinese_examples = _examples(english.json), _examples(chinese.json)
    assert set(english_examples) == set(chinese_examples) == set(ENGLISH_MESSAGES)
    for code, examples in english_examples.items():
        (example,) = examples
        (said,) = chinese_examples[code]
        assert example["message"] == ENGLISH_MESSAGES[code]
        assert said["message"] == CHINESE_MESSAGES[code]
        assert {**said, "message": example["message"]} == example  # the same row, column and value
    groups = [{k: v for k, v in g.items() if k not in ("advice", "examples")} for g in english.json["groups"]]
    assert groups == [
        {k: v for k, v in g.items() if k not in ("advice", "examples")} for g in chinese.json["groups"]
    ]


def test_the_rows_to_fix_say_their_problems_in_the_readers_language(
    client: Any, job_with_bad_rows: str
) -> None:
    url = f"/api/v1/jobs/{job_with_bad_rows}/rows?outcome=invalid"
    english, chinese = client.get(url), client.get(url, headers=CHINESE)
    assert english.status_code == chinese.status_code == 200, (english.json, chinese.json)
    assert [r["row"] for r in english.json["rows"]] == [r["row"] for r in chinese.json["rows"]] == [2, 3, 4]
    for english_row, chinese_row in zip(english.json["rows"], chinese.json["rows"], strict=True):
        assert english_row["values"] == chinese_row["values"]
        (problem,) = english_row["errors"]
        (said,) = chinese_row["errors"]
        assert problem["message"] == ENGLISH_MESSAGES[problem["code"]]
        assert said["message"] == CHINESE_MESSAGES[problem["code"]]
        assert {**said, "message": problem["message"]} == problem


def test_errors_csv_stays_the_english_the_worker_wrote(client: Any, job_with_bad_rows: str) -> None:
    url = f"/api/v1/jobs/{job_with_bad_rows}/results/errors.csv"

    def download(headers: dict[str, str]) -> bytes:
        response = client.get(url, headers=headers)  # a stream: read and closed before the next is asked
        assert response.status_code == 200
        data = bytes(response.data)
        response.close()
        return data

    english = download({})
    assert download(CHINESE) == english  # byte for byte, whoever asks
    text = english.decode("utf-8-sig")
    for message in ENGLISH_MESSAGES.values():
        assert message in text
    assert "不是" not in text and "必填" not in text


def test_the_previews_warnings_are_in_the_readers_language(
    client: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("preview-language") / "names.csv"
    path.write_text("name,name\nOne,Uno\nTwo,Dos\n")
    url = f"/api/v1/uploads/{upload(client, path)}/preview"
    english, chinese = client.get(url), client.get(url, headers=CHINESE)
    assert english.status_code == chinese.status_code == 200, (english.json, chinese.json)
    assert english.json["columns"] == chinese.json["columns"]
    assert "Column 2 repeats the header 'name'; it is renamed 'name_2'." in english.json["warnings"]
    assert "第 2 列的表头 'name' 与前面的列重复；已将其重命名为 'name_2'。" in chinese.json["warnings"]
    assert len(english.json["warnings"]) == len(chinese.json["warnings"])


def test_a_jobs_file_warnings_are_in_the_readers_language(
    client: Any, worker: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("job-warnings") / "names.csv"
    path.write_text(f"name,name\n{uuid.uuid4().hex[:8]},Uno\n")
    mapping = {"fields": [{"target": "Name", "source": "name"}]}
    job = run_job(
        client, upload_id=upload(client, path), object="Account", operation="insert", mapping=mapping
    )
    url = f"/api/v1/jobs/{job['id']}"
    english, chinese = client.get(url), client.get(url, headers=CHINESE)
    assert english.status_code == chinese.status_code == 200, (english.json, chinese.json)
    assert english.json["counters"] == chinese.json["counters"]
    assert "Column 2 repeats the header 'name'; it is renamed 'name_2'." in english.json["warnings"]
    assert "第 2 列的表头 'name' 与前面的列重复；已将其重命名为 'name_2'。" in chinese.json["warnings"]


def test_a_garbling_encodings_warning_is_in_the_readers_language(
    client: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("encoding-language") / "cities.csv"
    path.write_bytes("Name;City\nMüller;Köln\nZoë;Zürich\n".encode("cp1252"))
    url = f"/api/v1/uploads/{upload(client, path)}/preview?encoding=utf-8"
    english, chinese = client.get(url), client.get(url, headers=CHINESE)
    assert english.status_code == chinese.status_code == 200, (english.json, chinese.json)
    (doubt,) = [w for w in english.json["warnings"] if w.startswith("The text read as utf-8")]
    assert "choose cp1252" in doubt
    (said,) = [w for w in chinese.json["warnings"] if w.startswith("按 utf-8 读取的文字")]
    assert "请选择 cp1252" in said and "The text" not in said and "e.g." not in said, said

"""An API error speaks the request's language (Accept-Language, the dms_locale cookie, ?lang=) and keeps its
code and where: a client switches on the code, a person reads the message."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from tests.conftest import calling_as
from tests.integration.pipeline_helpers import upload_bytes

CSV = b"Name,Legacy Id\nAcme,L-1\n"
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture(scope="module")
def upload_id(app: Any, admin_token: str) -> str:
    return upload_bytes(calling_as(app, admin_token), CSV, "accounts.csv")


def _both(call: Any) -> tuple[Any, Any]:
    """The same request asked in English (no language named) and in Chinese; same status, code and where."""
    english, chinese = call({}), call(CHINESE)
    assert english.status_code == chinese.status_code, (english.json, chinese.json)
    assert set(english.json["error"]) == set(chinese.json["error"])
    assert english.json["error"]["code"] == chinese.json["error"]["code"]
    assert english.json["error"].get("where") == chinese.json["error"].get("where")
    return english.json["error"], chinese.json["error"]


def test_a_request_field_of_the_wrong_type_is_named_in_chinese(client: Any) -> None:
    english, chinese = _both(
        lambda headers: client.post("/api/v1/jobs", json={"upload_id": 7}, headers=headers)
    )
    assert english["code"] == "INVALID_REQUEST" and english["where"] == {"field": "upload_id"}
    assert english["message"] == "`upload_id` must be a string, not integer."
    assert chinese["message"] == "`upload_id` 必须是字符串，而不是整数。"


def test_an_unknown_job_is_a_404_in_chinese(client: Any) -> None:
    english, chinese = _both(lambda headers: client.get("/api/v1/jobs/job-nope", headers=headers))
    assert english["code"] == "NOT_FOUND"
    # The store names its database before the job's id (`<prefix>_jobs/job-nope`).
    assert english["message"].endswith("jobs/job-nope does not exist."), english
    assert chinese["message"].endswith("jobs/job-nope 不存在。"), chinese


def test_a_missing_sign_in_is_a_401_in_chinese(anonymous_client: Any) -> None:
    english, chinese = _both(lambda headers: anonymous_client.get("/api/v1/jobs", headers=headers))
    assert english["code"] == "UNAUTHENTICATED", english
    assert english["message"] == "Sign in, or send an API token as a Bearer token."
    assert chinese["message"] == "请登录，或以 Bearer 令牌发送 API 令牌。"


def test_the_cookie_and_the_lang_parameter_choose_the_language_too(app: Any, admin_token: str) -> None:
    client = calling_as(app, admin_token)
    by_param = client.get("/api/v1/jobs/job-nope?lang=zh-CN")
    assert by_param.json["error"]["message"].endswith("jobs/job-nope 不存在。")
    client.set_cookie("dms_locale", "zh_CN")
    assert client.get("/api/v1/jobs/job-nope").json["error"]["message"].endswith("jobs/job-nope 不存在。")
    # The page's choice wins over the browser's: an English cookie and a Chinese browser read English.
    client.set_cookie("dms_locale", "en")
    response = client.get("/api/v1/jobs/job-nope", headers=CHINESE)
    assert response.json["error"]["message"].endswith("jobs/job-nope does not exist.")


def test_a_read_option_no_file_can_be_read_with_is_refused_in_chinese(client: Any, upload_id: str) -> None:
    english, chinese = _both(
        lambda headers: client.get(f"/api/v1/uploads/{upload_id}/preview?format=nope", headers=headers)
    )
    assert english["message"].startswith("Unknown format 'nope'; use one of csv, excel")
    assert chinese["message"].startswith("未知格式 'nope'；请使用以下之一：csv, excel")


def test_an_unreadable_upload_preview_says_why_in_chinese(client: Any) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("notes.txt", "not a workbook")
    broken = upload_bytes(client, archive.getvalue(), "book.xlsx")
    english, chinese = _both(lambda headers: client.get(f"/api/v1/uploads/{broken}/preview", headers=headers))
    assert english["where"]["file"] == "book.xlsx", english
    assert english["message"] == (
        "The file is a zip archive but not an Excel workbook; unzip it and upload the file inside."
    )
    assert chinese["message"] == "该文件是 zip 压缩包，但不是 Excel 工作簿；请解压后上传其中的文件。"


def test_a_mapping_problem_is_listed_in_chinese(client: Any, upload_id: str) -> None:
    def preview(headers: dict[str, str]) -> Any:
        body = {"upload_id": upload_id, "object": "Account", "operation": "insert"}
        body["field"] = {"target": "No_Such_Field__c", "source": "Name"}
        return client.post("/api/v1/mappings/preview", json=body, headers=headers)

    english, chinese = preview({}), preview(CHINESE)
    assert english.status_code == chinese.status_code == 200, english.json
    unknown = [p for p in english.json["problems"] if p["code"] == "UNKNOWN_FIELD"]
    in_chinese = [p for p in chinese.json["problems"] if p["code"] == "UNKNOWN_FIELD"]
    assert unknown and len(unknown) == len(in_chinese)
    assert unknown[0]["message"].startswith("Account has no field No_Such_Field__c")
    assert in_chinese[0]["message"].startswith("Account 没有字段 No_Such_Field__c")
    assert {k: v for k, v in unknown[0].items() if k != "message"} == {
        k: v for k, v in in_chinese[0].items() if k != "message"
    }


def test_a_refused_sign_in_form_is_a_page_in_the_persons_language(anonymous_client: Any) -> None:
    assert anonymous_client.get("/sign-in", headers=CHINESE).status_code == 200
    refused = anonymous_client.post(
        "/sign-in",
        data={"username": "nobody", "password": "wrong", "csrf_token": "not-the-form's"},
        headers={**CHINESE, "Accept": "text/html"},
    )
    assert refused.status_code == 403
    assert "登录表单已过期；请重试。" in refused.get_data(as_text=True)


def test_an_unknown_api_address_and_method_are_answered_in_chinese(client: Any) -> None:
    english, chinese = _both(lambda headers: client.get("/api/v1/no-such-thing", headers=headers))
    assert english["code"] == "NOT_FOUND" and "not found" in english["message"].lower()
    assert chinese["message"] == "/api/v1/no-such-thing 处没有内容。"
    english, chinese = _both(lambda headers: client.delete("/api/v1/jobs", headers=headers))
    assert english["code"] == "METHOD_NOT_ALLOWED"
    assert chinese["message"] == "此处不允许 DELETE。"

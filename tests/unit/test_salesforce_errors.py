"""Salesforce's errors reach a person as Salesforce's code and message; any other answer is not echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceGeneralError

from dms.clients.salesforce import oauth_error, salesforce_error
from dms.pipeline.apis.sender import refused


def sf_error(status: int, content: Any) -> SalesforceGeneralError:
    return SalesforceGeneralError(
        "https://acme.my.salesforce.com/services/data/v62.0/x", status, "x", content
    )


def test_salesforces_json_error_passes_with_its_code_and_message() -> None:
    exc = sf_error(
        400, [{"errorCode": "INVALID_FIELD", "message": "No such column 'Nmae' on Account", "fields": []}]
    )
    assert salesforce_error(exc) == ("INVALID_FIELD", "No such column 'Nmae' on Account")
    error = refused(exc)
    assert (error.code, error.message) == (
        "INVALID_FIELD",
        "Salesforce refused the request: No such column 'Nmae' on Account",
    )


@pytest.mark.parametrize(
    "content",
    [
        "<html><body>internal marker-51a</body></html>",  # a proxy's page, as simple-salesforce keeps text
        [{"errorCode": "<script>marker-51a", "message": "x"}],  # not an errorCode Salesforce writes
        {"error": "marker-51a"},
        [],
        None,
    ],
)
def test_any_other_answer_is_named_by_its_status_alone(content: Any) -> None:
    error = refused(sf_error(502, content))
    assert error.code == "HTTP_502"
    assert "marker-51a" not in error.message and "not a Salesforce error" in error.message


def test_control_characters_are_dropped_from_a_shown_message() -> None:
    exc = sf_error(
        400, [{"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Café\x1b[2J\u202eok\r\nx"}]
    )
    assert salesforce_error(exc)[1] == "Café[2Jokx"  # the escape character goes; its harmless rest stays


def response(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    answer = requests.Response()
    answer.status_code, answer._content = status, body
    answer.headers["Content-Type"] = content_type
    return answer


def test_a_refused_login_shows_only_salesforces_oauth_error() -> None:
    oauth = {"error": "invalid_grant", "error_description": "authentication failure"}
    assert oauth_error(response(400, json.dumps(oauth).encode())) == "invalid_grant: authentication failure"
    assert oauth_error(response(401, b"<html>marker-51a</html>", "text/html")) == ""
    assert oauth_error(response(400, json.dumps({"message": "marker-51a"}).encode())) == ""
    assert oauth_error(response(400, json.dumps(["marker-51a"]).encode())) == ""
    assert len(oauth_error(response(400, json.dumps({"error": "x" * 5000}).encode()))) == 200

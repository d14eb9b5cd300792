"""What localorg does not implement answers as Salesforce does for a missing resource."""

from __future__ import annotations

from typing import Any

import pytest

_MISSING = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tooling/query?q=SELECT+Id+FROM+ApexClass"),
        ("GET", "/sobjects/Account/listviews"),
        ("GET", "/sobjects/Account/updated?start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:00Z"),
        ("GET", "/analytics/reports"),
        ("POST", "/actions/standard/emailSimple"),
        ("GET", "/no/such/thing"),
        ("PATCH", "/composite/tree/Account/extra"),
    ],
)
def test_unknown_resources_answer_salesforce_not_found(http: Any, method: str, path: str) -> None:
    response = http.request(method, http.base_url + path, json={})
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"
    assert response.json()[0]["message"] == _MISSING[0]["message"]


def test_an_unknown_route_has_salesforce_body_without_fields(http: Any) -> None:
    assert http.get(http.base_url + "/no/such/thing").json() == _MISSING


def test_unsupported_api_versions_are_not_found(http: Any) -> None:
    base = http.base_url.rsplit("/v", 1)[0]
    assert http.get(f"{base}/v19.0/sobjects").status_code == 404
    assert http.get(f"{base}/v99.0/sobjects").json()[0]["errorCode"] == "NOT_FOUND"


def test_resources_list_names_search(http: Any) -> None:
    resources = http.get(http.base_url + "/").json()
    assert resources["search"] == "/services/data/v62.0/search"
    assert resources["parameterizedSearch"] == "/services/data/v62.0/parameterizedSearch"

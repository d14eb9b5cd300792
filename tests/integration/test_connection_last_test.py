"""A connection's test is kept as its last_test: whether it logged in, when, and the org's API usage today
(DailyApiRequests), so the orgs page shows them without logging in again."""

from __future__ import annotations

import uuid
from typing import Any

from dms.clients.salesforce import SESSIONS


def _password_connection(client: Any, localorg: Any, password: str) -> str:
    created = client.post(
        "/api/v1/connections",
        json={
            "name": f"usage-{uuid.uuid4().hex[:6]}",
            "login_url": localorg.base_url,
            "flow": "password",
            "username": localorg.username,
            "password": password,
            "client_id": localorg.client_id,
            "client_secret": localorg.client_secret,
        },
    )
    assert created.status_code == 201, created.json
    assert created.json["last_test"] is None  # never tested
    return str(created.json["id"])


def _listed(client: Any, connection_id: str) -> dict[str, Any]:
    return {c["id"]: c for c in client.get("/api/v1/connections").json["connections"]}[connection_id]


def test_a_passing_test_keeps_the_orgs_daily_api_usage(client: Any, localorg: Any) -> None:
    connection_id = _password_connection(client, localorg, localorg.password)
    SESSIONS._tokens.clear()
    tested = client.post(f"/api/v1/connections/{connection_id}/test")
    assert tested.status_code == 200, tested.json
    daily = tested.json["daily_api_requests"]
    assert set(daily) == {"Max", "Remaining"} and 0 <= daily["Remaining"] < daily["Max"]  # the test counted

    kept = _listed(client, connection_id)["last_test"]
    assert kept["ok"] is True and kept["daily_api_requests"] == daily and kept["at"]


def test_a_failing_test_keeps_its_error_code(client: Any, localorg: Any) -> None:
    connection_id = _password_connection(client, localorg, "not-the-password")
    SESSIONS._tokens.clear()
    tested = client.post(f"/api/v1/connections/{connection_id}/test")
    assert tested.status_code == 502, tested.json
    kept = _listed(client, connection_id)["last_test"]
    assert kept["ok"] is False and kept["code"] == tested.json["error"]["code"] == "SALESFORCE_LOGIN_FAILED"
    assert "daily_api_requests" not in kept


def test_the_default_orgs_last_test_is_kept_for_everyone(client: Any) -> None:
    tested = client.post("/api/v1/connections/default/test")
    assert tested.status_code == 200, tested.json
    kept = _listed(client, "default")["last_test"]
    assert kept["ok"] is True and kept["daily_api_requests"]["Max"] > 0
    again = client.post("/api/v1/connections/default/test")
    assert again.status_code == 200, again.json
    newer = _listed(client, "default")["last_test"]
    assert newer["at"] >= kept["at"]
    assert newer["daily_api_requests"]["Remaining"] < kept["daily_api_requests"]["Remaining"]
    ids = [c["id"] for c in client.get("/api/v1/connections").json["connections"]]
    assert ids.count("default") == 1 and not [i for i in ids if i.startswith("default-")]

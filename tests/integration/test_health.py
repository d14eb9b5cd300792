"""GET /health against the real stack."""

from __future__ import annotations

from typing import Any

from application import create_full_app
from dms.devstack import free_port


def test_health_reports_every_service_up_with_latency(client: Any) -> None:
    response = client.get("/health")
    body = response.json
    assert response.status_code == 200, body
    assert body["status"] == "up"
    assert set(body["services"]) == {"redis", "sqs", "cloudant", "salesforce"}
    for name, service in body["services"].items():
        assert service["status"] == "up", (name, service)
        assert service["latency_ms"] >= 0


def test_health_is_503_when_a_required_service_is_down(stack_env: dict[str, str]) -> None:
    down = create_full_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    response = down.test_client().get("/health")
    assert response.status_code == 503
    assert response.json["services"]["redis"]["status"] == "down"
    assert response.json["services"]["cloudant"]["status"] == "up"


def test_salesforce_down_is_reported_but_not_required_by_default(stack_env: dict[str, str]) -> None:
    app = create_full_app({"SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{free_port()}"})
    response = app.test_client().get("/health")
    assert response.json["services"]["salesforce"]["status"] == "down"
    assert response.status_code == 200

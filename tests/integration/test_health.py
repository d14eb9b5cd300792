"""GET /health (up or down, for anyone) and GET /health/detail (admins) against the real stack."""

from __future__ import annotations

from typing import Any

from application import create_full_app
from dms.devstack import free_port
from tests.conftest import calling_as
from tests.integration.test_security import new_user


def test_health_reports_every_service_up_with_latency(client: Any) -> None:
    response = client.get("/health/detail")
    body = response.json
    assert response.status_code == 200, body
    assert body["status"] == "up"
    assert set(body["services"]) == {"redis", "sqs", "cloudant", "salesforce"}
    for name, service in body["services"].items():
        assert service["status"] == "up", (name, service)
        assert service["latency_ms"] >= 0


def test_anyone_sees_up_or_down_and_nothing_else(anonymous_client: Any) -> None:
    response = anonymous_client.get("/health")
    assert (response.status_code, response.json) == (200, {"status": "up"})
    # The detail names hosts, ports and versions: for admins only.
    assert anonymous_client.get("/health/detail").status_code == 401


def test_health_is_503_when_a_required_service_is_down(stack_env: dict[str, str], admin_token: str) -> None:
    down = create_full_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert down.test_client().get("/health").status_code == 503
    response = calling_as(down, admin_token).get("/health/detail")
    assert response.status_code == 503
    assert response.json["services"]["redis"]["status"] == "down"
    assert response.json["services"]["cloudant"]["status"] == "up"


def test_salesforce_down_is_reported_but_not_required_by_default(
    stack_env: dict[str, str], admin_token: str
) -> None:
    app = create_full_app({"SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{free_port()}"})
    response = calling_as(app, admin_token).get("/health/detail")
    assert response.json["services"]["salesforce"]["status"] == "down"
    assert response.status_code == 200
    assert app.test_client().get("/health").status_code == 200


def test_the_status_page_shows_the_same_checks_and_each_connected_org(
    app: Any, client: Any, localorg: Any
) -> None:
    created = client.post(
        "/api/v1/connections",
        json={
            "name": f"status-{free_port()}",
            "login_url": localorg.base_url,
            "client_id": localorg.client_id,
            "client_secret": localorg.client_secret,
            "flow": "client_credentials",
        },
    )
    assert created.status_code == 201, created.json
    detail = client.get("/health/detail").json
    org = next(o for o in detail["orgs"] if o["id"] == created.json["id"])
    assert (org["status"], org["required"], org["login_url"]) == ("up", False, localorg.base_url)
    page = client.get("/status", headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for name in detail["services"]:
        assert f'data-service="{name}"' in html
    assert f'data-org="{created.json["id"]}"' in html and created.json["name"] in html
    assert localorg.base_url in html
    client.delete(f"/api/v1/connections/{created.json['id']}")


def test_the_status_page_is_refused_to_a_viewer_as_a_page(app: Any) -> None:
    viewer = calling_as(app, new_user("viewer")[2])
    page = viewer.get("/status", headers={"Accept": "text/html"})
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "for admins" in page.get_data(as_text=True)
    assert viewer.get("/health/detail").status_code == 403  # the JSON stays admins' too

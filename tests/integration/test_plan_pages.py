"""The plans and users pages as the server renders them: who sees what, the bundled example's files and
nothing beside them, a missing plan and a page beyond one's role as pages (never JSON), no inline script."""

from __future__ import annotations

import re
import uuid
from typing import Any

from dms.security.bootstrap import create_user
from dms.settings import load_settings
from tests.conftest import calling_as

HTML = {"Accept": "text/html"}


def _as(app: Any, role: str) -> Any:
    _, token = create_user(f"{role}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex, role, True, load_settings())
    assert token is not None
    return calling_as(app, token)


def test_the_plan_pages_render_with_only_their_own_scripts(client: Any) -> None:
    for path, script in (
        ("/plans", "plans.js"),
        ("/plans/new", "plan_new.js"),
        ("/users", "users.js"),
        ("/connections", "connections.js"),
    ):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert f'src="/static/js/{script}"' in html and 'href="/static/plans.css"' in html
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
        assert 'href="/plans"' in html and 'href="/users"' in html  # the admin's header


def test_the_example_serves_its_plan_and_files_and_nothing_else(client: Any) -> None:
    page = client.get("/plans/new", headers=HTML).get_data(as_text=True)
    files = re.search(r"data-files='([^']+)'", page)
    assert files and '"plan.yaml"' in files.group(1) and '"accounts.csv"' in files.group(1)
    plan = client.get("/plans/example/plan.yaml")
    assert plan.status_code == 200 and b"name: legacy-crm" in plan.data
    assert client.get("/plans/example/README.md", headers=HTML).status_code == 404
    assert client.get("/plans/example/..%2Fplan.yaml", headers=HTML).status_code == 404


def test_a_missing_plan_is_a_page(client: Any) -> None:
    for plan_id in ("plan-20260101T000000000000Z-0123456789abcdef", "not-a-plan-id"):
        response = client.get(f"/plans/{plan_id}", headers=HTML)
        assert response.status_code == 404
        assert "text/html" in response.content_type and "There is no plan" in response.get_data(as_text=True)


def test_a_viewer_reads_plans_but_neither_starts_one_nor_sees_the_users(app: Any) -> None:
    viewer = _as(app, "viewer")
    plans = viewer.get("/plans", headers=HTML).get_data(as_text=True)
    assert 'href="/plans/new"' not in plans and 'href="/users"' not in plans
    for path in ("/users", "/plans/new"):
        refused = viewer.get(path, headers=HTML)
        assert refused.status_code == 403, path
        assert "text/html" in refused.content_type
        assert "Your role does not allow this page" in refused.get_data(as_text=True)
    # The API still answers JSON.
    api = viewer.get("/api/v1/users")
    assert api.status_code == 403 and api.json["error"]["code"] == "FORBIDDEN"
    operator = _as(app, "operator")
    assert 'href="/plans/new"' in operator.get("/plans", headers=HTML).get_data(as_text=True)

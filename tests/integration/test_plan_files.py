"""POST /plans with `files`: a plan's YAML as written beside its files (`source.file`), and the uploads made of
those files named by file name, as a browser starts one (the CLI swaps in upload ids itself)."""

from __future__ import annotations

from typing import Any

from tests.integration.pipeline_helpers import upload
from tests.unit.migration.test_example_plan import EXAMPLE

FILES = ("accounts.csv", "contacts.csv", "opportunities.csv", "contact_roles.csv", "tasks.csv")


def test_a_plan_text_with_files_runs_each_step_on_the_upload_of_its_file(client: Any) -> None:
    files = {name: upload(client, EXAMPLE / name) for name in FILES}
    plan_text = (EXAMPLE / "plan.yaml").read_text(encoding="utf-8")
    created = client.post("/api/v1/plans", json={"plan_text": plan_text, "files": files, "dry_run": True})
    assert created.status_code == 201, created.json
    assert [s["name"] for s in created.json["steps"]] == [
        "accounts",
        "contacts",
        "deals",
        "contact_roles",
        "tasks",
    ]
    cancelled = client.post(f"/api/v1/plans/{created.json['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.json


def test_a_file_the_plan_names_but_was_not_uploaded_is_refused_naming_its_step(client: Any) -> None:
    files = {name: upload(client, EXAMPLE / name) for name in FILES if name != "tasks.csv"}
    plan_text = (EXAMPLE / "plan.yaml").read_text(encoding="utf-8")
    refused = client.post("/api/v1/plans", json={"plan_text": plan_text, "files": files})
    assert refused.status_code == 400, refused.json
    error = refused.json["error"]
    assert error["code"] == "INVALID_PLAN" and error["where"]["step"] == "tasks"
    assert "tasks.csv" in error["message"]

    not_an_object = client.post("/api/v1/plans", json={"plan_text": plan_text, "files": ["accounts.csv"]})
    assert not_an_object.status_code == 400

"""Wizard drafts: the wizard's state kept per user, so a reload or a second tab resumes where it was."""

from __future__ import annotations

from typing import Any

from tests.conftest import calling_as
from tests.integration.test_security import new_user


def test_a_draft_keeps_the_wizards_state_and_changes_only_the_keys_given(client: Any) -> None:
    created = client.post("/api/v1/drafts", json={"upload_id": "upl-1", "step": "preview"})
    assert created.status_code == 201, created.json
    draft = created.json
    assert created.headers["Location"].endswith(f"/api/v1/drafts/{draft['id']}")
    assert (draft["upload_id"], draft["step"], draft["mapping"], draft["outdated"]) == (
        "upl-1",
        "preview",
        None,
        [],
    )
    mapping = {
        "fields": [
            {"target": "Tier__c", "source": "Stufe", "transforms": [{"op": "map", "values": {"G": "Gold"}}]}
        ]
    }
    changed = client.put(
        f"/api/v1/drafts/{draft['id']}",
        json={"object": "Account", "operation": "upsert", "mapping": mapping, "outdated": ["run"]},
    )
    assert changed.status_code == 200, changed.json
    again = client.get(f"/api/v1/drafts/{draft['id']}").json
    assert again["upload_id"] == "upl-1" and again["step"] == "preview"  # kept
    assert again["mapping"] == mapping and again["object"] == "Account" and again["outdated"] == ["run"]
    # Drafts live beside the templates but are not templates.
    assert all(not t["id"].startswith("draft-") for t in client.get("/api/v1/templates").json["templates"])


def test_a_draft_is_its_owners_alone_and_bad_keys_are_named(client: Any, app: Any) -> None:
    draft = client.post("/api/v1/drafts").json
    someone_else = calling_as(app, new_user("operator")[2])
    assert someone_else.get(f"/api/v1/drafts/{draft['id']}").status_code == 404
    assert someone_else.put(f"/api/v1/drafts/{draft['id']}", json={"step": "run"}).status_code == 404
    viewer = calling_as(app, new_user("viewer")[2])
    assert viewer.post("/api/v1/drafts", json={}).status_code == 403
    missing = client.get("/api/v1/drafts/draft-000000")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "DRAFT_NOT_FOUND"
    for body, field in (
        ({"upload": "x"}, "upload"),
        ({"mapping": "Name"}, "mapping"),
        ({"step": 3}, "step"),
        ({"outdated": "run"}, "outdated"),
    ):
        bad = client.put(f"/api/v1/drafts/{draft['id']}", json=body)
        assert bad.status_code == 400, (body, bad.json)
        assert bad.json["error"]["code"] == "INVALID_DRAFT" and bad.json["error"]["where"]["field"] == field
    assert (
        client.put(f"/api/v1/drafts/{draft['id']}", data="[]", content_type="application/json").status_code
        == 400
    )

"""Wizard drafts over HTTP: the new-load wizard keeps its state here so a reload, Back or a second tab resumes."""

from __future__ import annotations

from typing import Any

from flask import jsonify, url_for

from blueprints.api import api
from blueprints.api.jobs import json_body
from dms.clients import current_services
from dms.drafts import DraftStore
from factories.security import current_principal


def drafts() -> DraftStore:
    """The caller's drafts (an admin's reach everyone's)."""
    principal = current_principal()
    return DraftStore(current_services(), owner=principal.as_owner(), admin=principal.is_admin)


@api.post("/drafts")
def create_draft() -> Any:
    """Start a draft with the wizard's state so far."""
    draft = drafts().create(json_body(optional=True))
    return jsonify(draft), 201, {"Location": url_for("api.get_draft", draft_id=draft["id"])}


@api.get("/drafts/<draft_id>")
def get_draft(draft_id: str) -> Any:
    return jsonify(drafts().get(draft_id))


@api.put("/drafts/<draft_id>")
def update_draft(draft_id: str) -> Any:
    """Change the keys given; the others keep their values."""
    return jsonify(drafts().update(draft_id, json_body()))

"""Wizard drafts: the new-load wizard's choices so far (upload, read options, target, mapping, jobs), per user,
kept in Cloudant beside the mapping templates so a reload, Back or a second tab finds them again."""

from __future__ import annotations

import json
import secrets
from typing import Any

from dms.clients import Services
from dms.clients.docstore import DocumentStore
from dms.errors import DMSError, NotFound, Text
from dms.pipeline.model import now

DRAFT_PREFIX = "draft-"
MAX_DRAFT_BYTES = 512 * 1024  # a spec of a few hundred fields with value maps fits many times over
# What a draft holds: the wizard's state, each key optional (null when that step is not reached yet).
DRAFT_TEXT_KEYS = ("upload_id", "connection_id", "object", "operation", "external_id", "step")
DRAFT_JOB_KEYS = ("rehearsal_job_id", "load_job_id")
DRAFT_OBJECT_KEYS = ("read_options", "mapping")
DRAFT_KEYS = (*DRAFT_TEXT_KEYS, *DRAFT_JOB_KEYS, *DRAFT_OBJECT_KEYS, "outdated")
MAX_TEXT_CHARS = 200


def draft_fields(given: dict[str, Any]) -> dict[str, Any]:
    """The draft keys of a request body, each checked for its type; INVALID_DRAFT names the one that is not."""
    unknown = sorted(set(given) - set(DRAFT_KEYS))
    if unknown:
        raise DMSError(
            Text("A draft has no `%(key)s`; it holds %(keys)s.", key=unknown[0], keys=", ".join(DRAFT_KEYS)),
            code="INVALID_DRAFT",
            field=unknown[0],
        )
    fields: dict[str, Any] = {}
    for key, value in given.items():
        if key in (*DRAFT_TEXT_KEYS, *DRAFT_JOB_KEYS):
            if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT_CHARS):
                raise DMSError(
                    Text(
                        "`%(key)s` must be text of up to %(most)s characters, or null.",
                        key=key,
                        most=MAX_TEXT_CHARS,
                    ),
                    code="INVALID_DRAFT",
                    field=key,
                )
        elif key in DRAFT_OBJECT_KEYS:
            if value is not None and not isinstance(value, dict):
                raise DMSError(
                    Text("`%(key)s` must be an object, or null.", key=key), code="INVALID_DRAFT", field=key
                )
        elif key == "outdated":
            if not isinstance(value, list) or not all(isinstance(v, str) and len(v) < 40 for v in value):
                raise DMSError(
                    Text("`outdated` must be a list of step names."), code="INVALID_DRAFT", field=key
                )
        fields[key] = value
    if len(json.dumps(fields)) > MAX_DRAFT_BYTES:
        raise DMSError(
            Text(
                "A draft holds at most %(kib)s KiB of JSON; this one is larger.", kib=MAX_DRAFT_BYTES // 1024
            ),
            code="INVALID_DRAFT",
        )
    return fields


class DraftStore:
    """Create, read and change the signed-in user's wizard drafts (an admin reads everyone's)."""

    def __init__(self, services: Services, owner: dict[str, Any], admin: bool = False) -> None:
        # The templates' database: a draft is a mapping being made, kept as durably as a saved one.
        self.store: DocumentStore = services.store("templates")
        self.owner = dict(owner)
        self.admin = admin

    def create(self, given: dict[str, Any]) -> dict[str, Any]:
        body = {key: None for key in DRAFT_KEYS} | {"outdated": []} | draft_fields(given)
        doc = {
            "_id": DRAFT_PREFIX + secrets.token_hex(12),
            **self.owner,
            "type": "draft",
            **body,
            "created_at": now(),
            "updated_at": now(),
        }
        return public_draft(self.store.create(doc))

    def get(self, draft_id: str) -> dict[str, Any]:
        return public_draft(self._owned(draft_id))

    def update(self, draft_id: str, given: dict[str, Any]) -> dict[str, Any]:
        """Change the keys given (the others stay as they are)."""
        fields = draft_fields(given)
        self._owned(draft_id)
        return public_draft(self.store.update(draft_id, lambda d: {**d, **fields, "updated_at": now()}))

    def _owned(self, draft_id: str) -> dict[str, Any]:
        """The draft, if the caller owns it; another user's draft is as absent as one that never existed."""
        missing = NotFound(Text("There is no draft %(id)s.", id=repr(draft_id[:80])), code="DRAFT_NOT_FOUND")
        if not draft_id.startswith(DRAFT_PREFIX) or len(draft_id) > 80 or not draft_id.isascii():
            raise missing
        try:
            doc = self.store.get(draft_id)
        except NotFound:
            raise missing from None
        if doc.get("type") != "draft" or not (self.admin or doc.get("owner") == self.owner.get("owner")):
            raise missing
        return doc


def public_draft(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: doc.get(key) for key in (*DRAFT_KEYS, "created_at", "updated_at")} | {"id": doc["_id"]}

"""The audit log: who did what to which thing, when and from where; kept in the document store for admins."""

from __future__ import annotations

from typing import Any

from dms.clients import Services
from dms.clients.docstore import new_document_id
from dms.pipeline.model import now

MAX_LISTED = 1000


class AuditLog:
    """Append entries; list them newest first."""

    def __init__(self, services: Services) -> None:
        self.docs = services.store("audit")

    def record(
        self,
        action: str,
        *,
        actor: str | None,
        actor_name: str | None = None,
        target: str | None = None,
        outcome: str = "ok",
        ip: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """One entry (`action` like `job.cancel`, `sign_in`; `outcome` ok, refused or failed)."""
        doc = {
            "_id": new_document_id("audit"),
            "type": "audit",
            "at": now(),
            "action": action,
            "actor": actor,
            "actor_name": actor_name,
            "target": target,
            "outcome": outcome,
            "ip": ip,
            "detail": detail or {},
            # The entry is itself owned, like every record: by whoever acted (admins read them all).
            "owner": actor,
        }
        self.docs.create(doc)

    def list(self, limit: int = 200, action: str | None = None) -> list[dict[str, Any]]:
        """Newest first, optionally only one action."""
        found = []
        for doc in self.docs.iter_all("audit-", descending=True):
            if action is None or doc["action"] == action:
                found.append({k: v for k, v in doc.items() if k not in ("_rev", "type")})
                if len(found) >= min(limit, MAX_LISTED):
                    break
        return found

"""Roles and the principal of a request: who is calling, through what, and what that allows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a person or a token may do; each role can do everything of the roles below it."""

    VIEWER = "viewer"  # reads jobs, results and connections
    OPERATOR = "operator"  # also uploads, runs, cancels and retries loads, adds connections
    ADMIN = "admin"  # also manages users, sees everyone's work and the audit log

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role covers `needed`."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: Any) -> Role | None:
        """The role named `value`, or None."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return None


@dataclass(frozen=True)
class Principal:
    """The caller of one request: a signed-in user (by session) or a user's API token (narrower role)."""

    user_id: str
    username: str
    role: Role  # the effective role: a token's, which never exceeds its user's
    via: str  # "session" or "token"
    token_id: str | None = None
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may(self, needed: Role) -> bool:
        return self.role.allows(needed)

    def owns(self, doc: dict[str, Any]) -> bool:
        """Whether this caller may see and act on a document that has an `owner` (admins: on every one)."""
        return self.is_admin or doc.get("owner") == self.user_id

    def as_owner(self) -> dict[str, str]:
        """The owner stamp a new document carries."""
        return {"owner": self.user_id, "owner_name": self.username}

"""API tokens for automation: shown once, stored as a hash, scoped to a role no wider than their user's."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from dms.clients import Services
from dms.errors import NotFound, Text
from dms.pipeline.model import now
from dms.security.roles import Principal, Role
from dms.security.users import InvalidAccount, UserStore

TOKEN_PREFIX = "dms_"
# dms_<id>_<secret>: the id finds the stored hash in one read; the secret is 256 random bits.
_TOKEN = re.compile(r"^dms_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$")
MAX_NAME_CHARS = 100


def _digest(secret: str) -> str:
    # A fast hash is enough: the secret is random and long, not a password a person chose.
    return hashlib.sha256(secret.encode()).hexdigest()


def public_token(doc: dict[str, Any]) -> dict[str, Any]:
    """A token without its hash: what lists and audits show."""
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "role": doc["role"],
        "owner": doc["owner"],
        "created_at": doc["created_at"],
        "last_used_at": doc.get("last_used_at"),
        "revoked_at": doc.get("revoked_at"),
    }


class TokenStore:
    """Create, verify, list and revoke API tokens."""

    def __init__(self, services: Services) -> None:
        self.docs = services.store("tokens")

    def create(
        self, owner: dict[str, Any], name: object, role: object = None, ceiling: Role | None = None
    ) -> tuple[dict[str, Any], str]:
        """A new token for `owner` (a user document), its role at most the owner's (and `ceiling`); returns
        its public view and the token itself, shown once."""
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_CHARS:
            raise InvalidAccount(
                Text(
                    "A token needs a `name` of 1 to %(max_name_chars)s characters.",
                    max_name_chars=MAX_NAME_CHARS,
                ),
                field="name",
            )
        user_role = Role(owner["role"])
        if ceiling is not None and not ceiling.allows(user_role):
            user_role = ceiling
        wanted = user_role if role is None else Role.parse(role)
        if wanted is None or not user_role.allows(wanted):
            allowed = ", ".join(r for r in Role if user_role.allows(r))
            raise InvalidAccount(
                Text("`role` is one of %(allowed)s (not above your own).", allowed=allowed), field="role"
            )
        token_id = secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        doc = {
            "_id": f"token-{token_id}",
            "type": "token",
            "name": name.strip(),
            "role": wanted.value,
            "owner": owner["_id"],
            "hash": _digest(secret),
            "created_at": now(),
        }
        return public_token(self.docs.create(doc)), f"{TOKEN_PREFIX}{token_id}_{secret}"

    def verify(self, presented: str, users: UserStore) -> Principal | None:
        """The principal of a presented token, or None if it is not a live token of an active user."""
        match = _TOKEN.match(presented)
        if not match:
            return None
        token_id, secret = match.groups()
        try:
            doc = self.docs.get(f"token-{token_id}")
        except NotFound:
            return None
        if doc.get("revoked_at") or not hmac.compare_digest(doc["hash"], _digest(secret)):
            return None
        try:
            owner = users.get(doc["owner"])
        except NotFound:
            return None
        if not owner.get("active", True):
            return None
        # A token never does more than its user may do now (a demoted user's tokens shrink with them).
        role = min(Role(doc["role"]), Role(owner["role"]), key=lambda r: r.rank)
        return Principal(owner["_id"], owner["username"], role, "token", token_id=doc["_id"])

    def touch(self, token_doc_id: str) -> None:
        """Record a use (at most the last one matters)."""
        self.docs.update(token_doc_id, lambda d: {**d, "last_used_at": now()})

    def list(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Tokens of one user (or of everyone)."""
        return [public_token(d) for d in self.docs.iter_all("token-") if owner is None or d["owner"] == owner]

    def get(self, token_doc_id: str) -> dict[str, Any]:
        return self.docs.get(token_doc_id)

    def revoke(self, token_doc_id: str) -> dict[str, Any]:
        """Stop a token from working, at once and for good."""
        return public_token(
            self.docs.update(token_doc_id, lambda d: {**d, "revoked_at": d.get("revoked_at") or now()})
        )

"""People who sign in: username, role and a scrypt password hash, kept in the document store."""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from dms.clients import Services
from dms.errors import Conflict, DMSError, NotFound, Text
from dms.pipeline.model import now
from dms.security.passwords import (
    PasswordRejected,
    check_new_password,
    decoy_hash,
    hash_password,
    verify_password,
)
from dms.security.roles import Role

MAX_USERNAME_CHARS = 100


class InvalidAccount(DMSError):
    """A user or token request that cannot be honoured as given; `where.field` names what to fix."""

    code = "INVALID_ACCOUNT"


def normal_username(username: object) -> str:
    """The username as stored and compared: NFC, trimmed, case-folded."""
    if not isinstance(username, str) or not username.strip():
        raise InvalidAccount(Text("A user needs a `username`."), field="username")
    name = unicodedata.normalize("NFC", username).strip().casefold()
    if len(name) > MAX_USERNAME_CHARS or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        raise InvalidAccount(
            Text(
                "A username has 1 to %(max_username_chars)s characters, without control characters.",
                max_username_chars=MAX_USERNAME_CHARS,
            ),
            field="username",
        )
    return name


def user_id(username: str) -> str:
    """The document id of a username: derived, so that two creations of one name collide in the store."""
    return "user-" + hashlib.sha256(normal_username(username).encode()).hexdigest()[:32]


def public_user(doc: dict[str, Any]) -> dict[str, Any]:
    """A user without the password hash."""
    return {
        "id": doc["_id"],
        "username": doc["username"],
        "role": doc["role"],
        "active": doc.get("active", True),
        "created_at": doc.get("created_at"),
        "last_sign_in_at": doc.get("last_sign_in_at"),
        "sso": doc.get("sso"),
    }


class UserStore:
    """Create, find, authenticate and change users."""

    def __init__(self, services: Services) -> None:
        self.docs = services.store("users")

    def create(self, username: object, password: object, role: object = Role.OPERATOR) -> dict[str, Any]:
        """A new user; Conflict if the username is taken."""
        name = normal_username(username)
        parsed = Role.parse(role)
        if parsed is None:
            raise InvalidAccount(Text("`role` is one of %(roles)s.", roles=", ".join(Role)), field="role")
        try:
            secret = check_new_password(password)
        except PasswordRejected as exc:
            raise InvalidAccount(exc.args[0], field="password") from None
        doc = {
            "_id": user_id(name),
            "type": "user",
            "username": name,
            "role": parsed.value,
            "active": True,
            "password_hash": hash_password(secret),
            "created_at": now(),
            # The seam for single sign-on: an OIDC provider's issuer and subject, matched instead of a password.
            "sso": None,
        }
        try:
            return public_user(self.docs.create(doc))
        except Conflict:
            raise DMSError(
                Text("A user named %(name)s exists already.", name=f"{name!r}"),
                code="USER_EXISTS",
                http_status=409,
            ) from None

    def get(self, uid: str) -> dict[str, Any]:
        return self.docs.get(uid)

    def find(self, username: object) -> dict[str, Any] | None:
        """The user of that name, or None."""
        try:
            return self.docs.get(user_id(normal_username(username)))
        except (NotFound, InvalidAccount):
            return None

    def authenticate(self, username: object, password: object) -> dict[str, Any] | None:
        """The active user whose password this is, else None (taking as long either way)."""
        doc = self.find(username)
        candidate = password if isinstance(password, str) else ""
        ok = verify_password(candidate, doc["password_hash"] if doc else decoy_hash())
        if not doc or not ok or not doc.get("active", True):
            return None
        return self.docs.update(doc["_id"], lambda d: {**d, "last_sign_in_at": now()})

    def list(self) -> list[dict[str, Any]]:
        return [public_user(d) for d in self.docs.iter_all("user-")]

    def any(self) -> bool:
        """Whether any user exists (a fresh deployment has none until the first admin is created)."""
        return next(iter(self.docs.iter_all("user-", limit=1)), None) is not None

    def change(
        self, uid: str, role: object = None, active: object = None, password: object = None
    ) -> dict[str, Any]:
        """Change a user's role, active flag or password."""
        updates: dict[str, Any] = {}
        if role is not None:
            parsed = Role.parse(role)
            if parsed is None:
                raise InvalidAccount(Text("`role` is one of %(roles)s.", roles=", ".join(Role)), field="role")
            updates["role"] = parsed.value
        if active is not None:
            if not isinstance(active, bool):
                raise InvalidAccount(Text("`active` is true or false."), field="active")
            updates["active"] = active
        if password is not None:
            try:
                updates["password_hash"] = hash_password(check_new_password(password))
            except PasswordRejected as exc:
                raise InvalidAccount(exc.args[0], field="password") from None
        return public_user(self.docs.update(uid, lambda d: {**d, **updates}))

"""Credentials, sessions and their expiry: what OAuth and SOAP login hand out and REST calls present."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from localorg.errors import session_invalid
from localorg.jwt_bearer import load_certificate
from localorg.store import ORG_ID

DEFAULT_SESSION_TTL = 2 * 60 * 60
ADMIN_TOKEN_HEADER = "X-Localorg-Admin-Token"  # what the admin API (/_localorg/*) must be sent


@dataclass(frozen=True)
class Credentials:
    """The single integration user of a localorg and its connected app."""

    username: str = "dms@localorg.test"
    password: str = "localorg"
    security_token: str = ""
    client_id: str = "localorg"
    client_secret: str = "localorg-secret"
    callback_urls: tuple[str, ...] = ()  # beyond loopback callbacks, which are always accepted
    jwt_certificate: str = ""  # the connected app's certificate for the JWT bearer grant (PEM, or its path)

    @classmethod
    def from_env(cls) -> Credentials:
        """Defaults, overridden by LOCALORG_USERNAME/PASSWORD/SECURITY_TOKEN/CLIENT_ID/CLIENT_SECRET,
        LOCALORG_CALLBACK_URLS (comma separated) and LOCALORG_JWT_CERTIFICATE."""
        default = cls()
        return cls(
            username=os.environ.get("LOCALORG_USERNAME", default.username),
            password=os.environ.get("LOCALORG_PASSWORD", default.password),
            security_token=os.environ.get("LOCALORG_SECURITY_TOKEN", default.security_token),
            client_id=os.environ.get("LOCALORG_CLIENT_ID", default.client_id),
            client_secret=os.environ.get("LOCALORG_CLIENT_SECRET", default.client_secret),
            callback_urls=tuple(
                url.strip() for url in os.environ.get("LOCALORG_CALLBACK_URLS", "").split(",") if url.strip()
            ),
            jwt_certificate=os.environ.get("LOCALORG_JWT_CERTIFICATE", ""),
        )

    def jwt_public_key(self) -> Any:
        """The public key the JWT bearer grant checks signatures with; None when no certificate is set.
        Read once per value (LocalOrg reads it at start, so a bad certificate stops the server there)."""
        return load_certificate(self.jwt_certificate)

    def check_password(self, username: str, password: str) -> str:
        """'ok', 'needs_token' (right password, token missing) or 'invalid'."""
        if not hmac.compare_digest(username.lower(), self.username.lower()):
            return "invalid"
        if hmac.compare_digest(password, self.password + self.security_token):
            return "ok"
        if self.security_token and hmac.compare_digest(password, self.password):
            return "needs_token"
        return "invalid"

    def check_client(self, client_id: str, client_secret: str) -> bool:
        """Whether a connected-app key and secret match."""
        return hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(
            client_secret, self.client_secret
        )

    def sign(self, identity_url: str, issued_at: str) -> str:
        """The OAuth response signature: base64 HMAC-SHA256 of id + issued_at keyed by the client secret."""
        digest = hmac.new(self.client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
        return base64.b64encode(digest.digest()).decode()


class SessionRegistry:
    """Live sessions by token, each with an expiry; revocable all at once for fault tests."""

    def __init__(self, ttl_seconds: int = DEFAULT_SESSION_TTL) -> None:
        self.ttl_seconds = ttl_seconds
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new session id shaped like Salesforce's: ORGID!random."""
        token = f"{ORG_ID[:15]}!AQ" + secrets.token_urlsafe(72).replace("-", "a").replace("_", "b")
        with self._lock:
            self._expiry[token] = time.monotonic() + self.ttl_seconds
        return token

    def check(self, authorization: str | None) -> str:
        """The token of a valid `Bearer`/`OAuth` Authorization header, else the 401 error."""
        if not authorization:
            raise session_invalid()
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in {"bearer", "oauth"} or not token:
            raise session_invalid()
        token = token.strip()
        if not self.is_live(token):
            raise session_invalid()
        return token

    def is_live(self, token: str) -> bool:
        """Whether a session id is issued, not revoked and not expired."""
        with self._lock:
            expiry = self._expiry.get(token)
            if expiry is None:
                return False
            if expiry < time.monotonic():
                del self._expiry[token]
                return False
        return True

    def revoke(self, token: str) -> None:
        """Invalidate one session."""
        with self._lock:
            self._expiry.pop(token, None)

    def expire_all(self) -> int:
        """Invalidate every session now; returns how many there were."""
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
        return count

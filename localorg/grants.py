"""OAuth 2.0 web server flow state: callback URLs, single-use authorization codes with PKCE, refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from localorg.store import Store

CODE_TTL_SECONDS = 15 * 60  # Salesforce's authorization codes are valid for 15 minutes
# The scopes a Salesforce connected app can be given (its openid-configuration lists these and a few more).
SUPPORTED_SCOPES = frozenset(
    {
        "address",
        "api",
        "chatter_api",
        "content",
        "custom_permissions",
        "email",
        "full",
        "id",
        "lightning",
        "offline_access",
        "openid",
        "phone",
        "profile",
        "refresh_token",
        "visualforce",
        "wave_api",
        "web",
    }
)
# What a connected app typically grants when the request names no scope.
DEFAULT_SCOPE = "api id refresh_token"
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_REFRESH_PREFIX = "oauth_refresh:"


class GrantError(Exception):
    """An OAuth error answer: the `error` code and its `error_description`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def callback_allowed(url: str, configured: Sequence[str]) -> bool:
    """Loopback http(s) callbacks on any port and path (a developer's machine); others only if configured."""
    if url in configured:
        return True
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and host in _LOOPBACK_HOSTS and not parts.fragment


def parse_scope(requested: str | None) -> str:
    """The granted scope (space separated) for a request, or GrantError invalid_scope."""
    names = (requested or "").split()
    if not names:
        return DEFAULT_SCOPE
    unknown = [name for name in names if name not in SUPPORTED_SCOPES]
    if unknown:
        raise GrantError("invalid_scope", "the requested scope is not allowed")
    return " ".join(dict.fromkeys(names))


def allows_refresh(scope: str) -> bool:
    """Whether a grant of this scope gets a refresh token (Salesforce: refresh_token, offline_access or full)."""
    return bool({"refresh_token", "offline_access", "full"} & set(scope.split()))


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier: unpadded base64url of its SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class AuthorizationCode:
    """What the user approved: for which client and callback, which scope, and the PKCE challenge."""

    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    expires_at: float


class CodeRegistry:
    """Authorization codes: each redeemable once, within CODE_TTL_SECONDS."""

    def __init__(self, ttl_seconds: float = CODE_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._codes: dict[str, AuthorizationCode] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, redirect_uri: str, scope: str, code_challenge: str | None) -> str:
        """A new code for an approved authorization request."""
        code = "aPrx" + secrets.token_urlsafe(48)
        grant = AuthorizationCode(
            client_id, redirect_uri, scope, code_challenge, time.monotonic() + self.ttl_seconds
        )
        with self._lock:
            now = time.monotonic()
            # Forget codes nobody redeemed, so an abandoned flow does not keep memory forever.
            for stale in [c for c, g in self._codes.items() if g.expires_at < now]:
                del self._codes[stale]
            self._codes[code] = grant
        return code

    def redeem(self, code: str, redirect_uri: str, code_verifier: str | None) -> AuthorizationCode:
        """The grant of a code, used up now; GrantError as Salesforce words it when it cannot be used."""
        with self._lock:
            grant = self._codes.pop(code, None)  # popped first: a second attempt, right or wrong, fails
        if grant is None:
            raise GrantError("invalid_grant", "invalid authorization code")
        if grant.expires_at < time.monotonic():
            raise GrantError("invalid_grant", "expired authorization code")
        if redirect_uri != grant.redirect_uri:
            raise GrantError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if grant.code_challenge is not None and not (
            code_verifier and hmac.compare_digest(pkce_challenge(code_verifier), grant.code_challenge)
        ):
            raise GrantError("invalid_grant", "invalid code verifier")
        return grant


@dataclass(frozen=True)
class RefreshGrant:
    """What a refresh token stands for."""

    client_id: str
    scope: str


class RefreshTokenStore:
    """Refresh tokens, kept as hashes in the org database so they outlive a restart as they do on Salesforce,
    and the access tokens each one handed out (revoking it revokes them)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._access_tokens: dict[str, set[str]] = {}

    @staticmethod
    def _key(token: str) -> str:
        return _REFRESH_PREFIX + hashlib.sha256(token.encode()).hexdigest()

    def issue(self, client_id: str, scope: str, access_token: str) -> str:
        """A new refresh token for a grant, remembering the access token issued with it."""
        token = "5Aep" + secrets.token_urlsafe(64)
        key = self._key(token)
        with self.store.lock:
            self.store.meta_set(key, json.dumps({"client_id": client_id, "scope": scope}))
            self._access_tokens[key] = {access_token}
        return token

    def get(self, token: str) -> RefreshGrant | None:
        """The grant of a live refresh token, else None."""
        with self.store.lock:
            raw = self.store.meta_get(self._key(token))
        if raw is None:
            return None
        saved = json.loads(raw)
        return RefreshGrant(client_id=saved["client_id"], scope=saved["scope"])

    def attach(self, token: str, access_token: str) -> None:
        """Remember an access token obtained with this refresh token."""
        with self.store.lock:
            self._access_tokens.setdefault(self._key(token), set()).add(access_token)

    def revoke(self, token: str) -> set[str] | None:
        """Forget a refresh token; returns the access tokens to revoke with it, or None if it was unknown."""
        key = self._key(token)
        with self.store.lock:
            if self.store.meta_get(key) is None:
                return None
            self.store.meta_delete(key)
            return self._access_tokens.pop(key, set())

"""Browser sessions kept server-side in Redis: the cookie holds only a random id, so sign-out and expiry are
real (a signed cookie would stay valid until it expires, whatever the server thinks)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

_KEY = "dms:session:{}"


@dataclass(frozen=True)
class BrowserSession:
    """One signed-in browser: its user and the CSRF token its pages send back."""

    session_id: str
    user_id: str
    csrf_token: str
    started: float


class SessionStore:
    """Start, find (sliding idle expiry, absolute cap) and end sessions."""

    def __init__(self, client: redis.Redis, idle_seconds: int, max_seconds: int) -> None:
        self.redis = client
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    @staticmethod
    def _key(cookie: str) -> str:
        # Only a hash of the cookie is stored: reading Redis does not hand out live sessions.
        return _KEY.format(hashlib.sha256(cookie.encode()).hexdigest())

    def start(self, user_id: str) -> tuple[str, BrowserSession]:
        """A new session for the user; returns the cookie value and the session."""
        cookie = secrets.token_urlsafe(32)
        session = BrowserSession(self._key(cookie)[-16:], user_id, secrets.token_urlsafe(32), time.time())
        record = {"user_id": user_id, "csrf": session.csrf_token, "started": session.started}
        self.redis.set(self._key(cookie), json.dumps(record), ex=self.idle_seconds)
        return cookie, session

    def find(self, cookie: str | None) -> BrowserSession | None:
        """The live session of a cookie (and its idle timer restarted), or None."""
        if not cookie or len(cookie) > 100:
            return None
        key = self._key(cookie)
        raw = self.redis.get(key)
        if raw is None:
            return None
        record: dict[str, Any] = json.loads(raw)
        if time.time() - float(record["started"]) > self.max_seconds:
            self.redis.delete(key)
            return None
        self.redis.expire(key, self.idle_seconds)
        return BrowserSession(key[-16:], record["user_id"], record["csrf"], float(record["started"]))

    def end(self, cookie: str | None) -> None:
        """Sign out: the cookie stops working everywhere at once."""
        if cookie:
            self.redis.delete(self._key(cookie))

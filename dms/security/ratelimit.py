"""Rate limits shared by every web process through Redis: fixed windows per action and caller."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import redis

from dms.errors import DMSError, Text


@dataclass(frozen=True)
class Limit:
    """At most `count` hits per `seconds` for one action and one caller."""

    action: str
    count: int
    seconds: int


# The limited actions as a sentence names them ("Too many sign in requests"), for a reader of another language.
ACTION_NAMES = {
    "sign_in": Text("sign in"),
    "sign_in_user": Text("sign in user"),
    "job_create": Text("job create"),
    "connection_test": Text("connection test"),
    "upload": Text("upload"),
}


class RateLimited(DMSError):
    """Too many requests of one kind from one caller; Retry-After says when to try again."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(
            Text(
                "Too many %(action)s requests: at most %(count)s per %(seconds)s s. Try again in "
                "%(retry_after)s s.",
                action=ACTION_NAMES.get(limit.action) or limit.action.replace("_", " "),
                count=limit.count,
                seconds=limit.seconds,
                retry_after=retry_after,
            ),
            retry_after=retry_after,
        )
        self.retry_after = retry_after


def hit(client: redis.Redis, limit: Limit, caller: str) -> None:
    """Count one request of `caller`; RateLimited once the window is full."""
    window = int(time.time() // limit.seconds)
    digest = hashlib.sha256(caller.encode()).hexdigest()[:24]  # callers may be emails: not stored in clear
    key = f"dms:rate:{limit.action}:{digest}:{window}"
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, limit.seconds + 1)
    count = int(pipe.execute()[0])
    if count > limit.count:
        raise RateLimited(limit, retry_after=max(1, (window + 1) * limit.seconds - int(time.time())))

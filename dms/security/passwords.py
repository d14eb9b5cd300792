"""Password hashing with scrypt (memory-hard, in the standard library), and password rules."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from dms.errors import Text

# RFC 7914's interactive-login parameters: 16 MiB and ~50 ms per hash on a server core.
_N, _R, _P = 2**14, 8, 1
_PREFIX = "scrypt"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # bounds the work a sign-in request can ask for


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message says which."""


def check_new_password(password: object) -> str:
    """The password if it may be set, else PasswordRejected."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejected(
            Text(
                "A password needs at least %(min_password_chars)s characters.",
                min_password_chars=MIN_PASSWORD_CHARS,
            )
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejected(
            Text(
                "A password has at most %(max_password_chars)s characters.",
                max_password_chars=MAX_PASSWORD_CHARS,
            )
        )
    return password


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, all a later check needs."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join([_PREFIX, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (constant time in the comparison)."""
    try:
        prefix, n, r, p, salt, digest = stored.split("$")
        if prefix != _PREFIX or len(password) > MAX_PASSWORD_CHARS:
            return False
        expected = base64.urlsafe_b64decode(digest + "==")
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt + "=="),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def decoy_hash() -> str:
    """A hash of nothing anyone knows: checked when the user does not exist, so that a missing user takes as
    long to refuse as a wrong password (no user enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

"""The OAuth 2.0 JWT bearer grant, checked as Salesforce checks it: an RS256 JWT signed with the key of the
certificate uploaded to the connected app, `iss` the consumer key, `sub` the username, `aud` the login server
(login.salesforce.com, test.salesforce.com, or this server's own origin), `exp` in the future. Salesforce's
docs ask for an `exp` within three minutes, but Salesforce accepts more (the Salesforce CLI sends one far
ahead), so localorg does not refuse a later one: a stock client that works on Salesforce works here."""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import os
import time
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from localorg.grants import GrantError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SALESFORCE_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@functools.cache  # one file read and parse per certificate, not one per token request
def load_certificate(value: str) -> rsa.RSAPublicKey | None:
    """The connected app's public key from LOCALORG_JWT_CERTIFICATE: a PEM certificate or public key, or the
    path of a file holding one; None when unset."""
    if not value.strip():
        return None
    text = value if "-----BEGIN" in value else open(os.path.expanduser(value), encoding="utf-8").read()
    data = text.encode()
    key: Any = (
        x509.load_pem_x509_certificate(data).public_key()
        if b"CERTIFICATE" in data
        else serialization.load_pem_public_key(data)
    )
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("LOCALORG_JWT_CERTIFICATE must hold an RSA key (RS256)")
    return key


def _part(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_assertion(
    assertion: str,
    public_key: rsa.RSAPublicKey | None,
    client_id: str,
    username: str,
    own_origin: str,
    now: float | None = None,
) -> None:
    """Accept the assertion, or GrantError with Salesforce's error and description."""
    if public_key is None:
        raise GrantError("invalid_grant", "invalid assertion")  # no certificate uploaded to the app
    try:
        header_text, claims_text, signature_text = assertion.split(".")
        header, claims = json.loads(_part(header_text)), json.loads(_part(claims_text))
        signature = _part(signature_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GrantError("invalid_grant", "invalid assertion") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise GrantError("invalid_grant", "invalid assertion")
    try:
        public_key.verify(
            signature, f"{header_text}.{claims_text}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise GrantError("invalid_grant", "invalid assertion") from None
    if not hmac.compare_digest(str(claims.get("iss", "")), client_id):
        raise GrantError("invalid_client_id", "client identifier invalid")
    if claims.get("aud") not in (*SALESFORCE_AUDIENCES, own_origin.rstrip("/")):
        raise GrantError("invalid_grant", "audience is invalid")
    expires = claims.get("exp")
    current = time.time() if now is None else now
    if not isinstance(expires, int | float) or expires <= current:
        raise GrantError("invalid_grant", "expired authorization code")
    if str(claims.get("sub", "")).lower() != username.lower():
        raise GrantError("invalid_grant", "user hasn't approved this consumer")

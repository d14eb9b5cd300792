"""What each login flow sends: its grant and only its own fields; the JWT bearer assertion as Salesforce checks it."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dms.clients.salesforce import (
    JWT_BEARER_GRANT,
    SalesforceCredentials,
    SalesforceLoginError,
    jwt_audience,
    login_form,
)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_each_flow_sends_its_own_grant_and_fields() -> None:
    base = {"login_url": "https://login.salesforce.com", "client_id": "app", "client_secret": "s"}
    password = login_form(SalesforceCredentials(**base, username="u", password="pw"))
    assert password == {
        "grant_type": "password",
        "client_id": "app",
        "client_secret": "s",
        "username": "u",
        "password": "pw",
    }
    client = login_form(SalesforceCredentials(**base, flow="client_credentials", username="u", password="pw"))
    assert client == {"grant_type": "client_credentials", "client_id": "app", "client_secret": "s"}
    web = login_form(
        SalesforceCredentials(**{**base, "client_secret": ""}, flow="web_server", refresh_token="r")
    )
    assert web == {
        "grant_type": "refresh_token",
        "client_id": "app",
        "refresh_token": "r",
    }  # a PKCE app: no secret
    with pytest.raises(SalesforceLoginError):
        login_form(SalesforceCredentials(**base, flow="saml"))


def test_the_jwt_assertion_is_signed_rs256_with_the_claims_salesforce_checks(key: rsa.RSAPrivateKey) -> None:
    credentials = SalesforceCredentials(
        login_url="https://acme.my.salesforce.com",
        client_id="3MVG9app",
        username="integration@acme.com",
        private_key=_pem(key),
        flow="jwt_bearer",
    )
    form = login_form(credentials, now=1_700_000_000)
    assert form["grant_type"] == JWT_BEARER_GRANT and set(form) == {"grant_type", "assertion"}
    header, payload, signature = form["assertion"].split(".")
    assert json.loads(_b64decode(header)) == {"alg": "RS256", "typ": "JWT"}
    claims = json.loads(_b64decode(payload))
    assert claims == {
        "iss": "3MVG9app",
        "sub": "integration@acme.com",
        "aud": "https://login.salesforce.com",
        "exp": 1_700_000_180,  # within the 3 minutes Salesforce allows
    }
    key.public_key().verify(
        _b64decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    with pytest.raises(InvalidSignature):
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        other.public_key().verify(
            _b64decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),  # localorg is its own audience
    ],
)
def test_the_jwt_audience_follows_the_login_url(login_url: str, audience: str) -> None:
    assert jwt_audience(login_url) == audience


def test_a_key_that_cannot_sign_says_so() -> None:
    credentials = SalesforceCredentials(
        login_url="https://login.salesforce.com",
        client_id="a",
        username="u",
        private_key="nope",
        flow="jwt_bearer",
    )
    with pytest.raises(SalesforceLoginError, match="private key"):
        login_form(credentials)

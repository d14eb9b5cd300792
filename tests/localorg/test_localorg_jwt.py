"""The JWT bearer grant as Salesforce answers it: a signed assertion of the app's key for a known user, or
Salesforce's error for each thing wrong."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from localorg.testing import LocalOrgHandle, running_localorg

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(claims: dict[str, Any], key: rsa.RSAPrivateKey = KEY, alg: str = "RS256") -> str:
    head = b64(json.dumps({"alg": alg}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256()))


@pytest.fixture(scope="module")
def jwt_org() -> Iterator[LocalOrgHandle]:
    with running_localorg(env={"LOCALORG_JWT_CERTIFICATE": PUBLIC_PEM.decode()}) as handle:
        yield handle


def claims(org: LocalOrgHandle, **change: Any) -> dict[str, Any]:
    return {
        "iss": org.client_id,
        "sub": org.username.upper(),
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 120,
        **change,
    }


def token(org: LocalOrgHandle, signed: str) -> Any:
    with org.requests_session() as session:
        return session.post(
            org.base_url + "/services/oauth2/token",
            data={"grant_type": GRANT, "assertion": signed},
            timeout=30,
        )


def test_a_good_assertion_gets_a_session_and_no_refresh_token(jwt_org: LocalOrgHandle) -> None:
    # An exp far ahead is accepted, as Salesforce accepts the Salesforce CLI's.
    far = int(time.time()) + 86_400
    for audience, exp in (
        ("https://login.salesforce.com", far),
        ("https://test.salesforce.com", None),
        (jwt_org.base_url, None),
    ):
        answer = token(jwt_org, assertion(claims(jwt_org, aud=audience, **({"exp": exp} if exp else {}))))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (
            body["token_type"] == "Bearer"
            and "refresh_token" not in body
            and body["instance_url"] == jwt_org.base_url
        )
    with jwt_org.requests_session() as session:
        limits = session.get(
            f"{jwt_org.base_url}/services/data/v62.0/limits",
            headers={"Authorization": f"Bearer {body['access_token']}"},
        )
    assert limits.status_code == 200


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize(
    ("signed", "error"),
    [
        (lambda o: assertion(claims(o), key=OTHER_KEY), ("invalid_grant", "invalid assertion")),
        (lambda o: assertion(claims(o), alg="none"), ("invalid_grant", "invalid assertion")),
        (lambda o: "not.a.jwt", ("invalid_grant", "invalid assertion")),
        (lambda o: assertion(claims(o, aud="https://evil.test")), ("invalid_grant", "audience is invalid")),
        (
            lambda o: assertion(claims(o, exp=int(time.time()) - 5)),
            ("invalid_grant", "expired authorization code"),
        ),
        (
            lambda o: assertion(claims(o, sub="nobody@x.test")),
            ("invalid_grant", "user hasn't approved this consumer"),
        ),
        (
            lambda o: assertion(claims(o, iss="someone-else")),
            ("invalid_client_id", "client identifier invalid"),
        ),
    ],
)
def test_each_wrong_assertion_gets_salesforces_error(
    jwt_org: LocalOrgHandle, signed: Any, error: tuple[str, str]
) -> None:
    answer = token(jwt_org, signed(jwt_org))
    assert answer.status_code == 400
    assert (answer.json()["error"], answer.json()["error_description"]) == error


def test_without_a_certificate_the_grant_is_refused(org: LocalOrgHandle) -> None:
    answer = token(org, assertion(claims(org)))
    assert answer.status_code == 400 and answer.json()["error_description"] == "invalid assertion"
    with org.requests_session() as session:
        discovery = session.get(org.base_url + "/.well-known/openid-configuration").json()
    assert GRANT in discovery["grant_types_supported"]

"""Login both ways (OAuth, SOAP) through unmodified simple-salesforce, and session expiry."""

from __future__ import annotations

import time

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from localorg.testing import LocalOrgHandle, running_localorg


def test_oauth_password_flow_returns_salesforce_token_shape(org: LocalOrgHandle) -> None:
    with org.requests_session() as session:
        response = session.post(
            org.base_url + "/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
                "username": org.username,
                "password": org.password,
            },
        )
    body = response.json()
    assert response.status_code == 200
    assert set(body) >= {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["instance_url"] == org.base_url
    assert body["token_type"] == "Bearer"
    assert body["id"].startswith(org.base_url + "/id/00D")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("password", "wrong", "invalid_grant"),
        ("client_secret", "wrong", "invalid_client"),
        ("client_id", "nope", "invalid_client_id"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:saml2-bearer", "unsupported_grant_type"),
    ],
)
def test_oauth_rejects_bad_credentials_like_salesforce(
    org: LocalOrgHandle, field: str, value: str, error: str
) -> None:
    form = {
        "grant_type": "password",
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "username": org.username,
        "password": org.password,
        field: value,
    }
    with org.requests_session() as session:
        response = session.post(org.base_url + "/services/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_simple_salesforce_oauth_password_login_via_login_domain(org: LocalOrgHandle) -> None:
    session = org.requests_session(route_salesforce_domains=True)
    sf = Salesforce(
        username=org.username,
        password=org.password,
        consumer_key=org.client_id,
        consumer_secret=org.client_secret,
        session=session,
    )
    assert sf.sf_instance == org.base_url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_simple_salesforce_client_credentials_login(org: LocalOrgHandle) -> None:
    session = org.requests_session(route_salesforce_domains=True)
    sf = Salesforce(
        consumer_key=org.client_id, consumer_secret=org.client_secret, domain="localorg.my", session=session
    )
    assert sf.describe()["sobjects"]


def test_simple_salesforce_soap_login(org: LocalOrgHandle) -> None:
    session = org.requests_session(route_salesforce_domains=True)
    sf = Salesforce(username=org.username, password=org.password, security_token="", session=session)
    created = sf.Account.create({"Name": "Via SOAP"})
    assert created["success"] is True
    assert sf.Account.get(created["id"])["Name"] == "Via SOAP"


def test_soap_login_with_wrong_password_is_invalid_login(org: LocalOrgHandle) -> None:
    session = org.requests_session(route_salesforce_domains=True)
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(username=org.username, password="wrong", security_token="", session=session)
    assert failure.value.code == "INVALID_LOGIN"


def test_soap_login_without_required_token_says_so(tmp_path: object) -> None:
    with running_localorg(env={"LOCALORG_SECURITY_TOKEN": "T0K3N"}) as handle:
        session = handle.requests_session(route_salesforce_domains=True)
        with pytest.raises(SalesforceAuthenticationFailed) as failure:
            Salesforce(username=handle.username, password=handle.password, security_token="", session=session)
        assert failure.value.code == "LOGIN_MUST_USE_SECURITY_TOKEN"
        sf = Salesforce(
            username=handle.username, password=handle.password, security_token="T0K3N", session=session
        )
        assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_requests_without_session_get_invalid_session_id(org: LocalOrgHandle) -> None:
    with org.requests_session() as session:
        response = session.get(org.base_url + "/services/data/v62.0/sobjects")
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]


def test_session_expires_after_configured_ttl() -> None:
    with running_localorg(session_ttl=1) as handle:
        sf = handle.salesforce()
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
        time.sleep(1.5)
        with pytest.raises(SalesforceExpiredSession):
            sf.query("SELECT COUNT() FROM Account")


def test_expired_sessions_are_renewed_by_a_password_login_client(org: LocalOrgHandle) -> None:
    session = org.requests_session(route_salesforce_domains=True)
    sf = Salesforce(username=org.username, password=org.password, security_token="", session=session)
    old_session = sf.session_id
    org.expire_sessions()
    # simple-salesforce logs in again on INVALID_SESSION_ID when it has credentials.
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.session_id != old_session
    direct = Salesforce(instance_url=org.base_url, session_id=old_session, session=org.requests_session())
    with pytest.raises(SalesforceExpiredSession):
        direct.query("SELECT COUNT() FROM Account")


def test_versions_list_needs_no_session(org: LocalOrgHandle) -> None:
    response = requests.Session()
    response.trust_env = False
    versions = response.get(org.base_url + "/services/data/", verify=org.ca_path).json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions

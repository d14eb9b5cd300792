"""Salesforce sessions: OAuth login against any login URL (a real org, a My Domain, or localorg)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce

from dms.errors import DMSError

log = logging.getLogger(__name__)


class SalesforceLoginError(DMSError):
    """The org refused the credentials or could not be reached."""

    code = "SALESFORCE_LOGIN_FAILED"
    http_status = 502


@dataclass(frozen=True)
class SalesforceCredentials:
    """How to reach one org. `password` already includes the security token when the org wants one."""

    login_url: str
    username: str = ""
    password: str = ""
    client_id: str = ""
    client_secret: str = ""
    flow: str = "password"  # or "client_credentials"
    ca_bundle: str = ""  # empty: the system trust store
    api_version: str = "62.0"

    def __repr__(self) -> str:  # never print secrets, not even in a traceback
        return f"SalesforceCredentials(login_url={self.login_url!r}, username={self.username!r}, flow={self.flow!r})"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SalesforceCredentials:
        """The deployment's default org from settings (localorg in development)."""
        return cls(
            login_url=settings["SALESFORCE_LOGIN_URL"],
            username=settings.get("SALESFORCE_USERNAME") or "",
            password=settings.get("SALESFORCE_PASSWORD") or "",
            client_id=settings.get("SALESFORCE_CLIENT_ID") or "",
            client_secret=settings.get("SALESFORCE_CLIENT_SECRET") or "",
            ca_bundle=settings.get("SALESFORCE_CA_BUNDLE") or "",
            api_version=settings.get("SALESFORCE_API_VERSION") or "62.0",
        )


def http_session(credentials: SalesforceCredentials) -> requests.Session:
    """A requests session that trusts the org's CA (localorg's self-signed one in development)."""
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE in the environment override session.verify; trust_env=False keeps ours.
    session.trust_env = False
    if credentials.ca_bundle:
        session.verify = credentials.ca_bundle
    return session


def login(credentials: SalesforceCredentials, session: requests.Session | None = None) -> tuple[str, str]:
    """OAuth 2.0 token request (password or client-credentials flow); returns (instance_url, access_token)."""
    session = session or http_session(credentials)
    form = {
        "grant_type": credentials.flow,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    if credentials.flow == "password":
        form.update(username=credentials.username, password=credentials.password)
    url = credentials.login_url.rstrip("/") + "/services/oauth2/token"
    try:
        response = session.post(url, data=form, timeout=30)
    except requests.RequestException as exc:
        raise SalesforceLoginError(
            f"Could not reach {credentials.login_url}: {exc.__class__.__name__}."
        ) from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("error_description") or response.text[:200]
        except ValueError:
            detail = response.text[:200]
        raise SalesforceLoginError(f"Salesforce refused the login at {credentials.login_url}: {detail}")
    body = response.json()
    log.info("salesforce login ok login_url=%s user=%s", credentials.login_url, credentials.username)
    return body["instance_url"], body["access_token"]


def connect(credentials: SalesforceCredentials) -> Salesforce:
    """A simple-salesforce client on a fresh session."""
    session = http_session(credentials)
    instance_url, token = login(credentials, session)
    return Salesforce(
        instance_url=instance_url, session_id=token, session=session, version=credentials.api_version
    )


def ping(credentials: SalesforceCredentials) -> None:
    """Reach the org's versions list (no login needed, no API request spent)."""
    session = http_session(credentials)
    response = session.get(credentials.login_url.rstrip("/") + "/services/data/", timeout=5)
    response.raise_for_status()

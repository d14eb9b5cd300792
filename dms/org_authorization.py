"""Connecting an org the way Salesforce now expects: the OAuth 2.0 web server flow with PKCE.

`start` keeps what the callback will need (the PKCE verifier, the connected app's secret, who asked) in Redis
under a random `state` for ten minutes, encrypted, and answers the org's authorize URL. The person approves in
the org; the org sends the browser back to the callback with a code and that state. `finish` spends the state
once, checks it is the same person's, trades the code (and the verifier) for a refresh token, and stores a
`web_server` connection whose logins use that refresh token. The refresh token is encrypted with the other
secrets and never shown; access tokens stay in memory (SessionCache).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import requests

from dms.clients import Services
from dms.clients.salesforce import (
    ERROR_TEXT_DROPPED,
    http_session,
    token_request,
)
from dms.connections import ConnectionStore, checked_spec
from dms.errors import DMSError, InvalidRequest, Text

log = logging.getLogger(__name__)

PENDING_PREFIX = "dms:org-authorization:"
PENDING_SECONDS = 600  # how long the person has to approve in the org
# api: the REST and Bulk APIs; refresh_token: logins without the person; id: who approved (the username).
SCOPE = "api refresh_token id"


class AuthorizationExpired(DMSError):
    """A callback whose state is unknown: never issued, already used, expired, or someone else's."""

    code = "ORG_AUTHORIZATION_EXPIRED"
    http_status = 400


class AuthorizationRefused(DMSError):
    """The org (or the person) did not grant the authorization."""

    code = "ORG_AUTHORIZATION_REFUSED"
    http_status = 400


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (86 characters of 43-128 allowed) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class OrgAuthorizations:
    """Web server flow authorizations of one caller (`user_id`), pending in Redis until their callback."""

    def __init__(self, services: Services, connections: ConnectionStore, user_id: str) -> None:
        self.services = services
        self.connections = connections
        self.user_id = user_id

    def start(self, spec: dict[str, Any], redirect_uri: str) -> dict[str, Any]:
        """Check the spec, keep the pending authorization, and answer where to send the person."""
        if spec.get("flow") not in (None, "", "web_server"):
            raise InvalidRequest(Text("An authorization makes a web_server connection."), field="flow")
        for field in ("password", "security_token", "private_key"):
            if spec.get(field):
                raise InvalidRequest(
                    Text("The web server flow takes no `%(field)s`.", field=field), field=field
                )
        fields = checked_spec({**spec, "flow": "web_server"}, self.services.settings)
        if not fields["client_id"]:
            raise InvalidRequest(
                Text("The web server flow needs the connected app's `client_id`."), field="client_id"
            )
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(32)
        client_secret = str(spec.get("client_secret") or "")
        pending = {
            "user_id": self.user_id,
            "fields": fields,
            "redirect_uri": redirect_uri,
            # Redis is not where secrets rest in clear: both are encrypted with the connections' key.
            "verifier": self.connections.encrypt(verifier),
            "client_secret": self.connections.encrypt(client_secret) if client_secret else "",
        }
        self.services.redis.set(PENDING_PREFIX + state, json.dumps(pending), ex=PENDING_SECONDS)
        query = {
            "response_type": "code",
            "client_id": fields["client_id"],
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if fields["username"]:
            query["login_hint"] = fields["username"]
        log.info("org authorization started user=%s login_url=%s", self.user_id, fields["login_url"])
        return {
            "authorize_url": f"{fields['login_url']}/services/oauth2/authorize?{urlencode(query)}",
            "login_url": fields["login_url"],
            "redirect_uri": redirect_uri,
            "expires_in": PENDING_SECONDS,
        }

    def _take(self, state: str) -> dict[str, Any]:
        """The pending authorization of this state, spent (a state works once), if it is this caller's."""
        key = PENDING_PREFIX + state
        raw = self.services.redis.get(key) if state else None
        pending = json.loads(raw) if raw else None
        # Someone else's state is not theirs to finish (nor to spend): it reads as unknown.
        if pending is None or pending.get("user_id") != self.user_id or not self.services.redis.delete(key):
            raise AuthorizationExpired(
                Text(
                    "This authorization is unknown, already used or older than %(number)s minutes, or was "
                    "started by someone else; start it again.",
                    number=PENDING_SECONDS // 60,
                )
            )
        return dict(pending)

    def finish(self, state: str, code: str, error: str = "", error_description: str = "") -> dict[str, Any]:
        """The callback: trade the code for a refresh token and store the connection; its public view."""
        pending = self._take(state)
        fields = pending["fields"]
        if error or not code:
            shown = ERROR_TEXT_DROPPED.sub("", f"{error}: {error_description}".strip(": "))[:200]
            raise AuthorizationRefused(
                Text(
                    "The org did not authorize DMS (%(value)s); nothing was stored.",
                    value=shown or "no code came back",
                )
            )
        client_secret = self.connections.decrypt(pending["client_secret"]) if pending["client_secret"] else ""
        credentials = self.connections.login_credentials(fields, {"client_secret": client_secret})
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending["redirect_uri"],
            "client_id": fields["client_id"],
            "code_verifier": self.connections.decrypt(pending["verifier"]),
        }
        if client_secret:
            form["client_secret"] = client_secret
        session = http_session(credentials)
        answer = token_request(credentials, form, session)
        refresh_token = answer.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise AuthorizationRefused(
                Text(
                    "The org authorized DMS but gave no refresh token: give the connected app the 'Perform "
                    "requests at any time (refresh_token, offline_access)' scope, then connect again."
                )
            )
        username = fields["username"] or _username(session, answer)
        created = self.connections.store_connection(
            {**fields, "username": username},
            {"client_secret": client_secret, "refresh_token": refresh_token},
        )
        log.info("org authorized user=%s connection=%s", self.user_id, created["id"])
        return created


def _username(session: requests.Session, answer: dict[str, Any]) -> str:
    """Who approved, from the org's userinfo at the (checked) instance URL; "" if it cannot tell."""
    try:
        response = session.get(
            answer["instance_url"] + "/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {answer['access_token']}"},
            timeout=15,
            allow_redirects=False,
        )
        name = response.json().get("preferred_username") if response.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError, DMSError):
        return ""
    return ERROR_TEXT_DROPPED.sub("", name)[:200] if isinstance(name, str) else ""

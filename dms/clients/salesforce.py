"""Salesforce sessions: OAuth login at a trusted login URL (a real org, a My Domain, or localorg)."""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client  # the library's step-by-step Bulk 2.0 calls
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from dms.clients.trusted_hosts import TrustedHosts, UntrustedHost
from dms.errors import DMSError

log = logging.getLogger(__name__)


class SalesforceLoginError(DMSError):
    """The org refused the credentials or could not be reached."""

    code = "SALESFORCE_LOGIN_FAILED"
    http_status = 502


class SalesforceUnreachable(SalesforceLoginError):
    """The login could not reach the org, or the org answered it with a server error: try again later."""

    code = "SALESFORCE_UNREACHABLE"
    http_status = 503


class UntrustedInstanceUrl(SalesforceLoginError):
    """The login answered with an instance_url outside the trusted hosts: its token goes nowhere."""

    code = "UNTRUSTED_INSTANCE_URL"


class SalesforceRedirectRefused(DMSError):
    """Salesforce (or what answered for it) redirected a request away from the host it was sent to."""

    code = "SALESFORCE_REDIRECT_REFUSED"
    http_status = 502


@dataclass(frozen=True)
class SalesforceCredentials:
    """How to reach one org. `password` already includes the security token when the org wants one."""

    login_url: str
    username: str = ""
    password: str = ""
    client_id: str = ""
    client_secret: str = ""
    flow: str = "password"  # or "client_credentials", "jwt_bearer", "web_server" (by its refresh token)
    refresh_token: str = ""
    private_key: str = ""  # PEM, for the JWT bearer flow
    ca_bundle: str = ""  # empty: the system trust store
    api_version: str = "62.0"
    trusted_hosts: TrustedHosts = TrustedHosts()  # where the login and its instance_url may be
    # Called with a rotated refresh token (to store it); not part of what identifies the org's session.
    on_new_refresh_token: Callable[[str], None] | None = field(default=None, compare=False)

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
            trusted_hosts=TrustedHosts.from_settings(settings),
        )


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        (parts.hostname or "").lower(),
        parts.port or (443 if parts.scheme == "https" else 80),
    )


class SalesforceSession(requests.Session):
    """A requests session that follows a redirect only within the origin it was sent to.

    requests would follow a 307 to any host, re-sending the body (a login's username and password) and, to a
    host of the same name, the bearer token; one redirect to http://an-internal-host would deliver either."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is not None:
            try:
                same = _origin(urljoin(resp.url, target)) == _origin(resp.url)
            except ValueError:  # a Location no URL parser agrees on
                same = False
            if not same:
                raise SalesforceRedirectRefused(
                    f"{_origin(resp.url)[1]} answered with a redirect (HTTP {resp.status_code}) to another "
                    "address; DMS follows no redirect away from the Salesforce host it called."
                )
        return target


def http_session(credentials: SalesforceCredentials) -> requests.Session:
    """A session that trusts the org's CA (localorg's self-signed one in development), never redirected away."""
    session = SalesforceSession()
    # requests lets REQUESTS_CA_BUNDLE in the environment override session.verify; trust_env=False keeps ours.
    session.trust_env = False
    if credentials.ca_bundle:
        session.verify = credentials.ca_bundle
    return session


# What a shown Salesforce error may not contain: control characters and bidi overrides (a message that rewrites
# the log line or the terminal it is shown on).
ERROR_TEXT_DROPPED = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def oauth_error(response: requests.Response) -> str:
    """Salesforce's OAuth error (`error: error_description`) from a refused login; "" when the body is not one.

    Only that JSON shape is shown, shortened and without control characters: whatever else answered (a proxy's
    page, another service's error) is not echoed into an API error."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    parts = [body["error"], body.get("error_description")]
    text = ": ".join(p for p in parts if isinstance(p, str) and p)
    return ERROR_TEXT_DROPPED.sub("", text)[:200]


def login(credentials: SalesforceCredentials, session: requests.Session | None = None) -> tuple[str, str]:
    """OAuth 2.0 token request by the credentials' flow; returns (instance_url, access_token).

    The login URL is checked against the trusted hosts before anything is sent, and the instance_url the login
    answers before the token is used: both must be Salesforce's domains or hosts the deployment names."""
    answer = token_request(credentials, login_form(credentials), session)
    rotated = answer.get("refresh_token")
    if credentials.flow == "web_server" and isinstance(rotated, str) and rotated != credentials.refresh_token:
        # Refresh token rotation (a connected-app setting): the old one is spent, the new one must be kept.
        if credentials.on_new_refresh_token is not None:
            credentials.on_new_refresh_token(rotated)
    log.info(
        "salesforce login ok login_url=%s instance=%s user=%s flow=%s",
        credentials.login_url,
        answer["instance_url"],
        credentials.username,
        credentials.flow,
    )
    return answer["instance_url"], answer["access_token"]


def login_form(credentials: SalesforceCredentials, now: float | None = None) -> dict[str, str]:
    """The token request's form for the credentials' flow (its secrets are in it: never log it)."""
    client = {"client_id": credentials.client_id}
    if credentials.client_secret:
        client["client_secret"] = credentials.client_secret
    if credentials.flow == "password":
        return {
            "grant_type": "password",
            **client,
            "username": credentials.username,
            "password": credentials.password,
        }
    if credentials.flow == "client_credentials":
        return {"grant_type": "client_credentials", **client}
    if credentials.flow == "web_server":  # logs in with the refresh token the authorization gave
        return {"grant_type": "refresh_token", **client, "refresh_token": credentials.refresh_token}
    if credentials.flow == "jwt_bearer":
        assertion = jwt_assertion(
            issuer=credentials.client_id,
            subject=credentials.username,
            audience=jwt_audience(credentials.login_url),
            private_key_pem=credentials.private_key,
            now=time.time() if now is None else now,
        )
        return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
    raise SalesforceLoginError(f"DMS cannot log in with the {credentials.flow!r} flow.")


def token_request(
    credentials: SalesforceCredentials, form: dict[str, str], session: requests.Session | None = None
) -> dict[str, Any]:
    """POST a form to the login URL's token endpoint; the answer, its instance_url checked as trusted.

    Shared by every flow's login and by the web server flow's code exchange."""
    origin = credentials.trusted_hosts.check(credentials.login_url, "login_url")
    session = session or http_session(credentials)
    try:
        response = session.post(
            origin + "/services/oauth2/token", data=form, timeout=30, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise SalesforceUnreachable(f"Could not reach {origin}: {exc.__class__.__name__}.") from exc
    if response.status_code in TRANSIENT_HTTP_STATUSES:
        raise SalesforceUnreachable(f"{origin} answered the login with HTTP {response.status_code}.")
    if response.is_redirect:
        raise SalesforceRedirectRefused(
            f"{origin} answered the login with a redirect (HTTP {response.status_code}); DMS sends "
            "credentials to the login URL only. Use the org's My Domain login URL."
        )
    if response.status_code != 200:
        detail = oauth_error(response)
        if detail:
            raise SalesforceLoginError(f"Salesforce refused the login at {origin}: {detail}")
        raise SalesforceLoginError(
            f"{origin} refused the login with HTTP {response.status_code} and an answer that is not a "
            "Salesforce OAuth error (not shown)."
        )
    try:
        body = response.json()
        instance_url, token = body["instance_url"], body["access_token"]
    except (ValueError, TypeError, KeyError):
        token = None
    if not isinstance(token, str) or not token:
        raise SalesforceLoginError(f"{origin} answered the login with something other than a token.")
    try:
        body["instance_url"] = credentials.trusted_hosts.check(instance_url, "instance_url")
    except UntrustedHost:
        raise UntrustedInstanceUrl(
            f"The login at {origin} answered with an instance_url that is not on a Salesforce domain nor a "
            "host this deployment trusts; DMS sent the token nowhere.",
            field="instance_url",
        ) from None
    return dict(body)


JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce's docs ask for an assertion that expires within 3 minutes


def jwt_audience(login_url: str) -> str:
    """The `aud` Salesforce wants: login.salesforce.com, or test.salesforce.com for sandboxes (My Domain logins
    included); any other trusted host (an Experience Cloud site, localorg) is its own audience."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host == "salesforce.com" or host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    parts = urlsplit(login_url)
    return f"{parts.scheme}://{parts.netloc}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signing_key(private_key_pem: str) -> rsa.RSAPrivateKey | None:
    """The RSA key of an unencrypted PEM private key; None when it is not one (not PEM, encrypted, not RSA)."""
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, rsa.RSAPrivateKey) else None


def jwt_assertion(issuer: str, subject: str, audience: str, private_key_pem: str, now: float) -> str:
    """A JWT signed RS256 with the connected app's private key, as the JWT bearer flow sends it."""
    key = signing_key(private_key_pem)
    if key is None:
        raise SalesforceLoginError(
            "The connection's private key is not an unencrypted PEM RSA key (RS256); store it again."
        )
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = {"iss": issuer, "sub": subject, "aud": audience, "exp": int(now) + JWT_LIFETIME_SECONDS}
    payload = _b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


def connect(credentials: SalesforceCredentials) -> Salesforce:
    """A simple-salesforce client on a fresh session."""
    session = http_session(credentials)
    instance_url, token = login(credentials, session)
    return Salesforce(
        instance_url=instance_url, session_id=token, session=session, version=credentials.api_version
    )


def ping(credentials: SalesforceCredentials) -> None:
    """Reach the org's versions list (no login needed, no API request spent)."""
    origin = credentials.trusted_hosts.check(credentials.login_url, "login_url")
    session = http_session(credentials)
    response = session.get(origin + "/services/data/", timeout=5)
    response.raise_for_status()


# Salesforce answers these when it is busy, not when the request is wrong: try again after a pause.
TRANSIENT_ERROR_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "QUERY_TIMEOUT"}
)
TRANSIENT_HTTP_STATUSES = frozenset({500, 502, 503, 504})


class SalesforceTransientError(DMSError):
    """Salesforce stayed busy through every retry; the work can be tried again later."""

    code = "SALESFORCE_BUSY"
    http_status = 503


OBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")  # Salesforce API names: letters, digits, underscores


def check_object_name(name: object) -> str:
    """An sObject API name, or a 400 that says what a name looks like (never a path or a query)."""
    if not isinstance(name, str) or not OBJECT_NAME.fullmatch(name):
        shown = repr(name)[:60]
        raise DMSError(
            f"{shown} is not a Salesforce object name (letters, digits and underscores, e.g. Account).",
            code="INVALID_OBJECT_NAME",
        )
    return name


class SalesforceRequestError(DMSError):
    """Salesforce refused a request; `sf_code` carries its errorCode."""

    code = "SALESFORCE_ERROR"
    http_status = 502


def error_codes(exc: SalesforceError) -> list[str]:
    """The errorCode values in a simple-salesforce error's content (a list of dicts, a dict, or text)."""
    content: Any = exc.content
    items: list[Any] = content if isinstance(content, list) else [content]
    return [str(i.get("errorCode")) for i in items if isinstance(i, dict) and i.get("errorCode")]


SALESFORCE_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,79}")  # INVALID_FIELD, REQUEST_LIMIT_EXCEEDED...


def salesforce_error(exc: SalesforceError) -> tuple[str, str]:
    """(errorCode, message) of a refusal in Salesforce's JSON error shape; else ("HTTP_<status>", "").

    Only that shape is passed on, shortened and without control characters: an answer of another shape (a
    proxy's page, a load balancer's error) is named by its status alone, never echoed into an API error or a
    result file."""
    content: Any = exc.content
    first = (content[0] if content else None) if isinstance(content, list) else content
    if isinstance(first, dict):
        code, message = first.get("errorCode"), first.get("message")
        if isinstance(code, str) and SALESFORCE_ERROR_CODE.fullmatch(code) and isinstance(message, str):
            return code, ERROR_TEXT_DROPPED.sub("", message)[:300]
    return f"HTTP_{exc.status}", ""


def is_transient(exc: Exception) -> bool:
    """Whether an error is Salesforce being busy (retry) rather than the request being wrong."""
    if isinstance(exc, requests.ConnectionError | requests.Timeout | SalesforceUnreachable):
        return True
    if isinstance(exc, SalesforceError):
        return exc.status in TRANSIENT_HTTP_STATUSES or bool(TRANSIENT_ERROR_CODES & set(error_codes(exc)))
    return False


T = TypeVar("T")


class SessionCache:
    """Access tokens per org, shared by every OrgClient of the process.

    Each load task makes its own client; without this every chunk would cost a login, and Salesforce
    limits how many times a user may log in per hour (a 10 GB file is ~1,600 chunks, more with re-checks).
    A token that stopped working (expired, revoked) is dropped and the next client logs in again.
    Tokens stay in this process's memory only: never in Redis, never logged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[SalesforceCredentials, tuple[str, str]] = {}

    def get(self, credentials: SalesforceCredentials) -> tuple[str, str] | None:
        with self._lock:
            return self._tokens.get(credentials)

    def put(self, credentials: SalesforceCredentials, instance_url: str, token: str) -> None:
        with self._lock:
            self._tokens[credentials] = (instance_url, token)

    def drop(self, credentials: SalesforceCredentials, token: str) -> None:
        """Forget the token if it is still the cached one (another client may have renewed it already)."""
        with self._lock:
            if self._tokens.get(credentials, ("", ""))[1] == token:
                del self._tokens[credentials]


SESSIONS = SessionCache()
MAX_RELOGINS = 3  # per call; past that the credentials or the org are the problem, not a stale session


class OrgClient:
    """One org as the pipeline sees it: counted API calls, retries with backoff, re-login on expiry."""

    def __init__(
        self,
        credentials: SalesforceCredentials,
        *,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        reuse_session: bool = True,
    ) -> None:
        self.credentials = credentials
        self.reuse_session = reuse_session  # False: log in even with a session at hand (testing a connection)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        # every HTTP request this client made (Salesforce counts them against the daily limit)
        self.api_calls = 0
        self.logins = 0  # logins this client made (not API calls; a cached session needs none)
        self._sf: Salesforce | None = None

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce client on the process's session for this org, logging in if it has none."""
        if self._sf is None:
            session = http_session(self.credentials)
            session.hooks["response"].append(self._count)
            cached = SESSIONS.get(self.credentials) if self.reuse_session else None
            if cached is None:
                cached = login(self.credentials, session)
                self.logins += 1
                SESSIONS.put(self.credentials, *cached)
            instance_url, token = cached
            self._sf = Salesforce(
                instance_url=instance_url,
                session_id=token,
                session=session,
                version=self.credentials.api_version,
            )
        return self._sf

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # Logins do not count against the org's daily API request limit; everything else does.
        if "/services/oauth2/" not in response.url and "/services/Soap/" not in response.url:
            self.api_calls += 1

    def call(self, action: Callable[[Salesforce], T], what: str = "request") -> T:
        """Run one Salesforce call with retries on busy answers and re-logins on an expired session."""
        relogins = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return action(self.sf)
            except SalesforceExpiredSession:
                # A fresh session can be revoked again before its first request (sessions expired by an
                # admin, or by another client of the org): a few re-logins, each taking one attempt.
                if relogins == MAX_RELOGINS or attempt == self.max_attempts:
                    raise
                log.info("salesforce session expired; logging in again what=%s", what)
                if self._sf is not None:
                    SESSIONS.drop(self.credentials, self._sf.session_id)
                self._sf = None
                relogins += 1
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == self.max_attempts:
                    raise SalesforceTransientError(
                        f"Salesforce was busy for {what} after {attempt} attempts: {_describe(exc)}"
                    ) from exc
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (
                    0.5 + random.random() / 2
                )
                log.warning(
                    "salesforce busy what=%s attempt=%d retry_in=%.2fs error=%s",
                    what,
                    attempt,
                    delay,
                    _describe(exc),
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's describe JSON (the name is checked first: it becomes part of a URL)."""
        check_object_name(object_name)
        return dict(self.rest("GET", f"sobjects/{object_name}/describe"))

    def describe_global(self) -> list[dict[str, Any]]:
        """Every object of the org, as describe global lists them."""
        return list(self.rest("GET", "sobjects").get("sobjects") or [])

    def bulk(self, object_name: str) -> _Bulk2Client:
        """simple-salesforce's step-by-step Bulk 2.0 client for one object (current session)."""
        return getattr(self.sf.bulk2, object_name)._client  # type: ignore[no-any-return]

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call relative to /services/data/vXX.X/ (JSON in and out)."""
        return self.call(
            lambda sf: sf.restful(path, method=method, **kwargs), what=f"{method} {path.split('?')[0]}"
        )


def _describe(exc: Exception) -> str:
    if isinstance(exc, SalesforceError):
        return f"HTTP {exc.status} {','.join(error_codes(exc)) or ''}".strip()
    return exc.__class__.__name__

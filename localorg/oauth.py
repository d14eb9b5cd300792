"""OAuth 2.0 and identity: the token grants, the web server flow's consent page, revoke, identity URL, userinfo."""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, current_app, request

from localorg import MAX_API_VERSION, MIN_API_VERSION
from localorg.grants import (
    SUPPORTED_SCOPES,
    AuthorizationCode,
    GrantError,
    RefreshGrant,
    allows_refresh,
    callback_allowed,
    parse_scope,
)
from localorg.ids import to_18
from localorg.jwt_bearer import GRANT_TYPE as JWT_GRANT
from localorg.jwt_bearer import verify_assertion
from localorg.org import LocalOrg
from localorg.store import ORG_ID

oauth_api = Blueprint("oauth_api", __name__)

_GRANTS = frozenset({"password", "client_credentials", "authorization_code", "refresh_token", JWT_GRANT})
_VERSION = re.compile(r"\d{2}\.\d")
# The User fields the identity service reports; an imported User describe may lack some of them.
_PROFILE_FIELDS = (
    "Username",
    "FirstName",
    "LastName",
    "Name",
    "Email",
    "CommunityNickname",
    "Alias",
    "Street",
    "City",
    "State",
    "PostalCode",
    "Country",
    "MobilePhone",
    "IsActive",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "LanguageLocaleKey",
    "LastModifiedDate",
)


def _org() -> LocalOrg:
    return current_app.config["LOCALORG"]  # type: ignore[no-any-return]


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return _json({"error": error, "error_description": description}, status)


def _instance_url() -> str:
    return request.host_url.rstrip("/")


def identity_url(user_id: str) -> str:
    """The identity URL of a user of this org, as OAuth answers and the resources list give it."""
    return f"{_instance_url()}/id/{ORG_ID}/{user_id}"


# ---- token endpoint ----------------------------------------------------------------------------------------


def _client_credentials() -> tuple[str, str] | None:
    """client_id and client_secret from the form or a Basic header; None when the header is garbled."""
    client_id, client_secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    basic = request.headers.get("Authorization", "")
    if basic.lower().startswith("basic "):
        try:
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    return client_id, client_secret


def _token_body(
    access_token: str, scope: str | None = None, refresh_token: str | None = None
) -> dict[str, str]:
    """Salesforce's token answer, in its order; scope only for grants that asked for one."""
    local = _org()
    identity = identity_url(local.store.user_id)
    issued_at = str(int(time.time() * 1000))
    body: dict[str, str] = {"access_token": access_token}
    if refresh_token:
        body["refresh_token"] = refresh_token
    body["signature"] = local.credentials.sign(identity, issued_at)
    if scope is not None:
        body["scope"] = scope
    body.update(instance_url=_instance_url(), id=identity, token_type="Bearer", issued_at=issued_at)
    return body


def _token_answer(access_token: str, scope: str | None = None, refresh_token: str | None = None) -> Response:
    return _json(_token_body(access_token, scope, refresh_token))


@oauth_api.post("/services/oauth2/token")
def token() -> Response:
    """OAuth 2.0 token endpoint: password, client_credentials, authorization_code (PKCE), refresh_token."""
    local = _org()
    form = request.form
    grant = form.get("grant_type", "")
    if grant == JWT_GRANT:  # the signed assertion is the client's proof: no secret is sent
        return _jwt_grant(local)
    client = _client_credentials()
    if client is None:
        return _oauth_error("invalid_client", "invalid client credentials")
    client_id, client_secret = client
    if grant not in _GRANTS:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if client_id != local.credentials.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    # The web server and refresh flows may leave the secret out (a PKCE client has none); a given one must match.
    secret_ok = local.credentials.check_client(client_id, client_secret)
    if not secret_ok and (client_secret or grant in {"password", "client_credentials"}):
        return _oauth_error("invalid_client", "invalid client credentials")
    if grant == "password":
        outcome = local.credentials.check_password(form.get("username", ""), form.get("password", ""))
        if outcome != "ok":
            return _oauth_error("invalid_grant", "authentication failure")
    if grant in {"password", "client_credentials"}:
        return _token_answer(local.sessions.issue())
    if grant == "refresh_token":
        refresh_token = form.get("refresh_token", "")
        saved = local.refresh_tokens.get(refresh_token)
        return _grant_answer(local, client_id, saved, "expired access/refresh token", refresh_token)
    return _code_grant(local, client_id, secret_ok)


def _jwt_grant(local: LocalOrg) -> Response:
    try:
        verify_assertion(
            request.form.get("assertion", ""),
            local.credentials.jwt_public_key(),
            local.credentials.client_id,
            local.credentials.username,
            _instance_url(),
        )
    except GrantError as error:
        return _oauth_error(error.error, error.description)
    return _token_answer(local.sessions.issue(), "api id")


def _code_grant(local: LocalOrg, client_id: str, secret_ok: bool) -> Response:
    form = request.form
    try:
        approved = local.authorization_codes.redeem(
            form.get("code", ""), form.get("redirect_uri", ""), form.get("code_verifier")
        )
    except GrantError as error:
        return _oauth_error(error.error, error.description)
    if approved.code_challenge is None and not secret_ok:
        # Without PKCE the secret is what proves the code reached its own client.
        return _oauth_error("invalid_client", "invalid client credentials")
    return _grant_answer(local, client_id, approved, "invalid authorization code")


def _grant_answer(
    local: LocalOrg,
    client_id: str,
    grant: AuthorizationCode | RefreshGrant | None,
    refusal: str,
    refresh_token: str | None = None,
) -> Response:
    """The answer to a redeemed authorization code or a refresh token: invalid_grant (`refusal`) when there is
    none or the requesting client is not the one it was granted to, else a new access token with the grant's
    scope. A refresh token is kept (no rotation) and answers for this access token too; a code whose scope
    allows it brings a new refresh token."""
    if grant is None or not hmac.compare_digest(grant.client_id, client_id):
        return _oauth_error("invalid_grant", refusal)
    access_token = local.sessions.issue()
    if refresh_token is not None:
        local.refresh_tokens.attach(refresh_token, access_token)
        return _token_answer(access_token, grant.scope)
    issued = (
        local.refresh_tokens.issue(client_id, grant.scope, access_token)
        if allows_refresh(grant.scope)
        else None
    )
    return _token_answer(access_token, grant.scope, issued)


@oauth_api.route("/services/oauth2/revoke", methods=["GET", "POST"])
def revoke() -> Response:
    """Revoke an access token, or a refresh token and every access token it handed out."""
    local = _org()
    token_value = request.values.get("token", "")
    if token_value and local.sessions.is_live(token_value):
        local.sessions.revoke(token_value)
        return Response(status=200)
    access_tokens = local.refresh_tokens.revoke(token_value) if token_value else None
    if access_tokens is not None:
        for access_token in access_tokens:
            local.sessions.revoke(access_token)
        return Response(status=200)
    if token_value.startswith((f"{ORG_ID[:15]}!", "5Aep")):
        return _oauth_error("invalid_token", "invalid token")  # one of ours, but revoked or expired
    return _oauth_error("unsupported_token_type", "this token type is not supported")


# ---- web server flow: authorize and consent ------------------------------------------------------------------

_AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)

_CONSENT_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Allow Access? | localorg</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:3rem auto;color:#222}}
label{{display:block;margin:.6rem 0 .2rem}}input[type=text],input[type=password]{{width:100%;padding:.4rem}}
.error{{color:#b00}}button{{margin:1rem .5rem 0 0;padding:.4rem 1.2rem}}</style></head>
<body><h1>Allow Access?</h1>
<p><b>{client_id}</b> is asking to access this org (localorg) as you, with scope <code>{scope}</code>,
and to send you back to <code>{redirect_uri}</code>.</p>
{error}<form method="post" action="/services/oauth2/authorize">
{hidden}<label for="username">Username</label><input type="text" id="username" name="username" value="{username}">
<label for="password">Password</label><input type="password" id="password" name="password">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>
"""


def _plain_error(error: str, description: str) -> Response:
    """An error Salesforce shows on its own page because the callback cannot be trusted with it."""
    return Response(
        urlencode({"error": error, "error_description": description}), status=400, mimetype="text/plain"
    )


def _redirect(redirect_uri: str, params: dict[str, str | None], fragment: bool = False) -> Response:
    separator = "#" if fragment else ("&" if "?" in redirect_uri else "?")
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return Response(status=302, headers={"Location": redirect_uri + separator + query})


def _consent_page(values: dict[str, str], error: str = "") -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(values[name])}">\n'
        for name in _AUTHORIZE_FIELDS
        if values.get(name)
    )
    page = _CONSENT_PAGE.format(
        client_id=escape(values["client_id"]),
        scope=escape(values["granted_scope"]),
        redirect_uri=escape(values["redirect_uri"]),
        error=f'<p class="error">{escape(error)}</p>\n' if error else "",
        hidden=hidden,
        username=escape(values.get("username") or values.get("login_hint") or ""),
    )
    response = Response(page, mimetype="text/html")
    # A login form: never framed by another site, never cached.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


@oauth_api.route("/services/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """The authorization endpoint: a consent page (GET) and its answer (POST), redirecting to the callback."""
    local = _org()
    values = {name: request.values.get(name, "") for name in (*_AUTHORIZE_FIELDS, "login_hint", "username")}
    if values["client_id"] != local.credentials.client_id:
        return _plain_error("invalid_client_id", "client identifier invalid")
    redirect_uri = values["redirect_uri"]
    if not callback_allowed(redirect_uri, local.credentials.callback_urls):
        return _plain_error("redirect_uri_mismatch", "redirect_uri must match configuration")
    state = values["state"] or None
    response_type = values["response_type"]
    if response_type not in {"code", "token"}:
        return _redirect(
            redirect_uri,
            {
                "error": "unsupported_response_type",
                "error_description": "response type not supported",
                "state": state,
            },
        )
    try:
        values["granted_scope"] = parse_scope(values["scope"])
    except GrantError as error:
        return _redirect(
            redirect_uri, {"error": error.error, "error_description": error.description, "state": state}
        )
    if values["code_challenge"] and values["code_challenge_method"] not in {"", "S256"}:
        return _redirect(
            redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "invalid code challenge method",
                "state": state,
            },
        )
    if request.method == "GET":
        return _consent_page(values)
    if request.form.get("decision") != "allow":
        return _redirect(
            redirect_uri,
            {"error": "access_denied", "error_description": "end-user denied authorization", "state": state},
            fragment=response_type == "token",
        )
    outcome = local.credentials.check_password(values["username"], request.form.get("password", ""))
    if outcome not in {"ok", "needs_token"}:  # the security token is for API logins, not this page
        return _consent_page(values, "Please check your username and password.")
    scope = values["granted_scope"]
    if response_type == "code":
        code = local.authorization_codes.issue(
            values["client_id"], redirect_uri, scope, values["code_challenge"] or None
        )
        return _redirect(redirect_uri, {"code": code, "state": state})
    # The user-agent flow: the token travels in the fragment, never in a server log.
    answer: dict[str, str | None] = {**_token_body(local.sessions.issue(), scope), "state": state}
    return _redirect(redirect_uri, answer, fragment=True)


@oauth_api.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    """The OpenID Connect discovery document of the endpoints localorg implements."""
    base = _instance_url()
    return _json(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/services/oauth2/authorize",
            "token_endpoint": f"{base}/services/oauth2/token",
            "revocation_endpoint": f"{base}/services/oauth2/revoke",
            "userinfo_endpoint": f"{base}/services/oauth2/userinfo",
            "scopes_supported": sorted(SUPPORTED_SCOPES),
            "response_types_supported": ["code", "token"],
            "grant_types_supported": sorted(_GRANTS),
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        }
    )


# ---- identity URL and userinfo -------------------------------------------------------------------------------


def _presented_token() -> str | None:
    """The access token of a Bearer/OAuth header or an oauth_token (or access_token) parameter."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and value.strip():
        return value.strip()
    return request.values.get("oauth_token") or request.values.get("access_token") or None


def _identity_refusal() -> Response | None:
    """The identity service's plain-text 403 for a missing or bad token, else None."""
    presented = _presented_token()
    if presented is None:
        return Response("Missing_OAuth_Token", status=403, mimetype="text/plain")
    if not _org().sessions.is_live(presented):
        return Response("Bad_OAuth_Token", status=403, mimetype="text/plain")
    return None


def _user_row(local: LocalOrg) -> dict[str, Any]:
    user = local.store.schema.get("User")
    if user is None:
        return {}
    fields = [f for name in _PROFILE_FIELDS if (f := user.field(name)) is not None and f.stored]
    return local.store.fetch_by_ids(user, [local.store.user_id], fields).get(local.store.user_id, {})


def _utc_offset_ms(zone: str) -> int:
    """The standard (non-daylight) offset of a time zone in milliseconds, as Salesforce's utcOffset gives it."""
    try:
        info = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    now = datetime.now(UTC)
    offset = info.utcoffset(now) or timedelta(0)
    return int((offset - (info.dst(now) or timedelta(0))).total_seconds() * 1000)


def _modified(row: dict[str, Any]) -> datetime:
    try:
        return datetime.strptime(str(row.get("LastModifiedDate")), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return datetime.now(UTC)


def _urls(user_id: str, version: str) -> dict[str, str]:
    base, org15 = _instance_url(), ORG_ID[:15]
    data = f"{base}/services/data/v{version}"
    return {
        "enterprise": f"{base}/services/Soap/c/{version}/{org15}",
        "metadata": f"{base}/services/Soap/m/{version}/{org15}",
        "partner": f"{base}/services/Soap/u/{version}/{org15}",
        "rest": f"{data}/",
        "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/",
        "query": f"{data}/query/",
        "recent": f"{data}/recent/",
        "tooling_soap": f"{base}/services/Soap/T/{version}/{org15}",
        "tooling_rest": f"{data}/tooling/",
        "profile": f"{base}/{user_id}",
        "feeds": f"{data}/chatter/feeds",
        "groups": f"{data}/chatter/groups",
        "users": f"{data}/chatter/users",
        "feed_items": f"{data}/chatter/feed-items",
        "feed_elements": f"{data}/chatter/feed-elements",
        "custom_domain": base,
    }


def _photos(user_id: str) -> dict[str, str]:
    base = _instance_url()
    return {
        "picture": f"{base}/profilephoto/{user_id[:3]}/F",
        "thumbnail": f"{base}/profilephoto/{user_id[:3]}/T",
    }


def _nickname(row: dict[str, Any], username: str) -> str:
    return str(row.get("CommunityNickname") or row.get("Alias") or username.partition("@")[0])


@oauth_api.route("/id/<org_id>/<user_id>", methods=["GET", "POST"])
def identity(org_id: str, user_id: str) -> Response:
    """The identity URL: who the token's user is and where the org's APIs are."""
    refusal = _identity_refusal()
    if refusal is not None:
        return refusal
    local = _org()
    if to_18(org_id) != ORG_ID:  # None for a malformed id, which is no org either
        return Response("Wrong_Org", status=403, mimetype="text/plain")
    if to_18(user_id) != local.store.user_id:
        return Response("Bad_Id", status=404, mimetype="text/plain")
    version = request.values.get("version", "{version}")
    if version == "latest":
        version = f"{MAX_API_VERSION:.1f}"
    elif version != "{version}" and not (
        _VERSION.fullmatch(version) and MIN_API_VERSION <= float(version) <= MAX_API_VERSION
    ):
        return Response("Invalid_Version", status=406, mimetype="text/plain")
    row = _user_row(local)
    username = str(row.get("Username") or local.credentials.username)
    uid = local.store.user_id
    return _json(
        {
            "id": identity_url(uid),
            "asserted_user": True,
            "user_id": uid,
            "organization_id": ORG_ID,
            "username": username,
            "nick_name": _nickname(row, username),
            "display_name": row.get("Name") or username,
            "email": row.get("Email") or username,
            "email_verified": True,
            "first_name": row.get("FirstName"),
            "last_name": row.get("LastName"),
            "timezone": row.get("TimeZoneSidKey") or "GMT",
            "photos": _photos(uid),
            "addr_street": row.get("Street"),
            "addr_city": row.get("City"),
            "addr_state": row.get("State"),
            "addr_country": row.get("Country"),
            "addr_zip": row.get("PostalCode"),
            "mobile_phone": row.get("MobilePhone"),
            "mobile_phone_verified": False,
            "is_lightning_login_user": False,
            "status": {"created_date": None, "body": None},
            "urls": _urls(uid, version),
            "active": bool(row.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": row.get("LanguageLocaleKey") or "en_US",
            "locale": row.get("LocaleSidKey") or "en_US",
            "utcOffset": _utc_offset_ms(str(row.get("TimeZoneSidKey") or "GMT")),
            "last_modified_date": _modified(row).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "is_app_installed": True,
        }
    )


@oauth_api.route("/services/oauth2/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """OpenID Connect UserInfo: the token's user as OpenID claims plus Salesforce's extras."""
    refusal = _identity_refusal()
    if refusal is not None:
        return refusal
    local = _org()
    row = _user_row(local)
    uid = local.store.user_id
    username = str(row.get("Username") or local.credentials.username)
    address = {
        claim: row.get(name)
        for claim, name in (
            ("street_address", "Street"),
            ("locality", "City"),
            ("region", "State"),
            ("postal_code", "PostalCode"),
            ("country", "Country"),
        )
        if row.get(name)
    }
    photos = _photos(uid)
    return _json(
        {
            "sub": identity_url(uid),
            "user_id": uid,
            "organization_id": ORG_ID,
            "preferred_username": username,
            "nickname": _nickname(row, username),
            "name": row.get("Name") or username,
            "email": row.get("Email") or username,
            "email_verified": True,
            "given_name": row.get("FirstName"),
            "family_name": row.get("LastName"),
            "zoneinfo": row.get("TimeZoneSidKey") or "GMT",
            "photos": photos,
            "profile": f"{_instance_url()}/{uid}",
            "picture": photos["picture"],
            "address": address,
            "is_salesforce_integration_user": False,
            "urls": _urls(uid, "{version}"),
            "active": bool(row.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": row.get("LanguageLocaleKey") or "en_US",
            "locale": row.get("LocaleSidKey") or "en_US",
            "utcOffset": _utc_offset_ms(str(row.get("TimeZoneSidKey") or "GMT")),
            "updated_at": _modified(row).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "is_app_installed": True,
        }
    )

"""OAuth web server flow (PKCE), refresh and revoke, the identity URL and userinfo: through unmodified
simple-salesforce where it has the call, plain requests where it does not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from localorg.grants import CodeRegistry, GrantError, callback_allowed, pkce_challenge
from localorg.testing import LocalOrgHandle, running_localorg

CALLBACK = "http://localhost:1717/OauthRedirect"
VERIFIER = "a-verifier-of-enough-length-0123456789-0123456789-abcdefghijklmnop"
IDENTITY_FIELDS = {
    "id",
    "asserted_user",
    "user_id",
    "organization_id",
    "username",
    "nick_name",
    "display_name",
    "email",
    "email_verified",
    "first_name",
    "last_name",
    "timezone",
    "photos",
    "addr_street",
    "addr_city",
    "addr_state",
    "addr_country",
    "addr_zip",
    "mobile_phone",
    "status",
    "urls",
    "active",
    "user_type",
    "language",
    "locale",
    "utcOffset",
    "last_modified_date",
    "is_app_installed",
}
URL_NAMES = {
    "enterprise",
    "metadata",
    "partner",
    "rest",
    "sobjects",
    "search",
    "query",
    "recent",
    "profile",
    "feeds",
    "groups",
    "users",
    "feed_items",
    "custom_domain",
}
USERINFO_FIELDS = {
    "sub",
    "user_id",
    "organization_id",
    "preferred_username",
    "nickname",
    "name",
    "email",
    "email_verified",
    "given_name",
    "family_name",
    "zoneinfo",
    "photos",
    "profile",
    "picture",
    "address",
    "is_salesforce_integration_user",
    "urls",
    "active",
    "user_type",
    "language",
    "locale",
    "utcOffset",
    "updated_at",
}


def _authorize_url(org: LocalOrgHandle, **overrides: str) -> str:
    query = {
        "response_type": "code",
        "client_id": org.client_id,
        "redirect_uri": CALLBACK,
        "state": "s-42",
        "scope": "api refresh_token id",
        "code_challenge": pkce_challenge(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return f"{org.base_url}/services/oauth2/authorize?{urlencode(query)}"


def _callback_params(url: str, fragment: bool = False) -> dict[str, str]:
    parts = urlsplit(url)
    return {name: values[0] for name, values in parse_qs(parts.fragment if fragment else parts.query).items()}


def _exchange(org: LocalOrgHandle, code: str, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": org.client_id,
        "code_verifier": VERIFIER,
        **overrides,
    }
    with org.requests_session() as session:
        return session.post(org.base_url + "/services/oauth2/token", data=form)


def _code(org: LocalOrgHandle, **overrides: str) -> str:
    return _callback_params(org.approve_authorization(_authorize_url(org, **overrides)))["code"]


def _post_form(org: LocalOrgHandle, path: str, form: dict[str, str]) -> requests.Response:
    with org.requests_session() as session:
        return session.post(org.base_url + path, data=form)


def _salesforce(org: LocalOrgHandle, access_token: str) -> Salesforce:
    return Salesforce(instance_url=org.base_url, session_id=access_token, session=org.requests_session())


def _get(org: LocalOrgHandle, url: str, token: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with org.requests_session() as session:
        return session.get(url, headers=headers, params=params)


# ---- identity URL --------------------------------------------------------------------------------------------


def test_resources_list_names_the_absolute_identity_url(org: LocalOrgHandle, sf: Any) -> None:
    token, _ = org.login()
    with org.requests_session() as session:
        token_id = session.post(
            org.base_url + "/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": org.client_id,
                "client_secret": org.client_secret,
                "username": org.username,
                "password": org.password,
            },
        ).json()["id"]
    resources = sf.restful("")
    assert resources["identity"] == token_id
    assert re.fullmatch(re.escape(org.base_url) + r"/id/00D\w{15}/005\w{15}", resources["identity"])
    assert resources["sobjects"] == "/services/data/v62.0/sobjects"


def test_identity_url_answers_like_salesforce(org: LocalOrgHandle, sf: Any) -> None:
    identity_url = sf.restful("")["identity"]
    body = _get(org, identity_url, sf.session_id).json()
    assert set(body) >= IDENTITY_FIELDS
    assert body["id"] == identity_url
    assert body["asserted_user"] is True
    assert body["username"] == org.username
    assert body["display_name"] == "Integration User"
    assert (body["first_name"], body["last_name"]) == ("Integration", "User")
    assert body["user_type"] == "STANDARD"
    assert body["active"] is True
    assert (body["timezone"], body["utcOffset"], body["locale"]) == ("GMT", 0, "en_US")
    assert identity_url.endswith(f"/{body['organization_id']}/{body['user_id']}")
    assert set(body["urls"]) >= URL_NAMES
    assert body["urls"]["rest"] == f"{org.base_url}/services/data/v{{version}}/"
    assert (
        body["urls"]["partner"]
        == f"{org.base_url}/services/Soap/u/{{version}}/{body['organization_id'][:15]}"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", body["last_modified_date"])


def test_identity_takes_the_token_as_a_parameter_and_fills_in_the_version(
    org: LocalOrgHandle, sf: Any
) -> None:
    identity_url = sf.restful("")["identity"]
    pinned = _get(org, identity_url, oauth_token=sf.session_id, version="62.0")
    assert pinned.status_code == 200
    assert pinned.json()["urls"]["sobjects"] == f"{org.base_url}/services/data/v62.0/sobjects/"
    latest = _get(org, identity_url, oauth_token=sf.session_id, version="latest").json()
    assert latest["urls"]["query"] == f"{org.base_url}/services/data/v66.0/query/"
    bad = _get(org, identity_url, oauth_token=sf.session_id, version="nine")
    assert (bad.status_code, bad.text) == (406, "Invalid_Version")


def test_identity_reflects_the_user_record(org: LocalOrgHandle, sf: Any) -> None:
    identity_url = sf.restful("")["identity"]
    user_id = identity_url.rsplit("/", 1)[1]
    sf.User.update(user_id, {"FirstName": "Ada", "TimeZoneSidKey": "America/New_York", "Country": "US"})
    body = _get(org, identity_url, sf.session_id).json()
    assert (body["first_name"], body["display_name"], body["addr_country"]) == ("Ada", "Ada User", "US")
    assert (body["timezone"], body["utcOffset"]) == ("America/New_York", -5 * 3600 * 1000)


@pytest.mark.parametrize(
    ("token", "path_change", "status", "text"),
    [
        (None, None, 403, "Missing_OAuth_Token"),
        ("00D5L0000000001!AQnotarealtoken", None, 403, "Bad_OAuth_Token"),
        ("live", ("00D5L0000000001", "00D5L0000000002"), 403, "Wrong_Org"),
        ("live", ("0055L0000000001", "0055L0000000009"), 404, "Bad_Id"),
    ],
)
def test_identity_refuses_like_salesforce(
    org: LocalOrgHandle,
    sf: Any,
    token: str | None,
    path_change: tuple[str, str] | None,
    status: int,
    text: str,
) -> None:
    identity_url = sf.restful("")["identity"]
    if path_change:
        # 15-character ids: the path names another org or user, not a malformed one.
        head, org_id, user_id = identity_url.rsplit("/", 2)
        identity_url = f"{head}/{org_id[:15]}/{user_id[:15]}".replace(*path_change)
    response = _get(org, identity_url, sf.session_id if token == "live" else token)
    assert (response.status_code, response.text) == (status, text)


def test_identity_refuses_an_expired_session(org: LocalOrgHandle, sf: Any) -> None:
    identity_url = sf.restful("")["identity"]
    org.expire_sessions()
    response = _get(org, identity_url, oauth_token=sf.session_id)
    assert (response.status_code, response.text) == (403, "Bad_OAuth_Token")


# ---- userinfo ------------------------------------------------------------------------------------------------


def test_userinfo_through_simple_salesforce_oauth2_call(org: LocalOrgHandle, sf: Any) -> None:
    info = sf.oauth2("userinfo")
    assert set(info) >= USERINFO_FIELDS
    assert info["sub"] == sf.restful("")["identity"]
    assert info["preferred_username"] == org.username
    assert (info["given_name"], info["family_name"], info["name"]) == (
        "Integration",
        "User",
        "Integration User",
    )
    assert info["picture"] == info["photos"]["picture"]
    assert info["urls"]["rest"] == f"{org.base_url}/services/data/v{{version}}/"
    assert (info["user_type"], info["zoneinfo"], info["utcOffset"]) == ("STANDARD", "GMT", 0)
    assert info["is_salesforce_integration_user"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["updated_at"])


def test_userinfo_by_post_with_oauth_token_parameter(org: LocalOrgHandle, sf: Any) -> None:
    response = _post_form(org, "/services/oauth2/userinfo", {"oauth_token": sf.session_id})
    assert response.status_code == 200
    assert response.json()["user_id"] == sf.restful("")["identity"].rsplit("/", 1)[1]
    refused = _post_form(org, "/services/oauth2/userinfo", {"oauth_token": "garbage"})
    assert (refused.status_code, refused.text) == (403, "Bad_OAuth_Token")


# ---- web server flow -----------------------------------------------------------------------------------------


def test_web_server_flow_with_pkce_gives_a_working_token(org: LocalOrgHandle) -> None:
    callback = org.approve_authorization(_authorize_url(org))
    assert callback.startswith(CALLBACK + "?")
    params = _callback_params(callback)
    assert params["state"] == "s-42"
    response = _exchange(org, params["code"])
    token = response.json()
    assert response.status_code == 200
    assert set(token) >= {
        "access_token",
        "refresh_token",
        "instance_url",
        "id",
        "issued_at",
        "signature",
        "scope",
        "token_type",
    }
    assert (token["scope"], token["token_type"], token["instance_url"]) == (
        "api refresh_token id",
        "Bearer",
        org.base_url,
    )
    sf = _salesforce(org, token["access_token"])
    sf.Account.create({"Name": "Connected"})
    assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "Connected"


def test_authorization_code_is_single_use(org: LocalOrgHandle) -> None:
    code = _code(org)
    assert _exchange(org, code).status_code == 200
    again = _exchange(org, code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "invalid authorization code"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": "not-the-verifier-" + "x" * 40}, ("invalid_grant", "invalid code verifier")),
        ({"code_verifier": ""}, ("invalid_grant", "invalid code verifier")),
        (
            {"redirect_uri": "http://localhost:1717/other"},
            ("redirect_uri_mismatch", "redirect_uri must match configuration"),
        ),
        ({"client_id": "someone-else"}, ("invalid_client_id", "client identifier invalid")),
        ({"client_secret": "wrong"}, ("invalid_client", "invalid client credentials")),
    ],
)
def test_code_exchange_refuses_like_salesforce(
    org: LocalOrgHandle, overrides: dict[str, str], error: tuple[str, str]
) -> None:
    response = _exchange(org, _code(org), **overrides)
    assert response.status_code == 400
    assert (response.json()["error"], response.json()["error_description"]) == error


def test_code_without_pkce_needs_the_client_secret(org: LocalOrgHandle) -> None:
    without_secret = _exchange(org, _code(org, code_challenge="", code_challenge_method=""), code_verifier="")
    assert without_secret.json()["error"] == "invalid_client"
    with_secret = _exchange(
        org,
        _code(org, code_challenge="", code_challenge_method=""),
        code_verifier="",
        client_secret=org.client_secret,
    )
    assert with_secret.status_code == 200


def test_denied_consent_redirects_with_access_denied(org: LocalOrgHandle) -> None:
    params = _callback_params(org.approve_authorization(_authorize_url(org), allow=False))
    assert params == {
        "error": "access_denied",
        "error_description": "end-user denied authorization",
        "state": "s-42",
    }


def test_wrong_password_on_the_consent_page_shows_it_again(org: LocalOrgHandle) -> None:
    form = {name: values[0] for name, values in parse_qs(urlsplit(_authorize_url(org)).query).items()}
    form.update(username=org.username, password="wrong", decision="allow")
    response = _post_form(org, "/services/oauth2/authorize", form)
    assert response.status_code == 200
    assert "Please check your username and password." in response.text
    assert 'name="code_challenge"' in response.text  # the retry keeps the request


@pytest.mark.parametrize(
    ("overrides", "body"),
    [
        ({"client_id": "nope"}, "error=invalid_client_id&error_description=client+identifier+invalid"),
        (
            {"redirect_uri": "https://evil.example.com/cb"},
            "error=redirect_uri_mismatch&error_description=redirect_uri+must+match+configuration",
        ),
    ],
)
def test_authorize_refuses_unknown_clients_and_callbacks_on_its_own_page(
    org: LocalOrgHandle, overrides: dict[str, str], body: str
) -> None:
    response = _get(org, _authorize_url(org, **overrides))
    assert (response.status_code, response.text) == (400, body)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"scope": "api make_coffee"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
def test_authorize_sends_request_errors_to_the_callback(
    org: LocalOrgHandle, overrides: dict[str, str], error: str
) -> None:
    params = _callback_params(org.approve_authorization(_authorize_url(org, **overrides)))
    assert (params["error"], params["state"]) == (error, "s-42")


def test_scope_without_refresh_token_gets_no_refresh_token(org: LocalOrgHandle) -> None:
    token = _exchange(org, _code(org, scope="api id")).json()
    assert token["scope"] == "api id"
    assert "refresh_token" not in token


def test_user_agent_flow_returns_the_token_in_the_fragment(org: LocalOrgHandle) -> None:
    callback = org.approve_authorization(_authorize_url(org, response_type="token", code_challenge=""))
    params = _callback_params(callback, fragment=True)
    assert params["state"] == "s-42"
    assert _salesforce(org, params["access_token"]).query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_configured_callback_urls_are_accepted_and_the_page_wants_no_security_token() -> None:
    allowed = "https://dms.example.com/oauth/callback"
    env = {
        "LOCALORG_CALLBACK_URLS": f" {allowed} ,https://other.example.com/cb",
        "LOCALORG_SECURITY_TOKEN": "T0K",
    }
    with running_localorg(env=env) as handle:
        token = handle.web_server_login(redirect_uri=allowed)  # the plain password, as on a login page
        assert _salesforce(handle, token["access_token"]).query("SELECT COUNT() FROM Lead")["totalSize"] == 0
        refused = _get(handle, _authorize_url(handle, redirect_uri="https://dms.example.com/oauth/other"))
        assert refused.status_code == 400


def test_callback_policy_takes_loopback_and_configured_urls_only() -> None:
    assert callback_allowed("http://127.0.0.1:5000/cb", ())
    assert callback_allowed("https://[::1]:8443/oauth/callback?x=1", ())
    assert callback_allowed("http://localhost/", ())
    assert not callback_allowed("http://localhost.evil.com/cb", ())
    assert not callback_allowed("javascript://localhost/%0aalert(1)", ())
    assert not callback_allowed("https://dms.example.com/cb", ())
    assert callback_allowed("https://dms.example.com/cb", ("https://dms.example.com/cb",))


def test_authorization_codes_expire() -> None:
    codes = CodeRegistry(ttl_seconds=-1)
    code = codes.issue("localorg", CALLBACK, "api", None)
    with pytest.raises(GrantError, match="expired authorization code"):
        codes.redeem(code, CALLBACK, None)


# ---- refresh and revoke --------------------------------------------------------------------------------------


def _refresh(org: LocalOrgHandle, refresh_token: str) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": org.client_id}
    return _post_form(org, "/services/oauth2/token", form)


def test_refresh_token_gives_a_new_access_token(org: LocalOrgHandle) -> None:
    token = org.web_server_login()
    response = _refresh(org, token["refresh_token"])
    refreshed = response.json()
    assert response.status_code == 200
    assert refreshed["access_token"] != token["access_token"]
    assert "refresh_token" not in refreshed  # Salesforce keeps the refresh token unless rotation is on
    assert (refreshed["scope"], refreshed["id"]) == (token["scope"], token["id"])
    assert _salesforce(org, refreshed["access_token"]).query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    unknown = _refresh(org, "5Aepunknown")
    assert unknown.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}


def test_revoking_an_access_token_ends_that_session_only(org: LocalOrgHandle) -> None:
    token = org.web_server_login()
    other = org.web_server_login()
    sf = _salesforce(org, token["access_token"])
    sf.oauth2("revoke", params={"token": token["access_token"]}, method="POST")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT COUNT() FROM Account")
    assert _salesforce(org, other["access_token"]).query("SELECT COUNT() FROM Account")["totalSize"] == 0
    again = _post_form(org, "/services/oauth2/revoke", {"token": token["access_token"]})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")


def test_revoking_a_refresh_token_revokes_its_access_tokens(org: LocalOrgHandle) -> None:
    token = org.web_server_login()
    refreshed = _refresh(org, token["refresh_token"]).json()
    with org.requests_session() as session:
        response = session.get(
            org.base_url + "/services/oauth2/revoke", params={"token": token["refresh_token"]}
        )
    assert (response.status_code, response.text) == (200, "")
    for access_token in (token["access_token"], refreshed["access_token"]):
        with pytest.raises(SalesforceExpiredSession):
            _salesforce(org, access_token).query("SELECT COUNT() FROM Account")
    assert _refresh(org, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_an_unknown_token_is_unsupported_token_type(org: LocalOrgHandle) -> None:
    response = _post_form(org, "/services/oauth2/revoke", {"token": "nothing-we-issued"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_token_type",
        "error_description": "this token type is not supported",
    }


def test_refresh_tokens_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "org.db")
    with running_localorg(db=db, workdir=str(tmp_path / "first")) as first:
        token = first.web_server_login()
    with running_localorg(db=db, workdir=str(tmp_path / "second")) as second:
        with pytest.raises(SalesforceExpiredSession):
            _salesforce(second, token["access_token"]).query("SELECT COUNT() FROM Account")
        refreshed = _refresh(second, token["refresh_token"]).json()
        assert (
            _salesforce(second, refreshed["access_token"]).query("SELECT COUNT() FROM Account")["totalSize"]
            == 0
        )


def test_openid_configuration_points_at_these_endpoints(org: LocalOrgHandle) -> None:
    config = _get(org, org.base_url + "/.well-known/openid-configuration").json()
    assert config["userinfo_endpoint"] == org.base_url + "/services/oauth2/userinfo"
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_a_refresh_token_answers_only_the_client_it_was_granted_to(tmp_path: Path) -> None:
    db = str(tmp_path / "org.db")
    with running_localorg(db=db, workdir=str(tmp_path / "first")) as first:
        token = first.web_server_login()
        assert _refresh(first, token["refresh_token"]).status_code == 200
    with running_localorg(
        db=db, workdir=str(tmp_path / "second"), env={"LOCALORG_CLIENT_ID": "another"}
    ) as org:
        refused = _refresh(org, token["refresh_token"])
    assert refused.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}

"""Connecting an org by each flow Salesforce offers, against localorg: the web server flow with PKCE (a person
approves in the org's own page), username-password, client credentials and JWT bearer; the secrets each
leaves behind are encrypted at rest and never shown."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dms.clients import current_services
from dms.clients.salesforce import SESSIONS
from dms.connections import ConnectionStore
from dms.security.bootstrap import create_user
from dms.settings import load_settings
from tests.conftest import calling_as


def start(client: Any, localorg: Any, **extra: str) -> dict[str, Any]:
    spec = {
        "name": f"org-{uuid.uuid4().hex[:6]}",
        "login_url": localorg.base_url,
        "client_id": localorg.client_id,
    }
    answer = client.post("/api/v1/connections/authorize", json={**spec, **extra})
    assert answer.status_code == 201, answer.json
    return dict(answer.json)


def follow(client: Any, callback_url: str) -> Any:
    """The browser coming back to DMS from the org's consent page."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def connection_id_in(page: str) -> str:
    found = re.search(r"<code>(conn-[0-9A-Za-z-]+)</code>", page)
    assert found, page
    return found.group(1)


def test_an_org_is_connected_by_the_web_server_flow_with_pkce(
    client: Any, app: Any, localorg: Any, couchdb_url: str, stack_env: dict[str, str]
) -> None:
    started = start(client, localorg)
    authorize = urlsplit(started["authorize_url"])
    query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert started["authorize_url"].startswith(localorg.base_url + "/services/oauth2/authorize?")
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == started["redirect_uri"] == "http://localhost/connections/callback"
    assert "refresh_token" in query["scope"].split()
    assert "code_verifier" not in started["authorize_url"]  # the verifier never leaves DMS

    callback = localorg.approve_authorization(started["authorize_url"])
    page = follow(client, callback)
    assert page.status_code == 200, page.get_data(as_text=True)
    connection_id = connection_id_in(page.get_data(as_text=True))

    listed = {c["id"]: c for c in client.get("/api/v1/connections").json["connections"]}
    assert listed[connection_id]["flow"] == "web_server"
    assert listed[connection_id]["username"] == localorg.username  # from the org's userinfo
    assert listed[connection_id]["secrets_set"] == ["refresh_token"]
    # The connection logs in by its refresh token, with no person present.
    SESSIONS._tokens.clear()
    tested = client.post(f"/api/v1/connections/{connection_id}/test")
    assert tested.status_code == 200 and tested.json["ok"] is True, tested.json

    with app.app_context():
        refresh_token = ConnectionStore(current_services()).credentials(connection_id).refresh_token
    assert refresh_token
    db = f"{couchdb_url}/{stack_env['DMS_COUCHDB_DB_PREFIX']}_connections"
    raw = requests.get(f"{db}/{connection_id}", timeout=10).text
    assert refresh_token not in raw and refresh_token not in page.get_data(as_text=True)
    assert refresh_token not in client.get(f"/api/v1/connections/{connection_id}").get_data(as_text=True)

    # The state works once: the same callback again stores nothing.
    again = follow(client, callback)
    assert again.status_code == 400 and "ORG_AUTHORIZATION_EXPIRED" in again.get_data(as_text=True)
    assert len(client.get("/api/v1/connections").json["connections"]) == len(listed)

    # Revoked in the org, the connection says so instead of loading.
    revoked = localorg.requests_session().post(
        localorg.base_url + "/services/oauth2/revoke", data={"token": refresh_token}, timeout=10
    )
    assert revoked.status_code == 200
    SESSIONS._tokens.clear()
    refused = client.post(f"/api/v1/connections/{connection_id}/test")
    assert refused.status_code == 502, refused.json
    assert refused.json["error"]["code"] == "SALESFORCE_LOGIN_FAILED"
    assert "refresh token" in refused.json["error"]["message"]


def test_a_denied_or_foreign_authorization_stores_nothing(client: Any, app: Any, localorg: Any) -> None:
    before = len(client.get("/api/v1/connections").json["connections"])
    denied = follow(
        client, localorg.approve_authorization(start(client, localorg)["authorize_url"], allow=False)
    )
    assert denied.status_code == 400
    text = denied.get_data(as_text=True)
    assert "ORG_AUTHORIZATION_REFUSED" in text and "access_denied" in text

    # Someone else cannot finish (nor spend) my authorization: it reads as unknown to them.
    _, token = create_user(f"op-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex, "operator", True, load_settings())
    assert token is not None
    callback = localorg.approve_authorization(start(client, localorg)["authorize_url"])
    stolen = follow(calling_as(app, token), callback)
    assert stolen.status_code == 400 and "ORG_AUTHORIZATION_EXPIRED" in stolen.get_data(as_text=True)
    assert len(client.get("/api/v1/connections").json["connections"]) == before
    mine = follow(client, callback)
    assert mine.status_code == 200, mine.get_data(as_text=True)

    # A made-up state, and a callback with no code at all, are refused the same way.
    assert client.get("/connections/callback?state=nope&code=x").status_code == 400
    assert client.get("/connections/callback").status_code == 400


def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in_first(anonymous_client: Any) -> None:
    answer = anonymous_client.get("/connections/callback?state=s&code=c", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"flow": "web_server", "refresh_token": "x"}, "flow"),
        ({"flow": "password", "username": "u", "client_id": "c", "client_secret": "s"}, "password"),
        ({"flow": "client_credentials", "client_id": "c"}, "client_secret"),
        ({"flow": "jwt_bearer", "username": "u", "client_id": "c"}, "private_key"),
        (
            {"flow": "jwt_bearer", "username": "u", "client_id": "c", "private_key": "not a key"},
            "private_key",
        ),
        ({"flow": "saml"}, "flow"),
    ],
)
def test_a_connection_missing_what_its_flow_needs_is_refused_naming_it(
    client: Any, localorg: Any, spec: dict[str, str], field: str
) -> None:
    answer = client.post("/api/v1/connections", json={"name": "x", "login_url": localorg.base_url, **spec})
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["where"]["field"] == field, answer.json


def test_password_and_client_credentials_connections_log_in(client: Any, localorg: Any) -> None:
    common = {
        "login_url": localorg.base_url,
        "client_id": localorg.client_id,
        "client_secret": localorg.client_secret,
    }
    for spec in (
        {"flow": "password", "username": localorg.username, "password": localorg.password},
        {"flow": "client_credentials"},
    ):
        created = client.post("/api/v1/connections", json={"name": spec["flow"], **common, **spec})
        assert created.status_code == 201, created.json
        SESSIONS._tokens.clear()
        tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
        assert tested.status_code == 200, (spec["flow"], tested.json)


@pytest.fixture(scope="module")
def jwt_org(localorg: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """A localorg whose connected app has a certificate for the JWT bearer flow; the matching private key."""
    from localorg.testing import running_localorg

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    work = tmp_path_factory.mktemp("jwt-org")
    shutil.copytree(Path(localorg.ca_path).parent, work / "certs")  # the CA the app already trusts
    with running_localorg(workdir=str(work), env={"LOCALORG_JWT_CERTIFICATE": public.decode()}) as handle:
        yield handle, private


def test_a_jwt_bearer_connection_logs_in_with_its_key_and_no_secret(
    app: Any, client: Any, jwt_org: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    org, private_key = jwt_org
    trusted = (*app.config["SALESFORCE_TRUSTED_HOSTS"], org.base_url[len("https://") :])
    monkeypatch.setitem(app.config, "SALESFORCE_TRUSTED_HOSTS", trusted)
    spec = {"name": "jwt", "login_url": org.base_url, "flow": "jwt_bearer", "client_id": org.client_id}
    created = client.post(
        "/api/v1/connections", json={**spec, "username": org.username, "private_key": private_key}
    )
    assert created.status_code == 201, created.json
    assert created.json["secrets_set"] == ["private_key"]
    SESSIONS._tokens.clear()
    tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
    assert tested.status_code == 200, tested.json

    # Another key is refused by the org, and the org's reason is shown.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    wrong = client.post(
        "/api/v1/connections", json={**spec, "username": org.username, "private_key": other.decode()}
    )
    assert wrong.status_code == 201
    refused = client.post(f"/api/v1/connections/{wrong.json['id']}/test")
    assert refused.status_code == 502 and "invalid assertion" in refused.json["error"]["message"], (
        refused.json
    )
    # And a user the app does not know.
    stranger = client.post(
        "/api/v1/connections", json={**spec, "username": "nobody@x.test", "private_key": private_key}
    )
    refused = client.post(f"/api/v1/connections/{stranger.json['id']}/test")
    assert refused.status_code == 502 and "approved" in refused.json["error"]["message"], refused.json

"""Credentials and tokens go only to trusted hosts: refused before any request leaves, no redirect followed,
no foreign body echoed, an untrusted instance_url refused, secrets never in clear text, logs or task messages."""

from __future__ import annotations

import json
import logging
import shutil
import socketserver
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from celery.signals import before_task_publish

from dms.clients import current_services
from dms.clients.salesforce import SESSIONS
from dms.connections import ConnectionStore
from tests.integration.pipeline_helpers import upload

Answer = Callable[[str, str], tuple[int, dict[str, str], bytes]]  # (method, path) -> (status, headers, body)


class RecordingListener:
    """A plain TCP listener on loopback that no allow-list names: it records every connection and its bytes."""

    def __init__(self) -> None:
        received: list[bytes] = []

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(1.0)
                data = b""
                try:
                    while chunk := self.request.recv(65536):
                        data += chunk
                        if b"\r\n\r\n" in data:
                            break
                except OSError:
                    pass
                received.append(data)
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

        self.received = received
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeOrg:
    """An HTTPS server on loopback (localorg's certificate) that answers as a test tells it to, recording requests."""

    def __init__(self, cert_dir: Path) -> None:
        self.answer: Answer = lambda method, path: (404, {}, b"")
        self.requests: list[tuple[str, str, bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append((self.command, self.path, body))
                status, headers, content = fake.answer(self.command, self.path)
                self.send_response(status)
                for name, value in {"Content-Length": str(len(content)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_dir / "server.pem", cert_dir / "server-key.pem")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_answer(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.fixture()
def listener() -> Iterator[RecordingListener]:
    server = RecordingListener()
    yield server
    server.close()


@pytest.fixture()
def fake_org(app: Any, localorg: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOrg]:
    """A fake org the deployment trusts (its host named in SALESFORCE_TRUSTED_HOSTS for this test)."""
    server = FakeOrg(Path(localorg.ca_path).parent)
    trusted = (*app.config["SALESFORCE_TRUSTED_HOSTS"], f"127.0.0.1:{server.port}")
    monkeypatch.setitem(app.config, "SALESFORCE_TRUSTED_HOSTS", trusted)
    yield server
    server.close()


def connection(client: Any, login_url: str, **secrets: str) -> Any:
    spec = {"name": f"c-{uuid.uuid4().hex[:6]}", "login_url": login_url, "username": "dms@example.test"}
    return client.post(
        "/api/v1/connections",
        json={"password": "pw", "client_id": "app", "client_secret": "app-secret", **spec, **secrets},
    )


@pytest.mark.parametrize(
    "login_url",
    [
        "https://127.0.0.1:{port}",
        "https://localhost:{port}",
        "https://login.salesforce.com@127.0.0.1:{port}",
        "https://127.0.0.1:{port}/login.salesforce.com",
        "https://login.salesforce.com.127.0.0.1.nip.io:{port}",
        "http://127.0.0.1:{port}",
        "https://169.254.169.254",
    ],
)
def test_a_connection_to_a_host_outside_the_allow_list_is_refused_before_any_request_leaves(
    client: Any, listener: RecordingListener, login_url: str
) -> None:
    response = connection(client, login_url.format(port=listener.port))
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert (error["code"], error["where"]["field"]) == ("UNTRUSTED_HOST", "login_url"), error
    assert "login.salesforce.com" in error["message"] and "*.my.salesforce.com" in error["message"]
    assert listener.received == []


def test_a_stored_connection_no_longer_trusted_logs_in_nowhere(
    app: Any, client: Any, listener: RecordingListener, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trusted when it was created, then the deployment stopped trusting the host: every login checks again.
    url = f"https://127.0.0.1:{listener.port}"
    with monkeypatch.context() as trusting:
        trusted = (*app.config["SALESFORCE_TRUSTED_HOSTS"], f"127.0.0.1:{listener.port}")
        trusting.setitem(app.config, "SALESFORCE_TRUSTED_HOSTS", trusted)
        created = connection(client, url)
    assert created.status_code == 201, created.json
    assert created.json["login_url"] == url
    tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
    assert (tested.status_code, tested.json["error"]["code"]) == (400, "UNTRUSTED_HOST"), tested.json
    path = tmp_path / "accounts.csv"
    path.write_text("Name\nAcme\n")
    body = {"upload_id": upload(client, path), "object": "Account", "operation": "insert"}
    job = client.post("/api/v1/jobs", json={**body, "connection_id": created.json["id"]})
    assert (job.status_code, job.json["error"]["code"]) == (400, "UNTRUSTED_HOST"), job.json
    assert listener.received == []


@pytest.mark.parametrize("status", [307, 308, 302])
def test_a_login_redirected_to_another_host_is_not_followed(
    client: Any, fake_org: FakeOrg, listener: RecordingListener, status: int
) -> None:
    target = f"http://127.0.0.1:{listener.port}/services/oauth2/token"
    fake_org.answer = lambda method, path: (status, {"Location": target}, b"")
    created = connection(client, fake_org.url, password="pw-redirected")
    assert created.status_code == 201, created.json
    tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
    assert (tested.status_code, tested.json["error"]["code"]) == (502, "SALESFORCE_REDIRECT_REFUSED")
    assert [(m, p) for m, p, _ in fake_org.requests] == [("POST", "/services/oauth2/token")]
    assert listener.received == []  # the username and password reached no second listener


def test_an_api_call_redirected_to_another_host_is_not_followed_with_the_token(
    client: Any, fake_org: FakeOrg, listener: RecordingListener
) -> None:
    token = f"00Dfake!{uuid.uuid4().hex}"

    def answer(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/services/oauth2/token":
            return json_answer(200, {"instance_url": fake_org.url, "access_token": token})
        return 307, {"Location": f"https://127.0.0.1:{listener.port}{path}"}, b""

    fake_org.answer = answer
    created = connection(client, fake_org.url)
    tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
    assert (tested.status_code, tested.json["error"]["code"]) == (502, "SALESFORCE_REDIRECT_REFUSED")
    assert [p for _, p, _ in fake_org.requests] == ["/services/oauth2/token", "/services/data/v62.0/limits"]
    assert listener.received == []  # the bearer token went to no other host


@pytest.mark.parametrize(
    "instance_url",
    ["https://127.0.0.1:{port}", "https://169.254.169.254", "http://{fake}", "https://x@{fake}", "", None, 5],
)
def test_a_login_answering_an_untrusted_instance_url_is_refused(
    client: Any, fake_org: FakeOrg, listener: RecordingListener, instance_url: Any
) -> None:
    if isinstance(instance_url, str):
        instance_url = instance_url.format(port=listener.port, fake=fake_org.url.removeprefix("https://"))
    answer = {"instance_url": instance_url, "access_token": "00Dfake!token", "token_type": "Bearer"}
    fake_org.answer = lambda method, path: json_answer(200, answer)
    created = connection(client, fake_org.url)
    tested = client.post(f"/api/v1/connections/{created.json['id']}/test")
    assert tested.status_code == 502, tested.json
    assert tested.json["error"]["code"] == "UNTRUSTED_INSTANCE_URL", tested.json
    assert tested.json["error"]["where"]["field"] == "instance_url"
    assert [p for _, p, _ in fake_org.requests] == ["/services/oauth2/token"]  # nothing after the login
    assert listener.received == []


def test_a_refused_login_shows_salesforces_error_and_never_another_body(
    client: Any, fake_org: FakeOrg
) -> None:
    created = connection(client, fake_org.url)
    test_url = f"/api/v1/connections/{created.json['id']}/test"
    page = b"<html><body>internal admin console marker-7d1f</body></html>"
    fake_org.answer = lambda method, path: (401, {"Content-Type": "text/html"}, page)
    tested = client.post(test_url)
    assert (tested.status_code, tested.json["error"]["code"]) == (502, "SALESFORCE_LOGIN_FAILED")
    assert "marker-7d1f" not in tested.get_data(as_text=True) and "html" not in tested.get_data(as_text=True)
    fake_org.answer = lambda method, path: json_answer(400, {"detail": "marker-9c2e", "error": 5})
    assert "marker-9c2e" not in client.post(test_url).get_data(as_text=True)
    oauth = {"error": "invalid_grant", "error_description": "authentication failure"}
    fake_org.answer = lambda method, path: json_answer(400, oauth)
    tested = client.post(test_url)
    assert tested.json["error"]["code"] == "SALESFORCE_LOGIN_FAILED"
    assert "invalid_grant: authentication failure" in tested.json["error"]["message"]


def test_the_document_store_holds_no_secret_in_clear_text(
    client: Any, couchdb_url: str, stack_env: dict[str, str]
) -> None:
    secrets = {
        "password": f"pw-{uuid.uuid4().hex}",
        "security_token": f"tok-{uuid.uuid4().hex}",
        "client_secret": f"cs-{uuid.uuid4().hex}",
    }
    created = connection(client, "https://acme.my.salesforce.com", **secrets)
    assert created.status_code == 201, created.json
    assert created.json["secrets_set"] == ["client_secret", "password", "security_token"]
    db = f"{couchdb_url}/{stack_env['DMS_COUCHDB_DB_PREFIX']}_connections"
    raw = requests.get(f"{db}/{created.json['id']}", timeout=10)
    assert raw.status_code == 200 and raw.json()["login_url"] == "https://acme.my.salesforce.com"
    everything = requests.get(f"{db}/_all_docs", params={"include_docs": "true"}, timeout=10).text
    answers = [
        created.get_data(as_text=True),
        client.get("/api/v1/connections").get_data(as_text=True),
        client.get(f"/api/v1/connections/{created.json['id']}").get_data(as_text=True),
    ]
    for secret in secrets.values():
        assert secret not in raw.text and secret not in everything
        assert all(secret not in answer for answer in answers)  # never returned after creation either


@pytest.fixture(scope="module")
def secret_org(localorg: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A localorg whose password, security token and client secret are unique strings to look for."""
    from localorg.testing import running_localorg

    work = tmp_path_factory.mktemp("secret-org")
    shutil.copytree(Path(localorg.ca_path).parent, work / "certs")  # the CA the app already trusts
    env = {
        "LOCALORG_PASSWORD": f"pw-{uuid.uuid4().hex}",
        "LOCALORG_SECURITY_TOKEN": f"tok-{uuid.uuid4().hex}",
        "LOCALORG_CLIENT_SECRET": f"cs-{uuid.uuid4().hex}",
    }
    with running_localorg(db=":memory:", workdir=str(work), env=env) as handle:
        yield handle, env


def test_secrets_are_never_logged_nor_in_task_messages(
    app: Any,
    client: Any,
    secret_org: tuple[Any, dict[str, str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org, env = secret_org
    secrets = list(env.values())
    monkeypatch.setitem(
        app.config, "SALESFORCE_TRUSTED_HOSTS", (*app.config["SALESFORCE_TRUSTED_HOSTS"], org.base_url[8:])
    )
    published: list[str] = []

    def record(body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        published.append(json.dumps([body, headers], default=str))

    before_task_publish.connect(record, weak=False)
    caplog.set_level(logging.DEBUG)
    try:
        created = connection(
            client,
            org.base_url,
            username=org.username,
            password=env["LOCALORG_PASSWORD"],
            security_token=env["LOCALORG_SECURITY_TOKEN"],
            client_id=org.client_id,
            client_secret=env["LOCALORG_CLIENT_SECRET"],
        )
        assert created.status_code == 201, created.json
        connection_id = created.json["id"]
        tested = client.post(f"/api/v1/connections/{connection_id}/test")
        assert tested.status_code == 200 and tested.json["ok"], tested.json
        path = tmp_path / "accounts.csv"
        path.write_text("legacy,name\nS-1,Secretive 1\nS-2,Secretive 2\n")
        body = {
            "upload_id": upload(client, path),
            "object": "Account",
            "operation": "upsert",  # sObject Collections: the whole job runs in this request
            "external_id": "Legacy_Id__c",
            "connection_id": connection_id,
            "mapping": {
                "fields": [
                    {"target": "Legacy_Id__c", "source": "legacy"},
                    {"target": "Name", "source": "name"},
                ]
            },
        }
        direct = client.post("/api/v1/jobs", json={**body, "direct": True})
        assert direct.status_code == 201 and direct.json["state"] == "completed", direct.json
        queued = client.post("/api/v1/jobs", json=body)  # its plan message goes to SQS
        assert queued.status_code == 201, queued.json
        job_views = [
            client.get(f"/api/v1/jobs/{j.json['id']}").get_data(as_text=True) for j in (direct, queued)
        ]
        with app.app_context():
            credentials = ConnectionStore(current_services()).credentials(connection_id)
        instance_url, access_token = SESSIONS.get(credentials) or ("", "")
        assert instance_url == org.base_url and access_token
    finally:
        before_task_publish.disconnect(record)
    secrets.append(access_token)  # the session token is not logged either
    assert published and any(queued.json["id"] in message for message in published)
    logged = caplog.text + "".join(f"{r.args!r}{r.__dict__!r}" for r in caplog.records)
    assert "salesforce login ok" in logged  # the logins were logged, without their secrets
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in message for message in published)
        assert all(secret not in view for view in job_views)


@pytest.mark.parametrize("api_version", ["62.0/../../services/oauth2", "62.0?x=1", "v62.0", "latest"])
def test_an_api_version_that_is_not_a_version_is_refused(client: Any, api_version: str) -> None:
    # It becomes part of every request's path on the org: a version, never a path of its own.
    response = connection(client, "https://acme.my.salesforce.com", api_version=api_version)
    assert response.status_code == 400, response.json
    assert (response.json["error"]["code"], response.json["error"]["where"]["field"]) == (
        "INVALID_CONNECTION",
        "api_version",
    )

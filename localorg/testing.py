"""Start a real localorg server for tests: `running_localorg()` yields a LocalOrgHandle."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from localorg.auth import ADMIN_TOKEN_HEADER, Credentials
from localorg.grants import pkce_challenge

_READY = re.compile(r"localorg ready url=(\S+) ca=(\S+) username=(\S+) client_id=(\S+) admin_token=(\S+)")
START_TIMEOUT_SECONDS = 60.0


class SalesforceDomainAdapter(HTTPAdapter):
    """Sends requests for https://*.salesforce.com to a localorg, so login helpers work unmodified."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = request.url or ""
        request.url = re.sub(r"^https://[A-Za-z0-9.-]+\.salesforce\.com(:\d+)?", self.base_url, url)
        return super().send(request, **kwargs)


class _ConsentForm(HTMLParser):
    """The action and the named inputs of the consent page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            self.action = named.get("action") or ""
        elif tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""


@dataclass(frozen=True)
class LocalOrgHandle:
    """A running localorg: where it is, which CA to trust, how to log in, and admin controls."""

    base_url: str
    ca_path: str
    username: str
    password: str
    client_id: str
    client_secret: str
    admin_url: str
    pid: int = 0  # the server process, for tests that kill it outright
    admin_token: str = ""  # sent in ADMIN_TOKEN_HEADER on /_localorg/* calls
    ready_line: str = ""  # what the server announced on stdout
    log_path: str = ""  # where its log (stderr) goes

    def admin_session(self) -> requests.Session:
        """A session for the admin API: the CA trusted and the admin token sent."""
        session = self.requests_session()
        session.headers[ADMIN_TOKEN_HEADER] = self.admin_token
        return session

    def requests_session(self, route_salesforce_domains: bool = False) -> requests.Session:
        """A requests.Session that trusts the CA (ignoring REQUESTS_CA_BUNDLE), optionally routing
        https://login.salesforce.com etc. to this server."""
        session = requests.Session()
        session.trust_env = False  # otherwise REQUESTS_CA_BUNDLE silently replaces session.verify
        session.verify = self.ca_path
        if route_salesforce_domains:
            session.mount("https://", SalesforceDomainAdapter(self.base_url))
        return session

    def _admin(self, method: str, path: str, json_body: Any = None) -> Any:
        with self.admin_session() as session:
            response = session.request(method, self.admin_url + path, json=json_body, timeout=30)
        if not response.ok:
            raise RuntimeError(
                f"localorg admin {method} {path} failed: {response.status_code} {response.text}"
            )
        return response.json()

    def set_faults(self, **spec: Any) -> None:
        """Replace the fault rules: set_faults(kind="unavailable", every_nth=3, path_prefix="/jobs/ingest"),
        or set_faults(rules=[{...}, ...]); expire_sessions=True also expires every session now."""
        self._admin("POST", "/faults", spec)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._admin("DELETE", "/faults")

    def expire_sessions(self) -> None:
        """Expire every session now (clients get 401 INVALID_SESSION_ID)."""
        self._admin("POST", "/sessions/expire")

    def reset(self) -> None:
        """Wipe all records and bulk jobs (schema kept)."""
        self._admin("POST", "/reset")

    def login(self) -> tuple[str, str]:
        """OAuth password flow, as DMS does it: returns (access_token, instance_url)."""
        with self.requests_session() as session:
            response = session.post(
                self.base_url + "/services/oauth2/token",
                data={
                    "grant_type": "password",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "username": self.username,
                    "password": self.password,
                },
                timeout=30,
            )
        response.raise_for_status()
        body = response.json()
        return body["access_token"], body["instance_url"]

    def approve_authorization(
        self,
        authorization_url: str,
        allow: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        """Answer the consent page of an OAuth web server flow as the user would (log in, Allow or Deny);
        returns the callback URL it redirects to, with `code` and `state` or an `error`."""
        with self.requests_session(route_salesforce_domains=True) as session:
            page = session.get(authorization_url, allow_redirects=False, timeout=30)
            if page.status_code == 302:
                return page.headers["Location"]  # refused before any page (a bad scope, response type, ...)
            if page.status_code != 200:
                raise RuntimeError(f"authorize page failed: {page.status_code} {page.text[:300]}")
            form = _ConsentForm()
            form.feed(page.text)
            fields = {
                **form.fields,
                "username": self.username if username is None else username,
                "password": self.password if password is None else password,
                "decision": "allow" if allow else "deny",
            }
            answer = session.post(
                urljoin(page.url, form.action), data=fields, allow_redirects=False, timeout=30
            )
        if answer.status_code != 302:
            raise RuntimeError(f"consent page did not redirect: {answer.status_code} {answer.text[:300]}")
        return answer.headers["Location"]

    def web_server_login(
        self, redirect_uri: str = "http://localhost:1717/OauthRedirect", scope: str = "api refresh_token id"
    ) -> dict[str, Any]:
        """The whole OAuth web server flow with PKCE, as a connected app runs it: returns the token answer."""
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(8)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        callback = self.approve_authorization(f"{self.base_url}/services/oauth2/authorize?{urlencode(query)}")
        params = {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}
        if params.get("state") != state or "code" not in params:
            raise RuntimeError(f"authorization was not granted: {callback}")
        with self.requests_session() as session:
            response = session.post(
                self.base_url + "/services/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": params["code"],
                    "redirect_uri": redirect_uri,
                    "client_id": self.client_id,
                    "code_verifier": verifier,
                },
                timeout=30,
            )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def salesforce(self, version: str = "62.0") -> Any:
        """A simple_salesforce.Salesforce logged in through OAuth."""
        from simple_salesforce import Salesforce

        token, instance_url = self.login()
        return Salesforce(
            instance_url=instance_url, session_id=token, session=self.requests_session(), version=version
        )


@contextmanager
def running_localorg(
    db: str = ":memory:",
    schema: str | None = None,
    port: int | None = None,
    session_ttl: int | None = None,
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> Iterator[LocalOrgHandle]:
    """Start `python -m localorg serve` as a subprocess on a free loopback port, wait until it answers, yield, stop."""
    owned_dir = None
    if workdir is None:
        owned_dir = tempfile.mkdtemp(prefix="localorg-")
        workdir = owned_dir
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "localorg",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port if port is not None else 0),
        "--db",
        db,
        "--cert-dir",
        str(work / "certs"),
    ]
    if schema:
        command += ["--schema", schema]
    if session_ttl is not None:
        command += ["--session-ttl", str(session_ttl)]
    if verbose:
        command.append("--verbose")  # every request logged
    # The handle knows the credentials because it sets them (or leaves localorg's defaults): the ready line
    # never carries a password, a client secret or the admin token.
    child_env = {**os.environ, "LOCALORG_ADMIN_TOKEN": secrets.token_urlsafe(24), **(env or {})}
    defaults = Credentials()
    log_file = (work / "localorg.log").open("ab")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, env=child_env, cwd=work)
    try:
        line = _read_ready_line(process, work / "localorg.log")
        match = _READY.search(line)
        assert match is not None
        url, ca_path, username, client_id, token_source = match.groups()
        # An empty LOCALORG_ADMIN_TOKEN in `env` lets the server make its own, in the file it names.
        admin_token = child_env["LOCALORG_ADMIN_TOKEN"] or Path(token_source).read_text()
        handle = LocalOrgHandle(
            base_url=url,
            ca_path=ca_path,
            username=username,
            password=child_env.get("LOCALORG_PASSWORD", defaults.password),
            client_id=client_id,
            client_secret=child_env.get("LOCALORG_CLIENT_SECRET", defaults.client_secret),
            admin_url=url + "/_localorg",
            pid=process.pid,
            admin_token=admin_token,
            ready_line=line,
            log_path=str(work / "localorg.log"),
        )
        _wait_healthy(handle, process)
        yield handle
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
        log_file.close()
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)


def _read_ready_line(process: subprocess.Popen[bytes], log_path: Path) -> str:
    assert process.stdout is not None
    result: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            text = raw.decode("utf-8", "replace")
            if _READY.search(text):
                result.append(text)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if not result:
        process.kill()
        log = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
        raise RuntimeError(f"localorg did not start within {START_TIMEOUT_SECONDS:.0f}s; log tail:\n{log}")
    return result[0]


def _wait_healthy(handle: LocalOrgHandle, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with handle.requests_session() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"localorg exited with code {process.returncode}")
            try:
                if session.get(handle.admin_url + "/health", timeout=5).ok:
                    return
            except requests.RequestException:
                time.sleep(0.05)
    raise RuntimeError("localorg did not answer /_localorg/health")

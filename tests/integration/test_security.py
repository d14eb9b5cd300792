"""Who is calling, over HTTP on the real stack: every route asks; each user's work is their own; roles,
tokens, sessions, CSRF, rate limits, body caps, headers and the audit log."""

from __future__ import annotations

import io
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from application import create_full_app
from dms.clients import Services
from dms.security.tokens import TokenStore
from dms.security.users import UserStore
from dms.settings import load_settings
from tests.conftest import calling_as

# The only doors open to anonymous callers: the sign-in page and its form, the JSON sign-in, the minimal
# health check, and static files.
PUBLIC_ENDPOINTS = {
    "static",
    "auth.sign_in_page",
    "auth.sign_in",
    "api.create_session",
    "health.health_report",
}


def new_user(role: str) -> tuple[dict[str, Any], str, str]:
    """A user of that role, their password and an API token."""
    services = Services(load_settings())
    users = UserStore(services)
    password = secrets.token_urlsafe(16)
    created = users.create(f"{role}-{uuid.uuid4().hex[:8]}", password, role)
    _, token = TokenStore(services).create(users.get(created["id"]), "test")
    return created, password, token


@pytest.fixture()
def operator(app: Any) -> Any:
    return calling_as(app, new_user("operator")[2])


@pytest.fixture()
def other_operator(app: Any) -> Any:
    return calling_as(app, new_user("operator")[2])


def upload_csv(client: Any, text: str = "Name\nAcme\n") -> str:
    response = client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(text.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def rehearsal(client: Any, upload_id: str) -> str:
    body = {"upload_id": upload_id, "object": "Account", "operation": "insert", "dry_run": True}
    response = client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def test_every_route_in_the_url_map_refuses_an_anonymous_caller(app: Any, anonymous_client: Any) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: f"x{m.group(1)}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = anonymous_client.open(path, method=method, headers={"Accept": "application/json"})
            assert response.status_code == 401, (method, rule.rule, response.status_code)
            assert response.json["error"]["code"] == "UNAUTHENTICATED"
            checked += 1
    assert checked >= 30  # built from the URL map: a new route is in this list without anyone adding it
    # The public ones are exactly those, and what they say is harmless.
    public = {rule.endpoint for rule in app.url_map.iter_rules()} & PUBLIC_ENDPOINTS
    assert public == PUBLIC_ENDPOINTS
    assert anonymous_client.get("/health").json == {"status": "up"}


def test_a_browser_without_a_session_is_sent_to_sign_in(anonymous_client: Any) -> None:
    response = anonymous_client.get("/jobs", headers={"Accept": "text/html"})
    assert response.status_code == 302 and response.location.startswith("/sign-in?next=/jobs")


def test_one_user_cannot_see_or_touch_another_users_upload_job_or_results(
    operator: Any, other_operator: Any, worker: str
) -> None:
    upload_id = upload_csv(operator)
    job_id = rehearsal(operator, upload_id)
    for method, path in [
        ("GET", f"/api/v1/jobs/{job_id}"),
        ("GET", f"/api/v1/jobs/{job_id}/chunks"),
        ("GET", f"/api/v1/jobs/{job_id}/results/errors.csv"),
        ("GET", f"/api/v1/jobs/{job_id}/results/success.csv"),
        ("POST", f"/api/v1/jobs/{job_id}/cancel"),
        ("POST", f"/api/v1/jobs/{job_id}/retry"),
        ("GET", f"/api/v1/uploads/{upload_id}"),
        ("GET", f"/api/v1/uploads/{upload_id}/preview"),
    ]:
        response = other_operator.open(path, method=method)
        assert response.status_code == 404, (method, path, response.status_code)  # not even "it exists"
    assert job_id not in {j["id"] for j in other_operator.get("/api/v1/jobs").json["jobs"]}
    # Nor start a job from someone else's upload.
    body = {"upload_id": upload_id, "object": "Account", "operation": "insert", "dry_run": True}
    assert other_operator.post("/api/v1/jobs", json=body).status_code == 404
    # The owner still can, and sees their job listed.
    assert operator.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert job_id in {j["id"] for j in operator.get("/api/v1/jobs").json["jobs"]}


def test_a_job_can_only_use_a_connection_its_owner_may_use(
    operator: Any, other_operator: Any, localorg: Any
) -> None:
    spec = {
        "name": "mine",
        "login_url": localorg.base_url,
        "username": localorg.username,
        "password": localorg.password,
        "client_id": localorg.client_id,
        "client_secret": localorg.client_secret,
    }
    created = operator.post("/api/v1/connections", json=spec)
    assert created.status_code == 201, created.json
    connection_id = created.json["id"]
    assert connection_id not in {
        c["id"] for c in other_operator.get("/api/v1/connections").json["connections"]
    }
    assert other_operator.post(f"/api/v1/connections/{connection_id}/test").status_code == 404
    assert other_operator.delete(f"/api/v1/connections/{connection_id}").status_code == 404
    body = {
        "upload_id": upload_csv(other_operator),
        "object": "Account",
        "operation": "insert",
        "connection_id": connection_id,
        "dry_run": True,
    }
    refused = other_operator.post("/api/v1/jobs", json=body)
    assert (refused.status_code, refused.json["error"]["code"]) == (404, "CONNECTION_NOT_FOUND")


def test_a_viewer_reads_but_cannot_upload_or_run(app: Any, operator: Any) -> None:
    viewer = calling_as(app, new_user("viewer")[2])
    assert viewer.get("/api/v1/jobs").status_code == 200
    upload_id = upload_csv(operator)
    body = {"upload_id": upload_id, "object": "Account", "operation": "insert"}
    refused = viewer.post("/api/v1/jobs", json=body)
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "FORBIDDEN")
    assert viewer.post("/api/v1/uploads", data={}).status_code == 403
    assert viewer.get("/api/v1/users").status_code == 403  # admin only
    assert viewer.get("/api/v1/audit").status_code == 403


def test_a_token_is_shown_once_stored_hashed_scoped_and_stops_working_when_revoked(
    app: Any, operator: Any
) -> None:
    created = operator.post("/api/v1/tokens", json={"name": "nightly", "role": "viewer"})
    assert created.status_code == 201
    secret, token_id = created.json["secret"], created.json["token"]["id"]
    raw = Services(load_settings()).store("tokens").get(token_id)
    assert secret not in str(raw) and secret.split("_")[-1] not in str(raw)  # only its hash is kept
    listed = operator.get("/api/v1/tokens").json["tokens"]
    assert token_id in {t["id"] for t in listed} and "secret" not in str(listed)
    narrow = calling_as(app, secret)
    assert narrow.get("/api/v1/jobs").status_code == 200
    assert narrow.post("/api/v1/jobs", json={}).status_code == 403  # a viewer token, whoever made it
    wider = narrow.post("/api/v1/tokens", json={"name": "escalate", "role": "operator"})
    assert wider.status_code == 400  # a token never mints one wider than itself
    assert operator.post("/api/v1/tokens", json={"name": "x", "role": "admin"}).status_code == 400
    assert operator.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    revoked = narrow.get("/api/v1/jobs")
    assert (revoked.status_code, revoked.json["error"]["code"]) == (401, "UNAUTHENTICATED")


def signed_in(app: Any, role: str = "operator") -> tuple[Any, str]:
    """A browser-like client signed in by the JSON sign-in; returns it and the session's CSRF token."""
    user, password, _ = new_user(role)
    browser = app.test_client()
    response = browser.post("/api/v1/session", json={"username": user["username"], "password": password})
    assert response.status_code == 201, response.json
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    return browser, response.json["csrf_token"]


def test_a_cross_site_request_from_a_session_is_refused_without_the_csrf_token(app: Any, worker: str) -> None:
    browser, csrf = signed_in(app)
    job_id = rehearsal_with(browser, csrf)
    # A form-encoded cancel, a text/plain post, a cross-site multipart upload: all refused.
    attempts: list[Callable[[], Any]] = [
        lambda: browser.post(f"/api/v1/jobs/{job_id}/cancel", data={"x": "1"}),
        lambda: browser.post(
            "/api/v1/connections/default/test",
            data="{}",
            content_type="text/plain",
            headers={"Origin": "https://evil.test"},
        ),
        lambda: browser.post(
            "/api/v1/uploads",
            data={"file": (io.BytesIO(b"Name\nx\n"), "x.csv")},
            content_type="multipart/form-data",
            headers={"Origin": "https://evil.test", "X-CSRF-Token": csrf},
        ),
    ]
    for attempt in attempts:
        response = attempt()
        assert (response.status_code, response.json["error"]["code"]) == (403, "CSRF_FAILED")
    # The page's own request, with its token and origin, goes through. (An upload, not the cancel: the
    # worker may have finished the rehearsal already, and a cancel then answers 409 whoever sends it.)
    allowed = browser.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(b"Name\nx\n"), "x.csv")},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": csrf, "Origin": "http://localhost"},
    )
    assert allowed.status_code == 201, allowed.json


def rehearsal_with(browser: Any, csrf: str) -> str:
    response = browser.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(b"Name\nAcme\n"), "a.csv")},
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.json
    body = {"upload_id": response.json["id"], "object": "Account", "operation": "insert", "dry_run": True}
    created = browser.post("/api/v1/jobs", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.json
    return str(created.json["id"])


def test_sign_in_page_sign_out_and_the_session_ending(app: Any) -> None:
    user, password, _ = new_user("viewer")
    browser = app.test_client()
    page = browser.get("/sign-in?next=/jobs")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert page.status_code == 200 and token
    wrong = browser.post(
        "/sign-in", data={"username": user["username"], "password": "wrong", "csrf_token": token.group(1)}
    )
    assert wrong.status_code == 401
    page = browser.get("/sign-in?next=/jobs")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    form = {
        "username": user["username"].upper(),
        "password": password,
        "csrf_token": token.group(1),
        "next": "/jobs",
    }
    response = browser.post("/sign-in", data=form)
    assert response.status_code == 302 and response.location == "/jobs"
    jobs_page = browser.get("/jobs", headers={"Accept": "text/html"})
    html = jobs_page.get_data(as_text=True)
    assert jobs_page.status_code == 200 and user["username"] in html
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert csrf
    assert browser.post("/sign-out", data={"csrf_token": csrf.group(1)}).status_code == 302
    after = browser.get("/api/v1/session")
    assert after.status_code == 401  # the session is gone on the server, not only the cookie


def test_an_open_redirect_after_sign_in_is_not_possible(app: Any) -> None:
    user, password, _ = new_user("viewer")
    browser = app.test_client()
    page = browser.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token
    form = {"username": user["username"], "password": password, "csrf_token": token.group(1)}
    response = browser.post("/sign-in", data={**form, "next": "//evil.test/x"})
    assert response.status_code == 302 and response.location == "/"


def test_sign_in_attempts_are_rate_limited(stack_env: dict[str, str]) -> None:
    limit = 5
    app = create_full_app({"TESTING": True, "SIGN_IN_LIMIT": limit})
    user, _, _ = new_user("viewer")
    browser = app.test_client()
    # An address of this test's own: the suite's other sign-ins count against 127.0.0.1.
    browser.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.7"
    answers = [
        browser.post(
            "/api/v1/session", json={"username": user["username"], "password": f"guess-{n}"}
        ).status_code
        for n in range(limit + 1)
    ]
    assert answers[:limit] == [401] * limit
    last = browser.post("/api/v1/session", json={"username": user["username"], "password": "more"})
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert last.json["error"]["code"] == "RATE_LIMITED"


def test_a_json_body_over_the_cap_is_refused(client: Any, app: Any) -> None:
    big = b'{"name": "' + b"x" * (int(app.config["MAX_JSON_BODY_BYTES"]) + 10) + b'"}'
    response = client.put("/api/v1/templates/Account/big", data=big, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/static/dms.css", "/", "/api/v1/jobs/job-x", "/health"])
def test_every_response_carries_the_security_headers(client: Any, path: str) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_a_host_not_in_the_allow_list_is_refused(client: Any) -> None:
    assert client.get("/api/v1/jobs", headers={"Host": "rebound.evil.test"}).status_code == 400


def test_the_audit_log_records_who_did_what(app: Any, client: Any, worker: str) -> None:
    user, password, token = new_user("operator")
    app.test_client().post("/api/v1/session", json={"username": user["username"], "password": "nope"})
    someone = calling_as(app, token)
    job_id = rehearsal(someone, upload_csv(someone))
    someone.post(f"/api/v1/jobs/{job_id}/cancel")
    entries = client.get("/api/v1/audit?limit=200").json["entries"]
    mine = [
        (e["action"], e["outcome"])
        for e in entries
        if e.get("actor") == user["id"] or e.get("actor_name") == user["username"]
    ]
    assert ("sign_in", "refused") in mine
    assert ("job.rehearse", "ok") in mine and ("job.cancel", "ok") in mine
    assert ("upload", "ok") in mine

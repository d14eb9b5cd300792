"""Every request asks who is calling: the Flask glue of dms/security.

Default deny: a route answers an anonymous caller only if it is marked `public`. Without a mark a route needs
viewer for GET/HEAD and operator for anything else; `requires(Role.ADMIN)` raises that. A browser session
must also send its CSRF token and a same-origin Origin on every state-changing request; API tokens (sent as
`Authorization: Bearer`, never ambient in a browser) need no CSRF token. Headers that pages, API answers,
static files, downloads and errors all carry are added here.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, redirect, request, url_for
from flask_babel import gettext

from dms.clients import current_services
from dms.errors import DMSError, Text
from dms.security.audit import AuditLog
from dms.security.ratelimit import Limit, RateLimited, hit
from dms.security.roles import Principal, Role
from dms.security.sessions import BrowserSession, SessionStore
from dms.security.tokens import TokenStore
from dms.security.users import UserStore

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

SESSION_COOKIE = "dms_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WINDOW_SECONDS = 300
# Routes whose bodies are files: their own caps apply (MAX_INLINE_UPLOAD_BYTES), not the JSON one.
FILE_BODY_ENDPOINTS = frozenset({"api.upload_inline", "api.upload_content"})


class Unauthenticated(DMSError):
    """No valid session or token."""

    code = "UNAUTHENTICATED"
    http_status = 401


class Forbidden(DMSError):
    """A valid caller without the right to do this."""

    code = "FORBIDDEN"
    http_status = 403


def public(view: F) -> F:
    """Mark a route as open to anonymous callers (sign-in, the minimal health check)."""
    view._dms_public = True  # type: ignore[attr-defined]
    return view


def requires(role: Role) -> Callable[[F], F]:
    """Mark a route as needing at least `role`."""

    def mark(view: F) -> F:
        view._dms_role = role  # type: ignore[attr-defined]
        return view

    return mark


def current_principal() -> Principal:
    """The caller of this request (every non-public route has one)."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthenticated(Text("Sign in, or send an API token as `Authorization: Bearer <token>`."))
    return principal


def current_browser_session() -> BrowserSession | None:
    return g.get("browser_session")


def users() -> UserStore:
    return UserStore(current_services())


def tokens() -> TokenStore:
    return TokenStore(current_services())


def sessions() -> SessionStore:
    settings = current_app.config
    return SessionStore(
        current_services().redis, int(settings["SESSION_IDLE_SECONDS"]), int(settings["SESSION_MAX_SECONDS"])
    )


def audit(action: str, target: str | None = None, outcome: str = "ok", **detail: Any) -> None:
    """Record what the current caller did (or tried); never fails the request it describes."""
    principal: Principal | None = g.get("principal")
    try:
        AuditLog(current_services()).record(
            action,
            actor=principal.user_id if principal else None,
            actor_name=principal.username if principal else detail.pop("username", None),
            target=target,
            outcome=outcome,
            ip=client_address(),
            detail=detail,
        )
    except Exception:  # the audit store being down must not turn a done action into an error
        log.warning("audit entry not written action=%s target=%s", action, target, exc_info=True)


def client_address() -> str:
    """The caller's address (on Lambda, zappa sets it from API Gateway's sourceIp, not from a header)."""
    return str(request.remote_addr or "unknown")


def limit(setting: str, action: str) -> Limit:
    return Limit(action, int(current_app.config[setting]), WINDOW_SECONDS)


def rate_limit(setting: str, action: str, caller: str | None = None) -> None:
    """Count one request of `action` for the caller (its user, else its address); 429 when over."""
    principal: Principal | None = g.get("principal")
    who = caller or (principal.user_id if principal else client_address())
    hit(current_services().redis, limit(setting, action), who)


def start_session(response: Response, user: dict[str, Any]) -> BrowserSession:
    """Sign a browser in: a new server-side session and its cookie on `response`."""
    cookie, session = sessions().start(user["_id"])
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(current_app.config["SESSION_MAX_SECONDS"]),
        httponly=True,
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        samesite="Lax",
        path="/",
    )
    return session


def end_session(response: Response) -> None:
    """Sign the browser out everywhere its cookie went."""
    sessions().end(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")


def register_security(app: Flask) -> None:
    """Authenticate, authorise and protect every request; add the security headers to every response."""
    hosts = [h.strip() for h in str(app.config["ALLOWED_HOSTS"]).split(",") if h.strip()]
    app.config["TRUSTED_HOSTS"] = hosts or None  # Flask refuses other Host headers (DNS rebinding)

    @app.before_request
    def guard() -> Any:
        if request.endpoint not in FILE_BODY_ENDPOINTS:
            request.max_content_length = int(app.config["MAX_JSON_BODY_BYTES"])
        view = app.view_functions.get(request.endpoint or "")
        g.principal = _authenticate()
        if request.endpoint == "static" or getattr(view, "_dms_public", False):
            return None
        if view is None:
            return None  # a 404 or 405 follows; nothing to protect
        if g.principal is None:
            return _unauthenticated()
        needed = getattr(view, "_dms_role", None) or (
            Role.VIEWER if request.method in SAFE_METHODS else Role.OPERATOR
        )
        if not g.principal.may(needed):
            raise Forbidden(
                Text(
                    "This needs the %(needed)s role; you are %(role)s.",
                    needed=needed.value,
                    role=g.principal.role.value,
                )
            )
        if g.principal.via == "session" and request.method not in SAFE_METHODS:
            check_csrf(g.get("browser_session"))
        return None

    @app.context_processor
    def caller() -> dict[str, Any]:
        session = g.get("browser_session")
        return {"principal": g.get("principal"), "csrf_token": session.csrf_token if session else ""}

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        upload_origin = upload_connect_src(app.config)
        connect = "'self'" + (f" {upload_origin}" if upload_origin else "")
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if int(app.config["HSTS_SECONDS"]):
            headers.setdefault("Strict-Transport-Security", f"max-age={int(app.config['HSTS_SECONDS'])}")
        if g.get("principal") is not None:
            headers.setdefault("Cache-Control", "no-store")  # one user's data is not kept in a shared cache
        return response


def upload_connect_src(settings: Any) -> str:
    """Where the pages may send a presigned upload: the setting, else the S3 endpoint the blob store uses."""
    configured = str(settings.get("UPLOAD_CONNECT_SRC") or "").strip()
    if configured:
        return configured
    if not str(settings.get("BLOB_STORE_URL", "")).startswith("s3://"):
        return ""  # files go to this origin
    endpoint = urlsplit(str(settings.get("S3_ENDPOINT_URL") or ""))
    return f"{endpoint.scheme}://{endpoint.netloc}" if endpoint.netloc else "https://*.amazonaws.com"


def _authenticate() -> Principal | None:
    """The caller by API token or by session cookie, or None."""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthenticated(Text("Send an API token as `Authorization: Bearer <token>`."))
        rate_key = client_address()
        principal = tokens().verify(presented.strip(), users())
        if principal is None:
            # Counted only when wrong: guessing is what the limit is for, use is not.
            hit(current_services().redis, limit("TOKEN_FAILURE_LIMIT", "bad_token"), rate_key)
            raise Unauthenticated(Text("That API token is not valid (revoked, expired or mistyped)."))
        return principal
    session = sessions().find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    try:
        user = users().get(session.user_id)
    except DMSError:
        return None
    if not user.get("active", True):
        return None
    g.browser_session = session
    return Principal(
        user["_id"], user["username"], Role(user["role"]), "session", session_id=session.session_id
    )


def _unauthenticated() -> Any:
    """A person's browser goes to the sign-in page; any other caller gets 401 and says how to authenticate."""
    browser = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
    if request.path.startswith("/api/") or not browser:
        message = Text("Sign in, or send an API token as a Bearer token.").render(gettext)
        body = {"code": Unauthenticated.code, "message": message}
        return jsonify({"error": body}), 401, {"WWW-Authenticate": 'Bearer realm="dms"'}
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.sign_in_page", next=target))


def same_origin(url: str | None) -> bool:
    """Whether an Origin or Referer names this very origin (scheme, host and port)."""
    if not url:
        return False
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() == request.host_url.rstrip("/").lower()


def check_csrf(session: BrowserSession | None) -> None:
    """A state-changing request from a browser session: its own origin and its session's token, or 403."""
    origin = request.headers.get("Origin")
    if origin is not None and not same_origin(origin):
        raise Forbidden(Text("Requests from another site are refused."), code="CSRF_FAILED")
    if origin is None and request.referrer and not same_origin(request.referrer):
        raise Forbidden(Text("Requests from another site are refused."), code="CSRF_FAILED")
    sent = request.headers.get(CSRF_HEADER) or (
        request.form.get(CSRF_FIELD) if request.mimetype in ("application/x-www-form-urlencoded",) else None
    )
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise Forbidden(
            Text(
                "This request needs the page's CSRF token (the %(csrf_header)s header); reload the page.",
                csrf_header=CSRF_HEADER,
            ),
            code="CSRF_FAILED",
        )


__all__ = [
    "RateLimited",
    "audit",
    "current_principal",
    "public",
    "rate_limit",
    "requires",
]

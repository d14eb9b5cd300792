"""Signing in and out in the browser: the sign-in page, its form, and sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from dms.security.roles import Role
from factories.security import (
    audit,
    client_address,
    end_session,
    public,
    rate_limit,
    requires,
    same_origin,
    start_session,
    users,
)

auth = Blueprint("auth", __name__)
FORM_COOKIE = "dms_sign_in"  # double-submit token of the sign-in form: no other site can sign you in


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another one."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("ui.index")


def _page(status: int = 200, error: str = "", username: str = "") -> Any:
    token = secrets.token_urlsafe(24)
    body = render_template(
        "sign_in.html",
        form_token=token,
        next_url=_safe_next(request.values.get("next")),
        error=error,
        username=username,
        any_user=users().any(),
    )
    response = make_response(body, status)
    response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="Strict", path="/sign-in", max_age=3600)
    return response


@auth.get("/sign-in")
@public
def sign_in_page() -> Any:
    """The sign-in form."""
    return _page()


@auth.post("/sign-in")
@public
def sign_in() -> Any:
    """Check the form, then start a session and go where the person was headed."""
    username = request.form.get("username", "")[:200]
    sent, expected = request.form.get("csrf_token", ""), request.cookies.get(FORM_COOKIE, "")
    origin = request.headers.get("Origin")
    if not expected or not hmac.compare_digest(sent, expected) or (origin and not same_origin(origin)):
        return _page(403, gettext("The sign-in form expired; please try again."), username)
    rate_limit("SIGN_IN_LIMIT", "sign_in", caller=client_address())
    rate_limit("SIGN_IN_LIMIT", "sign_in_user", caller=username.casefold())
    user = users().authenticate(username, request.form.get("password", ""))
    if user is None:
        audit("sign_in", outcome="refused", username=username.casefold()[:100])
        return _page(401, gettext("That username and password do not match an active account."), username)
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    start_session(response, user)
    audit("sign_in", target=user["_id"], username=user["username"])
    response.delete_cookie(FORM_COOKIE, path="/sign-in")
    return response


@auth.post("/sign-out")
@requires(Role.VIEWER)
def sign_out() -> Any:
    """End the session everywhere its cookie went."""
    audit("sign_out")
    response = make_response(redirect(url_for("auth.sign_in_page")))
    end_session(response)
    return response

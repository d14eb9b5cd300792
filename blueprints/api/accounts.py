"""Accounts over HTTP: sessions for scripts that want one, API tokens, users (admin) and the audit log."""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response, request

from blueprints.api import api
from dms.clients import current_services
from dms.errors import InvalidRequest, NotFound, Text
from dms.security.audit import AuditLog
from dms.security.roles import Role
from factories.security import (
    Unauthenticated,
    audit,
    client_address,
    current_browser_session,
    current_principal,
    end_session,
    public,
    rate_limit,
    requires,
    start_session,
    tokens,
    users,
)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest(Text("The request body must be a JSON object."))
    return body


def _me() -> dict[str, Any]:
    principal = current_principal()
    session = current_browser_session()
    return {
        "user": {"id": principal.user_id, "username": principal.username, "role": principal.role.value},
        "via": principal.via,
        "csrf_token": session.csrf_token if session else None,
    }


@api.post("/session")
@public
def create_session() -> Any:
    """Sign in with username and password: a session cookie (HttpOnly) and the CSRF token to send back."""
    body = _body()
    given = body.get("username")
    username = given if isinstance(given, str) else ""
    rate_limit("SIGN_IN_LIMIT", "sign_in", caller=client_address())
    rate_limit("SIGN_IN_LIMIT", "sign_in_user", caller=username.casefold()[:200])
    user = users().authenticate(username, body.get("password"))
    if user is None:
        audit("sign_in", outcome="refused", username=username.casefold()[:100])
        raise Unauthenticated(Text("That username and password do not match an active account."))
    response = make_response()
    session = start_session(response, user)
    audit("sign_in", target=user["_id"], username=user["username"])
    response.set_data(
        jsonify(
            {
                "user": {"id": user["_id"], "username": user["username"], "role": user["role"]},
                "via": "session",
                "csrf_token": session.csrf_token,
            }
        ).get_data()
    )
    response.mimetype = "application/json"
    response.status_code = 201
    return response


@api.get("/session")
def get_session() -> Any:
    """Who is calling (by session or token), and the CSRF token of a session."""
    return jsonify(_me())


@api.delete("/session")
@requires(Role.VIEWER)
def delete_session() -> Any:
    """Sign out."""
    audit("sign_out")
    response = make_response("", 204)
    end_session(response)
    return response


@api.get("/tokens")
def list_tokens() -> Any:
    """Your API tokens (an admin may ask for everyone's with ?all=true)."""
    principal = current_principal()
    everyone = principal.is_admin and request.args.get("all") == "true"
    return jsonify({"tokens": tokens().list(None if everyone else principal.user_id)})


@api.post("/tokens")
@requires(Role.VIEWER)
def create_token() -> Any:
    """A new API token for yourself, with a role up to your own; the token is in this answer only."""
    body = _body()
    principal = current_principal()
    owner = users().get(principal.user_id)
    # The caller's own role is the ceiling: a narrow token cannot mint a wider one.
    view, secret = tokens().create(owner, body.get("name"), body.get("role"), ceiling=principal.role)
    audit("token.create", target=view["id"], name=view["name"], role=view["role"])
    return jsonify({"token": view, "secret": secret, "note": "Shown once: store it now."}), 201


@api.delete("/tokens/<token_id>")
@requires(Role.VIEWER)
def revoke_token(token_id: str) -> Any:
    """Revoke one of your tokens (an admin: anyone's); it stops working at once."""
    principal = current_principal()
    try:
        doc = tokens().get(token_id)
    except NotFound:
        doc = None
    if doc is None or not principal.owns(doc):
        raise NotFound(
            Text("Token %(token_id)s does not exist.", token_id=token_id[:80]), code="TOKEN_NOT_FOUND"
        )
    view = tokens().revoke(token_id)
    audit("token.revoke", target=token_id)
    return jsonify({"token": view})


@api.get("/users")
@requires(Role.ADMIN)
def list_users() -> Any:
    return jsonify({"users": users().list()})


@api.post("/users")
@requires(Role.ADMIN)
def create_user() -> Any:
    """Add a person with a role and a first password."""
    body = _body()
    user = users().create(body.get("username"), body.get("password"), body.get("role", Role.OPERATOR.value))
    audit("user.create", target=user["id"], username_created=user["username"], role=user["role"])
    return jsonify({"user": user}), 201


@api.patch("/users/<user_id>")
@requires(Role.ADMIN)
def change_user(user_id: str) -> Any:
    """Change a person's role, deactivate them (`active: false`), or set a new password."""
    body = _body()
    try:
        users().get(user_id)
    except NotFound:
        raise NotFound(
            Text("User %(user_id)s does not exist.", user_id=user_id[:80]), code="USER_NOT_FOUND"
        ) from None
    user = users().change(user_id, body.get("role"), body.get("active"), body.get("password"))
    audit(
        "user.change",
        target=user_id,
        fields=sorted(k for k in body if k != "password") + (["password"] if "password" in body else []),
    )
    return jsonify({"user": user})


@api.get("/audit")
@requires(Role.ADMIN)
def list_audit() -> Any:
    """The audit log, newest first (?action=sign_in&limit=100)."""
    limit = request.args.get("limit", "200")
    if not limit.isdecimal() or not 1 <= int(limit) <= 1000:
        raise InvalidRequest(Text("`limit` must be a whole number from 1 to 1000."), field="limit")
    entries = AuditLog(current_services()).list(int(limit), request.args.get("action"))
    return jsonify({"entries": entries})

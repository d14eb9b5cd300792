"""Accounts made on the server itself, outside HTTP: the first admin, and the local stack's own admin."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dms.clients import Services
from dms.security.roles import Role
from dms.security.tokens import TokenStore
from dms.security.users import UserStore
from dms.settings import load_settings

log = logging.getLogger(__name__)
LOCAL_ADMIN = "admin"


def create_user(
    username: str,
    password: str,
    role: str,
    with_token: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], str | None]:
    """Create a user in the deployment the settings name; with `with_token`, also an API token (returned)."""
    services = Services(settings or load_settings())
    users = UserStore(services)
    user = users.create(username, password, role)
    token = None
    if with_token:
        _, token = TokenStore(services).create(users.get(user["id"]), "created with the user")
    return user, token


def ensure_local_admin(services: Services, var: Path) -> dict[str, str] | None:
    """The local stack's first start: an admin with a random password and a token, written to var/ (mode
    600) for the person running it. Later starts keep what exists. Never used in a deployment."""
    users = UserStore(services)
    if users.any():
        return None
    password = secrets.token_urlsafe(12)
    user = users.create(LOCAL_ADMIN, password, Role.ADMIN)
    _, token = TokenStore(services).create(users.get(user["id"]), "dms dev")
    log.info("local admin created user=%s", LOCAL_ADMIN)
    return {"username": LOCAL_ADMIN, "password": password, "token": token}

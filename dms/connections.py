"""Salesforce connections: stored in Cloudant with their secrets encrypted at rest (Fernet, key from env)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from dms.clients import Services
from dms.clients.docstore import new_document_id
from dms.clients.salesforce import SalesforceCredentials
from dms.clients.trusted_hosts import TrustedHosts
from dms.errors import ConfigurationError, DMSError, NotFound, typed_field

DEFAULT_CONNECTION = "default"  # the deployment's own org from settings (localorg in development)
SECRET_FIELDS = ("password", "security_token", "client_secret")
# Every field a connection spec may give; each is a string.
SPEC_FIELDS = ("name", "login_url", "flow", "username", "client_id", "api_version", *SECRET_FIELDS)
FLOWS = ("password", "client_credentials")
API_VERSION = re.compile(r"\d{1,3}\.\d")  # 62.0: it becomes part of every request's path


class InvalidConnection(DMSError):
    """A connection spec that cannot log in as given; `where.field` names what to fix."""

    code = "INVALID_CONNECTION"


class ConnectionStore:
    """Create, list and open connections; secrets never leave encrypted except to log in."""

    def __init__(
        self,
        services: Services,
        owner: dict[str, Any] | None = None,
        visible: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.services = services
        self.store = services.store("connections")
        self.owner = dict(owner or {})  # stamped on new connections: who may see and use them
        self.visible = visible  # whether the caller may use a connection; others' are not found

    def _fernet(self) -> Fernet:
        key = self.services.settings.get("CREDENTIALS_KEY")
        if not key:
            raise ConfigurationError(
                "DMS_CREDENTIALS_KEY is not set: connections cannot be stored encrypted."
            )
        try:
            return Fernet(key.encode() if isinstance(key, str) else key)
        except ValueError as exc:
            raise ConfigurationError("DMS_CREDENTIALS_KEY is not a valid Fernet key.") from exc

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Store a connection; returns its public view."""
        for key in SPEC_FIELDS:
            typed_field(spec.get(key), str, key, "a string", error=InvalidConnection)
        name = (spec.get("name") or "").strip()
        flow = spec.get("flow") or "password"
        if not name or not spec.get("login_url"):
            raise InvalidConnection(
                "A connection needs a `name` and an https:// `login_url`.",
                field="login_url" if name else "name",
            )
        # Stored as the origin it was checked as: a login never goes anywhere the check did not see.
        login_url = TrustedHosts.from_settings(self.services.settings).check(spec["login_url"].strip())
        if flow not in FLOWS:
            raise InvalidConnection(f"`flow` must be one of {', '.join(FLOWS)}.", field="flow")
        if flow == "password" and not spec.get("username"):
            raise InvalidConnection("The password flow needs a `username`.", field="username")
        api_version = spec.get("api_version") or self.services.settings["SALESFORCE_API_VERSION"]
        if not API_VERSION.fullmatch(api_version):
            raise InvalidConnection(
                "`api_version` must be a Salesforce API version such as 62.0.", field="api_version"
            )
        fernet = self._fernet()
        secrets = {k: fernet.encrypt(str(spec[k]).encode()).decode() for k in SECRET_FIELDS if spec.get(k)}
        doc = {
            "_id": new_document_id("conn"),
            "type": "connection",
            "name": name,
            "login_url": login_url,
            "username": spec.get("username") or "",
            "client_id": spec.get("client_id") or "",
            "flow": flow,
            "api_version": api_version,
            "secrets": secrets,
            "created_at": datetime.now(UTC).isoformat(),
        }
        doc.update(self.owner)
        return public_view(self.store.create(doc))

    def _doc(self, connection_id: str) -> dict[str, Any]:
        """A stored connection the caller may use, else CONNECTION_NOT_FOUND."""
        try:
            doc = self.store.get(connection_id)
        except NotFound:
            doc = None
        if doc is None or (self.visible is not None and not self.visible(doc)):
            raise NotFound(f"Connection {connection_id[:80]} does not exist.", code="CONNECTION_NOT_FOUND")
        return doc

    def check_usable(self, connection_id: str | None) -> None:
        """Refuse a connection the caller may not use (the deployment's default org is everyone's)."""
        if connection_id and connection_id != DEFAULT_CONNECTION:
            self._doc(connection_id)

    def list(self) -> list[dict[str, Any]]:
        default = {
            "id": DEFAULT_CONNECTION,
            "name": "Default org (from settings)",
            "login_url": self.services.settings["SALESFORCE_LOGIN_URL"],
            "username": self.services.settings.get("SALESFORCE_USERNAME", ""),
        }
        mine = (d for d in self.store.iter_all("conn-") if self.visible is None or self.visible(d))
        return [default, *(public_view(d) for d in mine)]

    def get(self, connection_id: str) -> dict[str, Any]:
        return public_view(self._doc(connection_id))

    def delete(self, connection_id: str) -> None:
        self._doc(connection_id)
        self.store.delete(connection_id)

    def credentials(self, connection_id: str | None) -> SalesforceCredentials:
        """The credentials to log in with (decrypted only here, only in memory)."""
        if not connection_id or connection_id == DEFAULT_CONNECTION:
            return self.services.default_org
        doc = self._doc(connection_id)
        fernet = self._fernet()
        try:
            plain = {k: fernet.decrypt(v.encode()).decode() for k, v in doc.get("secrets", {}).items()}
        except InvalidToken as exc:
            raise ConfigurationError(
                f"Connection {connection_id} was encrypted with another DMS_CREDENTIALS_KEY; store it again."
            ) from exc
        return SalesforceCredentials(
            login_url=doc["login_url"],
            username=doc.get("username", ""),
            password=plain.get("password", "") + plain.get("security_token", ""),
            client_id=doc.get("client_id", ""),
            client_secret=plain.get("client_secret", ""),
            flow=doc.get("flow", "password"),
            ca_bundle=str(self.services.settings.get("SALESFORCE_CA_BUNDLE") or "")
            if _is_local(doc["login_url"])
            else "",
            api_version=doc.get("api_version") or self.services.settings["SALESFORCE_API_VERSION"],
            trusted_hosts=TrustedHosts.from_settings(self.services.settings),
        )


def _is_local(url: str) -> bool:
    return url.startswith(("https://127.", "https://localhost"))


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A connection without its secrets (only which ones are set)."""
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "login_url": doc["login_url"],
        "username": doc.get("username", ""),
        "client_id": doc.get("client_id", ""),
        "flow": doc.get("flow", "password"),
        "secrets_set": sorted(doc.get("secrets", {})),
        "owner": doc.get("owner"),
        "created_at": doc.get("created_at"),
    }

"""Salesforce connections: stored in Cloudant with their secrets encrypted at rest (Fernet, key from env)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from dms.clients import Services
from dms.clients.docstore import new_document_id
from dms.clients.salesforce import SalesforceCredentials, signing_key
from dms.clients.trusted_hosts import TrustedHosts
from dms.errors import ConfigurationError, Conflict, DMSError, NotFound, Text, typed_field

DEFAULT_CONNECTION = "default"  # the deployment's own org from settings (localorg in development)
# The default org has no document of its own: its last test is kept in this one (not a `conn-` id, so it is
# never listed as a connection).
DEFAULT_TEST_DOCUMENT = "default-org-last-test"
# Encrypted at rest, never returned, never logged. A refresh token comes only from the web server flow.
SECRET_FIELDS = ("password", "security_token", "client_secret", "private_key", "refresh_token")
GIVEN_SECRET_FIELDS = ("password", "security_token", "client_secret", "private_key")
# Every field a connection spec may give; each is a string.
SPEC_FIELDS = ("name", "login_url", "flow", "username", "client_id", "api_version", *GIVEN_SECRET_FIELDS)
# What each flow needs besides a name and a login URL. "web_server" is created by authorizing in a browser
# (OrgAuthorizations), which gives the refresh token; the other flows are for automation.
FLOWS: dict[str, tuple[str, ...]] = {
    "password": ("username", "client_id", "client_secret", "password"),
    "client_credentials": ("client_id", "client_secret"),
    "jwt_bearer": ("username", "client_id", "private_key"),
    "web_server": ("client_id", "refresh_token"),
}
API_VERSION = re.compile(r"\d{1,3}\.\d")  # 62.0: it becomes part of every request's path


# The deployment's own org, as the lists name it (the web layer shows it in the reader's language).
DEFAULT_CONNECTION_NAME = "Default org (from settings)"


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
                Text("DMS_CREDENTIALS_KEY is not set: connections cannot be stored encrypted.")
            )
        try:
            return Fernet(key.encode() if isinstance(key, str) else key)
        except ValueError as exc:
            raise ConfigurationError(Text("DMS_CREDENTIALS_KEY is not a valid Fernet key.")) from exc

    def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Store a connection for an automation flow (password, client credentials, JWT bearer); its public
        view. A web server flow connection comes from OrgAuthorizations instead."""
        fields = checked_spec(spec, self.services.settings)
        if fields["flow"] == "web_server":
            raise InvalidConnection(
                Text(
                    "A web server flow connection is made by authorizing in a browser: POST "
                    "/api/v1/connections/authorize, then open the authorize_url it answers."
                ),
                field="flow",
            )
        if fields["flow"] == "jwt_bearer":
            check_private_key(spec.get("private_key") or "")
        return self.store_connection(fields, {k: str(spec[k]) for k in GIVEN_SECRET_FIELDS if spec.get(k)})

    def store_connection(self, fields: dict[str, str], secrets: dict[str, str]) -> dict[str, Any]:
        """Store checked fields and their secrets (encrypted here); the public view."""
        missing = [k for k in FLOWS[fields["flow"]] if not (fields.get(k) or secrets.get(k))]
        if missing:
            named = [f"`{k}`" for k in missing]
            listed = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
            raise InvalidConnection(
                Text("The %(flow)s flow needs %(listed)s.", flow=fields["flow"], listed=listed),
                field=missing[0],
            )
        doc = {
            "_id": new_document_id("conn"),
            "type": "connection",
            **{k: fields.get(k) or "" for k in ("name", "login_url", "username", "client_id", "flow")},
            "api_version": fields["api_version"],
            "secrets": {k: self.encrypt(v) for k, v in secrets.items() if v},
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
            raise NotFound(
                Text("Connection %(connection_id)s does not exist.", connection_id=connection_id[:80]),
                code="CONNECTION_NOT_FOUND",
            )
        return doc

    def check_usable(self, connection_id: str | None) -> None:
        """Refuse a connection the caller may not use (the deployment's default org is everyone's)."""
        if connection_id and connection_id != DEFAULT_CONNECTION:
            self._doc(connection_id)

    def list(self) -> list[dict[str, Any]]:
        default = {
            "id": DEFAULT_CONNECTION,
            "name": DEFAULT_CONNECTION_NAME,
            "login_url": self.services.settings["SALESFORCE_LOGIN_URL"],
            "username": self.services.settings.get("SALESFORCE_USERNAME", ""),
            "last_test": self._default_last_test(),
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
                Text(
                    "Connection %(connection_id)s was encrypted with another DMS_CREDENTIALS_KEY; store it "
                    "again.",
                    connection_id=connection_id,
                )
            ) from exc
        return self.login_credentials(
            doc,
            plain,
            on_new_refresh_token=lambda rotated: self._keep_refresh_token(connection_id, rotated),
        )

    def login_credentials(
        self,
        fields: dict[str, Any],
        secrets: dict[str, str],
        on_new_refresh_token: Callable[[str], None] | None = None,
    ) -> SalesforceCredentials:
        """Credentials from a connection's fields and decrypted secrets (trusting localorg's CA only locally)."""
        settings = self.services.settings
        return SalesforceCredentials(
            login_url=fields["login_url"],
            username=fields.get("username", ""),
            password=secrets.get("password", "") + secrets.get("security_token", ""),
            client_id=fields.get("client_id", ""),
            client_secret=secrets.get("client_secret", ""),
            flow=fields.get("flow", "password"),
            refresh_token=secrets.get("refresh_token", ""),
            private_key=secrets.get("private_key", ""),
            on_new_refresh_token=on_new_refresh_token,
            ca_bundle=str(settings.get("SALESFORCE_CA_BUNDLE") or "")
            if _is_local(fields["login_url"])
            else "",
            api_version=fields.get("api_version") or settings["SALESFORCE_API_VERSION"],
            trusted_hosts=TrustedHosts.from_settings(settings),
        )

    def encrypt(self, secret: str) -> str:
        return self._fernet().encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet().decrypt(token.encode()).decode()

    def record_test(self, connection_id: str, outcome: dict[str, Any]) -> None:
        """Keep a connection's last test (when, whether it logged in, its API usage) for the orgs page.

        The deployment's default org is everyone's: its last test is too, kept in DEFAULT_TEST_DOCUMENT."""
        kept = {"at": datetime.now(UTC).isoformat(), **outcome}

        def change(doc: dict[str, Any]) -> dict[str, Any]:
            return {**doc, "last_test": kept}

        if connection_id != DEFAULT_CONNECTION:
            self.store.update(connection_id, change)
            return
        try:
            self.store.update(DEFAULT_TEST_DOCUMENT, change)
        except NotFound:
            try:
                self.store.create(
                    {"_id": DEFAULT_TEST_DOCUMENT, "type": "connection_test", "last_test": kept}
                )
            except Conflict:  # another test kept one first: this one is newer
                self.store.update(DEFAULT_TEST_DOCUMENT, change)

    def _default_last_test(self) -> dict[str, Any] | None:
        try:
            return self.store.get(DEFAULT_TEST_DOCUMENT).get("last_test")
        except NotFound:
            return None

    def _keep_refresh_token(self, connection_id: str, refresh_token: str) -> None:
        """Store the refresh token a login rotated to (the old one no longer works)."""
        encrypted = self.encrypt(refresh_token)

        def change(doc: dict[str, Any]) -> None:
            doc.setdefault("secrets", {})["refresh_token"] = encrypted

        self.store.update(connection_id, change)


def checked_spec(spec: dict[str, Any], settings: Any) -> dict[str, str]:
    """A connection spec's plain fields, checked: name, trusted login URL (as its origin), flow, API version."""
    for key in SPEC_FIELDS:
        typed_field(spec.get(key), str, key, Text("a string"), error=InvalidConnection)
    name = (spec.get("name") or "").strip()
    if not name or not spec.get("login_url"):
        raise InvalidConnection(
            Text("A connection needs a `name` and an https:// `login_url`."),
            field="login_url" if name else "name",
        )
    flow = spec.get("flow") or "password"
    if flow not in FLOWS:
        raise InvalidConnection(
            Text("`flow` must be one of %(flows)s.", flows=", ".join(FLOWS)), field="flow"
        )
    api_version = spec.get("api_version") or settings["SALESFORCE_API_VERSION"]
    if not API_VERSION.fullmatch(api_version):
        raise InvalidConnection(
            Text("`api_version` must be a Salesforce API version such as 62.0."), field="api_version"
        )
    return {
        "name": name,
        # Stored as the origin it was checked as: a login never goes anywhere the check did not see.
        "login_url": TrustedHosts.from_settings(settings).check(spec["login_url"].strip()),
        "flow": flow,
        "username": (spec.get("username") or "").strip(),
        "client_id": (spec.get("client_id") or "").strip(),
        "api_version": api_version,
    }


def check_private_key(pem: str) -> None:
    """Refuse, at creation, a JWT bearer key that could never sign: not PEM, encrypted, or not RSA."""
    if signing_key(pem) is None:
        raise InvalidConnection(
            Text(
                "`private_key` must be the connected app's RSA private key, PEM, unencrypted (-----BEGIN "
                "PRIVATE KEY----- ...)."
            ),
            field="private_key",
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
        "last_test": doc.get("last_test"),
    }

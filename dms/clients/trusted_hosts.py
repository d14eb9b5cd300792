"""Where DMS may send Salesforce credentials and tokens: Salesforce's own domains and hosts the deployment names.

A login URL is a place DMS posts a username, a password and a client secret to, and the `instance_url` a login
answers is where every later request carries the bearer token. Both are checked here, against one list, before
anything is sent: otherwise a connection could point DMS at an internal address (a metadata service, an admin
port) and have it deliver credentials or read back what it answers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dms.errors import ConfigurationError, DMSError

# Salesforce's login and instance domains. Every org's My Domain is under my.salesforce.com (production,
# MyDomain--Sandbox.sandbox.my.salesforce.com, .develop., .scratch. ...); legacy instances (na1.salesforce.com)
# and older My Domain suffixes (force.com, cloudforce.com) are Salesforce's too. Clouds with domains of their own
# (Government Cloud Plus, Salesforce on Alibaba Cloud) name them in DMS_SALESFORCE_TRUSTED_HOSTS.
SALESFORCE_DOMAINS = (
    "login.salesforce.com",
    "test.salesforce.com",
    "*.my.salesforce.com",
    "*.salesforce.com",
    "*.force.com",
    "*.cloudforce.com",
)
HTTPS_PORT = 443  # Salesforce serves its APIs on the https default port only
SETTING = "DMS_SALESFORCE_TRUSTED_HOSTS"

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")  # one DNS label, as host names are written
_URL_CHARACTERS = re.compile(
    r"[!-~]+"
)  # printable ASCII without spaces: nothing a parser might drop or read twice


class UntrustedHost(DMSError):
    """A URL DMS will not send Salesforce credentials or tokens to; `where.field` names the URL."""

    code = "UNTRUSTED_HOST"
    http_status = 400


@dataclass(frozen=True)
class Origin:
    """A checked https origin: a lower-case host name or IP literal, and its port."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The origin as a URL, with the port only when it is not 443 (what simple-salesforce builds on)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}" if self.port == HTTPS_PORT else f"https://{host}:{self.port}"


def _host(text: str) -> str | None:
    """A host name (lower case, every label well formed) or a normalised IP literal; None if it is neither."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    host = text.lower()
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return None  # also a trailing dot, an empty label, an underscore, a non-ASCII (look-alike) name
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPattern:
    """`host`, `*.domain` (any name under it) or an IP literal, with the one port it may be reached on."""

    host: str
    port: int = HTTPS_PORT

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """A pattern as the setting writes it: `host[:port]`, `*.domain[:port]`, `[v6]:port`."""
        raw = text.strip()
        wildcard = raw.startswith("*.")
        host, port = None, HTTPS_PORT
        if _URL_CHARACTERS.fullmatch(raw):
            parts = urlsplit("//" + raw.removeprefix("*."))
            try:
                port = parts.port or HTTPS_PORT
            except ValueError:
                port = 0
            if port and parts.username is None and not parts.path:
                host = _host(parts.hostname or "")
        if not host or (wildcard and _is_ip(host)):
            raise ConfigurationError(
                f"{SETTING}: {raw[:80]!r} is not a host[:port] pattern "
                "(e.g. 127.0.0.1:8443, localhost:8443, *.example.org)."
            )
        return cls(f"*.{host}" if wildcard else host, port)

    def matches(self, origin: Origin) -> bool:
        """Whether the origin is this host (or a name under this domain) on this port; IPs match exactly."""
        if origin.port != self.port:
            return False
        if self.host.startswith("*."):
            return not _is_ip(origin.host) and origin.host.endswith(self.host[1:])
        return origin.host == self.host

    def __str__(self) -> str:
        if self.port == HTTPS_PORT:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


SALESFORCE_PATTERNS = tuple(HostPattern.parse(domain) for domain in SALESFORCE_DOMAINS)


def parse_origin(url: object, field: str) -> Origin:
    """The https origin a URL names, or UntrustedHost saying what is wrong with it (nothing is resolved)."""
    shown = repr(url)[:100]
    if not isinstance(url, str) or not _URL_CHARACTERS.fullmatch(url) or "\\" in url:
        raise UntrustedHost(f"`{field}` {shown} is not a URL.", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port or HTTPS_PORT
    except ValueError:
        raise UntrustedHost(f"`{field}` {shown} has no valid host and port.", field=field) from None
    if parts.scheme != "https":
        raise UntrustedHost(f"`{field}` {shown} must start with https://.", field=field)
    if "@" in parts.netloc:
        # https://login.salesforce.com@evil.test is evil.test with a user name: refused, never reinterpreted
        raise UntrustedHost(f"`{field}` {shown} must not carry a user name or password.", field=field)
    if parts.path not in ("", "/") or parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UntrustedHost(
            f"`{field}` {shown} must be the org's address alone, like https://login.salesforce.com "
            "(no path, query or fragment).",
            field=field,
        )
    host = _host(parts.hostname or "")
    if not host:
        raise UntrustedHost(f"`{field}` {shown} has no valid host name.", field=field)
    return Origin(host, port)


@dataclass(frozen=True)
class TrustedHosts:
    """Salesforce's domains plus the hosts a deployment names; frozen, so credentials holding it stay hashable."""

    extra: tuple[HostPattern, ...] = ()

    @classmethod
    def of(cls, patterns: Iterable[str]) -> TrustedHosts:
        """Salesforce's domains and these `host[:port]` patterns."""
        return cls(tuple(HostPattern.parse(p) for p in patterns if p.strip()))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> TrustedHosts:
        """SALESFORCE_TRUSTED_HOSTS, and the host of the deployment's own org (SALESFORCE_LOGIN_URL)."""
        patterns = [*settings.get("SALESFORCE_TRUSTED_HOSTS", ())]
        login_url = settings.get("SALESFORCE_LOGIN_URL") or ""
        if login_url:
            # The deployment named this org itself (localorg in development, on whatever port it runs).
            try:
                origin = parse_origin(login_url, "SALESFORCE_LOGIN_URL")
            except UntrustedHost as exc:
                raise ConfigurationError(f"DMS_SALESFORCE_LOGIN_URL: {exc.message}") from exc
            patterns.append(str(HostPattern(origin.host, origin.port)))
        return cls.of(patterns)

    def check(self, url: object, field: str = "login_url") -> str:
        """The URL's origin (`https://host[:port]`, the only form DMS sends to), or UntrustedHost."""
        try:
            origin = parse_origin(url, field)
        except UntrustedHost as exc:
            raise UntrustedHost(f"{exc.message} {self.allowed()}", field=field) from None
        if not any(p.matches(origin) for p in (*SALESFORCE_PATTERNS, *self.extra)):
            raise UntrustedHost(
                f"`{field}` {repr(url)[:100]} is not a trusted host. {self.allowed()}", field=field
            )
        return origin.url

    def allowed(self) -> str:
        """Where DMS sends credentials, as a sentence for an error message."""
        extra = ", ".join(str(p) for p in self.extra) or "none"
        return (
            f"DMS logs in only over https:// at Salesforce's domains ({', '.join(SALESFORCE_DOMAINS)}; port 443) "
            f"and at hosts this deployment trusts ({SETTING}: {extra})."
        )

    def allows(self, url: object) -> bool:
        """Whether `check` would pass the URL."""
        try:
            self.check(url)
        except UntrustedHost:
            return False
        return True

"""The allow-list for Salesforce credentials and tokens: Salesforce's domains and hosts the deployment names."""

from __future__ import annotations

import pytest

from dms.clients.trusted_hosts import HostPattern, TrustedHosts, UntrustedHost
from dms.errors import ConfigurationError
from dms.settings import load_settings

DEPLOYMENT = TrustedHosts.of(["127.0.0.1:8443", "localhost:8443", "[::1]:9443", "*.my.example.org"])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com/", "https://test.salesforce.com"),
        ("https://LOGIN.Salesforce.com:443", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://acme.my.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com"),
        ("https://acme-dev-ed.develop.my.salesforce.com", "https://acme-dev-ed.develop.my.salesforce.com"),
        ("https://na139.salesforce.com", "https://na139.salesforce.com"),
        ("https://acme.lightning.force.com", "https://acme.lightning.force.com"),
        ("https://acme.cloudforce.com", "https://acme.cloudforce.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("https://localhost:8443/", "https://localhost:8443"),
        ("https://[::1]:9443", "https://[::1]:9443"),
        ("https://gov.my.example.org", "https://gov.my.example.org"),
    ],
)
def test_salesforce_domains_and_the_deployments_hosts_pass_as_their_origin(url: str, origin: str) -> None:
    assert DEPLOYMENT.check(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://login.salesforce.com",  # https only
        "https://169.254.169.254",  # an IP literal nobody configured (a cloud metadata service)
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:169.254.169.254]",
        "https://10.0.0.1:8443",
        "https://127.0.0.1:8444",  # a trusted host on another port
        "https://127.1:8443",  # another spelling of 127.0.0.1 is not the configured host
        "https://2130706433:8443",
        "https://0x7f000001:8443",
        "https://login.salesforce.com:8443",  # Salesforce serves on 443 only
        "https://login.salesforce.com@evil.test",  # evil.test with a user name
        "https://user:secret@login.salesforce.com",
        "https://evil.test/login.salesforce.com",
        "https://evil.test?login.salesforce.com",
        "https://evil.test#login.salesforce.com",
        "https://evil.test\\@login.salesforce.com",
        "https://login.salesforce.com.evil.test",
        "https://evilsalesforce.com",
        "https://salesforce.com.",
        "https://login.salesforce.com.",  # a trailing dot
        "https://lоgin.salesforce.com",  # a Cyrillic o
        "https://login.salesforce.com\t.evil.test",
        "https://login.salesforce.com/services/oauth2/token",  # the address alone, not a path on it
        "https://my.example.org",  # *.domain is the names under it, not the domain
        "https://",
        "login.salesforce.com",
        "",
    ],
)
def test_anything_else_is_refused_naming_the_field(url: str) -> None:
    with pytest.raises(UntrustedHost) as caught:
        DEPLOYMENT.check(url, "login_url")
    assert caught.value.where == {"field": "login_url"}
    assert not DEPLOYMENT.allows(url)


def test_the_refusal_names_the_allowed_domains_and_the_setting() -> None:
    with pytest.raises(UntrustedHost) as caught:
        TrustedHosts().check("https://intranet.example.com")
    message = caught.value.message
    assert "login.salesforce.com" in message and "*.my.salesforce.com" in message
    assert "DMS_SALESFORCE_TRUSTED_HOSTS" in message


def test_the_default_org_of_the_settings_is_trusted_on_its_port() -> None:
    settings = load_settings(environ={"DMS_SALESFORCE_LOGIN_URL": "https://127.0.0.1:40123"})
    trusted = TrustedHosts.from_settings(settings)
    assert trusted.allows("https://127.0.0.1:40123")
    assert trusted.allows("https://127.0.0.1:8443")  # config_dev: the embedded localorg
    assert not trusted.allows("https://127.0.0.1:40124")


def test_the_setting_is_a_comma_separated_list_of_patterns() -> None:
    settings = load_settings(
        environ={
            "DMS_SALESFORCE_TRUSTED_HOSTS": "sf.internal.example:8443, *.my.salesforce.mil",
            "DMS_SALESFORCE_LOGIN_URL": "https://login.salesforce.com",
        }
    )
    trusted = TrustedHosts.from_settings(settings)
    assert trusted.allows("https://sf.internal.example:8443")
    assert trusted.allows("https://acme.my.salesforce.mil")
    assert not trusted.allows("https://127.0.0.1:8443")  # the setting replaces config_dev's localorg


@pytest.mark.parametrize(
    "pattern", ["*.10.0.0.1", "http://x.test", "x.test/path", "u@x.test", "x.test:port", "::1"]
)
def test_a_malformed_pattern_is_a_configuration_error_naming_the_setting(pattern: str) -> None:
    with pytest.raises(ConfigurationError, match="DMS_SALESFORCE_TRUSTED_HOSTS"):
        HostPattern.parse(pattern)

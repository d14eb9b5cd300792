"""Fixtures: one real localorg server (HTTPS on loopback) shared by the tests, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localorg.testing import LocalOrgHandle, running_localorg


@pytest.fixture(scope="session")
def localorg() -> Iterator[LocalOrgHandle]:
    """A localorg subprocess with an in-memory database, shared by the whole session."""
    with running_localorg() as handle:
        yield handle


@pytest.fixture
def org(localorg: LocalOrgHandle) -> LocalOrgHandle:
    """The shared localorg, emptied and without faults."""
    localorg.reset()
    localorg.clear_faults()
    return localorg


@pytest.fixture
def sf(org: LocalOrgHandle) -> Any:
    """An unmodified simple_salesforce.Salesforce logged in through the OAuth password flow."""
    return org.salesforce()


@pytest.fixture
def http(org: LocalOrgHandle) -> Any:
    """A plain requests session with a bearer token, for resources simple-salesforce has no helper for."""
    token, instance_url = org.login()
    session = org.requests_session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.base_url = instance_url + "/services/data/v62.0"  # type: ignore[attr-defined]
    return session

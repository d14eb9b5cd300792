"""Service clients, created in one place and bound to the app: `services(app)` or `current_services()`."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import redis
from flask import Flask, current_app

from dms.clients.blobstore import BlobStore, blob_store_from_url
from dms.clients.docstore import DocumentStore, cloudant_service
from dms.clients.salesforce import SalesforceCredentials


class Services:
    """The app's clients, each made on first use (never at import time, so forked workers get their own)."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self._stores: dict[str, DocumentStore] = {}

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings["REDIS_URL"], socket_timeout=30, socket_connect_timeout=5)

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store_from_url(self.settings["BLOB_STORE_URL"], self.settings)

    @cached_property
    def cloudant(self) -> Any:
        return cloudant_service(self.settings)

    def store(self, name: str) -> DocumentStore:
        """The document store `name` (jobs, connections, templates), prefixed per deployment."""
        if name not in self._stores:
            self._stores[name] = DocumentStore(self.cloudant, f"{self.settings['COUCHDB_DB_PREFIX']}_{name}")
        return self._stores[name]

    @property
    def default_org(self) -> SalesforceCredentials:
        return SalesforceCredentials.from_settings(self.settings)


def init_services(app: Flask) -> Services:
    """Bind a Services container to the app."""
    services = Services(app.config)
    app.extensions["dms"] = services
    return services


def current_services() -> Services:
    """The Services of the current Flask app (in a request or a task)."""
    return current_app.extensions["dms"]  # type: ignore[no-any-return]

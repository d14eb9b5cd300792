"""One running org: its store, schema, sessions and OAuth grants, faults, bulk ingest and query jobs, query
cursors and API usage."""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from localorg.auth import DEFAULT_SESSION_TTL, Credentials, SessionRegistry
from localorg.builtin_schema import build_schema
from localorg.bulk import BulkIngest
from localorg.bulk_query import BulkQuery
from localorg.faults import FaultInjector
from localorg.grants import CodeRegistry, RefreshTokenStore
from localorg.query import QueryRunner
from localorg.schema import load_schema_file
from localorg.store import Store

log = logging.getLogger(__name__)
DEFAULT_DAILY_API_LIMIT = 100_000


@dataclass
class OrgSettings:
    """How to open an org: database, schema file, session lifetime, credentials, API limit."""

    db: str = ":memory:"
    schema_file: str | None = None
    session_ttl: int = DEFAULT_SESSION_TTL
    credentials: Credentials | None = None
    daily_api_limit: int = DEFAULT_DAILY_API_LIMIT
    jobs_dir: str | None = None
    admin_token: str = ""  # what /_localorg/* (faults, resets, session expiry) must be sent; "" refuses all


class ApiUsage:
    """The DailyApiRequests counter: every authenticated data API request counts, reset each UTC day."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._day = datetime.now(UTC).date()
        self._used = 0
        self._lock = threading.Lock()

    def count(self) -> int:
        """Count one request; returns the number used today."""
        with self._lock:
            self._roll()
            self._used += 1
            return self._used

    def used(self) -> int:
        """Requests used today."""
        with self._lock:
            self._roll()
            return self._used

    def exhausted(self) -> bool:
        """Whether today's requests are all spent."""
        return self.used() >= self.limit

    def _roll(self) -> None:
        today = datetime.now(UTC).date()
        if today != self._day:
            self._day, self._used = today, 0


class LocalOrg:
    """Everything a localorg server needs, created from OrgSettings."""

    def __init__(self, settings: OrgSettings) -> None:
        self.settings = settings
        self.credentials = settings.credentials or Credentials.from_env()
        self.credentials.jwt_public_key()  # a certificate that cannot be read stops the start, not a login
        documents = []
        if settings.schema_file:
            documents.append((load_schema_file(settings.schema_file), settings.schema_file))
        schema = build_schema(documents)
        self.store = Store(settings.db, schema, self.credentials.username)
        self.sessions = SessionRegistry(settings.session_ttl)
        self.authorization_codes = CodeRegistry()
        self.refresh_tokens = RefreshTokenStore(self.store)
        self.faults = FaultInjector()
        self.queries = QueryRunner(self.store)
        self.api_usage = ApiUsage(settings.daily_api_limit)
        self._temporary_jobs_dir: str | None = None
        if settings.jobs_dir:
            jobs_dir = Path(settings.jobs_dir)
        elif settings.db == ":memory:":
            self._temporary_jobs_dir = tempfile.mkdtemp(prefix="localorg-jobs-")
            jobs_dir = Path(self._temporary_jobs_dir)
            atexit.register(shutil.rmtree, self._temporary_jobs_dir, True)
        else:
            jobs_dir = Path(settings.db + ".jobs")
        self.bulk = BulkIngest(self.store, jobs_dir, self.faults)
        self.bulk_queries = BulkQuery(self.store, jobs_dir)

    def reset(self) -> None:
        """Wipe all records and bulk jobs; keep schema and sessions."""
        self.bulk.forget_all()
        self.bulk_queries.forget_all()
        self.store.reset()
        log.info("org reset db=%s", self.settings.db)

    def close(self) -> None:
        """Stop the bulk workers and remove temporary job files."""
        self.bulk.stop()
        self.bulk_queries.stop()
        if self._temporary_jobs_dir:
            shutil.rmtree(self._temporary_jobs_dir, ignore_errors=True)

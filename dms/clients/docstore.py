"""Documents that must last (jobs, connections, mapping templates) on Cloudant or any CouchDB-API server."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.authenticators import (
    Authenticator,
    BasicAuthenticator,
    IAMAuthenticator,
    NoAuthAuthenticator,
)
from ibmcloudant.cloudant_v1 import CloudantV1, DesignDocument

from dms.errors import Conflict, NotFound, ServiceUnavailable, Text

log = logging.getLogger(__name__)

Document = dict[str, Any]


def cloudant_authenticator(settings: Mapping[str, Any]) -> Authenticator:
    """IAM on IBM Cloudant, basic auth on a CouchDB with users, none on a local pouchdb-server."""
    if settings.get("CLOUDANT_APIKEY"):
        return IAMAuthenticator(settings["CLOUDANT_APIKEY"])
    if settings.get("COUCHDB_USERNAME"):
        return BasicAuthenticator(settings["COUCHDB_USERNAME"], settings.get("COUCHDB_PASSWORD") or "")
    return NoAuthAuthenticator()


def cloudant_service(settings: Mapping[str, Any]) -> CloudantV1:
    """A CloudantV1 client bound to the configured server."""
    service = CloudantV1(authenticator=cloudant_authenticator(settings))
    service.set_service_url(settings["COUCHDB_URL"])
    service.set_http_config({"timeout": 30})
    return service


def new_document_id(kind: str) -> str:
    """A time-ordered id (`job-20261123T031500123456Z-<32 hex>`): _all_docs lists newest last without an
    index, and the 128 random bits make it unguessable (ids are checked on every access, but are not
    handed out to be guessed either)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{kind}-{stamp}-{secrets.token_hex(16)}"


def check_document_id(doc_id: object, db: str) -> None:
    """Refuse ids that are not a document's: `_all_docs`, `_design/...` and `..` are CouchDB's own paths
    (`..` would even reach the server's root), so asking for one is asking for a document that is not there."""
    if not isinstance(doc_id, str) or not doc_id or doc_id.startswith("_") or doc_id in (".", ".."):
        raise NotFound(
            Text("%(db)s/%(doc_id)s does not exist.", db=db, doc_id=str(doc_id)[:80]), code="NOT_FOUND"
        )


class DocumentStore:
    """One CouchDB database: get, create, update with revision-conflict retry, list, and views."""

    def __init__(self, service: CloudantV1, db: str) -> None:
        self.service = service
        self.db = db
        self._ensured = False
        self._designs: set[str] = set()  # design documents known to be in place, as this process wants them

    def ensure_database(self) -> None:
        """Create the database if it does not exist (412 means someone else just did)."""
        if self._ensured:
            return
        try:
            self.service.put_database(db=self.db).get_result()
        except ApiException as exc:
            if exc.code != 412:
                raise _translate(exc, self.db) from exc
        self._ensured = True

    def ensure_design(self, name: str, views: Mapping[str, str]) -> None:
        """Put the design document `_design/<name>` with these map functions (JavaScript), unless it is there
        already as given; once per process. Idempotent, and safe when processes race to create it."""
        if name in self._designs:
            return
        self.ensure_database()
        wanted = {view: {"map": source} for view, source in views.items()}
        for _ in range(3):
            try:
                current = self.service.get_design_document(db=self.db, ddoc=name).get_result()
            except ApiException as exc:
                if exc.code != 404:
                    raise _translate(exc, self.db, f"_design/{name}") from exc
                current = None
            if current is not None and current.get("views") == wanted:
                break
            design = DesignDocument(views=wanted, language="javascript")
            # With the current revision, the views changed with this release: they are replaced.
            rev = current["_rev"] if current is not None else None
            try:
                self.service.put_design_document(
                    db=self.db, ddoc=name, design_document=design, rev=rev
                ).get_result()
                log.info("design document written db=%s design=%s", self.db, name)
                break
            except ApiException as exc:
                if exc.code != 409:  # 409: another process wrote it meanwhile; read it again
                    raise _translate(exc, self.db, f"_design/{name}") from exc
        else:
            raise Conflict(
                Text(
                    "Could not write %(db)s/_design/%(name)s: too many concurrent writers.",
                    db=self.db,
                    name=name,
                )
            )
        self._designs.add(name)

    def iter_view(
        self,
        design: str,
        view: str,
        start_key: Any,
        end_key: Any,
        descending: bool = False,
        limit: int | None = None,
        page: int = 200,
    ) -> Iterator[Document]:
        """The documents of a view's rows from `start_key` to `end_key` (inclusive), in key order: only those
        rows are read, however many other documents the database holds. Keys must be unique (as [x, _id])."""
        self.ensure_database()
        start = start_key
        left = limit  # documents still wanted (None: all)
        while left is None or left > 0:
            want = page if left is None else min(page, left)
            # One row past the page says where the next page starts, asked for only if one may be wanted.
            ask = want + 1 if left is None or left > want else want
            try:
                rows = self.service.post_view(
                    db=self.db,
                    ddoc=design,
                    view=view,
                    start_key=start,
                    end_key=end_key,
                    descending=descending,
                    include_docs=True,
                    limit=ask,
                ).get_result()["rows"]
            except ApiException as exc:
                raise _translate(exc, self.db, f"_design/{design}/_view/{view}") from exc
            docs = [row["doc"] for row in rows[:want] if row.get("doc")]
            yield from docs
            if len(rows) <= want:
                return
            left = None if left is None else left - len(docs)
            start = rows[want]["key"]

    def get(self, doc_id: str) -> Document:
        """The current revision of a document."""
        check_document_id(doc_id, self.db)
        self.ensure_database()
        try:
            return dict(self.service.get_document(db=self.db, doc_id=doc_id).get_result())
        except ApiException as exc:
            raise _translate(exc, self.db, doc_id) from exc

    def create(self, doc: Document) -> Document:
        """Store a new document (its `_id` is set by the caller, no `_rev`); Conflict if the id is taken."""
        return self.put(doc)

    def put(self, doc: Document) -> Document:
        """Write a document at the revision it carries; Conflict if someone wrote in between."""
        check_document_id(doc["_id"], self.db)
        self.ensure_database()
        try:
            result = self.service.put_document(db=self.db, doc_id=doc["_id"], document=doc).get_result()
        except ApiException as exc:
            raise _translate(exc, self.db, doc["_id"]) from exc
        return {**doc, "_rev": result["rev"]}

    def update(
        self, doc_id: str, change: Callable[[Document], Document | None], attempts: int = 20
    ) -> Document:
        """Read-modify-write with retry on revision conflicts, so concurrent writers never lose an update.

        `change` gets a fresh copy each attempt and returns the new document (or mutates and returns None).
        """
        for attempt in range(attempts):
            current = self.get(doc_id)
            changed = change(dict(current))
            doc = changed if changed is not None else current
            doc["_id"], doc["_rev"] = doc_id, current["_rev"]
            try:
                return self.put(doc)
            except Conflict:
                log.debug("revision conflict db=%s doc=%s attempt=%d", self.db, doc_id, attempt + 1)
                time.sleep(min(0.5, 0.01 * 2**attempt))
        raise Conflict(
            Text(
                "Could not update %(doc_id)s after %(attempts)s attempts: too many concurrent writers.",
                doc_id=doc_id,
                attempts=attempts,
            )
        )

    def delete(self, doc_id: str) -> None:
        """Delete a document (at its current revision)."""
        current = self.get(doc_id)
        try:
            self.service.delete_document(db=self.db, doc_id=doc_id, rev=current["_rev"]).get_result()
        except ApiException as exc:
            raise _translate(exc, self.db, doc_id) from exc

    def iter_all(
        self,
        prefix: str = "",
        descending: bool = False,
        limit: int | None = None,
        id_range: tuple[str, str] | None = None,
    ) -> Iterator[Document]:
        """Documents whose id starts with `prefix` (or lies within `id_range`, lowest and highest id, both
        inclusive), in id order (time order for ids from new_document_id)."""
        self.ensure_database()
        page = 200
        start: str | None = None
        seen = 0
        low, high = id_range or (prefix, prefix + "\ufff0")
        while True:
            kwargs: dict[str, Any] = {"db": self.db, "include_docs": True, "limit": page + 1}
            if descending:
                kwargs.update(descending=True, start_key=start or high, end_key=low)
            else:
                kwargs.update(start_key=start or low, end_key=high)
            try:
                rows = self.service.post_all_docs(**kwargs).get_result()["rows"]
            except ApiException as exc:
                raise _translate(exc, self.db) from exc
            for row in rows[:page]:
                if row.get("doc") and not row["id"].startswith("_design/"):
                    yield row["doc"]
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
            if len(rows) <= page:
                return
            start = rows[page]["id"]


def _translate(exc: ApiException, db: str, doc_id: str | None = None) -> Exception:
    """Map the SDK's HTTP errors onto the domain's errors."""
    where = f"{db}/{doc_id}" if doc_id else db
    if exc.code == 404:
        return NotFound(Text("%(where)s does not exist.", where=where), code="NOT_FOUND")
    if exc.code == 409:
        return Conflict(
            Text("%(where)s was changed by someone else (revision conflict).", where=where),
            code="REVISION_CONFLICT",
        )
    if exc.code in (0, 500, 502, 503, 504) or exc.code is None:
        return ServiceUnavailable(
            Text(
                "The document store did not answer for %(where)s: %(message)s",
                where=where,
                message=exc.message,
            )
        )
    return exc

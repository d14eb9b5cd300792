"""The newest documents of one kind (jobs, plans), narrowed by owner, state and time, a page at a time.

Ids begin with their creation time (new_document_id), so a time range is a range of ids and needs no index.
Owner and state are read through views keyed [owner, _id], [state, _id] and [owner, state, _id], so a list
narrowed by them reads only the documents it may show, whatever else the database holds. Any other condition
is checked on the documents read, at most `scan_limit` of them for one page: a page that stops there says
where the next one starts, so a rare match costs more pages, never an unbounded request. Views, not Mango:
pouchdb-server answers Mango's `$gt` with `limit` wrongly, and views work alike on Cloudant and CouchDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dms.clients.docstore import Document, DocumentStore

SCAN_LIMIT = 2000  # documents read for one page at most
_ID_STAMP = "%Y%m%dT%H%M%S%fZ"  # as new_document_id writes it


def filter_views(doc_type: str) -> dict[str, str]:
    """The map functions of a kind's list views (one design document per database)."""
    guard = f"doc.type === '{doc_type}'"
    return {
        "by_owner": f"function (doc) {{ if ({guard} && doc.owner) {{ emit([doc.owner, doc._id], null); }} }}",
        "by_state": f"function (doc) {{ if ({guard} && doc.state) {{ emit([doc.state, doc._id], null); }} }}",
        "by_owner_state": (
            f"function (doc) {{ if ({guard} && doc.owner && doc.state) "
            "{ emit([doc.owner, doc.state, doc._id], null); } }"
        ),
    }


@dataclass(frozen=True)
class ListQuery:
    """Which documents a list shows: an owner's (None: everyone's), in a state, created in a time range,
    from after `cursor` (the id the page before ended on), at most `limit` of them, newest first."""

    owner: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass
class ListPage:
    """One page of a list, and the cursor of the next (None when nothing follows)."""

    docs: list[Document]
    next_cursor: str | None


def newest(
    store: DocumentStore,
    doc_type: str,
    query: ListQuery,
    matches: Callable[[Document], bool] = lambda doc: True,
    scan_limit: int = SCAN_LIMIT,
) -> ListPage:
    """A page of the newest documents of `doc_type` ("job": ids `job-<time>-...`) that the query and
    `matches` select; their views live in the design document `<doc_type>_filters` (written on first use)."""
    low = f"{doc_type}-" + (_stamp(query.since) if query.since else "")
    high = f"{doc_type}-" + (_stamp(query.until) + "\ufff0" if query.until else "\ufff0")
    if query.cursor is not None:
        high = min(high, query.cursor)
    docs: list[Document] = []
    scanned = 0
    last_read: str | None = None
    for doc in _candidates(store, doc_type, query, low, high, scan_limit + 1):
        if query.cursor is not None and doc["_id"] >= query.cursor:
            continue  # the page before ended on it
        scanned += 1
        last_read = doc["_id"]
        if matches(doc):
            docs.append(doc)
            if len(docs) > query.limit:
                return ListPage(docs[: query.limit], docs[query.limit - 1]["_id"])
        if scanned >= scan_limit:
            return ListPage(docs, last_read)
    return ListPage(docs, None)


def _candidates(
    store: DocumentStore, doc_type: str, query: ListQuery, low: str, high: str, limit: int
) -> Iterator[Document]:
    """The documents in the id range, newest first, through the narrowest view the query allows."""
    if query.owner is None and query.state is None:
        return store.iter_all(descending=True, limit=limit, id_range=(low, high))
    design = f"{doc_type}_filters"
    store.ensure_design(design, filter_views(doc_type))
    key: list[str]
    if query.owner is not None and query.state is not None:
        view, key = "by_owner_state", [query.owner, query.state]
    elif query.owner is not None:
        view, key = "by_owner", [query.owner]
    else:
        view, key = "by_state", [str(query.state)]
    return store.iter_view(
        design, view, start_key=[*key, high], end_key=[*key, low], descending=True, limit=limit
    )


def _stamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(_ID_STAMP)


def parse_moment(text: str, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date and time (UTC unless it says otherwise), or None when it is not one; a date
    alone is its first moment, or with `end_of_day` its last (so `until=2026-12-03` includes that day)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if end_of_day and len(text.strip()) == 10:
        moment += timedelta(days=1, microseconds=-1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def designs_for(doc_type: str) -> str:
    """The design document of a kind's list views."""
    return f"{doc_type}_filters"

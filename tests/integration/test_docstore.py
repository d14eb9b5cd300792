"""Job documents round-trip through a real CouchDB-API server, revision conflicts handled."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from dms.clients.docstore import DocumentStore, new_document_id
from dms.errors import Conflict, NotFound


@pytest.fixture()
def store(app: Any) -> DocumentStore:
    return app.extensions["dms"].store(f"jobs{uuid.uuid4().hex[:6]}")


def test_document_round_trips_with_its_revision(store: DocumentStore) -> None:
    doc = store.create(
        {"_id": new_document_id("job"), "state": "created", "counters": {"total": 3}, "name": "Ünïcode ✓"}
    )
    assert doc["_rev"].startswith("1-")
    loaded = store.get(doc["_id"])
    assert loaded["counters"] == {"total": 3}
    assert loaded["name"] == "Ünïcode ✓"


def test_writing_a_stale_revision_is_a_conflict(store: DocumentStore) -> None:
    doc = store.create({"_id": new_document_id("job"), "state": "created"})
    store.put({**doc, "state": "planning"})
    with pytest.raises(Conflict) as info:
        store.put({**doc, "state": "loading"})
    assert info.value.code == "REVISION_CONFLICT"
    assert store.get(doc["_id"])["state"] == "planning"


def test_concurrent_updates_lose_nothing(store: DocumentStore) -> None:
    doc = store.create({"_id": new_document_id("job"), "succeeded": 0})

    def bump() -> None:
        for _ in range(10):
            store.update(doc["_id"], lambda d: {**d, "succeeded": d["succeeded"] + 1})

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(doc["_id"])["succeeded"] == 40


def test_missing_document_is_not_found(store: DocumentStore) -> None:
    with pytest.raises(NotFound):
        store.get("job-does-not-exist")


def test_listing_is_in_time_order_and_pages(store: DocumentStore) -> None:
    ids = [store.create({"_id": new_document_id("job"), "n": n})["_id"] for n in range(5)]
    assert [d["_id"] for d in store.iter_all("job-")] == ids
    assert [d["_id"] for d in store.iter_all("job-", descending=True, limit=2)] == ids[::-1][:2]

"""Job documents round-trip through a real CouchDB-API server, revision conflicts handled."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from dms.clients.docstore import DocumentStore, new_document_id
from dms.errors import Conflict, NotFound
from dms.pipeline.jobstore import BY_OWNER_MAP, JobStore


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


class CountingService:
    """The real Cloudant client, counting the rows each listing call answered (what the store read)."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.rows: dict[str, list[dict[str, Any]]] = {"post_view": [], "post_all_docs": []}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.service, name)
        if name not in self.rows:
            return method

        def counted(**kwargs: Any) -> Any:
            response = method(**kwargs)
            self.rows[name].extend(response.get_result()["rows"])
            return response

        return counted


@pytest.fixture()
def counted_jobs(app: Any) -> tuple[JobStore, CountingService]:
    services = app.extensions["dms"]
    counting = CountingService(services.cloudant)
    name = f"{services.settings['COUCHDB_DB_PREFIX']}_jobs{uuid.uuid4().hex[:6]}"
    jobs = DocumentStore(counting, name)  # type: ignore[arg-type]
    return JobStore(jobs, services.store(f"chunks{uuid.uuid4().hex[:6]}")), counting


def _job(owner: str | None) -> dict[str, Any]:
    return {"_id": new_document_id("job"), "type": "job", "state": "created", "owner": owner}


def test_each_owner_lists_only_their_jobs_newest_first_and_an_admin_lists_all(
    counted_jobs: tuple[JobStore, CountingService],
) -> None:
    store, counting = counted_jobs
    owners = ["alice", "bob", "alice", None, "bob", "alice", "carol", "alice", "bob", "alice"]
    ids = [store.create(_job(owner))["_id"] for owner in owners]
    mine = {who: [i for i, o in zip(ids, owners, strict=True) if o == who][::-1] for who in set(owners)}

    assert [j["_id"] for j in store.list(limit=3, owner="alice")] == mine["alice"][:3]
    # Only alice's newest three rows were read: no other owner's document, and no scan of every job.
    assert counting.rows["post_all_docs"] == []
    assert [row["doc"]["owner"] for row in counting.rows["post_view"]] == ["alice"] * 3

    assert [j["_id"] for j in store.list(limit=50, owner="bob")] == mine["bob"]
    assert [j["_id"] for j in store.list(limit=50, owner="carol")] == mine["carol"]
    assert store.list(limit=50, owner="dave") == []
    assert {row["doc"]["owner"] for row in counting.rows["post_view"]} == {"alice", "bob", "carol"}
    assert len(counting.rows["post_view"]) == 3 + len(mine["bob"]) + len(mine["carol"])

    assert [j["_id"] for j in store.list(limit=50)] == ids[::-1]  # an admin sees every job
    assert [j["_id"] for j in store.list(limit=4)] == ids[::-1][:4]
    # A job written after the first listing is in the next one (the view reads its writes).
    newest = store.create(_job("alice"))["_id"]
    assert [j["_id"] for j in store.list(limit=2, owner="alice")] == [newest, mine["alice"][0]]


def test_a_view_pages_through_more_rows_than_one_request_answers(store: DocumentStore) -> None:
    store.ensure_design("jobs", {"by_owner": BY_OWNER_MAP})
    ids = [store.create(_job("alice"))["_id"] for _ in range(5)]
    store.create(_job("bob"))
    listed = store.iter_view("jobs", "by_owner", ["alice"], ["alice", {}], page=2)
    assert [d["_id"] for d in listed] == ids


def test_the_design_document_is_written_once_and_replaced_when_its_views_change(app: Any) -> None:
    services = app.extensions["dms"]
    name = f"{services.settings['COUCHDB_DB_PREFIX']}_jobs{uuid.uuid4().hex[:6]}"
    DocumentStore(services.cloudant, name).ensure_design("jobs", {"by_owner": BY_OWNER_MAP})
    first = services.cloudant.get_design_document(db=name, ddoc="jobs").get_result()["_rev"]
    # Another process (its own store) finds it in place and leaves it alone.
    DocumentStore(services.cloudant, name).ensure_design("jobs", {"by_owner": BY_OWNER_MAP})
    assert services.cloudant.get_design_document(db=name, ddoc="jobs").get_result()["_rev"] == first
    changed = "function (doc) { if (doc.owner) { emit([doc.owner, doc._id], null); } }"
    DocumentStore(services.cloudant, name).ensure_design("jobs", {"by_owner": changed})
    replaced = services.cloudant.get_design_document(db=name, ddoc="jobs").get_result()
    assert replaced["_rev"] != first and replaced["views"] == {"by_owner": {"map": changed}}

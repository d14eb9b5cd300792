"""Exactly-once effect under at-least-once delivery, proven by killing the worker for real at each step.

A crash point (dms/crashpoints.py) SIGKILLs the worker's whole process group at a named step of
`load_chunk`; the unacknowledged SQS message comes back after the visibility timeout to a second worker.
Whatever the step, the org must hold each row once, and the job's counters must be exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from dms.clients.sqs import ensure_queues
from dms.crashpoints import arm
from dms.devstack import ProcessGroup
from dms.pipeline.context import Pipeline
from dms.pipeline.lifecycle import create_job
from dms.pipeline.model import TaskName
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from tests.conftest import wait_for
from tests.integration.pipeline_helpers import org_client, records_by

ROWS = 30
VISIBILITY = "8"


@pytest.fixture(scope="module")
def crash_env(stack_env: dict[str, str]) -> dict[str, str]:
    queue = f"dms-crash-{uuid.uuid4().hex[:8]}"
    env = {
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_SQS_VISIBILITY_TIMEOUT": VISIBILITY,
        "DMS_CRASH_POINTS": "true",
    }
    ensure_queues(load_settings(environ={**stack_env, **env}))
    return env


@pytest.fixture(scope="module")
def crash_pipeline(app: Any, stack_env: dict[str, str], crash_env: dict[str, str]) -> Pipeline:
    """The pipeline of the test process, publishing to the crash-test queue."""
    publisher = Celery("crash-publisher")
    publisher.conf.update(celery_settings(load_settings(environ={**stack_env, **crash_env})))
    return Pipeline(app.extensions["dms"], enqueue=lambda name, args: publisher.send_task(name, args=args))


@pytest.fixture()
def workers(
    processes: ProcessGroup, start_worker: Callable[..., str], crash_env: dict[str, str]
) -> Iterator[Callable[[], str]]:
    started: list[str] = []

    def start() -> str:
        name = start_worker(concurrency=1, **crash_env)
        started.append(name)
        return name

    yield start
    for name in started:
        processes.stop(name)


def crash_then_redeliver(
    app: Any, processes: ProcessGroup, workers: Callable[[], str], point: str, start: Callable[[], Any]
) -> Any:
    """Arm `point`, start a worker and the work (`start`'s answer is returned), see the worker die there,
    and start a second worker for the redelivered message."""
    redis = app.extensions["dms"].redis
    arm(redis, point)
    first = workers()
    started = start()
    wait_for(
        lambda: processes.processes[first].poll() is not None,
        timeout=120,
        what=f"the worker to crash at {point}",
    )
    assert not redis.exists(f"dms:crash:{point}"), "the crash point was not reached"
    workers()
    return started


def insert_job(pipeline: Pipeline, tmp_path: Path, prefix: str, operation: str = "insert") -> dict[str, Any]:
    path = tmp_path / "accounts.csv"
    path.write_text(
        "Name,Legacy_Id__c\n" + "".join(f"Crash {prefix} {n},{prefix}-{n}\n" for n in range(1, ROWS + 1))
    )
    key = f"uploads/test-{prefix}/accounts.csv"
    pipeline.blobs.put_file(key, path)
    request = {
        "source": {"blob_key": key, "filename": "accounts.csv"},
        "target": {
            "object": "Account",
            "operation": operation,
            "external_id": "Legacy_Id__c" if operation == "upsert" else None,
        },
        "options": {"chunk_rows": 10},
    }
    return create_job(pipeline, request)


@pytest.mark.parametrize(
    ("operation", "point"),
    [
        ("insert", "before_upload"),
        ("insert", "after_upload"),
        ("insert", "after_close"),
        ("insert", "after_results"),
        ("insert", "after_settle"),
        ("upsert", "after_collections_batch"),
    ],
)
def test_worker_killed_mid_load_creates_no_duplicates_and_counts_exactly(
    app: Any,
    processes: ProcessGroup,
    workers: Callable[[], str],
    crash_pipeline: Pipeline,
    localorg: Any,
    tmp_path: Path,
    operation: str,
    point: str,
) -> None:
    prefix = uuid.uuid4().hex[:8]
    job = crash_then_redeliver(
        app, processes, workers, point, lambda: insert_job(crash_pipeline, tmp_path, prefix, operation)
    )
    final = wait_for(
        lambda: (
            (j := crash_pipeline.store.get(job["_id"]))["state"]
            in ("completed", "completed_with_errors", "failed")
            and j
        ),
        timeout=120,
        what="the job to finish after redelivery",
    )
    assert final["state"] == "completed", final
    counters = final["counters"]
    assert (counters["total"], counters["succeeded"], counters["failed"], counters["pending"]) == (
        ROWS,
        ROWS,
        0,
        0,
    )
    if operation == "insert":  # Collections cannot tell created from updated on a resent batch (see load.py)
        assert counters["created"] == ROWS

    sf = org_client(localorg)
    org = records_by(sf, f"SELECT Id, Legacy_Id__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'", "Id")
    assert len(org) == ROWS, f"{len(org)} records for {ROWS} rows: duplicates or losses"
    assert sorted(r["Legacy_Id__c"] for r in org.values()) == sorted(
        f"{prefix}-{n}" for n in range(1, ROWS + 1)
    )

    from dms.pipeline.results import stream_success

    text = b"".join(stream_success(crash_pipeline.blobs, final)).decode("utf-8-sig").splitlines()[1:]
    rows = [line.split(",") for line in text]
    assert sorted(int(r[0]) for r in rows) == list(range(1, ROWS + 1))
    assert {r[1] for r in rows} == set(org)


def test_staging_stays_bounded_when_nobody_else_loads(app: Any, localorg: Any, tmp_path: Path) -> None:
    """Load messages go nowhere here: only the planner's own loads can drain Redis, and they must."""
    from dms.clients import Services
    from dms.pipeline.plan import plan_job
    from dms.pipeline.staging import STAGE_PREFIX

    services = Services({**app.extensions["dms"].settings, "STAGING_MAX_CHUNKS_PER_JOB": 3})
    p = Pipeline(services, enqueue=lambda name, args: None)
    prefix = uuid.uuid4().hex[:8]
    job = insert_job(p, tmp_path, prefix)  # chunks of 10 rows; its source is replaced by 90 rows below
    path = tmp_path / "more.csv"
    path.write_text("Name,Legacy_Id__c\n" + "".join(f"Bounded {n},{prefix}-{n}\n" for n in range(90)))
    p.blobs.put_file(job["source"]["blob_key"], path)
    assert plan_job(p, job["_id"]) == "loading"
    staged = [k for k in services.redis.scan_iter(f"{STAGE_PREFIX}:{job['_id']}:*:load")]
    settled = [c for c in p.store.chunk_docs(job["_id"]) if c["state"] == "done"]
    assert len(staged) <= 3
    assert len(settled) == 9 - len(staged)
    sf = org_client(localorg)
    assert sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")[
        "totalSize"
    ] == 10 * len(settled)


def test_the_planner_loads_a_chunk_nobody_holds_rather_than_wait_for_one_that_is_held(
    app: Any, localorg: Any, tmp_path: Path
) -> None:
    """A worker took chunk 0 from the queue and holds its lease for the whole plan (a slow load): the
    planner, past its staging bound, must load the other chunks, not wait behind chunk 0."""
    import threading

    from dms.clients import Services
    from dms.pipeline.load import take_lease
    from dms.pipeline.model import chunk_id
    from dms.pipeline.plan import plan_job

    services = Services({**app.extensions["dms"].settings, "STAGING_MAX_CHUNKS_PER_JOB": 2})

    def enqueue(name: str, args: list[Any]) -> None:
        if name == TaskName.LOAD_CHUNK and args[1] == 0:  # the other worker receives chunk 0 and keeps it
            take_lease(p, chunk_id(args[0], 0), owner="another-worker", seconds=600)

    p = Pipeline(services, enqueue=enqueue)
    prefix = uuid.uuid4().hex[:8]
    job = insert_job(p, tmp_path, prefix)  # 30 rows in chunks of 10
    outcome: list[str] = []
    planner = threading.Thread(target=lambda: outcome.append(plan_job(p, job["_id"])), daemon=True)
    planner.start()
    planner.join(timeout=90)
    assert not planner.is_alive(), "the planner waited behind the held chunk instead of loading others"
    assert outcome == ["loading"]
    states = {c["index"]: c["state"] for c in p.store.chunk_docs(job["_id"])}
    assert states[0] == "loading" and states[2] == "done", states  # chunk 0 is still the other worker's


def test_a_plan_redelivered_after_its_chunks_were_loaded_finishes_without_loading_them_again(
    app: Any,
    processes: ProcessGroup,
    start_worker: Callable[..., str],
    crash_env: dict[str, str],
    crash_pipeline: Pipeline,
    localorg: Any,
    tmp_path: Path,
) -> None:
    """With staging bounded to one chunk, the planner loads every chunk itself; it is killed just before it
    hands the job over. The plan message comes back: the new delivery must not stage the loaded chunks again
    (they would count as waiting forever) and must finish the job with each row once."""
    from dms.pipeline.staging import STAGE_PREFIX

    redis = app.extensions["dms"].redis
    prefix = uuid.uuid4().hex[:8]
    arm(redis, "after_staging")
    env = {**crash_env, "DMS_STAGING_MAX_CHUNKS_PER_JOB": "1"}
    first = start_worker(concurrency=1, **env)
    try:
        job = insert_job(crash_pipeline, tmp_path, prefix)
        wait_for(
            lambda: processes.processes[first].poll() is not None,
            timeout=90,
            what="the planner to crash after staging",
        )
        assert not redis.exists("dms:crash:after_staging"), "the crash point was not reached"
        assert {c["state"] for c in crash_pipeline.store.chunk_docs(job["_id"])} == {"done"}
        second = start_worker(concurrency=1, **env)
        final = wait_for(
            lambda: (
                (j := crash_pipeline.store.get(job["_id"]))["state"]
                in ("completed", "completed_with_errors", "failed")
                and j
            ),
            timeout=120,
            what="the redelivered plan to finish the job",
        )
        processes.stop(second)
    finally:
        processes.stop(first)
    assert final["state"] == "completed", final
    assert (final["counters"]["total"], final["counters"]["succeeded"], final["counters"]["pending"]) == (
        ROWS,
        ROWS,
        0,
    )
    assert list(redis.scan_iter(f"{STAGE_PREFIX}:{job['_id']}:*")) == []  # nothing left staged
    org = records_by(
        org_client(localorg),
        f"SELECT Id, Legacy_Id__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Id",
    )
    assert len(org) == ROWS


# ---- migration plans ------------------------------------------------------------------------------------

PLAN_ACCOUNTS = 12  # in chunks of 4: account n's parent is account n // 2 (account 1 is the root)


def hierarchy_plan(pipeline: Pipeline, tmp_path: Path, prefix: str, api: str) -> dict[str, Any]:
    """Accounts with a parent hierarchy listed children first, and one contact per account reporting to
    the contact of the parent account: both loads, then both deferred update passes."""
    from dms.migration.run import create_plan

    accounts = tmp_path / "accounts.csv"
    numbers = range(PLAN_ACCOUNTS, 0, -1)  # children before their parents
    accounts.write_text(
        "LegacyId,Name,ParentRef\n"
        + "".join(
            f"{prefix}-A{n},Plan {prefix} {n},{f'{prefix}-A{n // 2}' if n > 1 else ''}\n" for n in numbers
        )
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "ContactRef,AccountRef,LastName,ManagerRef\n"
        + "".join(
            f"{prefix}-C{n},{prefix}-A{n},Contact {n},{f'{prefix}-C{n // 2}' if n > 1 else ''}\n"
            for n in numbers
        )
    )
    sources = {}
    for name, path in (("accounts", accounts), ("contacts", contacts)):
        key = f"uploads/test-{prefix}/{path.name}"
        pipeline.blobs.put_file(key, path)
        sources[name] = {"blob_key": key, "filename": path.name, "size": path.stat().st_size}

    def ref(step: str) -> dict[str, Any]:
        return {"step": step}

    document = {
        "name": f"crash {prefix}",
        "options": {"chunk_rows": 4, "api": api},
        "steps": [
            {
                "name": "accounts",
                "object": "Account",
                "key": "LegacyId",
                "source": {"upload_id": "test"},
                "mapping": {
                    "fields": [
                        {"target": "Name", "source": "Name"},
                        {"target": "Legacy_Id__c", "source": "LegacyId"},
                        {"target": "ParentId", "source": "ParentRef", "ref": ref("accounts")},
                    ]
                },
            },
            {
                "name": "contacts",
                "object": "Contact",
                "key": "ContactRef",
                "source": {"upload_id": "test"},
                "mapping": {
                    "fields": [
                        {"target": "LastName", "source": "LastName"},
                        {"target": "AccountId", "source": "AccountRef", "ref": ref("accounts")},
                        {"target": "ReportsToId", "source": "ManagerRef", "ref": ref("contacts")},
                    ]
                },
            },
        ],
    }
    return create_plan(pipeline, document, sources, dry_run=False, owner={})


@pytest.mark.parametrize(
    ("api", "point"),
    [
        ("bulk", "after_upload:insert"),  # a load pass, mid bulk job
        ("collections", "after_collections_batch:update"),  # a deferred update pass, mid request
        ("bulk", "after_results:update"),  # an update pass's results written, the chunk not settled
        ("collections", "plan_after_key_maps"),  # the runner: key maps written, the pass not recorded
        ("collections", "plan_after_pass_started"),  # the runner: a pass's job made, not recorded
    ],
)
def test_worker_killed_during_a_plan_leaves_every_record_once_with_its_references(
    app: Any,
    processes: ProcessGroup,
    workers: Callable[[], str],
    crash_pipeline: Pipeline,
    localorg: Any,
    tmp_path: Path,
    api: str,
    point: str,
) -> None:
    from dms.migration.run import plans_store
    from dms.migration.view import plan_view

    prefix = uuid.uuid4().hex[:8]
    plan = crash_then_redeliver(
        app, processes, workers, point, lambda: hierarchy_plan(crash_pipeline, tmp_path, prefix, api)
    )
    store = plans_store(crash_pipeline)
    final = wait_for(
        lambda: (
            (d := store.get(plan["_id"]))["state"] in ("completed", "completed_with_errors", "failed") and d
        ),
        timeout=180,
        what="the plan to end after redelivery",
    )
    view = plan_view(final)
    assert final["state"] == "completed", view
    for step in view["steps"]:
        counters = step["counters"]
        assert (counters["total"], counters["loaded"], counters["pending"], counters["failed"]) == (
            PLAN_ACCOUNTS,
            PLAN_ACCOUNTS,
            0,
            0,
        ), step
        assert counters["deferred_set"] == PLAN_ACCOUNTS - 1, step  # every row but the root's

    sf = org_client(localorg)
    accounts = records_by(
        sf,
        f"SELECT Id, ParentId, Legacy_Id__c FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'",
        "Legacy_Id__c",
    )
    assert len(accounts) == PLAN_ACCOUNTS
    account_ids = [r["Id"] for r in accounts.values()]
    assert (
        sf.query(f"SELECT COUNT() FROM Account WHERE Name LIKE 'Plan {prefix} %'")["totalSize"]
        == PLAN_ACCOUNTS
    )
    contacts = records_by(
        sf,
        "SELECT Id, LastName, AccountId, ReportsToId FROM Contact WHERE AccountId IN ("
        + ",".join(f"'{i}'" for i in account_ids)
        + ")",
        "LastName",
    )
    assert len(contacts) == PLAN_ACCOUNTS, "duplicates or losses"
    for n in range(1, PLAN_ACCOUNTS + 1):
        account, contact = accounts[f"{prefix}-A{n}"], contacts[f"Contact {n}"]
        assert contact["AccountId"] == account["Id"]
        if n == 1:
            assert account["ParentId"] is None and contact["ReportsToId"] is None
        else:
            assert account["ParentId"] == accounts[f"{prefix}-A{n // 2}"]["Id"]
            assert contact["ReportsToId"] == contacts[f"Contact {n // 2}"]["Id"]

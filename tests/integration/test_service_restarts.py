"""A service restarted under a running load costs the job seconds, not the hourly housekeeping: nothing lost,
duplicated or miscounted.

Each test runs a multi-chunk insert on a stack of its own (its own redis-server, pouchdb-server on disk and
localorg on a database file; the session's moto behind a relay), restarts one service for real while chunks are
loading, and checks that the job moves again within a minute of the service answering, and ends with every row
in the org exactly once. The broker is the one service not restarted itself: moto keeps its queues in memory,
and a restarted moto has lost every message, which SQS never does; its outage is the relay in front of it
resetting every connection and refusing new ones (tests/integration/tcp_outage.py). A localorg restarted mid-job fails that bulk job, as Salesforce does on an internal error:
what it processed stays in the org and is counted from its results; only the rest is sent again.
"""

from __future__ import annotations

import contextlib
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from dms.clients import Services
from dms.clients.sqs import ensure_queues
from dms.devstack import ProcessGroup, ServiceSpec, free_port, pouchdb_spec, redis_spec
from dms.pipeline.context import Pipeline
from dms.pipeline.lifecycle import create_job
from dms.pipeline.model import FINAL_STATES
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from localorg.testing import LocalOrgHandle, running_localorg
from tests.integration.pipeline_helpers import org_client
from tests.integration.tcp_outage import OutageRelay

ROWS, CHUNK_ROWS = 6000, 300  # 20 chunks: loading is well under way when the service goes
RECOVERY_SECONDS = 60.0


@dataclass
class LocalorgProcess:
    """A localorg on a fixed port and database file, so that it can be stopped and started again."""

    workdir: Path
    port: int = field(default_factory=free_port)
    running: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start(self) -> LocalOrgHandle:
        db = str(self.workdir / "org.db")
        return self.running.enter_context(running_localorg(db=db, port=self.port, workdir=str(self.workdir)))

    def stop(self) -> None:
        self.running.close()


@dataclass
class RestartStack:
    group: ProcessGroup
    specs: dict[str, ServiceSpec]
    org: LocalorgProcess
    handle: LocalOrgHandle
    pipeline: Pipeline
    broker: OutageRelay

    def restart(self, name: str, down_seconds: float = 3.0) -> float:
        """Stop a service, leave it down a moment, start it again on the same port; returns when it answers."""
        if name == "broker":
            return self.broker.outage(down_seconds)
        if name == "localorg":
            self.org.stop()
            time.sleep(down_seconds)
            self.org.start()
            return time.monotonic()
        self.group.stop(name)
        time.sleep(down_seconds)
        self.group.start(self.specs[name])
        return time.monotonic()


@pytest.fixture()
def restart_stack(
    app: Any,  # its Celery set-up points boto at the test's SQS (AWS_ENDPOINT_URL_SQS) for this process
    tmp_path: Path,
    stack_env: dict[str, str],
    sqs_endpoint: str,
    start_worker: Callable[..., str],
    processes: ProcessGroup,
) -> Iterator[RestartStack]:
    group = ProcessGroup(tmp_path / "log")
    redis_port, couch_port = free_port(), free_port()
    specs = {
        "redis": redis_spec(redis_port, tmp_path / "redis"),
        "couchdb": pouchdb_spec(couch_port, tmp_path / "couchdb"),  # on disk: a restart keeps documents
    }
    for spec in specs.values():
        group.start(spec)
    org = LocalorgProcess(tmp_path / "localorg")
    handle = org.start()
    queue = f"dms-restart-{uuid.uuid4().hex[:8]}"
    env = {
        "DMS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DMS_COUCHDB_URL": f"http://127.0.0.1:{couch_port}",
        "DMS_COUCHDB_DB_PREFIX": f"r{uuid.uuid4().hex[:6]}",
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_SQS_VISIBILITY_TIMEOUT": "60",
        "DMS_SALESFORCE_LOGIN_URL": handle.base_url,
        "DMS_SALESFORCE_CA_BUNDLE": handle.ca_path,
    }
    settings = load_settings(environ={**stack_env, **env})
    ensure_queues(settings)
    publisher = Celery("restart-publisher")
    publisher.conf.update(celery_settings(settings))
    pipeline = Pipeline(Services(settings), enqueue=lambda name, args: publisher.send_task(name, args=args))
    moto = urllib.parse.urlsplit(sqs_endpoint)
    broker = OutageRelay(moto.hostname or "127.0.0.1", moto.port or 80)
    # The worker reaches SQS through the relay; the test publishes its first message directly.
    worker = start_worker(concurrency=2, **env, DMS_SQS_ENDPOINT_URL=broker.url)
    try:
        yield RestartStack(group, specs, org, handle, pipeline, broker)
    finally:
        processes.stop(worker)
        broker.close()
        group.stop_all()
        org.stop()


def patiently(read: Callable[[], Any], seconds: float = 30.0) -> Any:
    """Read through the test's own view of a service that may be restarting."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return read()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def settled_chunks(p: Pipeline, job_id: str) -> int:
    return sum(c["state"] == "done" for c in p.store.chunk_docs(job_id))


@pytest.mark.parametrize("service", ["redis", "couchdb", "localorg", "broker"])
def test_a_service_restarted_mid_load_costs_the_job_under_a_minute(
    restart_stack: RestartStack, tmp_path: Path, service: str
) -> None:
    p = restart_stack.pipeline
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("Name,Legacy_Id__c\n" + "".join(f"Restart {n},{prefix}-{n}\n" for n in range(ROWS)))
    key = f"uploads/test-{prefix}/accounts.csv"
    p.blobs.put_file(key, path)
    request = {
        "source": {"blob_key": key, "filename": "accounts.csv"},
        "target": {"object": "Account", "operation": "insert"},
        "options": {"chunk_rows": CHUNK_ROWS, "api": "bulk"},
    }
    job = create_job(p, request)
    deadline = time.monotonic() + 120
    while settled_chunks(p, job["_id"]) < 2:
        assert time.monotonic() < deadline, "the load did not start"
        time.sleep(0.2)
    before = patiently(lambda: settled_chunks(p, job["_id"]))
    relayed = restart_stack.broker.connections_accepted
    assert relayed > 0  # the worker reaches SQS through the relay
    answered = restart_stack.restart(service)

    # Moving again within a minute of the service answering: more chunks settle (or the job ends).
    while patiently(lambda: settled_chunks(p, job["_id"])) <= before:
        assert time.monotonic() - answered < RECOVERY_SECONDS, (
            f"no progress {RECOVERY_SECONDS:.0f}s after {service} came back"
        )
        time.sleep(0.5)
    final_deadline = time.monotonic() + 240
    while (final := patiently(lambda: p.store.get(job["_id"])))["state"] not in FINAL_STATES:
        assert time.monotonic() < final_deadline, final
        time.sleep(0.5)
    if service == "broker":
        assert restart_stack.broker.connections_accepted > relayed  # the worker came back to the same SQS

    counters = final["counters"]
    assert final["state"] == "completed", final
    assert (counters["total"], counters["succeeded"], counters["created"], counters["pending"]) == (
        ROWS,
        ROWS,
        ROWS,
        0,
    )
    sf = org_client(restart_stack.handle)
    in_org = sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"]
    assert in_org == ROWS  # each row once: nothing lost, nothing duplicated


def test_a_bulk_job_the_org_fails_part_way_counts_what_it_processed_and_sends_the_rest_once(
    restart_stack: RestartStack, tmp_path: Path
) -> None:
    """localorg restarted while a bulk job is InProgress ends it Failed, having written part of its rows, as
    Salesforce does on an internal error (it does not roll back): those rows count as loaded, by its results,
    and only the rows it never processed are sent again."""
    p, rows = restart_stack.pipeline, 200_000
    prefix = uuid.uuid4().hex[:8]
    path = tmp_path / "accounts.csv"
    path.write_text("Name,Legacy_Id__c\n" + "".join(f"Big {n},{prefix}-{n}\n" for n in range(rows)))
    key = f"uploads/test-{prefix}/big.csv"
    p.blobs.put_file(key, path)
    request = {
        "source": {"blob_key": key, "filename": "big.csv"},
        "target": {"object": "Account", "operation": "insert"},
        "options": {"chunk_rows": rows},  # one chunk, one bulk job
    }
    job = create_job(p, request)
    sf = org_client(restart_stack.handle)
    deadline = time.monotonic() + 120
    while True:  # the moment the org has processed part of the job
        chunk = next(iter(p.store.chunk_docs(job["_id"])), None)
        if chunk and chunk.get("bulk_job_id"):
            info = sf.bulk2.Account._client.get_job(chunk["bulk_job_id"], False)
            if info["state"] == "InProgress" and 0 < int(info["numberRecordsProcessed"]) < rows:
                break
            assert info["state"] in ("Open", "UploadComplete", "InProgress"), (
                f"missed the job in progress: {info}"
            )
        assert time.monotonic() < deadline, "the bulk job never started"
        time.sleep(0.02)
    restart_stack.restart("localorg", down_seconds=1.0)
    sf = org_client(restart_stack.handle)  # sessions do not survive a restart
    failed = sf.bulk2.Account._client.get_job(chunk["bulk_job_id"], False)
    assert failed["state"] == "Failed" and 0 < int(failed["numberRecordsProcessed"]) < rows, failed

    final_deadline = time.monotonic() + 240
    while (final := p.store.get(job["_id"]))["state"] not in FINAL_STATES:
        assert time.monotonic() < final_deadline, final
        time.sleep(0.5)
    counters = final["counters"]
    assert final["state"] == "completed", final
    assert (counters["succeeded"], counters["failed"], counters["pending"]) == (rows, 0, 0)
    in_org = sf.query(f"SELECT COUNT() FROM Account WHERE Legacy_Id__c LIKE '{prefix}-%'")["totalSize"]
    assert in_org == rows  # the rows the failed job wrote were not sent again

"""The wiring, for real: Flask publishes over SQS, a worker process runs it, late acks survive SIGKILL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from celery import Celery

from dms.clients.sqs import ensure_queues
from dms.devstack import ProcessGroup
from dms.settings import load_settings
from factories.celery_instance import celery_settings
from tests.conftest import wait_for


def test_task_published_by_the_app_runs_on_a_worker_and_its_result_reads_back(
    client: Any, worker: str
) -> None:
    message = f"hello-{uuid.uuid4().hex}"
    response = client.post("/api/v1/diagnostics/echo", json={"message": message})
    assert response.status_code == 202
    status_url = response.json["status_url"]
    assert status_url == f"/api/v1/tasks/{response.json['task_id']}"

    def finished() -> Any:
        body = client.get(status_url).json
        return body if body["state"] in ("SUCCESS", "FAILURE") else None

    body = wait_for(finished, timeout=60, what="the echo task to finish")
    assert body["state"] == "SUCCESS"
    assert body["result"]["message"] == message
    assert body["result"]["worker"]


def test_unknown_task_id_reads_as_pending(client: Any) -> None:
    body = client.get(f"/api/v1/tasks/{uuid.uuid4()}").json
    assert body["state"] == "PENDING"
    assert "result" not in body


def test_echo_rejects_a_non_string_message_with_a_stable_code(client: Any) -> None:
    response = client.post("/api/v1/diagnostics/echo", json={"message": {"x": 1}})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "INVALID_REQUEST"


def test_worker_killed_mid_task_has_the_task_delivered_again(
    app: Any, processes: ProcessGroup, stack_env: dict[str, str], start_worker: Callable[..., str]
) -> None:
    """Late acks really on: SIGKILL the worker while it holds a task; after the visibility timeout a second
    worker gets the same message."""
    queue = f"dms-kill-{uuid.uuid4().hex[:8]}"
    overrides = {
        "DMS_SQS_QUEUE_NAME": queue,
        "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
        "DMS_SQS_VISIBILITY_TIMEOUT": "3",
    }
    settings = load_settings(environ={**stack_env, **overrides})
    ensure_queues(settings)
    publisher = Celery("publisher")
    publisher.conf.update(celery_settings(settings))
    redis = app.extensions["dms"].redis
    key = uuid.uuid4().hex

    first = start_worker(**overrides)
    publisher.send_task("dms.diagnostics.hold", args=[key, 1.5])
    wait_for(
        lambda: redis.get(f"dms:diagnostics:{key}:deliveries") == b"1", timeout=60, what="first delivery"
    )
    processes.kill(first)
    assert redis.get(f"dms:diagnostics:{key}:done") is None

    start_worker(**overrides)
    done = wait_for(lambda: redis.get(f"dms:diagnostics:{key}:done"), timeout=60, what="redelivery")
    assert done == b"2"
    assert redis.get(f"dms:diagnostics:{key}:deliveries") == b"2"


def test_worker_settings_are_the_customers() -> None:
    import worker

    conf = worker.celery.conf
    assert conf.broker_url == "sqs://"
    assert (conf.task_acks_late, conf.worker_enable_remote_control, conf.worker_send_task_events) == (
        True,
        False,
        False,
    )
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_poison_message_moves_to_the_dead_letter_queue(stack_env: dict[str, str]) -> None:
    """The redrive policy ensure_queues sets is live: a message received too often leaves the task queue."""
    from dms.clients.sqs import sqs_client

    queue = f"dms-poison-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        environ={
            **stack_env,
            "DMS_SQS_QUEUE_NAME": queue,
            "DMS_SQS_DEAD_LETTER_QUEUE_NAME": f"{queue}-dead",
            "DMS_SQS_MAX_RECEIVE_COUNT": "2",
        }
    )
    urls = ensure_queues(settings)
    sqs = sqs_client(settings)
    sqs.send_message(QueueUrl=urls["queue"], MessageBody="poison")
    for _ in range(2):  # delivered twice, never deleted (the worker died each time)
        got = sqs.receive_message(QueueUrl=urls["queue"], VisibilityTimeout=0, WaitTimeSeconds=1)
        assert [m["Body"] for m in got.get("Messages", [])] == ["poison"]
    assert sqs.receive_message(QueueUrl=urls["queue"], WaitTimeSeconds=1).get("Messages") is None
    dead = sqs.receive_message(QueueUrl=urls["dead_letter"], WaitTimeSeconds=1)
    assert [m["Body"] for m in dead["Messages"]] == ["poison"]

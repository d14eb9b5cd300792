"""Bind the placeholder Celery instance to a Flask app: settings, and tasks that run in the app context."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from celery import Celery
from flask import Flask

from celery_holder import celery
from dms.clients.sqs import is_loopback, queue_url, tolerate_failed_receives
from dms.settings import task_time_limits


def celery_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """All Celery settings in one lowercase mapping (Celery 5 refuses old and new names mixed)."""
    queue = settings["SQS_QUEUE_NAME"]
    soft_time_limit, time_limit = task_time_limits(settings)  # inside the visibility timeout
    return {
        "broker_url": "sqs://",
        "broker_transport_options": {
            "region": settings["AWS_REGION"],
            "visibility_timeout": settings["SQS_VISIBILITY_TIMEOUT"],
            "polling_interval": settings["SQS_POLLING_INTERVAL"],
            "wait_time_seconds": settings["SQS_WAIT_TIME_SECONDS"],
            # Predefined queues: kombu neither lists nor creates queues (least IAM privilege, and the
            # dead-letter redrive policy set at creation is never fought over).
            "predefined_queues": {queue: {"url": queue_url(settings, queue)}},
        },
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue,
        "result_backend": settings["REDIS_URL"],
        "result_expires": 7 * 24 * 3600,
        "task_track_started": True,
        # At-least-once: a worker that dies mid-task leaves the message to come back after the visibility
        # timeout; a killed pool process rejects (requeues) rather than acks. Tasks are idempotent for it.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # SQS has no broadcast: remote control and events would need queues it cannot serve.
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_soft_time_limit": soft_time_limit,
        "task_time_limit": time_limit,
        "worker_hijack_root_logger": False,
    }


def configure_celery(app: Flask) -> Celery:
    """Configure the holder instance from the app and make every task run inside the app context."""
    if app.config.get("SQS_ENDPOINT_URL"):
        # kombu has no endpoint option; botocore reads this variable (moto_server locally).
        os.environ["AWS_ENDPOINT_URL_SQS"] = app.config["SQS_ENDPOINT_URL"]
        if is_loopback(app.config["SQS_ENDPOINT_URL"]):
            # moto_server accepts any keys; these placeholders never reach a real AWS endpoint.
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    celery.conf.update(app.config["CELERY"])
    tolerate_failed_receives()

    base = celery.Task

    class AppContextTask(base):  # type: ignore[valid-type,misc]
        """A task whose body runs with the Flask app context pushed (services, settings, logging)."""

        abstract = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return super().__call__(*args, **kwargs)

    celery.Task = AppContextTask
    app.extensions["celery"] = celery
    return celery

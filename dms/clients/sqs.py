"""The SQS queues: their URLs, and (locally) their creation with a dead-letter redrive policy."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import boto3

log = logging.getLogger(__name__)


def is_loopback(url: str) -> bool:
    """Whether an endpoint URL points at this machine (a local moto_server)."""
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def sqs_client(settings: Mapping[str, Any]) -> Any:
    """A boto3 SQS client for the configured region and endpoint."""
    return boto3.client(
        "sqs", region_name=settings["AWS_REGION"], endpoint_url=settings["SQS_ENDPOINT_URL"] or None
    )


def queue_url(settings: Mapping[str, Any], name: str | None = None) -> str:
    """The URL of a queue, built without a network call (kombu's predefined queues need it up front)."""
    name = name or settings["SQS_QUEUE_NAME"]
    if settings.get("SQS_QUEUE_URL") and name == settings["SQS_QUEUE_NAME"]:
        return str(settings["SQS_QUEUE_URL"])
    endpoint = settings["SQS_ENDPOINT_URL"] or f"https://sqs.{settings['AWS_REGION']}.amazonaws.com"
    return f"{endpoint.rstrip('/')}/{settings['AWS_ACCOUNT_ID']}/{name}"


def ensure_queues(settings: Mapping[str, Any]) -> dict[str, str]:
    """Create the dead-letter queue and the task queue with its redrive policy; return their URLs."""
    client = sqs_client(settings)
    dead_url = client.create_queue(
        QueueName=settings["SQS_DEAD_LETTER_QUEUE_NAME"],
        Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
    )["QueueUrl"]
    dead_arn = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "VisibilityTimeout": str(settings["SQS_VISIBILITY_TIMEOUT"]),
        "ReceiveMessageWaitTimeSeconds": str(settings["SQS_WAIT_TIME_SECONDS"]),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(settings["SQS_MAX_RECEIVE_COUNT"])}
        ),
    }
    name = settings["SQS_QUEUE_NAME"]
    try:
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except client.exceptions.QueueNameExists:
        # Same name, other attributes (e.g. a changed visibility timeout): bring the queue up to date.
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    log.info("queues ready queue=%s dead_letter=%s", url, dead_url)
    return {"queue": url, "dead_letter": dead_url}


def queue_depth(settings: Mapping[str, Any]) -> dict[str, int]:
    """Messages waiting and in flight on the task queue (used by /health)."""
    attrs = sqs_client(settings).get_queue_attributes(
        QueueUrl=queue_url(settings),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "waiting": int(attrs.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
    }


def tolerate_failed_receives() -> None:
    """Keep a worker alive when one SQS receive times out or answers 5xx.

    kombu 5.7's async SQS client turns such a receive into `[]` (to "prevent hanging the worker"), but the
    channel then calls `.get("Messages")` on it and the worker dies with an AttributeError. SQS does answer
    500/503 now and then, and a long poll can time out; a worker must treat that as "no messages".
    """
    # kombu loads its SQS transport (boto3, pycurl) only for a worker on SQS: patch it when it is wanted.
    from kombu.transport.SQS import Channel

    if getattr(Channel._on_messages_ready, "_dms_tolerant", False):
        return
    original = Channel._on_messages_ready

    def on_messages_ready(self: Any, queue: str, qname: str, messages: Any) -> int:
        if not isinstance(messages, dict):
            log.warning("sqs receive failed or timed out queue=%s; polling again", qname)
            return 0
        return int(original(self, queue, qname, messages))

    on_messages_ready._dms_tolerant = True  # type: ignore[attr-defined]
    Channel._on_messages_ready = on_messages_ready  # type: ignore[method-assign]

"""Diagnostic tasks: a queue round trip, and a held task that records each delivery (at-least-once checks)."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from celery_holder import celery
from dms.clients import current_services

log = logging.getLogger(__name__)


@celery.task(name="dms.diagnostics.echo")
def echo(message: str) -> dict[str, Any]:
    """Return the message with the worker's host name."""
    return {"message": message, "worker": socket.gethostname()}


@celery.task(name="dms.diagnostics.hold")
def hold(key: str, seconds: float) -> int:
    """Count this delivery in Redis under `key`, hold for `seconds`, then mark the key done.

    Used to check late acknowledgement for real: a worker killed while holding leaves the message to
    come back, and the delivery count shows it.
    """
    redis = current_services().redis
    delivery = int(redis.incr(f"dms:diagnostics:{key}:deliveries"))
    redis.expire(f"dms:diagnostics:{key}:deliveries", 3600)
    log.info("diagnostics hold key=%s delivery=%d seconds=%.1f", key, delivery, seconds)
    time.sleep(seconds)
    redis.set(f"dms:diagnostics:{key}:done", delivery, ex=3600)
    return delivery

"""Crash points: let a test kill the worker for real at a named step, to prove redelivery is safe.

Off unless the deployment sets DMS_CRASH_POINTS=true (tests only). When on, a step named `after_upload`
kills the whole worker process group with SIGKILL if Redis holds `dms:crash:after_upload` (taken once), so
the message is left unacknowledged and SQS delivers it again after the visibility timeout: the same thing
a power cut or an out-of-memory kill would do.
"""

from __future__ import annotations

import logging
import os
import signal

from flask import current_app, has_app_context

from dms.clients import current_services

log = logging.getLogger(__name__)
KEY = "dms:crash:{name}"


def crash_point(name: str, scope: str | None = None) -> None:
    """Die here (SIGKILL of the worker's process group) if a test armed this point: `name` anywhere, or
    `name:scope` only where the step says it is in that scope (e.g. `after_upload:update`, a load that
    updates: a migration plan's update pass rather than its inserts)."""
    if not has_app_context() or not current_app.config.get("CRASH_POINTS"):
        return
    names = [name] if scope is None else [name, f"{name}:{scope}"]
    if current_services().redis.delete(*(KEY.format(name=n) for n in names)):
        log.warning("crash point reached; killing the worker name=%s", name)
        os.killpg(os.getpgrp(), signal.SIGKILL)


def arm(redis: object, name: str) -> None:
    """Arm a crash point once (used by tests)."""
    redis.set(KEY.format(name=name), "1", ex=600)  # type: ignore[attr-defined]

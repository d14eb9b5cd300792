"""GET /health: up or down, for anyone (load balancers, uptime checks); GET /health/detail: each dependency
with its latency and error, for admins only (it names hosts, ports and versions)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify

from dms.clients import current_services
from dms.clients.salesforce import ping as salesforce_ping
from dms.clients.sqs import queue_depth
from dms.security.roles import Role
from factories.security import public, requires

health = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _probe(check: Callable[[], Any], required: bool) -> dict[str, Any]:
    """Run one check, timing it; a failure is reported, never raised."""
    started = time.perf_counter()
    try:
        detail = check()
        status: dict[str, Any] = {"status": "up"}
        if isinstance(detail, dict):
            status.update(detail)
    except Exception as exc:  # any failure of a dependency is a "down", whatever its type
        log.warning("health check failed error=%s", exc.__class__.__name__)
        status = {"status": "down", "error": f"{exc.__class__.__name__}: {str(exc)[:200]}"}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    status["required"] = required
    return status


def _checks(required_only: bool = False) -> dict[str, dict[str, Any]]:
    services = current_services()
    settings = current_app.config
    salesforce_required = bool(settings["SALESFORCE_REQUIRED_FOR_HEALTH"])
    checks = {
        "redis": _probe(lambda: services.redis.ping(), required=True),
        "sqs": _probe(lambda: queue_depth(settings), required=True),
        "cloudant": _probe(
            lambda: {"version": services.cloudant.get_server_information().get_result().get("version")},
            required=True,
        ),
    }
    if salesforce_required or not required_only:
        # An org login per call: anonymous callers do not get to trigger it unless the deployment needs it.
        checks["salesforce"] = _probe(
            lambda: salesforce_ping(services.default_org), required=salesforce_required
        )
    return checks


def _healthy(checks: dict[str, dict[str, Any]]) -> bool:
    return all(c["status"] == "up" for c in checks.values() if c["required"])


@health.get("/health")
@public
def health_report() -> Any:
    """Up or down only; HTTP 503 when a required dependency is down."""
    healthy = _healthy(_checks(required_only=True))
    return jsonify({"status": "up" if healthy else "down"}), 200 if healthy else 503


@health.get("/health/detail")
@requires(Role.ADMIN)
def health_detail() -> Any:
    """Report Redis, SQS, Cloudant and Salesforce with latency and errors; HTTP 503 when a required one is down."""
    checks = _checks()
    healthy = _healthy(checks)
    return jsonify({"status": "up" if healthy else "down", "services": checks}), 200 if healthy else 503

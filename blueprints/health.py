"""GET /health: up or down, for anyone (load balancers, uptime checks); GET /health/detail: each dependency
with its latency and error, for admins only (it names hosts, ports and versions); GET /status: the same
report as a page for a person (admins too). The JSON and the page share one function, service_report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dms.clients import current_services
from dms.clients.salesforce import ping as salesforce_ping
from dms.clients.sqs import queue_depth
from dms.security.roles import Role
from factories.security import current_principal, public, requires

health = Blueprint("health", __name__)
log = logging.getLogger(__name__)
SERVICE_LABELS = {
    "redis": _l("Redis (staged rows, task results)"),
    "sqs": _l("SQS (the work queue)"),
    "cloudant": _l("CouchDB / Cloudant (jobs, uploads, connections)"),
    "salesforce": _l("Salesforce (the default org)"),
}
DETAIL_KEYS = ("status", "error", "latency_ms", "required")  # the rest of a check's answer is its details


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


def service_report(required_only: bool = False) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether every required service is up, and each service's check: the one run behind the JSON and the page."""
    checks = _checks(required_only)
    return _healthy(checks), checks


@health.get("/health")
@public
def health_report() -> Any:
    """Up or down only; HTTP 503 when a required dependency is down."""
    healthy, _services = service_report(required_only=True)
    return jsonify({"status": "up" if healthy else "down"}), 200 if healthy else 503


@health.get("/health/detail")
@requires(Role.ADMIN)
def health_detail() -> Any:
    """Report Redis, SQS, Cloudant and Salesforce with latency and errors; HTTP 503 when a required one is down."""
    healthy, checks = service_report()
    return jsonify({"status": "up" if healthy else "down", "services": checks}), 200 if healthy else 503


@health.get("/status")
@requires(Role.VIEWER)  # signed in; the admin check is below so that anyone else is refused with a page
def status_page() -> Any:
    """Each service with its state, latency and message, as a page for admins; 503 when a required one is down."""
    if not current_principal().is_admin:
        message = _("The service status is for admins: it names the servers DMS uses. Ask an admin.")
        return render_template("error.html", message=message, status=403), 403
    healthy, checks = service_report()
    services = [
        {
            "name": name,
            "label": str(SERVICE_LABELS.get(name, name)),
            "up": check["status"] == "up",
            "required": check["required"],
            "latency_ms": check["latency_ms"],
            "message": check.get("error") or _details(check),
        }
        for name, check in checks.items()
    ]
    return render_template("status.html", healthy=healthy, services=services), 200 if healthy else 503


def _details(check: dict[str, Any]) -> str:
    """What a check that passed said (a version, a queue's depth, an org's API version), as `name: value`."""
    return ", ".join(f"{key}: {value}" for key, value in check.items() if key not in DETAIL_KEYS)

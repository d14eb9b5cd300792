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

from blueprints.api.orgs import connections
from dms.clients import current_services
from dms.clients.salesforce import ping as salesforce_ping
from dms.clients.sqs import queue_depth
from dms.connections import DEFAULT_CONNECTION
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
MAX_ORGS_CHECKED = 20  # each is a request to an org (5 s at worst): a report stays quick enough to wait for


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


def _org_checks() -> list[dict[str, Any]]:
    """Each stored connection's org reached (its versions list: no login, no API call spent), not required."""
    store = connections()
    stored = [c for c in store.list() if c["id"] != DEFAULT_CONNECTION][:MAX_ORGS_CHECKED]

    def reach(connection_id: str) -> Callable[[], Any]:
        return lambda: salesforce_ping(store.credentials(connection_id))

    return [
        {
            "id": c["id"],
            "name": c["name"],
            "login_url": c["login_url"],
            **_probe(reach(c["id"]), required=False),
        }
        for c in stored
    ]


def service_report(required_only: bool = False) -> dict[str, Any]:
    """Each service's check and whether every required one is up, and (for admins' report, not the public
    up/down) each connected org: the one report behind /health, /health/detail and the status page."""
    checks = _checks(required_only)
    report: dict[str, Any] = {"status": "up" if _healthy(checks) else "down", "services": checks}
    if not required_only:
        report["orgs"] = _org_checks()
    return report


@health.get("/health")
@public
def health_report() -> Any:
    """Up or down only; HTTP 503 when a required dependency is down."""
    report = service_report(required_only=True)
    return jsonify({"status": report["status"]}), 200 if report["status"] == "up" else 503


@health.get("/health/detail")
@requires(Role.ADMIN)
def health_detail() -> Any:
    """Report Redis, SQS, Cloudant and Salesforce (and each connected org) with latency and errors; HTTP 503
    when a required one is down."""
    report = service_report()
    return jsonify(report), 200 if report["status"] == "up" else 503


@health.get("/status")
@requires(Role.VIEWER)  # signed in; the admin check is below so that anyone else is refused with a page
def status_page() -> Any:
    """Each service with its state, latency and message, as a page for admins; 503 when a required one is down."""
    if not current_principal().is_admin:
        message = _("The service status is for admins: it names the servers DMS uses. Ask an admin.")
        return render_template("error.html", message=message, status=403), 403
    report = service_report()
    services = [
        _row(str(SERVICE_LABELS.get(name, name)), check, name=name)
        for name, check in report["services"].items()
    ]
    orgs = [_row(org["name"], org, name=org["id"], where=org["login_url"]) for org in report["orgs"]]
    healthy = report["status"] == "up"
    page = render_template("status.html", healthy=healthy, services=services, orgs=orgs)
    return page, 200 if healthy else 503


def _row(label: str, check: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    """One line of the status page: a check's state, latency and what it said (its error, else its details)."""
    details = ", ".join(
        f"{key}: {value}"
        for key, value in check.items()
        if key not in DETAIL_KEYS and key not in ("id", "name", "login_url")
    )
    return {
        "name": name,
        "label": label,
        "up": check["status"] == "up",
        "required": check["required"],
        "latency_ms": check["latency_ms"],
        "message": check.get("error") or ", ".join(part for part in (where, details) if part),
    }

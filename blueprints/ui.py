"""Pages for people: the upload wizard, the list of jobs, and one job's progress and results.

The pages are plain HTML with small scripts from static/ that call the JSON API (/api/v1) with fetch(); the
server renders the first view of a job and the job list itself, so they read fine before any script runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, render_template, request

from blueprints.api.jobs import current_pipeline, owned_job
from blueprints.api.orgs import connections, org_authorizations
from dms.errors import DMSError, NotFound
from dms.pipeline.jobstore import progress
from dms.pipeline.model import FINAL_STATES
from dms.security.roles import Role
from factories.security import audit, current_principal, requires, tokens

log = logging.getLogger(__name__)

ui = Blueprint("ui", __name__)

JOB_ID_PATTERN = re.compile(r"^job-[0-9A-Za-z]{1,40}-[0-9a-f]{6,32}$")
JOBS_PAGE_LIMIT = 100
STATE_LABELS = {
    "created": "Queued",
    "planning": "Reading and checking rows",
    "loading": "Loading into Salesforce",
    "cancelling": "Cancelling",
    "completed": "Completed",
    "completed_with_errors": "Completed with errors",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
COUNTER_LABELS = {
    "total": "Rows",
    "valid": "Valid",
    "succeeded": "Succeeded",
    "created": "Created",
    "updated": "Updated",
    "failed": "Failed in Salesforce",
    "invalid": "Invalid (not sent)",
    "cancelled": "Cancelled",
    "pending": "Pending",
}


@ui.app_context_processor
def page_words() -> dict[str, Any]:
    """Labels the templates and the scripts share, so a state reads the same everywhere."""
    return {
        "state_labels": STATE_LABELS,
        "counter_labels": COUNTER_LABELS,
        "final_states": sorted(FINAL_STATES),
        "counter_shown": counter_shown,
    }


def counter_shown(job: Mapping[str, Any], name: str) -> bool:
    """Whether a counter says something about this job (static/js/jobview.js follows the same rule)."""
    value = (job.get("counters") or {}).get(name) or 0
    dry_run = bool((job.get("options") or {}).get("dry_run"))
    essential = ("total", "valid", "invalid") if dry_run else ("total", "succeeded", "failed", "invalid")
    if name in essential:
        return True
    if name == "pending":
        return job.get("state") not in FINAL_STATES
    return bool(value)


@ui.app_template_filter("when")
def format_when(value: str | None) -> str:
    """An ISO 8601 time as `2026-11-23 03:42:15 UTC` (what the store keeps is UTC)."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)[:40]
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@ui.get("/")
def index() -> Any:
    """The start page: the wizard that uploads, previews, maps, rehearses and runs a load."""
    inline_limit = int(current_app.config["MAX_INLINE_UPLOAD_BYTES"])
    return render_template("index.html", inline_limit=inline_limit)


@ui.get("/jobs")
def jobs() -> Any:
    """The most recent jobs, newest first."""
    principal = current_principal()
    owner = None if principal.is_admin else principal.user_id
    recent = [progress(job) for job in current_pipeline().store.list(JOBS_PAGE_LIMIT, owner)]
    return render_template("jobs.html", jobs=recent)


@ui.get("/jobs/<job_id>")
def job(job_id: str) -> Any:
    """One job: live progress, counters, cancel, downloads and retry of failed rows."""
    if not JOB_ID_PATTERN.match(job_id):
        return _job_not_found(job_id)
    try:
        found = owned_job(job_id)
    except NotFound:
        return _job_not_found(job_id)
    return render_template("job.html", job=progress(found))


@ui.get("/connections")
def connections_page() -> Any:
    """The orgs DMS can load into: connect one in the browser (web server flow), test or delete one."""
    return render_template("connections.html", connections=connections().list())


@ui.get("/account")
def account() -> Any:
    """The signed-in person's API tokens: create one (shown once), revoke one."""
    principal = current_principal()
    mine = sorted(tokens().list(principal.user_id), key=lambda t: t["created_at"], reverse=True)
    grantable = [role.value for role in Role if principal.role.allows(role)]  # a token's role <= its user's
    return render_template("account.html", tokens=mine, roles=grantable)


@ui.get("/connections/callback")
@requires(Role.OPERATOR)  # it stores a connection; the person must be signed in, as who started it
def connection_callback() -> Any:
    """Where the org sends the browser back after the person authorized DMS (OAuth web server flow)."""
    args = {
        name: request.args.get(name, "")[:4096] for name in ("state", "code", "error", "error_description")
    }
    try:
        created = org_authorizations().finish(
            args["state"], args["code"], args["error"], args["error_description"]
        )
    except DMSError as exc:
        audit("connection.authorize", outcome="failed", code=exc.code)
        return render_template("connected.html", error=exc), exc.http_status
    audit("connection.create", target=created["id"], name=created["name"], login_url=created["login_url"])
    return render_template("connected.html", connection=created)


def _job_not_found(job_id: str) -> Any:
    log.info("job page not found job=%r path=%s", job_id[:80], request.path[:200])
    return render_template("not_found.html", what=f"job {job_id[:80]}"), 404

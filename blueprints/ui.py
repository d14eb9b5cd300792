"""Pages for people: the upload wizard, the jobs, the orgs, migration plans, and (for admins) the users.

The pages are plain HTML with small scripts from static/ that call the JSON API (/api/v1) with fetch(); the
server renders the first view of a job and the job list itself, so they read fine before any script runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from blueprints.api.jobs import current_pipeline, job_list_filters, list_query, owned_job, read_progress
from blueprints.api.orgs import listed_connections, org_authorizations
from blueprints.api.plans import owned_plan
from dms.errors import DMSError, NotFound
from dms.pipeline.jobstore import progress
from dms.pipeline.model import FINAL_STATES, JobState
from dms.security.roles import Role
from factories.security import audit, current_principal, requires, tokens, users

log = logging.getLogger(__name__)

ui = Blueprint("ui", __name__)

JOB_ID_PATTERN = re.compile(r"^job-[0-9A-Za-z]{1,40}-[0-9a-f]{6,32}$")
JOBS_PAGE_LIMIT = 50
# GET /api/v1/jobs's filters and page, which the page reads the same way (blueprints/api/jobs.py list_query).
JOB_FILTERS = ("state", "object", "owner", "since", "until", "dry_run", "cursor", "limit")
PLAN_ID_PATTERN = re.compile(r"^plan-[0-9A-Za-z]{1,40}-[0-9a-f]{6,32}$")
# The bundled example plan /plans/new offers to start: its plan file and the files beside it.
EXAMPLE_PLAN_DIR = Path(__file__).resolve().parent.parent / "examples" / "legacy-crm"
EXAMPLE_PLAN_FILE = "plan.yaml"
# lazy_gettext: these are made at import time, and each page shows them in its own request's language.
STATE_LABELS = {
    "created": _l("Queued"),
    "planning": _l("Reading and checking rows"),
    "loading": _l("Loading into Salesforce"),
    "cancelling": _l("Cancelling"),
    "completed": _l("Completed"),
    "completed_with_errors": _l("Completed with errors"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
COUNTER_LABELS = {
    "total": _l("Rows"),
    "valid": _l("Valid"),
    "succeeded": _l("Succeeded"),
    # "count": records created, not the date a thing was created ("Created" alone, elsewhere).
    "created": lazy_pgettext("count", "Created"),
    "updated": _l("Updated"),
    "failed": _l("Failed in Salesforce"),
    "invalid": _l("Invalid (not sent)"),
    "cancelled": _l("Cancelled"),
    "pending": _l("Pending"),
}
PLAN_STATE_LABELS = {
    "running": _l("Running"),
    "cancelling": _l("Cancelling"),
    "completed": _l("Completed"),
    "completed_with_errors": _l("Completed with errors"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
ROLE_LABELS = {
    Role.VIEWER.value: _l("viewer"),
    Role.OPERATOR.value: _l("operator"),
    Role.ADMIN.value: _l("admin"),
}
FLOW_LABELS = {
    "settings": _l("deployment settings"),
    "web_server": _l("OAuth (web server)"),
    "password": _l("username and password"),
    "client_credentials": _l("client credentials"),
    "jwt_bearer": _l("JWT bearer"),
}


def resolved(labels: Mapping[str, Any]) -> dict[str, str]:
    """Labels as plain strings in the request's language (for JSON the scripts read)."""
    return {name: str(text) for name, text in labels.items()}


@ui.app_context_processor
def page_words() -> dict[str, Any]:
    """Labels the templates and the scripts share, so a state reads the same everywhere."""
    return {
        "state_labels": resolved(STATE_LABELS),
        "counter_labels": resolved(COUNTER_LABELS),
        "role_labels": resolved(ROLE_LABELS),
        "flow_labels": resolved(FLOW_LABELS),
        "final_states": sorted(FINAL_STATES),
        "counter_shown": counter_shown,
        # Larger files go by presigned upload (static/js/api.js uploadFile reads it from every page).
        "inline_upload_limit": int(current_app.config["MAX_INLINE_UPLOAD_BYTES"]),
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


@ui.get("/")
def index() -> Any:
    """The start page: the wizard that uploads, previews, maps, rehearses and runs a load."""
    return render_template("index.html")


@ui.get("/jobs")
def jobs() -> Any:
    """A page of the newest jobs, filtered as GET /api/v1/jobs filters them (state, object, owner for admins,
    dates, rehearsals), rendered here so the first view needs no script; the next page goes by the cursor."""
    filters = {name: request.args.get(name, "")[:200] for name in JOB_FILTERS}
    kept: dict[str, Any] = {name: value for name, value in filters.items() if value and name != "cursor"}
    page = {
        "filters": filters,
        "owners": listed_owners(),
        "first_url": url_for("ui.jobs", **kept),
        "next_url": None,
    }
    try:
        query = list_query("job", [str(state) for state in JobState], JOBS_PAGE_LIMIT)
        given = {name: value for name, value in filters.items() if value}  # the form sends empty filters
        found = current_pipeline().store.find(query, *job_list_filters(given))
    except DMSError as exc:
        # A filter the list cannot take (a mistyped date, say): the page says which, and shows no jobs.
        page["filter_problem"] = _filter_problem(exc)
        return render_template("jobs.html", jobs=[], problem=exc, **page), exc.http_status
    if found.next_cursor:
        page["next_url"] = url_for("ui.jobs", **kept, cursor=found.next_cursor)
    listed = [progress(job) for job in found.docs]
    return render_template("jobs.html", jobs=listed, problem=None, **page)


@ui.get("/jobs/<job_id>")
def job(job_id: str) -> Any:
    """One job: live progress, counters, cancel, downloads and retry of failed rows."""
    if not JOB_ID_PATTERN.match(job_id):
        return _job_not_found(job_id)
    try:
        found = owned_job(job_id)
    except NotFound:
        return _job_not_found(job_id)
    return render_template("job.html", job=read_progress(found))


@ui.get("/connections")
def connections_page() -> Any:
    """The orgs DMS can load into: connect one in the browser (web server flow), test or delete one."""
    return render_template("connections.html", connections=listed_connections())


@ui.get("/plans")
def plans() -> Any:
    """Migration plans, newest first, filtered by state, owner (admins) and dates, a page at a time
    (static/js/plans.js)."""
    can_start = current_principal().may(Role.OPERATOR)
    return render_template(
        "plans.html", plan_states=resolved(PLAN_STATE_LABELS), can_start=can_start, owners=listed_owners()
    )


def listed_owners() -> list[dict[str, Any]]:
    """The people a list's owner filter offers: everyone for an admin, nobody else (they see only their own)."""
    return users_by_name() if current_principal().is_admin else []


def users_by_name() -> list[dict[str, Any]]:
    return sorted(users().list(), key=lambda user: user["username"])


def example_plan_files() -> list[str]:
    """The bundled example's plan file and the files its steps read (none when it is not deployed)."""
    if not (EXAMPLE_PLAN_DIR / EXAMPLE_PLAN_FILE).is_file():
        return []
    return [EXAMPLE_PLAN_FILE, *sorted(p.name for p in EXAMPLE_PLAN_DIR.glob("*.csv"))]


@ui.get("/plans/new")
@requires(Role.OPERATOR)
def plan_new() -> Any:
    """Start a plan: its plan file and the files it reads, or the bundled example (static/js/plan.js)."""
    return render_template("plan_new.html", example_files=example_plan_files())


@ui.get("/plans/example/<name>")
@requires(Role.OPERATOR)
def plan_example_file(name: str) -> Any:
    """One file of the bundled example, for /plans/new to upload as a person would."""
    if name not in example_plan_files():
        return render_template(
            "not_found.html", message=_("The example has no file %(name)s.", name=name[:80])
        ), 404
    return send_from_directory(EXAMPLE_PLAN_DIR, name, mimetype="text/plain; charset=utf-8")


@ui.get("/plans/<plan_id>")
def plan(plan_id: str) -> Any:
    """One plan: its steps as waves, each step's passes and rows, downloads, cancel and retry."""
    try:
        if not PLAN_ID_PATTERN.match(plan_id):
            raise NotFound(plan_id)
        owned_plan(plan_id)
    except NotFound:
        log.info("plan page not found plan=%r", plan_id[:80])
        message = _("There is no plan %(id)s.", id=plan_id[:80])
        return render_template("not_found.html", message=message), 404
    return render_template("plan.html", plan_id=plan_id, plan_states=resolved(PLAN_STATE_LABELS))


@ui.get("/users")
@requires(Role.ADMIN)
def users_page() -> Any:
    """The people who may sign in, with their roles; an admin adds one here (static/js/users.js)."""
    return render_template("users.html", users=users_by_name(), roles=[role.value for role in Role])


@ui.get("/account")
def account() -> Any:
    """The signed-in person's API tokens: create one (shown once), revoke one."""
    principal = current_principal()
    mine = sorted(tokens().list(principal.user_id), key=lambda token: token["created_at"], reverse=True)
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


def _filter_problem(exc: DMSError) -> str:
    """What is wrong with the list's filters, and what to do, in the page's language."""
    field = str(exc.where.get("field") or "")
    if field in ("since", "until"):
        label = _("From") if field == "since" else _("To")  # as the form names the two dates
        return _("The date “%(field)s” cannot be read: pick a date (YYYY-MM-DD).", field=label)
    if field == "owner":
        return _("Only an admin may list other people's jobs: clear the owner filter.")
    if field == "cursor":
        return _("That page of the list no longer exists: start again from the newest jobs.")
    return _(
        "The filter “%(field)s” cannot be used (%(message)s): change it or clear the filters.",
        field=field,
        message=exc.to_dict(translate=_)["message"],  # the API's reason, in the page's language too
    )


def _job_not_found(job_id: str) -> Any:
    log.info("job page not found job=%r path=%s", job_id[:80], request.path[:200])
    return render_template("not_found.html", message=_("There is no job %(id)s.", id=job_id[:80])), 404

"""Jobs over HTTP: create (or rehearse), follow, list, cancel, retry, and download row-accurate results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, request, stream_with_context, url_for
from flask_babel import gettext

from blueprints.api import api
from blueprints.api.uploads import current_uploads, query_number
from dms.clients import current_services
from dms.clients.listing import ListQuery, parse_moment
from dms.connections import ConnectionStore
from dms.errors import DMSError, InvalidRequest, NotFound, Text, render_text, text_from_json, typed_field
from dms.pipeline import lifecycle
from dms.pipeline import results as res
from dms.pipeline.context import Pipeline, publisher
from dms.pipeline.jobstore import progress
from dms.pipeline.model import JobState
from dms.pipeline.problems import JobProblems, Outcome
from dms.row_messages import translate_row_message
from dms.templates import TemplateStore
from factories.security import Forbidden, audit, current_principal, rate_limit

MAX_LISTED_JOBS = 500
MAX_LISTED_ROWS = 500
MAX_ERROR_EXAMPLES = 10
MAX_EDITED_ROWS = 5000  # rows corrected in the page per retry (the JSON body is capped at 1 MiB anyway)


def read_progress(job: dict[str, Any]) -> dict[str, Any]:
    """A job's public view with its file's warnings and its failure (stored in English by the worker) in the
    caller's language."""
    body = progress(job)
    body["warnings"] = [translate_row_message(w, gettext) for w in body.get("warnings") or []]
    kept = (job.get("error") or {}).get("text")
    if kept and body["error"]:  # why the job failed, in the caller's language (the worker kept its Text)
        body["error"]["message"] = render_text(text_from_json(kept), gettext)
    return body


def current_pipeline() -> Pipeline:
    return Pipeline(current_services(), enqueue=publisher(current_app.extensions["celery"]))


def templates() -> TemplateStore:
    """The caller's mapping templates (an admin's reach everyone's)."""
    principal = current_principal()
    return TemplateStore(current_services(), owner=principal.as_owner(), admin=principal.is_admin)


def owned_job(job_id: str) -> dict[str, Any]:
    """The job, if the caller may see it; another user's job is as absent as one that never existed."""
    job = current_pipeline().store.get(job_id)
    if not current_principal().owns(job):
        raise NotFound(Text("jobs/%(job_id)s does not exist.", job_id=job_id[:80]), code="NOT_FOUND")
    return job


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; with `optional`, no body at all reads as {} (anything else is a 400)."""
    body = request.get_json(silent=True)
    if body is None and optional and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise InvalidRequest(Text("The request body must be a JSON object."))
    return body


def upload_source(upload_id: Any, read_options: Any) -> dict[str, Any]:
    if not typed_field(upload_id, str, "upload_id", Text("a string")):
        raise InvalidRequest(
            Text("`upload_id` is required: upload the file first (POST /api/v1/uploads)."), field="upload_id"
        )
    typed_field(read_options, dict, "read_options", Text("an object"))
    upload = current_uploads().get(upload_id)
    if upload.get("state") != "ready":
        raise DMSError(
            Text("Upload %(upload_id)s is not complete yet.", upload_id=upload_id),
            code="UPLOAD_NOT_READY",
            http_status=409,
        )
    return {
        "upload_id": upload_id,
        "blob_key": upload["blob_key"],
        # The identity of the file as completed: the job's every read of it is pinned to that object.
        "blob_etag": upload.get("blob_etag"),
        "blob_version_id": upload.get("blob_version_id"),
        "filename": upload["filename"],
        "read_options": read_options or {},
    }


def _run_direct(request_doc: dict[str, Any]) -> dict[str, Any]:
    """Run a small job in this request (`"direct": true`); a large one belongs on the queue."""
    limit = int(current_app.config["DIRECT_MAX_BYTES"])
    size = current_uploads().get(request_doc["source"]["upload_id"]).get("size") or 0
    if size > limit:
        raise DMSError(
            Text(
                "A direct job takes files up to %(limit)s bytes; this one has %(size)s. Leave out `direct`.",
                limit=f"{limit:,}",
                size=f"{size:,}",
            ),
            code="DIRECT_TOO_LARGE",
        )
    queue = publisher(current_app.extensions["celery"])
    return lifecycle.run_direct(
        lambda enqueue: Pipeline(current_services(), enqueue=enqueue), request_doc, queue
    )


@api.post("/jobs")
def create_job() -> Any:
    """Create a job (a rehearsal with "dry_run": true) from an upload, a target and a mapping or template."""
    rate_limit("JOB_CREATE_LIMIT", "job_create")
    body = json_body()
    mapping = body.get("mapping")
    template = typed_field(body.get("template"), str, "template", Text("the name of a saved template"))
    if mapping is None and template:
        object_name = typed_field(body.get("object"), str, "object", Text("a string")) or ""
        mapping = templates().get(object_name, template)["mapping"]
    options = typed_field(body.get("options"), dict, "options", Text("an object")) or {}
    dry_run = typed_field(body.get("dry_run"), bool, "dry_run", Text("true or false")) or False
    direct = typed_field(body.get("direct"), bool, "direct", Text("true or false")) or False
    # A job may only use a connection its creator may use (checked again by nobody later: it is stored).
    typed_field(body.get("connection_id"), str, "connection_id", Text("a string"))
    ConnectionStore(current_services(), visible=current_principal().owns).check_usable(
        body.get("connection_id")
    )
    request_doc = {
        "source": upload_source(body.get("upload_id"), body.get("read_options")),
        "target": {
            "connection_id": body.get("connection_id"),
            "object": body.get("object"),
            "operation": body.get("operation"),
            "external_id": body.get("external_id"),
        },
        "mapping": mapping,
        "options": {**options, "dry_run": dry_run},
        **current_principal().as_owner(),
    }
    if direct:
        job = _run_direct(request_doc)
    else:
        job = lifecycle.create_job(current_pipeline(), request_doc)
    audit("job.rehearse" if dry_run else "job.run", target=job["_id"], object=job["target"]["object"])
    location = url_for("api.get_job", job_id=job["_id"])
    return jsonify(progress(job)), 201, {"Location": location}


def list_query(kind: str, states: Iterable[str], largest: int) -> ListQuery:
    """The filters and page of a list of jobs or plans from the query string: state, owner (admins; anyone
    else sees their own), since and until (ISO 8601), cursor (next_cursor of the page before) and limit."""
    limit = query_number("limit", 50, largest)
    state = request.args.get("state") or None
    if state is not None and state not in set(states):
        raise InvalidRequest(
            Text("`state` must be one of %(states)s.", states=", ".join(states)), field="state"
        )
    principal = current_principal()
    owner = request.args.get("owner") or None
    if owner is not None and not principal.is_admin and owner != principal.user_id:
        raise Forbidden(Text("Only an admin may list other people's work (`owner`)."), field="owner")
    if not principal.is_admin:
        owner = principal.user_id
    moments: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        text = request.args.get(name)
        moments[name] = parse_moment(text, end_of_day=name == "until") if text else None
        if text and moments[name] is None:
            raise InvalidRequest(
                Text("`%(name)s` must be an ISO 8601 date or date and time.", name=name), field=name
            )
    cursor = request.args.get("cursor") or None
    if cursor is not None and (not cursor.startswith(f"{kind}-") or len(cursor) > 200):
        raise InvalidRequest(Text("`cursor` must be the next_cursor of the page before."), field="cursor")
    return ListQuery(owner, state, moments["since"], moments["until"], cursor, limit)


def job_list_filters(args: Mapping[str, str]) -> tuple[str | None, bool | None]:
    """A jobs list's own filters beside list_query's: the object, and rehearsals only (true) or loads (false)."""
    object_name = args.get("object") or None
    if object_name is not None and len(object_name) > 100:
        raise InvalidRequest(Text("`object` is too long."), field="object")
    dry_run_text = args.get("dry_run")
    if dry_run_text not in (None, "true", "false"):
        raise InvalidRequest(Text("`dry_run` must be true or false."), field="dry_run")
    return object_name, None if dry_run_text is None else dry_run_text == "true"


@api.get("/jobs")
def list_jobs() -> Any:
    """The newest jobs, newest first, filtered by state, object, owner, time and rehearsal, a page at a time."""
    query = list_query("job", [str(s) for s in JobState], MAX_LISTED_JOBS)
    page = current_pipeline().store.find(query, *job_list_filters(request.args))
    return jsonify({"jobs": [progress(j) for j in page.docs], "next_cursor": page.next_cursor})


@api.get("/jobs/<job_id>")
def get_job(job_id: str) -> Any:
    """A job's state, counters, percent done, throughput (rows/s, ETA and a series of rows settled over
    time) and API calls spent, with links to its results."""
    job = owned_job(job_id)
    body = read_progress(job)
    body["throughput"]["series"] = [{"at": at, "rows": rows} for at, rows in job.get("throughput") or []]
    body["links"] = {
        "self": url_for("api.get_job", job_id=job_id),
        "success": url_for("api.job_results", job_id=job_id, kind="success.csv"),
        "errors": url_for("api.job_results", job_id=job_id, kind="errors.csv"),
        "unsent": url_for("api.job_results", job_id=job_id, kind="unsent.csv"),
        "errors_summary": url_for("api.job_error_summary", job_id=job_id),
        "invalid_rows": url_for("api.job_problem_rows", job_id=job_id, outcome="invalid"),
        "failed_rows": url_for("api.job_problem_rows", job_id=job_id, outcome="failed"),
        "cancel": url_for("api.cancel_job", job_id=job_id),
        "retry": url_for("api.retry_job", job_id=job_id),
    }
    return jsonify(body)


@api.get("/jobs/<job_id>/chunks")
def job_chunks(job_id: str) -> Any:
    keys = ("index", "rows", "first_row", "last_row", "state", "api", "bulk_job_id", "result", "api_calls")
    store = current_pipeline().store
    owned_job(job_id)  # 404 for a job that does not exist (or is not yours), rather than an empty list
    chunks = [{k: c.get(k) for k in keys} for c in store.chunk_docs(job_id)]
    return jsonify({"chunks": chunks})


@api.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Any:
    owned_job(job_id)
    job = lifecycle.cancel(current_pipeline(), job_id)
    audit("job.cancel", target=job_id)
    return jsonify(progress(job))


@api.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> Any:
    """Retry the failed rows as a new job; with {"upload_id": ...}, retry from a corrected file instead; with
    {"rows": [{"row": N, "values": {column: value}}]}, only those rows, as corrected in the page."""
    owned_job(job_id)
    body = json_body(optional=True)
    upload_id = body.get("upload_id")
    if upload_id is not None and body.get("rows") is not None:
        raise InvalidRequest(Text("Give `upload_id` or `rows`, not both."), field="rows")
    edited = edited_rows(body.get("rows")) if body.get("rows") is not None else None
    corrected = upload_source(upload_id, body.get("read_options")) if upload_id is not None else None
    job = lifecycle.retry_failed(
        current_pipeline(), job_id, corrected, current_principal().as_owner(), edited=edited
    )
    audit("job.retry", target=job["_id"], retry_of=job_id, edited_rows=len(edited) if edited else None)
    return jsonify(progress(job)), 201, {"Location": url_for("api.get_job", job_id=job["_id"])}


def edited_rows(given: Any) -> dict[int, dict[str, str | None]]:
    """`rows` of a retry: [{"row": N, "values": {column: text or null}}], each row once (row -> values)."""
    if not isinstance(given, list) or not given:
        raise InvalidRequest(Text("`rows` must be a non-empty array of {row, values}."), field="rows")
    if len(given) > MAX_EDITED_ROWS:
        raise InvalidRequest(
            Text(
                "`rows` holds at most %(max_edited_rows)s rows per retry.",
                max_edited_rows=f"{MAX_EDITED_ROWS:,}",
            ),
            field="rows",
        )
    edits: dict[int, dict[str, str | None]] = {}
    for position, entry in enumerate(given):
        where = f"rows[{position}]"
        if not isinstance(entry, dict):
            raise InvalidRequest(
                Text("`%(where)s` must be an object {row, values}.", where=where), field=where
            )
        row = entry.get("row")
        if isinstance(row, bool) or not isinstance(row, int) or row < 1:
            raise InvalidRequest(
                Text("`%(where)s.row` must be a row number (1 or more).", where=where), field=f"{where}.row"
            )
        if row in edits:
            raise InvalidRequest(
                Text("Row %(row)s is given twice (`%(where)s`).", row=row, where=where), field=f"{where}.row"
            )
        values = entry.get("values")
        if not isinstance(values, dict) or not all(isinstance(v, str) or v is None for v in values.values()):
            raise InvalidRequest(
                Text("`%(where)s.values` must be an object of column: text (or null).", where=where),
                field=f"{where}.values",
            )
        edits[row] = values
    return edits


@api.get("/jobs/<job_id>/errors/summary")
def job_error_summary(job_id: str) -> Any:
    """The job's invalid and failed rows grouped by stage, error code and field, with example rows and what
    to do about each."""
    examples = query_number("examples", 3, MAX_ERROR_EXAMPLES)
    job = owned_job(job_id)
    summary = JobProblems(current_pipeline().blobs, job).summary(examples)
    for group in summary["groups"]:
        group["advice"] = gettext(group["advice"])  # in the caller's language (dms/pipeline/advice.py)
        for example in group["examples"]:  # stored in English by the worker; said again in the caller's
            example["message"] = translate_row_message(example["message"], gettext)
    return jsonify(summary)


@api.get("/jobs/<job_id>/rows")
def job_problem_rows(job_id: str) -> Any:
    """A page of the job's invalid or failed rows: their values by column and each problem beside its column."""
    outcome = Outcome.__members__.get(str(request.args.get("outcome", "")).upper())
    if outcome is None:
        raise InvalidRequest(Text("`outcome` must be invalid or failed."), field="outcome")
    offset_text = request.args.get("offset", "0")
    if not offset_text.isdecimal() or len(offset_text) > 12:
        raise InvalidRequest(Text("`offset` must be a whole number (0 or more)."), field="offset")
    limit = query_number("limit", 50, MAX_LISTED_ROWS)
    job = owned_job(job_id)
    page = JobProblems(current_pipeline().blobs, job).page(outcome, int(offset_text), limit)
    for row in page["rows"]:
        for error in row["errors"]:  # stored in English by the worker; said again in the caller's language
            error["message"] = translate_row_message(error["message"], gettext)
    return jsonify(page)


@api.get("/jobs/<job_id>/results/<kind>")
def job_results(job_id: str, kind: str) -> Any:
    """success.csv or errors.csv, streamed from the per-chunk result files."""
    pipeline = current_pipeline()
    job = owned_job(job_id)
    if kind == "success.csv":
        stream = res.stream_success(pipeline.blobs, job)
    elif kind == "errors.csv":
        stream = res.stream_errors(pipeline.blobs, job)
    elif kind == "unsent.csv":
        stream = lifecycle.unsent_rows_csv(pipeline, job)
    else:
        raise DMSError(
            Text("Results are success.csv, errors.csv or unsent.csv."), code="NOT_FOUND", http_status=404
        )
    audit("job.download", target=job_id, kind=kind)
    headers = {"Content-Disposition": f'attachment; filename="{job_id}-{kind}"'}
    return Response(stream_with_context(stream), mimetype="text/csv", headers=headers)


# ---- mapping templates ---------------------------------------------------------------------------------


@api.get("/templates")
def list_templates() -> Any:
    return jsonify({"templates": templates().list(request.args.get("object"))})


@api.put("/templates/<object_name>/<name>")
def save_template(object_name: str, name: str) -> Any:
    mapping = typed_field(json_body().get("mapping"), dict, "mapping", Text("a mapping object")) or {}
    return jsonify(templates().save(object_name, name, mapping))


@api.get("/templates/<object_name>/<name>")
def get_template(object_name: str, name: str) -> Any:
    return jsonify(templates().get(object_name, name))


@api.delete("/templates/<object_name>/<name>")
def delete_template(object_name: str, name: str) -> Any:
    templates().delete(object_name, name)
    return "", 204

"""Migration plans over HTTP: create (or rehearse), follow, list, cancel, retry, and their results."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, stream_with_context, url_for

from blueprints.api import api
from blueprints.api.jobs import current_pipeline, json_body, list_query, upload_source
from blueprints.api.uploads import current_uploads
from dms.clients import current_services
from dms.connections import ConnectionStore
from dms.errors import DMSError, InvalidRequest, NotFound, Text, typed_field
from dms.migration import run, view
from dms.migration.skeleton import build_skeleton, parts_of
from dms.migration.spec import InvalidPlan, load_plan_text, parse_plan
from dms.migration.states import PlanState
from dms.pipeline.chunks import source_file
from factories.security import audit, current_principal, rate_limit

MAX_LISTED_PLANS = 200


def owned_plan(plan_id: str) -> dict[str, Any]:
    """The plan, if the caller may see it; another user's plan is as absent as one that never existed."""
    try:
        doc = run.plans_store(current_pipeline()).get(plan_id)
    except NotFound:
        doc = None
    if doc is None or doc.get("type") != "plan" or not current_principal().owns(doc):
        raise NotFound(Text("plans/%(plan_id)s does not exist.", plan_id=plan_id[:80]), code="NOT_FOUND")
    return doc


def _with_links(doc: dict[str, Any]) -> dict[str, Any]:
    body = view.plan_view(doc)
    plan_id = doc["_id"]
    body["links"] = {
        "self": url_for("api.get_plan", plan_id=plan_id),
        "results": url_for("api.plan_results", plan_id=plan_id),
        "cancel": url_for("api.cancel_plan", plan_id=plan_id),
        "retry": url_for("api.retry_plan", plan_id=plan_id),
    }
    for step in body["steps"]:
        step["links"] = {
            name: url_for("api.plan_step_results", plan_id=plan_id, step=step["name"], name=name)
            for name in view.STEP_FILES
        }
    return body


def _plan_document(body: dict[str, Any]) -> Any:
    """The plan from the body: `plan` (an object) or `plan_text` (its YAML or JSON text)."""
    if "plan_text" in body and "plan" in body:
        raise InvalidRequest(Text("Give the plan as `plan` or as `plan_text`, not both."), field="plan")
    if "plan_text" in body:
        text = (
            typed_field(body.get("plan_text"), str, "plan_text", Text("the plan's YAML or JSON text")) or ""
        )
        return load_plan_text(text)
    if not isinstance(body.get("plan"), dict):
        raise InvalidRequest(
            Text("`plan` is required: the plan as an object (or `plan_text`: its YAML)."), field="plan"
        )
    return body["plan"]


def _with_uploaded_files(document: Any, files: dict[str, Any] | None) -> Any:
    """The plan with each step's `source.file` replaced by the upload `files` names for that file name, as
    the CLI does after uploading the files beside a plan (a browser uploads them first and names them)."""
    if not files or not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        return document
    steps = []
    for raw in document["steps"]:
        source = raw.get("source") if isinstance(raw, dict) else None
        if not isinstance(source, dict) or not isinstance(source.get("file"), str):
            steps.append(raw)
            continue
        name = source["file"].strip().replace("\\", "/").rsplit("/", 1)[-1]
        upload_id = files.get(name)
        if not isinstance(upload_id, str) or not upload_id:
            raise InvalidPlan(
                Text(
                    "Step %(step)s: its `source.file` %(file)s is not among the files uploaded with the plan "
                    "(%(uploaded)s); upload %(file)s too.",
                    step=str(raw.get("name")),
                    file=name,
                    uploaded=", ".join(sorted(files)) or "-",
                ),
                step=str(raw.get("name")),
                field="source",
            )
        kept = {k: v for k, v in source.items() if k != "file"}
        steps.append({**raw, "source": {**kept, "upload_id": upload_id}})
    return {**document, "steps": steps}


@api.post("/plans")
def create_plan() -> Any:
    """Create a plan (a rehearsal of every step with "dry_run": true) over uploads already made."""
    rate_limit("JOB_CREATE_LIMIT", "job_create")
    body = json_body()
    files = typed_field(body.get("files"), dict, "files", Text("an object: file name to upload_id"))
    document = _with_uploaded_files(_plan_document(body), files)
    dry_run = typed_field(body.get("dry_run"), bool, "dry_run", Text("true or false")) or False
    plan = parse_plan(document)
    ConnectionStore(current_services(), visible=current_principal().owns).check_usable(plan.connection_id)
    sources = {}
    for step in plan.steps:
        upload_id = step.source.get("upload_id")
        if not upload_id:
            raise InvalidPlan(
                Text(
                    "Step %(name)s: `source.upload_id` is required here (the CLI uploads `source.file` first).",
                    name=step.name,
                ),
                step=step.name,
                field="source",
            )
        read_options = dict(step.read_options)
        if "sheet" in step.source:
            read_options["sheet"] = step.source["sheet"]
        try:
            source = upload_source(upload_id, read_options)
        except DMSError as exc:
            raise InvalidPlan(
                Text("Step %(name)s: %(message)s", name=step.name, message=exc.message),
                step=step.name,
                field="source",
            ) from None
        source["size"] = current_uploads().get(upload_id).get("size") or 0
        if "member" in step.source:  # one file of an uploaded zip: extracted by the step's first pass
            source["member"] = step.source["member"]
        sources[step.name] = source
    doc = run.create_plan(
        current_pipeline(), document, sources, dry_run=dry_run, owner=current_principal().as_owner()
    )
    audit("plan.rehearse" if dry_run else "plan.run", target=doc["_id"], steps=len(plan.steps))
    return jsonify(_with_links(doc)), 201, {"Location": url_for("api.get_plan", plan_id=doc["_id"])}


@api.post("/plans/skeleton")
def plan_skeleton() -> Any:
    """A draft plan from a workbook (a sheet per object) or a zip (a CSV per object), with what to fix."""
    body = json_body()
    upload_id = body.get("upload_id")
    source = upload_source(upload_id, None)
    connection_id = (
        typed_field(body.get("connection_id"), str, "connection_id", Text("a string")) or "default"
    )
    ConnectionStore(current_services(), visible=current_principal().owns).check_usable(connection_id)
    p = current_pipeline()
    ctx = p.job_context({"_id": "skeleton", "target": {"connection_id": connection_id}})
    with source_file(p, {"source": source}) as path:
        parts = parts_of(path)
    drafted = build_skeleton(parts, ctx.objects(), ctx.describe, str(upload_id))
    if connection_id != "default":
        drafted.plan["connection_id"] = connection_id
    return jsonify({"plan": drafted.plan, "notes": drafted.notes})


@api.get("/plans")
def list_plans() -> Any:
    """The newest plans, newest first, filtered by state, owner and time, a page at a time."""
    query = list_query("plan", [str(s) for s in PlanState], MAX_LISTED_PLANS)
    page = run.find_plans(current_pipeline(), query)
    return jsonify({"plans": [view.plan_view(d) for d in page.docs], "next_cursor": page.next_cursor})


@api.get("/plans/<plan_id>")
def get_plan(plan_id: str) -> Any:
    """A plan's state, order, and per step its passes, counters (live, for a running pass) and result links."""
    doc = run.with_live_passes(owned_plan(plan_id), current_pipeline().store.get)
    return jsonify(_with_links(doc))


@api.post("/plans/<plan_id>/cancel")
def cancel_plan(plan_id: str) -> Any:
    owned_plan(plan_id)
    doc = run.cancel_plan(current_pipeline(), plan_id)
    audit("plan.cancel", target=plan_id)
    return jsonify(_with_links(doc))


@api.post("/plans/<plan_id>/retry")
def retry_plan(plan_id: str) -> Any:
    """Run the plan again for the rows it left undone, step by step in order."""
    owned_plan(plan_id)
    doc = run.retry_plan(current_pipeline(), plan_id)
    audit("plan.retry", target=plan_id, attempt=doc["attempt"])
    return jsonify(_with_links(doc))


@api.get("/plans/<plan_id>/results")
def plan_results(plan_id: str) -> Any:
    """A zip of every step's success.csv and errors.csv (and deferred_errors.csv) and summary.json."""
    doc = owned_plan(plan_id)
    p = current_pipeline()
    audit("plan.download", target=plan_id)
    headers = {"Content-Disposition": f'attachment; filename="{plan_id}-results.zip"'}
    stream = view.results_zip(p.blobs, p.store, doc)
    return Response(stream_with_context(stream), mimetype="application/zip", headers=headers)


@api.get("/plans/<plan_id>/steps/<step>/<name>")
def plan_step_results(plan_id: str, step: str, name: str) -> Any:
    doc = owned_plan(plan_id)
    if name not in view.STEP_FILES or step not in {s["name"] for s in doc["spec"]["steps"]}:
        raise NotFound(
            Text(
                "A plan's step results are %(step_files)s of one of its steps.",
                step_files=", ".join(view.STEP_FILES),
            ),
            code="NOT_FOUND",
        )
    p = current_pipeline()
    audit("plan.download", target=plan_id, step=step, kind=name)
    headers = {"Content-Disposition": f'attachment; filename="{plan_id}-{step}-{name}"'}
    stream = view.step_file(p.blobs, p.store, doc, step, name)
    return Response(stream_with_context(stream), mimetype="text/csv", headers=headers)

"""Connections (Salesforce credentials, encrypted at rest), objects and fields, and mapping suggestions."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask_babel import gettext

from blueprints.api import api
from blueprints.api.jobs import current_pipeline, json_body
from blueprints.api.uploads import current_uploads
from dms.clients import current_services
from dms.clients.salesforce import OrgClient
from dms.connections import DEFAULT_CONNECTION, ConnectionStore
from dms.errors import DMSError, InvalidRequest, Text, typed_field
from dms.org_authorization import OrgAuthorizations
from dms.pipeline.chunks import parent_describes
from dms.pipeline.context import JobContext
from dms.pipeline.model import ROW_COLUMN, Operation
from dms.pipeline.prepare import (
    FALSE_TOKENS,
    PROFILE_ROWS,
    TRUE_TOKENS,
    check_mapping,
    new_mapping,
    sample_mapping,
)
from dms.pipeline.source import ReadOptions, validated_options
from factories.security import audit, current_principal, rate_limit

# The attributes of a field's describe that GET /objects/<name> passes on as they are.
DESCRIBE_FIELD_KEYS = (
    "name",
    "label",
    "type",
    "length",
    "nillable",
    "defaultedOnCreate",
    "createable",
    "updateable",
    "externalId",
    "unique",
    "idLookup",
    "referenceTo",
    "relationshipName",
    "restrictedPicklist",
)

# The text fields of POST /mappings/suggest and /mappings/preview.
SUGGEST_TEXT_FIELDS = ("upload_id", "object", "operation", "external_id", "connection_id")
DEFAULT_SAMPLE_ROWS = 20
MAX_SAMPLE_ROWS = 200


def connections() -> ConnectionStore:
    """The caller's connections: they see and use their own (admins: all) and the deployment's default."""
    principal = current_principal()
    return ConnectionStore(current_services(), owner=principal.as_owner(), visible=principal.owns)


def org_authorizations() -> OrgAuthorizations:
    """The caller's pending web server flow authorizations."""
    return OrgAuthorizations(current_services(), connections(), current_principal().user_id)


def oauth_callback_url() -> str:
    """Where the org sends the browser back: the setting, else this server's callback page."""
    configured = str(current_services().settings.get("OAUTH_CALLBACK_URL") or "").strip()
    return configured or url_for("ui.connection_callback", _external=True)


def _org(connection_id: str | None, reuse_session: bool = True) -> OrgClient:
    credentials = connections().credentials(connection_id)
    return OrgClient(credentials, reuse_session=reuse_session)


def _job_context(connection_id: str | None, object_name: str = "") -> JobContext:
    """The pipeline's view of a connection's org: describes and the object list, cached."""
    connections().check_usable(connection_id)
    job_like = {"target": {"connection_id": connection_id or "default", "object": object_name}}
    return current_pipeline().job_context(job_like)


def _describe(connection_id: str | None, object_name: str) -> dict[str, Any]:
    return _job_context(connection_id, object_name).describe()


def listed_connections() -> list[dict[str, Any]]:
    """The caller's connections, the deployment's default org named in the reader's language."""
    return [
        {**c, "name": gettext("Default org (from settings)")} if c["id"] == DEFAULT_CONNECTION else c
        for c in connections().list()
    ]


@api.get("/connections")
def list_connections() -> Any:
    return jsonify({"connections": listed_connections()})


@api.post("/connections")
def create_connection() -> Any:
    created = connections().create(json_body())
    audit("connection.create", target=created["id"], name=created["name"], login_url=created["login_url"])
    return jsonify(created), 201


@api.post("/connections/authorize")
def authorize_connection() -> Any:
    """Start connecting an org by the web server flow: answers the org's authorize URL to open in a browser."""
    rate_limit("CONNECTION_TEST_LIMIT", "connection_test")  # it ends in an org login, like a test
    started = org_authorizations().start(json_body(), oauth_callback_url())
    audit("connection.authorize", outcome="started", login_url=started["login_url"])
    return jsonify(started), 201


@api.delete("/connections/<connection_id>")
def delete_connection(connection_id: str) -> Any:
    connections().delete(connection_id)
    audit("connection.delete", target=connection_id)
    return "", 204


@api.post("/connections/<connection_id>/test")
def test_connection(connection_id: str) -> Any:
    """Log in and read the org's limits: proves the credentials without spending more than one call."""
    rate_limit("CONNECTION_TEST_LIMIT", "connection_test")  # each is a real login: floods lock the user
    store = connections()
    org = _org(connection_id, reuse_session=False)  # the point is to prove the credentials still work
    try:
        limits = org.rest("GET", "limits")
    except DMSError as exc:
        audit("connection.test", target=connection_id, outcome="failed")
        store.record_test(connection_id, {"ok": False, "code": exc.code, "message": exc.message})
        raise
    except Exception:
        audit("connection.test", target=connection_id, outcome="failed")
        raise
    audit("connection.test", target=connection_id)
    daily = {k: v for k, v in limits.get("DailyApiRequests", {}).items() if k in ("Max", "Remaining")}
    store.record_test(connection_id, {"ok": True, "daily_api_requests": daily})
    return jsonify({"ok": True, "instance_url": org.sf.sf_instance, "daily_api_requests": daily})


@api.get("/objects")
def list_objects() -> Any:
    """The org's objects a migration can write (describe global, cached)."""
    objects = [
        {
            k: o.get(k)
            for k in ("name", "label", "keyPrefix", "custom", "createable", "updateable", "deletable")
        }
        for o in _job_context(request.args.get("connection_id")).objects()
        if o.get("createable") or o.get("updateable")
    ]
    return jsonify({"objects": objects})


@api.get("/objects/<object_name>")
def describe_object(object_name: str) -> Any:
    """An object's fields: name, label, type, length, required, picklist values (and their labels), the
    tokens a boolean field reads without true_values/false_values, external id, references."""
    connection_id = request.args.get("connection_id")
    describe = _describe(connection_id, object_name)
    fields = []
    for f in describe.get("fields", []):
        entry = {k: f.get(k) for k in DESCRIBE_FIELD_KEYS}
        entry["required"] = bool(
            f.get("createable") and not f.get("nillable") and not f.get("defaultedOnCreate")
        )
        if f.get("picklistValues"):
            active = [p for p in f["picklistValues"] if p.get("active", True)]
            entry["picklistValues"] = [p["value"] for p in active]
            # A value map's editor shows the labels people know and writes the values the org stores.
            entry["picklistEntries"] = [
                {
                    "value": p["value"],
                    "label": p.get("label") or p["value"],
                    "default": bool(p.get("defaultValue")),
                }
                for p in active
            ]
        if f.get("type") == "boolean":
            entry["booleanTokens"] = {"true": list(TRUE_TOKENS), "false": list(FALSE_TOKENS)}
        fields.append(entry)
    return jsonify({"name": describe.get("name"), "label": describe.get("label"), "fields": fields})


def _target_fields(body: dict[str, Any]) -> tuple[dict[str, Any], Operation, ReadOptions]:
    """The upload, target and read options a mapping request names (upload_id and object required)."""
    fields = {name: typed_field(body.get(name), str, name, Text("a string")) for name in SUGGEST_TEXT_FIELDS}
    for name in ("upload_id", "object"):
        if not fields[name]:
            raise InvalidRequest(Text("`%(name)s` is required.", name=name), field=name)
    operation = Operation.parse(fields["operation"] or "insert")
    if operation is None:
        raise InvalidRequest(
            Text("`operation` must be one of %(operations)s.", operations=", ".join(Operation)),
            field="operation",
        )
    given = typed_field(body.get("read_options"), dict, "read_options", Text("an object"))
    read_options = validated_options(
        ReadOptions.from_json(given, prefix="read_options."), None, prefix="read_options."
    )
    return fields, operation, read_options


@api.post("/mappings/suggest")
def suggest_mapping() -> Any:
    """An auto-mapped spec for an upload and a target, with the problems a load would hit."""
    fields, operation, read_options = _target_fields(json_body())
    preview = current_uploads().preview(
        fields["upload_id"],
        format=read_options.format,
        encoding=read_options.encoding,
        delimiter=read_options.delimiter,
        sheet=read_options.sheet,
    )
    columns = [c["name"] for c in preview["columns"]]
    describe = _describe(fields["connection_id"], fields["object"])
    spec = new_mapping(fields["object"], operation, columns, describe, external_id=fields["external_id"])
    problems = check_mapping(spec, describe, columns)
    return jsonify({"mapping": spec, "problems": [p.to_dict(gettext) for p in problems]})


@api.post("/mappings/preview")
def preview_mapping() -> Any:
    """The first rows of an upload through a mapping (or one field rule): source values beside the values
    that would be sent, and each cell's errors, by the pipeline's own prepare."""
    body = json_body()
    fields, operation, read_options = _target_fields(body)
    mapping = typed_field(body.get("mapping"), dict, "mapping", Text("a mapping object"))
    rule = typed_field(
        body.get("field"), dict, "field", Text("one field rule (an entry of a mapping's fields)")
    )
    if mapping is not None and rule is not None:
        raise InvalidRequest(Text("Give `mapping` or `field`, not both."), field="field")
    rows = typed_field(body.get("rows"), int, "rows", Text("a whole number"))
    rows = DEFAULT_SAMPLE_ROWS if rows is None else rows
    if not 1 <= rows <= MAX_SAMPLE_ROWS:
        raise InvalidRequest(
            Text(
                "`rows` must be a whole number from 1 to %(max_sample_rows)s.",
                max_sample_rows=MAX_SAMPLE_ROWS,
            ),
            field="rows",
        )
    head = current_uploads().head(fields["upload_id"], read_options, rows=max(rows, PROFILE_ROWS))
    ctx = _job_context(fields["connection_id"], fields["object"])
    describe = ctx.describe()
    columns = [c for c in head.table.column_names if c != ROW_COLUMN]
    if mapping is None and rule is None:
        spec = new_mapping(fields["object"], operation, columns, describe, external_id=fields["external_id"])
    else:
        spec = dict(mapping) if mapping is not None else {"fields": [rule]}
        spec.update(object=describe.get("name") or fields["object"], operation=operation)
        if fields["external_id"]:
            spec["external_id"] = fields["external_id"]
    parents = parent_describes(ctx, spec, describe)
    sample = sample_mapping(
        head.table, spec, describe, rows=rows, parent_describes=parents, translate=gettext
    )
    return jsonify(sample)

"""The HTTP surface: OAuth/SOAP login, REST data API, Composite Collections, Bulk 2.0 ingest, admin."""

from __future__ import annotations

import hmac
import logging
import re
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Flask, Response, g, request, stream_with_context
from werkzeug.exceptions import HTTPException

from localorg import MAX_API_VERSION, MIN_API_VERSION, __version__
from localorg.auth import ADMIN_TOKEN_HEADER
from localorg.bulk_query_api import bulk_query_api
from localorg.errors import SalesforceError, not_found, rolled_back, session_invalid
from localorg.faults import KINDS, FaultSpecError, parse_rule
from localorg.ids import to_18
from localorg.json_records import batch_from_json
from localorg.oauth import identity_url, oauth_api
from localorg.org import LocalOrg
from localorg.query import record_url
from localorg.query_columns import column_metadata
from localorg.rest_io import json_response, org, request_json, sobject_or_404, write_options
from localorg.schema import SObjectType
from localorg.search import search_api
from localorg.soql import compile_soql
from localorg.store import RowBatch, RowResult, WriteOptions
from localorg.tree import tree_api
from localorg.values import to_json_value

log = logging.getLogger(__name__)

_DATA_PREFIX = re.compile(r"^/services/data/(v\d{2}\.\d)(/.*)?$")
COLLECTION_LIMIT = 200

data_api = Blueprint("data_api", __name__, url_prefix="/services/data/v<version>")
auth_api = Blueprint("auth_api", __name__)
admin_api = Blueprint("admin_api", __name__, url_prefix="/_localorg")


def create_app(local_org: LocalOrg) -> Flask:
    """Build the Flask app serving one org."""
    app = Flask("localorg")
    app.config["LOCALORG"] = local_org
    app.url_map.strict_slashes = False
    app.register_blueprint(auth_api)
    app.register_blueprint(oauth_api)
    app.register_blueprint(data_api)
    app.register_blueprint(bulk_query_api)
    app.register_blueprint(admin_api)
    app.register_blueprint(tree_api)
    app.register_blueprint(search_api)
    app.register_error_handler(SalesforceError, _salesforce_error)
    app.register_error_handler(HTTPException, _http_error)
    app.before_request(_guard)
    app.after_request(_limit_header)
    return app


# ---- cross-cutting: versions, auth, API usage, faults, errors -------------------------------------------


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response(body, status, headers)


def _salesforce_error(error: SalesforceError) -> Response:
    return _json(error.rest_body(), error.status)


def _http_error(error: HTTPException) -> Response:
    if error.code == 404:
        # A resource localorg does not have: Salesforce's body for a missing resource, which has no fields.
        return _json([{"errorCode": "NOT_FOUND", "message": not_found().message}], 404)
    if error.code == 405:
        allowed = ",".join(sorted(m for m in (error.valid_methods or []) if m not in {"HEAD", "OPTIONS"}))  # type: ignore[attr-defined]
        return _json(
            [
                {
                    "errorCode": "METHOD_NOT_ALLOWED",
                    "message": f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
                }
            ],
            405,
        )
    return _json(
        [{"errorCode": "UNKNOWN_EXCEPTION", "message": error.description or str(error)}], error.code or 500
    )


def _guard() -> Response | None:
    """Version check, session check, API usage and fault injection for the data API."""
    path = request.path
    match = _DATA_PREFIX.match(path)
    if not match:
        if path.startswith("/services/"):
            return _inject_faults(path, path)
        return None
    version = match.group(1)[1:]
    if not MIN_API_VERSION <= float(version) <= MAX_API_VERSION:
        raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
    api_path = match.group(2) or "/"
    local = org()
    g.session_token = local.sessions.check(request.headers.get("Authorization"))
    if local.api_usage.exhausted():
        raise SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
    local.api_usage.count()
    g.api_path = api_path
    return _inject_faults(path, api_path)


def _inject_faults(path: str, api_path: str) -> Response | None:
    local = org()
    delay, fault = local.faults.for_request(path, api_path)
    if delay:
        time.sleep(delay)
    if fault == "unavailable":
        return _json([{"errorCode": "SERVER_UNAVAILABLE", "message": "Service Unavailable"}], 503)
    if fault == "request_limit":
        return _json(
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}], 403
        )
    if fault == "session_expired":
        token = g.get("session_token")
        if token:
            local.sessions.revoke(token)
        return _salesforce_error(session_invalid())
    return None


def _limit_header(response: Response) -> Response:
    if request.path.startswith("/services/data/v"):
        local = org()
        response.headers["Sforce-Limit-Info"] = f"api-usage={local.api_usage.used()}/{local.api_usage.limit}"
    return response


def _body_json() -> Any:
    return request_json()


def _sobject(name: str) -> SObjectType:
    return sobject_or_404(name)


def _options(all_or_none: bool = False, external_id_field: str | None = None) -> WriteOptions:
    return write_options(all_or_none, external_id_field)


# ---- authentication --------------------------------------------------------------------------------------


def _org_id() -> str:
    from localorg.store import ORG_ID

    return ORG_ID


_LOGIN_FAULT_MESSAGES = {
    "INVALID_LOGIN": "Invalid username, password, security token; or user locked out.",
    "LOGIN_MUST_USE_SECURITY_TOKEN": "Invalid username, password, security token; or user locked out. Are you "
    "at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of "
    "your company's trusted networks, you must add a security token to your password to log in.",
}


def _soap_fault(code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=500, mimetype="text/xml")


@auth_api.post("/services/Soap/u/<version>")
def soap_login(version: str) -> Response:
    """The partner SOAP API, `login` only."""
    local = org()
    raw = request.get_data(cache=False)
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        return _soap_fault("INVALID_LOGIN", "Document type declarations are not accepted")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        return _soap_fault("INVALID_LOGIN", f"Unable to parse the SOAP request: {exc}")
    values = {element.tag.rpartition("}")[2]: (element.text or "") for element in root.iter()}
    if "login" not in values:
        return _soap_fault("UNKNOWN_EXCEPTION", "localorg implements only the login call of the SOAP API")
    outcome = local.credentials.check_password(values.get("username", ""), values.get("password", ""))
    if outcome != "ok":
        code = "LOGIN_MUST_USE_SECURITY_TOKEN" if outcome == "needs_token" else "INVALID_LOGIN"
        return _soap_fault(code, _LOGIN_FAULT_MESSAGES[code])
    base = request.host_url.rstrip("/")
    session_id = local.sessions.issue()
    user_id, org_id = local.store.user_id, _org_id()
    username = escape(local.credentials.username)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base}/services/Soap/m/{escape(version)}/{org_id[:15]}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{escape(version)}/{org_id[:15]}</serverUrl>"
        f"<sessionId>{session_id}</sessionId><userId>{user_id}</userId><userInfo>"
        "<accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol>"
        "<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>"
        f"<organizationId>{org_id}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency>"
        "<organizationName>localorg</organizationName>"
        f"<sessionSecondsValid>{local.sessions.ttl_seconds}</sessionSecondsValid>"
        f"<userEmail>{username}</userEmail><userFullName>Integration User</userFullName>"
        f"<userId>{user_id}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale>"
        f"<userName>{username}</userName><userTimeZone>GMT</userTimeZone><userType>Standard</userType>"
        "</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=200, mimetype="text/xml")


def _release_label(version: float) -> str:
    step = int(round(version)) - 59  # 59.0 was Winter '24
    return f"{['Winter', 'Spring', 'Summer'][step % 3]} '{24 + step // 3}"


@auth_api.get("/services/data")
def versions() -> Response:
    """The API versions this server answers (no session needed, as on Salesforce)."""
    return _json(
        [
            {"label": _release_label(v), "url": f"/services/data/v{v:.1f}", "version": f"{v:.1f}"}
            for v in (float(n) for n in range(31, int(MAX_API_VERSION) + 1))
        ]
    )


# ---- REST: resources, limits, describe ------------------------------------------------------------------


@data_api.get("/")
def resources(version: str) -> Response:
    """The resources of one API version."""
    base = f"/services/data/v{version}"
    names = ["sobjects", "query", "queryAll", "search", "parameterizedSearch", "limits", "composite", "jobs"]
    return _json(
        {**{name: f"{base}/{name}" for name in names}, "identity": identity_url(org().store.user_id)}
    )


@data_api.get("/limits")
def limits(version: str) -> Response:
    """Org limits; DailyApiRequests counts every authenticated data API request today."""
    usage = org().api_usage
    used = usage.used()
    return _json(
        {
            "DailyApiRequests": {"Max": usage.limit, "Remaining": max(usage.limit - used, 0)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        }
    )


@data_api.get("/sobjects")
def describe_global(version: str) -> Response:
    """Describe global: every sObject type."""
    objects = org().store.schema.objects.values()
    return _json(
        {
            "encoding": "UTF-8",
            "maxBatchSize": COLLECTION_LIMIT,
            "sobjects": [o.describe_basic(version) for o in objects],
        }
    )


@data_api.get("/sobjects/<name>")
def sobject_basic(version: str, name: str) -> Response:
    """Basic information about one sObject type."""
    obj = _sobject(name)
    return _json({"objectDescribe": obj.describe_basic(version), "recentItems": []})


@data_api.get("/sobjects/<name>/describe")
def sobject_describe(version: str, name: str) -> Response:
    """Full describe of one sObject type."""
    obj = _sobject(name)
    return _json(obj.describe(version, org().store.schema.child_relationships(obj)))


# ---- REST: single records --------------------------------------------------------------------------------


def _write_one(
    obj: SObjectType,
    operation: str,
    record: Any,
    external_id_field: str | None = None,
    record_id: str | None = None,
) -> RowResult:
    if not isinstance(record, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object")
    batch = batch_from_json(org().store, obj, [record], operation)
    if record_id is not None:
        batch.ids = [record_id]
    result = org().store.write(obj, operation, batch, _options(external_id_field=external_id_field))[0]
    if result.error is not None:
        raise result.error
    return result


@data_api.post("/sobjects/<name>")
def create_record(version: str, name: str) -> Response:
    """Create one record."""
    obj = _sobject(name)
    result = _write_one(obj, "insert", _body_json())
    return _json({"id": result.id, "success": True, "errors": []}, 201)


def _record_json(obj: SObjectType, version: str, stored: dict[str, Any], record_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": record_url(version, obj.name, record_id)}
    }
    for field_name, value in stored.items():
        fld = obj.field(field_name)
        assert fld is not None
        record[fld.name] = to_json_value(fld, value)
    return record


def _fields_param(obj: SObjectType) -> list[Any]:
    wanted = request.args.get("fields")
    if not wanted:
        return obj.stored_fields
    fields = []
    for name in wanted.split(","):
        fld = obj.field(name.strip())
        if fld is None or not fld.stored:
            raise SalesforceError("INVALID_FIELD", f"No such column '{name.strip()}' on entity '{obj.name}'")
        fields.append(fld)
    return fields


# sObject resources Salesforce has and localorg does not: missing resources, not malformed record ids.
_UNIMPLEMENTED_SOBJECT_RESOURCES = {
    "listviews",
    "quickActions",
    "updated",
    "deleted",
    "layouts",
    "defaultValues",
}


def _id_or_404(obj: SObjectType, raw: str) -> str:
    if raw in _UNIMPLEMENTED_SOBJECT_RESOURCES:
        raise not_found()
    full = to_18(raw)
    if full is None or full[:3] != obj.key_prefix:
        raise SalesforceError(
            "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw}", status=404
        )
    return full


@data_api.get("/sobjects/<name>/<record_id>")
def get_record(version: str, name: str, record_id: str) -> Response:
    """Retrieve one record by id."""
    obj = _sobject(name)
    full = _id_or_404(obj, record_id)
    store = org().store
    rows = store.fetch_by_ids(obj, [full], _fields_param(obj), include_deleted=True)
    if full not in rows:
        raise not_found()
    if store.deleted_state(obj, [full]).get(full):
        raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status=404)
    return _json(_record_json(obj, version, rows[full], full))


@data_api.patch("/sobjects/<name>/<record_id>")
def update_record(version: str, name: str, record_id: str) -> Response:
    """Update one record by id."""
    obj = _sobject(name)
    full = _id_or_404(obj, record_id)
    state = org().store.deleted_state(obj, [full])
    if full not in state:
        raise not_found()
    _write_one(obj, "update", _body_json(), record_id=full)
    return Response(status=204)


@data_api.delete("/sobjects/<name>/<record_id>")
def delete_record(version: str, name: str, record_id: str) -> Response:
    """Delete one record by id (to the recycle bin)."""
    obj = _sobject(name)
    full = _id_or_404(obj, record_id)
    state = org().store.deleted_state(obj, [full])
    if full not in state:
        raise not_found()
    batch = RowBatch(size=1, ids=[full])
    result = org().store.write(obj, "delete", batch, _options())[0]
    if result.error is not None:
        raise SalesforceError(
            result.error.code,
            result.error.message,
            result.error.fields,
            404 if result.error.code == "ENTITY_IS_DELETED" else 400,
        )
    return Response(status=204)


def _external_id_field(obj: SObjectType, field_name: str) -> Any:
    fld = obj.field(field_name)
    if fld is None or not (fld.external_id or fld.id_lookup or fld.name == "Id"):
        raise SalesforceError(
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field_name}",
            status=404,
        )
    return fld


def _multiple_choices(obj: SObjectType, version: str, ids: list[str]) -> Response:
    return _json([record_url(version, obj.name, i) for i in ids], 300)


@data_api.get("/sobjects/<name>/<field_name>/<path:value>")
def get_by_external_id(version: str, name: str, field_name: str, value: str) -> Response:
    """Retrieve one record by an external id (or idLookup) field."""
    obj = _sobject(name)
    fld = _external_id_field(obj, field_name)
    store = org().store
    matches = store.find_by_field(obj, fld, [value])
    found = matches.get(value if fld.case_sensitive else value.lower(), [])
    if not found:
        raise not_found()
    if len(found) > 1:
        return _multiple_choices(obj, version, found)
    rows = store.fetch_by_ids(obj, found, _fields_param(obj))
    return _json(_record_json(obj, version, rows[found[0]], found[0]))


@data_api.patch("/sobjects/<name>/<field_name>/<path:value>")
def upsert_by_external_id(version: str, name: str, field_name: str, value: str) -> Response:
    """Upsert one record by external id: 201 created, 204 updated, 300 when several records match."""
    obj = _sobject(name)
    fld = _external_id_field(obj, field_name)
    body = _body_json()
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "The request body must be a JSON object")
    if fld.name == "Id":
        raise SalesforceError("INVALID_FIELD", "Use PATCH /sobjects/{object}/{id} to update by Id")
    store = org().store
    found = store.find_by_field(obj, fld, [value]).get(value if fld.case_sensitive else value.lower(), [])
    if len(found) > 1:
        return _multiple_choices(obj, version, found)
    for key in list(body):
        if key.lower() == fld.name.lower():
            body.pop(key)
    body[fld.name] = value
    result = _write_one(obj, "upsert", body, external_id_field=fld.name)
    if result.created:
        return _json({"id": result.id, "success": True, "errors": [], "created": True}, 201)
    return Response(status=204)


@data_api.delete("/sobjects/<name>/<field_name>/<path:value>")
def delete_by_external_id(version: str, name: str, field_name: str, value: str) -> Response:
    """Delete one record found by external id."""
    obj = _sobject(name)
    fld = _external_id_field(obj, field_name)
    found = (
        org().store.find_by_field(obj, fld, [value]).get(value if fld.case_sensitive else value.lower(), [])
    )
    if not found:
        raise not_found()
    if len(found) > 1:
        return _multiple_choices(obj, version, found)
    result = org().store.write(obj, "delete", RowBatch(size=1, ids=found), _options())[0]
    if result.error is not None:
        raise result.error
    return Response(status=204)


# ---- REST: query -------------------------------------------------------------------------------------------


def _batch_size() -> int | None:
    header = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", header)
    return int(match.group(1)) if match else None


@data_api.get("/query")
def query(version: str) -> Response:
    """Run SOQL (live records)."""
    return _run_query(version, include_deleted=False)


@data_api.get("/queryAll")
def query_all(version: str) -> Response:
    """Run SOQL including deleted records."""
    return _run_query(version, include_deleted=True)


def _run_query(version: str, include_deleted: bool) -> Response:
    soql = request.args.get("q")
    if soql is None:
        raise SalesforceError("MALFORMED_QUERY", "A query string (q) is required")
    if request.args.get("columns", "").lower() == "true":
        return _json(column_metadata(compile_soql(soql, org().store.schema, include_deleted)))
    return _json(org().queries.run(soql, version, include_deleted, _batch_size()))


@data_api.get("/query/<locator>")
@data_api.get("/queryAll/<locator>")
def query_more(version: str, locator: str) -> Response:
    """The next page of a query."""
    return _json(org().queries.more(locator, version))


# ---- Composite sObject Collections ------------------------------------------------------------------------


def _collection_body() -> tuple[bool, list[Any]]:
    body = _body_json()
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object with a 'records' array")
    records = body["records"]
    if len(records) > COLLECTION_LIMIT:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
        )
    all_or_none = body.get("allOrNone", False)
    if not isinstance(all_or_none, bool):
        raise SalesforceError("JSON_PARSER_ERROR", "allOrNone must be true or false")
    return all_or_none, records


def _record_type(record: Any, default: str | None = None) -> SObjectType:
    if not isinstance(record, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = record.get("attributes")
    name = attributes.get("type") if isinstance(attributes, dict) else default
    if not isinstance(name, str):
        raise SalesforceError("INVALID_TYPE", "Must send a concrete entity type.")
    obj = org().store.schema.get(name)
    if obj is None:
        raise SalesforceError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return obj


class _CollectionRollback(Exception):
    def __init__(self, results: list[RowResult | None]) -> None:
        super().__init__("allOrNone rollback")
        self.results = results


def _write_collection(
    records: list[Any],
    operation: str,
    all_or_none: bool,
    default_type: str | None = None,
    external_id_field: str | None = None,
) -> list[RowResult]:
    """Write records of possibly several types in order, in one transaction when allOrNone."""
    store = org().store
    groups: dict[str, tuple[SObjectType, list[int]]] = {}
    for index, record in enumerate(records):
        obj = _record_type(record, default_type)
        groups.setdefault(obj.name, (obj, []))[1].append(index)
    results: list[RowResult | None] = [None] * len(records)
    batches = {}
    for name, (obj, indexes) in groups.items():
        batches[name] = batch_from_json(store, obj, [records[i] for i in indexes], operation)
    try:
        with store.transaction():
            for name, (obj, indexes) in groups.items():
                batch = batches[name]
                group_results = store.write(obj, operation, batch, _options(all_or_none, external_id_field))
                for index, result in zip(indexes, group_results, strict=True):
                    results[index] = result
                if all_or_none and any(r.error for r in group_results):
                    raise _CollectionRollback(results)
    except _CollectionRollback:
        failed = [
            r
            if (r is not None and r.error and r.error.code != "ALL_OR_NONE_OPERATION_ROLLED_BACK")
            else RowResult(error=rolled_back())
            for r in results
        ]
        return failed
    return [r if r is not None else RowResult(error=rolled_back()) for r in results]


def _save_results(
    results: list[RowResult], with_created: bool = False, given_ids: list[Any] | None = None
) -> list[dict[str, Any]]:
    out = []
    for index, result in enumerate(results):
        if result.error is None:
            item: dict[str, Any] = {"id": result.id, "success": True, "errors": []}
            if with_created:
                item["created"] = result.created
        else:
            item = {"success": False, "errors": [result.error.record_error()]}
            if given_ids is not None and given_ids[index]:
                item = {"id": given_ids[index], **item}
        out.append(item)
    return out


@data_api.post("/composite/sobjects")
def collection_create(version: str) -> Response:
    """Create up to 200 records."""
    all_or_none, records = _collection_body()
    return _json(_save_results(_write_collection(records, "insert", all_or_none)))


@data_api.patch("/composite/sobjects")
def collection_update(version: str) -> Response:
    """Update up to 200 records by Id."""
    all_or_none, records = _collection_body()
    given = [r.get("id") or r.get("Id") if isinstance(r, dict) else None for r in records]
    return _json(_save_results(_write_collection(records, "update", all_or_none), given_ids=given))


@data_api.patch("/composite/sobjects/<name>/<field_name>")
def collection_upsert(version: str, name: str, field_name: str) -> Response:
    """Upsert up to 200 records of one type by an external id field."""
    obj = _sobject(name)
    fld = _external_id_field(obj, field_name)
    all_or_none, records = _collection_body()
    for record in records:
        if isinstance(record, dict):
            record_obj = _record_type(record, obj.name)
            if record_obj.name != obj.name:
                raise SalesforceError("INVALID_TYPE", f"All records must be of type {obj.name}")
    results = _write_collection(records, "upsert", all_or_none, obj.name, fld.name)
    return _json(_save_results(results, with_created=True))


@data_api.delete("/composite/sobjects")
def collection_delete(version: str) -> Response:
    """Delete up to 200 records by id (?ids=a,b&allOrNone=true)."""
    raw_ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not raw_ids:
        raise SalesforceError("MISSING_ARGUMENT", "ids parameter is required")
    if len(raw_ids) > COLLECTION_LIMIT:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
        )
    all_or_none = request.args.get("allOrNone", "false").lower() == "true"
    store = org().store
    results: list[RowResult | None] = [None] * len(raw_ids)
    groups: dict[str, tuple[SObjectType, list[int]]] = {}
    for index, raw in enumerate(raw_ids):
        full = to_18(raw)
        obj = store.schema.by_prefix(full[:3]) if full else None
        if obj is None:
            results[index] = RowResult(error=SalesforceError("MALFORMED_ID", f"malformed id {raw}"))
            continue
        groups.setdefault(obj.name, (obj, []))[1].append(index)
    if all_or_none and any(results):
        return _json(_save_results([r or RowResult(error=rolled_back()) for r in results], given_ids=raw_ids))
    try:
        with store.transaction():
            for obj, indexes in groups.values():
                batch = RowBatch(size=len(indexes), ids=[raw_ids[i] for i in indexes])
                group_results = store.write(obj, "delete", batch, _options(all_or_none))
                for index, result in zip(indexes, group_results, strict=True):
                    results[index] = result
                if all_or_none and any(r.error for r in group_results):
                    raise _CollectionRollback(results)
    except _CollectionRollback:
        results = [
            r
            if (r is not None and r.error and r.error.code != "ALL_OR_NONE_OPERATION_ROLLED_BACK")
            else RowResult(error=rolled_back())
            for r in results
        ]
    final = [r or RowResult(error=rolled_back()) for r in results]
    for index, result in enumerate(final):
        if result.error is None:
            final[index] = RowResult(id=to_18(raw_ids[index]))
    return _json(_save_results(final, given_ids=raw_ids))


@data_api.route("/composite/sobjects/<name>", methods=["GET", "POST"])
def collection_retrieve(version: str, name: str) -> Response:
    """Retrieve up to 2,000 records of one type by id with the given fields."""
    obj = _sobject(name)
    if request.method == "POST":
        body = _body_json()
        ids = body.get("ids") if isinstance(body, dict) else None
        field_names = body.get("fields") if isinstance(body, dict) else None
    else:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        field_names = [f for f in request.args.get("fields", "").split(",") if f]
    if not isinstance(ids, list) or not ids or not isinstance(field_names, list) or not field_names:
        raise SalesforceError("MISSING_ARGUMENT", "ids and fields are required")
    if len(ids) > 2000:
        raise SalesforceError(
            "EXCEEDED_ID_LIMIT", "record limit reached. cannot retrieve more than 2000 records"
        )
    fields = []
    for field_name in field_names:
        fld = obj.field(str(field_name))
        if fld is None or not fld.stored:
            raise SalesforceError("INVALID_FIELD", f"No such column '{field_name}' on entity '{obj.name}'")
        fields.append(fld)
    full_ids = [to_18(str(i)) for i in ids]
    rows = org().store.fetch_by_ids(obj, [i for i in full_ids if i], fields)
    return _json([_record_json(obj, version, rows[i], i) if i in rows else None for i in full_ids])


# ---- Bulk API 2.0 ingest ------------------------------------------------------------------------------------


@data_api.post("/jobs/ingest")
def create_ingest_job(version: str) -> Response:
    """Create an ingest job."""
    job = org().bulk.create(_body_json(), version, org().store.user_id)
    return _json(job.info(with_counters=False), 200)


@data_api.get("/jobs/ingest")
def list_ingest_jobs(version: str) -> Response:
    """All ingest jobs."""
    jobs = org().bulk.list_jobs()
    return _json(
        {"done": True, "records": [j.info(with_counters=False) for j in jobs], "nextRecordsUrl": None}
    )


@data_api.get("/jobs/ingest/<job_id>")
def get_ingest_job(version: str, job_id: str) -> Response:
    """One ingest job's info and counters."""
    return _json(org().bulk.get(job_id).info())


@data_api.patch("/jobs/ingest/<job_id>")
def patch_ingest_job(version: str, job_id: str) -> Response:
    """Close (UploadComplete) or abort a job."""
    return _json(org().bulk.set_state(job_id, _body_json()))


@data_api.delete("/jobs/ingest/<job_id>")
def delete_ingest_job(version: str, job_id: str) -> Response:
    """Delete a finished job."""
    org().bulk.delete(job_id)
    return Response(status=204)


@data_api.put("/jobs/ingest/<job_id>/batches")
def upload_ingest_data(version: str, job_id: str) -> Response:
    """Upload CSV data (streamed to disk)."""
    org().bulk.upload(job_id, request.stream, request.content_length)
    return Response(status=201)


@data_api.get("/jobs/ingest/<job_id>/<kind>")
def ingest_results(version: str, job_id: str, kind: str) -> Response:
    """successfulResults, failedResults or unprocessedrecords of a job, as CSV."""
    bulk = org().bulk
    wanted = kind.lower()
    if wanted in {"successfulresults", "failedresults"}:
        results = bulk.results(job_id, successful=wanted == "successfulresults")
        return Response(stream_with_context(results), mimetype="text/csv")
    if wanted == "unprocessedrecords":
        rows: Iterator[bytes] = bulk.unprocessed_rows(job_id)
        return Response(stream_with_context(rows), mimetype="text/csv")
    raise not_found()


# ---- admin: health, faults, sessions, reset ------------------------------------------------------------------


@admin_api.before_request
def _admin_only() -> Response | None:
    """The admin API changes what every client sees (faults, resets, expired sessions): token holders only.
    `GET /_localorg/health` stays open as a readiness probe, answering only that it is up."""
    if request.endpoint == "admin_api.health" and ADMIN_TOKEN_HEADER not in request.headers:
        return None
    expected = org().settings.admin_token
    given = request.headers.get(ADMIN_TOKEN_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _json(
            {
                "error": "unauthorized",
                "message": f"The localorg admin API needs the {ADMIN_TOKEN_HEADER} header.",
            },
            401,
        )
    return None


@admin_api.get("/health")
def health() -> Response:
    """Liveness; with the admin token, a summary of the org."""
    local = org()
    if ADMIN_TOKEN_HEADER not in request.headers:
        return _json({"status": "ok", "version": __version__})
    return _json(
        {
            "status": "ok",
            "version": __version__,
            "db": local.settings.db,
            "objects": len(local.store.schema.objects),
            "api_requests_today": local.api_usage.used(),
            "faults": local.faults.rules(),
        }
    )


@admin_api.get("/faults")
def show_faults() -> Response:
    """The active fault rules and the kinds available."""
    return _json({"rules": org().faults.rules(), "kinds": KINDS})


@admin_api.post("/faults")
def set_faults() -> Response:
    """Replace the fault rules: one rule object, or {"rules": [...]}; {"expire_sessions": true} too."""
    body = _body_json()
    local = org()
    if not isinstance(body, dict):
        return _json({"error": "expected a JSON object"}, 400)
    expired = 0
    if body.pop("expire_sessions", False):
        expired = local.sessions.expire_all()
    specs = body.get("rules", [body] if body else [])
    try:
        rules = [parse_rule(spec) for spec in specs]
    except FaultSpecError as exc:
        return _json({"error": str(exc)}, 400)
    local.faults.set_rules(rules)
    log.info("faults set rules=%d sessions_expired=%d", len(rules), expired)
    return _json({"rules": local.faults.rules(), "sessions_expired": expired})


@admin_api.delete("/faults")
def clear_faults() -> Response:
    """Remove all fault rules."""
    org().faults.clear()
    return _json({"rules": []})


@admin_api.post("/sessions/expire")
def expire_sessions() -> Response:
    """Expire every session now."""
    return _json({"sessions_expired": org().sessions.expire_all()})


@admin_api.post("/reset")
def reset() -> Response:
    """Delete all records and jobs (schema kept)."""
    org().reset()
    return _json({"status": "reset"})

"""The Bulk API 2.0 query resources (/jobs/query), served from the org's BulkQuery."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from localorg.bulk_query import BulkQuery
from localorg.errors import SalesforceError
from localorg.org import LocalOrg

bulk_query_api = Blueprint("bulk_query_api", __name__, url_prefix="/services/data/v<version>/jobs/query")


def _local() -> LocalOrg:
    return current_app.config["LOCALORG"]  # type: ignore[no-any-return]


def _queries() -> BulkQuery:
    return _local().bulk_queries


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _body_json() -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SalesforceError("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


@bulk_query_api.post("")
def create_query_job(version: str) -> Response:
    """Create a query job; it runs at once in the background."""
    return _json(_queries().create(_body_json(), version, _local().store.user_id))


@bulk_query_api.get("")
def list_query_jobs(version: str) -> Response:
    """Query jobs (never ingest jobs), with jobType/concurrencyMode/isPkChunkingEnabled/queryLocator."""
    return _json(_queries().list_jobs(request.args.to_dict(), version))


@bulk_query_api.get("/<job_id>")
def get_query_job(version: str, job_id: str) -> Response:
    """One query job's info and counters."""
    return _json(_queries().info(job_id))


@bulk_query_api.patch("/<job_id>")
def abort_query_job(version: str, job_id: str) -> Response:
    """Abort a query job ({"state": "Aborted"})."""
    return _json(_queries().abort(job_id, _body_json()))


@bulk_query_api.delete("/<job_id>")
def delete_query_job(version: str, job_id: str) -> Response:
    """Delete a query job and its results."""
    _queries().delete(job_id)
    return Response(status=204)


@bulk_query_api.get("/<job_id>/results")
def query_job_results(version: str, job_id: str) -> Response:
    """One set of results as CSV, with Sforce-NumberOfRecords and Sforce-Locator ("null" on the last)."""
    page = _queries().results(job_id, request.args.get("locator"), request.args.get("maxRecords"))
    headers = {"Sforce-NumberOfRecords": str(page.number_of_records), "Sforce-Locator": page.next_locator}
    return Response(page.body, mimetype="text/csv", headers=headers)

"""What every REST resource module shares: the app's org, JSON bodies in and out, write options."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, request

from localorg.errors import SalesforceError, not_found
from localorg.org import LocalOrg
from localorg.schema import SObjectType
from localorg.store import WriteOptions


def org() -> LocalOrg:
    """The org this app serves."""
    return current_app.config["LOCALORG"]  # type: ignore[no-any-return]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (json.dumps keeps the key order Salesforce's bodies have)."""
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def request_json() -> Any:
    """The request body as JSON; JSON_PARSER_ERROR when it is empty or not JSON."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise SalesforceError("JSON_PARSER_ERROR", "The request body is empty; a JSON object was expected")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise SalesforceError(
            "JSON_PARSER_ERROR", f"Unexpected character: {exc} at [line:{line}, column:{column}]"
        ) from None


def sobject_or_404(name: str) -> SObjectType:
    """The sObject type named in the URL, or NOT_FOUND as Salesforce answers for an unknown object."""
    obj = org().store.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def write_options(all_or_none: bool = False, external_id_field: str | None = None) -> WriteOptions:
    """Options for a write made by this request, with the row faults that apply to its path."""
    local = org()
    failing = None
    if local.faults.has_row_faults():
        path, api_path = request.path, g.get("api_path", request.path)

        def failing(count: int) -> set[int]:
            return local.faults.failing_rows(path, api_path, count)

    return WriteOptions(
        user_id=local.store.user_id,
        all_or_none=all_or_none,
        external_id_field=external_id_field,
        failing_rows=failing,
    )

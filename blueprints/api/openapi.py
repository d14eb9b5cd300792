"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json (a test keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from blueprints.api import api
from dms.pipeline.model import JobState

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(
    summary: str,
    tag: str,
    *,
    body: dict[str, Any] | None = None,
    body_required: bool = True,
    ok: str = "200",
    params: list[str] | None = None,
    query: dict[str, dict[str, Any]] | None = None,
    response: dict[str, Any] | None = None,
    content: str = "application/json",
) -> dict[str, Any]:
    """One operation: its answer when it works (a 204 has no body), and the error shape for every other."""
    answer: dict[str, Any] = {"description": "OK"}
    if ok != "204":
        answer["content"] = {content: {"schema": response or {"type": "object"}}}
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {
            ok: answer,
            "default": {
                "description": "An error with a stable code",
                "content": {"application/json": {"schema": ERROR}},
            },
        },
    }
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params or []
    ]
    parameters += [{"name": name, "in": "query", "schema": schema} for name, schema in (query or {}).items()]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": body}},
        }
    return operation


STRING = {"type": "string"}
FORMAT = {"enum": ["csv", "excel", "json", "ndjson", "parquet", "pickle", "txt", "tsv", "xlsx", "jsonl"]}
READ_OPTIONS: dict[str, Any] = {
    "type": "object",
    "description": "How to read the file; each one left out is detected",
    "properties": {
        "format": {
            "enum": ["csv", "excel", "json", "ndjson", "parquet", "pickle", "txt", "tsv", "xlsx", "jsonl"]
        },
        "encoding": {"type": "string", "examples": ["utf-8", "cp1252"]},
        "delimiter": {"type": "string", "examples": [",", ";", "tab"]},
        "sheet": {"type": ["string", "integer"], "description": "A sheet name or a 0-based index"},
        "has_header": {"type": "boolean", "default": True},
    },
}


JOB_REQUEST = {
    "type": "object",
    "required": ["upload_id", "object", "operation"],
    "properties": {
        "upload_id": {"type": "string"},
        "object": {"type": "string", "examples": ["Account"]},
        "operation": {"enum": ["insert", "update", "upsert", "delete", "hardDelete"]},
        "external_id": {"type": "string", "description": "External id field, required for upsert"},
        "connection_id": {"type": "string", "default": "default"},
        "mapping": {
            "type": "object",
            "description": "A mapping spec (see dms/pipeline/prepare/spec.py); auto-mapped when absent",
        },
        "template": {"type": "string", "description": "Name of a saved mapping template for the object"},
        "read_options": READ_OPTIONS,
        "dry_run": {
            "type": "boolean",
            "default": False,
            "description": "Rehearse: validate everything, load nothing",
        },
        "direct": {
            "type": "boolean",
            "default": False,
            "description": "Run a small job within this request rather than on the queue",
        },
        "options": {
            "type": "object",
            "properties": {
                "chunk_rows": {"type": "integer"},
                "api": {"enum": ["auto", "bulk", "collections"]},
                "collections_threshold": {"type": "integer"},
                "check_lookups": {"type": "boolean"},
            },
        },
    },
}
JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "state": {"enum": list(JobState)},
        "counters": {
            "type": "object",
            "description": "total = succeeded + failed + invalid + cancelled + pending",
        },
        "percent": {"type": "number"},
        "api_calls": {"type": "object"},
        "estimated_api_calls": {"type": ["integer", "null"]},
        "error": {"type": ["object", "null"]},
    },
}
CONNECTION = {
    "type": "object",
    "required": ["name", "login_url"],
    "properties": {
        "name": STRING,
        "login_url": {
            "type": "string",
            "description": "The org's https:// address alone: a Salesforce domain (login.salesforce.com, "
            "test.salesforce.com, *.my.salesforce.com...) or a host in DMS_SALESFORCE_TRUSTED_HOSTS; "
            "anything else is a 400 UNTRUSTED_HOST.",
            "examples": ["https://login.salesforce.com", "https://acme.my.salesforce.com"],
        },
        "flow": {
            "enum": ["password", "client_credentials", "jwt_bearer"],
            "default": "password",
            "description": "password: username, password (+security_token), client_id, client_secret. "
            "client_credentials: client_id, client_secret. jwt_bearer: username, client_id, private_key. "
            "A web server flow connection is made with POST /api/v1/connections/authorize instead.",
        },
        "username": STRING,
        "password": STRING,
        "security_token": STRING,
        "client_id": STRING,
        "client_secret": STRING,
        "private_key": {
            "type": "string",
            "description": "The connected app's RSA private key, PEM, unencrypted",
        },
        "api_version": {"type": "string", "examples": ["61.0"]},
    },
}
AUTHORIZE_REQUEST = {
    "type": "object",
    "required": ["name", "login_url", "client_id"],
    "properties": {
        "name": STRING,
        "login_url": CONNECTION["properties"]["login_url"],  # type: ignore[index]
        "client_id": STRING,
        "client_secret": {
            "type": "string",
            "description": "Only if the connected app requires a secret for the web server flow (PKCE is used either way)",
        },
        "username": {"type": "string", "description": "Sent as login_hint"},
        "api_version": {"type": "string", "examples": ["61.0"]},
    },
}
SUGGEST_REQUEST = {
    "type": "object",
    "required": ["upload_id", "object"],
    "properties": {
        "upload_id": STRING,
        "object": {"type": "string", "examples": ["Account"]},
        "operation": {"enum": ["insert", "update", "upsert", "delete", "hardDelete"], "default": "insert"},
        "external_id": STRING,
        "connection_id": STRING,
        "read_options": READ_OPTIONS,
    },
}
RETRY_REQUEST = {
    "type": "object",
    "description": "Leave out to retry the failed rows from the original file",
    "properties": {"upload_id": STRING, "read_options": READ_OPTIONS},
}
TEMPLATE_REQUEST = {
    "type": "object",
    "properties": {"mapping": {"type": "object", "description": "A mapping spec with a `fields` list"}},
}
ECHO_REQUEST = {"type": "object", "properties": {"message": {"type": "string", "maxLength": 1000}}}
PREVIEW_QUERY: dict[str, dict[str, Any]] = {
    "format": FORMAT,
    "encoding": {"type": "string", "maxLength": 100},
    "delimiter": {"type": "string", "maxLength": 100},
    "sheet": {"type": "string", "maxLength": 100, "description": "A sheet name or a 0-based index"},
}
CONNECTION_QUERY = {"connection_id": {"type": "string", "default": "default"}}
CSV = {
    "type": "string",
    "description": "UTF-8 CSV with a BOM; cells that start like a formula are prefixed with '",
}

ROLE = {"enum": ["viewer", "operator", "admin"]}
SIGN_IN = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": STRING, "password": STRING},
}
TOKEN_REQUEST = {"type": "object", "required": ["name"], "properties": {"name": STRING, "role": ROLE}}
USER_REQUEST = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": STRING, "password": {"type": "string", "minLength": 12}, "role": ROLE},
}
USER_CHANGE = {
    "type": "object",
    "properties": {
        "role": ROLE,
        "active": {"type": "boolean"},
        "password": {"type": "string", "minLength": 12},
    },
}

PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/uploads": {
        "post": {
            **_op("Upload a file inline (multipart field `file`, at most 10 MB)", "uploads", ok="201"),
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                }
            },
        }
    },
    "/api/v1/uploads/presign": {
        "post": _op(
            "Ask where to send a large file (S3 presigned POST or the local equivalent)",
            "uploads",
            ok="201",
            body={
                "type": "object",
                "required": ["filename", "size"],
                "properties": {"filename": {"type": "string"}, "size": {"type": "integer"}},
            },
        )
    },
    "/api/v1/uploads/{upload_id}/content": {
        "post": {
            **_op("Local stand-in for S3's presigned POST", "uploads", ok="204", params=["upload_id"]),
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"token": STRING, "file": {"type": "string", "format": "binary"}},
                        }
                    }
                }
            },
        }
    },
    "/api/v1/uploads/{upload_id}/complete": {
        "post": _op(
            "Confirm a presigned upload arrived, with the single-use token presign gave",
            "uploads",
            params=["upload_id"],
            body={"type": "object", "required": ["token"], "properties": {"token": STRING}},
        )
    },
    "/api/v1/uploads/{upload_id}": {"get": _op("The upload record", "uploads", params=["upload_id"])},
    "/api/v1/uploads/{upload_id}/preview": {
        "get": _op(
            "Columns, inferred types, sample rows, detected format/encoding/delimiter",
            "uploads",
            params=["upload_id"],
            query=PREVIEW_QUERY,
        )
    },
    "/api/v1/connections": {
        "get": _op("Salesforce connections (no secrets)", "orgs"),
        "post": _op("Store a connection (secrets encrypted at rest)", "orgs", ok="201", body=CONNECTION),
    },
    "/api/v1/connections/authorize": {
        "post": _op(
            "Start connecting an org by the OAuth web server flow with PKCE: open the answered authorize_url in "
            "a browser signed in to DMS; the org sends it back to /connections/callback, which stores the "
            "connection (its refresh token encrypted)",
            "orgs",
            ok="201",
            body=AUTHORIZE_REQUEST,
        )
    },
    "/api/v1/connections/{connection_id}": {
        "delete": _op("Delete a connection", "orgs", ok="204", params=["connection_id"])
    },
    "/api/v1/connections/{connection_id}/test": {
        "post": _op("Log in and read the org's limits", "orgs", params=["connection_id"])
    },
    "/api/v1/objects": {
        "get": _op("Objects a migration can write (describe global, cached)", "orgs", query=CONNECTION_QUERY)
    },
    "/api/v1/objects/{object_name}": {
        "get": _op(
            "An object's fields (describe, cached)", "orgs", params=["object_name"], query=CONNECTION_QUERY
        )
    },
    "/api/v1/mappings/suggest": {
        "post": _op(
            "An auto-mapped spec for an upload and a target, with its problems",
            "mappings",
            body=SUGGEST_REQUEST,
        )
    },
    "/api/v1/templates": {"get": _op("Saved mapping templates", "mappings", query={"object": STRING})},
    "/api/v1/templates/{object_name}/{name}": {
        "get": _op("A mapping template", "mappings", params=["object_name", "name"]),
        "put": _op(
            "Save a mapping template", "mappings", params=["object_name", "name"], body=TEMPLATE_REQUEST
        ),
        "delete": _op("Delete a mapping template", "mappings", ok="204", params=["object_name", "name"]),
    },
    "/api/v1/jobs": {
        "get": _op("Recent jobs", "jobs", query={"limit": {"type": "integer", "minimum": 1, "maximum": 500}}),
        "post": _op(
            "Create a job (or a rehearsal with dry_run)", "jobs", ok="201", body=JOB_REQUEST, response=JOB
        ),
    },
    "/api/v1/jobs/{job_id}": {
        "get": _op(
            "A job with progress, counters and API calls spent", "jobs", params=["job_id"], response=JOB
        )
    },
    "/api/v1/jobs/{job_id}/chunks": {"get": _op("Per-chunk progress", "jobs", params=["job_id"])},
    "/api/v1/jobs/{job_id}/cancel": {
        "post": _op(
            "Cancel: pending chunks stop, Salesforce bulk jobs are aborted",
            "jobs",
            params=["job_id"],
            response=JOB,
        )
    },
    "/api/v1/jobs/{job_id}/retry": {
        "post": _op(
            "Retry the failed rows as a new job (optionally from a corrected upload)",
            "jobs",
            ok="201",
            params=["job_id"],
            body=RETRY_REQUEST,
            body_required=False,
            response=JOB,
        )
    },
    "/api/v1/jobs/{job_id}/results/{kind}": {
        "get": _op(
            "success.csv, errors.csv or unsent.csv (rows a cancel kept from being sent), row-accurate to the source",
            "jobs",
            params=["job_id", "kind"],
            response=CSV,
            content="text/csv",
        )
    },
    "/api/v1/tasks/{task_id}": {"get": _op("A Celery task's state and result", "tasks", params=["task_id"])},
    "/api/v1/diagnostics/echo": {
        "post": _op(
            "A round trip through SQS and a worker", "tasks", ok="202", body=ECHO_REQUEST, body_required=False
        )
    },
    "/api/v1/openapi.json": {"get": _op("This document", "meta")},
    "/api/v1/session": {
        "post": {
            **_op("Sign in: a session cookie and its CSRF token", "accounts", ok="201", body=SIGN_IN),
            "security": [],
        },
        "get": _op("Who is calling (and a session's CSRF token)", "accounts"),
        "delete": _op("Sign out", "accounts", ok="204"),
    },
    "/api/v1/tokens": {
        "get": _op("Your API tokens (never their secrets)", "accounts", query={"all": STRING}),
        "post": _op("A new API token, shown once", "accounts", ok="201", body=TOKEN_REQUEST),
    },
    "/api/v1/tokens/{token_id}": {"delete": _op("Revoke a token", "accounts", params=["token_id"])},
    "/api/v1/users": {
        "get": _op("People who sign in (admins)", "accounts"),
        "post": _op("Add a person (admins)", "accounts", ok="201", body=USER_REQUEST),
    },
    "/api/v1/users/{user_id}": {
        "patch": _op(
            "Change a person's role, password or active flag (admins)",
            "accounts",
            params=["user_id"],
            body=USER_CHANGE,
        )
    },
    "/api/v1/audit": {
        "get": _op(
            "The audit log, newest first (admins)",
            "accounts",
            query={"limit": {"type": "integer", "minimum": 1, "maximum": 1000}, "action": STRING},
        )
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "DMS API",
        "version": "1",
        "description": "Legacy exports into Salesforce: upload, preview, map, rehearse, load, results.",
    },
    "paths": PATHS,
    # Every operation needs an API token or a browser session, except signing in.
    "security": [{"bearerToken": []}, {"sessionCookie": []}],
    "components": {
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer", "description": "An API token (dms_...)"},
            "sessionCookie": {
                "type": "apiKey",
                "in": "cookie",
                "name": "dms_session",
                "description": "A browser session; state-changing requests also send X-CSRF-Token",
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "where": {"type": "object"},
                        },
                    }
                },
            }
        },
    },
}


@api.get("/openapi.json")
def openapi_document() -> Any:
    """The API's OpenAPI document."""
    return jsonify(DOCUMENT)

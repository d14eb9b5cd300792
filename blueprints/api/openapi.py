"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json (a test keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from blueprints.api import api
from blueprints.api.plans import MAX_LISTED_PLANS
from dms.migration.passes import PassKind
from dms.migration.run import PassState
from dms.migration.spec import MAX_STEPS, STEP_NAME, STEP_OPERATIONS
from dms.migration.states import PlanState
from dms.migration.view import STEP_FILES
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
    required_query: tuple[str, ...] = (),
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
    parameters += [
        {
            "name": name,
            "in": "query",
            "schema": schema,
            **({"required": True} if name in required_query else {}),
        }
        for name, schema in (query or {}).items()
    ]
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
COUNT = {"type": "integer", "minimum": 0}
JOB_COUNTERS = {
    "type": "object",
    "description": "Rows of the source: total = succeeded + failed + invalid + cancelled + skipped + pending",
    "properties": {
        "total": COUNT,
        "succeeded": {**COUNT, "description": "Loaded: created + updated"},
        "created": COUNT,
        "updated": COUNT,
        "failed": {**COUNT, "description": "Refused by Salesforce"},
        "invalid": {**COUNT, "description": "Stopped by DMS's checks before any API call"},
        "cancelled": COUNT,
        "skipped": {
            **COUNT,
            "description": "Rows a migration plan's pass had nothing to do for: a load pass, rows an earlier "
            "attempt loaded; an update pass, rows whose record is not loaded, whose deferred fields are blank, or "
            "that an earlier update pass set",
        },
        "pending": COUNT,
        "valid": {**COUNT, "description": "A rehearsal (dry_run): rows that would load"},
    },
}
JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "state": {"enum": list(JobState)},
        "counters": JOB_COUNTERS,
        "percent": {"type": "number"},
        "api_calls": {"type": "object"},
        "estimated_api_calls": {"type": ["integer", "null"]},
        "error": {"type": ["object", "null"]},
        "throughput": {
            "type": "object",
            "description": "The load's pace, from its chunks' settle times",
            "properties": {
                "rows_per_second": {
                    "type": ["number", "null"],
                    "description": "Over the latest settles; null until it is known",
                },
                "eta_seconds": {
                    "type": ["integer", "null"],
                    "description": "Left at that pace; 0 once final",
                },
                "as_of": {"type": ["string", "null"], "description": "The latest settle's time"},
                "series": {
                    "type": "array",
                    "description": "GET /jobs/{job_id} only: rows settled by each time (at most 60 points)",
                    "items": {"type": "object", "properties": {"at": STRING, "rows": COUNT}},
                },
            },
        },
        "migration": {
            "type": ["object", "null"],
            "description": "The pass of a migration plan's step this job is, or null for a job of its own",
            "properties": {
                "plan_id": STRING,
                "step": STRING,
                "pass": {"enum": [PassKind.LOAD, PassKind.UPDATE]},
                "attempt": {"type": "integer", "minimum": 1},
            },
        },
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
FIELD_RULE = {
    "type": "object",
    "required": ["target"],
    "description": "One entry of a mapping's fields (dms/pipeline/prepare/spec.py): target; one of source, "
    "concat (+ separator) or constant; default; transforms (trim, upper, lower, title, map, replace, "
    "regex_replace, split, truncate, date, datetime, number, boolean); format; decimal and thousands; "
    "true_values and false_values; timezone",
    "properties": {
        "target": {"type": "string", "examples": ["Level__c"]},
        "source": STRING,
        "concat": {"type": "array", "items": STRING},
        "separator": STRING,
        "constant": {"type": ["string", "number", "boolean", "null"]},
        "default": {"type": ["string", "number", "boolean", "null"]},
        "transforms": {
            "type": "array",
            "items": {"type": "object", "required": ["op"], "properties": {"op": STRING}},
            "examples": [[{"op": "map", "values": {"G": "Gold", "S": "Silver"}, "else": "error"}]],
        },
        "format": {"type": "string", "examples": ["%d/%m/%Y", "dd.MM.yyyy"]},
        "decimal": {"enum": [".", ","]},
        "thousands": {"type": ["string", "null"]},
        "true_values": {"type": "array", "items": STRING, "examples": [["J", "Ja"]]},
        "false_values": {"type": "array", "items": STRING, "examples": [["N", "Nein"]]},
        "timezone": STRING,
    },
}
MAPPING_PREVIEW_REQUEST = {
    "type": "object",
    "required": ["upload_id", "object"],
    "description": "Give a whole `mapping`, or one `field` rule; with neither, the auto-mapped spec is sampled",
    "properties": {
        **SUGGEST_REQUEST["properties"],  # type: ignore[dict-item]
        "mapping": {
            "type": "object",
            "description": "A mapping spec; its object and operation are the request's",
        },
        "field": FIELD_RULE,
        "rows": {"type": "integer", "minimum": 1, "maximum": 200, "default": 20},
    },
}
SAMPLE_CELL = {
    "type": "object",
    "required": ["value", "errors"],
    "properties": {
        "value": {
            "type": ["string", "null"],
            "description": "As it would be sent (Bulk API text); null if invalid",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": STRING, "message": STRING},
            },
        },
    },
}
MAPPING_PREVIEW = {
    "type": "object",
    "required": ["object", "operation", "columns", "fields", "rows", "problems"],
    "properties": {
        "object": STRING,
        "operation": STRING,
        "columns": {"type": "array", "items": STRING, "description": "The source columns the rules read"},
        "fields": {
            "type": "array",
            "description": "Each rule sampled (a rule whose entry has an error is not: see problems)",
            "items": {
                "type": "object",
                "properties": {
                    "target": STRING,
                    "source": {"type": ["string", "null"], "description": "Its column(s): a+b for a concat"},
                    "rule": {
                        "type": "object",
                        "description": "The entry as applied (inferred formats filled in)",
                    },
                    "valid": COUNT,
                    "invalid": COUNT,
                },
            },
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer", "description": "The row's number in the file"},
                    "values": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                    "fields": {"type": "object", "additionalProperties": SAMPLE_CELL},
                },
            },
        },
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"severity": {"enum": ["error", "warning"]}, "code": STRING, "message": STRING},
            },
        },
    },
}
RETRY_REQUEST = {
    "type": "object",
    "description": "Leave out to retry the failed rows from the original file; `upload_id` retries from a "
    "corrected file; `rows` retries only those rows with the values given (the others as they were)",
    "properties": {
        "upload_id": STRING,
        "read_options": READ_OPTIONS,
        "rows": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5000,
            "description": "Rows of the job that were invalid or failed (`row` as GET /jobs/{job_id}/rows gives "
            "it), each with the columns it changes; any other row is a 422 ROW_NOT_RETRYABLE",
            "items": {
                "type": "object",
                "required": ["row", "values"],
                "properties": {
                    "row": {"type": "integer", "minimum": 1},
                    "values": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                },
            },
        },
    },
}
PROBLEM = {
    "type": "object",
    "properties": {
        "stage": {"enum": ["read", "validation", "salesforce"]},
        "code": STRING,
        "message": STRING,
        "field": {"type": ["string", "null"], "description": "The target field (a read problem: the column)"},
        "column": {"type": ["string", "null"], "description": "The file's column it concerns, when known"},
        "value": {"type": ["string", "null"], "description": "That column's value in the row"},
    },
}
ROW_NUMBERS = {
    "row": {"type": "integer", "description": "The row in the job's source (what a retry of `rows` names)"},
    "source_row": {
        "type": "integer",
        "description": "The row in the file first uploaded (differs from `row` for a retry's job)",
    },
}
ERROR_SUMMARY = {
    "type": "object",
    "required": ["job_id", "groups"],
    "properties": {
        "job_id": STRING,
        "invalid": COUNT,
        "failed": COUNT,
        "rows": {**COUNT, "description": "Rows with at least one problem"},
        "problems": COUNT,
        "groups_capped": {"type": "boolean", "description": "More than 200 groups: the rest are not listed"},
        "groups": {
            "type": "array",
            "description": "Largest first",
            "items": {
                "type": "object",
                "properties": {
                    "outcome": {"enum": ["invalid", "failed"]},
                    "stage": {"enum": ["read", "validation", "salesforce"]},
                    "code": STRING,
                    "field": {"type": ["string", "null"]},
                    "column": {"type": ["string", "null"]},
                    "count": COUNT,
                    "advice": {**STRING, "description": "What to do, in one sentence"},
                    "examples": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                **ROW_NUMBERS,
                                "column": {"type": ["string", "null"]},
                                "value": {"type": ["string", "null"]},
                                "message": STRING,
                            },
                        },
                    },
                },
            },
        },
    },
}
PROBLEM_ROWS = {
    "type": "object",
    "required": ["job_id", "outcome", "rows", "columns"],
    "properties": {
        "job_id": STRING,
        "outcome": {"enum": ["invalid", "failed"]},
        "total": {**COUNT, "description": "The job's counter of that outcome"},
        "offset": COUNT,
        "limit": COUNT,
        "next_offset": {"type": ["integer", "null"], "description": "null when no row follows"},
        "columns": {"type": "array", "items": STRING, "description": "The file's columns, in its order"},
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    **ROW_NUMBERS,
                    "outcome": {"enum": ["invalid", "failed"]},
                    "values": {"type": "object", "additionalProperties": STRING},
                    "errors": {"type": "array", "items": PROBLEM},
                },
            },
        },
    },
}
DRAFT = {
    "type": "object",
    "description": "The new-load wizard's state so far (each key null until its step is reached)",
    "properties": {
        "id": STRING,
        "upload_id": {"type": ["string", "null"]},
        "read_options": {"type": ["object", "null"], "description": "format, encoding, delimiter, sheet"},
        "connection_id": {"type": ["string", "null"]},
        "object": {"type": ["string", "null"]},
        "operation": {"type": ["string", "null"]},
        "external_id": {"type": ["string", "null"]},
        "mapping": {"type": ["object", "null"], "description": "The mapping spec being edited"},
        "rehearsal_job_id": {"type": ["string", "null"]},
        "load_job_id": {"type": ["string", "null"]},
        "step": {"type": ["string", "null"], "description": "The step the wizard was last on"},
        "outdated": {"type": "array", "items": STRING, "description": "Steps an earlier change made stale"},
        "created_at": STRING,
        "updated_at": STRING,
    },
}
TEMPLATE_REQUEST = {
    "type": "object",
    "properties": {"mapping": {"type": "object", "description": "A mapping spec with a `fields` list"}},
}
# ---- migration plans (dms/migration/) -----------------------------------------------------------------

PLAN = {"$ref": "#/components/schemas/Plan"}
PLAN_REFERENCE = {
    "description": "The field gets the Id of the record another step loaded from the row whose key column "
    "holds this field's source value: one step, or (polymorphic) the step a column's value picks per row",
    "oneOf": [
        {
            "type": "object",
            "required": ["step"],
            "additionalProperties": False,
            "properties": {
                "step": {**STRING, "description": "The referenced step (this step itself for a hierarchy)"},
                "key": {**STRING, "description": "The referenced step's key column, when not its `key`"},
            },
        },
        {
            "type": "object",
            "required": ["by", "steps"],
            "additionalProperties": False,
            "properties": {
                "by": {**STRING, "description": "The source column whose value picks the step"},
                "steps": {
                    "type": "object",
                    "additionalProperties": {
                        "oneOf": [
                            STRING,
                            {
                                "type": "object",
                                "required": ["object"],
                                "additionalProperties": False,
                                "properties": {"object": STRING},
                            },
                        ]
                    },
                    "description": 'Each value of `by` and the step it points at, or {"object": "Lead"}: the '
                    "value is then the Id of a record of that object the plan does not load",
                    "examples": [{"A": "accounts", "O": "deals"}],
                },
                "key": {**STRING, "description": "The referenced steps' key column, when not their `key`"},
            },
        },
    ],
}
PLAN_SPEC = {
    "type": "object",
    "required": ["name", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": STRING,
        "connection_id": {"type": "string", "default": "default"},
        "options": JOB_REQUEST["properties"]["options"],  # type: ignore[index]
        "steps": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_STEPS,
            "description": "Run in the order their references need, whatever their order here",
            "items": {
                "type": "object",
                "required": ["name", "object", "source"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": f"^{STEP_NAME.pattern}$", "examples": ["accounts"]},
                    "object": {"type": "string", "examples": ["Account"]},
                    "operation": {"enum": [str(o) for o in STEP_OPERATIONS], "default": "insert"},
                    "key": {
                        **STRING,
                        "description": "The source column of the step's legacy key, which other steps' "
                        "references hold",
                    },
                    "external_id": {
                        "type": "string",
                        "description": "External id field, required for upsert",
                    },
                    "source": {
                        "type": "object",
                        "required": ["upload_id"],
                        "description": "An upload (a plan file given to `dms plan run` may name a `file` "
                        "instead, which the CLI uploads)",
                        "properties": {
                            "upload_id": STRING,
                            "sheet": {**STRING, "description": "A workbook's sheet"},
                            "member": {**STRING, "description": "An archive's member file"},
                        },
                    },
                    "mapping": {
                        "type": "object",
                        "description": "A mapping spec (dms/pipeline/prepare/spec.py) whose fields may be references",
                        "properties": {
                            "fields": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["target"],
                                    "properties": {
                                        "target": {"type": "string", "examples": ["ParentId"]},
                                        "source": STRING,
                                        "ref": PLAN_REFERENCE,
                                    },
                                },
                            }
                        },
                    },
                    "read_options": READ_OPTIONS,
                },
            },
        },
    },
}
PLAN_REQUEST = {
    "type": "object",
    "description": "The plan as an object (`plan`) or as its YAML or JSON text (`plan_text`)",
    "oneOf": [{"required": ["plan"]}, {"required": ["plan_text"]}],
    "properties": {
        "plan": {"$ref": "#/components/schemas/PlanSpec"},
        "plan_text": {"type": "string", "description": "The plan spec as YAML or JSON"},
        "files": {
            "type": "object",
            "additionalProperties": STRING,
            "description": "File name to upload_id: each step's `source.file` (its name, without folders) "
            "becomes the upload named here, as `dms plan run` uploads the files beside a plan; a file "
            "named by a step but missing here is a 400 INVALID_PLAN naming the step",
            "examples": [{"accounts.csv": "up-...", "contacts.csv": "up-..."}],
        },
        "dry_run": {
            "type": "boolean",
            "default": False,
            "description": "Rehearse every step: check everything, missing parents across files too; load nothing",
        },
    },
}
DEFERRED_FIELD = {
    "type": "object",
    "description": "A reference set by the step's update pass, once the records it points at are loaded",
    "properties": {"step": STRING, "field": STRING, "source": STRING, "reason": STRING},
}
DUPLICATES = {
    "type": "object",
    "description": "Legacy keys given by more than one row of the step (a reference to one cannot resolve)",
    "properties": {
        "count": COUNT,
        "examples": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"key": STRING, "rows": {"type": "array", "items": {"type": "integer"}}},
            },
        },
    },
}
PLAN_ERROR = {
    "type": ["object", "null"],
    "description": "Why the plan failed: a pass's job failed, or its key maps could not be built",
    "properties": {"code": STRING, "message": STRING, "step": STRING, "pass": STRING, "job_id": STRING},
}
PLAN_STEP = {
    "type": "object",
    "properties": {
        "name": STRING,
        "object": STRING,
        "operation": {"enum": [str(o) for o in STEP_OPERATIONS]},
        "key": {"type": ["string", "null"]},
        "state": {"enum": ["waiting", "running", "done", "not_run"]},
        "waits_for": {"type": "array", "items": STRING, "description": "Steps it loads after"},
        "deferred": {"type": "array", "items": DEFERRED_FIELD},
        "counters": {
            "type": "object",
            "description": "loaded: by any attempt's load pass; failed, invalid, cancelled, pending: as the "
            "latest load pass left them (the rows still not in the org); deferred_set, deferred_not_set: rows "
            "whose deferred fields the update passes set, or could not (only for a step with deferred fields)",
            "properties": {
                name: COUNT
                for name in (
                    "total",
                    "loaded",
                    "valid",
                    "failed",
                    "invalid",
                    "cancelled",
                    "pending",
                    "deferred_set",
                    "deferred_not_set",
                )
            },
        },
        "duplicates": DUPLICATES,
        "passes": {
            "type": "array",
            "description": "Each pass of the step in each attempt: an ordinary job",
            "items": {
                "type": "object",
                "properties": {
                    "kind": {"enum": [PassKind.LOAD, PassKind.UPDATE]},
                    "attempt": {"type": "integer", "minimum": 1},
                    "state": {"enum": list(PassState)},
                    "job_id": {"type": ["string", "null"]},
                    "job_state": {"enum": [*JobState, None]},
                    "counters": {**JOB_COUNTERS, "type": ["object", "null"]},
                    "reason": {"type": ["string", "null"], "description": "Why it was skipped or not run"},
                    "error": PLAN_ERROR,
                    "duplicates": {**DUPLICATES, "type": ["object", "null"]},
                },
            },
        },
        "links": {
            "type": "object",
            "description": "The step's result files (GET /plans/{plan_id}/steps/{step}/{name})",
            "properties": {name: STRING for name in STEP_FILES},
        },
    },
}
PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "id": STRING,
        "name": STRING,
        "state": {"enum": list(PlanState)},
        "dry_run": {"type": "boolean"},
        "attempt": {"type": "integer", "minimum": 1, "description": "1, and one more for each retry"},
        "created_at": STRING,
        "updated_at": {"type": ["string", "null"]},
        "finished_at": {"type": ["string", "null"]},
        "error": PLAN_ERROR,
        "waves": {
            "type": "array",
            "description": "The load order: the steps of a wave load side by side, after the waves before",
            "items": {"type": "array", "items": STRING},
            "examples": [[["accounts"], ["contacts", "deals"]]],
        },
        "deferred": {"type": "array", "items": DEFERRED_FIELD},
        "steps": {"type": "array", "items": {"$ref": "#/components/schemas/PlanStep"}},
        "counters": {"type": "object", "description": "The steps' counters added up"},
        "estimated_api_calls": COUNT,
        "api_calls": COUNT,
        "links": {
            "type": "object",
            "description": "Not in a list of plans",
            "properties": {"self": STRING, "results": STRING, "cancel": STRING, "retry": STRING},
        },
    },
}
ECHO_REQUEST = {"type": "object", "properties": {"message": {"type": "string", "maxLength": 1000}}}
PREVIEW_QUERY: dict[str, dict[str, Any]] = {
    "format": FORMAT,
    "encoding": {"type": "string", "maxLength": 100},
    "delimiter": {"type": "string", "maxLength": 100},
    "sheet": {"type": "string", "maxLength": 100, "description": "A sheet name or a 0-based index"},
}
COLUMN_VALUES = {
    "type": "object",
    "required": ["upload_id", "column", "values", "complete", "capped", "truncated"],
    "properties": {
        "upload_id": STRING,
        "column": STRING,
        "rows_read": {**COUNT, "description": "Rows read (all of them unless `complete` is false)"},
        "complete": {"type": "boolean", "description": "False when the scan stopped at its row limit"},
        "blank": {**COUNT, "description": "Rows whose cell is empty"},
        "distinct": {**COUNT, "description": "Distinct non-blank values counted"},
        "capped": {
            "type": "boolean",
            "description": "True when the column has more distinct values than are counted (10,000): "
            "`untracked_rows` rows hold values first seen past that",
        },
        "untracked_rows": COUNT,
        "truncated": {"type": "boolean", "description": "More distinct values than listed (raise `limit`)"},
        "values": {
            "type": "array",
            "description": "Most common first; each value is the cell's text as a map transform sees it",
            "items": {
                "type": "object",
                "required": ["value", "count"],
                "properties": {
                    "value": STRING,
                    "count": COUNT,
                    "length": {**COUNT, "description": "Only for a value cut short for display"},
                },
            },
        },
    },
}
CONNECTION_QUERY = {"connection_id": {"type": "string", "default": "default"}}
LIST_QUERY: dict[str, dict[str, Any]] = {
    "owner": {"type": "string", "description": "A user's id (admins only; anyone else sees their own)"},
    "since": {
        "type": "string",
        "format": "date-time",
        "description": "Created at or after: ISO 8601 date or date and time (UTC unless it says)",
    },
    "until": {
        "type": "string",
        "format": "date-time",
        "description": "Created at or before (a date alone: that whole day)",
    },
    "cursor": {"type": "string", "maxLength": 200, "description": "next_cursor of the page before"},
}
NEXT_CURSOR = {
    "type": ["string", "null"],
    "description": "Pass as `cursor` for the next page; null when nothing follows (a page may hold fewer "
    "than `limit` and still have a next one: a page reads at most 2,000 documents)",
}
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
    "/api/v1/uploads/{upload_id}/columns/{column}/values": {
        "get": _op(
            "A column's distinct values with the rows holding each, over the whole file read with these read "
            "options (for value maps: legacy codes against picklist values or boolean tokens)",
            "uploads",
            params=["upload_id", "column"],
            query={
                **PREVIEW_QUERY,
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            },
            response=COLUMN_VALUES,
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
        "post": _op(
            "Log in and read the org's limits: answers ok, instance_url and daily_api_requests (Max, "
            "Remaining: Salesforce's DailyApiRequests); the outcome is kept as the connection's last_test "
            "(at, ok, daily_api_requests, or code and message), listed by GET /api/v1/connections",
            "orgs",
            params=["connection_id"],
        )
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
    "/api/v1/mappings/preview": {
        "post": _op(
            "A live sample: the first rows' source values beside what the mapping (or one field rule) makes of "
            "them and each cell's errors, by the pipeline's own prepare (no lookups in the org)",
            "mappings",
            body=MAPPING_PREVIEW_REQUEST,
            response=MAPPING_PREVIEW,
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
    "/api/v1/drafts": {
        "post": _op(
            "Start a wizard draft", "mappings", ok="201", body=DRAFT, body_required=False, response=DRAFT
        )
    },
    "/api/v1/drafts/{draft_id}": {
        "get": _op("A wizard draft of the caller's", "mappings", params=["draft_id"], response=DRAFT),
        "put": _op(
            "Change a wizard draft (the keys given)",
            "mappings",
            params=["draft_id"],
            body=DRAFT,
            response=DRAFT,
        ),
    },
    "/api/v1/jobs": {
        "get": _op(
            "The newest jobs, newest first, filtered, a page at a time (follow next_cursor)",
            "jobs",
            query={
                **LIST_QUERY,
                "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                "state": {"enum": list(JobState)},
                "object": {"type": "string", "maxLength": 100, "description": "Case-insensitive"},
                "dry_run": {"enum": ["true", "false"], "description": "Rehearsals only, or loads only"},
            },
            response={
                "type": "object",
                "required": ["jobs", "next_cursor"],
                "properties": {"jobs": {"type": "array", "items": JOB}, "next_cursor": NEXT_CURSOR},
            },
        ),
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
    "/api/v1/jobs/{job_id}/errors/summary": {
        "get": _op(
            "The job's invalid and failed rows grouped by stage, error code and field: counts, example rows and "
            "what to do",
            "jobs",
            params=["job_id"],
            query={"examples": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}},
            response=ERROR_SUMMARY,
        )
    },
    "/api/v1/jobs/{job_id}/rows": {
        "get": _op(
            "A page of the job's invalid or failed rows: values by column, each error beside its column",
            "jobs",
            params=["job_id"],
            query={
                "outcome": {"enum": ["invalid", "failed"]},
                "offset": {"type": "integer", "minimum": 0, "maximum": 999999999999, "default": 0},
                "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
            },
            required_query=("outcome",),
            response=PROBLEM_ROWS,
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
    "/api/v1/plans": {
        "get": _op(
            "The newest migration plans, newest first, filtered, a page at a time (follow next_cursor)",
            "plans",
            query={
                **LIST_QUERY,
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LISTED_PLANS, "default": 50},
                "state": {"enum": list(PlanState)},
            },
            response={
                "type": "object",
                "required": ["plans", "next_cursor"],
                "properties": {"plans": {"type": "array", "items": PLAN}, "next_cursor": NEXT_CURSOR},
            },
        ),
        "post": _op(
            "Run a migration plan over uploads already made (or rehearse it with dry_run)",
            "plans",
            ok="201",
            body=PLAN_REQUEST,
            response=PLAN,
        ),
    },
    "/api/v1/plans/skeleton": {
        "post": _op(
            "A draft plan from a workbook (a sheet per object) or a zip (a CSV per object): objects matched by "
            "name, columns auto-mapped, keys and references guessed from column names, and notes on what to fix",
            "plans",
            body={
                "type": "object",
                "required": ["upload_id"],
                "properties": {"upload_id": STRING, "connection_id": STRING},
            },
            response={
                "type": "object",
                "properties": {"plan": PLAN_SPEC, "notes": {"type": "array", "items": STRING}},
            },
        )
    },
    "/api/v1/plans/{plan_id}": {
        "get": _op(
            "A plan's state, order, and per step its passes, counters and result links",
            "plans",
            params=["plan_id"],
            response=PLAN,
        )
    },
    "/api/v1/plans/{plan_id}/cancel": {
        "post": _op(
            "Cancel: no pass starts any more, the running ones are cancelled as jobs are",
            "plans",
            params=["plan_id"],
            response=PLAN,
        )
    },
    "/api/v1/plans/{plan_id}/retry": {
        "post": _op(
            "Run an ended plan again for the rows it left undone, then what waited for them",
            "plans",
            params=["plan_id"],
            response=PLAN,
        )
    },
    "/api/v1/plans/{plan_id}/results": {
        "get": _op(
            "A zip: summary.json (the plan) and per step <step>/success.csv, <step>/errors.csv and, for a step "
            "with deferred fields, <step>/deferred_errors.csv",
            "plans",
            params=["plan_id"],
            response={"type": "string", "format": "binary"},
            content="application/zip",
        )
    },
    "/api/v1/plans/{plan_id}/steps/{step}/{name}": {
        "get": _op(
            "One step's success.csv (rows any attempt loaded), errors.csv (rows its latest load pass did not "
            "load) or deferred_errors.csv (rows whose deferred fields could not be set)",
            "plans",
            params=["plan_id", "step", "name"],
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
            },
            "Plan": PLAN_SCHEMA,
            "PlanStep": PLAN_STEP,
            "PlanSpec": PLAN_SPEC,
        },
    },
}


@api.get("/openapi.json")
def openapi_document() -> Any:
    """The API's OpenAPI document."""
    return jsonify(DOCUMENT)

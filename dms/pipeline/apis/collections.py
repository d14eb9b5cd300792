"""sObject Collections: update, upsert and delete in requests of 200 records, for chunks too small for Bulk.

Results come back in request order. Inserts never come here (see choose_api): a resend of these operations
is harmless, so a redelivered chunk simply sends its rows again.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pyarrow as pa

from dms.clients.salesforce import OrgClient, SalesforceRequestError
from dms.crashpoints import crash_point
from dms.pipeline import results as res
from dms.pipeline.apis.sender import COLLECTION_SIZE, LOCK_ERROR, LOCK_RETRIES, Record, lock_backoff
from dms.pipeline.context import JobContext
from dms.pipeline.model import ROW_COLUMN, Api, Operation

NUMBER_TYPES = ("double", "currency", "percent")


class CollectionsSender:
    """Loads a chunk through sObject Collections, resending records Salesforce could not lock."""

    api = Api.COLLECTIONS

    def __init__(self, ctx: JobContext, chunk: dict[str, Any], record: Record) -> None:
        self.ctx = ctx
        self.chunk = chunk
        self.record = record

    def send(self, table: pa.Table) -> res.ChunkResult:
        ctx = self.ctx
        obj, target = ctx.object_name, ctx.job["target"]
        self.record(api=Api.COLLECTIONS)
        rows = [int(r) for r in table.column(ROW_COLUMN).to_pylist()]
        body = table.drop_columns([ROW_COLUMN])
        names = body.column_names
        columns = [body.column(n).to_pylist() for n in names]
        kinds = {f["name"]: f["type"] for f in ctx.describe(obj).get("fields", [])}
        outcome = res.ChunkResult([], [])
        for start in range(0, len(rows), COLLECTION_SIZE):
            batch_rows = rows[start : start + COLLECTION_SIZE]
            records = [
                json_record(obj, names, [col[i] for col in columns], kinds)
                for i in range(start, start + len(batch_rows))
            ]
            answer = send_with_lock_retries(ctx.org, target, records)
            for row, item in zip(batch_rows, answer, strict=True):
                if item.get("success"):
                    outcome.succeeded.append((row, item.get("id") or "", bool(item.get("created", False))))
                else:
                    outcome.failed.append((row, *item_error(item)))
        return outcome


def send_with_lock_retries(
    org: OrgClient, target: dict[str, Any], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One request, then the records Salesforce could not lock again, a few times with backoff."""
    answer = send_collection(org, target, records)
    crash_point("after_collections_batch", target["operation"])
    for attempt in range(LOCK_RETRIES):
        locked = [
            i for i, item in enumerate(answer) if not item.get("success") and _status(item) == LOCK_ERROR
        ]
        if not locked:
            break
        time.sleep(lock_backoff(attempt))
        again = send_collection(org, target, [records[i] for i in locked])
        for i, item in zip(locked, again, strict=True):
            answer[i] = item
    return answer


def item_error(item: dict[str, Any]) -> tuple[str, str, str]:
    """(code, message, fields) of a failed Collections result."""
    errors = item.get("errors") or [{}]
    message = "; ".join(e.get("message", "") for e in errors)
    fields = ";".join(f for e in errors for f in e.get("fields", []) or [])
    return errors[0].get("statusCode", "UNKNOWN_ERROR"), message, fields


def send_collection(
    org: OrgClient, target: dict[str, Any], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One sObject Collections request (at most 200 records, allOrNone false); results in request order."""
    obj, operation = target["object"], target["operation"]
    if operation == Operation.DELETE:
        ids = ",".join(r.get("Id", "") for r in records)
        answer = org.rest("DELETE", f"composite/sobjects?ids={ids}&allOrNone=false")
    elif operation == Operation.UPSERT:
        path = f"composite/sobjects/{obj}/{target['external_id']}"
        answer = org.rest("PATCH", path, data=json.dumps({"allOrNone": False, "records": records}))
    else:
        answer = org.rest(
            "PATCH", "composite/sobjects", data=json.dumps({"allOrNone": False, "records": records})
        )
    if not isinstance(answer, list) or len(answer) != len(records):
        got = len(answer) if isinstance(answer, list) else "no list"
        raise SalesforceRequestError(f"Salesforce answered {got} results for {len(records)} records.")
    return [dict(item) for item in answer]


def _status(item: dict[str, Any]) -> str:
    errors = item.get("errors") or [{}]
    return str(errors[0].get("statusCode", ""))


def json_record(obj: str, names: list[str], values: list[Any], kinds: dict[str, str]) -> dict[str, Any]:
    """A Bulk-CSV-shaped row as REST JSON: `#N/A` is null, empty is left out, types as the describe says,
    and `Account.Legacy_Id__c` becomes {"Account": {"Legacy_Id__c": ...}}."""
    record: dict[str, Any] = {"attributes": {"type": obj}}
    for name, value in zip(names, values, strict=True):
        if value is None or value == "":
            continue
        if "." in name:
            relation, field = name.split(".", 1)
            record[relation] = {field: value}
        elif value == "#N/A":
            record[name] = None
        else:
            record[name] = json_value(value, kinds.get(name, "string"))
    return record


def json_value(text: str, kind: str) -> Any:
    """A Bulk CSV value as the JSON type of its field."""
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "int":
        return int(text)
    if kind in NUMBER_TYPES:
        return float(text)
    return text

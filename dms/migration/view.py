"""A plan as people and clients see it: per-step progress and counters, and its results, one step or all of them.

A step's success.csv holds the records every load pass of it loaded (a retry's pass adds the rows it loaded);
its errors.csv holds the rows its latest load pass could not load (those are the rows still not in the org,
whatever earlier passes said); deferred_errors.csv the rows whose deferred fields (ParentId...) could not be
set. The zip of a plan holds these per step and summary.json, the plan as GET /plans/<id> answers it.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

from dms.clients.blobstore import BlobStore
from dms.migration.passes import PassKind
from dms.migration.run import PASS_ENDED, PassState
from dms.migration.states import LEFTOVER_COUNTERS
from dms.pipeline import results as res
from dms.pipeline.exported import ERROR_COLUMNS, SUCCESS_COLUMNS
from dms.pipeline.jobstore import JobStore

STEP_FILES = ("success.csv", "errors.csv", "deferred_errors.csv")
PASS_FIELDS = ("kind", "attempt", "state", "job_id", "job_state", "counters", "reason", "error", "duplicates")


def plan_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The public view of a plan: state, order, and per step its passes and its counters."""
    order = doc["order"]
    steps = []
    for raw in doc["spec"]["steps"]:
        name = raw["name"]
        passes = sorted(
            (e for e in doc["passes"].values() if e["step"] == name),
            key=lambda e: (e["attempt"], e["kind"] != PassKind.LOAD),
        )
        steps.append(
            {
                "name": name,
                "object": raw.get("object"),
                "operation": raw.get("operation") or "insert",
                "key": raw.get("key"),
                "state": _step_state(passes),
                "waits_for": order["load_after"].get(name, []),
                "deferred": [d for d in order["deferred"] if d["step"] == name],
                "counters": step_counters(passes),
                "duplicates": _latest(passes, PassKind.LOAD).get("duplicates")
                or {"count": 0, "examples": []},
                "passes": [{k: e.get(k) for k in PASS_FIELDS} for e in passes],
            }
        )
    totals: dict[str, int] = {}
    for step in steps:
        for name, value in step["counters"].items():
            totals[name] = totals.get(name, 0) + value
    ran = [e for e in doc["passes"].values() if e.get("job_id")]
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "state": doc["state"],
        "dry_run": doc["dry_run"],
        "attempt": doc["attempt"],
        "created_at": doc["created_at"],
        "updated_at": doc.get("updated_at"),
        "finished_at": doc.get("finished_at"),
        "error": doc.get("error"),
        "waves": order["waves"],
        "deferred": order["deferred"],
        "steps": steps,
        "counters": totals,
        "estimated_api_calls": sum(int(e.get("estimated_api_calls") or 0) for e in ran),
        "api_calls": sum(sum(int(v) for v in (e.get("api_calls") or {}).values()) for e in ran),
    }


def _step_state(passes: list[dict[str, Any]]) -> str:
    states = {e["state"] for e in passes}
    if PassState.RUNNING in states:
        return "running"
    if states <= PASS_ENDED:
        return "not_run" if states == {PassState.NOT_RUN} else "done"
    return "running" if states & {PassState.DONE, PassState.SKIPPED} else "waiting"


def _latest(passes: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The latest pass of a kind that ran (its figures are the step's now), or {}."""
    ran = [e for e in passes if e["kind"] == kind and e["state"] == PassState.DONE]
    return ran[-1] if ran else {}


def step_counters(passes: list[dict[str, Any]]) -> dict[str, int]:
    """A step's rows: total in its source; loaded by any load pass; the rest as its latest load pass left
    them; and its deferred fields: set, or not."""
    loads = [e for e in passes if e["kind"] == PassKind.LOAD and e.get("counters")]
    first = loads[0]["counters"] if loads else {}
    latest = _latest(passes, PassKind.LOAD).get("counters") or (loads[-1]["counters"] if loads else {})
    counters = {
        "total": int(first.get("total", 0)),
        "loaded": sum(int(e["counters"].get("succeeded", 0)) for e in loads),
        "valid": sum(int(e["counters"].get("valid", 0)) for e in loads),  # a rehearsal: rows that would load
        **{name: int(latest.get(name, 0)) for name in LEFTOVER_COUNTERS},
    }
    updates = [e for e in passes if e["kind"] == PassKind.UPDATE and e.get("counters")]
    if updates:
        last_update = _latest(passes, PassKind.UPDATE).get("counters") or updates[-1]["counters"]
        counters["deferred_set"] = sum(int(e["counters"].get("succeeded", 0)) for e in updates)
        # A rehearsal sets nothing: the rows whose deferred fields it would set are its update pass's valid ones.
        counters["deferred_valid"] = sum(int(e["counters"].get("valid", 0)) for e in updates)
        counters["deferred_not_set"] = sum(int(last_update.get(n, 0)) for n in LEFTOVER_COUNTERS)
    return counters


# ---- results -------------------------------------------------------------------------------------------


def _jobs(store: JobStore, doc: Mapping[str, Any], step: str, kind: str) -> list[dict[str, Any]]:
    entries = sorted(
        (e for e in doc["passes"].values() if e["step"] == step and e["kind"] == kind and e.get("job_id")),
        key=lambda e: e["attempt"],
    )
    return [store.get(e["job_id"]) for e in entries if e["state"] == PassState.DONE]


def step_file(
    blobs: BlobStore, store: JobStore, doc: Mapping[str, Any], step: str, name: str
) -> Iterator[bytes]:
    """One result file of one step (see the module's docstring), streamed in source row order: a step
    regrouped by parent (grouping.py) has its rows in other chunks than file order puts them in, so the
    chunks' parts, each in row order, are merged by row (one line of each in memory)."""
    if name == "success.csv":
        jobs = _jobs(store, doc, step, PassKind.LOAD)
        columns = list((jobs[0].get("plan") or {}).get("columns", [])) if jobs else []
        keys = [
            res.part_key(job["_id"], index, "success")
            for job in jobs
            for index in (job.get("plan") or {}).get("chunk_indexes", [])
        ]
        parts = [_part_lines(blobs, key) for key in keys if blobs.exists(key)]
        return _csv(SUCCESS_COLUMNS + columns, heapq.merge(*parts, key=_row_of))
    kind = PassKind.LOAD if name == "errors.csv" else PassKind.UPDATE
    jobs = _jobs(store, doc, step, kind)
    if not jobs:
        return res.concatenate_csv(iter(()), [])
    job = jobs[-1]  # its errors are the rows still not loaded (or set): earlier passes' were retried
    plan = job.get("plan") or {}
    width = len(plan.get("columns", []))
    chunks = [
        res.error_lines(res.error_part_rows(blobs, job["_id"], index), width)
        for index in range(plan.get("reader_chunks", 0))
    ]
    merged = heapq.merge(*chunks, key=lambda line: int(line[width]))  # source_row follows the values
    return _csv(list(plan.get("columns", [])) + ERROR_COLUMNS, merged)


def _part_lines(blobs: BlobStore, key: str) -> Iterator[list[str]]:
    with blobs.open_read(key) as part:
        yield from csv.reader(io.TextIOWrapper(part, encoding="utf-8", newline=""))


def _row_of(line: list[str]) -> int:
    return int(line[0])


def _csv(header: list[str], lines: Iterator[list[str]]) -> Iterator[bytes]:
    """A CSV file as the jobs' result files are (a BOM, the header), its lines written a thousand at a time."""
    yield from res.concatenate_csv([], header)
    while batch := list(itertools.islice(lines, 1000)):
        text = io.StringIO()
        csv.writer(text).writerows(batch)
        yield text.getvalue().encode("utf-8")


class _Sink:
    """A write-only stream a zip is written into, handed out as it fills (zipfile needs no seeking)."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self.pieces = b"".join(self.pieces), []
        return data


def results_zip(blobs: BlobStore, store: JobStore, doc: Mapping[str, Any]) -> Iterator[bytes]:
    """Every step's result files and summary.json in one zip, streamed: one block of a file at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[call-overload]
        archive.writestr("summary.json", json.dumps(plan_view(doc), indent=2))
        yield sink.take()
        for raw in doc["spec"]["steps"]:
            for name in STEP_FILES:
                if name == "deferred_errors.csv" and not _jobs(store, doc, raw["name"], PassKind.UPDATE):
                    continue
                with archive.open(f"{raw['name']}/{name}", "w", force_zip64=True) as member:
                    for block in step_file(blobs, store, doc, raw["name"], name):
                        member.write(block)
                        yield sink.take()
    yield sink.take()

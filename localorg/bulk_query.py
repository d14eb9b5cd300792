"""Bulk API 2.0 query jobs: SOQL run in the background into a CSV file, served in pages by locator."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from localorg.bulk import DELIMITERS, LINE_ENDINGS, bulk_error
from localorg.errors import SalesforceError
from localorg.job_worker import JobWorker, job_timestamp
from localorg.schema import INTEGER_TYPES, NUMBER_TYPES
from localorg.soql import Column, CompiledQuery, compile_soql, tokenize
from localorg.store import Store, quote

log = logging.getLogger(__name__)

OPERATIONS = {"query": False, "queryAll": True}  # operation -> includes deleted records
TERMINAL_STATES = {"JobComplete", "Failed", "Aborted"}
JOB_LIST_PAGE = 1000
_FETCH_ROWS = 20_000
_COPY_BLOCK = 1024 * 1024
_OFFSET_BYTES = array("q").itemsize
_PRINTF_ARGS = 100
# Values of these types never hold a double quote, so their CSV field needs no escaping.
_UNQUOTABLE_TYPES = {"id", "reference", "date", "time", *INTEGER_TYPES, *NUMBER_TYPES}
_AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}


@dataclass
class QueryJob:
    """One Bulk API 2.0 query job and its counters."""

    id: str
    operation: str
    object: str
    query: str
    column_delimiter: str
    line_ending: str
    api_version: str
    created_by: str
    created_date: str
    system_modstamp: str
    state: str = "UploadComplete"
    processed: int = 0
    total_processing_ms: int = 0
    error_message: str | None = None
    abort_requested: bool = False

    def info(self, with_counters: bool = False, with_job_type: bool = False) -> dict[str, Any]:
        """The query job info Salesforce returns (create and abort answer without counters or jobType)."""
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
        }
        if with_job_type or with_counters:
            info["jobType"] = "V2Query"
        info["lineEnding"] = self.line_ending
        info["columnDelimiter"] = self.column_delimiter
        if with_counters:
            info.update(
                {
                    "numberRecordsProcessed": self.processed,
                    "retries": 0,
                    "totalProcessingTime": self.total_processing_ms,
                    "isPkChunkingSupported": True,
                }
            )
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info

    def to_record(self) -> str:
        """JSON kept in the database to survive restarts."""
        return json.dumps({k: v for k, v in self.__dict__.items() if k != "abort_requested"})


@dataclass
class ResultPage:
    """One set of query results: its record count, the locator of the next set ("null" if last), the CSV."""

    number_of_records: int
    next_locator: str
    body: Iterator[bytes]


def encode_locator(position: int) -> str:
    """The Sforce-Locator of the result set starting at this row (base64 of the row number, as Salesforce)."""
    return base64.b64encode(str(position).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int | None:
    """The row a locator points to, or None if it is not one of ours."""
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def check_bulk_query(soql: str) -> None:
    """Refuse what Bulk API 2.0 query does not support: GROUP BY, OFFSET, TYPEOF, aggregates, subqueries."""
    tokens = tokenize(soql) if isinstance(soql, str) else []
    words = [t.text.upper() if t.kind == "name" else t.text for t in tokens]
    in_select = True
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "FROM":
            in_select = False
        if word == "GROUP" and following == "BY":
            raise _unsupported("GROUP BY")
        if word in {"OFFSET", "TYPEOF"}:
            raise _unsupported(word)
        if word in _AGGREGATES and following == "(":
            raise _unsupported("Aggregate functions")
        if in_select and word == "(" and following == "SELECT":
            raise _unsupported("Aggregate Relationships", " with CSV content type")


def _unsupported(what: str, suffix: str = "") -> SalesforceError:
    return bulk_error("FEATURENOTENABLED", f"{what} not supported in Bulk V2 Query{suffix}")


def csv_value_sql(column: Column) -> str:
    """SQL for one selected column's text in query results (NULL for null), as Salesforce writes it."""
    ref = f"{column.alias}.{quote(column.field.name)}"
    kind = column.field.type
    if kind == "boolean":
        return f"CASE {ref} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"
    if kind == "datetime":
        return f"substr({ref}, 1, 23) || 'Z'"  # stored as ...000+0000; Bulk CSV writes ...000Z
    if kind in _UNQUOTABLE_TYPES:
        return ref  # a REAL prints as SQLite's shortest round-trip text, e.g. 1000.0
    return f"replace({ref}, '\"', '\"\"')"


def csv_line_sql(columns: list[Column], delimiter: str, line_end: str) -> str:
    """SQL rendering a row as one CSV line: every field quoted, null as an empty field, the line end included."""
    # printf builds the line in one call (about twice as fast as chaining ||), and its %s prints NULL as
    # nothing; SQLite functions take at most 127 arguments, so wide selects are printed in groups.
    parts = []
    for start in range(0, len(columns), _PRINTF_ARGS):
        group = columns[start : start + _PRINTF_ARGS]
        pattern = delimiter.join('"%s"' for _ in group)
        parts.append(f"printf('{pattern}', {', '.join(csv_value_sql(c) for c in group)})")
    end = f"char({', '.join(str(ord(c)) for c in line_end)})"
    return f" || '{delimiter}' || ".join(parts) + f" || {end}"


class _Aborted(Exception):
    """The job was aborted while its results were being written."""


class BulkQuery(JobWorker[QueryJob]):
    """All query jobs of the org, the worker that runs them in order, and their result files."""

    def __init__(self, store: Store, jobs_dir: Path) -> None:
        super().__init__(store, jobs_dir, table="_lo_query_jobs", job_type=QueryJob, what="bulk query job")

    def create(self, body: Any, version: str, user_id: str) -> dict[str, Any]:
        """Create a query job from the JSON body of POST jobs/query; returns its info (UploadComplete)."""
        if not isinstance(body, dict):
            raise bulk_error("INVALIDJOB", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        soql = body.get("query")
        if not isinstance(soql, str) or not soql.strip():
            raise bulk_error("INVALIDJOB", "InvalidJob : A query is required for a query job")
        content_type = body.get("contentType", "CSV")
        if content_type != "CSV":
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid content type: {content_type}; only CSV")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in LINE_ENDINGS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid line ending: {line_ending}")
        check_bulk_query(soql)
        # Compiled now so that a bad query is refused at creation with the error REST query gives.
        compiled = compile_soql(soql, self.store.schema, OPERATIONS[operation])
        now = job_timestamp()
        job = QueryJob(
            id=self.store.allocate_prefixed_ids("750", 1)[0],
            operation=operation,
            object=compiled.obj.name,
            query=soql,
            column_delimiter=delimiter,
            line_ending=line_ending,
            api_version=version,
            created_by=user_id,
            created_date=now,
            system_modstamp=now,
        )
        with self._lock:
            self.jobs[job.id] = job
            info = job.info()  # before the worker can see the job
        self._save(job)
        self._queue.put(job.id)
        log.info("bulk query job created job=%s object=%s operation=%s", job.id, job.object, operation)
        return info

    def info(self, job_id: str) -> dict[str, Any]:
        """The job info with its counters."""
        job = self.get(job_id)
        with self._lock:
            return job.info(with_counters=True)

    def abort(self, job_id: str, body: Any) -> dict[str, Any]:
        """PATCH {"state": "Aborted"}; returns the job info as of the abort."""
        job = self.get(job_id)
        wanted = body.get("state") if isinstance(body, dict) else None
        if wanted != "Aborted":
            raise bulk_error("INVALIDJOBSTATE", f"Invalid state transition requested: {wanted}")
        with self._lock:
            if job.state in TERMINAL_STATES:
                raise bulk_error("INVALIDJOBSTATE", f"Job {job_id} is {job.state} and cannot be aborted")
            job.abort_requested = True
            job.state = "Aborted"
            info = job.info()
        self._save(job)
        return info

    def list_jobs(self, args: dict[str, str], version: str) -> dict[str, Any]:
        """GET jobs/query: query jobs only, oldest first, 1,000 per page, filtered as Salesforce filters."""
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.id)
            infos = [j.info(with_job_type=True) for j in jobs]
        job_type = args.get("jobType")
        # Only Bulk API 1.0 (Classic) jobs use PK chunking; only parallel mode exists.
        if (
            (job_type is not None and job_type != "V2Query")
            or args.get("isPkChunkingEnabled", "false").lower() == "true"
            or args.get("concurrencyMode", "parallel").lower() != "parallel"
        ):
            infos = []
        start = 0
        if args.get("queryLocator"):
            position = decode_locator(args["queryLocator"])
            if position is None or position > len(infos):
                raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
            start = position
        end = start + JOB_LIST_PAGE
        done = end >= len(infos)
        next_url = (
            None if done else f"/services/data/v{version}/jobs/query?queryLocator={encode_locator(end)}"
        )
        return {"done": done, "records": infos[start:end], "nextRecordsUrl": next_url}

    # ---- results ------------------------------------------------------------------------------------

    def results(self, job_id: str, locator: str | None, max_records: str | None) -> ResultPage:
        """One set of results: from the locator's row (the first row without one), up to maxRecords rows."""
        job = self.get(job_id)
        if job.state != "JobComplete":
            raise bulk_error(
                "INVALIDJOBSTATE",
                f"Job {job_id} is {job.state}; results are available once it is JobComplete",
            )
        total = job.processed
        start = 0
        if locator:
            position = decode_locator(locator)
            if position is None or position >= max(total, 1):
                raise SalesforceError("INVALID_QUERY_LOCATOR", f"Invalid locator: {locator}", status=400)
            start = position
        end = total
        if max_records is not None:
            if not max_records.isdigit() or int(max_records) < 1:
                raise bulk_error(
                    "INVALIDREQUEST", f"maxRecords must be a positive integer, not {max_records}"
                )
            end = min(start + int(max_records), total)
        directory = self.jobs_dir / job.id
        with (directory / "offsets.bin").open("rb") as offsets:
            begin_at, end_at = _offset(offsets, start), _offset(offsets, end)
        next_locator = encode_locator(end) if end < total else "null"
        return ResultPage(end - start, next_locator, _stream(directory / "results.csv", begin_at, end_at))

    # ---- processing ---------------------------------------------------------------------------------

    def _process(self, job: QueryJob) -> None:
        started = time.monotonic()
        self._save(job)
        outcome, message = "JobComplete", None
        try:
            query = compile_soql(job.query, self.store.schema, OPERATIONS[job.operation])
            self._write_results(job, query)
        except _Aborted:
            outcome = "Aborted"
        except SalesforceError as exc:  # the schema changed since the job was created
            outcome, message = "Failed", f"InvalidJob : {exc.message}"
        with self._lock:
            job.state = "Aborted" if job.abort_requested else outcome
            job.error_message = message if job.state == "Failed" else None
            job.total_processing_ms = int((time.monotonic() - started) * 1000)
        self._save(job)
        log.info(
            "bulk query job finished job=%s state=%s records=%d ms=%d",
            job.id,
            job.state,
            job.processed,
            job.total_processing_ms,
        )

    def _write_results(self, job: QueryJob, query: CompiledQuery) -> None:
        """Stream the rows into results.csv (header first) and each row's byte offset into offsets.bin."""
        delimiter = DELIMITERS[job.column_delimiter]
        line_end = LINE_ENDINGS[job.line_ending]
        header = delimiter.join('"' + ".".join(c.path) + '"' for c in query.columns) + line_end
        # Each row is rendered as one CSV line by SQLite: one Python string per row instead of one object per
        # field, and no csv module pass over a million rows.
        line_sql = csv_line_sql(query.columns, delimiter, line_end)
        order = f" ORDER BY {query.order_sql}" if query.order_sql else " ORDER BY t0.rowid"
        limit = f" LIMIT {query.limit}" if query.limit is not None else ""
        sql = f"SELECT {line_sql} FROM {query.from_sql} WHERE {query.where_sql}{order}{limit}"
        directory = self.jobs_dir / job.id
        directory.mkdir(parents=True, exist_ok=True)
        with (
            (directory / "results.csv").open("wb") as out,
            (directory / "offsets.bin").open("wb") as offsets,
            self.store.lock,
        ):
            # The store lock is held for the whole query: the rows written are one consistent snapshot.
            position = out.write(header.encode())
            cursor = self.store.conn.execute(sql, query.params)
            while True:
                rows = cursor.fetchmany(_FETCH_ROWS)
                if not rows:
                    break
                if job.abort_requested:
                    cursor.close()
                    raise _Aborted()
                lines = [row[0] for row in rows]
                text = "".join(lines)
                data = text.encode()
                # ASCII text (the usual case) has as many bytes as characters, line by line too.
                sizes = map(len, lines) if len(data) == len(text) else (len(s.encode()) for s in lines)
                starts = array("q", itertools.accumulate(sizes, initial=position))
                position = starts.pop()
                starts.tofile(offsets)
                out.write(data)
                with self._lock:
                    job.processed += len(lines)
            array("q", [position]).tofile(offsets)


def _offset(offsets: IO[bytes], row: int) -> int:
    offsets.seek(row * _OFFSET_BYTES)
    return array("q", offsets.read(_OFFSET_BYTES))[0]


def _stream(path: Path, begin: int, end: int) -> Iterator[bytes]:
    """The header line, then the bytes [begin, end) of the results file."""
    with path.open("rb") as source:
        yield source.readline()
        source.seek(begin)
        remaining = end - begin
        while remaining > 0:
            block = source.read(min(_COPY_BLOCK, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block

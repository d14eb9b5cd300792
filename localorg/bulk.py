"""Bulk API 2.0 ingest: jobs, streamed CSV uploads, background processing and result files."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from localorg.errors import JobFailure, SalesforceError
from localorg.faults import FaultInjector
from localorg.job_worker import JobWorker, job_timestamp
from localorg.schema import Field, SObjectType
from localorg.store import KEEP, RelationshipColumn, RowBatch, Store, WriteOptions, WriteOutcome
from localorg.upload_csv import (
    CsvRowReader,
    PlainRowReader,
    RowReader,
    is_plain_upload,
    plain_data_lines,
)
from localorg.values import make_converter

log = logging.getLogger(__name__)

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPERATIONS = {"insert", "update", "upsert", "delete", "hardDelete"}
TERMINAL_STATES = {"JobComplete", "Failed", "Aborted"}
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
CHUNK_ROWS = 10_000
_COPY_BLOCK = 1024 * 1024
_PLAIN_TEXT_TYPES = {"string", "textarea", "phone", "url", "combobox", "encryptedstring", "base64", "anyType"}
csv.field_size_limit(64 * 1024 * 1024)


def bulk_error(code: str, message: str, status: int = 400) -> SalesforceError:
    """An error of the Bulk API 2.0 resources (same list shape as REST)."""
    return SalesforceError(code, message, status=status)


@dataclass
class IngestJob:
    """One Bulk API 2.0 ingest job and its counters."""

    id: str
    operation: str
    object: str
    external_id_field: str | None
    column_delimiter: str
    line_ending: str
    api_version: str
    created_by: str
    created_date: str
    system_modstamp: str
    state: str = "Open"
    processed: int = 0
    failed: int = 0
    total_processing_ms: int = 0
    error_message: str | None = None
    uploads: list[str] = field(default_factory=list)
    rows_consumed: int = 0
    abort_requested: bool = False

    def info(self, with_counters: bool = True) -> dict[str, Any]:
        """The JobInfo JSON Salesforce returns."""
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
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        if with_counters:
            info.update(
                {
                    "numberRecordsProcessed": self.processed,
                    "numberRecordsFailed": self.failed,
                    "retries": 0,
                    "totalProcessingTime": self.total_processing_ms,
                    "apiActiveProcessingTime": self.total_processing_ms,
                    "apexProcessingTime": 0,
                }
            )
        if self.error_message:
            info["errorMessage"] = self.error_message
        return info

    def to_record(self) -> str:
        """JSON kept in the database to survive restarts."""
        data = {k: v for k, v in self.__dict__.items() if k != "abort_requested"}
        return json.dumps(data)


class ColumnPlan:
    """How each CSV column of an upload becomes a field value, checked once per upload."""

    def __init__(self, store: Store, obj: SObjectType, job: IngestJob, header: list[str]) -> None:
        self.obj = obj
        self.job = job
        self.header = header
        self.id_column: int | None = None
        self.fields: list[tuple[int, Field]] = []
        self.relationships: list[tuple[int, Field, SObjectType, Field]] = []
        seen: set[str] = set()
        prefixes = store.reference_prefixes
        for index, raw_name in enumerate(header):
            name = raw_name.strip()
            if not name:
                raise JobFailure(f"InvalidBatch : Field name not found : {raw_name!r} (empty column name)")
            if name.lower() in seen:
                raise JobFailure(f"InvalidBatch : Duplicate field name: {name}")
            seen.add(name.lower())
            if "." in name:
                self.relationships.append((index, *self._relationship(store, name)))
                continue
            fld = obj.field(name)
            if fld is None or not fld.stored:
                raise JobFailure(f"InvalidBatch : Field name not found : {name}")
            if fld.name == "Id" and (job.operation != "insert"):
                self.id_column = index
                continue
            self.fields.append((index, fld))
        if job.operation in {"update", "delete", "hardDelete"} and self.id_column is None:
            raise JobFailure("InvalidBatch : Field name not found : Id")
        if job.operation in {"delete", "hardDelete"}:
            self.fields, self.relationships = [], []
        if job.operation == "upsert" and job.external_id_field and job.external_id_field.lower() != "id":
            if job.external_id_field.lower() not in seen:
                raise JobFailure(f"InvalidBatch : Field name not found : {job.external_id_field}")
        self.converters = {fld.name: make_converter(fld, False, prefixes) for _, fld in self.fields}

    def _relationship(self, store: Store, name: str) -> tuple[Field, SObjectType, Field]:
        relationship_name, _, target_field_name = name.partition(".")
        relationship_name = relationship_name.split(":")[0]
        reference = self.obj.relationship(relationship_name)
        if reference is None or not reference.reference_to:
            raise JobFailure(f"InvalidBatch : Field name not found : {name}")
        target = store.schema.get(reference.reference_to[0])
        if target is None:
            raise JobFailure(f"InvalidBatch : Field name not found : {name}")
        target_field = target.field(target_field_name)
        if target_field is None or not (target_field.external_id or target_field.id_lookup):
            raise JobFailure(
                f"InvalidBatch : The relationship field {name} must refer to an external id or idLookup field"
            )
        return reference, target, target_field

    def to_batch(self, rows: list[list[str]]) -> RowBatch:
        """Convert CSV rows into a RowBatch: '' means no value, #N/A means null."""
        size = len(rows)
        batch = RowBatch(size=size)
        errors = batch.errors
        width = len(self.header)
        for i, row in enumerate(rows):
            if len(row) != width:
                errors[i] = SalesforceError(
                    "INVALID_FIELD", f"Row has {len(row)} columns but the header has {width}"
                )
                rows[i] = (row + [""] * width)[:width]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]
        if self.id_column is not None:
            batch.ids = [KEEP if v == "" else v for v in columns[self.id_column]]
        for index, fld in self.fields:
            batch.columns[fld.name] = self._convert(fld, columns[index], errors)
        for index, reference, target, target_field in self.relationships:
            values = [KEEP if v == "" else (None if v == "#N/A" else v) for v in columns[index]]
            batch.relationships.append(RelationshipColumn(reference, target, target_field, values))
        return batch

    def _convert(self, fld: Field, raw: tuple[str, ...], errors: list[SalesforceError | None]) -> list[Any]:
        if fld.type in _PLAIN_TEXT_TYPES and (not fld.length or max(map(len, raw), default=0) <= fld.length):
            # Nothing to check value by value: every value fits.
            if "" not in raw and "#N/A" not in raw:
                return list(raw)
            return [KEEP if v == "" else (None if v == "#N/A" else v) for v in raw]
        convert = self.converters[fld.name]
        # Legacy exports repeat values a lot (dates, tiers, amounts): convert each distinct value once.
        memo: dict[str, Any] = {}
        failures: dict[str, SalesforceError] = {}
        for value in set(raw):
            if value == "":
                memo[value] = KEEP
            elif value == "#N/A":
                memo[value] = None
            else:
                try:
                    memo[value] = convert(value)
                except SalesforceError as exc:
                    failures[value] = exc
                    memo[value] = KEEP
        out = list(map(memo.__getitem__, raw))
        if failures:
            for i, value in enumerate(raw):
                failure = failures.get(value)
                if failure is not None and errors[i] is None:
                    errors[i] = failure
        return out


class BulkIngest(JobWorker[IngestJob]):
    """All ingest jobs of the org, their files, and the worker that processes them in order."""

    def __init__(self, store: Store, jobs_dir: Path, faults: FaultInjector) -> None:
        self.faults = faults
        super().__init__(
            store,
            jobs_dir,
            table="_lo_jobs",
            job_type=IngestJob,
            what="bulk job",
            outcome_table="_lo_job_outcomes",
        )

    # ---- job lifecycle --------------------------------------------------------------------------------

    def _restarted(self, job: IngestJob) -> None:
        self._recount(job)

    def _recount(self, job: IngestJob) -> None:
        """A job cut short: its counters from the outcomes it committed (the rows it processed)."""
        processed = failed = 0
        for outcome in self._outcomes(job):
            processed += 1
            failed += outcome[:1] == ["E"]
        job.processed = job.rows_consumed = processed
        job.failed = failed

    def _outcomes(self, job: IngestJob) -> Iterator[list[str]]:
        """Every processed row's outcome, in upload order, as committed with the row (see _process_chunk)."""
        for seq in itertools.count():
            with self.store.lock:  # one chunk at a time: the connection is shared with the writers
                found = self.store.conn.execute(
                    "SELECT lines FROM _lo_job_outcomes WHERE job_id = ? AND seq = ?", (job.id, seq)
                ).fetchone()
            if found is None:
                return
            yield from csv.reader(io.StringIO(found[0], newline=""))

    def create(self, body: Any, version: str, user_id: str) -> IngestJob:
        """Create an Open job from the JSON body of POST jobs/ingest."""
        if not isinstance(body, dict):
            raise bulk_error("INVALIDJOB", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        object_name = body.get("object")
        obj = self.store.schema.get(object_name) if isinstance(object_name, str) else None
        if obj is None:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Unable to find object: {object_name}")
        content_type = body.get("contentType", "CSV")
        if content_type != "CSV":
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid content type: {content_type}; only CSV")
        delimiter = body.get("columnDelimiter", "COMMA")
        if delimiter not in DELIMITERS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid column delimiter: {delimiter}")
        line_ending = body.get("lineEnding", "LF")
        if line_ending not in LINE_ENDINGS:
            raise bulk_error("INVALIDJOB", f"InvalidJob : Invalid line ending: {line_ending}")
        external_id = body.get("externalIdFieldName")
        if operation == "upsert":
            if not isinstance(external_id, str) or not external_id:
                raise bulk_error(
                    "INVALIDJOB",
                    f"InvalidJob : External ID was blank for {obj.name}. "
                    "An External ID must be specified for upsert.",
                )
            key = obj.field(external_id)
            if key is None or not (key.external_id or key.id_lookup):
                raise bulk_error(
                    "INVALIDJOB",
                    f"InvalidJob : Field {external_id} is not an External ID or idLookup field on {obj.name}",
                )
            external_id = key.name
        else:
            external_id = None
        now = job_timestamp()
        job_id = self.store.allocate_prefixed_ids("750", 1)[0]
        job = IngestJob(
            id=job_id,
            operation=operation,
            object=obj.name,
            external_id_field=external_id,
            column_delimiter=delimiter,
            line_ending=line_ending,
            api_version=version,
            created_by=user_id,
            created_date=now,
            system_modstamp=now,
        )
        (self.jobs_dir / job_id).mkdir(parents=True, exist_ok=True)
        with self._lock:
            self.jobs[job_id] = job
        self._save(job)
        log.info("bulk job created job=%s object=%s operation=%s", job_id, obj.name, operation)
        return job

    def upload(self, job_id: str, stream: IO[bytes], content_length: int | None) -> None:
        """Stream one CSV upload to disk; several are allowed while the job is Open."""
        job = self.get(job_id)
        if job.state != "Open":
            raise bulk_error("INVALIDJOBSTATE", f"Job {job_id} is not in the Open state", status=409)
        if content_length is not None and content_length > MAX_UPLOAD_BYTES:
            raise _too_large()
        path = self.jobs_dir / job_id / f"upload-{len(job.uploads) + 1:04d}.csv"
        written = 0
        with path.open("wb") as out:
            while True:
                block = stream.read(_COPY_BLOCK)
                if not block:
                    break
                written += len(block)
                if written > MAX_UPLOAD_BYTES:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise _too_large()
                out.write(block)
        if written == 0:
            path.unlink(missing_ok=True)
            raise bulk_error("INVALIDBATCH", "InvalidBatch : The CSV upload is empty")
        with self._lock:
            job.uploads.append(path.name)
        self._save(job)

    def set_state(self, job_id: str, body: Any) -> dict[str, Any]:
        """PATCH a job's state to UploadComplete or Aborted; returns the job info as of that transition."""
        job = self.get(job_id)
        wanted = body.get("state") if isinstance(body, dict) else None
        with self._lock:
            if wanted == "UploadComplete":
                if job.state != "Open":
                    raise bulk_error("INVALIDJOBSTATE", f"Job {job_id} is {job.state}, not Open")
                job.state = "UploadComplete"
            elif wanted == "Aborted":
                if job.state in TERMINAL_STATES:
                    raise bulk_error("INVALIDJOBSTATE", f"Job {job_id} is {job.state} and cannot be aborted")
                # Aborted at once, as Salesforce answers; a running worker stops after its current chunk.
                job.abort_requested = True
                job.state = "Aborted"
            else:
                raise bulk_error("INVALIDJOBSTATE", f"Invalid state transition requested: {wanted}")
            # The answer is the state just set: once queued, the worker may move the job on at any moment.
            info = job.info(with_counters=False)
        self._save(job)
        if wanted == "UploadComplete":
            self._queue.put(job.id)
        return info

    def list_jobs(self) -> list[IngestJob]:
        """All jobs, oldest first."""
        with self._lock:
            return sorted(self.jobs.values(), key=lambda j: j.id)

    # ---- results ------------------------------------------------------------------------------------

    def results(self, job_id: str, successful: bool) -> Iterator[bytes]:
        """Stream successfulResults (sf__Id, sf__Created, columns) or failedResults (sf__Id, sf__Error, ...)."""
        job = self.get(job_id)
        if job.state not in TERMINAL_STATES:
            raise bulk_error(
                "INVALIDJOBSTATE", f"Job {job_id} is {job.state}; results are ready when it ends"
            )
        return self._joined_results(job, successful)

    def _joined_results(self, job: IngestJob, successful: bool) -> Iterator[bytes]:
        delimiter = DELIMITERS[job.column_delimiter]
        line_end = LINE_ENDINGS[job.line_ending]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)

        def csv_line(fields: list[str]) -> bytes:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(fields)
            return buffer.getvalue().encode()

        out = bytearray(
            csv_line(["sf__Id", "sf__Created" if successful else "sf__Error", *self._header(job)])
        )
        # A plain line is its own CSV rendering, so success lines are assembled from bytes.
        created_infix = (delimiter + "true" + delimiter).encode()
        updated_infix = (delimiter + "false" + delimiter).encode()
        end = line_end.encode()
        outcomes = self._outcomes(job)
        for line, row in self._uploaded_records(job):
            outcome = next(outcomes, None)
            if outcome is None:
                break
            kind = outcome[0]
            if kind == "E":
                if not successful:
                    fields = row if row is not None else _split_line(line, delimiter)
                    out += csv_line([outcome[1], outcome[2], *fields])
            elif successful:
                if line is not None:
                    out += outcome[1].encode()
                    out += created_infix if kind == "1" else updated_infix
                    out += line
                    out += end
                else:
                    assert row is not None
                    out += csv_line([outcome[1], "true" if kind == "1" else "false", *row])
            if len(out) > _COPY_BLOCK:
                yield bytes(out)
                out.clear()
        yield bytes(out)

    def _uploaded_records(self, job: IngestJob) -> Iterator[tuple[bytes | None, list[str] | None]]:
        """Every uploaded data row in order: (raw line, None) from a plain upload, else (None, fields)."""
        delimiter = DELIMITERS[job.column_delimiter]
        for name in job.uploads:
            path = self.jobs_dir / job.id / name
            try:
                if is_plain_upload(path):
                    for line in plain_data_lines(path, delimiter):
                        yield line, None
                    continue
                with path.open(encoding="utf-8-sig", newline="") as source:
                    reader = csv.reader(source, delimiter=delimiter, strict=False)
                    next(reader)
                    for row in reader:
                        if row:
                            yield None, row
            except (csv.Error, UnicodeDecodeError, StopIteration):
                # The rows after an unreadable part of the uploads never reached processing either.
                return

    def unprocessed_rows(self, job_id: str) -> Iterator[bytes]:
        """Stream the uploaded rows the job never got to, with their header."""
        job = self.get(job_id)
        if job.state not in TERMINAL_STATES:
            raise bulk_error(
                "INVALIDJOBSTATE", f"Job {job_id} is {job.state}; results are ready when it ends"
            )
        return self._unprocessed(job)

    def _unprocessed(self, job: IngestJob) -> Iterator[bytes]:
        delimiter = DELIMITERS[job.column_delimiter]
        line_end = LINE_ENDINGS[job.line_ending]
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
        header = self._header(job)
        if header:
            writer.writerow(header)
        out = bytearray(buffer.getvalue().encode())
        end = line_end.encode()
        for line, row in itertools.islice(self._uploaded_records(job), job.rows_consumed, None):
            if line is not None:
                out += line
                out += end
            else:
                buffer.seek(0)
                buffer.truncate()
                writer.writerow(row or [])
                out += buffer.getvalue().encode()
            if len(out) > _COPY_BLOCK:
                yield bytes(out)
                out.clear()
        yield bytes(out)

    def _header(self, job: IngestJob) -> list[str]:
        for name in job.uploads:
            with (self.jobs_dir / job.id / name).open(encoding="utf-8-sig", newline="") as source:
                try:
                    return next(csv.reader(source, delimiter=DELIMITERS[job.column_delimiter]))
                except (StopIteration, csv.Error, UnicodeDecodeError):
                    continue
        return []

    # ---- processing ---------------------------------------------------------------------------------

    def _process(self, job: IngestJob) -> None:
        started = time.monotonic()
        self._save(job)
        obj = self.store.schema.get(job.object)
        directory = self.jobs_dir / job.id
        delimiter = DELIMITERS[job.column_delimiter]
        try:
            if obj is None:
                raise JobFailure(f"InvalidJob : Unable to find object: {job.object}")
            if not job.uploads:
                raise JobFailure("InvalidBatch : No data was uploaded for this job")
            # Only the outcome of each row is recorded here; result files are joined with the uploads
            # when requested, which keeps the processing path short.
            with self.store.transaction() as conn:  # a job processed again starts from nothing
                conn.execute("DELETE FROM _lo_job_outcomes WHERE job_id = ?", (job.id,))
            seq = itertools.count()
            for name in job.uploads:
                path = directory / name
                self._check_line_ending(path, job)
                plain = is_plain_upload(path)
                with path.open(encoding="utf-8-sig", newline="") as source:
                    reader: RowReader = (
                        PlainRowReader(source, delimiter) if plain else CsvRowReader(source, delimiter)
                    )
                    plan = ColumnPlan(self.store, obj, job, self._read_header(reader, name))
                    for rows in _chunks(reader, name):
                        if job.abort_requested:
                            raise _Aborted()
                        self._process_chunk(job, obj, plan, rows, next(seq))
                        job.total_processing_ms = int((time.monotonic() - started) * 1000)
            outcome, message = "JobComplete", None
        except _Aborted:
            outcome, message = "Aborted", None
        except JobFailure as failure:
            outcome, message = "Failed", str(failure)
        with self._lock:
            # An abort that came in during the last chunk stands: the job was answered Aborted.
            job.state = "Aborted" if job.abort_requested else outcome
            if job.state == "Failed":
                job.error_message = message
        job.total_processing_ms = int((time.monotonic() - started) * 1000)
        self._save(job)
        log.info(
            "bulk job finished job=%s state=%s processed=%d failed=%d ms=%d",
            job.id,
            job.state,
            job.processed,
            job.failed,
            job.total_processing_ms,
        )

    def _check_line_ending(self, path: Path, job: IngestJob) -> None:
        with path.open("rb") as source:
            first = source.readline(64 * 1024 * 1024)
        if (
            first.endswith(b"\r\n")
            and job.line_ending == "LF"
            or (first.endswith(b"\n") and not first.endswith(b"\r\n") and job.line_ending == "CRLF")
        ):
            raise JobFailure(
                f"ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is "
                f"{job.line_ending}"
            )

    @staticmethod
    def _read_header(reader: RowReader, name: str) -> list[str]:
        try:
            first = reader.read_rows(1)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise JobFailure(f"InvalidBatch : Failed to parse CSV header of {name}: {exc}") from None
        if not first:
            raise JobFailure(f"InvalidBatch : {name} has no header row")
        return list(first[0])

    def _process_chunk(
        self, job: IngestJob, obj: SObjectType, plan: ColumnPlan, rows: list[list[str]], seq: int
    ) -> None:
        batch = plan.to_batch(rows)
        failing = None
        if self.faults.has_row_faults():
            api_path = f"/jobs/ingest/{job.id}"
            full_path = f"/services/data/v{job.api_version}{api_path}"

            def failing(count: int) -> set[int]:
                return self.faults.failing_rows(full_path, api_path, count)

        options = WriteOptions(
            user_id=job.created_by, external_id_field=job.external_id_field, failing_rows=failing
        )

        def journal(conn: sqlite3.Connection, outcome: WriteOutcome) -> None:
            # In the rows' own transaction: a restart finds the outcome of every committed row and of no
            # other (Salesforce's results of a job that failed part way list exactly what it processed).
            conn.execute(
                "INSERT INTO _lo_job_outcomes (job_id, seq, lines) VALUES (?, ?, ?)",
                (job.id, seq, _outcome_lines(outcome, batch.ids)),
            )

        outcome = self.store.write_outcome(obj, job.operation, batch, options, journal)
        count = len(outcome.errors)
        failed = count - outcome.errors.count(None)
        with self._lock:
            job.processed += count
            job.failed += failed
            job.rows_consumed += count


class _Aborted(Exception):
    """The job was aborted between two chunks."""


def _chunks(reader: RowReader, name: str) -> Iterator[list[list[str]]]:
    while True:
        try:
            rows = reader.read_rows(CHUNK_ROWS)
        except csv.Error as exc:
            raise JobFailure(
                f"InvalidBatch : Failed to parse CSV in {name} at line {reader.line_num}: {exc}"
            ) from None
        except UnicodeDecodeError as exc:
            raise JobFailure(f"InvalidBatch : {name} is not valid UTF-8: {exc}") from None
        if not rows:
            return
        if not all(rows):
            rows = [row for row in rows if row]  # blank lines, e.g. a trailing newline
            if not rows:
                continue
        yield rows


def _outcome_lines(outcome: WriteOutcome, given_ids: list[Any] | None) -> str:
    """Lines of a chunk's outcomes (_lo_job_outcomes): `1,id` created, `0,id` updated or deleted, `E,given id,sf__Error` failed."""
    # Ids are alphanumeric, so only the error rows need the csv writer's quoting.
    marks = ["1," if created else "0," for created in outcome.created]
    if not any(outcome.errors):
        return "".join(
            [mark + (record_id or "") + "\n" for mark, record_id in zip(marks, outcome.ids, strict=True)]
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for i, (mark, record_id, error) in enumerate(zip(marks, outcome.ids, outcome.errors, strict=True)):
        if error is None:
            buffer.write(mark + (record_id or "") + "\n")
        else:
            given_id = given_ids[i] if given_ids is not None and given_ids[i] is not KEEP else ""
            writer.writerow(("E", given_id, error.bulk_error()))
    return buffer.getvalue()


def _split_line(line: bytes | None, delimiter: str) -> list[str]:
    assert line is not None
    return line.decode("utf-8").split(delimiter)


def _too_large() -> SalesforceError:
    return bulk_error(
        "EXCEEDED_QUOTA",
        "Exceeded max file size of 150 MB for a single upload. Split the data into several uploads or jobs.",
        status=400,
    )

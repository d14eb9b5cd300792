"""The recipe of chunk n: how a job's rows are read, mapped and checked, shared by the plan and the rebuild.

Chunk n of a plan is reader chunk n's valid rows, a deterministic slice of the source: the planner stages it,
and a load whose staging was lost (Redis flushed, TTL passed) rebuilds it here from the raw file, with the
same recipe, to exactly the rows that were staged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dms.clients.blobstore import BlobPin
from dms.errors import DMSError
from dms.migration.passes import StepPass
from dms.pipeline.context import JobContext, Pipeline, PipelineSettings
from dms.pipeline.describe import ObjectDescribe
from dms.pipeline.model import GROUPED_ROW_COLUMN, ROW_COLUMN, Operation
from dms.pipeline.prepare import (
    PROFILE_ROWS,
    CompiledMapping,
    LookupResolver,
    Prepared,
    PrepareOptions,
    RowError,
    apply_profiles,
    compile_mapping,
    new_mapping,
    prepare,
    profile_columns,
)
from dms.pipeline.results import invalid_rows
from dms.pipeline.source import Chunk, ReadOptions, SourceInfo, read_chunks, read_sample, sniff
from dms.row_messages import REQUIRED_ON_CREATE

LOOKUP_BATCH = 200  # external ids per SOQL query (keeps the query under Salesforce's length limit)


def read_options(job: dict[str, Any], settings: PipelineSettings) -> ReadOptions:
    """The job's read options (from the upload preview the user confirmed) with the deployment's limits."""
    return ReadOptions.from_json(
        job["source"].get("read_options"),
        prefix="read_options.",
        chunk_rows=job["options"]["chunk_rows"],
        chunk_bytes=settings.read_chunk_max_bytes,
        allow_pickle=settings.allow_pickle,
        limits=settings.read_limits,
    )


@contextmanager
def source_file(p: Pipeline, job: dict[str, Any]) -> Iterator[Path]:
    """The job's source as a local file (a download when the blob store is remote), pinned to the object its
    upload completed with: a file replaced since is refused with UPLOAD_CHANGED, never planned or loaded."""
    source = job["source"]
    pin = BlobPin.of(source["upload_id"], source) if source.get("upload_id") else None
    with p.blobs.local_copy(source["blob_key"], pin) as path:
        yield path


@dataclass(frozen=True)
class JobFile:
    """A job's source file as the pipeline reads it, chunk by chunk.

    A migration plan's grouped copy of a step's file (dms/migration/grouping.py: the rows reordered so that
    children of one parent are side by side) carries each row's number in the file it came from in a column
    of its own; it is read back as the row's number, so that rows, results and key maps keep the numbers
    of the file the person uploaded."""

    path: Path
    options: ReadOptions
    file_info: SourceInfo  # as the reader sniffed the file
    grouped: bool = False

    @classmethod
    def of(cls, job: dict[str, Any], path: Path, settings: PipelineSettings) -> JobFile:
        options = read_options(job, settings)
        return cls(path, options, sniff(path, options), bool(job["source"].get("grouped_copy")))

    @property
    def info(self) -> SourceInfo:
        """The source's columns (a grouped copy's row numbers are not one of them)."""
        if not self.grouped:
            return self.file_info
        columns = [c for c in self.file_info.columns if c != GROUPED_ROW_COLUMN]
        return dataclasses.replace(self.file_info, columns=columns)

    def chunks(self) -> Iterator[Chunk]:
        for chunk in read_chunks(self.path, self.options, self.file_info):
            if not self.grouped:
                yield chunk
                continue
            table = chunk.table
            rows = table[GROUPED_ROW_COLUMN].cast(pa.int64())
            table = table.drop_columns([GROUPED_ROW_COLUMN, ROW_COLUMN]).append_column(ROW_COLUMN, rows)
            yield Chunk(index=chunk.index, table=table, problems=chunk.problems)


def job_spec(job: dict[str, Any], columns: list[str], describe: dict[str, Any]) -> dict[str, Any]:
    """The job's mapping (auto-mapped when none was given), with the job's target written into it."""
    target = job["target"]
    operation = Operation(target["operation"])
    spec = job.get("mapping") or new_mapping(
        target["object"], operation, columns, describe, external_id=target.get("external_id")
    )
    spec = {**spec, "object": target["object"], "operation": operation}
    if target.get("external_id"):
        spec["external_id"] = target["external_id"]
    return spec


def with_inferred_formats(spec: dict[str, Any], path: Path, options: ReadOptions) -> dict[str, Any]:
    """Fill in date and number formats the file makes plain (never ambiguous ones: those stay invalid rows
    with a message that asks for a format, rather than a silent guess)."""
    # The same rows and the same inference as the upload preview, so the job reads what the preview showed.
    _, sample = read_sample(path, options, rows=PROFILE_ROWS)
    return apply_profiles(spec, profile_columns(sample))


def parent_describes(ctx: JobContext, spec: dict[str, Any], describe: dict[str, Any]) -> dict[str, Any]:
    """Describes of the parents named by relationship targets like `Account.Legacy_Id__c`."""
    view = ObjectDescribe.of(describe)
    parents: dict[str, Any] = {}
    fields = spec.get("fields")
    # A spec not shaped as a list of objects is compile_mapping's to report, field by field.
    for entry in fields if isinstance(fields, list) else []:
        if not isinstance(entry, dict):
            continue
        target = str(entry.get("target", ""))
        if "." not in target:
            continue
        field = view.relationship(target.split(".", 1)[0])
        for parent in field.reference_to if field else ():
            if parent not in parents:
                parents[parent] = ctx.describe(parent)
    return parents


class LookupChecker:
    """Answers which external ids exist on a parent object, with SOQL in batches (rehearsals and opt-in)."""

    def __init__(self, ctx: JobContext) -> None:
        self.org = ctx.org

    def __call__(self, object_name: str, field: str, values: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(values)
        for start in range(0, len(ordered), LOOKUP_BATCH):
            quoted = ",".join(soql_text(v) for v in ordered[start : start + LOOKUP_BATCH])
            soql = f"SELECT {field} FROM {object_name} WHERE {field} IN ({quoted})"
            result = self.org.call(_query_all(soql), what=f"lookup {object_name}.{field}")
            found.update(str(r[field]).lower() for r in result["records"] if r.get(field) is not None)
        return {v for v in values if v.lower() in found}


def soql_text(value: str) -> str:
    """A SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _query_all(soql: str) -> Callable[[Any], dict[str, Any]]:
    return lambda sf: dict(sf.query_all(soql))


@dataclass(frozen=True)
class ChunkRecipe:
    """Everything that turns reader chunk n into the rows to send: the same for the plan and a rebuild."""

    file: JobFile
    info: SourceInfo
    spec: dict[str, Any]
    compiled: CompiledMapping
    describe: dict[str, Any]
    prepare_options: PrepareOptions
    operation: Operation
    external_id: str | None
    step_pass: StepPass | None = None  # a pass of a migration plan's step: rows left out, references resolved

    @classmethod
    def for_job(cls, ctx: JobContext, path: Path, *, infer_formats: bool, check_lookups: bool) -> ChunkRecipe:
        """The recipe of a job's chunks (MappingError when its mapping cannot be used on this file)."""
        job = ctx.job
        file = JobFile.of(job, path, ctx.pipeline.settings)
        info = file.info
        describe = ctx.describe()
        step_pass = StepPass.of(job, ctx.pipeline.blobs)
        if step_pass is not None and job.get("mapping") is None:  # a plan step's columns, auto-mapped
            job = {**job, "mapping": step_pass.auto_mapping(describe, info.columns)}
        spec = job_spec(job, info.columns, describe)
        if infer_formats:
            spec = with_inferred_formats(spec, path, file.options)
        parents = parent_describes(ctx, spec, describe)
        columns = info.columns + (step_pass.added_columns() if step_pass else [])
        compiled = compile_mapping(spec, describe, columns, parent_describes=parents)
        lookups: LookupResolver | None = LookupChecker(ctx) if check_lookups else None
        if lookups is not None and step_pass is not None:
            lookups = step_pass.lookups(lookups)
        return cls(
            file=file,
            info=info,
            spec=spec,
            compiled=compiled,
            describe=describe,
            prepare_options=PrepareOptions(resolve_lookups=lookups, parent_describes=parents),
            operation=ctx.operation,
            external_id=job["target"].get("external_id"),
            step_pass=step_pass,
        )

    def chunks(self) -> Iterator[Chunk]:
        return self.file.chunks()

    def prepare(self, chunk: Chunk) -> Prepared:
        """Map and check one chunk's rows (a plan step's pass first leaves rows out and resolves references)."""
        table = chunk.table
        applied = self.step_pass.apply(chunk.index, table) if self.step_pass else None
        if applied is not None:
            table = applied.table
        prepared = prepare(table, self.compiled, self.describe, self.prepare_options)
        lookups = self.prepare_options.resolve_lookups
        if lookups is not None and self.operation == Operation.UPSERT and self.external_id:
            prepared = check_new_rows(prepared, self.describe, self.external_id, lookups)
        if applied is None:
            return prepared
        return Prepared(
            table=prepared.table,
            errors=[*applied.errors, *prepared.errors],
            invalid_rows=prepared.invalid_rows + applied.held_back,
            skipped_rows=applied.skipped,
        )


def check_new_rows(prepared: Prepared, describe: dict[str, Any], external_id: str, lookups: Any) -> Prepared:
    """On an upsert, rows whose external id is not in the org yet will be created: hold them to the fields
    an insert requires, as Salesforce will (a rehearsal then rejects exactly what the load would)."""
    table = prepared.table
    if table.num_rows == 0 or external_id not in table.column_names:
        return prepared
    keys = table.column(external_id).to_pylist()
    existing = lookups(describe["name"], external_id, {k for k in keys if k})
    rows = table.column(ROW_COLUMN).to_pylist()
    errors = list(prepared.errors)
    bad: set[int] = set()
    for field in ObjectDescribe.of(describe).required_on_create():
        name = field.name
        values = table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
        for row, key, value in zip(rows, keys, values, strict=True):
            if key not in existing and value in (None, "", "#N/A"):
                message = REQUIRED_ON_CREATE(
                    field=name, object=describe["name"], external_id=external_id, key=key
                )
                errors.append(RowError(row, None, name, None, "REQUIRED_FIELD_MISSING", message))
                bad.add(row)
    if not bad:
        return prepared
    return replace(
        prepared, table=without_rows(table, bad), errors=errors, invalid_rows=prepared.invalid_rows + len(bad)
    )


def without_rows(table: pa.Table, rows: set[int]) -> pa.Table:
    """The table less the given source rows."""
    drop = pc.is_in(table.column(ROW_COLUMN), value_set=pa.array(sorted(rows), type=pa.int64()))
    return table.filter(pc.invert(drop))


def staged_parts(chunk: Chunk, prepared: Prepared) -> dict[str, pa.Table]:
    """What a chunk stages: `load` (the valid rows as sent) and `source` (their original values)."""
    load_table = prepared.table
    if load_table.num_rows == chunk.table.num_rows:
        # Every row read is valid (the usual case): the source rows are the chunk itself, no lookup needed.
        return {"load": load_table, "source": chunk.table}
    kept = pa.array(load_table.column(ROW_COLUMN).to_numpy(), type=pa.int64())
    source = chunk.table.filter(pc.is_in(chunk.table.column(ROW_COLUMN), value_set=kept))
    return {"load": load_table, "source": source}


def rebuild_chunk(ctx: JobContext, index: int) -> dict[str, pa.Table]:
    """Re-read and re-prepare reader chunk `index` when its staging was lost (deterministic slices).

    The rows the plan found invalid are left out by the chunk's invalid part, not by checking again: a
    lookup in the org could answer otherwise now that other chunks have loaded."""
    p = ctx.pipeline
    with source_file(p, ctx.job) as path:
        recipe = ChunkRecipe.for_job(ctx, path, infer_formats=False, check_lookups=False)
        for chunk in recipe.chunks():
            if chunk.index != index:
                continue
            prepared = recipe.prepare(chunk)
            invalid = invalid_rows(p.blobs, ctx.job_id, index)
            if invalid:
                prepared = replace(prepared, table=without_rows(prepared.table, invalid))
            return staged_parts(chunk, prepared)
    raise DMSError(f"Chunk {index} is not in the source any more.", code="SOURCE_CHANGED")

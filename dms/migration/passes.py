"""One pass of a plan step, as the pipeline runs it: which rows it leaves out, and the Ids its references get.

Every pass of a step reads the step's whole source, chunk by chunk as any job does, so row numbers, chunks and
result files are those of the source everywhere. A pass leaves out (counts as skipped) the rows it has
nothing to do for:
- a load pass, the rows an earlier load pass of the step already loaded (a plan's retry re-sends the rest);
- an update pass (the deferred references), the rows whose own record is not loaded, whose deferred fields
  are all blank, or that an earlier update pass already set.

Before a chunk's rows are mapped, its reference fields become Id columns through the key maps of the steps
they point at; a row whose parent is unknown or not loaded is held back with its reason (an invalid row,
never sent). The pass's own record Id (an update pass) comes from the load passes' success parts, row by row.

The pass is described by the job's `migration` field, written by the plan's runner (run.py) when it made the
job: the plan's spec, the step, the pass and the jobs of the earlier passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.clients.blobstore import BlobStore
from dms.migration.keymap import KeyMapStore
from dms.migration.order import order_steps
from dms.migration.references import Reference, key_texts, resolve
from dms.migration.spec import MigrationPlan, Step, parse_plan
from dms.pipeline import results as res
from dms.pipeline.columns import as_array
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare.automap import new_mapping
from dms.pipeline.prepare.options import LookupResolver
from dms.pipeline.prepare.rejections import RowError

REFERENCE_COLUMN = "__ref__{}"  # the Ids a reference field resolved to, as a column the mapping reads
OWN_ID_COLUMN = "__ref__Id"  # an update pass: the Id of the record the row became


class PassKind:
    LOAD = "load"
    UPDATE = "update"


@dataclass(frozen=True)
class Applied:
    """A chunk after the pass: the rows to map (with their Id columns), the rows held back, the rows left out."""

    table: pa.Table
    errors: list[RowError]
    held_back: int
    skipped: int


@dataclass
class StepPass:
    """One pass of one step of a plan, over its source's chunks."""

    blobs: BlobStore
    plan_id: str
    plan: MigrationPlan
    step: Step
    kind: str
    buckets: dict[str, int]  # step -> bucket count of its key maps
    earlier_loads: list[str]  # job ids of the step's earlier load passes (oldest first)
    loads: list[str]  # job ids of the load passes whose records an update pass sets (up to this attempt)
    earlier_updates: list[str]
    rehearsal_ids: dict[str, str]  # a rehearsal's load pass: job id -> the placeholder Id its rows get
    references: tuple[Reference, ...] = ()
    _keys: KeyMapStore | None = field(default=None, repr=False)

    @classmethod
    def of(cls, job: Mapping[str, Any], blobs: BlobStore) -> StepPass | None:
        """The pass a job runs, or None for an ordinary job."""
        described = job.get("migration")
        if not described:
            return None
        plan = parse_plan(described["spec"])
        step = plan.step(described["step"])
        kind = described["pass"]
        deferred = {d.reference for d in order_steps(plan).deferred_of(step.name)}
        if kind == PassKind.LOAD:
            references = tuple(r for r in step.references if r not in deferred)
        else:
            references = tuple(r for r in step.references if r in deferred)
        return cls(
            blobs=blobs,
            plan_id=described["plan_id"],
            plan=plan,
            step=step,
            kind=kind,
            buckets={k: int(v) for k, v in described["buckets"].items()},
            earlier_loads=list(described.get("earlier_loads", [])),
            loads=list(described.get("loads", [])),
            earlier_updates=list(described.get("earlier_updates", [])),
            rehearsal_ids=dict(described.get("rehearsal_ids", {})),
            references=references,
        )

    @property
    def keys(self) -> KeyMapStore:
        if self._keys is None:
            self._keys = KeyMapStore(self.blobs, self.plan_id)
        return self._keys

    def added_columns(self) -> list[str]:
        """The columns apply() adds to a chunk, for the mapping to read."""
        added = [REFERENCE_COLUMN.format(r.target) for r in self.references]
        return [OWN_ID_COLUMN, *added] if self.kind == PassKind.UPDATE else added

    def auto_mapping(self, describe: dict[str, Any], columns: list[str]) -> dict[str, Any]:
        """A load pass's mapping when the step gives no fields: its columns auto-mapped (less the columns its
        references read: they hold legacy keys, not Ids), then its references."""
        read_by_references = {c for r in self.step.references for c in (r.source, r.by) if c}
        plain = [c for c in columns if c not in read_by_references]
        spec = new_mapping(self.step.object, self.step.operation, plain, describe)
        refs = [{"target": r.target, "source": REFERENCE_COLUMN.format(r.target)} for r in self.references]
        return {**spec, "fields": [*spec["fields"], *refs]}

    def mapping(self) -> dict[str, Any] | None:
        """The step's mapping for this pass: its own fields and its references (load; None when its columns
        are auto-mapped, see auto_mapping), or the record's Id and the deferred references only (update)."""
        refs = [{"target": r.target, "source": REFERENCE_COLUMN.format(r.target)} for r in self.references]
        if self.kind == PassKind.LOAD:
            if self.step.auto_mapped:
                return None
            return {**self.step.mapping, "fields": [*self.step.mapping.get("fields", []), *refs]}
        return {"fields": [{"target": "Id", "source": OWN_ID_COLUMN}, *refs]}

    def lookups(self, checker: LookupResolver) -> LookupResolver:
        """A rehearsal's lookup in the org, less its own placeholder Ids: those stand for records the plan
        would load before this pass, not for records the org has."""

        def resolve_without_placeholders(object_name: str, field_name: str, values: set[str]) -> set[str]:
            placeholders = {v for v in values if field_name == "Id" and is_rehearsal_id(v)}
            rest = values - placeholders
            return placeholders | (checker(object_name, field_name, rest) if rest else set())

        return resolve_without_placeholders

    def apply(self, chunk_index: int, table: pa.Table) -> Applied:
        """Leave out the rows this pass has nothing to do for; resolve the references of the rest."""
        rows = as_array(table[ROW_COLUMN]).to_numpy(zero_copy_only=False)
        own_ids = self._own_ids(chunk_index, rows) if self.kind == PassKind.UPDATE else None
        keep = self._to_do(chunk_index, table, rows, own_ids)
        skipped = int((~keep).sum())
        if skipped:
            table = table.filter(pa.array(keep))
        if own_ids is not None:
            table = table.append_column(OWN_ID_COLUMN, pc.filter(own_ids, pa.array(keep)))
        errors: list[RowError] = []
        for reference in self.references:
            resolved = resolve(self.plan, table, reference, self._lookup)
            table = table.append_column(REFERENCE_COLUMN.format(reference.target), resolved.ids)
            errors.extend(resolved.errors)
        held = {e.row for e in errors}
        if held:
            kept_rows = as_array(table[ROW_COLUMN])
            table = table.filter(pc.invert(pc.is_in(kept_rows, value_set=pa.array(sorted(held), pa.int64()))))
        return Applied(self._grouped_by_parent(table), errors, len(held), skipped)

    def _grouped_by_parent(self, table: pa.Table) -> pa.Table:
        """A load pass's rows in the order of their first reference's parent Id (then source row): Salesforce's
        advice against lock contention. Bulk API 2.0 cuts a job into batches it processes in parallel, and
        the Collections sender sends 200 rows a request; children of one parent side by side meet in one
        batch instead of locking that parent from several at once. Results are matched by values and row
        numbers, so the order rows are sent in changes nothing else."""
        if self.kind != PassKind.LOAD or not self.references or table.num_rows < 2:
            return table
        parent = REFERENCE_COLUMN.format(self.references[0].target)
        return table.sort_by([(parent, "ascending"), (ROW_COLUMN, "ascending")])

    def _lookup(self, step: str, key_column: str, keys: pa.Array) -> pa.Table:
        return self.keys.lookup(step, key_column, keys, self.buckets[step])

    def _to_do(
        self, chunk_index: int, table: pa.Table, rows: np.ndarray, own_ids: pa.Array | None
    ) -> np.ndarray:
        if own_ids is None:  # a load pass
            return ~np.isin(rows, _row_array(self._succeeded(self.earlier_loads, chunk_index)))
        loaded = np.asarray(pc.is_valid(own_ids).to_numpy(zero_copy_only=False), dtype=bool)
        anything = np.zeros(len(rows), dtype=bool)
        for reference in self.references:
            values = key_texts(table[reference.source])
            anything |= np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
        already = np.isin(rows, _row_array(self._succeeded(self.earlier_updates, chunk_index)))
        return loaded & anything & ~already

    def _succeeded(self, job_ids: list[str], chunk_index: int) -> set[int]:
        done: set[int] = set()
        for job_id in job_ids:
            done |= res.succeeded_rows(self.blobs, job_id, chunk_index)
        return done

    def _own_ids(self, chunk_index: int, rows: np.ndarray) -> pa.Array:
        """Per row, the Id of the record it became, from the load passes' results (null: not loaded). A
        rehearsal's load pass gives its placeholder Id to every row it found valid."""
        ids: dict[int, str] = {}
        for job_id in self.loads:
            placeholder = self.rehearsal_ids.get(job_id)
            if placeholder is None:
                ids.update(res.succeeded_ids(self.blobs, job_id, chunk_index))
                continue
            invalid = res.invalid_rows(self.blobs, job_id, chunk_index)
            ids.update((int(r), placeholder) for r in rows.tolist() if r not in invalid)
        return pa.array([ids.get(int(r)) for r in rows.tolist()], pa.string())


def _row_array(rows: set[int]) -> np.ndarray:
    return np.fromiter(rows, dtype=np.int64, count=len(rows))


def rehearsal_id(key_prefix: str | None) -> str:
    """The Id a rehearsal gives a row that would load: shaped like one of its object's (its key prefix, 18
    characters, a valid checksum), so the children's checks run on it as on a real Id; all zeros after the
    prefix, which no record has."""
    body = ((key_prefix or "")[:3] or "000").ljust(15, "0")
    return body + id_checksum(body)


def is_rehearsal_id(value: str) -> bool:
    return len(value) == 18 and value[3:15] == "0" * 12 and value == rehearsal_id(value[:3])


def id_checksum(id15: str) -> str:
    """The three checksum characters that make a 15-character Id the 18-character one."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if "A" <= ch <= "Z")
        suffix += alphabet[bits]
    return suffix

"""Resolving a step's references: legacy keys in a chunk's rows become the Salesforce Ids of their parents.

Each step leaves a key map: per source row with a key, the key, the row, and either the Id of the record that
row became or why it did not become one. A child row's reference is looked up there: found and loaded gives
the Id; not found, or found but not loaded, keeps the child row back with an error naming the parent row and
step, so that a child is never sent without its parent nor against the wrong one. A blank reference is no
parent (the field is left empty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from dms.migration.spec import MigrationPlan, Reference
from dms.pipeline.columns import as_array
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare.rejections import RowError, quote
from dms.row_messages import NO_REASON_RECORDED, NO_STEP_FOR_VALUE, PARENT_NOT_LOADED, REFERENCE_NOT_FOUND

AS_GIVEN = ""  # no step: a polymorphic value that is already a record's Id (ref.steps {"object": ...})
# A key map's rows, as a lookup answers them: one per key asked that the step has.
KEY_MAP_SCHEMA = pa.schema(
    [("key", pa.string()), ("row", pa.int64()), ("id", pa.string()), ("error", pa.string())]
)
# (step, key column, distinct keys) -> the key map rows of those keys (KEY_MAP_SCHEMA), each key at most once.
Lookup = Callable[[str, str, pa.Array], pa.Table]


class ReferenceCode:
    """Row error codes of references (Salesforce has none: these rows never reach it)."""

    NOT_FOUND = "REFERENCE_NOT_FOUND"
    PARENT_NOT_LOADED = "PARENT_NOT_LOADED"
    NO_STEP_FOR_VALUE = "REFERENCE_STEP_UNKNOWN"


@dataclass(frozen=True)
class Resolved:
    """The Ids for one reference field of a chunk (null: blank or unresolved) and the rows it holds back."""

    ids: pa.Array
    errors: list[RowError]


def resolve(plan: MigrationPlan, table: pa.Table, reference: Reference, lookup: Lookup) -> Resolved:
    """The Salesforce Ids of `reference`'s parents for the chunk's rows, and the errors of the rows whose
    parent is unknown or was not loaded."""
    values = key_texts(table[reference.source])
    rows = as_array(table[ROW_COLUMN]).to_pylist()
    ids: list[str | None] = [None] * len(table)
    errors: list[RowError] = []
    for step, positions in _rows_by_step(table, reference, values, rows, errors).items():
        if step == AS_GIVEN:  # a record the plan does not load, named by its Id (checked as an Id later)
            for position in positions:
                ids[position] = values[position].as_py()
            continue
        key_column = reference.key_of(plan, step)
        wanted = pc.take(values, pa.array(positions, pa.int64()))
        found = lookup(step, key_column, pc.unique(wanted))
        where = pc.index_in(wanted, value_set=found["key"]).to_pylist()
        found_ids, found_rows, found_errors = (found[c].to_pylist() for c in ("id", "row", "error"))
        for position, value, at in zip(positions, wanted.to_pylist(), where, strict=True):
            if at is not None and found_ids[at] is not None:
                ids[position] = found_ids[at]
                continue
            if at is None:
                code = ReferenceCode.NOT_FOUND
                message = REFERENCE_NOT_FOUND(
                    target=reference.target, step=step, key=key_column, value=quote(value)
                )
            else:
                code = ReferenceCode.PARENT_NOT_LOADED
                message = PARENT_NOT_LOADED(
                    target=reference.target,
                    row=found_rows[at],
                    step=step,
                    key=key_column,
                    value=quote(value),
                    reason=found_errors[at] or NO_REASON_RECORDED(),
                )
            errors.append(RowError(rows[position], reference.source, reference.target, value, code, message))
    return Resolved(pa.array(ids, pa.string()), errors)


def key_texts(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Legacy keys as the text both sides of a reference compare: trimmed, blank as null, and a whole number
    read as a float (a spreadsheet's 1001.0) written as the integer it is, as the file showed it."""
    values = as_array(column)
    if pa.types.is_floating(values.type):
        whole = pc.fill_null(pc.equal(values, pc.round(values)), True)
        if pc.all(whole).as_py():
            values = values.cast(pa.int64(), safe=False)
    texts = pc.utf8_trim_whitespace(values.cast(pa.string()))
    return pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)


def _rows_by_step(
    table: pa.Table, reference: Reference, values: pa.Array, rows: list[int], errors: list[RowError]
) -> dict[str, list[int]]:
    """The positions of non-blank references per step they point at; a polymorphic row whose choice names
    no step is an error."""
    present = [i for i, v in enumerate(values.to_pylist()) if v is not None]
    if reference.by is None:
        return {reference.steps[0]: present} if present else {}
    choices = dict(reference.choices)
    objects = dict(reference.objects)
    chosen = as_array(table[reference.by]).cast(pa.string()).to_pylist()
    by_step: dict[str, list[int]] = {}
    for position in present:
        choice = (chosen[position] or "").strip()
        if choice in objects:
            by_step.setdefault(AS_GIVEN, []).append(position)
            continue
        step = choices.get(choice)
        if step is None:
            offered = ", ".join(
                [f"{value} -> {name}" for value, name in reference.choices]
                + [f"{value} -> {name} Id" for value, name in reference.objects]
            )
            errors.append(
                RowError(
                    rows[position],
                    reference.by,
                    reference.target,
                    chosen[position],
                    ReferenceCode.NO_STEP_FOR_VALUE,
                    NO_STEP_FOR_VALUE(
                        target=reference.target,
                        by=reference.by,
                        value=quote(chosen[position]),
                        offered=offered,
                    ),
                )
            )
            continue
        by_step.setdefault(step, []).append(position)
    return by_step

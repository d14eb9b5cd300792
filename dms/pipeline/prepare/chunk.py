"""Apply a mapping to one chunk and check every row against the target object's describe.

`prepare` works column by column with pyarrow.compute: no Python loop runs per row except to word the
errors of rows that failed. Codes are Salesforce's where Salesforce has one for the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.columns import as_array, is_text
from dms.pipeline.describe import ObjectDescribe
from dms.pipeline.model import ROW_COLUMN, Operation
from dms.pipeline.prepare.checks import convert_column, duplicate_flag, lookup_flag
from dms.pipeline.prepare.compile import compile_mapping
from dms.pipeline.prepare.options import PrepareOptions
from dms.pipeline.prepare.rejections import ErrorCode, Flag, RowError, flag
from dms.pipeline.prepare.spec import CompiledMapping, FieldRule, MappingError, MappingProblem
from dms.pipeline.prepare.text import blank_to_null, is_trimmed, lower_text, to_text
from dms.pipeline.prepare.transforms import apply_transforms
from dms.row_messages import (
    EXTERNAL_ID_NEEDED,
    KEY_NEEDED,
    KEY_NEEDED_DELETE,
    KEY_NEEDED_HARD_DELETE,
    KEY_NEEDED_UPDATE,
    KEY_NEEDED_UPSERT,
    REQUIRED,
    REQUIRED_NOT_BLANK,
)

logger = logging.getLogger(__name__)

NULL_MARKER = "#N/A"  # Bulk API 2.0: sets a field to null on update (an empty cell leaves it unchanged)

# Field types whose text goes to Salesforce as written (leading/trailing spaces included).
RAW_TEXT_TYPES = frozenset(
    {"string", "textarea", "encryptedstring", "combobox", "phone", "base64", "anytype"}
)
# How a message names the operation ("the record to hard delete", not "to hardDelete").
_KEY_NEEDED = {
    Operation.UPDATE: KEY_NEEDED_UPDATE,
    Operation.UPSERT: KEY_NEEDED_UPSERT,
    Operation.DELETE: KEY_NEEDED_DELETE,
    Operation.HARD_DELETE: KEY_NEEDED_HARD_DELETE,
}


@dataclass
class Prepared:
    """A chunk after mapping and validation: loadable rows as Bulk 2.0 text, and the rejected rows' errors."""

    table: pa.Table
    errors: list[RowError]
    invalid_rows: int
    skipped_rows: int = 0  # left out by a migration plan's pass: neither loaded nor in error


@dataclass
class _Column:
    """One target column while it is being built."""

    rule: FieldRule
    original: pa.Array  # the source cells as read (for the error report)
    output: pa.Array  # Bulk API text
    blank: np.ndarray  # no value after transforms and default
    flags: list[Flag]


def prepare(
    table: pa.Table,
    spec: Mapping[str, Any] | CompiledMapping,
    describe: ObjectDescribe | Mapping[str, Any],
    options: PrepareOptions | None = None,
) -> Prepared:
    """Map, transform and validate one chunk; invalid rows leave with their errors, valid rows go on."""
    options = options or PrepareOptions()
    if isinstance(spec, CompiledMapping):
        mapping = spec
    else:
        mapping = compile_mapping(
            spec, describe, table.column_names, parent_describes=options.parent_describes
        )
    missing = sorted(
        {name for rule in mapping.rules for name in (rule.source, *rule.concat) if name}
        - set(table.column_names)
    )
    if missing:
        raise MappingError(
            [
                MappingProblem(
                    "error", "UNKNOWN_COLUMN", f"source column {name!r} is not in this chunk", source=name
                )
                for name in missing
            ]
        )
    n = table.num_rows
    rows = _row_numbers(table)
    columns = [_build_column(table, rule, mapping, options) for rule in mapping.rules]
    for column in columns:
        duplicate = duplicate_flag(column.rule, column.output, mapping)
        if duplicate is not None:
            column.flags.append(duplicate)
    if options.resolve_lookups is not None:
        for column in columns:
            missing_parent = lookup_flag(column.rule, column.output, column.flags, options.resolve_lookups)
            if missing_parent is not None:
                column.flags.append(missing_parent)

    invalid = np.zeros(n, dtype=bool)
    for column in columns:
        for rejected in column.flags:
            invalid |= rejected.mask
    errors = _word_errors(columns, rows)
    valid = ~invalid
    out_columns: dict[str, pa.Array] = {ROW_COLUMN: pa.array(rows, pa.int64())}
    for column in columns:
        out_columns[column.rule.target.header] = _null_marker(column, mapping)
    result = pa.table(out_columns)
    if invalid.any():
        result = result.filter(pa.array(valid))
    logger.debug(
        "prepared object=%s operation=%s rows=%d invalid_rows=%d errors=%d",
        mapping.object,
        mapping.operation,
        n,
        int(invalid.sum()),
        len(errors),
    )
    return Prepared(table=result, errors=errors, invalid_rows=int(invalid.sum()))


def _row_numbers(table: pa.Table) -> np.ndarray:
    if ROW_COLUMN in table.column_names:
        rows = as_array(table[ROW_COLUMN]).cast(pa.int64())
        return pc.fill_null(rows, 0).to_numpy(zero_copy_only=False)
    # Readers always add __row__; a bare table (tests, small direct jobs) counts rows from 1 under the header.
    return np.arange(1, table.num_rows + 1, dtype=np.int64)


# Building one target column -----------------------------------------------------------------------------


def _source(table: pa.Table, rule: FieldRule) -> pa.Array:
    n = table.num_rows
    if rule.has_constant:
        if rule.constant is None:
            return pa.nulls(n, pa.string())
        return pa.repeat(pa.scalar(rule.constant, pa.string()), n)
    if rule.concat:
        parts = [blank_to_null(to_text(as_array(table[name]))) for name in rule.concat]
        if len(parts) == 1:
            return parts[0]
        # Blank parts are skipped, so "Main St" + "" gives "Main St", not "Main St ".
        return pc.binary_join_element_wise(*parts, rule.separator, null_handling="skip")
    return as_array(table[rule.source])


def _build_column(
    table: pa.Table, rule: FieldRule, mapping: CompiledMapping, options: PrepareOptions
) -> _Column:
    original = _source(table, rule)
    if pa.types.is_dictionary(original.type):
        original = original.cast(original.type.value_type)
    values = original
    flags: list[Flag] = []
    timezone = rule.timezone or mapping.timezone
    transform_failed = None
    if rule.transforms:
        values, flags = apply_transforms(
            values, rule.transforms, target=rule.target.header, timezone=timezone
        )
        if flags:
            # A row a transform rejected is reported once, for that reason, not again by the type checks.
            transform_failed = np.logical_or.reduce([rejected.mask for rejected in flags])
            if transform_failed.any():
                values = pc.if_else(pa.array(transform_failed), pa.scalar(None, values.type), values)
    typed = rule.target.is_lookup or rule.target.field.type not in RAW_TEXT_TYPES
    if is_text(values) or pa.types.is_null(values.type):
        # Typed values are trimmed once here; free text keeps its spaces (only all-blank cells become null).
        text = to_text(values)
        if is_trimmed(text):
            values = text  # the usual export: nothing to trim and no blank cell, so skip both passes
        else:
            trimmed = pc.utf8_trim_whitespace(text)
            blank_cells = pc.equal(pc.binary_length(trimmed), 0)
            values = trimmed if typed else text
            if pc.any(blank_cells).as_py():
                values = pc.if_else(blank_cells, pa.scalar(None, pa.string()), values)
        if options.null_values:
            tokens = pa.array([t.strip().lower() for t in options.null_values], pa.string())
            is_token = pc.is_in(lower_text(pc.utf8_trim_whitespace(values)), value_set=tokens)
            values = pc.if_else(is_token, pa.scalar(None, pa.string()), values)
    if rule.default is not None:
        values = pc.fill_null(to_text(values), rule.default)
    blank = pc.is_null(values).to_numpy(zero_copy_only=False)
    if transform_failed is not None:
        blank &= ~transform_failed
    output, type_flags = convert_column(values, rule, mapping, timezone, options)
    flags += type_flags
    flags += _required(blank, rule, mapping)
    return _Column(rule=rule, original=original, output=output, blank=blank, flags=flags)


def _required(blank: np.ndarray, rule: FieldRule, mapping: CompiledMapping) -> list[Flag]:
    info = rule.target.field
    operation = mapping.operation
    key_field = info.name == "Id" or (
        mapping.external_id is not None and info.name.lower() == mapping.external_id.lower()
    )
    if key_field and not rule.target.is_lookup and operation != Operation.INSERT:
        why = _KEY_NEEDED.get(operation, KEY_NEEDED)(field=info.name, operation=str(operation))
        if operation == Operation.UPSERT and info.name != "Id":
            why = EXTERNAL_ID_NEEDED(field=info.name)
        return [flag(blank, ErrorCode.REQUIRED_FIELD_MISSING, lambda v: why, None)]
    if operation.deletes or info.type == "boolean":
        return []
    if operation == Operation.INSERT:
        needed = info.required_on_create
    else:
        # On update/upsert a blank leaves the record's value alone, which Salesforce accepts; only an
        # explicit null (blank_means "null") on a non-nillable field is refused.
        needed = mapping.blank_means == "null" and not info.nillable
    if not needed or not blank.any():
        return []
    message = (REQUIRED if operation == Operation.INSERT else REQUIRED_NOT_BLANK)(
        label=info.label, field=info.name
    )
    return [flag(blank, ErrorCode.REQUIRED_FIELD_MISSING, lambda v: message, None)]


def _null_marker(column: _Column, mapping: CompiledMapping) -> pa.Array:
    output = column.output
    info = column.rule.target.field
    if (
        mapping.blank_means == "null"
        and mapping.operation in (Operation.UPDATE, Operation.UPSERT)
        and info.type != "boolean"
        and info.nillable
        and column.blank.any()
    ):
        return pc.if_else(pa.array(column.blank), pa.scalar(NULL_MARKER, pa.string()), output)
    return output


# Wording the errors (the only per-row Python, and only for failed rows) ----------------------------------


def _word_errors(columns: list[_Column], rows: np.ndarray) -> list[RowError]:
    found: list[tuple[int, int, int, RowError]] = []
    for order, column in enumerate(columns):
        original_text: pa.Array | None = None
        for flag_order, rejected in enumerate(column.flags):
            where = np.flatnonzero(rejected.mask)
            if len(where) == 0:
                continue
            index = pa.array(where)
            if original_text is None:
                original_text = to_text(column.original)
            originals = original_text.take(index).to_pylist()
            shown = (
                to_text(as_array(rejected.shown)).take(index).to_pylist()
                if rejected.shown is not None
                else originals
            )
            rule = column.rule
            for position, row_index in enumerate(where):
                value = shown[position]
                found.append(
                    (
                        int(rows[row_index]),
                        order,
                        flag_order,
                        RowError(
                            row=int(rows[row_index]),
                            column=rule.column_label,
                            field=rule.target.header,
                            value=originals[position],
                            code=rejected.code,
                            message=rejected.message(value),
                        ),
                    )
                )
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found]

"""Column transforms of a mapping (trim, case, value maps, split, parsing...): pure functions on Arrow text."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.values import (
    describe_booleans,
    describe_format,
    format_booleans,
    format_dates,
    format_datetimes,
    is_trimmed,
    lower_text,
    parse_booleans,
    parse_dates,
    parse_datetimes,
    parse_numbers,
    to_text,
)


@dataclass
class Flag:
    """Rows a step rejected: a mask, a stable code, and how to word the message for one value."""

    mask: np.ndarray
    code: str
    message: Callable[[str | None], str]
    shown: pa.Array  # the values the step saw, quoted in the message


def quote(value: str | None, limit: int = 100) -> str:
    """Quote a value for a message, shortened so one bad cell cannot flood a report."""
    if value is None:
        return "(blank)"
    text = value if len(value) <= limit else value[:limit] + "…"
    return f"'{text}'"


def _as_mask(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


def apply_transforms(
    values: pa.Array, steps: Sequence[Mapping[str, Any]], *, target: str, timezone: str = "UTC"
) -> tuple[pa.Array, list[Flag]]:
    """Run the transform steps in order on a column (made text first); return text and rejected rows."""
    text = to_text(values)
    flags: list[Flag] = []
    for step in steps:
        text, flag = apply_transform(text, step, target=target, timezone=timezone)
        if flag is not None:
            flags.append(flag)
    return text, flags


def apply_transform(
    text: pa.Array, step: Mapping[str, Any], *, target: str, timezone: str = "UTC"
) -> tuple[pa.Array, Flag | None]:
    """Run one transform step on a text column."""
    op = step["op"]
    if op == "trim":
        return (text if is_trimmed(text) else pc.utf8_trim_whitespace(text)), None
    if op == "upper":
        return pc.utf8_upper(text), None
    if op == "lower":
        return lower_text(text), None
    if op == "title":
        return pc.utf8_title(text), None
    if op == "replace":
        return pc.replace_substring(text, step["find"], step.get("with", "")), None
    if op == "regex_replace":
        return pc.replace_substring_regex(text, step["pattern"], step.get("with", "")), None
    if op == "truncate":
        return pc.utf8_slice_codeunits(text, 0, int(step["length"])), None
    if op == "split":
        return split_part(text, step["separator"], int(step["index"])), None
    if op == "map":
        return map_values(text, step, target=target)
    if op == "date":
        fmt = step.get("format")
        parsed = parse_dates(text, fmt)
        flag = Flag(
            _as_mask(parsed.invalid),
            "INVALID_DATE",
            lambda v: f"{quote(v)} is not a date in format {describe_format(fmt)}",
            text,
        )
        return format_dates(parsed.values), flag
    if op == "datetime":
        fmt = step.get("format")
        parsed = parse_datetimes(text, fmt, timezone=step.get("timezone") or timezone)
        flag = Flag(
            _as_mask(parsed.invalid),
            "INVALID_DATETIME",
            lambda v: f"{quote(v)} is not a date and time in format {describe_format(fmt)}",
            text,
        )
        return format_datetimes(parsed.values), flag
    if op == "number":
        decimal, thousands = step.get("decimal", "."), step.get("thousands")
        parsed = parse_numbers(text, decimal=decimal, thousands=thousands)
        flag = Flag(
            _as_mask(parsed.invalid),
            "INVALID_NUMBER",
            lambda v: f"{quote(v)} is not a number ({_separators(decimal, thousands)})",
            text,
        )
        return parsed.values, flag
    if op == "boolean":
        trues, falses = step.get("true_values"), step.get("false_values")
        parsed = parse_booleans(text, true_values=trues, false_values=falses)
        flag = Flag(
            _as_mask(parsed.invalid),
            "INVALID_BOOLEAN",
            lambda v: f"{quote(v)} is not true or false (expected {describe_booleans(trues, falses)})",
            text,
        )
        return format_booleans(parsed.values), flag
    raise ValueError(f"unknown transform {op!r}")  # mapping.compile_mapping refuses these first


def _separators(decimal: str, thousands: str | None) -> str:
    names = {None: "no thousands separator", " ": "space as thousands separator"}
    return f"decimal separator '{decimal}', " + names.get(thousands, f"'{thousands}' as thousands separator")


def split_part(text: pa.Array, separator: str, index: int) -> pa.Array:
    """Part `index` of each value split on `separator` (0 = first, -1 = last); null when there is none."""
    parts = pc.split_pattern(text, separator)
    if isinstance(parts, pa.ChunkedArray):
        parts = parts.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = parts.offsets.to_numpy()[:-1].astype(np.int64) if len(parts) else np.zeros(0, np.int64)
    position = np.full(len(parts), index, dtype=np.int64) if index >= 0 else lengths + index
    ok = (position >= 0) & (position < lengths) & pc.is_valid(parts).to_numpy(zero_copy_only=False)
    flat_index = pa.array(np.where(ok, offsets - parts.offsets[0].as_py() + position, 0), mask=~ok)
    return parts.values.slice(parts.offsets[0].as_py()).take(flat_index) if len(parts) else text


def map_values(text: pa.Array, step: Mapping[str, Any], *, target: str) -> tuple[pa.Array, Flag | None]:
    """Replace codes by values from a table; codes not in it are kept, blanked, defaulted or rejected."""
    table: Mapping[str, str | None] = step["values"]
    ignore_case = bool(step.get("ignore_case", False))
    keys = list(table.keys())
    outputs = pa.array(list(table.values()), pa.string())
    probe = lower_text(text) if ignore_case else text
    key_set = pa.array([k.lower() for k in keys] if ignore_case else keys, pa.string())
    index = pc.index_in(probe, value_set=key_set)
    matched = pc.is_valid(index)
    mapped = pc.take(outputs, index)
    otherwise = step.get("else", "keep")
    flag = None
    if otherwise in ("keep", "error"):
        fallback = text
    elif otherwise == "default":
        fallback = pc.if_else(pc.is_valid(text), pa.scalar(step["default"], pa.string()), None)
    else:
        fallback = pa.nulls(len(text), pa.string())
    if otherwise == "error":
        unmapped = _as_mask(pc.and_(pc.invert(matched), pc.is_valid(text)))
        flag = Flag(
            unmapped,
            "UNMAPPED_VALUE",
            lambda v: f"{quote(v)} has no entry in the value map for {target}",
            text,
        )
    return pc.if_else(matched, mapped, fallback), flag

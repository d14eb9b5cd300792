"""Column transforms of a mapping (trim, case, value maps, split, parsing...): pure functions on Arrow text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms import row_messages as said
from dms.errors import Text
from dms.pipeline.prepare.booleans import describe_booleans, format_booleans, parse_booleans
from dms.pipeline.prepare.date_formats import check_date_format, describe_format
from dms.pipeline.prepare.dates import (
    format_dates,
    format_datetimes,
    is_known_timezone,
    parse_dates,
    parse_datetimes,
)
from dms.pipeline.prepare.numbers import check_number_format, parse_numbers
from dms.pipeline.prepare.parsed import FormatError
from dms.pipeline.prepare.rejections import ErrorCode, Flag, flag, quote
from dms.pipeline.prepare.text import is_trimmed, lower_text, to_text

MAP_ELSE = ("keep", "null", "default", "error")  # what a map step does with a code not in its table
# Each op and the keys its step may hold besides "op".
TRANSFORM_KEYS: dict[str, set[str]] = {
    "trim": set(),
    "upper": set(),
    "lower": set(),
    "title": set(),
    "map": {"values", "else", "default", "ignore_case"},
    "replace": {"find", "with"},
    "regex_replace": {"pattern", "with"},
    "split": {"separator", "index"},
    "truncate": {"length"},
    "date": {"format"},
    "datetime": {"format", "timezone"},
    "number": {"decimal", "thousands"},
    "boolean": {"true_values", "false_values"},
}


def apply_transforms(
    values: pa.Array, steps: Sequence[Mapping[str, Any]], *, target: str, timezone: str = "UTC"
) -> tuple[pa.Array, list[Flag]]:
    """Run the transform steps in order on a column (made text first); return text and rejected rows."""
    text = to_text(values)
    flags: list[Flag] = []
    for step in steps:
        text, rejected = apply_transform(text, step, target=target, timezone=timezone)
        if rejected is not None:
            flags.append(rejected)
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
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_DATE,
            lambda v: said.NOT_A_DATE_IN_FORMAT(value=quote(v), format=describe_format(fmt)),
            text,
        )
        return format_dates(parsed.values), rejected
    if op == "datetime":
        fmt = step.get("format")
        parsed = parse_datetimes(text, fmt, timezone=step.get("timezone") or timezone)
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_DATETIME,
            lambda v: said.NOT_A_DATETIME_IN_FORMAT(value=quote(v), format=describe_format(fmt)),
            text,
        )
        return format_datetimes(parsed.values), rejected
    if op == "number":
        decimal, thousands = step.get("decimal", "."), step.get("thousands")
        parsed = parse_numbers(text, decimal=decimal, thousands=thousands)
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_NUMBER,
            lambda v: said.NOT_A_NUMBER(value=quote(v), separators=_separators(decimal, thousands)),
            text,
        )
        return parsed.values, rejected
    if op == "boolean":
        trues, falses = step.get("true_values"), step.get("false_values")
        parsed = parse_booleans(text, true_values=trues, false_values=falses)
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_BOOLEAN,
            lambda v: said.NOT_A_BOOLEAN(value=quote(v), expected=describe_booleans(trues, falses)),
            text,
        )
        return format_booleans(parsed.values), rejected
    raise ValueError(f"unknown transform {op!r}")  # compile_mapping refuses these first (transform_problem)


def _separators(decimal: str, thousands: str | None) -> str:
    if thousands is None:
        return said.SEPARATORS_NO_THOUSANDS(decimal=f"'{decimal}'")
    if thousands == " ":
        return said.SEPARATORS_SPACE(decimal=f"'{decimal}'")
    return said.SEPARATORS(decimal=f"'{decimal}'", thousands=f"'{thousands}'")


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
    rejected = None
    if otherwise in ("keep", "error"):
        fallback = text
    elif otherwise == "default":
        fallback = pc.if_else(pc.is_valid(text), pa.scalar(step["default"], pa.string()), None)
    else:
        fallback = pa.nulls(len(text), pa.string())
    if otherwise == "error":
        rejected = flag(
            pc.and_(pc.invert(matched), pc.is_valid(text)),
            ErrorCode.UNMAPPED_VALUE,
            lambda v: said.UNMAPPED(value=quote(v), field=target),
            text,
        )
    return pc.if_else(matched, mapped, fallback), rejected


def transform_problem(step: Mapping[str, Any]) -> str | Text | None:
    """Why a transform step cannot run, or None."""
    op = step["op"]
    if op == "map":
        values = step.get("values")
        if not isinstance(values, Mapping) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in values.items()
        ):
            return Text("'values' must map text to text (or null)")
        if step.get("else", "keep") not in MAP_ELSE:
            return Text("'else' must be one of %(map_else)s", map_else=", ".join(MAP_ELSE))
        if step.get("else") == "default" and not isinstance(step.get("default"), str):
            return Text("'else': 'default' needs 'default', the value for unmapped codes")
        if not isinstance(step.get("ignore_case", False), bool):
            return Text("'ignore_case' must be true or false")
    elif op == "replace":
        if not isinstance(step.get("find"), str) or not step["find"]:
            return Text("'find' must be non-empty text")
        if not isinstance(step.get("with", ""), str):
            return Text("'with' must be text")
    elif op == "regex_replace":
        pattern = step.get("pattern")
        replacement = step.get("with", "")
        if not isinstance(pattern, str) or not pattern or not isinstance(replacement, str):
            return Text("'pattern' and 'with' must be text")
        try:
            pc.replace_substring_regex(pa.array(["probe"]), pattern, replacement)
        except pa.ArrowInvalid as exc:
            return Text("the pattern is not a valid RE2 regular expression: %(exc)s", exc=exc)
    elif op == "split":
        separator = step.get("separator")
        index = step.get("index")
        if not isinstance(separator, str) or not separator:
            return Text("'separator' must be non-empty text")
        if not isinstance(index, int) or isinstance(index, bool):
            return Text("'index' must be a whole number (0 = first part, -1 = last part)")
    elif op == "truncate":
        length = step.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            return Text("'length' must be a positive whole number")
    elif op in ("date", "datetime"):
        fmt = step.get("format")
        if fmt is not None:
            try:
                check_date_format(fmt)
            except FormatError as exc:
                return exc.text
        timezone = step.get("timezone")
        if timezone is not None and not is_known_timezone(timezone):
            return Text("unknown timezone %(timezone)s", timezone=f"{timezone!r}")
    elif op == "number":
        try:
            check_number_format(step.get("decimal", "."), step.get("thousands"))
        except FormatError as exc:
            return exc.text
    elif op == "boolean":
        for key in ("true_values", "false_values"):
            tokens = step.get(key)
            if tokens is not None and not is_word_list(tokens):
                return Text("'%(key)s' must be a list of words", key=key)
    return None


def is_word_list(tokens: Any) -> bool:
    """Tell whether `tokens` is a list of non-blank words (boolean tokens)."""
    return isinstance(tokens, list) and all(isinstance(t, str) and t.strip() for t in tokens)

"""Booleans as exports write them (Y/N, yes/no, 1/0, 是/否...) and as the Bulk API wants them."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from dms.errors import Text
from dms.pipeline.columns import as_array, is_text
from dms.pipeline.prepare.parsed import FormatError, Parsed, none_invalid, unsupported_type
from dms.pipeline.prepare.text import clean_text, lower_text

TRUE_TOKENS: tuple[str, ...] = ("true", "t", "yes", "y", "1", "1.0", "on", "是", "真", "对")
FALSE_TOKENS: tuple[str, ...] = ("false", "f", "no", "n", "0", "0.0", "off", "否", "假", "错")


def parse_booleans(
    array: pa.Array | pa.ChunkedArray,
    *,
    true_values: Sequence[str] | None = None,
    false_values: Sequence[str] | None = None,
    clean: bool = True,
) -> Parsed:
    """Parse booleans (Y/N, yes/no, true/false, 1/0, 是/否 by default; case-insensitive)."""
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, pa.bool_()), none_invalid(n))
    if pa.types.is_boolean(array.type):
        return Parsed(array, none_invalid(n))
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        one = pc.equal(array, 1)
        zero = pc.equal(array, 0)
        valid = pc.or_(one, zero)
        return Parsed(pc.if_else(valid, one, None), pc.fill_null(pc.invert(valid), False))
    if not is_text(array):
        return unsupported_type(array, pa.bool_())
    trues = [t.strip().lower() for t in (true_values or TRUE_TOKENS)]
    falses = [f.strip().lower() for f in (false_values or FALSE_TOKENS)]
    clash = set(trues) & set(falses)
    if clash:
        raise FormatError(
            Text("boolean tokens %(clash)s are listed as both true and false", clash=sorted(clash))
        )
    text = lower_text(clean_text(array) if clean else array)
    is_true = pc.is_in(text, value_set=pa.array(trues, pa.string()))
    is_false = pc.is_in(text, value_set=pa.array(falses, pa.string()))
    known = pc.or_(is_true, is_false)
    values = pc.if_else(known, is_true, None)
    invalid = pc.and_(pc.invert(known), pc.is_valid(text))
    return Parsed(values, invalid)


def describe_booleans(true_values: Sequence[str] | None, false_values: Sequence[str] | None) -> str:
    """Say which tokens count as true/false (for error messages)."""
    trues = list(true_values or ("yes", "true", "y", "1", "是"))
    falses = list(false_values or ("no", "false", "n", "0", "否"))
    return ", ".join(f"{t}/{f}" for t, f in zip(trues, falses, strict=False))


def format_booleans(values: pa.Array) -> pa.Array:
    """bool -> 'true'/'false' text."""
    return pc.if_else(values, "true", "false")

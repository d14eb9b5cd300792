"""Numbers as exports write them (separators, currency, (123) negatives, exponents) -> canonical decimal text."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.errors import Text
from dms.pipeline.columns import as_array, is_text
from dms.pipeline.prepare.parsed import (
    FormatError,
    Parsed,
    arrow_mask,
    blank_rows,
    none_invalid,
    unsupported_type,
)
from dms.pipeline.prepare.text import (
    clean_text,
    edge_bytes,
    format_floats,
    plain_decimal,
    rows_with,
    text_bytes,
)

_THOUSANDS_CHOICES = (None, ",", ".", " ", "'", "\u00a0", "\u202f", "_")


def _number_regex(decimal: str, thousands: str | None) -> str:
    d = re.escape(decimal)
    if thousands is None:
        whole = r"\d+"
    else:
        # Grouped digits must come in threes so that '1,5' is never read as 15 by mistake.
        t = "[ \u00a0\u202f]" if thousands in (" ", "\u00a0", "\u202f") else re.escape(thousands)
        whole = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)"
    return rf"^[+-]?(?:{whole}(?:{d}\d*)?|{d}\d+)$"


def check_number_format(decimal: str, thousands: str | None) -> None:
    """Raise FormatError unless the separators are a usable pair."""
    if decimal not in (".", ","):
        raise FormatError(
            Text("decimal separator must be '.' or ',', not %(decimal)s", decimal=f"{decimal!r}")
        )
    if thousands not in _THOUSANDS_CHOICES:
        raise FormatError(
            Text(
                "thousands separator %(thousands)s is not one of , . space ' _ or none",
                thousands=f"{thousands!r}",
            )
        )
    if thousands == decimal:
        raise FormatError(Text("the decimal and thousands separators must differ"))


_CURRENCY = r"[$€£¥₹₩₽¤]|(?:US\$|USD|EUR|GBP|CNY|RMB|JPY|CHF|CAD|AUD)"


def parse_numbers(
    array: pa.Array | pa.ChunkedArray, *, decimal: str = ".", thousands: str | None = None, clean: bool = True
) -> Parsed:
    """Parse numbers into canonical decimal text ('-1234.5'); separators are the user's choice."""
    check_number_format(decimal, thousands)
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, pa.string()), none_invalid(n))
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        values = pc.cast(array, pa.string())
        return Parsed(values, none_invalid(n))
    if pa.types.is_floating(array.type):
        finite = pc.fill_null(pc.is_finite(array), True)
        return Parsed(format_floats(array), pc.invert(finite))
    if not is_text(array):
        return unsupported_type(array, pa.string())
    text = clean_text(array) if clean else array
    blank = blank_rows(text)
    strict, plain = _number_shape(text, decimal, thousands)
    if not strict.all():
        loose_rows = arrow_mask(~strict)
        loose, loose_ok = _normalise_loose_numbers(text.filter(loose_rows), decimal, thousands)
        text = pc.replace_with_mask(text, loose_rows, loose)
        strict[~strict] = loose_ok.to_numpy(zero_copy_only=False)
    canonical = text
    if thousands is not None and not plain:
        if thousands in (" ", "\u00a0", "\u202f"):
            canonical = pc.replace_substring_regex(canonical, "[ \u00a0\u202f]", "")
        else:
            canonical = pc.replace_substring(canonical, thousands, "")
    if decimal == ",":
        canonical = _swap_ascii_byte(canonical, ",", ".")
    canonical = _tidy_numbers(canonical)
    accepted = arrow_mask(strict)
    canonical = pc.if_else(accepted, canonical, None)
    return Parsed(canonical, arrow_mask(~strict & ~blank))


def _number_shape(text: pa.Array, decimal: str, thousands: str | None) -> tuple[np.ndarray, bool]:
    """Rows that fit the strict number shape (nulls count as fitting), and whether every fit was plain.

    Plain rows (digits with at most one decimal separator) always fit, whatever the separators, so the
    regex runs only on the rest; a clean export never pays for it.
    """
    n = len(text)
    offsets, data = text_bytes(text)
    not_digit = (data - np.uint8(48)) >= 10  # wraps below '0', so one comparison checks both ends
    separator = data == ord(decimal)
    other = not_digit & ~separator
    lengths = offsets[1:] - offsets[:-1]
    separators = rows_with(separator, offsets) if separator.any() else np.zeros(n, dtype=np.int64)
    plain = (separators <= 1) & (lengths > separators)
    if other.any():
        plain &= rows_with(other, offsets) == 0
    valid = pc.is_valid(text).to_numpy(zero_copy_only=False)
    plain &= valid
    fits = plain | ~valid
    if fits.all():
        return fits, True
    rest = ~fits
    shaped = pc.match_substring_regex(text.filter(arrow_mask(rest)), _number_regex(decimal, thousands))
    fits[rest] = shaped.to_numpy(zero_copy_only=False)
    return fits, False


def _swap_ascii_byte(text: pa.Array, old: str, new: str) -> pa.Array:
    """Replace one ASCII character with another in every value, byte for byte."""
    # An ASCII byte is never part of a multi-byte character, so swapping bytes in one copy of the data
    # gives what pc.replace_substring gives, at a tenth of its cost (it rebuilds every value).
    _, data = text_bytes(text)
    hits = data == ord(old)
    if not hits.any():
        return text
    swapped = data.copy()
    swapped[hits] = ord(new)
    validity, offsets = text.buffers()[:2]
    return pa.Array.from_buffers(
        text.type, len(text), [validity, offsets, pa.py_buffer(swapped)], text.null_count, text.offset
    )


def _tidy_numbers(text: pa.Array) -> pa.Array:
    """Drop '+' signs, leading zeros and a bare trailing decimal point so numbers compare and count right."""
    offsets, data = text_bytes(text)
    first, second, last = edge_bytes(offsets, data)
    plus, zero, minus, point = (np.uint8(ord(c)) for c in "+0-.")
    needs = (first == plus) | (first == zero) | (first == point) | (last == point)
    needs |= (first == minus) & ((second == zero) | (second == point))
    needs &= pc.is_valid(text).to_numpy(zero_copy_only=False)
    if not needs.any():
        return text
    # Only the rows that may change go through the regexes: a '0' or '0.50' here and there is common.
    rows = arrow_mask(needs)
    before = text.filter(rows)
    after = _tidy_all(before)
    if after.equals(before):
        return text
    return pc.replace_with_mask(text, rows, after)


def _tidy_all(text: pa.Array) -> pa.Array:
    """The tidying of `_tidy_numbers` applied to every row (the definition its fast path must match)."""
    tidy = pc.replace_substring_regex(text, r"^\+", "")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)0+(\d)", r"\1\2")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)\.", r"\10.")
    tidy = pc.replace_substring_regex(tidy, r"\.$", "")
    return pc.replace_substring_regex(tidy, r"^-(0(?:\.0*)?)$", r"\1")


def _normalise_loose_numbers(
    text: pa.Array, decimal: str, thousands: str | None
) -> tuple[pa.Array, pa.Array]:
    """Second chance for rows that failed the strict shape: currency signs, (123) negatives, exponents.

    Takes only the failed rows; returns them rewritten and whether each now fits the strict shape.
    """
    loose = pc.replace_substring_regex(text, rf"^(?:{_CURRENCY})\s*|\s*(?:{_CURRENCY})$", "")
    loose = pc.replace_substring_regex(loose, rf"^([+-]?)\s*(?:{_CURRENCY})\s*", r"\1")
    parenthesised = pc.fill_null(pc.match_substring_regex(loose, r"^\(.*\)$"), False)
    loose = pc.if_else(
        parenthesised, pc.binary_join_element_wise("-", pc.utf8_slice_codeunits(loose, 1, -1), ""), loose
    )
    trailing_minus = pc.fill_null(pc.match_substring_regex(loose, r"^[^-+]*\d-$"), False)
    loose = pc.if_else(
        trailing_minus, pc.binary_join_element_wise("-", pc.utf8_slice_codeunits(loose, 0, -1), ""), loose
    )
    loose = pc.utf8_trim_whitespace(loose)
    pattern = _number_regex(decimal, thousands)
    loose_ok = pc.fill_null(pc.match_substring_regex(loose, pattern), True)
    exponent = pc.and_(
        pc.invert(loose_ok),
        pc.fill_null(
            pc.match_substring_regex(loose, r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)[eE][+-]?\d{1,3}$"), False
        ),
    )
    if pc.any(exponent).as_py():
        # Scientific notation is rare in exports (Excel writes it for long numbers): expand exactly.
        rows = pc.indices_nonzero(exponent).to_numpy()
        values = loose.to_pylist()
        ok = loose_ok.to_pylist()
        for row in rows:
            raw = values[row].replace(decimal, ".") if decimal == "," else values[row]
            try:
                plain = plain_decimal(Decimal(raw))
            except InvalidOperation:
                continue
            values[row] = plain.replace(".", decimal) if decimal == "," else plain
            ok[row] = True
        loose = pa.array(values, text.type)
        loose_ok = pa.array(ok, pa.bool_())
    return loose, loose_ok

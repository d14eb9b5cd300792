"""Text columns: trimming, blanks, lower-casing, rendering any column as text, and views of a column's bytes."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.columns import as_array, is_text


def clean_text(array: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings into nulls (blank cells mean 'no value')."""
    if is_trimmed(array):
        return array
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(pc.binary_length(trimmed), 0)
    if not pc.any(blank).as_py():
        return trimmed
    return pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)


def is_trimmed(text: pa.Array | pa.ChunkedArray) -> bool:
    """Tell cheaply whether trimming would change no value of a text column and none is blank."""
    text = as_array(text)
    if not is_text(text) or len(text) == 0:
        return False
    # True only when every non-null value starts and ends with printable ASCII: any other first or last
    # byte (a space, a control, part of a multi-byte character) answers False, never a guess.
    offsets, data = text_bytes(text)
    if len(data) == 0:
        return False
    starts, ends = offsets[:-1], offsets[1:]
    first, last = data.take(starts, mode="clip"), data.take(ends - 1, mode="clip")
    printable = ((first - np.uint8(0x21)) < 94) & ((last - np.uint8(0x21)) < 94)  # 0x21 '!' .. 0x7E '~'
    printable &= ends > starts  # an empty value is blank (and take() read a neighbour's byte for it)
    if printable.all():
        return True
    return bool(printable[pc.is_valid(text).to_numpy(zero_copy_only=False)].all())


def lower_text(text: pa.Array) -> pa.Array:
    """Lower-case a text column (Unicode rules; ASCII-only columns take Arrow's much faster ASCII kernel)."""
    text = as_array(text)
    if is_text(text):
        _, data = text_bytes(text)
        if not (data >= 0x80).any():  # no multi-byte character: ASCII lower-casing is the Unicode one
            return pc.ascii_lower(text)
    return pc.utf8_lower(text)


def to_text(array: pa.Array) -> pa.Array:
    """Render any Arrow column as text the way a person reads it (numbers plain, dates ISO)."""
    array = as_array(array)
    if is_text(array):
        return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_boolean(array.type):
        return pc.if_else(array, "true", "false")
    if pa.types.is_floating(array.type):
        return format_floats(array)
    if pa.types.is_timestamp(array.type):
        return format_timestamps_plain(array)
    if pa.types.is_dictionary(array.type):
        return to_text(array.cast(array.type.value_type))
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        # Nested values (lists, structs from JSON) have no Arrow text cast: render them one by one.
        return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def format_floats(array: pa.Array) -> pa.Array:
    """Format floats as plain decimals (never scientific notation, which Salesforce may misread)."""
    finite = pc.is_finite(array)
    text = pc.cast(pc.if_else(finite, array, None), pa.string())
    scientific = pc.fill_null(pc.match_substring(text, "e"), False)
    if pc.any(scientific).as_py():
        # Rare (|x| >= 1e16 or tiny): expand those few values exactly through Decimal.
        rows = pc.indices_nonzero(scientific).to_numpy()
        values = text.to_pylist()
        for row in rows:
            values[row] = plain_decimal(Decimal(values[row]))
        text = pa.array(values, pa.string())
    return text


def plain_decimal(value: Decimal) -> str:
    """A decimal written out in full ('0.000001', never '1E-6'), without trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def blank_to_null(text: pa.Array) -> pa.Array:
    """Turn values that are empty or only whitespace into nulls, and leave the others as they are."""
    blank = pc.equal(pc.binary_length(pc.utf8_trim_whitespace(text)), 0)
    return pc.if_else(blank, pa.scalar(None, text.type), text)


def format_timestamps_plain(array: pa.Array) -> pa.Array:
    """Format timestamps as 'yyyy-mm-dd HH:MM:SS' wall-clock text (for display and concatenation)."""
    if array.type.tz is not None:
        array = pc.local_timestamp(array)
    return pc.cast(array.cast(pa.timestamp("s")), pa.string())


def text_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row offsets, UTF-8 bytes) of a string array as numpy views: offsets[i]:offsets[i + 1] is row i."""
    n = len(text)
    wide = pa.types.is_large_string(text.type)
    width = 8 if wide else 4
    buffers = text.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if wide else np.int32, count=n + 1, offset=text.offset * width
    ).astype(np.int64)
    data = buffers[2]
    if data is None or data.size == 0:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data, dtype=np.uint8, count=int(offsets[-1]))


def rows_with(hits: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many flagged bytes each row holds, given one bool per byte of the data buffer."""
    # A running count read at the row bounds; int32 on a uint8 view is ~10x faster than bool -> int64.
    count_type = np.int32 if len(hits) < 2**31 - 1 else np.int64
    ends = np.zeros(len(hits) + 1, dtype=count_type)
    np.cumsum(hits.view(np.uint8), out=ends[1:], dtype=count_type)
    return (ends[offsets[1:]] - ends[offsets[:-1]]).astype(np.int64)


def printable_ascii_rows(text: pa.Array) -> np.ndarray:
    """Rows of a text array made only of printable ASCII without spaces ('!' to '~', or empty); False for nulls."""
    offsets, data = text_bytes(text)
    outside = (data - np.uint8(0x21)) >= 94  # wraps below '!', so one comparison checks both ends
    printable = ~pc.is_null(text).to_numpy(zero_copy_only=False)
    if outside.any():
        printable &= rows_with(outside, offsets) == 0
    return printable


def byte_at(text: pa.Array, position: np.ndarray | int) -> np.ndarray:
    """The byte at `position` (per row, or one for all) of every row of a text array; 0 past its end."""
    offsets, data = text_bytes(text)
    if len(data) == 0:
        return np.zeros(len(text), dtype=np.uint8)
    index = offsets[:-1] + position
    return np.where(index < offsets[1:], data.take(index, mode="clip"), 0)


def edge_bytes(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First, second and last byte of every row (0 where the row is too short to have one)."""
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    if len(data) == 0:
        zeros = np.zeros(len(starts), dtype=np.uint8)
        return zeros, zeros, zeros
    # take(mode="clip") keeps a too-short row's index in bounds; np.where then zeroes what it read.
    first = np.where(lengths >= 1, data.take(starts, mode="clip"), 0)
    second = np.where(lengths >= 2, data.take(starts + 1, mode="clip"), 0)
    last = np.where(lengths >= 1, data.take(ends - 1, mode="clip"), 0)
    return first, second, last

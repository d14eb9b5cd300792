"""Arrow column helpers every floor of the pipeline shares (the readers, the preparation, the results)."""

from __future__ import annotations

import pyarrow as pa


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return one contiguous Array for a column that may be chunked; large_string becomes string (a chunk's
    text is far below 2 GB, and the kernels that join texts want one string type)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    return column


def is_text(array: pa.Array | pa.ChunkedArray) -> bool:
    """Tell whether an Arrow array holds text."""
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)

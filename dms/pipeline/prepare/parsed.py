"""What every value parser returns and raises: a Parsed column, or a FormatError for an unusable setting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.errors import DMSError


@dataclass(frozen=True)
class Parsed:
    """A parsed column: typed values (null where blank or invalid) and a mask of invalid non-blank inputs."""

    values: pa.Array
    invalid: pa.BooleanArray


def arrow_mask(values: np.ndarray) -> pa.BooleanArray:
    """A numpy mask as an Arrow boolean array."""
    return pa.array(values, pa.bool_())


def none_invalid(rows: int) -> pa.BooleanArray:
    """The invalid mask of a column in which no value is invalid."""
    return arrow_mask(np.zeros(rows, dtype=bool))


class FormatError(DMSError):
    """A format setting (date format, separators, boolean tokens) that cannot be used."""

    code = "INVALID_FORMAT"


def blank_rows(array: pa.Array) -> np.ndarray:
    """Rows without a value (null), as a numpy mask."""
    return pc.is_null(array).to_numpy(zero_copy_only=False)


def unsupported_type(array: pa.Array, result_type: pa.DataType) -> Parsed:
    """A column of a type the parser cannot read: every value it holds is invalid."""
    present = pc.is_valid(array)
    return Parsed(pa.nulls(len(array), result_type), pc.fill_null(present, False))

"""Rejected rows: the stable error codes, a step's flagged rows, and the worded error of one row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.row_messages import BLANK


class ErrorCode(StrEnum):
    """Stable row error codes (Salesforce's own where it has one)."""

    REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
    STRING_TOO_LONG = "STRING_TOO_LONG"
    INVALID_DATE = "INVALID_DATE"
    INVALID_DATETIME = "INVALID_DATETIME"
    INVALID_TIME = "INVALID_TIME"
    INVALID_NUMBER = "INVALID_NUMBER"
    NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"
    INVALID_BOOLEAN = "INVALID_BOOLEAN"
    INVALID_PICKLIST_VALUE = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    INVALID_EMAIL = "INVALID_EMAIL_ADDRESS"
    INVALID_URL = "INVALID_URL"
    INVALID_ID = "MALFORMED_ID"
    WRONG_ID_TYPE = "FIELD_INTEGRITY_EXCEPTION"
    LOOKUP_NOT_FOUND = "LOOKUP_NOT_FOUND"
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    UNMAPPED_VALUE = "UNMAPPED_VALUE"


@dataclass
class RowError:
    """Why one source row cannot be loaded: one entry per problem."""

    row: int
    column: str | None
    field: str | None
    value: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return dict(self.__dict__)


@dataclass
class Flag:
    """Rows a step rejected: a mask, a stable code, and how to word the message for one value."""

    mask: np.ndarray
    code: str
    message: Callable[[str | None], str]
    shown: pa.Array | None  # the values the step saw, quoted in the message (None: the source cells)


def flag(mask: np.ndarray | pa.Array, code: str, message: Callable[[str | None], str], shown: Any) -> Flag:
    """Flag the rows of `mask` (an Arrow mask's nulls are not flagged) with `code` and a message per value."""
    if isinstance(mask, pa.Array | pa.ChunkedArray):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return Flag(mask=np.asarray(mask, dtype=bool), code=str(code), message=message, shown=shown)


def quote(value: str | None, limit: int = 100) -> str:
    """Quote a value for a message, shortened so one bad cell cannot flood a report."""
    if value is None:
        return BLANK()
    text = value if len(value) <= limit else value[:limit] + "…"
    return f"'{text}'"

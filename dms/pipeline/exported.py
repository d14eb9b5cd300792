"""The files DMS exports, as the reader must recognise them when they come back: their header and the quote
put before formula-like cells.

success.csv and errors.csv are meant to be opened in a spreadsheet, fixed and uploaded again (a retry with a
corrected file, or a new job). A cell that starts like a formula gets a `'` in front of it (against formula
injection); that quote is DMS's, not the data's, so a file that carries DMS's export header has exactly that
quote taken off again on the way in, and DMS's own columns (row numbers, error texts, ids) are not read as
data. Any other file keeps its cells as they are: a value that starts with `'` in a customer's file is data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.csvtext import column_texts
from dms.pipeline.model import ORIGINAL_ROW_COLUMN

# success.csv: these first, then the source's columns. errors.csv: the source's columns, then these
# (Data Loader's convention: the file is the source plus its errors, and goes back in as it is).
SUCCESS_COLUMNS = ["source_row", "salesforce_id", "created"]
ERROR_COLUMNS = ["source_row", "stage", "error_code", "error_message", "fields"]
# What a spreadsheet takes for the start of a formula: = + - @ and | (DDE), their fullwidth forms (＝ is
# read as = by Excel and Sheets), all of them also behind leading spaces (trimmed on import), and a tab, CR or
# LF, which some spreadsheets skip before one. The pattern holds the characters themselves, not escapes, so
# Python's re and Arrow's RE2 read it alike.
_LEADING_SPACES = " \u00a0\u3000"
_FORMULA_CHARACTERS = "=+\\-@|\uff1d\uff0b\uff0d\uff20"
FORMULA_START = f"(?:[\t\r\n]|[{_LEADING_SPACES}]*[{_FORMULA_CHARACTERS}])"
# Which cells get the quote: a formula start, and also a formula start behind quotes of the data's own, so
# that `=x` and `'=x` never export alike (`'=x` and `''=x`) and each comes back as it was.
_NEEDS_PREFIX = f"^'*{FORMULA_START}"
_HAS_PREFIX = f"^'+{FORMULA_START}"
_STARTS_LIKE_A_FORMULA = re.compile(FORMULA_START)


class ExportKind(StrEnum):
    """The kinds of file DMS exports."""

    SUCCESS = "success"
    ERRORS = "errors"


def neutralise(value: str) -> str:
    """Defuse spreadsheet formula injection: a cell that starts like a formula is prefixed with a quote."""
    return "'" + value if _STARTS_LIKE_A_FORMULA.match(value.lstrip("'")) else value


def restore(value: str) -> str:
    """The value neutralise was given (a value without DMS's quote, as a spreadsheet may save it, is kept)."""
    starts_like_a_formula = _STARTS_LIKE_A_FORMULA.match(value.lstrip("'"))
    return value[1:] if value.startswith("'") and starts_like_a_formula else value


def safe_texts(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """column_texts with every cell neutralised, checked by Arrow kernels rather than a Python call per cell."""
    texts = column_texts(column)
    risky = pc.match_substring_regex(texts, _NEEDS_PREFIX)
    if not pc.any(risky).as_py():
        return texts
    return pc.if_else(risky, pc.binary_join_element_wise("'", texts, ""), texts)


def restored_texts(texts: pa.Array) -> pa.Array:
    """A text column of an exported file with DMS's quote taken off (column-wise restore)."""
    marked = pc.fill_null(pc.match_substring_regex(texts, _HAS_PREFIX), False)
    if not pc.any(marked).as_py():
        return texts
    return pc.if_else(marked, pc.utf8_slice_codeunits(texts, 1), texts)


@dataclass(frozen=True)
class ExportLayout:
    """Where the source's values are in a file DMS exported, and what they are called once read back."""

    kind: ExportKind
    values: list[int]  # positions of the source's columns in the file's header
    source_row: int  # position of DMS's source_row
    columns: list[str]  # the columns as read back: the source's own, then where each row came from
    adds_source_row: bool  # DMS's source_row is read back as ORIGINAL_ROW_COLUMN (unless the source has one)


def export_layout(header: list[str]) -> ExportLayout | None:
    """The layout of a file whose header is DMS's export header (None for any other file)."""
    width = len(header)
    if width > len(ERROR_COLUMNS) and header[-len(ERROR_COLUMNS) :] == ERROR_COLUMNS:
        source_row = width - len(ERROR_COLUMNS)
        kind, values = ExportKind.ERRORS, list(range(source_row))
    elif width > len(SUCCESS_COLUMNS) and header[: len(SUCCESS_COLUMNS)] == SUCCESS_COLUMNS:
        kind, values, source_row = ExportKind.SUCCESS, list(range(len(SUCCESS_COLUMNS), width)), 0
    else:
        return None
    names = [restore(header[i]) for i in values]
    # A retry's file already says where its rows came from in the first job: that is kept.
    adds = ORIGINAL_ROW_COLUMN not in names
    columns = [*names, ORIGINAL_ROW_COLUMN] if adds else names
    return ExportLayout(
        kind=kind, values=values, source_row=source_row, columns=columns, adds_source_row=adds
    )

"""Cutting a stream of rows into deterministic chunks of exactly chunk_rows rows, each with its problems, and
cutting chunks of wide rows again so that none holds more than chunk_bytes of text."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.columns import is_text
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.contract import Chunk, RowProblem


class RecordNumbering:
    """Gives the rows a reader kept their 1-based record numbers, knowing the numbers of those it skipped."""

    def __init__(self) -> None:
        self.next_record = 1
        self._skipped: deque[int] = deque()

    def skip(self, record: int) -> None:
        """Note a record the reader dropped (reported as a problem); records are noted in order."""
        self._skipped.append(record)

    def take(self, count: int) -> np.ndarray:
        """The record numbers of the next `count` kept rows."""
        start = self.next_record
        end = start + count
        dropped: list[int] = []
        # One step per skipped record, never per row: the rows themselves are numbered by numpy.
        while self._skipped and self._skipped[0] < end:
            record = self._skipped.popleft()
            if record >= start:
                dropped.append(record)
                end += 1
        numbers = np.arange(start, end, dtype=np.int64)
        if dropped:
            numbers = np.delete(numbers, np.asarray(dropped, dtype=np.int64) - start)
        self.next_record = end
        return numbers


class ChunkAssembler:
    """Collects numbered tables and problems; hands out chunks of exactly chunk_rows rows (the last smaller).

    Chunk boundaries depend only on the rows, never on how the reader happened to batch them, so chunk n is
    the same rows on every read. A chunk carries the problems numbered after the previous chunk's last row up
    to its own last row; problems after the last row go with the last chunk.
    """

    def __init__(self, chunk_rows: int, empty_schema: pa.Schema, max_bytes: int | None = None) -> None:
        self.chunk_rows = chunk_rows
        # Also cut at this much text, for readers whose rows can weigh far more in memory than on disk (a
        # Parquet dictionary value repeated on every row): the chunk is cut before it is held, not after.
        self.max_bytes = max_bytes
        self._empty_schema = empty_schema
        self._parts: list[pa.Table] = []
        self._buffered = 0
        self._bytes = 0
        self._problems: list[RowProblem] = []
        self._next_index = 0
        self._schema: pa.Schema | None = None

    def add(self, table: pa.Table, problems: Sequence[RowProblem] = ()) -> Iterator[Chunk]:
        """Add rows (with their __row__ column) and problems; yield every chunk that is now complete."""
        self._problems.extend(problems)
        if table.num_rows:
            self._parts.append(table)
            self._buffered += table.num_rows
            self._schema = table.schema
            if self.max_bytes is not None:
                self._bytes += int(row_bytes(table).sum())
        while self._buffered >= self.chunk_rows or self._over_bytes():
            yield self._cut(self._rows_to_cut())

    def finish(self) -> Iterator[Chunk]:
        """Yield the last, short chunk; and the trailing problems, in an empty chunk if no rows are left."""
        if self._buffered or self._problems:
            yield self._cut(self._buffered, last=True)

    def _over_bytes(self) -> bool:
        return self.max_bytes is not None and self._buffered > 0 and self._bytes > self.max_bytes

    def _rows_to_cut(self) -> int:
        """chunk_rows, or fewer when they would weigh more than max_bytes (at least one row)."""
        if self.max_bytes is None or not self._over_bytes():
            return self.chunk_rows
        ends = np.cumsum(row_bytes(self._buffered_table()))
        fitting = int(np.searchsorted(ends, self.max_bytes, side="right"))
        return max(1, min(self.chunk_rows, fitting))

    def _buffered_table(self) -> pa.Table:
        if self._parts:
            self._parts = [self._parts[0] if len(self._parts) == 1 else pa.concat_tables(self._parts)]
            return self._parts[0]
        return (self._schema or self._empty_schema).empty_table()

    def _cut(self, rows: int, last: bool = False) -> Chunk:
        buffered = self._buffered_table()
        table = buffered.slice(0, rows)
        rest = buffered.slice(rows)
        self._parts = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows
        if self.max_bytes is not None:
            self._bytes = int(row_bytes(rest).sum()) if rest.num_rows else 0
        problems, self._problems = split_problems(self._problems, table, last)
        problems.sort(key=lambda problem: problem.row)
        chunk = Chunk(index=self._next_index, table=table, problems=problems)
        self._next_index += 1
        return chunk


class RecordAssembler:
    """Collects Python records and problems; hands out chunks of exactly chunk_rows rows (the last smaller).

    For the readers that parse record by record (Excel, JSON): each chunk carries the problems met since the
    previous one, and the problems after the last record go in a last chunk of their own.
    """

    def __init__(self, columns: list[str], chunk_rows: int) -> None:
        self.columns = columns
        self.chunk_rows = chunk_rows
        self._records: list[list[object]] = []
        self._numbers: list[int] = []
        self._problems: list[RowProblem] = []
        self._next_index = 0

    def problem(self, problem: RowProblem) -> None:
        """Note a record that was not read; it goes with the chunk being filled."""
        self._problems.append(problem)

    def add(self, number: int, record: list[object]) -> Iterator[Chunk]:
        """Add record `number` (one value per column); yield the chunk it completes, if it does."""
        self._records.append(record)
        self._numbers.append(number)
        if len(self._records) == self.chunk_rows:
            yield self._cut()

    def finish(self) -> Iterator[Chunk]:
        """Yield the last, short chunk, or the trailing problems in an empty one."""
        if self._records or self._problems:
            yield self._cut()

    def _cut(self) -> Chunk:
        if self._records:
            table = table_from_records(self.columns, self._records, self._numbers)
        else:
            table = pa.schema(
                [pa.field(name, pa.null()) for name in self.columns] + [pa.field(ROW_COLUMN, pa.int64())]
            ).empty_table()
        chunk = Chunk(self._next_index, table, self._problems)
        self._next_index += 1
        self._records, self._numbers, self._problems = [], [], []
        return chunk


TYPED_VALUE_BYTES = 24  # a number, date or boolean as text: an upper bound is enough for a size cap


def row_bytes(table: pa.Table) -> np.ndarray:
    """Each row's size as CSV text, about: its texts' UTF-8 bytes, a bound for typed values, delimiters."""
    sizes = np.full(table.num_rows, table.num_columns, dtype=np.int64)
    for name in table.column_names:
        if name == ROW_COLUMN:
            continue
        column = table.column(name)
        if is_text(column):
            lengths = pc.fill_null(pc.binary_length(column), 0)
            sizes += lengths.to_numpy().astype(np.int64, copy=False)
        else:
            sizes += TYPED_VALUE_BYTES
    return sizes


def bounded_by_bytes(chunks: Iterator[Chunk], max_bytes: int) -> Iterator[Chunk]:
    """Split every chunk whose rows hold more than max_bytes of text into consecutive pieces, numbered on.

    Deterministic like the chunks themselves: the cuts depend only on the rows' sizes, so chunk n is the same
    rows on every read. A row larger than max_bytes on its own is a piece of one row.
    """
    index = 0
    for chunk in chunks:
        for piece in _pieces(chunk, max_bytes):
            yield Chunk(index=index, table=piece.table, problems=piece.problems)
            index += 1


def _pieces(chunk: Chunk, max_bytes: int) -> Iterator[Chunk]:
    table = chunk.table
    sizes = row_bytes(table)
    if int(sizes.sum()) <= max_bytes:
        yield chunk
        return
    ends = np.cumsum(sizes)
    start, consumed = 0, 0
    problems = list(chunk.problems)
    while start < table.num_rows:
        end = max(start + 1, int(np.searchsorted(ends, consumed + max_bytes, side="right")))
        piece = table.slice(start, end - start)
        mine, problems = split_problems(problems, piece, last=end >= table.num_rows)
        yield Chunk(index=chunk.index, table=piece, problems=mine)
        consumed = int(ends[end - 1])
        start = end


def split_problems(
    problems: list[RowProblem], table: pa.Table, last: bool
) -> tuple[list[RowProblem], list[RowProblem]]:
    """(the problems that go with `table`, the rest): those numbered up to its last row; all of them when it
    is the last chunk or has no rows."""
    if last or not table.num_rows:
        return problems, []
    last_row = table.column(ROW_COLUMN)[-1].as_py()
    return [p for p in problems if p.row <= last_row], [p for p in problems if p.row > last_row]


def with_row_numbers(table: pa.Table | pa.RecordBatch, numbers: np.ndarray) -> pa.Table:
    """The table with the __row__ column appended."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    return table.append_column(pa.field(ROW_COLUMN, pa.int64()), pa.array(numbers, pa.int64()))


def table_from_records(columns: list[str], records: list[list[object]], numbers: list[int]) -> pa.Table:
    """A table from Python rows: each column keeps its native Arrow type, or becomes strings when mixed."""
    arrays = [
        column_from_values([record[position] for record in records]) for position in range(len(columns))
    ]
    arrays.append(pa.array(numbers, pa.int64()))
    return pa.Table.from_arrays(arrays, names=[*columns, ROW_COLUMN])


def column_from_values(values: list[object]) -> pa.Array:
    """One column from Python values: ints with floats become float64; any other mix becomes strings."""
    kinds = {_kind(value) for value in values if value is not None}
    if len(kinds) > 1 and kinds != {"int", "float"}:
        return pa.array([None if value is None else value_text(value) for value in values], pa.string())
    try:
        if kinds == {"int", "float"}:
            return pa.array([None if value is None else float(value) for value in values], pa.float64())  # type: ignore[arg-type]
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError):
        # e.g. an integer beyond int64, or naive and aware datetimes mixed: keep every value, as text.
        return pa.array([None if value is None else value_text(value) for value in values], pa.string())


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime" if value.tzinfo is None else "datetime_tz"
    return type(value).__name__


def value_text(value: object) -> str:
    """A value as text for a column that mixes types: ISO dates, true/false, JSON for nested data."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)

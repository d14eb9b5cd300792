"""Parquet: streamed by row group through pyarrow, columns keep their native types.

A small Parquet file can decode to gigabytes: one dictionary entry of 16 MiB referenced by every row, or a
page that compresses a thousand times. So the footer is checked before any page is decoded (each column
chunk's uncompressed size), each row group's page headers before it is read (each page's inflated size),
dictionary-encoded text is read as dictionaries whose values are checked against the cell limit before they
are expanded, and chunks are cut at chunk_bytes as they are assembled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dms.errors import Text
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.chunking import ChunkAssembler, with_row_numbers
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadLimits,
    ReadOptions,
    SourceInfo,
    unique_column_names,
)
from dms.pipeline.source.pages import PAGE_TYPES, BadPageHeader, page_headers

MAX_BATCH_ROWS = 65_536


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """Column names from the Parquet footer, after its sizes are checked; no rows are read."""
    parquet_file = _open(path)
    _check_footer(path, parquet_file, options.limits)
    warnings: list[str] = []
    columns = unique_column_names(list(parquet_file.schema_arrow.names), warnings)
    return SourceInfo(format="parquet", columns=columns, warnings=warnings)


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """Stream record batches and cut them into chunks of chunk_rows rows (fewer past chunk_bytes)."""
    plan = _check_footer(path, _open(path), options.limits)
    parquet_file = _open(path, plan.dictionary_columns)
    schema = parquet_file.schema_arrow
    if len(schema.names) != len(info.columns):
        raise ReadError(
            "SOURCE_CHANGED",
            Text(
                "The file has %(count)s columns but was sniffed with %(sniffed)s; sniff it again.",
                count=len(schema.names),
                sniffed=len(info.columns),
            ),
            file=path,
        )
    fields = [pa.field(name, _value_type(f.type)) for name, f in zip(info.columns, schema, strict=True)]
    empty = pa.schema(fields).append(pa.field(ROW_COLUMN, pa.int64()))
    assembler = ChunkAssembler(options.chunk_rows, empty, max_bytes=options.chunk_bytes)
    next_row = 1
    try:
        for batch in _batches(path, parquet_file, plan, options):
            columns = [
                _checked(path, name, column, next_row, options.limits.max_cell_bytes)
                for name, column in zip(info.columns, batch.columns, strict=True)
            ]
            numbers = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
            for start, length in _pieces(columns, options.chunk_bytes):
                piece = pa.RecordBatch.from_arrays(
                    [_expanded(column.slice(start, length)) for column in columns], names=info.columns
                )
                yield from assembler.add(with_row_numbers(piece, numbers[start : start + length]))
            next_row += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            "CORRUPT_FILE",
            Text("The Parquet file is damaged near row %(next_row)s: %(exc)s", next_row=next_row, exc=exc),
            file=path,
            row=next_row,
        ) from exc
    yield from assembler.finish()


def _batches(
    path: str | os.PathLike[str], parquet_file: pq.ParquetFile, plan: _ReadPlan, options: ReadOptions
) -> Iterator[pa.RecordBatch]:
    """The file's record batches, row group by row group, each group's page headers checked before it is read
    (so a preview checks only the groups it reads)."""
    metadata = parquet_file.metadata
    with open(path, "rb") as source:
        for group in range(metadata.num_row_groups):
            largest = _check_pages(
                path, source, metadata.row_group(group), group, options.limits.parquet_max_page_bytes
            )
            rows = min(options.chunk_rows, MAX_BATCH_ROWS)
            if plan.delta_columns:
                # A DELTA_BYTE_ARRAY value shares a prefix with the one before it, so each can be as long as its
                # page, on every row; pyarrow cannot read such columns as dictionaries, so the batch is sized
                # so that its rows hold at most chunk_bytes even then.
                per_row = sum(largest.get(name, 0) for name in plan.delta_columns)
                rows = max(1, min(rows, options.chunk_bytes // max(per_row, 1)))
            yield from parquet_file.iter_batches(batch_size=rows, row_groups=[group], use_threads=False)


def _check_pages(
    path: str | os.PathLike[str], source: BinaryIO, group: pq.RowGroupMetaData, index: int, limit: int
) -> dict[str, int]:
    """Refuse a page whose header says it inflates past the limit, before pyarrow allocates it; the largest
    page of each column."""
    largest: dict[str, int] = {}
    for column_index in range(group.num_columns):
        chunk = group.column(column_index)
        start = chunk.data_page_offset
        if chunk.has_dictionary_page and 0 < chunk.dictionary_page_offset < start:
            start = chunk.dictionary_page_offset
        try:
            for header in page_headers(source, start, chunk.total_compressed_size):
                name = chunk.path_in_schema
                largest[name] = max(largest.get(name, 0), header.uncompressed_size)
                if header.uncompressed_size > limit:
                    raise ReadError(
                        "PARQUET_PAGE_TOO_LARGE",
                        Text(
                            "Column %(path_in_schema)s has a %(page_types)s in row group %(number)s that inflates to "
                            "%(uncompressed_size)s bytes, over the limit of %(limit)s for one page (setting "
                            "DMS_PARQUET_MAX_PAGE_BYTES); writers cut pages at about 1 MiB. Write the file again "
                            "(pyarrow's data_page_size), or leave out the column.",
                            path_in_schema=f"{chunk.path_in_schema!r}",
                            page_types=PAGE_TYPES.get(header.kind, "page"),
                            number=index + 1,
                            uncompressed_size=f"{header.uncompressed_size:,}",
                            limit=f"{limit:,}",
                        ),
                        file=path,
                        column=chunk.path_in_schema,
                        limit=limit,
                    )
        except BadPageHeader as exc:
            raise ReadError(
                "CORRUPT_FILE",
                Text(
                    "The Parquet file is damaged: column %(path_in_schema)s of row group %(number)s has "
                    "%(exc)s.",
                    path_in_schema=f"{chunk.path_in_schema!r}",
                    number=index + 1,
                    exc=exc,
                ),
                file=path,
                column=chunk.path_in_schema,
            ) from exc
    return largest


@dataclass(frozen=True)
class _ReadPlan:
    """How the footer says the file may be read: which columns as dictionaries, which are delta-encoded."""

    dictionary_columns: list[str]
    delta_columns: list[str]


def _check_footer(
    path: str | os.PathLike[str], parquet_file: pq.ParquetFile, limits: ReadLimits
) -> _ReadPlan:
    """Refuse a column chunk whose uncompressed size is over the limit, from the footer alone; and plan the
    read so that no text value is expanded before its size is known."""
    metadata = parquet_file.metadata
    text_columns = {
        name
        for name in parquet_file.schema_arrow.names
        if _is_binary(parquet_file.schema_arrow.field(name).type)
    }
    dictionary: set[str] = set()
    delta: set[str] = set()
    limit = limits.parquet_max_column_chunk_bytes
    for group_index in range(metadata.num_row_groups):
        group = metadata.row_group(group_index)
        for column_index in range(group.num_columns):
            chunk = group.column(column_index)
            name = chunk.path_in_schema
            if chunk.total_uncompressed_size > limit:
                raise ReadError(
                    "PARQUET_COLUMN_TOO_LARGE",
                    Text(
                        "Column %(name)s holds %(total_uncompressed_size)s bytes uncompressed in row group "
                        "%(number)s, over the limit of %(limit)s for one column of one row group (setting "
                        "DMS_PARQUET_MAX_COLUMN_CHUNK_BYTES). Write the file with smaller row groups "
                        "(row_group_size in pyarrow and pandas).",
                        name=f"{name!r}",
                        total_uncompressed_size=f"{chunk.total_uncompressed_size:,}",
                        number=group_index + 1,
                        limit=f"{limit:,}",
                    ),
                    file=path,
                    column=name,
                    limit=limit,
                )
            if name not in text_columns:
                continue
            if "DELTA_BYTE_ARRAY" in chunk.encodings:
                delta.add(name)
            elif chunk.has_dictionary_page:
                dictionary.add(name)
    return _ReadPlan(
        dictionary_columns=sorted(dictionary - delta),
        delta_columns=sorted(delta),
    )


def _checked(
    path: str | os.PathLike[str], name: str, column: pa.Array, first_row: int, limit: int
) -> pa.Array:
    """The column, or CELL_TOO_LARGE naming it and the row when one of its values is over the cell limit."""
    if isinstance(column, pa.DictionaryArray):
        lengths = pc.binary_length(column.dictionary)
        if len(lengths) == 0 or pc.max(lengths).as_py() <= limit:
            return column
        sizes = pc.take(lengths, column.indices)
    elif _is_binary(column.type):
        sizes = pc.binary_length(column)
    else:
        return column
    largest = pc.max(sizes).as_py()
    if largest is None or largest <= limit:
        return column
    row = first_row + int(pc.index(pc.greater(sizes, limit), True).as_py())
    raise ReadError(
        "CELL_TOO_LARGE",
        Text(
            "Column %(name)s holds a value of %(largest)s bytes in row %(row)s, over the limit of "
            "%(limit)s bytes for one cell (setting DMS_READ_MAX_CELL_BYTES); no Salesforce field "
            "holds more than 131,072 characters. Leave the column out of the export, or shorten its "
            "values.",
            name=f"{name!r}",
            largest=f"{largest:,}",
            row=row,
            limit=f"{limit:,}",
        ),
        file=path,
        row=row,
        column=name,
        limit=limit,
    )


def _pieces(columns: list[pa.Array], max_bytes: int) -> Iterator[tuple[int, int]]:
    """(start, length) of consecutive row ranges whose dictionary text expands to at most max_bytes each."""
    rows = len(columns[0]) if columns else 0
    sizes = np.zeros(rows, dtype=np.int64)
    for column in columns:
        if isinstance(column, pa.DictionaryArray):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
            sizes += pc.fill_null(lengths, 0).to_numpy().astype(np.int64, copy=False)
    if int(sizes.sum()) <= max_bytes:
        yield 0, rows
        return
    ends = np.cumsum(sizes)
    start, consumed = 0, 0
    while start < rows:
        end = max(start + 1, int(np.searchsorted(ends, consumed + max_bytes, side="right")))
        yield start, end - start
        consumed = int(ends[end - 1])
        start = end


def _expanded(column: pa.Array) -> pa.Array:
    """A dictionary column as its plain values (the readers hand out values, not codes)."""
    if isinstance(column, pa.DictionaryArray):
        return column.cast(column.type.value_type)
    return column


def _value_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _is_binary(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _open(path: str | os.PathLike[str], dictionary_columns: list[str] | None = None) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, read_dictionary=dictionary_columns or None)
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            "CORRUPT_FILE",
            Text("The file is not a readable Parquet file: %(exc)s. Export it again.", exc=exc),
            file=path,
        ) from exc

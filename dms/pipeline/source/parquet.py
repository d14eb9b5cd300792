"""Parquet: streamed by row group through pyarrow, columns keep their native types."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.chunking import ChunkAssembler, with_row_numbers
from dms.pipeline.source.contract import Chunk, ReadError, ReadOptions, SourceInfo, unique_column_names


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """Column names from the Parquet footer; no rows are read."""
    parquet_file = _open(path)
    warnings: list[str] = []
    columns = unique_column_names(list(parquet_file.schema_arrow.names), warnings)
    return SourceInfo(format="parquet", columns=columns, warnings=warnings)


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """Stream record batches and cut them into chunks of exactly chunk_rows rows."""
    parquet_file = _open(path)
    schema = parquet_file.schema_arrow
    if len(schema.names) != len(info.columns):
        raise ReadError(
            "SOURCE_CHANGED",
            f"The file has {len(schema.names)} columns but was sniffed with {len(info.columns)}; sniff it again.",
            file=path,
        )
    empty = pa.schema([pa.field(name, f.type) for name, f in zip(info.columns, schema, strict=True)])
    assembler = ChunkAssembler(options.chunk_rows, empty.append(pa.field(ROW_COLUMN, pa.int64())))
    next_row = 1
    try:
        for batch in parquet_file.iter_batches(batch_size=min(options.chunk_rows, 65_536), use_threads=False):
            renamed = pa.RecordBatch.from_arrays(batch.columns, names=info.columns)
            numbers = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
            next_row += batch.num_rows
            yield from assembler.add(with_row_numbers(renamed, numbers))
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            "CORRUPT_FILE", f"The Parquet file is damaged near row {next_row}: {exc}", file=path, row=next_row
        ) from exc
    yield from assembler.finish()


def _open(path: str | os.PathLike[str]) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ReadError(
            "CORRUPT_FILE", f"The file is not a readable Parquet file: {exc}. Export it again.", file=path
        ) from exc

"""The source floor: any supported export in, deterministic Arrow chunks out.

Call `sniff` to learn what a file is, `read_sample` for a cheap preview, and `read_chunks` to stream it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from dms.pipeline.columns import is_text
from dms.pipeline.csvtext import column_texts
from dms.pipeline.exported import ExportLayout, export_layout, restore, restored_texts
from dms.pipeline.model import ORIGINAL_ROW_COLUMN, ROW_COLUMN
from dms.pipeline.source import delimited, excel, jsonl, parquet, pickled
from dms.pipeline.source.chunking import bounded_by_bytes
from dms.pipeline.source.contract import (
    BadReadOption,
    Chunk,
    ReadError,
    ReadLimits,
    ReadOptions,
    RowProblem,
    Sample,
    SourceInfo,
    check_readable,
    validated_options,
)
from dms.pipeline.source.detect import detect_format, extension_format
from dms.row_messages import DMS_EXPORT, MISNAMED_FILE

__all__ = [
    "BadReadOption",
    "Chunk",
    "ReadError",
    "ReadLimits",
    "ReadOptions",
    "RowProblem",
    "Sample",
    "SourceInfo",
    "detect_format",
    "read_chunks",
    "read_head",
    "read_sample",
    "sniff",
    "validated_options",
]

log = logging.getLogger(__name__)

_READERS: dict[str, ModuleType] = {
    "csv": delimited,
    "excel": excel,
    "json": jsonl,
    "ndjson": jsonl,
    "parquet": parquet,
    "pickle": pickled,
}


def sniff(path: str | os.PathLike[str], options: ReadOptions | None = None) -> SourceInfo:
    """Detect the file's format, encoding, delimiter, sheet and columns without reading it all."""
    options = validated_options(options, path)
    check_readable(path)
    fmt = options.format
    if fmt is None:
        with open(path, "rb") as source:
            fmt = detect_format(path, source.read(4096))
    info: SourceInfo = _READERS[fmt].describe(path, _with_format(options, fmt))
    named_as = extension_format(path)
    if options.format is None and named_as not in (None, fmt) and {named_as, fmt} != {"json", "ndjson"}:
        info.warnings.append(MISNAMED_FILE(suffix=repr(Path(path).suffix), format=fmt))
    _recognise_export(info)
    log.info(
        "reader=sniff file=%s format=%s encoding=%s confidence=%s delimiter=%r columns=%d warnings=%d",
        Path(path).name,
        info.format,
        info.encoding,
        info.encoding_confidence,
        info.delimiter,
        len(info.columns),
        len(info.warnings),
    )
    return info


def read_chunks(
    path: str | os.PathLike[str], options: ReadOptions | None = None, info: SourceInfo | None = None
) -> Iterator[Chunk]:
    """Stream the file as chunks of options.chunk_rows rows (fewer where the rows are wide: at most
    options.chunk_bytes of text); pass the `info` sniff returned to skip sniffing."""
    options = validated_options(options, path)
    if info is None:
        info = sniff(path, options)
    options = _with_format(options, info.format)
    chunks = bounded_by_bytes(
        _READERS[info.format].iter_chunks(path, options, _as_in_file(info)), options.chunk_bytes
    )
    layout = _layout(info)
    yield from chunks if layout is None else (_read_back(chunk, layout) for chunk in chunks)


def read_sample(
    path: str | os.PathLike[str], options: ReadOptions | None = None, rows: int = 20
) -> tuple[SourceInfo, pa.Table]:
    """The file's SourceInfo and its first `rows` rows (with __row__), reading no more than that needs."""
    head = read_head(path, options, rows)
    return head.info, head.table


def read_head(path: str | os.PathLike[str], options: ReadOptions | None = None, rows: int = 20) -> Sample:
    """The file's first `rows` rows with the rows among them that could not be read, reading no more than that
    needs."""
    options = validated_options(options, path)
    info = sniff(path, options)
    sample_options = _with_format(options, info.format)
    sample_options.chunk_rows = max(1, rows)
    chunks = _READERS[info.format].iter_chunks(path, sample_options, _as_in_file(info))
    try:
        first = next(chunks, None)
        # A chunk short of chunk_rows is the last one (the file ended within the sample), unless the reader
        # cut it at chunk_bytes (Parquet does): the next one, if any, tells.
        whole = first is None or (
            first.table.num_rows < sample_options.chunk_rows and next(chunks, None) is None
        )
    finally:
        chunks.close()
    if first is None:
        return Sample(info, _empty_table(info), [], whole=True)
    layout = _layout(info)
    if layout is not None:
        first = _read_back(first, layout)
    return Sample(info, first.table.slice(0, rows), list(first.problems), whole=whole)


# ---- files DMS exported, coming back -----------------------------------------------------------------


def _recognise_export(info: SourceInfo) -> None:
    """A file with DMS's export header is read as the source it was exported from (see exported.py)."""
    layout = export_layout(info.columns)
    if layout is None:
        return
    info.export, info.file_columns, info.columns = layout.kind, info.columns, layout.columns
    info.warnings.append(
        DMS_EXPORT(
            kind=layout.kind, columns=", ".join(_dms_columns(info, layout)), original=ORIGINAL_ROW_COLUMN
        )
    )


def _dms_columns(info: SourceInfo, layout: ExportLayout) -> list[str]:
    kept = set(layout.values)
    return [name for i, name in enumerate(info.file_columns) if i not in kept]


def _layout(info: SourceInfo) -> ExportLayout | None:
    return export_layout(info.file_columns) if info.export else None


def _as_in_file(info: SourceInfo) -> SourceInfo:
    """The info a reader reads the file by: the header as it is in the file."""
    return dataclasses.replace(info, columns=info.file_columns) if info.export else info


def _read_back(chunk: Chunk, layout: ExportLayout) -> Chunk:
    """A chunk of an exported file as the source's rows: DMS's columns out, DMS's quotes off."""
    table = chunk.table
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for position, name in zip(layout.values, layout.columns, strict=False):
        column = table.column(position)
        columns[name] = restored_texts(column) if is_text(column) else column
    if layout.adds_source_row:
        columns[ORIGINAL_ROW_COLUMN] = column_texts(table.column(layout.source_row))
    columns[ROW_COLUMN] = table.column(ROW_COLUMN)
    for problem in chunk.problems:
        if problem.values is not None:
            fields = problem.values
            problem.values = [restore(fields[i]) for i in layout.values if i < len(fields)]
            if layout.adds_source_row and layout.source_row < len(fields):
                problem.values += [""] * (len(layout.values) - len(problem.values)) + [
                    fields[layout.source_row]
                ]
    return Chunk(index=chunk.index, table=pa.table(columns), problems=chunk.problems)


def _with_format(options: ReadOptions, fmt: str) -> ReadOptions:
    copy = ReadOptions(**vars(options))
    copy.format = fmt
    return copy


def _empty_table(info: SourceInfo) -> pa.Table:
    fields = [pa.field(name, pa.string()) for name in info.columns] + [pa.field(ROW_COLUMN, pa.int64())]
    return pa.schema(fields).empty_table()

"""The source floor: any supported export in, deterministic Arrow chunks out.

Call `sniff` to learn what a file is, `read_sample` for a cheap preview, and `read_chunks` to stream it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source import delimited, excel, jsonl, parquet, pickled
from dms.pipeline.source.chunking import bounded_by_bytes
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadOptions,
    RowProblem,
    Sample,
    SourceInfo,
    check_readable,
    validated_options,
)
from dms.pipeline.source.detect import detect_format, extension_format

__all__ = [
    "Chunk",
    "ReadError",
    "ReadOptions",
    "RowProblem",
    "Sample",
    "SourceInfo",
    "detect_format",
    "read_chunks",
    "read_head",
    "read_sample",
    "sniff",
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
        info.warnings.append(
            f"The file is named {Path(path).suffix!r} but holds {fmt} data; it was read as {fmt}."
        )
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
    yield from bounded_by_bytes(_READERS[info.format].iter_chunks(path, options, info), options.chunk_bytes)


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
    chunks = _READERS[info.format].iter_chunks(path, sample_options, info)
    try:
        first = next(chunks, None)
    finally:
        chunks.close()
    if first is None:
        return Sample(info, _empty_table(info), [], whole=True)
    # A chunk short of chunk_rows is the last one: the file ended within the sample.
    whole = first.table.num_rows < sample_options.chunk_rows
    return Sample(info, first.table.slice(0, rows), list(first.problems), whole=whole)


def _with_format(options: ReadOptions, fmt: str) -> ReadOptions:
    copy = ReadOptions(**vars(options))
    copy.format = fmt
    return copy


def _empty_table(info: SourceInfo) -> pa.Table:
    fields = [pa.field(name, pa.string()) for name in info.columns] + [pa.field(ROW_COLUMN, pa.int64())]
    return pa.schema(fields).empty_table()

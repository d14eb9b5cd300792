"""Delimited text (CSV, TSV, TXT, pipe...): streamed through pyarrow's CSV reader, every column a string."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dms.errors import Text
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.source.chunking import ChunkAssembler, RecordNumbering, with_row_numbers
from dms.pipeline.source.contract import (
    RAW_TEXT_LIMIT,
    Chunk,
    ReadError,
    ReadOptions,
    RowProblem,
    SourceInfo,
    check_readable,
    clip_raw,
    generated_column_names,
    unique_column_names,
)
from dms.pipeline.source.detect import (
    SAMPLE_BYTES,
    chosen_encoding_check,
    decode_sample,
    detect_encoding,
    first_record,
    read_probes,
    sniff_delimiter,
)
from dms.row_messages import ENCODING_GUESSED, ONE_COLUMN, RAGGED_ROW, RAGGED_ROW_ONE, UNDECODABLE_ROW

log = logging.getLogger(__name__)

# Arrow's streaming reader keeps a few dozen blocks in flight (about 36 MiB live at 1 MiB blocks, 114 MiB at
# 4 MiB) and parses no faster with bigger ones. A record longer than a block cannot be parsed: the read then
# starts again with blocks eight times larger, up to MAX_BLOCK_SIZE, skipping the chunks already handed out.
BLOCK_SIZE = 1024 * 1024
MAX_BLOCK_SIZE = 64 * 1024 * 1024
_UTF8_NAMES = ("utf-8", "utf-8-sig", "ascii")


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """Encoding, delimiter and column names of a delimited text file, from a sample of its head."""
    size = check_readable(path)
    head, extra = read_probes(path, size)
    warnings: list[str] = []
    if options.encoding:
        encoding = options.encoding
        if encoding == "utf-8" and head.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"
        # A chosen encoding is not a guess, but it can still be the wrong one: say so when the text is garbled.
        confidence, doubt = chosen_encoding_check(head, extra, encoding)
        if doubt:
            warnings.append(doubt)
    else:
        encoding, confidence = detect_encoding(head, extra)
        if confidence < 0.5:
            warnings.append(ENCODING_GUESSED(encoding=encoding, confidence=f"{confidence:.2f}"))
    text = decode_sample(head, encoding, warnings)
    if not text.strip():
        raise ReadError(
            "EMPTY_FILE", Text("The file holds no rows: only blank lines or whitespace."), file=path
        )
    delimiter = options.delimiter or sniff_delimiter(text, Path(path).suffix.lower())
    record, record_end = first_record(text, delimiter)
    sample_is_whole_file = len(head) < SAMPLE_BYTES
    if record is None and sample_is_whole_file:
        raise ReadError(
            "UNCLOSED_QUOTE",
            Text(
                'The first row opens a quote (") that is never closed, so no row can be read. Fix the '
                "quoting."
            ),
            file=path,
            row=0 if options.has_header else 1,
        )
    if record is None or (record_end >= len(text) and not sample_is_whole_file):
        raise ReadError(
            "ROW_TOO_LONG",
            Text(
                "The first row does not end within the first megabyte: it opens a quote that is never "
                "closed or is far too long. Fix the quoting."
            ),
            file=path,
            row=0 if options.has_header else 1,
        )
    if options.has_header:
        columns = unique_column_names(list(record), warnings)
    else:
        columns = generated_column_names(len(record))
    if len(columns) == 1 and not options.delimiter:
        warnings.append(ONE_COLUMN())
    for warning in warnings:
        log.info("reader=csv file=%s warning=%r", Path(path).name, warning)
    return SourceInfo(
        format="csv",
        encoding=encoding,
        encoding_confidence=round(confidence, 3),
        delimiter=delimiter,
        columns=columns,
        warnings=warnings,
    )


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """Stream the file as chunks of chunk_rows rows; ragged and undecodable rows become problems."""
    check_readable(path)
    block_size = BLOCK_SIZE
    handed_out = 0
    while True:
        try:
            for chunk in _stream(path, options, info, block_size):
                # Chunks do not depend on the block size, so after a restart the first ones are the same.
                if chunk.index >= handed_out:
                    handed_out += 1
                    yield chunk
            return
        except _BlockTooSmall as exc:
            if block_size >= MAX_BLOCK_SIZE:
                raise _read_failure(exc.cause, path, info.encoding or "utf-8", exc.near_record) from exc.cause
            block_size *= 8
            log.info("reader=csv file=%s block_size=%d restart=long_record", Path(path).name, block_size)


class _BlockTooSmall(Exception):
    def __init__(self, cause: Exception, near_record: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.near_record = near_record


def _stream(
    path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo, block_size: int
) -> Iterator[Chunk]:
    encoding = info.encoding or "utf-8"
    is_utf8 = encoding in _UTF8_NAMES
    header_records = 1 if options.has_header else 0
    collected: list[RowProblem] = []

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        # Called by Arrow for a record whose field count differs from the header's; it is left out.
        if row.number is None:
            return "error"
        record = row.number - header_records
        collected.append(
            RowProblem(
                row=record,
                code="RAGGED_ROW",
                message=(RAGGED_ROW_ONE if row.actual_columns == 1 else RAGGED_ROW)(
                    row=record, actual=row.actual_columns, expected=row.expected_columns
                ),
                raw=clip_raw(row.text),
                values=_fields(row.text, info.delimiter or ","),
            )
        )
        return "skip"

    # UTF-8 columns are read as bytes and validated afterwards, so a stray Latin-1 byte costs one row, not
    # the file; other encodings are transcoded by Python's codecs and arrive as valid UTF-8.
    column_type = pa.binary() if is_utf8 else pa.string()
    read_options = pa_csv.ReadOptions(
        use_threads=False,
        block_size=block_size,
        column_names=info.columns,
        skip_rows_after_names=header_records,
        encoding="utf8" if is_utf8 else encoding,
    )
    parse_options = pa_csv.ParseOptions(
        delimiter=info.delimiter or ",",
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=True,
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pa_csv.ConvertOptions(
        column_types={name: column_type for name in info.columns},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    numbering = RecordNumbering()
    string_schema = pa.schema(
        [pa.field(name, pa.string()) for name in info.columns] + [pa.field(ROW_COLUMN, pa.int64())]
    )
    assembler = ChunkAssembler(options.chunk_rows, string_schema)
    try:
        reader = pa_csv.open_csv(
            path, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )
        for batch in reader:
            for problem in collected:
                numbering.skip(problem.row)
            problems, collected[:] = list(collected), []
            table = with_row_numbers(batch, numbering.take(batch.num_rows))
            if is_utf8:
                table, undecodable = _validated_utf8(table, info, encoding)
                problems.extend(undecodable)
            yield from assembler.add(table, problems)
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc):
            raise _BlockTooSmall(exc, numbering.next_record) from exc
        raise _read_failure(exc, path, encoding, numbering.next_record) from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise _read_failure(exc, path, encoding, numbering.next_record) from exc
    yield from assembler.add(string_schema.empty_table(), collected)
    yield from assembler.finish()


def _validated_utf8(table: pa.Table, info: SourceInfo, encoding: str) -> tuple[pa.Table, list[RowProblem]]:
    """Byte columns cast to strings; rows holding invalid UTF-8 are taken out and reported."""
    columns = []
    bad_rows = np.zeros(table.num_rows, dtype=bool)
    bad_column: dict[int, str] = {}
    for name in info.columns:
        column = table.column(name)
        try:
            columns.append(column.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        # Slow path, only for a batch that holds bad bytes: find which values they are.
        for position, value in enumerate(column.to_pylist()):
            if value is not None and not _is_utf8(value):
                bad_rows[position] = True
                bad_column.setdefault(position, name)
        columns.append(None)
    if not bad_rows.any():
        return pa.Table.from_arrays(
            [*columns, table.column(ROW_COLUMN)], names=[*info.columns, ROW_COLUMN]
        ), []
    keep = pa.array(~bad_rows)
    kept = table.filter(keep)
    problems = []
    rows = table.column(ROW_COLUMN).to_numpy()
    for bad_position in (int(found) for found in np.flatnonzero(bad_rows)):
        values = [table.column(name)[bad_position].as_py() for name in info.columns]
        raw = (info.delimiter or ",").join(
            "" if v is None else v.decode("utf-8", "backslashreplace") for v in values
        )
        column_name = bad_column[bad_position]
        record = int(rows[bad_position])
        problems.append(
            RowProblem(
                row=record,
                code="UNDECODABLE_ROW",
                message=UNDECODABLE_ROW(row=record, column=repr(column_name), encoding=encoding),
                raw=clip_raw(raw),
                column=column_name,
                values=["" if v is None else v.decode("utf-8", "backslashreplace") for v in values],
            )
        )
    strings = [pc.cast(kept.column(name), pa.string()) for name in info.columns]
    return pa.Table.from_arrays(
        [*strings, kept.column(ROW_COLUMN)], names=[*info.columns, ROW_COLUMN]
    ), problems


def _fields(text: str | None, delimiter: str) -> list[str] | None:
    """The fields of a row Arrow could not fit to the header, as Python's csv module splits its text."""
    if text is None or len(text) > RAW_TEXT_LIMIT:
        return None
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return None


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _read_failure(exc: Exception, path: str | os.PathLike[str], encoding: str, near_record: int) -> ReadError:
    """A ReadError that says what stopped the read, near which row, and what to try."""
    if isinstance(exc, UnicodeDecodeError):
        return ReadError(
            "ENCODING_ERROR",
            Text(
                "The file stops decoding as %(encoding)s after about row %(near_record)s: byte "
                "0x%(object)s is not valid there. Choose the file's real encoding or re-export it as "
                "UTF-8.",
                encoding=encoding,
                near_record=near_record,
                object=f"{exc.object[exc.start]:02X}",
            ),
            file=path,
            row=near_record,
        )
    text = str(exc)
    if "straddl" in text:
        return ReadError(
            "ROW_TOO_LONG",
            Text(
                "A row near row %(near_record)s is longer than %(number)s MB or opens a quote that is "
                "never closed, so the rows after it cannot be told apart. Check the quoting around that "
                "row.",
                near_record=near_record,
                number=MAX_BLOCK_SIZE // (1024 * 1024),
            ),
            file=path,
            row=near_record,
        )
    return ReadError(
        "UNREADABLE_TEXT",
        Text(
            "The file cannot be parsed near row %(near_record)s: %(text)s", near_record=near_record, text=text
        ),
        file=path,
        row=near_record,
    )

"""JSON arrays of objects and NDJSON (one object per line), streamed record by record."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import IO

from dms.errors import Text
from dms.pipeline.source.chunking import RecordAssembler, value_text
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadOptions,
    RowProblem,
    SourceInfo,
    check_readable,
    clip_raw,
    unique_column_names,
)
from dms.pipeline.source.detect import PROBE_BYTES, chosen_encoding_check, detect_encoding, read_probes
from dms.row_messages import NO_RECORDS

log = logging.getLogger(__name__)

# One record larger than this is hostile, not data; it bounds the memory a record may take.
MAX_RECORD_CHARS = 16 * 1024 * 1024
# Columns are the keys seen in this many leading records; a later record with a new key is a problem.
KEY_SAMPLE_RECORDS = 10_000
_READ_CHARS = 1024 * 1024
_WHITESPACE = " \t\r\n"


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """Encoding and columns (the keys of the leading records, in first-seen order)."""
    size = check_readable(path)
    warnings: list[str] = []
    encoding, confidence = _encoding(path, options, size, warnings)
    fmt = options.format or "json"
    keys, seen = _leading_keys(path, encoding, fmt)
    if seen == 0:
        warnings.append(NO_RECORDS())
    columns = unique_column_names(list(keys), warnings)
    return SourceInfo(
        format=fmt,
        encoding=encoding,
        encoding_confidence=round(confidence, 3),
        columns=columns,
        warnings=warnings,
    )


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """Stream records into chunks of chunk_rows rows; bad records become problems where they can be skipped."""
    check_readable(path)
    fmt = info.format
    encoding = info.encoding or "utf-8"
    columns = info.columns
    # Column names are the keys after renaming (empty, repeated after trimming, reserved); the same scan
    # that named them maps each key back to its column.
    keys, _seen = _leading_keys(path, encoding, fmt)
    if len(keys) != len(columns):
        raise ReadError(
            "SOURCE_CHANGED",
            Text("The file's fields differ from when it was sniffed; sniff it again."),
            file=path,
        )
    key_columns = {key: position for position, key in enumerate(keys)}
    assembler = RecordAssembler(columns, options.chunk_rows)
    with _open_text(path, encoding) as text:
        for number, record, raw in _records(text, fmt, path):
            problem = _problem(number, record, raw, key_columns)
            if problem is not None:
                assembler.problem(problem)
            else:
                assert isinstance(record, dict)
                row: list[object] = [None] * len(columns)
                for key, value in record.items():
                    row[key_columns[str(key)]] = (
                        value_text(value) if isinstance(value, (dict, list)) else value
                    )
                yield from assembler.add(number, row)
    yield from assembler.finish()


def _leading_keys(path: str | os.PathLike[str], encoding: str, fmt: str) -> tuple[list[str], int]:
    """The keys of the first KEY_SAMPLE_RECORDS records in first-seen order, and how many records were seen."""
    keys: dict[str, None] = {}
    seen = 0
    with _open_text(path, encoding) as text:
        for _number, record, _raw in _records(text, fmt, path):
            if isinstance(record, dict):
                keys.update(dict.fromkeys(str(key) for key in record))
            seen += 1
            if seen >= KEY_SAMPLE_RECORDS:
                break
    return list(keys), seen


def _problem(number: int, record: object, raw: str | None, key_columns: dict[str, int]) -> RowProblem | None:
    if isinstance(record, RowProblem):
        return record
    if not isinstance(record, dict):
        return RowProblem(
            number,
            "NOT_AN_OBJECT",
            f"Record {number} is a JSON {type(record).__name__}, not an object with named fields; it was not read.",
            clip_raw(raw),
        )
    unknown = [str(key) for key in record if str(key) not in key_columns]
    if unknown:
        return RowProblem(
            number,
            "UNEXPECTED_FIELD",
            f"Record {number} has field {unknown[0]!r}, which none of the first {KEY_SAMPLE_RECORDS:,} records has; "
            "it was not read so that no value is lost. Put a record with every field first, or export CSV.",
            clip_raw(raw),
            column=unknown[0],
        )
    if raw is not None and _undecodable(raw):
        return RowProblem(
            number,
            "UNDECODABLE_ROW",
            f"Record {number} holds bytes that are not valid in the file's encoding; it was not read.",
            clip_raw(raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")),
        )
    return None


def _records(
    text: IO[str], fmt: str, path: str | os.PathLike[str]
) -> Iterator[tuple[int, object, str | None]]:
    if fmt == "ndjson":
        return _ndjson_records(text, path)
    return _ArrayReader(text, path).records()


def _ndjson_records(text: IO[str], path: str | os.PathLike[str]) -> Iterator[tuple[int, object, str | None]]:
    """(record number, parsed value or RowProblem, raw line) for every non-blank line."""
    number = 0
    first = True
    while True:
        line = text.readline(MAX_RECORD_CHARS + 1)
        if not line:
            return
        if len(line) > MAX_RECORD_CHARS and not line.endswith(("\n", "\r")):
            number += 1
            # Consume the rest of the oversized line in bounded pieces, then go on with the next one.
            while True:
                rest = text.readline(_READ_CHARS)
                if not rest or rest.endswith(("\n", "\r")):
                    break
            yield (
                number,
                RowProblem(
                    number,
                    "RECORD_TOO_LARGE",
                    f"Record {number} is longer than {MAX_RECORD_CHARS:,} characters; it was not read.",
                    clip_raw(line),
                ),
                None,
            )
            continue
        stripped = line.strip()
        if not stripped:
            continue
        number += 1
        try:
            value = json.loads(stripped)
        except RecursionError:
            value = RowProblem(
                number, "JSON_TOO_DEEP", f"Record {number} nests too deeply to read.", clip_raw(stripped)
            )
        except json.JSONDecodeError as exc:
            if first:
                raise ReadError(
                    "INVALID_JSON",
                    Text(
                        "The first line is not a JSON object (%(msg)s at column %(colno)s); the file is neither "
                        "NDJSON (one object per line) nor, by its first character, a JSON array.",
                        msg=exc.msg,
                        colno=exc.colno,
                    ),
                    file=path,
                    row=1,
                ) from None
            value = RowProblem(
                number,
                "INVALID_JSON",
                f"Record {number} is not valid JSON ({exc.msg} at column {exc.colno}); it was not read.",
                clip_raw(stripped),
            )
        first = False
        yield number, value, stripped


class _ArrayReader:
    """Reads the elements of one top-level JSON array from a text stream, one at a time."""

    def __init__(self, text: IO[str], path: str | os.PathLike[str]) -> None:
        self._text = text
        self._path = path
        self._buffer = ""
        self._position = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def records(self) -> Iterator[tuple[int, object, str | None]]:
        """(element number, parsed value, raw text) for every element of the array."""
        if self._peek() != "[":
            found = self._peek()
            raise self._error(
                Text(
                    "The file does not start with '[' but with %(found)s: expected a JSON array of objects (one "
                    "object per line is NDJSON: choose that format).",
                    found=f"{found!r}",
                )
                if found == "{"
                else Text(
                    "The file does not start with '[' but with %(found)s: expected a JSON array of objects.",
                    found=f"{found!r}",
                ),
                None,
            )
        self._position += 1
        if self._peek() == "]":
            self._position += 1
            self._expect_end()
            return
        number = 0
        while True:
            number += 1
            if self._peek() == "":
                raise self._error(
                    Text(
                        "The array ends after record %(number)s without its closing ']'.", number=number - 1
                    ),
                    number,
                )
            value, raw = self._element(number)
            yield number, value, raw
            separator = self._peek()
            self._position += 1
            if separator == "":
                raise self._error(
                    Text("The array ends after record %(number)s without its closing ']'.", number=number),
                    number,
                )
            if separator == "]":
                break
            if separator != ",":
                raise self._error(
                    Text(
                        "Expected ',' or ']' after record %(number)s but found %(separator)s.",
                        number=number,
                        separator=f"{separator!r}",
                    ),
                    number,
                )
            if self._peek() == "]":
                raise self._error(
                    Text(
                        "A comma after record %(number)s is followed by ']': remove the trailing comma.",
                        number=number,
                    ),
                    number,
                )
        self._expect_end()

    def _element(self, number: int) -> tuple[object, str]:
        while True:
            start = self._position
            try:
                value, end = self._decoder.raw_decode(self._buffer, start)
            except RecursionError:
                raise self._error(
                    Text("Record %(number)s nests too deeply to read.", number=number),
                    number,
                    code="JSON_TOO_DEEP",
                ) from None
            except json.JSONDecodeError as exc:
                if self._eof:
                    raise self._error(
                        Text("Record %(number)s is not valid JSON: %(msg)s.", number=number, msg=exc.msg),
                        number,
                    ) from None
                if len(self._buffer) - start > MAX_RECORD_CHARS:
                    raise self._error(
                        Text(
                            "Record %(number)s is not valid JSON or is longer than %(max_record_chars)s characters: "
                            "%(msg)s.",
                            number=number,
                            max_record_chars=f"{MAX_RECORD_CHARS:,}",
                            msg=exc.msg,
                        ),
                        number,
                    ) from None
                self._fill(max(_READ_CHARS, len(self._buffer) - start))
                continue
            if end == len(self._buffer) and not self._eof:
                # A number at the very end of the buffer may continue in the next read.
                self._fill(_READ_CHARS)
                continue
            self._position = end
            return value, self._buffer[start:end]

    def _peek(self) -> str:
        """The next non-blank character without consuming it; "" at the end of the file."""
        while True:
            while self._position < len(self._buffer) and self._buffer[self._position] in _WHITESPACE:
                self._position += 1
            if self._position < len(self._buffer):
                return self._buffer[self._position]
            if self._eof:
                return ""
            self._fill(_READ_CHARS)

    def _fill(self, chars: int) -> None:
        if self._position > _READ_CHARS:
            self._buffer = self._buffer[self._position :]
            self._position = 0
        more = self._text.read(chars)
        if not more:
            self._eof = True
        self._buffer += more

    def _expect_end(self) -> None:
        trailing = self._peek()
        if trailing:
            raise self._error(
                Text("Unexpected %(trailing)s after the closing ']' of the array.", trailing=f"{trailing!r}"),
                None,
            )

    def _error(self, message: str | Text, number: int | None, code: str = "INVALID_JSON") -> ReadError:
        return ReadError(code, message, file=self._path, row=number)


def _undecodable(raw: str) -> bool:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _encoding(
    path: str | os.PathLike[str], options: ReadOptions, size: int, warnings: list[str]
) -> tuple[str, float]:
    head, extra = read_probes(path, size)
    if options.encoding:
        confidence, doubt = chosen_encoding_check(head[: 4 * PROBE_BYTES], extra, options.encoding)
        if doubt:
            warnings.append(doubt)
        return options.encoding, confidence
    return detect_encoding(head[: 4 * PROBE_BYTES], extra)


def _open_text(path: str | os.PathLike[str], encoding: str) -> IO[str]:
    # surrogateescape keeps a bad byte visible to _undecodable instead of failing the whole file.
    return open(path, encoding=encoding, errors="surrogateescape", newline="")

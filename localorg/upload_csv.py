"""Reading uploaded CSV: with the csv module, or, for plain uploads (no quotes), by splitting lines.

In a plain upload each row is one physical line, so rows can be split and copied without a CSV parser,
with exactly the rows, errors and line numbers Python's csv module gives.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

_BLOCK = 1024 * 1024


class RowReader(Protocol):
    """Rows of an upload, a batch at a time, and how many physical lines were read so far."""

    @property
    def line_num(self) -> int:
        """Physical lines read so far (as csv.reader counts them)."""

    def read_rows(self, count: int) -> list[list[str]]:
        """The next `count` rows or fewer ([] for a blank line); raises csv.Error or UnicodeDecodeError."""


class CsvRowReader:
    """Rows from Python's csv module (any upload)."""

    def __init__(self, source: IO[str], delimiter: str) -> None:
        self._reader: Any = csv.reader(source, delimiter=delimiter, strict=False)

    @property
    def line_num(self) -> int:
        """Physical lines read so far."""
        return int(self._reader.line_num)

    def read_rows(self, count: int) -> list[list[str]]:
        """The next `count` rows or fewer."""
        return list(itertools.islice(self._reader, count))


class PlainRowReader:
    """Rows of a plain upload (see is_plain_upload) by splitting lines: what csv.reader gives, faster."""

    def __init__(self, source: IO[str], delimiter: str) -> None:
        self._source = source
        self._delimiter = delimiter
        self._limit = csv.field_size_limit()
        self._lines: list[str] = []
        self._tail = ""
        self._eof = False
        self.line_num = 0

    def read_rows(self, count: int) -> list[list[str]]:
        """The next `count` rows or fewer; csv.Error at a field longer than the csv field limit."""
        while len(self._lines) < count and not self._eof:
            self._read_block()
        lines = self._lines[:count]
        del self._lines[:count]
        limit = self._limit
        if lines and max(map(len, lines)) > limit:
            for index, line in enumerate(lines):
                if len(line) > limit and max(map(len, line.split(self._delimiter))) > limit:
                    self.line_num += index + 1
                    raise csv.Error(f"field larger than field limit ({limit})")
        self.line_num += len(lines)
        delimiter = self._delimiter
        return [line.split(delimiter) if line else [] for line in lines]

    def _read_block(self) -> None:
        block = self._source.read(_BLOCK)
        if not block:
            self._eof = True
            if self._tail:
                self._lines.append(self._tail)
            self._tail = ""
            return
        data = self._tail + block
        if "\r" in data:
            # Every CR of a plain upload ends a CRLF; a CR ending `data` meets its LF in the next block.
            data = data.replace("\r\n", "\n")
        lines = data.split("\n")
        self._tail = lines.pop()
        self._lines.extend(lines)


def is_plain_upload(path: Path) -> bool:
    """Whether the file is valid UTF-8 with no quote, NUL or bare carriage return anywhere.

    In such a file Python's csv module reads every non-empty physical line as one row, splitting it on
    the delimiter, and writes that row back as the very same line; so result files can copy the line.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    carry = b""
    try:
        with path.open("rb") as source:
            while block := source.read(_BLOCK):
                decoder.decode(block)
                if b'"' in block or b"\x00" in block:
                    return False
                data = carry + block
                # A CR at the end of a block may be half of a CRLF that the next block completes.
                carry = b"\r" if data.endswith(b"\r") else b""
                if carry:
                    data = data[:-1]
                if data.count(b"\r") != data.count(b"\r\n"):
                    return False
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return not carry


def plain_data_lines(path: Path, delimiter: str) -> Iterator[bytes]:
    """The non-empty lines after the header of a plain upload, without their line ending.

    Raises csv.Error where the csv module would: at a line holding a field longer than its field limit.
    """
    limit = csv.field_size_limit()
    tail = b""
    header_pending = True
    with path.open("rb") as source:
        while True:
            block = source.read(_BLOCK)
            data = tail + block
            if b"\r" in data:
                # Every CR of a plain upload ends a CRLF; a CR ending `data` meets its LF in the next block.
                data = data.replace(b"\r\n", b"\n")
            lines = data.split(b"\n")
            tail = lines.pop() if block else b""
            skip = 1 if header_pending and lines else 0  # the header row (its BOM, if any, goes with it)
            if skip:
                header_pending = False
            if len(data) > limit:
                for index, line in enumerate(lines):
                    if len(line) > limit and max(map(len, line.decode("utf-8").split(delimiter))) > limit:
                        yield from filter(None, lines[skip:index])
                        raise csv.Error(f"field larger than field limit ({limit})")
            yield from filter(None, lines[skip:] if skip else lines)
            if not block:
                return

"""Parquet page headers, read without decoding a page: how large each page says it will be once inflated.

pyarrow allocates what a page header claims before it decompresses the page, and the footer's column sizes
are only what the writer summed up, so the headers themselves are read: each is a Thrift struct (compact
protocol) in front of its page, and the next page starts after it and its compressed bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dms.errors import Text

# Thrift compact protocol types (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md)
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)
# pyarrow's own cap on a page header (statistics in it can hold long min/max values).
MAX_HEADER_BYTES = 16 * 1024 * 1024
PAGE_TYPES = {0: "data page", 1: "index page", 2: "dictionary page", 3: "data page"}


class BadPageHeader(ValueError):
    """Bytes that are not a Parquet page header where the footer says a page starts."""


@dataclass(frozen=True)
class PageHeader:
    """What a page says of itself: its type and its sizes, compressed and inflated."""

    kind: int
    uncompressed_size: int
    compressed_size: int
    header_size: int


def page_headers(source: BinaryIO, start: int, length: int) -> Iterator[PageHeader]:
    """The headers of the pages of the column chunk at `start` (`length` bytes, headers included)."""
    position, end = start, start + length
    while position < end:
        source.seek(position)
        header = _read_header(_Reader(source, min(MAX_HEADER_BYTES, end - position)))
        yield header
        if header.compressed_size < 0 or header.uncompressed_size < 0:
            raise BadPageHeader(Text("a page header with a negative size"))
        position += header.header_size + header.compressed_size


class _Reader:
    """Bytes of a header, read in small blocks and never past `limit`."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._buffer = b""
        self._at = 0
        self.consumed = 0

    def byte(self) -> int:
        return self.take(1)[0]

    def take(self, count: int) -> bytes:
        if self.consumed + count > self._limit:
            raise BadPageHeader(Text("a page header runs past its column chunk or pyarrow's header limit"))
        while len(self._buffer) - self._at < count:
            block = self._source.read(max(4096, count))
            if not block:
                raise BadPageHeader(Text("the file ends inside a page header"))
            self._buffer = self._buffer[self._at :] + block
            self._at = 0
        data = self._buffer[self._at : self._at + count]
        self._at += count
        self.consumed += count
        return data

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise BadPageHeader(Text("a varint longer than 64 bits"))

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)


def _read_header(reader: _Reader) -> PageHeader:
    """PageHeader's fields 1-3 (type, uncompressed_page_size, compressed_page_size); the rest is skipped."""
    fields: dict[int, int] = {}
    field_id = 0
    while True:
        head = reader.byte()
        kind = head & 0x0F
        if kind == _STOP:
            break
        delta = head >> 4
        field_id = field_id + delta if delta else reader.zigzag()
        if field_id in (1, 2, 3) and kind == _I32:
            fields[field_id] = reader.zigzag()
        else:
            _skip(reader, kind, depth=0)
    if not {1, 2, 3} <= fields.keys():
        raise BadPageHeader(Text("a page header without its type and sizes"))
    return PageHeader(fields[1], fields[2], fields[3], reader.consumed)


def _skip(reader: _Reader, kind: int, depth: int) -> None:
    """Read past one value of a compact-protocol type."""
    if depth > 32:
        raise BadPageHeader(Text("a page header nested too deeply"))
    if kind in (_TRUE, _FALSE):
        return
    if kind == _BYTE:
        reader.take(1)
    elif kind in (_I16, _I32, _I64):
        reader.varint()
    elif kind == _DOUBLE:
        reader.take(8)
    elif kind == _BINARY:
        reader.take(reader.varint())
    elif kind in (_LIST, _SET):
        head = reader.byte()
        size = head >> 4 if head >> 4 != 15 else reader.varint()
        element = head & 0x0F
        for _ in range(size):
            if element in (_TRUE, _FALSE):
                reader.take(1)  # a boolean in a list is a byte of its own
            else:
                _skip(reader, element, depth + 1)
    elif kind == _MAP:
        size = reader.varint()
        if size:
            types = reader.byte()
            for _ in range(size):
                _skip(reader, types >> 4, depth + 1)
                _skip(reader, types & 0x0F, depth + 1)
    elif kind == _STRUCT:
        while True:
            head = reader.byte()
            if head & 0x0F == _STOP:
                return
            if not head >> 4:
                reader.zigzag()
            _skip(reader, head & 0x0F, depth + 1)
    else:
        raise BadPageHeader(Text("an unknown Thrift type %(kind)s in a page header", kind=kind))

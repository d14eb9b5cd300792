"""What every reader speaks: the options it takes, what it reports, the chunks it yields, and its errors."""

from __future__ import annotations

import codecs
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from dms.errors import DMSError, Text, typed_field
from dms.pipeline.model import ROW_COLUMN
from dms.row_messages import EMPTY_HEADER, REPEATED_HEADER

FORMATS = ("csv", "excel", "json", "ndjson", "parquet", "pickle")
# Other names people give a format in an option; each maps to one of FORMATS.
_FORMAT_ALIASES = {
    "txt": "csv",
    "tsv": "csv",
    "delimited": "csv",
    "xlsx": "excel",
    "xls": "excel",
    "jsonl": "ndjson",
}
# Delimiters an option may name in words, for the ones awkward to type into a form.
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "caret": "^", "backquote": "`"}
RAW_TEXT_LIMIT = 100_000  # characters of a bad row's raw text kept for the error file
# Text codecs that cannot read a file: IDNA and Punycode encode host names, `undefined` refuses everything.
# (Codecs that are not text encodings at all, like zlib, base64 or rot13, are told by Python itself.)
NOT_FILE_ENCODINGS = ("idna", "punycode", "undefined")
# The read options a request may give, with the JSON types each takes.
READ_OPTION_TYPES: dict[str, tuple[tuple[type, ...], Text]] = {
    "format": ((str,), Text("a string")),
    "encoding": ((str,), Text("a string")),
    "delimiter": ((str,), Text("a string")),
    "sheet": ((str, int), Text("a sheet name or a 0-based index")),
    "has_header": ((bool,), Text("true or false")),
}


class ReadError(DMSError):
    """A source file cannot be read at all; says what is wrong, where, and what to do."""

    code = "READ_ERROR"
    http_status = 422

    def __init__(
        self,
        code: str,
        message: str | Text,
        *,
        file: str | os.PathLike[str] | None = None,
        row: int | None = None,
        column: str | None = None,
        part: str | None = None,
        limit: int | None = None,
    ) -> None:
        self.file = Path(file).name if file is not None else None
        self.row = row
        self.column = column
        super().__init__(message, code=code, file=self.file, row=row, column=column, part=part, limit=limit)

    def __str__(self) -> str:
        where = ", ".join(
            f"{key} {value}"
            for key, value in (("file", self.file), ("row", self.row), ("column", self.column))
            if value
        )
        return f"{self.code}: {self.message}" + (f" ({where})" if where else "")


class BadReadOption(ReadError):
    """A read option no file can be read with: the request is wrong, not the file (400, `where.field`)."""

    http_status = 400

    def __init__(
        self, code: str, message: str | Text, *, option: str, file: str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__(code, message, file=file)
        self.where["field"] = option


@dataclass(frozen=True)
class ReadLimits:
    """What one file may make a reader hold beyond its size on disk: the inflation a small file can hide.

    The defaults are config_dev's (XLSX_MAX_SHARED_STRINGS_BYTES...), for callers without settings; each is
    set relative to what real exports need, which config_dev explains.
    """

    xlsx_max_shared_strings_bytes: int = 64 * 1024 * 1024
    xlsx_shared_strings_max_ratio: float = 16.0
    xlsx_max_part_bytes: int = 8 * 1024 * 1024
    parquet_max_column_chunk_bytes: int = 1024 * 1024 * 1024
    parquet_max_page_bytes: int = 64 * 1024 * 1024
    max_cell_bytes: int = 1024 * 1024
    pickle_max_alloc_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ReadLimits:
        """The limits configured for this deployment."""
        return cls(
            xlsx_max_shared_strings_bytes=int(settings["XLSX_MAX_SHARED_STRINGS_BYTES"]),
            xlsx_shared_strings_max_ratio=float(settings["XLSX_SHARED_STRINGS_MAX_RATIO"]),
            xlsx_max_part_bytes=int(settings["XLSX_MAX_PART_BYTES"]),
            parquet_max_column_chunk_bytes=int(settings["PARQUET_MAX_COLUMN_CHUNK_BYTES"]),
            parquet_max_page_bytes=int(settings["PARQUET_MAX_PAGE_BYTES"]),
            max_cell_bytes=int(settings["READ_MAX_CELL_BYTES"]),
            pickle_max_alloc_bytes=int(settings["PICKLE_MAX_ALLOC_BYTES"]),
        )


@dataclass
class ReadOptions:
    """How to read a source; every None means detect."""

    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    has_header: bool = True
    chunk_rows: int = 65_536
    # A chunk is also cut at this much text, so wide rows (long descriptions, notes) never make a Bulk upload
    # past Salesforce's advice of 100 MB per upload, nor a chunk that weighs more in memory than a narrow one.
    chunk_bytes: int = 48 * 1024 * 1024
    allow_pickle: bool = False
    max_unzipped_bytes: int = 2 * 1024**3
    max_zip_ratio: float = 200.0
    limits: ReadLimits = field(default_factory=ReadLimits)

    @classmethod
    def from_json(cls, given: Mapping[str, Any] | None, *, prefix: str = "", **limits: Any) -> ReadOptions:
        """The options a JSON request names (other keys are ignored), each of its JSON type or a 400."""
        picked: dict[str, Any] = {}
        for name, (kinds, what) in READ_OPTION_TYPES.items():
            value = (given or {}).get(name)
            picked[name] = typed_field(value, kinds, f"{prefix}{name}", what, error=_TypeRefused)
        if picked["has_header"] is None:
            del picked["has_header"]
        return cls(**picked, **limits)


class _TypeRefused(BadReadOption):
    """A read option of the wrong JSON type (raised through `typed_field`)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__("BAD_OPTION", message, option=field)


@dataclass(kw_only=True)
class SourceInfo:
    """What sniffing found: enough to show a preview and to read the file the same way every time.

    The text fields (encoding, delimiter) and the sheet fields stay None or empty for formats without them.
    """

    format: str
    encoding: str | None = None
    encoding_confidence: float | None = None
    delimiter: str | None = None
    columns: list[str]
    sheet: str | None = None
    sheet_names: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # A file DMS exported (success or errors) comes back with DMS's columns left out: `columns` are then the
    # source's own, and `file_columns` the header as it is in the file.
    export: str | None = None
    file_columns: list[str] = field(default_factory=list)


@dataclass
class RowProblem:
    """A source row that could not be read; it is reported here and is not in the chunk's table."""

    row: int
    code: str
    message: str
    raw: str | None
    column: str | None = None
    values: list[str] | None = None  # its fields as far as they could be told apart (for the error file)


@dataclass
class Chunk:
    """A deterministic slice of the source: the same index always holds the same rows."""

    index: int
    table: pa.Table
    problems: list[RowProblem]


@dataclass
class Sample:
    """The head of a source: what sniffing found, its first rows, and the rows among them that could not be read.

    `problems` are the unreadable rows numbered up to the sample's last row (all of them when `whole`), so the
    sample spans len(table) + len(problems) source rows.
    """

    info: SourceInfo
    table: pa.Table
    problems: list[RowProblem]
    whole: bool  # the sample holds every row of the file

    @property
    def rows_seen(self) -> int:
        """Source rows the sample spans: the rows read plus the rows that could not be."""
        return self.table.num_rows + len(self.problems)


def clip_raw(text: str | None) -> str | None:
    """Raw row text kept for error files, capped so one hostile row cannot bloat them."""
    if text is None or len(text) <= RAW_TEXT_LIMIT:
        return text
    return text[:RAW_TEXT_LIMIT] + "…[truncated]"


def validated_options(
    options: ReadOptions | None, path: str | os.PathLike[str] | None, *, prefix: str = ""
) -> ReadOptions:
    """The options with format, encoding and delimiter checked and normalised, or a BadReadOption naming
    the option (`prefix` + its name: `read_options.encoding` in a job request, `encoding` in a preview)."""
    options = options or ReadOptions()
    fmt = options.format
    if fmt is not None:
        fmt = _FORMAT_ALIASES.get(fmt.strip().lower(), fmt.strip().lower())
        if fmt not in FORMATS:
            raise BadReadOption(
                "BAD_OPTION",
                Text(
                    "Unknown format %(format)s; use one of %(formats)s.",
                    format=f"{options.format!r}",
                    formats=", ".join(FORMATS),
                ),
                option=f"{prefix}format",
                file=path,
            )
    encoding = options.encoding
    if encoding is not None:
        encoding = text_encoding(encoding, option=f"{prefix}encoding", file=path)
    delimiter = options.delimiter
    if delimiter is not None:
        delimiter = (
            DELIMITER_NAMES.get(delimiter.strip().lower(), delimiter) if len(delimiter) > 1 else delimiter
        )
        if delimiter == "\\t":
            delimiter = "\t"
        # The CSV parser splits bytes on one ASCII byte; NUL, quotes and line breaks already mean something.
        if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n\x00':
            raise BadReadOption(
                "BAD_OPTION",
                Text(
                    "Delimiter %(delimiter)s must be one ASCII character other than a quote, a line break or "
                    "NUL (or one of %(delimiter_names)s).",
                    delimiter=f"{options.delimiter!r}",
                    delimiter_names=", ".join(DELIMITER_NAMES),
                ),
                option=f"{prefix}delimiter",
                file=path,
            )
    if options.chunk_rows < 1:
        raise BadReadOption(
            "BAD_OPTION",
            Text("chunk_rows must be at least 1, not %(chunk_rows)s.", chunk_rows=options.chunk_rows),
            option="chunk_rows",
            file=path,
        )
    if options.chunk_bytes < 1:
        raise BadReadOption(
            "BAD_OPTION",
            Text("chunk_bytes must be at least 1, not %(chunk_bytes)s.", chunk_bytes=options.chunk_bytes),
            option="chunk_bytes",
            file=path,
        )
    if isinstance(options.sheet, bool) or not isinstance(options.sheet, (str, int, type(None))):
        raise BadReadOption(
            "BAD_OPTION",
            Text("sheet must be a sheet name or a 0-based index."),
            option=f"{prefix}sheet",
            file=path,
        )
    return ReadOptions(
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        sheet=options.sheet,
        has_header=options.has_header,
        chunk_rows=options.chunk_rows,
        chunk_bytes=options.chunk_bytes,
        allow_pickle=options.allow_pickle,
        max_unzipped_bytes=options.max_unzipped_bytes,
        max_zip_ratio=options.max_zip_ratio,
        limits=options.limits,
    )


def text_encoding(name: str, *, option: str, file: str | os.PathLike[str] | None = None) -> str:
    """Python's name for a text encoding a file can be read in, or a 400 INVALID_ENCODING naming the option.

    Python's codec registry also holds codecs from bytes to bytes (zlib, bz2, base64, hex, uu, quopri) and
    from text to text (rot13): looked up by name they would "decode" a file into garbage or crash the reader.
    """
    try:
        python_name = codecs.lookup(name.strip()).name
        "".encode(python_name)  # LookupError for a codec that is not a text encoding
    except (LookupError, ValueError):  # ValueError: a name with NUL in it
        python_name = ""
    if not python_name or python_name in NOT_FILE_ENCODINGS:
        raise BadReadOption(
            "INVALID_ENCODING",
            Text(
                "%(name)s is not a text encoding a file can be read in; use one such as utf-8, cp1252, "
                "latin-1 or utf-16, or leave it out to detect it.",
                name=f"{name[:80]!r}",
            ),
            option=option,
            file=file,
        )
    return python_name


def check_readable(path: str | os.PathLike[str]) -> int:
    """The file's size in bytes, or a ReadError when it is missing, not a file, or empty."""
    source = Path(path)
    if not source.exists():
        raise ReadError("NOT_FOUND", Text("The file does not exist."), file=path)
    if not source.is_file():
        raise ReadError("NOT_A_FILE", Text("The path is not a regular file."), file=path)
    size = source.stat().st_size
    if size == 0:
        raise ReadError(
            "EMPTY_FILE", Text("The file is empty (0 bytes): there is nothing to read."), file=path
        )
    return size


def unique_column_names(raw_names: list[object], warnings: list[str]) -> list[str]:
    """Header cells made into unique, non-empty column names; each rename is explained in warnings."""
    names: list[str] = []
    taken = {ROW_COLUMN}
    cleaned = [_header_text(value) for value in raw_names]
    # Names present in the header are taken first, so a generated "Name_2" never hides a real "Name_2".
    taken.update(name for name in cleaned if name)
    seen: set[str] = set()
    for position, name in enumerate(cleaned, start=1):
        if not name:
            new_name = _free_name(f"column_{position}", taken)
            warnings.append(EMPTY_HEADER(position=position, name=repr(new_name)))
        elif name == ROW_COLUMN or name in seen:
            new_name = _free_name(name, taken, start=2)
            warnings.append(REPEATED_HEADER(position=position, header=repr(name), name=repr(new_name)))
        else:
            new_name = name
        seen.add(name)
        taken.add(new_name)
        names.append(new_name)
    return names


def _free_name(base: str, taken: set[str], start: int | None = None) -> str:
    if start is None and base not in taken:
        return base
    suffix = start or 2
    while f"{base}_{suffix}" in taken:
        suffix += 1
    return f"{base}_{suffix}"


def _header_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def generated_column_names(count: int) -> list[str]:
    """Names for a file without a header row: column_1 .. column_N."""
    return [f"column_{position}" for position in range(1, count + 1)]

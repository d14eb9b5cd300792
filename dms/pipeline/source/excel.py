"""Excel workbooks: .xlsx streamed with openpyxl's read-only mode after a zip-bomb check, .xls through xlrd."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import xlrd
from openpyxl.utils.exceptions import InvalidFileException

from dms.errors import Text
from dms.pipeline.source.chunking import RecordAssembler, value_text
from dms.pipeline.source.contract import (
    Chunk,
    ReadError,
    ReadLimits,
    ReadOptions,
    RowProblem,
    SourceInfo,
    check_readable,
    clip_raw,
    generated_column_names,
    unique_column_names,
)
from dms.pipeline.source.detect import OLE2_MAGIC, XLSX_MAGIC
from dms.row_messages import BEYOND_HEADER, EMPTY_SHEET

log = logging.getLogger(__name__)

# xlrd holds a whole .xls in memory as Python objects (several times the file); the format itself tops out
# at 65,536 rows, so no honest .xls export comes near this.
MAX_XLS_BYTES = 256 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
# An entry smaller than this cannot hurt however well it compresses; ratios only matter above it.
RATIO_FLOOR_BYTES = 1024 * 1024
# A DTD can stand only in an XML part's prolog, before its root element; no real part has a prolog this long.
XML_PROLOG_BYTES = 64 * 1024
_CONTENT_TYPES_PART = "[Content_Types].xml"
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
# Parts read-only openpyxl streams (worksheets) or never opens (pivot cache records: a copy of the source data,
# as large as a sheet); only the total and the ratio bound them. Any other XML part is parsed whole.
_STREAMED_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    "application/vnd.ms-excel.worksheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheRecords+xml",
)
# Parts openpyxl reads whole by their fixed names, whatever [Content_Types].xml calls them.
_READ_WHOLE_NAMES = ("xl/styles.xml", "xl/theme/theme1.xml", "docProps/core.xml", "docProps/custom.xml")


def describe(path: str | os.PathLike[str], options: ReadOptions) -> SourceInfo:
    """Sheet names, the chosen sheet and its column names from its first row."""
    with _open_workbook(path, options) as workbook:
        sheet_name = workbook.choose_sheet(options.sheet)
        warnings: list[str] = []
        # Title-less sheets sometimes start a few rows down: the first non-blank row is the header.
        first = next((row for row in workbook.rows(sheet_name) if not _is_blank(row[1])), None)
        if first is None:
            columns: list[str] = []
            warnings.append(EMPTY_SHEET(sheet=repr(sheet_name)))
        elif options.has_header:
            columns = unique_column_names(_trim_trailing_empty(list(first[1])), warnings)
        else:
            columns = generated_column_names(len(_trim_trailing_empty(list(first[1]))))
        return SourceInfo(
            format="excel",
            columns=columns,
            sheet=sheet_name,
            sheet_names=workbook.sheet_names,
            warnings=warnings,
        )


def iter_chunks(path: str | os.PathLike[str], options: ReadOptions, info: SourceInfo) -> Iterator[Chunk]:
    """Stream the sheet's rows as chunks; blank rows are skipped, values beyond the header are problems."""
    width = len(info.columns)
    with _open_workbook(path, options) as workbook:
        sheet_name = workbook.choose_sheet(info.sheet if info.sheet is not None else options.sheet)
        rows = iter(workbook.rows(sheet_name))
        if options.has_header:
            next((row for row in rows if not _is_blank(row[1])), None)
        assembler = RecordAssembler(info.columns, options.chunk_rows)
        record_number = 0
        for sheet_row, values in rows:
            if _is_blank(values):
                continue
            record_number += 1
            if len(values) > width and any(value is not None and value != "" for value in values[width:]):
                assembler.problem(_beyond_header(record_number, sheet_row, values, width))
            else:
                padded = list(values[:width])
                padded.extend([None] * (width - len(padded)))
                yield from assembler.add(record_number, padded)
        yield from assembler.finish()


def _is_blank(values: tuple[Any, ...]) -> bool:
    return all(value is None or value == "" for value in values)


def _beyond_header(record: int, sheet_row: int, values: tuple[Any, ...], width: int) -> RowProblem:
    last = max(position for position, value in enumerate(values) if value is not None and value != "") + 1
    raw = "\t".join("" if value is None else value_text(value) for value in values[:last])
    return RowProblem(
        row=record,
        code="RAGGED_ROW",
        message=BEYOND_HEADER(row=record, sheet_row=sheet_row, last=last, width=width),
        raw=clip_raw(raw),
    )


def _trim_trailing_empty(values: list[object]) -> list[object]:
    # Formatted-but-empty cells to the right of a header are common; they are not columns.
    while values and (values[-1] is None or values[-1] == ""):
        values.pop()
    return values


class _Workbook:
    """The little both workbook libraries have in common: sheet names and rows of plain Python values."""

    sheet_names: list[str]

    def __enter__(self) -> _Workbook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""

    def rows(self, sheet_name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(1-based sheet row number, cell values) for every row of the sheet."""
        raise NotImplementedError

    def choose_sheet(self, sheet: str | int | None) -> str:
        """The name of the requested sheet (by name or 0-based index), the first one by default."""
        if not self.sheet_names:
            raise ReadError("EMPTY_FILE", Text("The workbook has no worksheets."), file=self.path)
        if sheet is None:
            return self.sheet_names[0]
        if isinstance(sheet, int):
            if 0 <= sheet < len(self.sheet_names):
                return self.sheet_names[sheet]
        elif sheet in self.sheet_names:
            return sheet
        elif sheet.strip().isdigit() and int(sheet) < len(self.sheet_names):
            # A form field sends "1" for the second sheet; a sheet really named "1" was matched above.
            return self.sheet_names[int(sheet)]
        raise ReadError(
            "SHEET_NOT_FOUND",
            Text(
                "There is no sheet %(sheet)s; the workbook has %(count)s: %(sheets)s.",
                sheet=f"{sheet!r}",
                count=len(self.sheet_names),
                sheets=", ".join(f"{position}: {name!r}" for position, name in enumerate(self.sheet_names)),
            ),
            file=self.path,
        )

    path: str | os.PathLike[str]


class _XlsxWorkbook(_Workbook):
    def __init__(self, path: str | os.PathLike[str], options: ReadOptions) -> None:
        self.path = path
        _check_zip(path, options)
        # A file object, because openpyxl refuses a path whose extension is not .xlsx (uploads are renamed).
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        try:
            self._book = openpyxl.load_workbook(self._file, read_only=True, data_only=True, keep_links=False)
        # SyntaxError: the XML parsers' errors (lxml's XMLSyntaxError, ElementTree's ParseError) for a bad part.
        except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as exc:
            self._file.close()
            raise ReadError(
                "CORRUPT_FILE",
                Text(
                    "The file is not a readable .xlsx workbook (%(exc)s). Save it again from Excel.", exc=exc
                ),
                file=path,
            ) from exc
        # Chart sheets have no cells; only worksheets can be read.
        self.sheet_names = [ws.title for ws in self._book.worksheets]

    def close(self) -> None:
        self._book.close()
        self._file.close()

    def rows(self, sheet_name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
        sheet = self._book[sheet_name]
        try:
            yield from enumerate(sheet.iter_rows(values_only=True), start=1)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as exc:
            raise ReadError(
                "CORRUPT_FILE",
                Text("Sheet %(sheet_name)s is damaged: %(exc)s.", sheet_name=f"{sheet_name!r}", exc=exc),
                file=self.path,
            ) from exc


class _XlsWorkbook(_Workbook):
    def __init__(self, path: str | os.PathLike[str], options: ReadOptions) -> None:
        self.path = path
        size = Path(path).stat().st_size
        limit = min(MAX_XLS_BYTES, options.max_unzipped_bytes)
        if size > limit:
            raise ReadError(
                "FILE_TOO_LARGE",
                Text(
                    "The .xls file is %(size)s bytes; the limit is %(limit)s. Save it as .xlsx or CSV instead.",
                    size=f"{size:,}",
                    limit=f"{limit:,}",
                ),
                file=path,
            )
        try:
            self._book = xlrd.open_workbook(path, on_demand=True)
        except (xlrd.XLRDError, xlrd.compdoc.CompDocError, ValueError, IndexError, AssertionError) as exc:
            raise ReadError(
                "CORRUPT_FILE",
                Text(
                    "The file is not a readable .xls workbook (%(exc)s); if it is password-protected, remove "
                    "the password, or save it as .xlsx or CSV.",
                    exc=exc,
                ),
                file=path,
            ) from exc
        self._datemode = self._book.datemode
        self.sheet_names = list(self._book.sheet_names())

    def close(self) -> None:
        self._book.release_resources()

    def rows(self, sheet_name: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
        sheet = self._book.sheet_by_name(sheet_name)
        for row_index in range(sheet.nrows):
            types = sheet.row_types(row_index)
            values = sheet.row_values(row_index)
            yield (
                row_index + 1,
                tuple(self._value(kind, value) for kind, value in zip(types, values, strict=True)),
            )
        self._book.unload_sheet(sheet_name)

    def _value(self, kind: int, value: Any) -> Any:
        if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
            return None
        if kind == xlrd.XL_CELL_NUMBER:
            # .xls stores every number as a double; whole numbers read as ints, as openpyxl does for .xlsx.
            return int(value) if float(value).is_integer() else value
        if kind == xlrd.XL_CELL_DATE:
            try:
                moment = xlrd.xldate.xldate_as_datetime(value, self._datemode)
            except (xlrd.xldate.XLDateError, OverflowError, ValueError):
                return value
            # A serial below 1 is a time of day with no date.
            return moment.time() if value < 1 else moment
        if kind == xlrd.XL_CELL_BOOLEAN:
            return bool(value)
        if kind == xlrd.XL_CELL_ERROR:
            return xlrd.error_text_from_code.get(value, "#ERROR")
        return value


def _open_workbook(path: str | os.PathLike[str], options: ReadOptions) -> _Workbook:
    check_readable(path)
    with open(path, "rb") as source:
        head = source.read(8)
    if head.startswith(XLSX_MAGIC):
        return _XlsxWorkbook(path, options)
    if head.startswith(OLE2_MAGIC):
        return _XlsWorkbook(path, options)
    raise ReadError(
        "CORRUPT_FILE",
        Text(
            "The file is named or marked as Excel but is neither an .xlsx nor an .xls workbook. Save "
            "it again from Excel."
        ),
        file=path,
    )


def _check_zip(path: str | os.PathLike[str], options: ReadOptions) -> None:
    """Refuse a zip bomb (from the sizes in the central directory) and XML with a DTD, before openpyxl runs.

    The declared sizes can be trusted as limits: zipfile stops each entry at its declared size and fails the
    CRC if the data says otherwise, so an entry cannot inflate beyond what is checked here.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            _check_sizes(path, entries, options)
            _refuse_dtds(path, archive, entries)
            _check_part_sizes(path, archive, entries, options)
    # RuntimeError: an encrypted part; NotImplementedError: a compression method zipfile does not have.
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ReadError(
            "CORRUPT_FILE",
            Text("The file is not a readable .xlsx workbook (%(exc)s). Save it again from Excel.", exc=exc),
            file=path,
        ) from exc
    log.debug("reader=excel file=%s zip_entries=%d", Path(path).name, len(entries))


def _check_sizes(path: str | os.PathLike[str], entries: list[zipfile.ZipInfo], options: ReadOptions) -> None:
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ReadError(
            "ZIP_BOMB",
            Text(
                "The workbook holds %(count)s parts; no real workbook has that many.",
                count=f"{len(entries):,}",
            ),
            file=path,
        )
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names and not any(name.endswith("workbook.xml") for name in names):
        raise ReadError(
            "UNKNOWN_FORMAT",
            Text("The file is a zip archive but not an Excel workbook; unzip it and upload the file inside."),
            file=path,
        )
    total = sum(entry.file_size for entry in entries)
    if total > options.max_unzipped_bytes:
        raise ReadError(
            "ZIP_BOMB",
            Text(
                "The workbook would inflate to %(total)s bytes, over the limit of %(max_unzipped_bytes)s. "
                "Split it or export the sheet as CSV.",
                total=f"{total:,}",
                max_unzipped_bytes=f"{options.max_unzipped_bytes:,}",
            ),
            file=path,
        )
    for entry in entries:
        if entry.file_size < RATIO_FLOOR_BYTES:
            continue
        ratio = entry.file_size / max(entry.compress_size, 1)
        if ratio > options.max_zip_ratio:
            raise ReadError(
                "ZIP_BOMB",
                Text(
                    "Part %(filename)s inflates %(ratio)s times (%(compress_size)s to %(file_size)s bytes), "
                    "over the limit of %(max_zip_ratio)s; the file looks like a zip bomb. Export the sheet as "
                    "CSV if it is genuine.",
                    filename=f"{entry.filename!r}",
                    ratio=f"{ratio:,.0f}",
                    compress_size=f"{entry.compress_size:,}",
                    file_size=f"{entry.file_size:,}",
                    max_zip_ratio=f"{options.max_zip_ratio:,.0f}",
                ),
                file=path,
            )


def _check_part_sizes(
    path: str | os.PathLike[str],
    archive: zipfile.ZipFile,
    entries: list[zipfile.ZipInfo],
    options: ReadOptions,
) -> None:
    """Refuse a part openpyxl would parse whole that inflates past its limit, whatever its ratio or size.

    A ratio says nothing about a part of 32 MiB packed 100 times: openpyxl builds objects for all of it (a
    32 MiB styles.xml takes 700 MiB and 15 s). What a part is comes from [Content_Types].xml, as openpyxl
    finds the shared strings by it, so renaming a part does not move it into a laxer class.
    """
    limits = options.limits
    content_types = _content_types(path, archive, entries, limits.xlsx_max_part_bytes)
    for entry in entries:
        kind = _part_kind(entry.filename, content_types)
        if kind == "streamed":
            continue
        if kind == "shared strings":
            _check_shared_strings(path, entry, limits)
        elif entry.file_size > limits.xlsx_max_part_bytes:
            raise ReadError(
                "PART_TOO_LARGE",
                Text(
                    "Part %(filename)s of the workbook inflates to %(file_size)s bytes, over the limit of "
                    "%(xlsx_max_part_bytes)s for a part read whole (setting DMS_XLSX_MAX_PART_BYTES); real "
                    "workbooks stay far below it. Save the workbook again from Excel, or export the sheet as "
                    "CSV.",
                    filename=f"{entry.filename!r}",
                    file_size=f"{entry.file_size:,}",
                    xlsx_max_part_bytes=f"{limits.xlsx_max_part_bytes:,}",
                ),
                file=path,
                part=entry.filename,
                limit=limits.xlsx_max_part_bytes,
            )


def _check_shared_strings(path: str | os.PathLike[str], entry: zipfile.ZipInfo, limits: ReadLimits) -> None:
    """Refuse a shared strings table past XLSX_MAX_SHARED_STRINGS_BYTES that packs more tightly than distinct
    texts do.

    Its cost (openpyxl holds every string, about 3.5 times the XML, at 5 s a 25 MB) should follow the file's
    size: a table of distinct texts packs 3 to 10 times, so a large one arrives as a large file, while 71 MB
    packed into 541 KB is a bomb. Past the base size the table may inflate XLSX_SHARED_STRINGS_MAX_RATIO times
    its packed size, so a 50 MB workbook of unique names still reads.
    """
    limit = max(
        limits.xlsx_max_shared_strings_bytes, int(limits.xlsx_shared_strings_max_ratio * entry.compress_size)
    )
    if entry.file_size <= limit:
        return
    ratio = entry.file_size / max(entry.compress_size, 1)
    raise ReadError(
        "PART_TOO_LARGE",
        Text(
            "Part %(filename)s of the workbook, the shared strings table, inflates to %(file_size)s "
            "bytes, %(ratio)s times its packed size: over the limit of %(limit)s for it (tables past "
            "%(xlsx_max_shared_strings_bytes)s bytes, setting DMS_XLSX_MAX_SHARED_STRINGS_BYTES, may "
            "inflate at most %(xlsx_shared_strings_max_ratio)s times, "
            "DMS_XLSX_SHARED_STRINGS_MAX_RATIO, as distinct texts do). Save the workbook again from "
            "Excel, or export the sheet as CSV.",
            filename=f"{entry.filename!r}",
            file_size=f"{entry.file_size:,}",
            ratio=f"{ratio:,.0f}",
            limit=f"{limit:,}",
            xlsx_max_shared_strings_bytes=f"{limits.xlsx_max_shared_strings_bytes:,}",
            xlsx_shared_strings_max_ratio=f"{limits.xlsx_shared_strings_max_ratio:,.0f}",
        ),
        file=path,
        part=entry.filename,
        limit=limit,
    )


def _content_types(
    path: str | os.PathLike[str], archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], limit: int
) -> dict[str, str]:
    """Part name -> content type, from [Content_Types].xml's overrides and its defaults by extension."""
    entry = next((e for e in entries if e.filename == _CONTENT_TYPES_PART), None)
    if entry is None:
        return {}
    if entry.file_size > limit:
        raise ReadError(
            "PART_TOO_LARGE",
            Text(
                "Part %(content_types_part)s of the workbook inflates to %(file_size)s bytes, over the "
                "limit of %(limit)s (setting DMS_XLSX_MAX_PART_BYTES). Save the workbook again from "
                "Excel.",
                content_types_part=f"{_CONTENT_TYPES_PART!r}",
                file_size=f"{entry.file_size:,}",
                limit=f"{limit:,}",
            ),
            file=path,
            part=_CONTENT_TYPES_PART,
            limit=limit,
        )
    try:
        # Safe to parse: its size is bounded and _refuse_dtds has made sure it declares no DTD.
        root = ElementTree.fromstring(archive.read(entry))
    except ElementTree.ParseError:
        return {}  # openpyxl reports the damage
    defaults = {
        node.get("Extension", "").lower(): node.get("ContentType", "")
        for node in root.iter(f"{_CONTENT_TYPES_NS}Default")
    }
    types = {
        e.filename: defaults.get(e.filename.rpartition(".")[2].lower(), "")
        for e in entries
        if "." in e.filename
    }
    for node in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        types[node.get("PartName", "").lstrip("/")] = node.get("ContentType", "")
    return types


def _part_kind(name: str, content_types: dict[str, str]) -> str:
    """ "shared strings", "streamed" (a sheet, or a part openpyxl never reads whole) or "a part read whole"."""
    content_type = content_types.get(name, "")
    if content_type == _SHARED_STRINGS_TYPE or name.lower().endswith("sharedstrings.xml"):
        return "shared strings"
    if name in _READ_WHOLE_NAMES or name.endswith(".rels"):
        return "a part read whole"
    if content_type in _STREAMED_TYPES:
        return "streamed"
    is_xml = name.lower().endswith((".xml", ".rels")) or content_type.endswith("xml")
    if not is_xml:
        return "streamed"  # pictures, embedded files, printer settings, VBA: never parsed
    if not content_type and name.startswith(("xl/worksheets/", "xl/pivotCache/pivotCacheRecords")):
        return "streamed"
    return "a part read whole"


def _refuse_dtds(
    path: str | os.PathLike[str], archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]
) -> None:
    """Refuse a workbook any of whose XML parts declares a DTD, before openpyxl parses one.

    No part Excel writes has a DTD, and a DTD is how XML attacks come: entities that expand a few bytes into
    gigabytes ("billion laughs"), or external entities that read files or URLs on this side.
    """
    for entry in entries:
        if entry.is_dir():
            continue
        with archive.open(entry) as part:
            text = _xml_text(part.read(XML_PROLOG_BYTES))
        verdict = _prolog_verdict(text)
        if verdict == "dtd":
            raise ReadError(
                "XML_DTD",
                Text(
                    "Part %(filename)s of the workbook declares a DTD (<!DOCTYPE ...>), which Excel never "
                    "writes and which can hide an XML attack; the file was not read. Save it again from "
                    "Excel.",
                    filename=f"{entry.filename!r}",
                ),
                file=path,
            )
        if verdict == "unfinished":
            raise ReadError(
                "XML_DTD",
                Text(
                    "Part %(filename)s of the workbook has no root element in its first %(xml_prolog_bytes)s "
                    "bytes, which Excel never writes; the file was not read. Save it again from Excel.",
                    filename=f"{entry.filename!r}",
                    xml_prolog_bytes=f"{XML_PROLOG_BYTES:,}",
                ),
                file=path,
            )


def _xml_text(head: bytes) -> str:
    """The head of a part as text, in UTF-16 when it has that BOM or layout (XML's only other encoding)."""
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="replace").lstrip("\ufeff")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


def _prolog_verdict(text: str) -> str:
    """What an XML part's prolog holds: "dtd", "root" (the root element starts first), "unfinished" (the
    head ended inside the prolog) or "not_xml" (a picture or other binary part)."""
    position = len(text) - len(text.lstrip())
    if not text.startswith("<", position):
        return "not_xml"
    while True:
        position += len(text[position:]) - len(text[position:].lstrip())
        if position >= len(text):
            return "unfinished"
        for opening, closing in (("<?", "?>"), ("<!--", "-->")):
            if text.startswith(opening, position):
                end = text.find(closing, position + len(opening))
                if end < 0:
                    return "unfinished"
                position = end + len(closing)
                break
        else:
            # `<!DOCTYPE` or any other declaration before the root element; a bare `<` starts the root.
            return "dtd" if text.startswith("<!", position) else "root"

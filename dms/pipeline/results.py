"""Row-accurate results: Salesforce's answers matched back to source rows, written per chunk, merged on download.

Bulk API 2.0 does not keep the order of results, and its result files carry only the values sent. So each
result row is matched to the sent row with the same values; identical sent rows are told apart by their
occurrence (the n-th identical result takes the n-th identical source row not yet claimed by another result).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dms.pipeline.csvtext import column_texts, table_csv
from dms.pipeline.exported import ERROR_COLUMNS, SUCCESS_COLUMNS, neutralise, safe_texts
from dms.pipeline.model import ROW_COLUMN

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What Salesforce did with one chunk's rows (each row is in exactly one list, or counted cancelled)."""

    succeeded: list[tuple[int, str, bool]]  # (source row, Salesforce Id, created)
    failed: list[tuple[int, str, str, str]]  # (source row, error code, message, fields)
    cancelled: int = 0  # rows a cancel stopped before Salesforce processed them

    @property
    def counts(self) -> dict[str, int]:
        created = sum(1 for _, _, c in self.succeeded if c)
        return {
            "succeeded": len(self.succeeded),
            "created": created,
            "updated": len(self.succeeded) - created,
            "failed": len(self.failed),
        }


def row_keys(columns: Sequence[pa.Array], rows: int) -> pa.Array:
    """One text key per row that tells rows with different values apart: each value prefixed with its
    length, so no value (whatever characters it holds) can run into the next."""
    if not columns:
        return pa.array([""] * rows, pa.string())
    parts: list[pa.Array] = []
    for texts in columns:
        parts += [pc.cast(pc.utf8_length(texts), pa.string()), texts]
    return pc.binary_join_element_wise(*parts, ":")


def with_occurrences(keys: pa.Array) -> pa.Array:
    """Each key suffixed with its occurrence (0 for the first row with it, 1 for the second, ...)."""
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    occurrence = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    return pc.binary_join_element_wise(keys, pa.array(occurrence.astype(str)), "#")


def _unique(keys: pa.Array) -> bool:
    return bool(pc.count_distinct(keys).as_py() == len(keys))


def _pair(sent: pa.Array, returned: pa.Array) -> pa.Array:
    """The position among `sent` of each returned key (the n-th repeat takes the n-th repeat; null: none)."""
    if not (_unique(sent) and _unique(returned)):
        sent, returned = with_occurrences(sent), with_occurrences(returned)
    return pc.index_in(returned, value_set=sent)


# Characters an org may drop or rewrite in what it echoes (control characters, line ends, spaces).
_LOOSE_CHARACTERS = r"[\p{Cc}\p{Z}]+"


def loose_texts(texts: pa.Array) -> pa.Array:
    """Values with every control character and space taken out: what is left of them whatever the org
    normalised (a bare CR dropped, CRLF made LF, a value trimmed)."""
    return pc.replace_substring_regex(texts, _LOOSE_CHARACTERS, "")


class RowMatcher:
    """Finds the source row of each result row by its values; the n-th identical result takes the n-th
    identical sent row, across all three result files, so no source row is claimed twice. Column-wise:
    one hash lookup of every result row's key among the sent rows' keys."""

    def __init__(self, table: pa.Table) -> None:
        self.columns = [c for c in table.column_names if c != ROW_COLUMN]
        self.rows = table.column(ROW_COLUMN).combine_chunks().cast(pa.int64())
        self.texts = [column_texts(table.column(c)) for c in self.columns]
        self.keys = row_keys(self.texts, table.num_rows)

    def texts_of(self, returned: pa.Table) -> list[pa.Array]:
        """The matched columns of a result file, in the sent table's order."""
        return [returned.column(c).combine_chunks() for c in self.columns]

    def claim(self, returned: list[pa.Array], count: int) -> pa.Array:
        """The source row of each of `count` returned rows, in order (null when no sent row is left with
        its values). A row exists in the org once its result names it, so the results that match no sent
        row exactly (the org echoed a value changed) are matched again, on loose_texts, among the sent rows
        no exact match claimed."""
        exact = pc.take(self.rows, _pair(self.keys, row_keys(returned, count)))
        lost = pc.is_null(exact)
        if count == 0 or not pc.any(lost).as_py():
            return exact
        free = pc.invert(pc.is_in(self.rows, value_set=pc.drop_null(exact)))
        if not pc.any(free).as_py():
            return exact
        where = pc.indices_nonzero(lost)
        sent = row_keys([loose_texts(t.filter(free)) for t in self.texts], int(pc.sum(free).as_py()))
        again = row_keys([loose_texts(t.take(where)) for t in returned], len(where))
        found = pc.take(self.rows.filter(free), _pair(sent, again))
        return pc.replace_with_mask(exact, lost, found)


def parse_bulk_error(text: str) -> tuple[str, str, str]:
    """Split Bulk 2.0's `sf__Error` ("CODE:message:FIELDS") into (code, message, fields)."""
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:  # no field part
        message, fields = rest, ""
    return code.strip() or "UNKNOWN_ERROR", message.strip(), fields.strip()


@dataclass
class ResultFile:
    """A Bulk 2.0 result file as all-text columns, and the text of any line that could not be read."""

    table: pa.Table
    unreadable: list[str] = field(default_factory=list)


_BARE_CR = re.compile(r"\r(?!\n)")


def read_result_csv(text: str) -> ResultFile:
    """A Bulk 2.0 result CSV as all-text columns (empty stays empty, nothing is guessed).

    Whatever the org sends is read: a value with a bare CR that the org did not quote (Python's csv module
    quotes a CR only when its line end holds one) is kept whole rather than cut into two lines, and a line
    that still does not fit the header is set aside, never a reason to lose the other rows' results."""
    if not text.strip():
        return ResultFile(pa.table({}))
    first_line = text[: text.find("\n")] if "\n" in text else text
    header = next(csv.reader([first_line.lstrip("\ufeff").rstrip("\r")]))
    stand_in = _absent_character(text) if "\r" in text else None
    if stand_in is not None:
        text = _BARE_CR.sub(stand_in, text)
    unreadable: list[str] = []

    def set_aside(row: pacsv.InvalidRow) -> str:
        unreadable.append(row.text or "")
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=set_aside),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if stand_in is not None:
        table = pa.table({name: pc.replace_substring(table.column(name), stand_in, "\r") for name in header})
    if unreadable:
        log.warning("bulk result lines unreadable count=%d first=%r", len(unreadable), unreadable[0][:200])
    return ResultFile(table, unreadable)


def _absent_character(text: str) -> str:
    """A character the text does not hold (from the private use area), to stand in for another."""
    for code in range(0xE000, 0xF900):
        if chr(code) not in text:
            return chr(code)
    raise ValueError("no free character")  # pragma: no cover - a text holding all 6400 of them


def bulk_chunk_result(
    sent_table: pa.Table, successful: str, failed: str, unprocessed: str, unprocessed_code: str
) -> ChunkResult:
    """Match the three Bulk 2.0 result files to the sent rows; rows in none of them count as failed."""
    matcher = RowMatcher(sent_table)
    parsed = [read_result_csv(text) for text in (successful, failed, unprocessed)]
    files = [p.table for p in parsed]
    sizes = [t.num_rows for t in files]
    texts = [matcher.texts_of(t) for t in files if t.num_rows]
    returned = [pa.concat_arrays(column) for column in zip(*texts, strict=True)] if texts else []
    claimed = matcher.claim(returned, sum(sizes)) if texts else pa.array([], pa.int64())
    ok_rows, bad_rows, rest_rows = (
        claimed.slice(0, sizes[0]),
        claimed.slice(sizes[0], sizes[1]),
        claimed.slice(sizes[0] + sizes[1]),
    )
    result = ChunkResult(succeeded=[], failed=[])
    ok, bad = files[0], files[1]
    if ok.num_rows:
        created = pc.equal(pc.utf8_lower(ok.column("sf__Created")), "true")
        result.succeeded = [
            (row, sf_id, flag)
            for row, sf_id, flag in zip(
                ok_rows.to_pylist(), ok.column("sf__Id").to_pylist(), created.to_pylist(), strict=True
            )
            if row is not None
        ]
    if bad.num_rows:
        for row, error in zip(bad_rows.to_pylist(), bad.column("sf__Error").to_pylist(), strict=True):
            if row is not None:
                result.failed.append((row, *parse_bulk_error(error)))
    for row in rest_rows.to_pylist():
        if row is not None:
            result.failed.append((row, unprocessed_code, "Salesforce did not process this row.", ""))
    missing = pc.invert(pc.is_in(matcher.rows, value_set=pc.drop_null(claimed)))
    code, message = "RESULT_MISSING", "Salesforce reported no result for this row."
    if any(p.unreadable for p in parsed):
        code = "RESULT_UNREADABLE"
        message = (
            "Salesforce's result for this row could not be read, so it may have loaded: look it up in the org "
            "before you load it again."
        )
    for row in matcher.rows.filter(missing).to_pylist():
        result.failed.append((row, code, message, ""))
    return result


Originals = dict[int, tuple[str, ...]]


def source_values(source: pa.Table, rows: Iterable[int] | None = None) -> Originals:
    """Original values of each source row as neutralised text, keyed by source row (only `rows` if given)."""
    if rows is not None:
        wanted = pa.array(sorted(set(rows)), pa.int64())
        source = source.filter(pc.is_in(source.column(ROW_COLUMN), value_set=wanted))
    columns = [c for c in source.column_names if c != ROW_COLUMN]
    keys = [int(r) for r in source.column(ROW_COLUMN).to_pylist()]
    if not columns:
        return dict.fromkeys(keys, ())
    texts = [safe_texts(source.column(c)).to_pylist() for c in columns]
    return dict(zip(keys, zip(*texts, strict=True), strict=True))


def write_csv_rows(out: IO[bytes], rows: Iterable[Sequence[Any]]) -> int:
    """Write headerless UTF-8 CSV rows (a per-chunk part); returns rows written.

    Every cell must already be neutralised: error_rows does it for its own cells, and source_values for
    the original values (one vectorised pass instead of a Python call per cell)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text)
    count = 0
    for batch in _batches(rows, 10_000):
        writer.writerows(batch)
        count += len(batch)
    text.flush()
    text.detach()
    return count


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _safe(value: Any) -> str:
    return neutralise("" if value is None else str(value))


def success_part(result: ChunkResult, source: pa.Table | None) -> bytes:
    """A chunk's success part: (row, Salesforce Id, created, the row's original values), in source order,
    built column-wise (a chunk is mostly successes: tens of thousands of rows)."""
    ordered = sorted(result.succeeded)
    rows = pa.array([r for r, _, _ in ordered], pa.int64())
    columns: dict[str, pa.Array] = {
        "source_row": rows,
        "salesforce_id": safe_texts(pa.array([sf_id for _, sf_id, _ in ordered], pa.string())),
        "created": pa.array(["true" if created else "false" for _, _, created in ordered], pa.string()),
    }
    if source is not None:
        at = pc.index_in(rows, value_set=source.column(ROW_COLUMN).combine_chunks().cast(pa.int64()))
        originals = source.drop_columns([ROW_COLUMN]).take(at)
        for i, name in enumerate(originals.column_names):
            columns[f"c{i}"] = safe_texts(originals.column(name))
    return table_csv(pa.table(columns), header=False, eol="\r\n")


def error_rows(
    failed: Iterable[tuple[int, str, str, str, str]], originals: Originals
) -> Iterator[Sequence[Any]]:
    """Error part rows: (row, stage, code, message, fields) with the row's original values, in source order
    (one per problem; errors.csv joins a row's problems into one line)."""
    for row, stage, code, message, fields in sorted(failed, key=lambda f: f[0]):
        yield (row, _safe(stage), _safe(code), _safe(message), _safe(fields), *originals.get(row, ()))


def concatenate_csv(parts: Iterable[IO[bytes]], header: list[str]) -> Iterator[bytes]:
    """Stream headerless per-chunk parts as one CSV: a BOM (for spreadsheets) and the header, then the rows."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([neutralise(h) for h in header])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for part in parts:
        with part:
            while block := part.read(1024 * 1024):
                yield block


def part_key(job_id: str, index: int, kind: str) -> str:
    """Blob key of a per-chunk result part: kind is success, errors (Salesforce) or invalid (read/validation)."""
    return f"jobs/{job_id}/results/{index:05d}.{kind}.csv"


def stream_success(blobs: Any, job: dict[str, Any]) -> Iterator[bytes]:
    """success.csv: source_row, salesforce_id, created, then the original values; in source order."""
    plan = job.get("plan") or {}
    keys = [part_key(job["_id"], i, "success") for i in plan.get("chunk_indexes", [])]
    parts = (blobs.open_read(k) for k in keys if blobs.exists(k))
    return concatenate_csv(parts, SUCCESS_COLUMNS + list(plan.get("columns", [])))


def stream_errors(blobs: Any, job: dict[str, Any]) -> Iterator[bytes]:
    """errors.csv as Data Loader writes its error file: one line per unreadable, invalid or failed source
    row, in source order, with the row's original values in the source's columns, then its problems.

    Every line is as wide as the header (a row that could not be read has its fields as far as they go),
    so the file opens in a spreadsheet, gets fixed, and goes back in as it is."""
    plan = job.get("plan") or {}
    columns = list(plan.get("columns", []))

    def merged_parts() -> Iterator[IO[bytes]]:
        for index in range(plan.get("reader_chunks", 0)):
            rows = error_part_rows(blobs, job["_id"], index)
            if rows:
                buffer = io.StringIO()
                csv.writer(buffer).writerows(error_lines(rows, len(columns)))  # neutralised in the parts
                yield io.BytesIO(buffer.getvalue().encode("utf-8"))

    return concatenate_csv(merged_parts(), columns + ERROR_COLUMNS)


def error_lines(part_rows: list[list[str]], width: int) -> Iterator[list[str]]:
    """Error part rows (row, stage, code, message, fields, originals...) as errors.csv lines: one per
    source row, its `width` original values first, then its problems joined in the order they were found."""
    by_row: dict[int, list[list[str]]] = {}
    for part_row in part_rows:
        by_row.setdefault(int(part_row[0]), []).append(part_row)
    for row in sorted(by_row):
        problems = by_row[row]
        values = max((p[5:] for p in problems), key=len)  # a row's problems carry the same values
        stages, fields = (list(dict.fromkeys(p[i] for p in problems if p[i])) for i in (1, 4))
        codes, messages = ("; ".join(p[i] for p in problems) for i in (2, 3))
        padding = [""] * (width - len(values))
        yield [*values[:width], *padding, str(row), "; ".join(stages), codes, messages, "; ".join(fields)]


def error_part_rows(blobs: Any, job_id: str, index: int) -> list[list[str]]:
    """The rows of reader chunk `index`'s error parts: unreadable/invalid ones, then Salesforce's failures."""
    return [row for kind in ("invalid", "errors") for row in _part_rows(blobs, part_key(job_id, index, kind))]


def _part_rows(blobs: Any, key: str) -> list[list[str]]:
    return list(iter_part_rows(blobs, key))


def iter_part_rows(blobs: Any, key: str) -> Iterator[list[str]]:
    """The rows of a result part as they are read (none when the part was never written)."""
    if not blobs.exists(key):
        return
    with blobs.open_read(key) as part:
        yield from csv.reader(io.TextIOWrapper(part, encoding="utf-8", newline=""))


def succeeded_rows(blobs: Any, job_id: str, index: int) -> set[int]:
    """Source rows of reader chunk `index` that Salesforce loaded."""
    return {int(r[0]) for r in _part_rows(blobs, part_key(job_id, index, "success")) if r}


def succeeded_ids(blobs: Any, job_id: str, index: int) -> dict[int, str]:
    """Source row -> the Id of the record Salesforce made or matched, for reader chunk `index`."""
    return {int(r[0]): r[1] for r in _part_rows(blobs, part_key(job_id, index, "success")) if r}


def invalid_rows(blobs: Any, job_id: str, index: int) -> set[int]:
    """Source rows that the plan found unreadable or invalid in reader chunk `index` (never staged)."""
    return {int(r[0]) for r in _part_rows(blobs, part_key(job_id, index, "invalid")) if r}

"""Row-accurate results: Salesforce's answers matched back to source rows, written per chunk, merged on download.

Bulk API 2.0 does not keep the order of results, and its result files carry only the values sent. So each
result row is matched to the sent row with the same values; identical sent rows are told apart by their
occurrence (the n-th identical result takes the n-th identical source row not yet claimed by another result).
"""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.sniff import ROW_COLUMN

SUCCESS_HEADER = ["source_row", "salesforce_id", "created"]
ERROR_HEADER = ["source_row", "stage", "error_code", "error_message", "fields"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Defuse spreadsheet formula injection: a cell that starts like a formula is prefixed with a quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass
class ChunkResult:
    """What Salesforce did with one chunk's rows (each row appears in exactly one list)."""

    succeeded: list[tuple[int, str, bool]]  # (source row, Salesforce Id, created)
    failed: list[tuple[int, str, str, str]]  # (source row, error code, message, fields)

    @property
    def counts(self) -> dict[str, int]:
        created = sum(1 for _, _, c in self.succeeded if c)
        return {
            "succeeded": len(self.succeeded),
            "created": created,
            "updated": len(self.succeeded) - created,
            "failed": len(self.failed),
        }


def column_texts(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """A column's values as the text written to CSV (null = empty); text columns stay in Arrow's kernels."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return list(pc.fill_null(column, "").to_pylist())
    # Typed columns (Parquet, Excel) keep pandas' rendering of their values (1.0, True, 2024-01-31 00:00:00).
    series = column.to_pandas()
    return list(series.astype(object).where(series.notna(), "").astype(str))


def _safe_column(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """column_texts with every cell neutralised, checked by Arrow kernels rather than a Python call per cell."""
    texts = pa.array(column_texts(column), pa.string())
    risky = pc.starts_with(texts, FORMULA_STARTS[0])
    for start in FORMULA_STARTS[1:]:
        risky = pc.or_(risky, pc.starts_with(texts, start))
    if not pc.any(risky).as_py():
        return list(texts.to_pylist())
    return list(pc.if_else(risky, pc.binary_join_element_wise("'", texts, ""), texts).to_pylist())


def sent_texts(table: pa.Table) -> tuple[list[int], list[str], list[tuple[str, ...]]]:
    """The sent rows as text exactly as they went into the CSV (null = empty): (source rows, columns, values)."""
    columns = [c for c in table.column_names if c != ROW_COLUMN]
    rows = [int(r) for r in table.column(ROW_COLUMN).to_pylist()]
    values = list(zip(*(column_texts(table.column(c)) for c in columns), strict=True)) if columns else []
    return rows, columns, values or [()] * len(rows)


class RowMatcher:
    """Finds the source row of each result row by its values; the n-th identical result takes the n-th
    identical sent row, across all three result files, so no source row is claimed twice."""

    def __init__(self, table: pa.Table) -> None:
        rows, self.columns, values = sent_texts(table)
        self.rows = rows
        # Most rows are unique: a plain dict for the first of each value, queues only for the repeats.
        self._first: dict[tuple[str, ...], int] = {}
        self._repeats: dict[tuple[str, ...], deque[int]] = {}
        for key, row in zip(values, rows, strict=True):
            if key in self._first:
                self._repeats.setdefault(key, deque()).append(row)
            else:
                self._first[key] = row

    def claim(self, returned: pd.DataFrame) -> list[int | None]:
        """The source row of each returned row, in order (None when no sent row is left with its values)."""
        texts = [returned[c].fillna("").astype(str).tolist() for c in self.columns]
        keys: Iterable[tuple[str, ...]] = zip(*texts, strict=True) if texts else [()] * len(returned)
        claimed: list[int | None] = []
        for key in keys:
            row = self._first.pop(key, None)
            if row is not None and key in self._repeats:
                waiting = self._repeats[key]
                self._first[key] = waiting.popleft()
                if not waiting:
                    del self._repeats[key]
            claimed.append(row)
        return claimed


def parse_bulk_error(text: str) -> tuple[str, str, str]:
    """Split Bulk 2.0's `sf__Error` ("CODE:message:FIELDS") into (code, message, fields)."""
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:  # no field part
        message, fields = rest, ""
    return code.strip() or "UNKNOWN_ERROR", message.strip(), fields.strip()


def read_result_csv(text: str) -> pd.DataFrame:
    """A Bulk 2.0 result CSV as all-text columns (empty stays empty, nothing is guessed)."""
    if not text.strip():
        return pd.DataFrame()
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)


def bulk_chunk_result(
    sent_table: pa.Table, successful: str, failed: str, unprocessed: str, unprocessed_code: str
) -> ChunkResult:
    """Match the three Bulk 2.0 result files to the sent rows; rows in none of them count as failed."""
    matcher = RowMatcher(sent_table)
    result = ChunkResult(succeeded=[], failed=[])
    seen: set[int] = set()

    ok = read_result_csv(successful)
    if len(ok):
        ids, created_flags = ok["sf__Id"].tolist(), ok["sf__Created"].tolist()
        for row, sf_id, created in zip(matcher.claim(ok), ids, created_flags, strict=True):
            if row is not None:
                result.succeeded.append((row, sf_id, created.lower() == "true"))
                seen.add(row)
    bad = read_result_csv(failed)
    if len(bad):
        for row, error in zip(matcher.claim(bad), bad["sf__Error"].tolist(), strict=True):
            if row is not None:
                result.failed.append((row, *parse_bulk_error(error)))
                seen.add(row)
    rest = read_result_csv(unprocessed)
    if len(rest):
        for row in matcher.claim(rest):
            if row is not None:
                result.failed.append((row, unprocessed_code, "Salesforce did not process this row.", ""))
                seen.add(row)
    for row in matcher.rows:
        if row not in seen:
            result.failed.append((row, "RESULT_MISSING", "Salesforce reported no result for this row.", ""))
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
    return dict(zip(keys, zip(*(_safe_column(source.column(c)) for c in columns), strict=True), strict=True))


def write_csv_rows(out: IO[bytes], rows: Iterable[Sequence[Any]]) -> int:
    """Write headerless UTF-8 CSV rows (a per-chunk part); returns rows written.

    Every cell must already be neutralised: success_rows and error_rows do it for their own cells, and
    source_values for the original values (one vectorised pass instead of a Python call per cell)."""
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


def success_rows(result: ChunkResult, originals: Originals) -> Iterator[Sequence[Any]]:
    """(row, Salesforce Id, created) with the row's original values, in source order."""
    for row, sf_id, created in sorted(result.succeeded):
        yield (row, _safe(sf_id), "true" if created else "false", *originals.get(row, ()))


def error_rows(
    failed: Iterable[tuple[int, str, str, str, str]], originals: Originals
) -> Iterator[Sequence[Any]]:
    """(row, stage, code, message, fields) with the row's original values, in source order."""
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
    return concatenate_csv(parts, SUCCESS_HEADER + list(plan.get("columns", [])))


def stream_errors(blobs: Any, job: dict[str, Any]) -> Iterator[bytes]:
    """errors.csv: every unreadable, invalid and failed row with its reason and original values, in source order."""
    plan = job.get("plan") or {}
    header = ERROR_HEADER + list(plan.get("columns", []))

    def merged_parts() -> Iterator[IO[bytes]]:
        for index in range(plan.get("reader_chunks", 0)):
            rows = error_part_rows(blobs, job["_id"], index)
            if rows:
                rows.sort(key=lambda r: int(r[0]))
                buffer = io.StringIO()
                csv.writer(buffer).writerows(rows)  # already neutralised when the parts were written
                yield io.BytesIO(buffer.getvalue().encode("utf-8"))

    return concatenate_csv(merged_parts(), header)


def failed_rows(blobs: Any, job: dict[str, Any]) -> set[int]:
    """Source rows of every unreadable, invalid or failed row (for a retry)."""
    plan = job.get("plan") or {}
    rows: set[int] = set()
    for index in range(plan.get("reader_chunks", 0)):
        rows.update(int(r[0]) for r in error_part_rows(blobs, job["_id"], index) if r)
    return rows


def error_part_rows(blobs: Any, job_id: str, index: int) -> list[list[str]]:
    """The rows of reader chunk `index`'s error parts: unreadable/invalid ones, then Salesforce's failures."""
    rows: list[list[str]] = []
    for kind in ("invalid", "errors"):
        key = part_key(job_id, index, kind)
        if blobs.exists(key):
            with blobs.open_read(key) as part:
                rows.extend(csv.reader(io.TextIOWrapper(part, encoding="utf-8", newline="")))
    return rows

"""Row-accurate results: Salesforce's answers matched back to source rows, written per chunk, merged on download.

Bulk API 2.0 does not keep the order of results, and its result files carry only the values sent. So each
result row is matched to the sent row with the same values; identical sent rows are told apart by their
occurrence number (the n-th identical result takes the n-th identical source row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow as pa

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


def _with_occurrence(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["__occurrence__"] = frame.groupby(columns, sort=False, dropna=False).cumcount()
    return frame


def sent_frame(table: pa.Table) -> pd.DataFrame:
    """The sent rows as text exactly as they went into the CSV (null = empty), with their source row."""
    frame = table.to_pandas()
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    frame[columns] = frame[columns].fillna("").astype(str)
    return frame


def match_rows(sent: pd.DataFrame, returned: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Attach `__row__` to returned result rows by their values (and occurrence among identical rows)."""
    returned = returned.copy()
    returned[columns] = returned[columns].fillna("").astype(str)
    left = _with_occurrence(returned, columns)
    right = _with_occurrence(sent[[*columns, ROW_COLUMN]], columns)
    merged = left.merge(right, on=[*columns, "__occurrence__"], how="left", validate="one_to_one")
    return merged


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
    sent = sent_frame(sent_table)
    columns = [c for c in sent.columns if c != ROW_COLUMN]
    result = ChunkResult(succeeded=[], failed=[])
    seen: set[int] = set()

    ok = read_result_csv(successful)
    if len(ok):
        merged = match_rows(sent, ok, columns)
        for row, sf_id, created in zip(
            merged[ROW_COLUMN], merged["sf__Id"], merged["sf__Created"], strict=True
        ):
            if pd.notna(row):
                result.succeeded.append((int(row), sf_id, created.lower() == "true"))
                seen.add(int(row))
    bad = read_result_csv(failed)
    if len(bad):
        merged = match_rows(sent, bad, columns)
        for row, error in zip(merged[ROW_COLUMN], merged["sf__Error"], strict=True):
            if pd.notna(row):
                result.failed.append((int(row), *parse_bulk_error(error)))
                seen.add(int(row))
    rest = read_result_csv(unprocessed)
    if len(rest):
        merged = match_rows(sent, rest, columns)
        for row in merged[ROW_COLUMN]:
            if pd.notna(row):
                result.failed.append((int(row), unprocessed_code, "Salesforce did not process this row.", ""))
                seen.add(int(row))
    for row in sent[ROW_COLUMN]:
        if int(row) not in seen:
            result.failed.append(
                (int(row), "RESULT_MISSING", "Salesforce reported no result for this row.", "")
            )
    return result


def source_values(source: pa.Table) -> dict[int, list[str]]:
    """Original values of each source row as text, keyed by source row."""
    columns = [c for c in source.column_names if c != ROW_COLUMN]
    frame = source.to_pandas()
    texts = frame[columns].astype(object).where(frame[columns].notna(), "").astype(str)
    return {int(r): list(v) for r, v in zip(frame[ROW_COLUMN], texts.itertuples(index=False), strict=True)}


def write_csv_rows(out: IO[bytes], rows: Iterable[list[Any]]) -> int:
    """Write headerless UTF-8 CSV rows with every cell neutralised (a per-chunk part); returns rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    count = 0
    for row in rows:
        writer.writerow([neutralise("" if v is None else str(v)) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def success_rows(result: ChunkResult, originals: dict[int, list[str]]) -> Iterator[list[Any]]:
    for row, sf_id, created in sorted(result.succeeded):
        yield [row, sf_id, "true" if created else "false", *originals.get(row, [])]


def error_rows(
    failed: Iterable[tuple[int, str, str, str, str]], originals: dict[int, list[str]]
) -> Iterator[list[Any]]:
    """(row, stage, code, message, fields) with the row's original values, in source order."""
    for row, stage, code, message, fields in sorted(failed, key=lambda f: f[0]):
        yield [row, stage, code, message, fields, *originals.get(row, [])]


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
            rows: list[list[str]] = []
            for kind in ("invalid", "errors"):
                key = part_key(job["_id"], index, kind)
                if blobs.exists(key):
                    with blobs.open_read(key) as part:
                        rows.extend(csv.reader(io.TextIOWrapper(part, encoding="utf-8", newline="")))
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
        for kind in ("invalid", "errors"):
            key = part_key(job["_id"], index, kind)
            if blobs.exists(key):
                with blobs.open_read(key) as part:
                    rows.update(
                        int(r[0])
                        for r in csv.reader(io.TextIOWrapper(part, encoding="utf-8", newline=""))
                        if r
                    )
    return rows

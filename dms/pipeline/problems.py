"""A job's rows that did not load, read back from its result parts: grouped by reason, listed row by row, and
the rows a person corrected written out as the source of a retry.

Everything streams part by part (one reader chunk's part at a time, each read as it goes), so a job with
millions of invalid rows is summarised or paged through without holding them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import IO, Any

from dms.errors import DMSError, Text
from dms.pipeline import results as res
from dms.pipeline.advice import advice_for
from dms.pipeline.exported import restore
from dms.pipeline.model import ORIGINAL_ROW_COLUMN

MAX_GROUPS = 200  # (stage, code, field) groups of one summary; a job's mapping has far fewer


class Outcome(StrEnum):
    """Which rows that did not load: refused by DMS before any call (or unreadable), or by Salesforce."""

    INVALID = "invalid"
    FAILED = "failed"


PART_KINDS = {Outcome.INVALID: "invalid", Outcome.FAILED: "errors"}  # the result parts each is written to


@dataclass(frozen=True)
class Problem:
    """One reason a row did not load, and the cell it concerns when that is known."""

    stage: str  # read, validation or salesforce
    code: str
    message: str
    field: str | None  # the target field (or the file's column, for a read problem)
    column: str | None  # the file's column the problem concerns
    value: str | None  # that column's value in the row

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ProblemRow:
    """A row of the job's source that did not load, with its values and every problem it had."""

    row: int  # in the job's own source (what a retry of edited rows names)
    source_row: int  # in the file first uploaded (a retry's rows keep the first job's numbers)
    outcome: Outcome
    values: dict[str, str]
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "source_row": self.source_row,
            "outcome": str(self.outcome),
            "values": self.values,
            "errors": [problem.to_dict() for problem in self.problems],
        }


class JobProblems:
    """The problems of one job's rows, read from its parts with its columns and mapping."""

    def __init__(self, blobs: Any, job: Mapping[str, Any]) -> None:
        plan = job.get("plan") or {}
        self.blobs = blobs
        self.job_id = str(job["_id"])
        self.file_columns = [str(c) for c in plan.get("columns", [])]
        self.columns = [c for c in self.file_columns if c != ORIGINAL_ROW_COLUMN]
        self.reader_chunks = int(plan.get("reader_chunks", 0))
        self.counters = dict(job.get("counters") or {})
        fields = (job.get("mapping") or {}).get("fields")
        self.source_of: dict[str, str] = {}
        for entry in fields if isinstance(fields, list) else []:
            if not isinstance(entry, dict) or not isinstance(entry.get("target"), str):
                continue
            concat = entry.get("concat")
            source = entry.get("source") or (concat[0] if isinstance(concat, list) and concat else None)
            if isinstance(source, str):
                self.source_of.setdefault(entry["target"].lower(), source)

    def column_of(self, named: str) -> str | None:
        """The file's column a problem's field concerns: the column itself, or the one mapped to the field
        (for Salesforce's `Name,Phone`, the first)."""
        first = named.split(",")[0].strip()
        if first in self.columns:
            return first
        return self.source_of.get(first.lower())

    def rows(self, outcome: Outcome | None = None) -> Iterator[ProblemRow]:
        """The rows that did not load, in the file's order chunk by chunk (both outcomes unless one is named)."""
        outcomes = [outcome] if outcome is not None else list(Outcome)
        for index in range(self.reader_chunks):
            for kind in outcomes:
                part = res.iter_part_rows(self.blobs, res.part_key(self.job_id, index, PART_KINDS[kind]))
                # A part lists a row's problems side by side (error_rows sorts by row).
                for row, lines in groupby((line for line in part if line), key=lambda line: int(line[0])):
                    yield self._problem_row(row, kind, list(lines))

    def _problem_row(self, row: int, outcome: Outcome, lines: list[list[str]]) -> ProblemRow:
        originals = max((line[5:] for line in lines), key=len)  # a row's problems carry the same values
        texts = [restore(value) for value in originals[: len(self.file_columns)]]
        texts += [""] * (len(self.file_columns) - len(texts))
        by_column = dict(zip(self.file_columns, texts, strict=True))
        first_row = by_column.pop(ORIGINAL_ROW_COLUMN, "")
        problems = []
        for line in lines:
            stage, code, message, named = (line + ["", "", "", ""])[1:5]
            column = self.column_of(named) if named else None
            value = by_column.get(column) if column else None
            problems.append(Problem(stage, code, message, named or None, column, value))
        source_row = int(first_row) if first_row.isdecimal() else row
        return ProblemRow(row, source_row, outcome, by_column, problems)

    def summary(self, examples: int) -> dict[str, Any]:
        """The problems grouped by stage, code and field: counts, up to `examples` rows each, and advice."""
        groups: dict[tuple[str, str, str | None], dict[str, Any]] = {}
        rows = problems = 0
        capped = False
        for problem_row in self.rows():
            rows += 1
            for problem in problem_row.problems:
                problems += 1
                key = (problem.stage, problem.code, problem.field)
                group = groups.get(key)
                if group is None:
                    if len(groups) >= MAX_GROUPS:
                        capped = True
                        continue
                    group = groups[key] = _new_group(problem, problem_row.outcome)
                group["count"] += 1
                if len(group["examples"]) < examples:
                    group["examples"].append(_example(problem_row, problem))
        ordered = sorted(groups.values(), key=lambda g: (-g["count"], g["code"], g["field"] or ""))
        return {
            "job_id": self.job_id,
            "invalid": int(self.counters.get("invalid") or 0),
            "failed": int(self.counters.get("failed") or 0),
            "rows": rows,
            "problems": problems,
            "groups": ordered,
            "groups_capped": capped,
        }

    def page(self, outcome: Outcome, offset: int, limit: int) -> dict[str, Any]:
        """Rows `offset` to `offset + limit` of one outcome (read up to one past them, to say if more follow)."""
        listed: list[dict[str, Any]] = []
        more = False
        for position, problem_row in enumerate(self.rows(outcome)):
            if position < offset:
                continue
            if len(listed) == limit:
                more = True
                break
            listed.append(problem_row.to_dict())
        return {
            "job_id": self.job_id,
            "outcome": str(outcome),
            "total": int(self.counters.get(str(outcome)) or 0),
            "offset": offset,
            "limit": limit,
            "next_offset": offset + limit if more else None,
            "columns": self.columns,
            "rows": listed,
        }

    def write_edited(self, edits: Mapping[int, Mapping[str, str | None]], out: IO[bytes]) -> int:
        """Write the edited rows (by their row in the job's source) with their new values as a CSV source of
        the job's columns and the first file's row numbers; a row that did not fail, or was not invalid, is
        refused before anything is written. Returns the rows written."""
        unknown = sorted({c for values in edits.values() for c in values} - set(self.columns))
        if unknown:
            raise DMSError(
                Text(
                    "The job's file has no column %(unknown)s; its columns are %(value)s.",
                    unknown=f"{unknown[0]!r}",
                    value=", ".join(repr(c) for c in self.columns[:50]),
                ),
                code="UNKNOWN_COLUMN",
                field="rows",
                column=unknown[0],
            )
        found = {r.row: r for r in self.rows() if r.row in edits}  # holds only the edited rows
        refused = sorted(set(edits) - set(found))
        if refused:
            listed = ", ".join(str(r) for r in refused[:10]) + (", ..." if len(refused) > 10 else "")
            raise DMSError(
                (
                    Text(
                        "Rows %(listed)s of job %(job_id)s did not fail and were not invalid: only those rows can "
                        "be corrected and retried.",
                        listed=listed,
                        job_id=self.job_id,
                    )
                    if len(refused) > 1
                    else Text(
                        "Row %(listed)s of job %(job_id)s did not fail and were not invalid: only those rows can "
                        "be corrected and retried.",
                        listed=listed,
                        job_id=self.job_id,
                    )
                ),
                code="ROW_NOT_RETRYABLE",
                http_status=422,
                field="rows",
                rows=refused[:100],
            )
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        writer = csv.writer(text)
        writer.writerow([*self.columns, ORIGINAL_ROW_COLUMN])
        for row in sorted(found):
            values = {**found[row].values, **edits[row]}
            writer.writerow([*(values.get(c) or "" for c in self.columns), found[row].source_row])
        text.flush()
        text.detach()
        return len(found)


def _new_group(problem: Problem, outcome: Outcome) -> dict[str, Any]:
    return {
        "outcome": str(outcome),
        "stage": problem.stage,
        "code": problem.code,
        "field": problem.field,
        "column": problem.column,
        "count": 0,
        "advice": advice_for(problem.code),
        "examples": [],
    }


def _example(problem_row: ProblemRow, problem: Problem) -> dict[str, Any]:
    return {
        "row": problem_row.row,
        "source_row": problem_row.source_row,
        "column": problem.column,
        "value": problem.value,
        "message": problem.message,
    }

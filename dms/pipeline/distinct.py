"""A column's distinct values and how many rows hold each, counted chunk by chunk over a whole file.

The mapping editor builds value maps from them (legacy codes G/S/B or J/N against a picklist's values or the
boolean tokens). Values are the cells' text as a map transform sees it (before any trim), so a key copied
from here matches what the load reads. Memory stays bounded whatever the file holds: at most
MAX_TRACKED_VALUES distinct values are counted; rows holding a value first seen past that are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.columns import as_array
from dms.pipeline.prepare.text import to_text

MAX_TRACKED_VALUES = 10_000  # distinct values held while counting (a code column has a handful)
MAX_SCANNED_ROWS = 1_000_000  # rows read for one answer: a web request must end within API Gateway's 29 s


@dataclass
class ValueCounts:
    """Counts of a column's values, added to one chunk at a time."""

    max_tracked: int = MAX_TRACKED_VALUES
    counts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    blank: int = 0  # empty or null cells (a map leaves them alone: they are not a code)
    untracked_rows: int = 0  # rows whose value was first seen after max_tracked values were known

    @property
    def capped(self) -> bool:
        """Whether some values went uncounted because too many distinct values were seen."""
        return self.untracked_rows > 0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        """Count one chunk's cells of the column."""
        text = to_text(as_array(column))
        self.rows += len(text)
        present = pc.and_(pc.is_valid(text), pc.greater(pc.utf8_length(text), 0))
        present = pc.fill_null(present, False)
        values = text.filter(present)
        self.blank += len(text) - len(values)
        if len(values) == 0:
            return
        if len(self.counts) >= self.max_tracked:
            # Full: only known values are counted one by one (at most max_tracked), the rest in one sum.
            known = pc.is_in(values, value_set=pa.array(list(self.counts), pa.string()))
            self.untracked_rows += len(values) - int(pc.sum(known).as_py() or 0)
            values = values.filter(known)
        counted = pc.value_counts(values)
        for value, count in zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        ):
            if value in self.counts:
                self.counts[value] += count
            elif len(self.counts) < self.max_tracked:
                self.counts[value] = count
            else:
                self.untracked_rows += count

    def most_common(self, limit: int) -> list[tuple[str, int]]:
        """The `limit` values held by most rows, most first (ties in text order, so answers are stable)."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def count_values(
    tables: Iterable[pa.Table], column: str, max_rows: int = MAX_SCANNED_ROWS
) -> tuple[ValueCounts, bool]:
    """The column's value counts over the tables (chunks of one file), and whether every row was read
    (False when `max_rows` stopped it first)."""
    counts = ValueCounts()
    for table in tables:
        left = max_rows - counts.rows
        if left <= 0:
            return counts, False
        counts.add(table.column(column).slice(0, left))
        if table.num_rows > left:
            return counts, False
    return counts, True


def value_counts_view(counts: ValueCounts, complete: bool, limit: int, clip: int) -> dict[str, Any]:
    """The JSON answer: the most common values (text past `clip` characters cut behind an ellipsis), what
    was read, and whether the list is all there is."""
    values = []
    for value, count in counts.most_common(limit):
        entry: dict[str, Any] = {"value": value, "count": count}
        if len(value) > clip:
            entry["value"], entry["length"] = value[:clip] + "…", len(value)
        values.append(entry)
    return {
        "rows_read": counts.rows,
        "complete": complete,
        "blank": counts.blank,
        "distinct": len(counts.counts),
        "capped": counts.capped,
        "untracked_rows": counts.untracked_rows,
        "truncated": len(counts.counts) > len(values),
        "values": values,
    }

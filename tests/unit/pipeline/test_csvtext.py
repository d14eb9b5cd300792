"""CSV written by Arrow kernels is byte for byte what Python's csv module writes."""

from __future__ import annotations

import csv
import io
import random

import pyarrow as pa

from dms.pipeline.csvtext import table_csv


def test_csv_text_is_what_pythons_csv_writer_writes() -> None:

    rng = random.Random(5)
    alphabet = ["a", "Z", " ", ",", '"', "\n", "\r", "ü", "漢", "'", ";", "="]

    def cell() -> str | None:
        return None if rng.random() < 0.1 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    rows = [[rng.randint(1, 10**6), cell(), cell(), cell()] for _ in range(2000)]
    table = pa.table(
        {
            "row": pa.array([r[0] for r in rows], pa.int64()),
            **{f"c,{i}": pa.array([r[i] for r in rows], pa.string()) for i in (1, 2, 3)},
        }
    )
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\r\n")
    writer.writerow(table.column_names)
    writer.writerows([["" if v is None else v for v in r] for r in rows])
    assert table_csv(table, eol="\r\n").decode("utf-8") == expected.getvalue()
    part = io.StringIO()
    csv.writer(part, lineterminator="\r\n").writerows(
        [["" if v is None else v for v in r] for r in rows[1:6]]
    )
    assert table_csv(table.slice(1, 5), header=False, eol="\r\n").decode("utf-8") == part.getvalue()

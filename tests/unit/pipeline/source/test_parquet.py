"""Parquet: native Arrow types, read by row group in exact chunks."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from dms.pipeline.source import ReadOptions, read_chunks, sniff


def test_parquet_keeps_native_types_and_is_read_in_exact_chunks(tmp_path, read_all):
    rows = 2_500
    source = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "when": pa.array([dt.date(2024, 1, 1)] * rows, pa.date32()),
            "amount": pa.array([i / 4 for i in range(rows)], pa.float64()),
            "name": pa.array([f"n{i}" for i in range(rows)]),
        }
    )
    path = tmp_path / "data.bin"
    pq.write_table(source, path, row_group_size=700)

    info = sniff(path)
    chunks = list(read_chunks(path, ReadOptions(chunk_rows=1000)))

    assert info.format == "parquet" and info.columns == ["id", "when", "amount", "name"]
    assert [chunk.table.num_rows for chunk in chunks] == [1000, 1000, 500]
    assert chunks[1].table.column("__row__").to_pylist()[:2] == [1001, 1002]
    assert chunks[2].table.schema.field("when").type == pa.date32()
    assert chunks[2].table.column("id").to_pylist()[-1] == rows - 1

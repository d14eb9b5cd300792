"""Parquet: native Arrow types, read by row group in exact chunks."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dms.pipeline.source import (
    ReadError,
    ReadLimits,
    ReadOptions,
    pages,
    parquet,
    read_chunks,
    read_head,
    sniff,
)


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


def _repeated_value_file(path, value_bytes: int, rows: int, **write_options) -> None:
    """A Parquet file whose text column holds the same value of value_bytes on every row: tiny on disk."""
    table = pa.table({"id": list(range(rows)), "note": ["x" * value_bytes] * rows})
    pq.write_table(table, path, compression="zstd", **write_options)


@pytest.mark.parametrize(
    "write_options",
    [{}, {"use_dictionary": False, "column_encoding": {"note": "DELTA_BYTE_ARRAY"}}],
    ids=["dictionary", "delta-byte-array"],
)
def test_a_value_over_the_cell_limit_is_refused_naming_the_column_row_and_limit(tmp_path, write_options):
    # Both store the 16 MiB value once (in a dictionary page, or as a prefix each row shares), so their pages
    # pass the page limit: the cell limit refuses them, checked before the value is repeated on every row.
    path = tmp_path / "inflating.parquet"
    _repeated_value_file(path, 16 * 1024 * 1024, 20, **write_options)
    assert path.stat().st_size < 20_000
    with pytest.raises(ReadError) as caught:
        read_head(path, rows=2000)
    error = caught.value
    assert (error.code, error.http_status) == ("CELL_TOO_LARGE", 422)
    assert error.where == {"file": "inflating.parquet", "row": 1, "column": "note", "limit": 1024 * 1024}
    assert "'note'" in error.message and "1,048,576" in error.message


def test_a_page_over_the_page_limit_is_refused_from_its_header_before_it_is_decoded(tmp_path, monkeypatch):
    path = tmp_path / "inflating.parquet"
    _repeated_value_file(path, 16 * 1024 * 1024, 20, use_dictionary=False)  # one 320 MiB page, 11 KB on disk
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", lambda *a, **k: pytest.fail("a page was decoded"))
    with pytest.raises(ReadError) as caught:
        read_head(path, rows=2000)
    error = caught.value
    assert (error.code, error.where["column"], error.where["limit"]) == (
        "PARQUET_PAGE_TOO_LARGE",
        "note",
        64 * 1024**2,
    )
    assert "335,544," in error.message and "DMS_PARQUET_MAX_PAGE_BYTES" in error.message


def test_page_headers_are_walked_exactly_whatever_the_writer_put_in_them(tmp_path):
    rows = 20_000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": pa.array([f"name {i % 500}" for i in range(rows)]),
            "flag": pa.array([i % 3 == 0 for i in range(rows)]),
            "tags": pa.array([[f"t{i % 7}", None] for i in range(rows)], pa.list_(pa.string())),
            "when": pa.array([dt.date(2024, 1, 1 + i % 28) for i in range(rows)], pa.date32()),
        }
    )
    for version in ("1.0", "2.0"):
        path = tmp_path / f"pages-{version}.parquet"
        pq.write_table(table, path, data_page_size=4096, data_page_version=version, row_group_size=7000)
        metadata = pq.ParquetFile(path).metadata
        with open(path, "rb") as source:
            for group in range(metadata.num_row_groups):
                for column in range(metadata.num_columns):
                    chunk = metadata.row_group(group).column(column)
                    start = (
                        chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
                    )
                    headers = list(pages.page_headers(source, start, chunk.total_compressed_size))
                    walked = sum(h.header_size + h.compressed_size for h in headers)
                    assert walked == chunk.total_compressed_size
                    assert (
                        sum(h.uncompressed_size + h.header_size for h in headers)
                        == chunk.total_uncompressed_size
                    )
        assert sum(chunk.table.num_rows for chunk in read_chunks(path)) == rows


def test_a_damaged_page_header_is_a_corrupt_file(tmp_path):
    path = tmp_path / "damaged.parquet"
    pq.write_table(pa.table({"id": list(range(100))}), path)
    data = bytearray(path.read_bytes())
    offset = pq.ParquetFile(path).metadata.row_group(0).column(0).data_page_offset
    data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError) as caught:
        list(read_chunks(path))
    assert caught.value.code == "CORRUPT_FILE" and caught.value.where["column"] == "id"


def test_a_dictionary_value_is_checked_before_it_is_expanded(tmp_path, monkeypatch):
    path = tmp_path / "inflating.parquet"
    _repeated_value_file(path, 16 * 1024 * 1024, 20)
    expanded = []
    monkeypatch.setattr(parquet, "_expanded", lambda column: expanded.append(column) or column)
    with pytest.raises(ReadError):
        list(read_chunks(path))
    assert expanded == []


def test_a_column_chunk_over_its_limit_is_refused_from_the_footer(tmp_path, monkeypatch):
    path = tmp_path / "wide.parquet"
    _repeated_value_file(path, 1000, 3000, use_dictionary=False)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", lambda *a, **k: pytest.fail("a page was decoded"))
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(limits=ReadLimits(parquet_max_column_chunk_bytes=1024 * 1024)))
    assert caught.value.code == "PARQUET_COLUMN_TOO_LARGE"
    assert (
        caught.value.where["column"] == "note"
        and "DMS_PARQUET_MAX_COLUMN_CHUNK_BYTES" in caught.value.message
    )


def test_repeated_dictionary_values_are_expanded_in_chunks_of_at_most_chunk_bytes(tmp_path):
    path = tmp_path / "repeated.parquet"
    _repeated_value_file(path, 100_000, 1000)
    chunks = list(read_chunks(path, ReadOptions(chunk_rows=500, chunk_bytes=2_000_000)))
    assert [chunk.table.num_rows for chunk in chunks] == [19] * 52 + [12]
    assert [chunk.index for chunk in chunks] == list(range(53))
    assert chunks[0].table.schema.field("note").type == pa.string()
    assert chunks[-1].table.column("__row__").to_pylist()[-1] == 1000
    sample = read_head(path, ReadOptions(chunk_bytes=2_000_000), rows=500)
    assert (sample.table.num_rows, sample.whole) == (19, False)

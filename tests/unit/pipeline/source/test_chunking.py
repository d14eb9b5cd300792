"""Chunks are deterministic slices: same file + options, same rows in chunk n, whatever the reader's batching."""

from __future__ import annotations

import json
import random

import openpyxl
import pyarrow as pa
import pytest

from dms.pipeline.source import ReadOptions, delimited, read_chunks
from dms.pipeline.source.chunking import RecordNumbering, row_bytes


def _messy_csv(rows: int, seed: int = 3) -> tuple[bytes, set[int]]:
    """A CSV with quoted newlines, blank lines and ragged rows; returns it and the ragged record numbers."""
    rng = random.Random(seed)
    lines = ["id,name,note"]
    ragged = set()
    for record in range(1, rows + 1):
        roll = rng.random()
        if roll < 0.01:
            lines.append(f"{record},only two")
            ragged.add(record)
        elif roll < 0.05:
            lines.append(f'{record},"multi\nline, quoted",x')
        else:
            lines.append(f"{record},name {record},{'y' * rng.randint(0, 40)}")
        if rng.random() < 0.01:
            lines.append("")
    return ("\r\n".join(lines) + "\r\n").encode(), ragged


def _signature(chunks):
    return [(c.index, c.table.to_pydict(), [(p.row, p.code, p.raw) for p in c.problems]) for c in chunks]


def test_chunks_are_exact_contiguous_and_carry_their_problems(write_bytes):
    data, ragged = _messy_csv(10_000)
    path = write_bytes("messy.csv", data)

    chunks = list(read_chunks(path, ReadOptions(chunk_rows=1000)))

    sizes = [chunk.table.num_rows for chunk in chunks]
    assert all(size == 1000 for size in sizes[:-1]) and 0 < sizes[-1] <= 1000
    rows = [row for chunk in chunks for row in chunk.table.column("__row__").to_pylist()]
    problem_rows = [problem.row for chunk in chunks for problem in chunk.problems]
    assert rows == sorted(rows) and len(set(rows)) == len(rows)
    assert set(problem_rows) == ragged
    assert sorted(rows + problem_rows) == list(range(1, 10_001))
    # The id column says which source record a row is; __row__ must agree with it.
    assert all(
        int(i) == r
        for chunk in chunks
        for i, r in zip(
            chunk.table.column("id").to_pylist(), chunk.table.column("__row__").to_pylist(), strict=True
        )
    )
    previous_last = 0
    for chunk in chunks:
        last = chunk.table.column("__row__")[-1].as_py()
        assert all(previous_last < problem.row <= last for problem in chunk.problems)
        previous_last = last


def test_chunk_n_is_the_same_on_every_read_and_for_any_block_size(write_bytes, monkeypatch):
    data, _ = _messy_csv(20_000, seed=11)
    path = write_bytes("messy.csv", data)
    options = ReadOptions(chunk_rows=3000)

    first = _signature(read_chunks(path, options))
    again = _signature(read_chunks(path, options))
    monkeypatch.setattr(delimited, "BLOCK_SIZE", 8 * 1024)  # Arrow now batches very differently
    small_blocks = _signature(read_chunks(path, options))

    assert first == again == small_blocks
    assert len(first) == 7


def test_a_lost_chunk_is_rebuilt_by_reading_to_it(write_bytes):
    data, _ = _messy_csv(5000, seed=5)
    path = write_bytes("messy.csv", data)
    options = ReadOptions(chunk_rows=700)
    original = list(read_chunks(path, options))

    rebuilt = next(chunk for chunk in read_chunks(path, options) if chunk.index == 4)

    assert rebuilt.table.equals(original[4].table)
    assert rebuilt.problems == original[4].problems


def test_trailing_problems_travel_with_the_last_chunk(write_bytes):
    path = write_bytes("tail.csv", b"a,b\n1,2\n3,4\nbad\n")
    chunks = list(read_chunks(path, ReadOptions(chunk_rows=2)))
    assert [chunk.table.num_rows for chunk in chunks] == [2, 0]
    assert [p.row for p in chunks[-1].problems] == [3]
    assert chunks[-1].table.schema.names == ["a", "b", "__row__"]


def test_json_chunks_are_exact(write_bytes):
    path = write_bytes("r.json", json.dumps([{"n": i} for i in range(25)]).encode())
    chunks = list(read_chunks(path, ReadOptions(chunk_rows=10)))
    assert [chunk.table.num_rows for chunk in chunks] == [10, 10, 5]
    assert chunks[2].table.column("__row__").to_pylist() == list(range(21, 26))


def test_excel_chunks_are_exact(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["n"])
    for i in range(25):
        sheet.append([i])
    workbook.save(tmp_path / "n.xlsx")

    chunks = list(read_chunks(tmp_path / "n.xlsx", ReadOptions(chunk_rows=10)))

    assert [chunk.index for chunk in chunks] == [0, 1, 2]
    assert [chunk.table.num_rows for chunk in chunks] == [10, 10, 5]
    assert chunks[1].table.column("n").to_pylist() == list(range(10, 20))


@pytest.mark.parametrize(
    ("skipped", "takes", "expected"),
    [
        ([], [3, 2], [[1, 2, 3], [4, 5]]),
        ([2, 3], [3], [[1, 4, 5]]),
        ([1], [1, 1], [[2], [3]]),
        ([4, 6], [3, 3], [[1, 2, 3], [5, 7, 8]]),
        ([3], [2, 2], [[1, 2], [4, 5]]),
    ],
)
def test_record_numbering_skips_reported_records(skipped, takes, expected):
    numbering = RecordNumbering()
    for record in skipped:
        numbering.skip(record)
    assert [numbering.take(count).tolist() for count in takes] == expected


def test_chunk_tables_have_the_same_schema_for_csv(write_bytes):
    data, _ = _messy_csv(3000, seed=2)
    path = write_bytes("messy.csv", data)
    schemas = {chunk.table.schema for chunk in read_chunks(path, ReadOptions(chunk_rows=500))}
    assert len(schemas) == 1
    (schema,) = schemas
    assert schema.field("__row__").type == pa.int64()


def test_a_problems_only_chunk_has_the_same_schema_as_the_others(write_bytes):
    path = write_bytes("tail.csv", b"a,b\n1,2\n3,4\nbad\n")
    schemas = {chunk.table.schema for chunk in read_chunks(path, ReadOptions(chunk_rows=2))}
    assert len(schemas) == 1


def test_wide_rows_are_cut_by_bytes_deterministically_keeping_every_row_and_problem(write_bytes, monkeypatch):
    data, ragged = _messy_csv(6000, seed=7)  # notes of 0-40 characters: rows of ~20-60 bytes
    path = write_bytes("messy.csv", data)
    options = ReadOptions(chunk_rows=2000, chunk_bytes=16 * 1024)

    chunks = list(read_chunks(path, options))

    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len(chunks) > 6000 // 2000  # the byte cap cut the 2,000-row chunks again

    assert all(int(row_bytes(c.table).sum()) <= 16 * 1024 for c in chunks)
    rows = [r for c in chunks for r in c.table.column("__row__").to_pylist()]
    problems = [p.row for c in chunks for p in c.problems]
    assert rows == sorted(rows) and set(problems) == ragged
    assert sorted(rows + problems) == list(range(1, 6001))
    previous_last = 0
    for chunk in chunks:
        last = chunk.table.column("__row__")[-1].as_py()
        assert all(previous_last < problem.row <= last for problem in chunk.problems)
        previous_last = last
    monkeypatch.setattr(delimited, "BLOCK_SIZE", 8 * 1024)
    assert _signature(read_chunks(path, options)) == _signature(chunks)  # rebuild finds the same chunk n


def test_a_row_wider_than_the_cap_is_a_chunk_of_its_own(write_bytes):
    path = write_bytes("wide.csv", b"a,b\n1,x\n2," + b"y" * 5000 + b"\n3,z\n")
    chunks = list(read_chunks(path, ReadOptions(chunk_rows=10, chunk_bytes=1000)))
    assert [c.table.column("a").to_pylist() for c in chunks] == [["1"], ["2"], ["3"]]

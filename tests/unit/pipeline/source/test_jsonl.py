"""JSON arrays and NDJSON: records, native types, bad records reported where they can be skipped."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from dms.pipeline.source import ReadError, jsonl, read_chunks


def test_json_array_of_objects(write_bytes, read_all):
    records = [
        {"id": 1, "name": "Acme", "tags": ["a", "b"], "score": 1.5},
        {"id": 2, "name": "Globex", "score": 2, "address": {"city": "Paris"}},
        42,
        {"id": 3, "name": None},
    ]
    path = write_bytes("records.json", json.dumps(records, indent=2).encode())

    info, table, problems = read_all(path)

    assert info.format == "json"
    assert info.columns == ["id", "name", "tags", "score", "address"]
    assert table.schema.field("id").type == pa.int64()
    assert table.column("score").to_pylist() == [1.5, 2.0, None]
    assert table.column("tags").to_pylist() == ['["a","b"]', None, None]
    assert table.column("address").to_pylist() == [None, '{"city":"Paris"}', None]
    assert table.column("__row__").to_pylist() == [1, 2, 4]
    assert [(p.row, p.code, p.raw) for p in problems] == [(3, "NOT_AN_OBJECT", "42")]


def test_json_array_spanning_many_reads(write_bytes, read_all, monkeypatch):
    monkeypatch.setattr(jsonl, "_READ_CHARS", 7)  # tiny reads: every record and number straddles a boundary
    records = [{"n": 123456789 + i, "s": "x" * (i % 11)} for i in range(200)]
    path = write_bytes("many.json", json.dumps(records).encode())

    _, table, problems = read_all(path)

    assert table.column("n").to_pylist() == [r["n"] for r in records]
    assert problems == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'[{"a": 1},]', "trailing comma"),
        (b'[{"a": 1} {"a": 2}]', "Expected ',' or ']'"),
        (b'[{"a": 1}', "without its closing"),
        (b'[{"a": 1}] extra', "after the closing"),
        (b'[{"a": tru}]', "not valid JSON"),
    ],
)
def test_broken_json_array_is_a_clear_error(data, fragment, write_bytes):
    path = write_bytes("bad.json", data)
    with pytest.raises(ReadError) as caught:
        list(read_chunks(path))
    assert caught.value.code == "INVALID_JSON"
    assert fragment in caught.value.message


def test_ndjson_skips_blank_lines_and_reports_bad_lines(write_bytes, read_all):
    data = b'{"a": 1, "b": "x"}\r\n\n{"a": 2}\n{not json\n[1, 2]\n{"a": 3, "b": "y", "c": true}\n'
    path = write_bytes("events.ndjson", data)

    info, table, problems = read_all(path)

    assert info.format == "ndjson"
    assert info.columns == ["a", "b", "c"]
    assert table.column("a").to_pylist() == [1, 2, 3]
    assert table.column("__row__").to_pylist() == [1, 2, 5]
    assert [(p.row, p.code) for p in problems] == [(3, "INVALID_JSON"), (4, "NOT_AN_OBJECT")]
    assert problems[0].raw == "{not json"


def test_ndjson_record_with_a_field_not_seen_in_the_sample_is_reported(write_bytes, read_all, monkeypatch):
    monkeypatch.setattr(jsonl, "KEY_SAMPLE_RECORDS", 2)
    path = write_bytes("late.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3, "late": 4}\n')

    _, table, problems = read_all(path)

    assert table.column("a").to_pylist() == [1, 2]
    assert [(p.row, p.code, p.column) for p in problems] == [(3, "UNEXPECTED_FIELD", "late")]


def test_utf16_json_is_decoded(write_bytes, read_all):
    path = write_bytes("u16.json", '[{"名称": "北京"}]'.encode("utf-16"))
    info, table, _ = read_all(path)
    assert info.encoding == "utf-16"
    assert table.column("名称").to_pylist() == ["北京"]

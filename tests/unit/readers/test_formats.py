"""Excel, JSON, NDJSON and Parquet: detection by content, native Arrow types, sheets, records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlwt

from dms.pipeline.readers import ReadError, ReadOptions, read_chunks, sniff


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _xls(path: Path, rows: list[list[object]]) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Legacy")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write(r, c, value, date_style)
            elif value is not None:
                sheet.write(r, c, value)
    book.save(str(path))
    return path


def test_xlsx_reads_native_types_and_skips_blank_rows(tmp_path, read_all):
    path = _xlsx(
        tmp_path / "accounts.xlsx",
        {
            "Accounts": [
                ["Name", "Employees", "Revenue", "Since", "Active", "Mixed"],
                ["Acme", 10, 1.5, dt.datetime(2020, 1, 2), True, 1],
                [None, None, None, None, None, None],
                ["Globex", 20, 2, dt.datetime(2021, 3, 4, 5, 6), False, "n/a"],
            ]
        },
    )

    info, table, problems = read_all(path)

    assert info.format == "excel" and info.sheet == "Accounts" and info.sheet_names == ["Accounts"]
    assert table.schema.field("Name").type == pa.string()
    assert table.schema.field("Employees").type == pa.int64()
    assert table.schema.field("Revenue").type == pa.float64()
    assert pa.types.is_timestamp(table.schema.field("Since").type)
    assert table.schema.field("Active").type == pa.bool_()
    assert table.schema.field("Mixed").type == pa.string()
    assert table.column("Mixed").to_pylist() == ["1", "n/a"]
    assert table.column("Since").to_pylist()[1] == dt.datetime(2021, 3, 4, 5, 6)
    assert table.column("__row__").to_pylist() == [1, 2]
    assert problems == []


def test_xlsx_sheet_is_chosen_by_name_or_index(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", {"First": [["a"], [1]], "Second": [["b", "c"], [2, 3]]})

    assert sniff(path).columns == ["a"]
    assert sniff(path, ReadOptions(sheet="Second")).columns == ["b", "c"]
    by_index = sniff(path, ReadOptions(sheet=1))
    assert by_index.sheet == "Second" and by_index.sheet_names == ["First", "Second"]
    assert sniff(path, ReadOptions(sheet="1")).sheet == "Second"


def test_missing_sheet_error_lists_the_sheets(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", {"First": [["a"]], "Second": [["b"]]})
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(sheet="Third"))
    assert caught.value.code == "SHEET_NOT_FOUND"
    assert "'First'" in caught.value.message and "'Second'" in caught.value.message


def test_xlsx_stray_value_beyond_the_headers_is_a_problem(tmp_path, read_all):
    path = _xlsx(tmp_path / "stray.xlsx", {"S": [["a", "b", None], [1, 2], [3, 4, "oops"], [5]]})

    info, table, problems = read_all(path)

    assert info.columns == ["a", "b"]
    assert table.column("a").to_pylist() == [1, 5]
    assert table.column("b").to_pylist() == [2, None]  # a short spreadsheet row is empty cells, not ragged
    assert [(p.row, p.code) for p in problems] == [(2, "RAGGED_ROW")]
    assert "oops" in problems[0].raw


def test_xlsx_detected_by_content_whatever_its_name(tmp_path, read_all):
    path = _xlsx(tmp_path / "export.dat", {"S": [["x"], ["y"]]})
    info, table, _ = read_all(path)
    assert info.format == "excel"
    assert table.column("x").to_pylist() == ["y"]


def test_xls_reads_numbers_dates_and_unicode(tmp_path, read_all):
    path = _xls(
        tmp_path / "legacy.xls",
        [
            ["客户名称", "Count", "Price", "When"],
            ["北京", 3, 1.25, dt.datetime(2024, 5, 6)],
            ["上海", 4, 2, None],
        ],
    )

    info, table, _ = read_all(path)

    assert info.format == "excel" and info.sheet == "Legacy"
    assert table.column("客户名称").to_pylist() == ["北京", "上海"]
    assert table.schema.field("Count").type == pa.int64()
    assert table.column("Price").to_pylist() == [1.25, 2.0]
    assert table.column("When").to_pylist() == [dt.datetime(2024, 5, 6), None]


def test_damaged_workbook_is_a_clear_error(write_bytes):
    path = write_bytes("broken.xlsx", b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "CORRUPT_FILE"


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
    from dms.pipeline.readers import jsonl

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
    from dms.pipeline.readers import jsonl

    monkeypatch.setattr(jsonl, "KEY_SAMPLE_RECORDS", 2)
    path = write_bytes("late.jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3, "late": 4}\n')

    _, table, problems = read_all(path)

    assert table.column("a").to_pylist() == [1, 2]
    assert [(p.row, p.code, p.column) for p in problems] == [(3, "UNEXPECTED_FIELD", "late")]


def test_json_detected_by_content_whatever_its_name(write_bytes):
    assert sniff(write_bytes("x.txt", b' [ {"a": 1} ]')).format == "json"
    assert sniff(write_bytes("y.txt", b'{"a": 1}\n{"a": 2}\n')).format == "ndjson"


def test_pretty_printed_single_object_is_not_mistaken_for_ndjson(write_bytes):
    path = write_bytes("one.txt", b'{\n  "a": 1\n}\n')
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "INVALID_JSON"


def test_utf16_json_is_decoded(write_bytes, read_all):
    path = write_bytes("u16.json", '[{"名称": "北京"}]'.encode("utf-16"))
    info, table, _ = read_all(path)
    assert info.encoding == "utf-16"
    assert table.column("名称").to_pylist() == ["北京"]


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


def test_unrecognisable_binary_is_refused(write_bytes):
    path = write_bytes("blob.bin", bytes(range(256)) * 20)
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "UNKNOWN_FORMAT"


def test_zip_that_is_not_a_workbook_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "UNKNOWN_FORMAT"
    assert "unzip" in caught.value.message


def test_xlsx_header_may_start_below_blank_rows(tmp_path, read_all):
    path = _xlsx(tmp_path / "low.xlsx", {"S": [[None], [None, None], ["a", "b"], [1, 2]]})
    info, table, _ = read_all(path)
    assert info.columns == ["a", "b"]
    assert table.column("b").to_pylist() == [2]
    assert table.column("__row__").to_pylist() == [1]


def test_tab_separated_text_named_xls_is_read_as_text_with_a_warning(write_bytes, read_all):
    path = write_bytes("legacy.xls", "Name\tCity\nJosé\tLyon\n".encode("cp1252"))
    info, table, _ = read_all(path)
    assert info.format == "csv" and info.delimiter == "\t"
    assert table.column("Name").to_pylist() == ["José"]
    assert any("'.xls'" in warning for warning in info.warnings)

"""Excel workbooks (.xlsx and .xls): native types, sheets, headers, stray cells, damaged files."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
import xlwt

from dms.pipeline.source import ReadError, ReadOptions, sniff


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


def test_zip_that_is_not_a_workbook_is_refused(tmp_path):
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

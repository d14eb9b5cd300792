"""Delimited text as people really export it: delimiters, quoting, line endings, ragged rows, odd headers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dms.pipeline.source import ReadError, ReadOptions, delimited, read_chunks, read_sample, sniff


def test_delimiter_can_be_named(write_bytes, read_all):
    path = write_bytes("data.csv", b"a\tb\n1\t2\n")
    info, table, _ = read_all(path, ReadOptions(delimiter="tab"))
    assert info.delimiter == "\t"
    assert table.column("b").to_pylist() == ["2"]


def test_bad_delimiter_option_is_refused(write_bytes):
    path = write_bytes("data.csv", b"a,b\n1,2\n")
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(delimiter='"'))
    assert caught.value.code == "BAD_OPTION"


@pytest.mark.parametrize("delimiter", ["\x00", "", ";;", "\n", "\r", '"', "é", "§"])
def test_delimiter_that_no_parser_can_split_on_is_a_400_naming_the_option(write_bytes, delimiter):
    path = write_bytes("data.csv", b"a,b\n1,2\n")
    with pytest.raises(ReadError) as caught:
        sniff(path, ReadOptions(delimiter=delimiter))
    assert (caught.value.code, caught.value.http_status) == ("BAD_OPTION", 400)
    assert caught.value.where["field"] == "delimiter"


def test_quoted_fields_keep_delimiters_newlines_and_doubled_quotes(write_bytes, read_all):
    data = b'id,note,city\r\n1,"line one\r\nline two, still note",Paris\r\n2,"He said ""hi""",Berlin\r\n'
    path = write_bytes("quoted.csv", data)

    _, table, problems = read_all(path)

    assert table.column("note").to_pylist() == ["line one\r\nline two, still note", 'He said "hi"']
    assert table.column("city").to_pylist() == ["Paris", "Berlin"]
    assert table.column("__row__").to_pylist() == [1, 2]
    assert problems == []


def test_crlf_line_endings_leave_no_carriage_returns_in_values(write_bytes, read_all):
    path = write_bytes("crlf.csv", b"a,b\r\n1,2\r\n3,4\r\n")
    _, table, _ = read_all(path)
    assert table.column("b").to_pylist() == ["2", "4"]


def test_ragged_rows_are_reported_with_row_number_and_raw_text_not_padded(write_bytes, read_all):
    path = write_bytes("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n")

    _, table, problems = read_all(path)

    assert table.column("a").to_pylist() == ["1", "6", "13"]
    assert table.column("__row__").to_pylist() == [1, 3, 5]
    assert [(p.row, p.code, p.raw) for p in problems] == [
        (2, "RAGGED_ROW", "4,5"),
        (4, "RAGGED_ROW", "9,10,11,12"),
    ]
    assert "2 fields" in problems[0].message and "3 columns" in problems[0].message
    assert "4 fields" in problems[1].message


def test_ragged_rows_after_quoted_newlines_keep_record_numbers(write_bytes, read_all):
    path = write_bytes("multi.csv", b'a,b\n"x\ny\nz",1\nbad\n2,3\n')
    _, table, problems = read_all(path)
    assert table.column("__row__").to_pylist() == [1, 3]
    assert [(p.row, p.raw) for p in problems] == [(2, "bad")]


def test_duplicate_and_empty_headers_are_renamed_with_warnings(write_bytes, read_all):
    path = write_bytes("headers.csv", b"Name,Name,,Name_2, Email ,__row__\n1,2,3,4,5,6\n")

    info, table, _ = read_all(path)

    assert info.columns == ["Name", "Name_3", "column_3", "Name_2", "Email", "__row___2"]
    assert table.column("Name_3").to_pylist() == ["2"]
    assert table.column("__row__").to_pylist() == [1]
    assert any("'Name'" in w and "Name_3" in w for w in info.warnings)
    assert any("column_3" in w for w in info.warnings)


def test_trailing_blank_lines_are_ignored(write_bytes, read_all):
    path = write_bytes("blank.csv", b"a,b\n1,2\n3,4\n\n\r\n\n")
    _, table, problems = read_all(path)
    assert table.num_rows == 2
    assert problems == []


def test_empty_cells_are_null_and_every_column_is_a_string(write_bytes, read_all):
    path = write_bytes("types.csv", b'id,amount,when,flag\n1,2.50,2024-01-02,true\n2,,"",false\n')

    _, table, _ = read_all(path)

    assert all(field.type == pa.string() for field in table.schema if field.name != "__row__")
    assert table.schema.field("__row__").type == pa.int64()
    assert table.column("amount").to_pylist() == ["2.50", None]
    assert table.column("when").to_pylist() == ["2024-01-02", None]


def test_header_only_file_has_columns_and_zero_rows(write_bytes, read_all):
    path = write_bytes("header.csv", b"a,b,c\r\n")
    info, table, problems = read_all(path)
    assert info.columns == ["a", "b", "c"]
    assert table is None and problems == []


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n", b"\xef\xbb\xbf"])
def test_empty_file_is_a_clear_error(data, write_bytes):
    path = write_bytes("empty.csv", data)
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "EMPTY_FILE"
    assert "empty.csv" in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReadError) as caught:
        sniff(tmp_path / "nope.csv")
    assert caught.value.code == "NOT_FOUND"


def test_file_without_header_gets_generated_names(write_bytes, read_all):
    path = write_bytes("noheader.csv", b"1,2\n3,4\n")
    info, table, _ = read_all(path, ReadOptions(has_header=False))
    assert info.columns == ["column_1", "column_2"]
    assert table.column("column_1").to_pylist() == ["1", "3"]
    assert table.column("__row__").to_pylist() == [1, 2]


def test_invalid_utf8_bytes_cost_one_row_not_the_file(write_bytes, read_all):
    path = write_bytes("mixed.csv", "name,city\nJosé,Zürich\n".encode() + b"Ren\xe9,Paris\n" + b"Ann,Oslo\n")

    info, table, problems = read_all(path, ReadOptions(encoding="utf-8"))

    assert table.column("name").to_pylist() == ["José", "Ann"]
    assert [(p.row, p.code, p.column) for p in problems] == [(2, "UNDECODABLE_ROW", "name")]
    assert problems[0].raw == "Ren\\xe9,Paris"


def test_unclosed_quote_in_header_is_a_clear_error(write_bytes):
    path = write_bytes("unclosed.csv", b'"a,b\n' + b"x" * (1024 * 1024 + 10))
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "ROW_TOO_LONG"


def test_read_sample_returns_only_the_first_rows(write_bytes):
    path = write_bytes("many.csv", b"n\n" + b"".join(b"%d\n" % i for i in range(1000)))
    info, sample = read_sample(path, rows=5)
    assert info.columns == ["n"]
    assert sample.column("n").to_pylist() == ["0", "1", "2", "3", "4"]
    assert sample.column("__row__").to_pylist() == [1, 2, 3, 4, 5]


def test_unclosed_quote_in_small_file_is_a_clear_error(write_bytes):
    path = write_bytes("unclosed.csv", b'"a,b\n1,2\n')
    with pytest.raises(ReadError) as caught:
        sniff(path)
    assert caught.value.code == "UNCLOSED_QUOTE"


def test_a_record_longer_than_a_block_is_read_after_a_restart(write_bytes, read_all, monkeypatch):
    monkeypatch.setattr(delimited, "BLOCK_SIZE", 1024)
    long_note = "word " * 2000  # 10 KB: ten blocks, so the first two attempts fail
    rows = (
        [f"{i},short" for i in range(1, 400)]
        + [f'400,"{long_note}"']
        + [f"{i},after" for i in range(401, 500)]
    )
    path = write_bytes("long.csv", ("id,note\n" + "\n".join(rows) + "\n").encode())

    _, table, problems = read_all(path, ReadOptions(chunk_rows=100))

    assert table.column("id").to_pylist() == [str(i) for i in range(1, 500)]
    assert table.column("note").to_pylist()[399] == long_note
    assert problems == []


def test_a_quote_never_closed_mid_file_is_a_clear_error(write_bytes, monkeypatch):
    monkeypatch.setattr(delimited, "BLOCK_SIZE", 1024)
    monkeypatch.setattr(delimited, "MAX_BLOCK_SIZE", 8 * 1024)
    path = write_bytes("open.csv", b'id,note\n1,ok\n2,"never closed\n' + b"3,more\n" * 5000)
    with pytest.raises(ReadError) as caught:
        list(read_chunks(path))
    assert caught.value.code == "ROW_TOO_LONG"
    assert "quote" in caught.value.message

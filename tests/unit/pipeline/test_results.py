"""Matching Salesforce's results back to source rows, on small literal inputs."""

from __future__ import annotations

import csv
import io

import pyarrow as pa

from dms.pipeline.exported import neutralise
from dms.pipeline.results import ChunkResult, bulk_chunk_result, error_lines, parse_bulk_error, success_part


def sent(rows: list[int], names: list[str | None]) -> pa.Table:
    return pa.table({"__row__": pa.array(rows, pa.int64()), "Name": pa.array(names, pa.string())})


def test_results_in_any_order_find_their_source_rows() -> None:
    table = sent([3, 5, 9], ["Acme", "Globex", "Initech"])
    ok = '"sf__Id","sf__Created","Name"\n"001A","true","Initech"\n"001B","false","Acme"\n'
    failed = '"sf__Id","sf__Error","Name"\n"","DUPLICATE_VALUE:duplicate value found: Name:Name","Globex"\n'
    result = bulk_chunk_result(table, ok, failed, "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [(3, "001B", False), (9, "001A", True)]
    assert result.failed == [(5, "DUPLICATE_VALUE", "duplicate value found: Name", "Name")]
    assert result.counts == {"succeeded": 2, "created": 1, "updated": 1, "failed": 1}


def test_identical_rows_split_across_files_each_claim_their_own_source_row() -> None:
    table = sent([1, 2, 3], ["Same", "Same", "Same"])
    ok = '"sf__Id","sf__Created","Name"\n"001A","true","Same"\n"001B","true","Same"\n'
    failed = '"sf__Id","sf__Error","Name"\n"","UNABLE_TO_LOCK_ROW:locked:","Same"\n'
    result = bulk_chunk_result(table, ok, failed, "", "NOT_PROCESSED")
    claimed = sorted([r for r, _, _ in result.succeeded] + [r for r, *_ in result.failed])
    assert claimed == [1, 2, 3]


def test_a_row_in_no_result_file_is_reported_missing_and_nulls_match_empty() -> None:
    table = sent([1, 2], [None, "Gone"])
    ok = '"sf__Id","sf__Created","Name"\n"001A","true",""\n'
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert result.succeeded == [(1, "001A", True)]
    assert result.failed == [(2, "RESULT_MISSING", "Salesforce reported no result for this row.", "")]


def test_unprocessed_rows_carry_the_given_code() -> None:
    table = sent([7], ["Late"])
    result = bulk_chunk_result(table, "", "", '"Name"\n"Late"\n', "CANCELLED")
    assert result.failed[0][:2] == (7, "CANCELLED")


def test_bulk_error_text_splits_into_code_message_fields() -> None:
    assert parse_bulk_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name") == (
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [Name]",
        "Name",
    )
    assert parse_bulk_error("INVALID_FIELD:No such column 'Foo'") == (
        "INVALID_FIELD",
        "No such column 'Foo'",
        "",
    )


def test_formula_like_cells_are_neutralised() -> None:
    assert [neutralise(v) for v in ["=1+1", "+49 30", "-5", "@SUM(A1)", "\tx", "plain", ""]] == [
        "'=1+1",
        "'+49 30",
        "'-5",
        "'@SUM(A1)",
        "'\tx",
        "plain",
        "",
    ]


def test_values_that_would_run_together_in_a_joined_key_stay_apart() -> None:
    # ("a:1", "") and ("a", "1:") join to the same text with a plain separator; length prefixes keep them apart
    table = pa.table(
        {
            "__row__": pa.array([1, 2], pa.int64()),
            "Name": ["a:1", "a"],
            "Site": ["", "1:"],
        }
    )
    ok = '"sf__Id","sf__Created","Name","Site"\n"001B","true","a","1:"\n"001A","true","a:1",""\n'
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [(1, "001A", True), (2, "001B", True)]


def test_a_result_row_named_twice_claims_its_source_row_once() -> None:
    table = sent([4, 6], ["Acme", "Globex"])
    ok = '"sf__Id","sf__Created","Name"\n"001A","true","Acme"\n"001B","true","Acme"\n"001C","true","Globex"\n'
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [(4, "001A", True), (6, "001C", True)]
    assert result.failed == []


def test_results_with_quotes_commas_and_line_breaks_match() -> None:
    names = ['Say "hi"', "Acme, Inc.", "two\nlines", ""]
    table = sent([1, 2, 3, 4], names)
    body = "".join(f'"00{i}","false","{n.replace(chr(34), chr(34) * 2)}"\n' for i, n in enumerate(names))
    result = bulk_chunk_result(table, '"sf__Id","sf__Created","Name"\n' + body, "", "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [
        (1, "000", False),
        (2, "001", False),
        (3, "002", False),
        (4, "003", False),
    ]


def test_success_part_holds_the_original_values_neutralised_in_source_order() -> None:

    source = pa.table(
        {
            "__row__": pa.array([2, 3, 5], pa.int64()),
            "Name": ["=HYPERLINK()", "Acme, Inc.", None],
            "Amount": pa.array([1.5, None, 3.0]),
        }
    )
    result = ChunkResult(succeeded=[(5, "001C", False), (2, "001A", True), (3, "001B", True)], failed=[])
    rows = list(csv.reader(io.StringIO(success_part(result, source).decode("utf-8"))))
    assert rows == [
        ["2", "001A", "true", "'=HYPERLINK()", "1.5"],
        ["3", "001B", "true", "Acme, Inc.", ""],
        ["5", "001C", "false", "", "3.0"],
    ]


def test_a_bare_cr_the_org_did_not_quote_stays_in_its_value() -> None:
    # Python's csv module with LF line ends (as localorg writes) quotes a value with a line feed, not a CR.
    table = sent([1, 2, 3], ["a\rb", "\rstarts", "plain"])
    ok = "sf__Id,sf__Created,Name\n001A,true,a\rb\n001B,true,\rstarts\n001C,true,plain\n"
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [(1, "001A", True), (2, "001B", True), (3, "001C", True)]


def test_a_value_the_org_echoes_changed_still_finds_its_row() -> None:
    table = sent([1, 2, 3], ["ends\r", "tab\tin", "same"])
    ok = "sf__Id,sf__Created,Name\n001A,true,ends\r\n001B,true,tab in\n001C,true,same\n"
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert sorted(result.succeeded) == [(1, "001A", True), (2, "001B", True), (3, "001C", True)]


def test_an_unreadable_result_line_never_reports_its_row_as_not_loaded() -> None:
    table = sent([1, 2], ["Acme", "Globex"])
    ok = 'sf__Id,sf__Created,Name\n001A,true,Acme\n001B,true,Globex,"extra\n'
    result = bulk_chunk_result(table, ok, "", "", "NOT_PROCESSED")
    assert result.succeeded == [(1, "001A", True)]
    assert result.failed[0][:2] == (2, "RESULT_UNREADABLE")


def test_error_lines_are_one_per_source_row_as_wide_as_the_header() -> None:
    parts = [
        ["4", "validation", "INVALID_DATE", "bad date", "Founded__c", "K-4", "x"],
        ["2", "read", "RAGGED_ROW", "short. Raw text: K-2", "", "K-2"],
        ["4", "validation", "INVALID_NUMBER", "bad number", "Score__c", "K-4", "x"],
    ]
    assert list(error_lines(parts, width=2)) == [
        ["K-2", "", "2", "read", "RAGGED_ROW", "short. Raw text: K-2", ""],
        [
            "K-4",
            "x",
            "4",
            "validation",
            "INVALID_DATE; INVALID_NUMBER",
            "bad date; bad number",
            "Founded__c; Score__c",
        ],
    ]

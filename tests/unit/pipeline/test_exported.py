"""DMS's exported files read back as their source: its quote off, its columns out; other files as they are."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from dms.pipeline.exported import (
    ERROR_COLUMNS,
    SUCCESS_COLUMNS,
    export_layout,
    neutralise,
    restore,
    safe_texts,
)
from dms.pipeline.source import read_chunks, read_sample, sniff

QUOTES_AND_STARTS = st.text(alphabet="'=+-@|\t\r\n a\u00a0\u3000\uff1d\uff0b\uff0d\uff20", max_size=6)


@given(QUOTES_AND_STARTS)
def test_restore_undoes_neutralise_whatever_quotes_the_value_has(value: str) -> None:
    assert restore(neutralise(value)) == value


@given(st.lists(QUOTES_AND_STARTS, max_size=20))
def test_safe_texts_neutralises_as_neutralise_does(values: list[str]) -> None:
    assert safe_texts(pa.array(values, pa.string())).to_pylist() == [neutralise(v) for v in values]


def test_cells_a_spreadsheet_reads_as_formulas_are_neutralised() -> None:
    risky = [" =1+1", "   @SUM(A1)", "\u3000=1", "\uff1dHYPERLINK()", "|cmd", "\n=1", "\u00a0+1", " -5"]
    assert [neutralise(v) for v in risky] == ["'" + v for v in risky]
    assert [restore(neutralise(v)) for v in risky] == risky
    plain = ["  x", "a=1", "a|b", "x\n=1", ""]
    assert [neutralise(v) for v in plain] == plain


def test_a_value_and_the_same_value_behind_a_quote_export_apart() -> None:
    assert (neutralise("=x"), neutralise("'=x"), neutralise("'x")) == ("'=x", "''=x", "'x")
    assert restore("=x") == "=x"  # a spreadsheet that dropped DMS's quote


def test_only_dms_export_headers_are_recognised() -> None:
    errors = export_layout(["legacy", "name", *ERROR_COLUMNS])
    assert errors is not None and errors.columns == ["legacy", "name", "dms_source_row"]
    success = export_layout([*SUCCESS_COLUMNS, "legacy", "dms_source_row"])
    assert success is not None and (success.columns, success.adds_source_row) == (
        ["legacy", "dms_source_row"],
        False,
    )
    assert export_layout(["legacy", "source_row", "stage"]) is None
    assert export_layout(ERROR_COLUMNS) is None  # no source column at all


def test_an_errors_export_reads_back_as_its_source(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    path.write_text(
        "\ufefflegacy,name,source_row,stage,error_code,error_message,fields\r\n"
        "K-1,'=1+1,2,validation,INVALID_DATE,'-bad,name\r\n"
        "K-2,''=x,5,read,RAGGED_ROW,raw,\r\n"
        "K-3,=y,9,validation,X,m,\r\n"
        "K-4\r\n",
        encoding="utf-8",
    )
    info = sniff(path)
    assert (info.export, info.columns) == ("errors", ["legacy", "name", "dms_source_row"])
    assert "DMS exported" in info.warnings[-1]
    chunk = next(read_chunks(path, info=info))
    assert chunk.table.to_pylist() == [
        {"legacy": "K-1", "name": "=1+1", "dms_source_row": "2", "__row__": 1},
        {"legacy": "K-2", "name": "'=x", "dms_source_row": "5", "__row__": 2},
        {"legacy": "K-3", "name": "=y", "dms_source_row": "9", "__row__": 3},
    ]
    assert [p.values for p in chunk.problems] == [["K-4"]]
    assert read_sample(path)[1].column_names == ["legacy", "name", "dms_source_row", "__row__"]


def test_a_file_dms_did_not_export_keeps_its_quotes(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_text("legacy,name,stage\nK-1,'=1+1,x\n", encoding="utf-8")
    info = sniff(path)
    assert info.export is None
    assert next(read_chunks(path, info=info)).table.column("name").to_pylist() == ["'=1+1"]

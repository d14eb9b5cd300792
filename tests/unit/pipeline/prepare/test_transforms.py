"""Each transform on small literal columns."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dms.pipeline.prepare.transforms import apply_transform, apply_transforms, map_values, split_part


def text(*values: str | None) -> pa.Array:
    return pa.array(list(values), pa.string())


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ({"op": "trim"}, ["a B", None, ""]),
        ({"op": "upper"}, ["  A B ", None, " "]),
        ({"op": "lower"}, ["  a b ", None, " "]),
        ({"op": "title"}, ["  A B ", None, " "]),
        ({"op": "replace", "find": " ", "with": "_"}, ["__a_B_", None, "_"]),
        ({"op": "regex_replace", "pattern": r"\s+", "with": ""}, ["aB", None, ""]),
        ({"op": "truncate", "length": 3}, ["  a", None, " "]),
    ],
)
def test_text_transforms(op: dict, expected: list) -> None:
    result, flag = apply_transform(text("  a B ", None, " "), op, target="X")
    assert result.to_pylist() == expected
    assert flag is None


def test_title_case_handles_words() -> None:
    result, _ = apply_transform(text("mary o'neil-smith", "ÉCOLE"), {"op": "title"}, target="X")
    assert result.to_pylist() == ["Mary O'Neil-Smith", "École"]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, ["Jane", "Solo", None, ""]),
        (1, ["Q", None, None, "x"]),
        (-1, ["Public", "Solo", None, "x"]),
        (5, [None] * 4),
    ],
)
def test_split_takes_part_k(index: int, expected: list) -> None:
    assert split_part(text("Jane Q Public", "Solo", None, " x"), " ", index).to_pylist() == expected


@pytest.mark.parametrize(
    ("otherwise", "expected", "flagged"),
    [
        ({"else": "keep"}, ["Gold", "Silver", "Z", None, None], [False] * 5),
        ({"else": "null"}, ["Gold", "Silver", None, None, None], [False] * 5),
        ({"else": "default", "default": "Bronze"}, ["Gold", "Silver", "Bronze", None, None], [False] * 5),
        ({"else": "error"}, ["Gold", "Silver", "Z", None, None], [False, False, True, False, False]),
    ],
)
def test_value_map_else_choices(otherwise: dict, expected: list, flagged: list) -> None:
    step = {"op": "map", "values": {"G": "Gold", "S": "Silver", "X": None}, **otherwise}
    result, flag = map_values(text("G", "S", "Z", "X", None), step, target="Tier__c")
    assert result.to_pylist() == expected
    if otherwise["else"] == "error":
        assert flag.mask.tolist() == flagged
        assert flag.code == "UNMAPPED_VALUE"
        assert flag.message("Z") == "'Z' has no entry in the value map for Tier__c"
    else:
        assert flag is None


def test_value_map_ignoring_case() -> None:
    step = {"op": "map", "values": {"g": "Gold"}, "ignore_case": True, "else": "keep"}
    result, _ = map_values(text("G", "g", "s"), step, target="Tier__c")
    assert result.to_pylist() == ["Gold", "Gold", "s"]


def test_parse_transforms_emit_salesforce_text_and_flag_failures() -> None:
    result, flag = apply_transform(
        text("07/03/2024", "31/02/2024", None), {"op": "date", "format": "%d/%m/%Y"}, target="D"
    )
    assert result.to_pylist() == ["2024-03-07", None, None]
    assert flag.mask.tolist() == [False, True, False]
    assert flag.message("31/02/2024") == "'31/02/2024' is not a date in format dd/mm/yyyy"

    result, flag = apply_transform(
        text("07/03/2024 10:00"),
        {"op": "datetime", "format": "%d/%m/%Y %H:%M", "timezone": "Asia/Shanghai"},
        target="D",
    )
    assert result.to_pylist() == ["2024-03-07T02:00:00.000Z"]

    result, flag = apply_transform(
        text("1.234,5", "x"), {"op": "number", "decimal": ",", "thousands": "."}, target="N"
    )
    assert result.to_pylist() == ["1234.5", None]
    assert flag.code == "INVALID_NUMBER" and flag.mask.tolist() == [False, True]

    result, flag = apply_transform(text("是", "nope"), {"op": "boolean"}, target="B")
    assert result.to_pylist() == ["true", None]
    assert flag.code == "INVALID_BOOLEAN" and flag.mask.tolist() == [False, True]


def test_transforms_chain_in_order_on_native_columns() -> None:
    steps = [{"op": "number"}, {"op": "split", "separator": ".", "index": 0}]
    result, flags = apply_transforms(pa.array([12.5, 3.0, None]), steps, target="X")
    assert result.to_pylist() == ["12", "3", None]
    assert [f.mask.tolist() for f in flags] == [[False, False, False]]

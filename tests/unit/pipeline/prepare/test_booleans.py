"""Boolean parsers for values as legacy exports write them: each pinned on small literal inputs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dms.pipeline.prepare.booleans import format_booleans, parse_booleans
from dms.pipeline.prepare.parsed import FormatError


def text(*values: str | None) -> pa.Array:
    return pa.array(list(values), pa.string())


def test_parse_booleans_default_tokens() -> None:
    parsed = parse_booleans(
        text("Y", "n", "Yes", "NO", "true", "False", "1", "0", "是", "否", " y ", None, "maybe")
    )
    assert parsed.values.to_pylist() == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
        None,
    ]
    assert parsed.invalid.to_pylist() == [False] * 12 + [True]


def test_parse_booleans_custom_tokens() -> None:
    parsed = parse_booleans(text("X", "-", "Y"), true_values=["x"], false_values=["-"])
    assert parsed.values.to_pylist() == [True, False, None]
    assert parsed.invalid.to_pylist() == [False, False, True]
    with pytest.raises(FormatError):
        parse_booleans(text("x"), true_values=["x"], false_values=["X"])


def test_native_booleans_and_zero_one_numbers() -> None:
    assert parse_booleans(pa.array([True, None])).values.to_pylist() == [True, None]
    parsed = parse_booleans(pa.array([1, 0, 2]))
    assert parsed.values.to_pylist() == [True, False, None]
    assert parsed.invalid.to_pylist() == [False, False, True]
    assert format_booleans(pa.array([True, False, None])).to_pylist() == ["true", "false", None]

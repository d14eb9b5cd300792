"""Number parsers for values as legacy exports write them: each pinned on small literal inputs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dms.pipeline.prepare.booleans import parse_booleans
from dms.pipeline.prepare.dates import parse_dates
from dms.pipeline.prepare.numbers import parse_numbers
from dms.pipeline.prepare.parsed import FormatError


def text(*values: str | None) -> pa.Array:
    return pa.array(list(values), pa.string())


@pytest.mark.parametrize(
    ("value", "decimal", "thousands", "expected"),
    [
        ("1.234,56", ",", ".", "1234.56"),
        ("1,234.56", ".", ",", "1234.56"),
        ("1 234,56", ",", " ", "1234.56"),
        ("1\u00a0234,56", ",", " ", "1234.56"),
        ("1'234.56", ".", "'", "1234.56"),
        ("-0,5", ",", None, "-0.5"),
        ("+007.50", ".", None, "7.50"),
        (".5", ".", None, "0.5"),
        ("5.", ".", None, "5"),
        ("-0", ".", None, "0"),
        ("$1,234.00", ".", ",", "1234.00"),
        ("€ 12,00", ",", ".", "12.00"),
        ("(1.234,00)", ",", ".", "-1234.00"),
        ("12-", ".", None, "-12"),
        ("1.5E3", ".", None, "1500"),
        ("1,2e-2", ",", None, "0.012"),
        ("1234", ",", ".", "1234"),
    ],
)
def test_parse_numbers(value: str, decimal: str, thousands: str | None, expected: str) -> None:
    parsed = parse_numbers(text(value), decimal=decimal, thousands=thousands)
    assert parsed.values.to_pylist() == [expected]
    assert parsed.invalid.to_pylist() == [False]


@pytest.mark.parametrize(
    ("value", "decimal", "thousands"),
    [
        ("1,5", ".", ","),  # grouped digits come in threes: never silently 15
        ("1,234", ".", None),  # a separator the user did not choose
        ("1.234.5", ".", None),
        ("abc", ".", None),
        ("12 kg", ".", None),
        ("--5", ".", None),
        ("1,234.56", ",", " "),
    ],
)
def test_parse_numbers_rejects_misread_risks(value: str, decimal: str, thousands: str | None) -> None:
    parsed = parse_numbers(text(value), decimal=decimal, thousands=thousands)
    assert parsed.values.to_pylist() == [None]
    assert parsed.invalid.to_pylist() == [True]


def test_native_numbers_become_plain_decimal_text() -> None:
    parsed = parse_numbers(pa.array([1.5, 1e20, 12.0, None, float("nan")]))
    assert parsed.values.to_pylist() == ["1.5", "100000000000000000000", "12", None, None]
    assert parsed.invalid.to_pylist() == [False, False, False, False, True]
    assert parse_numbers(pa.array([7, None], pa.int64())).values.to_pylist() == ["7", None]


@pytest.mark.parametrize(("decimal", "thousands"), [(",", ","), (";", None), (".", "x")])
def test_bad_separator_choices_are_refused(decimal: str, thousands: str | None) -> None:
    with pytest.raises(FormatError):
        parse_numbers(text("1"), decimal=decimal, thousands=thousands)


def test_large_string_columns_parse_like_string_columns() -> None:
    # Parquet files written by some tools hold large_string; the loose number path joins texts.
    values = ["1.234,5", " 12 ", "1,5 €", "x", None]
    small = parse_numbers(pa.array(values, pa.string()), decimal=",", thousands=".")
    large = parse_numbers(pa.array(values, pa.large_string()), decimal=",", thousands=".")
    assert large.values.to_pylist() == small.values.to_pylist()
    assert large.invalid.to_pylist() == small.invalid.to_pylist() == [False, False, False, True, False]
    parsed = parse_dates(pa.array(["07.03.2024", None], pa.large_string()), "%d.%m.%Y")
    assert parsed.values.to_pylist() == [dt.date(2024, 3, 7), None]
    assert parse_booleans(pa.array(["Y", "n"], pa.large_string())).values.to_pylist() == [True, False]

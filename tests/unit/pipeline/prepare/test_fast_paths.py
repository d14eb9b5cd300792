"""Fast paths of prepare give exactly what the regex passes they skip would give, on hostile values."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dms.pipeline.prepare.checks import _URL, _web_address_shape
from dms.pipeline.prepare.chunk import prepare
from dms.pipeline.prepare.numbers import (
    _number_regex,
    _number_shape,
    _swap_ascii_byte,
    _tidy_all,
    _tidy_numbers,
    parse_numbers,
)
from dms.pipeline.prepare.options import PrepareOptions
from dms.pipeline.prepare.text import clean_text, is_trimmed, lower_text
from tests.unit.pipeline.prepare.describes import ACCOUNT, describe, field

# Pieces that sit on the edges of the fast paths: separators, signs, leading zeros, Unicode spaces and
# digits, currency, exponents, multi-byte characters, control bytes, URL prefixes and host stops.
_PIECES = (
    "0",
    "00",
    "1",
    "7",
    "12",
    "123",
    "000123",
    ".",
    ",",
    "'",
    " ",
    "\u00a0",
    "\u202f",
    "_",
    "+",
    "-",
    "(",
    ")",
    "$",
    "€",
    "USD",
    "e",
    "E-3",
    "abc",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x00",
    "\x85",
    "０",
    "١",
    "\u3000",
    "é",
    "漢",
    "😀",
    "#",
    "/",
    "?",
    "@",
    ":",
    "http://",
    "https://",
    "HTTP://",
    "ftp://",
    "www.",
    "example.com",
    ".com",
    ":8080",
    "/path",
    "?q=1",
    "#frag",
    "a b",
)
_SEPARATORS = [(".", None), (".", ","), (",", "."), (",", " "), (".", "'"), (",", None), (".", "_")]


def hostile_values(seed: int, count: int) -> list[str | None]:
    """Mostly plain numbers and web addresses (the fast cases), the rest glued from edge pieces."""
    rng = random.Random(seed)
    values: list[str | None] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            values.append(None)
        elif roll < 0.08:
            values.append("")
        elif roll < 0.45:
            number = str(rng.randint(0, 10 ** rng.randint(0, 12)))
            if rng.random() < 0.5:
                number += rng.choice(".,") + str(rng.randint(0, 999)).zfill(rng.randint(0, 3))
            if rng.random() < 0.25:
                number = rng.choice(["0", "00", ".", "-.", "-0", "+", "-", "+0"]) + number
            if rng.random() < 0.1:
                number += rng.choice([".", "-", " ", ","])
            values.append(number)
        elif roll < 0.6:
            scheme = rng.choice(["http://", "https://", "HTTP://", "ftp://", "", "www.", "http:///"])
            host = rng.choice(["a", "acct1.example.com", "x.y", "", "h:80", "é.com", "?", "#x", "/"])
            values.append(scheme + host + rng.choice(["", "/p", "?q", "#f", " ", "/a b", "\t", "/é"]))
        else:
            values.append("".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 4))))
    return values


def layouts(values: list[str | None]) -> list[pa.Array]:
    """The same values as a plain array, a slice with an offset, and large_string."""
    padded = pa.array(["pad", None, "1"] + values, pa.string())
    return [pa.array(values, pa.string()), padded.slice(3), pa.array(values, pa.large_string())]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("decimal", "thousands"), _SEPARATORS)
def test_number_shape_check_agrees_with_the_number_regex(
    seed: int, decimal: str, thousands: str | None
) -> None:
    mixed = hostile_values(seed, 400)
    digits: list[str | None] = [
        v for v in mixed if v is None or v.isdigit()
    ]  # whole columns on the plain path
    for values in (mixed, digits):
        for text in layouts(values):
            expected = pc.fill_null(pc.match_substring_regex(text, _number_regex(decimal, thousands)), True)
            fits, plain = _number_shape(text, decimal, thousands)
            assert fits.tolist() == expected.to_pylist()
            if plain:
                assert all(v is None or set(v) <= set("0123456789" + decimal) for v in values)


@pytest.mark.parametrize("seed", range(4))
def test_tidying_only_the_rows_that_need_it_equals_tidying_all(seed: int) -> None:
    values = hostile_values(seed, 400) + ["+1", "007", "-0", "-0.000", "-.5", ".5", "5.", "0", "0.50", "-00"]
    for text in layouts(values):
        assert _tidy_numbers(text).to_pylist() == _tidy_all(text).to_pylist()


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("decimal", "thousands"), _SEPARATORS)
def test_a_column_parses_as_its_values_do_one_by_one(seed: int, decimal: str, thousands: str | None) -> None:
    # Whole-column fast paths and row subsets put back in place must not mix up rows.
    values = hostile_values(seed, 150)
    column = parse_numbers(pa.array(values, pa.string()), decimal=decimal, thousands=thousands)
    one_by_one = [
        parse_numbers(pa.array([v], pa.string()), decimal=decimal, thousands=thousands) for v in values
    ]
    assert column.values.to_pylist() == [p.values[0].as_py() for p in one_by_one]
    assert column.invalid.to_pylist() == [p.invalid[0].as_py() for p in one_by_one]
    sliced = parse_numbers(
        pa.array(["x", *values], pa.string()).slice(1), decimal=decimal, thousands=thousands
    )
    assert sliced.values.to_pylist() == column.values.to_pylist()


def test_a_clean_column_takes_the_plain_path_and_a_stray_value_only_its_own_regex() -> None:
    clean = pa.array(["0", "1000.50", "7", None, ".5", "12."], pa.string())
    fits, plain = _number_shape(clean, ".", ",")
    assert plain and fits.all()
    stray = pa.array(["0", "1,000.50", "1,5", "abc", None], pa.string())
    fits, plain = _number_shape(stray, ".", ",")
    assert not plain
    assert fits.tolist() == [True, True, False, False, True]


@pytest.mark.parametrize("seed", range(4))
def test_web_address_check_agrees_with_the_url_regex(seed: int) -> None:
    values = hostile_values(seed, 400) + ["https://a", "http://", "https://", "http:///x", "http://a b"]
    for text in layouts(values):
        expected = pc.fill_null(pc.match_substring_regex(text, _URL), False).to_pylist()
        assert _web_address_shape(text).tolist() == expected


@pytest.mark.parametrize("seed", range(4))
def test_a_column_said_trimmed_is_left_as_trimming_would_leave_it(seed: int) -> None:
    values = hostile_values(seed, 50)
    for size in range(len(values)):
        for text in layouts(values[:size]):
            if is_trimmed(text):
                assert pc.utf8_trim_whitespace(text).to_pylist() == text.to_pylist()
                assert "" not in text.to_pylist()
            trimmed = pc.utf8_trim_whitespace(text).to_pylist()
            assert clean_text(text).to_pylist() == [v or None for v in trimmed]
    assert is_trimmed(pa.array(["Acme", None, "x"], pa.string()))
    assert not is_trimmed(pa.array(["Acme", " x"], pa.string()))
    assert not is_trimmed(pa.array(["Acme", ""], pa.string()))
    assert not is_trimmed(pa.array(["Acme", "x\u00a0"], pa.string()))


@pytest.mark.parametrize("seed", range(4))
def test_swapping_an_ascii_byte_equals_replacing_the_substring(seed: int) -> None:
    for text in layouts(hostile_values(seed, 300)):
        assert (
            _swap_ascii_byte(text, ",", ".").to_pylist() == pc.replace_substring(text, ",", ".").to_pylist()
        )


@pytest.mark.parametrize("seed", range(4))
def test_lower_casing_equals_the_unicode_kernel_whatever_the_column_holds(seed: int) -> None:
    values = [v.upper() if v else v for v in hostile_values(seed, 200)] + ["ÉCOLE", "İ", "ẞ", "Σ"]
    for ascii_only in (True, False):
        chosen = [v for v in values if v is None or v.isascii()] if ascii_only else values
        for text in layouts(chosen):
            assert lower_text(text).to_pylist() == pc.utf8_lower(text).to_pylist()


def test_a_fraction_in_a_ten_digit_int_field_is_a_row_error_not_a_crash() -> None:
    raw = describe(ACCOUNT)
    raw["fields"].append(field("Headcount__c", "Headcount", "int", digits=0))
    table = pa.table(
        {
            "__row__": pa.array([2, 3, 4, 5], pa.int64()),
            "name": pa.array(["A", "B", "C", "D"], pa.string()),
            "heads": pa.array(["0.743", "12", "3.00", "99999999999"], pa.string()),
        }
    )
    spec = {
        "object": "Account",
        "operation": "insert",
        "fields": [{"target": "Name", "source": "name"}, {"target": "Headcount__c", "source": "heads"}],
    }
    result = prepare(table, spec, raw, PrepareOptions())
    assert [(e.row, e.code) for e in result.errors] == [
        (2, "INVALID_NUMBER"),
        (5, "NUMBER_OUTSIDE_VALID_RANGE"),
    ]
    assert "not a whole number" in result.errors[0].message
    assert result.table.column("Headcount__c").to_pylist() == ["12", "3"]

"""infer_column: kind, format and honest ambiguity flags for the upload preview."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dms.pipeline.prepare.infer import infer_column


def infer(*values: str | None, **kwargs):
    return infer_column(pa.array(list(values), pa.string()), name="col", **kwargs)


def test_day_month_order_undecidable_is_flagged_ambiguous_and_no_reading_is_chosen() -> None:
    profile = infer("07/03/2024", "01/02/2023", "12/12/2020")
    assert profile.kind == "date"
    assert profile.ambiguous is True
    # No format: a job without one rejects these values, and the profile says so rather than claim a reading.
    assert (profile.format, profile.day_first) == (None, None)
    assert profile.alternatives == ["%d/%m/%Y", "%m/%d/%Y"]
    assert profile.invalid_count == 3
    assert "dd/mm/yyyy" in profile.ambiguity and "mm/dd/yyyy" in profile.ambiguity
    assert "choose the format" in profile.ambiguity


def test_day_first_preference_picks_the_reading_but_keeps_the_flag() -> None:
    profile = infer("07/03/2024", "01/02/2023", day_first=False)
    assert profile.format == "%m/%d/%Y"
    assert profile.ambiguous is True


def test_a_day_above_twelve_settles_the_order() -> None:
    day_first = infer("07/03/2024", "13/02/2023")
    assert (day_first.format, day_first.ambiguous, day_first.day_first) == ("%d/%m/%Y", False, True)
    month_first = infer("07/03/2024", "02/13/2023")
    assert (month_first.format, month_first.ambiguous, month_first.day_first) == ("%m/%d/%Y", False, False)


@pytest.mark.parametrize(
    ("values", "kind", "fmt"),
    [
        (["2024-03-07", "1999-12-31"], "date", "%Y-%m-%d"),
        (["2024年3月7日", "2023年12月1日"], "date", "%Y年%m月%d日"),
        (["3/7/24", "12/25/24"], "date", "%m/%d/%y"),
        (["7-Mar-2024", "12-Dec-2023"], "date", "%d-%b-%Y"),
        (["20240307", "19991231"], "date", "%Y%m%d"),
        (["2024-03-07T10:00:00Z", "2024-03-07T11:00:00+01:00"], "datetime", "%Y-%m-%dT%H:%M:%S%z"),
        (["2024-03-07 10:00:00", "2024-03-08 23:59:59"], "datetime", "%Y-%m-%d %H:%M:%S"),
    ],
)
def test_date_and_datetime_formats(values: list[str], kind: str, fmt: str) -> None:
    profile = infer(*values)
    assert (profile.kind, profile.format) == (kind, fmt)


@pytest.mark.parametrize(
    ("values", "kind", "decimal", "thousands", "ambiguous"),
    [
        (["1", "-20", "300"], "integer", ".", None, False),
        (["1.5", "2"], "number", ".", None, False),
        (["1,234.56", "7"], "number", ".", ",", False),
        (["1.234,56", "7"], "number", ",", ".", False),
        (["1 234,56", "7,5"], "number", ",", " ", False),
        (["1,5", "2,25"], "number", ",", None, False),
        (["1,234", "2,345"], "integer", None, None, True),  # 1234 or 1.234? the sample cannot say: no choice
    ],
)
def test_number_separators(values, kind, decimal, thousands, ambiguous) -> None:
    profile = infer(*values)
    assert (profile.kind, profile.decimal, profile.thousands, profile.ambiguous) == (
        kind,
        decimal,
        thousands,
        ambiguous,
    )
    if ambiguous:
        assert "choose the separators" in profile.ambiguity


def test_booleans_text_and_empty() -> None:
    assert infer("Y", "N", "y").kind == "boolean"
    assert infer("是", "否").kind == "boolean"
    assert infer("0", "1").kind == "integer"  # bare 0/1 stay numbers
    assert infer("Acme", "Globex").kind == "text"
    assert infer(None, "", "  ").kind == "empty"


def test_codes_with_leading_zeros_stay_text() -> None:
    assert infer("02134", "10001").kind == "text"


def test_a_few_bad_values_are_counted_not_hidden() -> None:
    values = [f"{d:02d}/01/2024" for d in range(13, 32)] + ["n/a"]
    profile = infer(*values)
    assert profile.kind == "date"
    assert profile.invalid_count == 1
    assert profile.invalid_examples == ["n/a"]
    assert profile.non_blank == 20


def test_too_many_bad_values_make_it_text() -> None:
    assert infer("2024-03-07", "soon", "later", "never").kind == "text"


def test_native_arrow_types() -> None:
    assert infer_column(pa.array([1, 2])).kind == "integer"
    assert infer_column(pa.array([1.5])).kind == "number"
    assert infer_column(pa.array([True])).kind == "boolean"
    assert infer_column(pa.array([None, None])).kind == "empty"
    midnight = pa.array([dt.datetime(2024, 3, 7), dt.datetime(2024, 3, 8)], pa.timestamp("ms"))
    assert infer_column(midnight).kind == "date"  # Excel dates arrive as midnight timestamps
    assert infer_column(pa.array([dt.datetime(2024, 3, 7, 10, 30)])).kind == "datetime"


def test_profile_is_json_ready() -> None:
    data = infer("07/03/2024").to_dict()
    assert data["name"] == "col" and data["kind"] == "date" and data["examples"] == ["07/03/2024"]

"""Date and datetime parsers for values as legacy exports write them: each pinned on small literal inputs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dms.pipeline.prepare.dates import format_dates, format_datetimes, parse_dates, parse_datetimes

UTC = dt.UTC


def text(*values: str | None) -> pa.Array:
    return pa.array(list(values), pa.string())


def dates(parsed) -> list:
    return parsed.values.to_pylist()


# Dates ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2024-03-07", "%Y-%m-%d", dt.date(2024, 3, 7)),
        ("07/03/2024", "%d/%m/%Y", dt.date(2024, 3, 7)),
        ("07/03/2024", "%m/%d/%Y", dt.date(2024, 7, 3)),
        ("3/7/24", "%m/%d/%y", dt.date(2024, 3, 7)),
        ("3/7/69", "%m/%d/%y", dt.date(1969, 3, 7)),
        ("2024年3月7日", "%Y年%m月%d日", dt.date(2024, 3, 7)),
        ("07.03.2024", "%d.%m.%Y", dt.date(2024, 3, 7)),
        ("7-Mar-2024", "%d-%b-%Y", dt.date(2024, 3, 7)),
        ("March 7, 2024", "%B %d, %Y", dt.date(2024, 3, 7)),
        ("20240307", "%Y%m%d", dt.date(2024, 3, 7)),
        ("  07/03/2024 ", "%d/%m/%Y", dt.date(2024, 3, 7)),
        ("2024-02-29", "%Y-%m-%d", dt.date(2024, 2, 29)),
    ],
)
def test_parse_dates_with_format(value: str, fmt: str, expected: dt.date) -> None:
    parsed = parse_dates(text(value), fmt)
    assert dates(parsed) == [expected]
    assert parsed.invalid.to_pylist() == [False]


@pytest.mark.parametrize(
    "value", ["31/02/2024", "29/02/2023", "00/01/2024", "01/13/2024", "7/3/2024x", "2024-03-07", "abc"]
)
def test_parse_dates_rejects_what_is_not_a_real_date_in_the_format(value: str) -> None:
    parsed = parse_dates(text(value), "%d/%m/%Y")
    assert dates(parsed) == [None]
    assert parsed.invalid.to_pylist() == [True]


def test_blank_cells_are_null_not_invalid() -> None:
    parsed = parse_dates(text(None, "", "   "), "%d/%m/%Y")
    assert dates(parsed) == [None, None, None]
    assert parsed.invalid.to_pylist() == [False, False, False]


def test_fixed_width_fast_path_and_regex_path_agree() -> None:
    fixed = text("07/03/2024", "31/12/1999", "31/02/2024", "07-03-2024", None)
    mixed = text("07/03/2024", "31/12/1999", "31/02/2024", "07-03-2024", "7/3/2024")
    a = parse_dates(fixed, "%d/%m/%Y")
    b = parse_dates(mixed, "%d/%m/%Y")
    assert dates(a)[:4] == dates(b)[:4] == [dt.date(2024, 3, 7), dt.date(1999, 12, 31), None, None]
    assert a.invalid.to_pylist()[:4] == b.invalid.to_pylist()[:4] == [False, False, True, True]
    assert dates(b)[4] == dt.date(2024, 3, 7)


def test_unformatted_dates_accept_only_unambiguous_forms() -> None:
    parsed = parse_dates(
        text("2024-03-07", "2024/3/7", "2024年3月7日", "20240307", "2024-03-07T23:30:00Z", "07/03/2024")
    )
    assert dates(parsed) == [dt.date(2024, 3, 7)] * 5 + [None]
    assert parsed.invalid.to_pylist() == [False] * 5 + [True]


def test_excel_serial_dates() -> None:
    assert dates(parse_dates(pa.array([45358, 1, 59, 61]))) == [
        dt.date(2024, 3, 7),
        dt.date(1900, 1, 1),
        dt.date(1900, 2, 28),
        dt.date(1900, 3, 1),
    ]
    phantom = parse_dates(pa.array([60, -5, None]))  # Excel's 1900-02-29 does not exist
    assert phantom.invalid.to_pylist() == [True, True, False]
    assert dates(parse_dates(text("45358"), "excel")) == [dt.date(2024, 3, 7)]
    assert dates(parse_dates(text("45358"))) == [dt.date(2024, 3, 7)]


def test_dates_outside_salesforce_range_are_invalid() -> None:
    parsed = parse_dates(text("1699-12-31", "1700-01-01", "4000-12-31", "4001-01-01"), "%Y-%m-%d")
    assert parsed.invalid.to_pylist() == [True, False, False, True]


def test_native_dates_and_timestamps_pass_through() -> None:
    stamps = pa.array([dt.datetime(2024, 3, 7, 0, 0), None], pa.timestamp("us"))
    assert dates(parse_dates(stamps)) == [dt.date(2024, 3, 7), None]
    assert dates(parse_dates(pa.array([dt.date(2024, 3, 7)]))) == [dt.date(2024, 3, 7)]


def test_format_dates_is_iso() -> None:
    assert format_dates(parse_dates(text("7/3/2024"), "%d/%m/%Y").values).to_pylist() == ["2024-03-07"]


# Datetimes -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-07T10:00:00Z", dt.datetime(2024, 3, 7, 10, 0, tzinfo=UTC)),
        ("2024-03-07T10:00:00+0100", dt.datetime(2024, 3, 7, 9, 0, tzinfo=UTC)),
        ("2024-03-07T10:00:00+01:00", dt.datetime(2024, 3, 7, 9, 0, tzinfo=UTC)),
        ("2024-03-07 10:00:00-05:30", dt.datetime(2024, 3, 7, 15, 30, tzinfo=UTC)),
        ("2024-03-07T10:00:00.123Z", dt.datetime(2024, 3, 7, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2024-03-07T10:00", dt.datetime(2024, 3, 7, 10, 0, tzinfo=UTC)),
        ("2024-03-07", dt.datetime(2024, 3, 7, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_iso_datetimes_with_offsets(value: str, expected: dt.datetime) -> None:
    parsed = parse_datetimes(text(value))
    assert parsed.values.to_pylist() == [expected]
    assert parsed.invalid.to_pylist() == [False]


def test_naive_datetimes_are_read_in_the_given_timezone() -> None:
    parsed = parse_datetimes(
        text("2024-07-01 12:00:00", "2024-01-15 12:00:00", "2024-07-01 12:00:00Z"), timezone="Europe/Berlin"
    )
    assert parsed.values.to_pylist() == [
        dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC),  # CEST, UTC+2
        dt.datetime(2024, 1, 15, 11, 0, tzinfo=UTC),  # CET, UTC+1
        dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC),  # an explicit offset wins over the timezone
    ]


def test_twelve_hour_clock_format() -> None:
    parsed = parse_datetimes(
        text("3/7/2024 1:05 PM", "3/7/2024 12:00 AM", "3/7/2024 13:00 PM"), "%m/%d/%Y %I:%M %p"
    )
    assert parsed.values.to_pylist()[:2] == [
        dt.datetime(2024, 3, 7, 13, 5, tzinfo=UTC),
        dt.datetime(2024, 3, 7, 0, 0, tzinfo=UTC),
    ]
    assert parsed.invalid.to_pylist() == [False, False, True]


def test_invalid_times_are_rejected() -> None:
    parsed = parse_datetimes(text("2024-03-07T24:00:00Z", "2024-03-07T10:60:00Z", "2024-03-07T10:00:00+1500"))
    assert parsed.invalid.to_pylist() == [True, True, True]


def test_excel_serial_datetime_keeps_time_of_day() -> None:
    parsed = parse_datetimes(pa.array([45358.75]))
    assert parsed.values.to_pylist() == [dt.datetime(2024, 3, 7, 18, 0, tzinfo=UTC)]


def test_format_datetimes_is_bulk_api_utc() -> None:
    parsed = parse_datetimes(text("2024-03-07T10:00:05.5+01:00", "1969-07-20T20:17:00Z"))
    assert format_datetimes(parsed.values).to_pylist() == [
        "2024-03-07T09:00:05.500Z",
        "1969-07-20T20:17:00.000Z",
    ]

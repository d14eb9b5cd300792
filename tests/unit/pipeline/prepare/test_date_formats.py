"""Date formats: strftime-style patterns refused with a reason, and labelled as people write them."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from dms.pipeline.prepare.date_formats import check_date_format, compile_date_format, strftime_pattern
from dms.pipeline.prepare.dates import parse_dates, parse_datetimes
from dms.pipeline.prepare.parsed import FormatError


@pytest.mark.parametrize("pattern", ["%Y-%m", "%d/%m/%Q", "%Y-%m-%d %M", "%Y-%Y-%d", "", "%I:%M %d/%m/%Y"])
def test_unusable_formats_are_refused_with_a_reason(pattern: str) -> None:
    with pytest.raises(FormatError) as caught:
        compile_date_format(pattern)
    assert caught.value.code == "INVALID_FORMAT"
    assert caught.value.message


def test_format_labels_read_like_people_write_them() -> None:
    assert compile_date_format("%d/%m/%Y").label == "dd/mm/yyyy"
    assert compile_date_format("%Y-%m-%dT%H:%M:%S%z").label == "yyyy-mm-ddTHH:MM:SS+HH:MM"


@pytest.mark.parametrize(
    ("java", "strftime"),
    [
        ("dd/MM/yyyy", "%d/%m/%Y"),
        ("d.M.yy", "%d.%m.%y"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "%Y-%m-%dT%H:%M:%S.%f%z"),
        ("yyyy-MM-dd'T'HH:mm:ssXXX", "%Y-%m-%dT%H:%M:%S%z"),
        ("yyyy-MM-dd'T'HH:mm:ss'Z'", "%Y-%m-%dT%H:%M:%SZ"),
        ("MMM d, yyyy hh:mm a", "%b %d, %Y %I:%M %p"),
        ("dd MMMM yyyy", "%d %B %Y"),
        ("yyyy年MM月dd日", "%Y年%m月%d日"),
        ("dd/MM/yyyy 'at' HH:mm", "%d/%m/%Y at %H:%M"),
        ("%d/%m/%Y", "%d/%m/%Y"),  # strftime stays as it is
    ],
)
def test_java_style_patterns_compile_to_the_same_format_as_strftime(java: str, strftime: str) -> None:
    assert strftime_pattern(java) == strftime
    assert compile_date_format(java) == compile_date_format(strftime)
    assert check_date_format(java) == compile_date_format(strftime).pattern


def test_java_style_datetime_with_millis_and_offset_parses() -> None:
    parsed = parse_datetimes(
        pa.array(["2024-03-07T10:11:12.345+0100", "2024-03-07T10:11:12.345Z"]),
        "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
    )
    assert parsed.values.to_pylist() == [
        dt.datetime(2024, 3, 7, 9, 11, 12, 345000, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 7, 10, 11, 12, 345000, tzinfo=dt.UTC),
    ]
    assert parse_dates(pa.array(["07/03/2024"]), "dd/MM/yyyy").values.to_pylist() == [dt.date(2024, 3, 7)]


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("YYYY-MM-dd", "'Y' is the week-based year"),
        ("dd/MM/yyyy QQ", "'QQ' is not a date pattern letter"),
        ("EEE dd/MM/yyyy", "day names (E)"),
        ("ddd/MM/yyyy", "'ddd' has too many letters"),
        ("dd/MM/yyyy 'T", "never closed"),
    ],
)
def test_unknown_java_letters_are_refused_naming_the_letter(pattern: str, says: str) -> None:
    with pytest.raises(FormatError) as caught:
        compile_date_format(pattern)
    assert says in caught.value.message

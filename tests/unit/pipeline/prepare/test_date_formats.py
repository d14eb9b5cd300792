"""Date formats: strftime-style patterns refused with a reason, and labelled as people write them."""

from __future__ import annotations

import pytest

from dms.pipeline.prepare.date_formats import compile_date_format
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

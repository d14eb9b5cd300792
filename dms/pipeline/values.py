"""Vectorised parsers for values as legacy exports write them: dates, datetimes, numbers, booleans."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

logger = logging.getLogger(__name__)

# Salesforce stores dates from 1700-01-01 to 4000-12-31; anything outside is rejected by the org.
MIN_YEAR = 1700
MAX_YEAR = 4000
EXCEL_FORMAT = "excel"  # pseudo-format: Excel serial day numbers (1900 date system)

TRUE_TOKENS: tuple[str, ...] = ("true", "t", "yes", "y", "1", "1.0", "on", "是", "真", "对")
FALSE_TOKENS: tuple[str, ...] = ("false", "f", "no", "n", "0", "0.0", "off", "否", "假", "错")

_MONTH_NAMES = (
    "january february march april may june july august september october november december".split()
)
_MONTH_TOKENS = pa.array([m[:3] for m in _MONTH_NAMES] + _MONTH_NAMES + ["sept"])
_MONTH_NUMBERS = np.array(list(range(1, 13)) + list(range(1, 13)) + [9], dtype=np.int64)

_MS_PER_DAY = 86_400_000
# Days from 1970-01-01 back to Excel's day 0 (1899-12-30, which absorbs Excel's phantom 1900-02-29).
_EXCEL_EPOCH_DAYS = -25_569
_EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31


@dataclass(frozen=True)
class Parsed:
    """A parsed column: typed values (null where blank or invalid) and a mask of invalid non-blank inputs."""

    values: pa.Array
    invalid: pa.BooleanArray


# ---------------------------------------------------------------------------------------------------------
# Common helpers
# ---------------------------------------------------------------------------------------------------------


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return one contiguous Array for a column that may be chunked."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def is_text(array: pa.Array) -> bool:
    """Tell whether an Arrow array holds text."""
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def clean_text(array: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings into nulls (blank cells mean 'no value')."""
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(pc.binary_length(trimmed), 0), pa.scalar(None, trimmed.type), trimmed)


def to_text(array: pa.Array) -> pa.Array:
    """Render any Arrow column as text the way a person reads it (numbers plain, dates ISO)."""
    array = as_array(array)
    if is_text(array):
        return array.cast(pa.string()) if pa.types.is_large_string(array.type) else array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_boolean(array.type):
        return pc.if_else(array, "true", "false")
    if pa.types.is_floating(array.type):
        return format_floats(array)
    if pa.types.is_timestamp(array.type):
        return format_timestamps_plain(array)
    if pa.types.is_dictionary(array.type):
        return to_text(array.cast(array.type.value_type))
    return pc.cast(array, pa.string())


def format_floats(array: pa.Array) -> pa.Array:
    """Format floats as plain decimals (never scientific notation, which Salesforce may misread)."""
    finite = pc.is_finite(array)
    text = pc.cast(pc.if_else(finite, array, None), pa.string())
    scientific = pc.fill_null(pc.match_substring(text, "e"), False)
    if pc.any(scientific).as_py():
        # Rare (|x| >= 1e16 or tiny): expand those few values exactly through Decimal.
        rows = pc.indices_nonzero(scientific).to_numpy()
        values = text.to_pylist()
        for row in rows:
            values[row] = _plain_decimal(Decimal(values[row]))
        text = pa.array(values, pa.string())
    return text


def _plain_decimal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_timestamps_plain(array: pa.Array) -> pa.Array:
    """Format timestamps as 'yyyy-mm-dd HH:MM:SS' wall-clock text (for display and concatenation)."""
    if array.type.tz is not None:
        array = pc.local_timestamp(array)
    return pc.cast(array.cast(pa.timestamp("s")), pa.string())


def _digits_to_int(digits: pa.Array, width: int) -> np.ndarray:
    """Convert an array of ASCII digit strings (at most `width` long, '' for none) to int64 quickly."""
    padded = pc.utf8_lpad(digits, width=width, padding="0")
    padded = as_array(padded)
    n = len(padded)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32, count=n + 1, offset=padded.offset * 4)
    if padded.null_count == 0 and offsets[-1] - offsets[0] == n * width:
        data = np.frombuffer(padded.buffers()[2], dtype=np.uint8, count=n * width, offset=int(offsets[0]))
        matrix = data.reshape(n, width).astype(np.int64) - 48
        weights = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
        return matrix @ weights
    # Fallback for unexpected layouts (nulls, longer strings): let Arrow cast.
    filled = pc.fill_null(padded, "0")
    return pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False)


def _mask(values: np.ndarray) -> pa.BooleanArray:
    return pa.array(values, pa.bool_())


# ---------------------------------------------------------------------------------------------------------
# Date and datetime formats
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateFormat:
    """A compiled strftime-style format: an anchored RE2 pattern with named groups per directive."""

    pattern: str
    regex: str
    groups: frozenset[str]
    label: str

    @property
    def has_time(self) -> bool:
        """Tell whether the format carries a time of day."""
        return "H" in self.groups or "I" in self.groups

    @property
    def day_first(self) -> bool | None:
        """Tell whether the day comes before the month (None when the year leads or there is no day)."""
        day = self.pattern.find("%d")
        month = max(self.pattern.find("%m"), self.pattern.find("%b"), self.pattern.find("%B"))
        if day < 0 or month < 0 or self.pattern.find("%Y") in range(0, min(day, month)):
            return None
        return day < month


_DIRECTIVES: dict[str, tuple[str, str, str]] = {
    # directive: (group name, regex, label)
    "Y": ("Y", r"(?P<Y>\d{4})", "yyyy"),
    "y": ("y", r"(?P<y>\d{2})", "yy"),
    "m": ("m", r"(?P<m>\d{1,2})", "mm"),
    "d": ("d", r"(?P<d>\d{1,2})", "dd"),
    "e": ("d", r"(?P<d>\d{1,2})", "d"),
    "b": ("b", r"(?P<b>[A-Za-z]{3,9})\.?", "Mon"),
    "B": ("b", r"(?P<b>[A-Za-z]{3,9})", "Month"),
    "h": ("b", r"(?P<b>[A-Za-z]{3,9})\.?", "Mon"),
    "H": ("H", r"(?P<H>\d{1,2})", "HH"),
    "I": ("I", r"(?P<I>\d{1,2})", "hh"),
    "M": ("M", r"(?P<M>\d{2})", "MM"),
    # Seconds accept an optional fraction: exports add milliseconds to some rows and not others.
    "S": ("S", r"(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?", "SS"),
    "f": ("f", r"(?P<f>\d{1,9})", "ffffff"),
    "p": ("p", r"(?P<p>[AaPp]\.?[Mm]\.?)", "AM/PM"),
    "z": ("z", r"(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)", "+HH:MM"),
}
_EXPANSIONS = {"T": "%H:%M:%S", "F": "%Y-%m-%d", "D": "%m/%d/%y", "R": "%H:%M"}


class FormatError(ValueError):
    """A date/datetime format string that cannot be used."""


@lru_cache(maxsize=256)
def compile_date_format(pattern: str) -> DateFormat:
    """Compile a strftime-style format (%Y %y %m %d %b %B %H %I %M %S %f %p %z) into a DateFormat."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise FormatError("a date format must be a non-empty string such as '%d/%m/%Y'")
    for short, long in _EXPANSIONS.items():
        pattern_expanded = pattern.replace("%" + short, long)
        pattern = pattern_expanded
    regex = ["^"]
    label = []
    groups: set[str] = set()
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "%":
            if i + 1 >= len(pattern):
                raise FormatError(f"format {pattern!r} ends with a lone '%'")
            directive = pattern[i + 1]
            i += 2
            if directive == "%":
                regex.append("%")
                label.append("%")
                continue
            if directive == "-" and i < len(pattern):  # %-d / %-m (unpadded) parse like %d / %m
                directive = pattern[i]
                i += 1
            if directive not in _DIRECTIVES:
                raise FormatError(f"format {pattern!r} uses %{directive}, which is not supported")
            group, piece, text = _DIRECTIVES[directive]
            if group in groups:
                raise FormatError(f"format {pattern!r} uses %{directive} twice")
            if group == "f" and "f" in groups:
                raise FormatError(f"format {pattern!r} gives fractions of a second twice")
            if group == "S" and pattern[i : i + 3] in (".%f", ",%f"):
                piece = r"(?P<S>\d{2})"  # the fraction is given explicitly right after
            groups.add(group)
            if group == "S" and "(?P<f>" in piece:
                groups.add("f")
            regex.append(piece)
            label.append(text)
            continue
        if char.isspace():
            while i < len(pattern) and pattern[i].isspace():
                i += 1
            regex.append(r"\s+")
            label.append(" ")
            continue
        if char == "Z" and "z" not in groups:
            # A literal trailing Z means UTC, so treat it as the offset.
            groups.add("z")
            regex.append(r"(?P<z>[Zz])")
            label.append("Z")
            i += 1
            continue
        regex.append(re.escape(char))
        label.append(char)
        i += 1
    regex.append("$")
    if "Y" in groups and "y" in groups:
        raise FormatError(f"format {pattern!r} gives the year twice")
    if not ({"Y", "y"} & groups and {"m", "b"} & groups and "d" in groups):
        raise FormatError(f"format {pattern!r} needs a year, a month and a day (e.g. %Y, %m, %d)")
    if ("I" in groups) != ("p" in groups):
        raise FormatError(f"format {pattern!r}: %I (12-hour clock) and %p (AM/PM) go together")
    if "H" in groups and "I" in groups:
        raise FormatError(f"format {pattern!r} gives the hour twice")
    if ({"M", "S"} & groups) and not ({"H", "I"} & groups):
        raise FormatError(f"format {pattern!r} has minutes or seconds but no hour")
    return DateFormat(pattern=pattern, regex="".join(regex), groups=frozenset(groups), label="".join(label))


def _raw_format(regex: str, label: str, groups: Iterable[str]) -> DateFormat:
    return DateFormat(pattern=label, regex=regex, groups=frozenset(groups), label=label)


_TIME_TAIL = (
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
# Unambiguous forms accepted when the user sets no format: ISO (with optional time/offset), year-first
# with slashes or dots, Chinese/Japanese 年月日, and compact yyyymmdd.
_AUTO_FORMATS: tuple[DateFormat, ...] = (
    _raw_format(
        r"^(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME_TAIL + "$",
        "yyyy-mm-dd",
        "YmdHMSfz",
    ),
    _raw_format(
        r"^(?P<Y>\d{4})[/.](?P<m>\d{1,2})[/.](?P<d>\d{1,2})" + _TIME_TAIL + "$",
        "yyyy/mm/dd",
        "YmdHMSfz",
    ),
    _raw_format(
        r"^(?P<Y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"
        r"(?:\s*(?P<H>\d{1,2})\s*[:时時]\s*(?P<M>\d{2})(?:\s*[:分]\s*(?P<S>\d{2})\s*秒?)?)?$",
        "yyyy年mm月dd日",
        "YmdHMS",
    ),
    _raw_format(r"^(?P<Y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$", "yyyymmdd", "Ymd"),
)
_EXCEL_TEXT = r"^\d{1,7}(?:\.\d+)?$"
AUTO_LABEL = "yyyy-mm-dd (ISO), yyyy/mm/dd, yyyy年m月d日, yyyymmdd or an Excel serial number"


def describe_format(fmt: str | None) -> str:
    """Say in words what a format expects (for error messages)."""
    if fmt is None:
        return AUTO_LABEL
    if fmt == EXCEL_FORMAT:
        return "an Excel serial day number"
    try:
        return compile_date_format(fmt).label
    except FormatError:
        return fmt


# ---------------------------------------------------------------------------------------------------------
# Calendar arithmetic (numpy, vectorised)
# ---------------------------------------------------------------------------------------------------------


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 for proleptic Gregorian dates (H. Hinnant's algorithm, vectorised)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    table = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31], dtype=np.int64)
    days = table[np.clip(month - 1, 0, 12)]
    return days + ((month == 2) & leap)


@dataclass
class _Components:
    matched: np.ndarray  # bool
    days: np.ndarray  # int64 days since epoch (valid only where ok)
    ms_of_day: np.ndarray  # int64
    offset_ms: np.ndarray  # int64
    has_offset: np.ndarray  # bool
    ok: np.ndarray  # bool: matched and a real calendar date/time


def _extract_components(text: pa.Array, fmt: DateFormat) -> _Components:
    """Match `text` against `fmt` and turn the pieces into day numbers and times, checking the calendar."""
    n = len(text)
    struct = pc.extract_regex(text, fmt.regex)
    matched = pc.fill_null(struct.is_valid(), False).to_numpy(zero_copy_only=False) & pc.is_valid(
        text
    ).to_numpy(zero_copy_only=False)
    groups = fmt.groups

    def field(name: str) -> pa.Array:
        return pc.fill_null(pc.struct_field(struct, name), "")

    if "Y" in groups:
        year = _digits_to_int(field("Y"), 4)
    else:
        two = _digits_to_int(field("y"), 2)
        # POSIX/Python pivot: 69-99 are 1900s, 00-68 are 2000s.
        year = np.where(two >= 69, 1900 + two, 2000 + two)
    if "m" in groups:
        month = _digits_to_int(field("m"), 2)
    else:
        names = pc.utf8_lower(field("b"))
        index = pc.fill_null(pc.index_in(names, value_set=_MONTH_TOKENS), -1).to_numpy(zero_copy_only=False)
        month = np.where(index >= 0, _MONTH_NUMBERS[np.clip(index, 0, None)], 0)
    day = _digits_to_int(field("d"), 2)
    ok = matched & (month >= 1) & (month <= 12) & (day >= 1) & (day <= _days_in_month(year, month))
    days = _days_from_civil(year, month, day)

    ms_of_day = np.zeros(n, dtype=np.int64)
    if "H" in groups or "I" in groups:
        if "H" in groups:
            hour = _digits_to_int(field("H"), 2)
            ok &= hour <= 23
        else:
            hour = _digits_to_int(field("I"), 2)
            ok &= (hour >= 1) & (hour <= 12)
            pm = pc.starts_with(pc.utf8_lower(field("p")), "p").to_numpy(zero_copy_only=False)
            hour = hour % 12 + np.where(pm, 12, 0)
        minute = _digits_to_int(field("M"), 2) if "M" in groups else np.zeros(n, dtype=np.int64)
        second = _digits_to_int(field("S"), 2) if "S" in groups else np.zeros(n, dtype=np.int64)
        ok &= (minute <= 59) & (second <= 59)
        ms_of_day = hour * 3_600_000 + minute * 60_000 + second * 1000
        if "f" in groups:
            fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(field("f"), 0, 3), width=3, padding="0")
            ms_of_day = ms_of_day + _digits_to_int(fraction, 3)
    offset_ms = np.zeros(n, dtype=np.int64)
    has_offset = np.zeros(n, dtype=bool)
    if "z" in groups:
        zone = field("z")
        has_offset = pc.greater(pc.binary_length(zone), 0).to_numpy(zero_copy_only=False)
        digits = pc.replace_substring_regex(zone, r"[^0-9]", "")
        digits = pc.utf8_rpad(digits, width=4, padding="0")  # "+01" -> "0100"; "Z" -> "0000"
        hours = _digits_to_int(pc.utf8_slice_codeunits(digits, 0, 2), 2)
        minutes = _digits_to_int(pc.utf8_slice_codeunits(digits, 2, 4), 2)
        negative = pc.starts_with(zone, "-").to_numpy(zero_copy_only=False)
        ok &= (hours <= 14) & (minutes <= 59)
        offset_ms = np.where(negative, -1, 1) * (hours * 3_600_000 + minutes * 60_000)
    return _Components(
        matched=matched, days=days, ms_of_day=ms_of_day, offset_ms=offset_ms, has_offset=has_offset, ok=ok
    )


def _year_in_range(days: np.ndarray) -> np.ndarray:
    low = _days_from_civil(np.array([MIN_YEAR]), np.array([1]), np.array([1]))[0]
    high = _days_from_civil(np.array([MAX_YEAR]), np.array([12]), np.array([31]))[0]
    return (days >= low) & (days <= high)


def _excel_serials(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Excel 1900-system serials -> (days since epoch, ms of day, ok)."""
    ok = np.isfinite(values) & (values >= 1) & (values < _EXCEL_MAX_SERIAL + 1) & (np.floor(values) != 60)
    safe = np.where(ok, values, 61.0)
    whole = np.floor(safe).astype(np.int64)
    # Serials below 60 predate Excel's phantom 1900-02-29, so they sit one day later on the real calendar.
    days = whole + _EXCEL_EPOCH_DAYS + np.where(whole < 60, 1, 0)
    ms_of_day = np.rint((safe - np.floor(safe)) * _MS_PER_DAY).astype(np.int64)
    return days, ms_of_day, ok


def _numeric_values(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from a numeric or digit-text array as float64 plus a mask of rows that held a number."""
    if is_text(array):
        text = clean_text(array)
        looks = pc.fill_null(pc.match_substring_regex(text, _EXCEL_TEXT), False)
        numbers = pc.cast(pc.if_else(looks, text, None), pa.float64())
        present = looks.to_numpy(zero_copy_only=False)
    else:
        numbers = pc.cast(array, pa.float64())
        present = pc.is_valid(array).to_numpy(zero_copy_only=False)
    return pc.fill_null(numbers, 0.0).to_numpy(zero_copy_only=False), present


def _blank_mask(array: pa.Array) -> np.ndarray:
    return pc.is_null(array).to_numpy(zero_copy_only=False)


# ---------------------------------------------------------------------------------------------------------
# Public parsers
# ---------------------------------------------------------------------------------------------------------


def parse_dates(array: pa.Array | pa.ChunkedArray, fmt: str | None = None) -> Parsed:
    """Parse a column into date32; `fmt` is strftime-style, 'excel', or None for unambiguous forms only."""
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, pa.date32()), _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_date(array.type):
        values = array.cast(pa.date32())
        return _dates_result(values, np.zeros(n, dtype=bool))
    if pa.types.is_timestamp(array.type):
        local = pc.local_timestamp(array) if array.type.tz is not None else array
        return _dates_result(local.cast(pa.timestamp("ms")).cast(pa.date32()), np.zeros(n, dtype=bool))
    if is_text(array) and fmt != EXCEL_FORMAT:
        text = clean_text(array)
        blank = _blank_mask(text)
        days = np.zeros(n, dtype=np.int64)
        ok = np.zeros(n, dtype=bool)
        formats = [compile_date_format(fmt)] if fmt else list(_AUTO_FORMATS)
        pending = ~blank
        for candidate in formats:
            parts = _extract_components(text, candidate)
            take = pending & parts.matched
            days = np.where(take, parts.days, days)
            ok |= take & parts.ok
            pending &= ~parts.matched
            if not pending.any():
                break
        if fmt is None and pending.any():
            serial, present = _numeric_values(text)
            serial_days, _, serial_ok = _excel_serials(serial)
            take = pending & present
            days = np.where(take, serial_days, days)
            ok |= take & serial_ok
        ok &= _year_in_range(days)
        return _from_days(days, ok, blank)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or is_text(array):
        serial, present = _numeric_values(array)
        days, _, ok = _excel_serials(serial)
        ok &= present & _year_in_range(days)
        return _from_days(days, ok, ~present & _blank_mask(array))
    return _unsupported(array, pa.date32())


def _from_days(days: np.ndarray, ok: np.ndarray, blank: np.ndarray) -> Parsed:
    values = pa.array(days.astype(np.int32), pa.int32(), mask=~ok).cast(pa.date32())
    return Parsed(values, _mask(~ok & ~blank))


def _dates_result(values: pa.Array, invalid: np.ndarray) -> Parsed:
    days = pc.fill_null(values.cast(pa.int32()), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    present = pc.is_valid(values).to_numpy(zero_copy_only=False)
    in_range = _year_in_range(days)
    return _from_days(days, present & in_range & ~invalid, ~present)


def _unsupported(array: pa.Array, result_type: pa.DataType) -> Parsed:
    present = pc.is_valid(array)
    return Parsed(pa.nulls(len(array), result_type), pc.fill_null(present, False))


UTC_MS = pa.timestamp("ms", tz="UTC")


def parse_datetimes(
    array: pa.Array | pa.ChunkedArray, fmt: str | None = None, *, timezone: str = "UTC"
) -> Parsed:
    """Parse a column into timestamp[ms, UTC]; values without an offset are read in `timezone`."""
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, UTC_MS), _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            local = array.cast(pa.timestamp("ms"))
            return _check_instants(_assume_zone(local, timezone), np.zeros(n, dtype=bool))
        return _check_instants(array.cast(pa.timestamp("ms", tz=array.type.tz)).cast(UTC_MS), None)
    if pa.types.is_date(array.type):
        days = pc.fill_null(array.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
        present = pc.is_valid(array).to_numpy(zero_copy_only=False)
        return _from_local_ms(days.astype(np.int64) * _MS_PER_DAY, present, ~present, None, None, timezone)
    if is_text(array) and fmt != EXCEL_FORMAT:
        text = clean_text(array)
        blank = _blank_mask(text)
        local_ms = np.zeros(n, dtype=np.int64)
        offsets = np.zeros(n, dtype=np.int64)
        has_offset = np.zeros(n, dtype=bool)
        ok = np.zeros(n, dtype=bool)
        formats = [compile_date_format(fmt)] if fmt else list(_AUTO_FORMATS)
        pending = ~blank
        for candidate in formats:
            parts = _extract_components(text, candidate)
            take = pending & parts.matched
            local_ms = np.where(take, parts.days * _MS_PER_DAY + parts.ms_of_day, local_ms)
            offsets = np.where(take, parts.offset_ms, offsets)
            has_offset = np.where(take, parts.has_offset, has_offset)
            ok |= take & parts.ok & _year_in_range(parts.days)
            pending &= ~parts.matched
            if not pending.any():
                break
        if fmt is None and pending.any():
            serial, present = _numeric_values(text)
            days, ms_of_day, serial_ok = _excel_serials(serial)
            take = pending & present
            local_ms = np.where(take, days * _MS_PER_DAY + ms_of_day, local_ms)
            ok |= take & serial_ok & _year_in_range(days)
        return _from_local_ms(local_ms, ok, blank, offsets, has_offset, timezone)
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type) or is_text(array):
        serial, present = _numeric_values(array)
        days, ms_of_day, ok = _excel_serials(serial)
        ok &= present & _year_in_range(days)
        blank = ~present & _blank_mask(array)
        return _from_local_ms(days * _MS_PER_DAY + ms_of_day, ok, blank, None, None, timezone)
    return _unsupported(array, UTC_MS)


def _assume_zone(local: pa.Array, timezone: str) -> pa.Array:
    if timezone in ("UTC", "Z", "Etc/UTC"):
        return local.cast(UTC_MS)
    # Wall-clock times that fall into a DST gap or overlap take the earlier instant, like most tools do.
    zoned = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="earliest")
    return zoned.cast(UTC_MS)


def _from_local_ms(
    local_ms: np.ndarray,
    ok: np.ndarray,
    blank: np.ndarray,
    offsets: np.ndarray | None,
    has_offset: np.ndarray | None,
    timezone: str,
) -> Parsed:
    local = pa.array(local_ms, pa.timestamp("ms"), mask=~ok)
    if has_offset is not None and offsets is not None and has_offset.any():
        instants = np.where(has_offset, local_ms - offsets, 0)
        zoned = _assume_zone(pc.if_else(_mask(has_offset), None, local), timezone)
        explicit = pa.array(instants, UTC_MS, mask=~(ok & has_offset))
        values = pc.coalesce(explicit, zoned)
    else:
        values = _assume_zone(local, timezone)
    return Parsed(values, _mask(~ok & ~blank))


def _check_instants(values: pa.Array, invalid: np.ndarray | None) -> Parsed:
    ms = pc.fill_null(values.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
    present = pc.is_valid(values).to_numpy(zero_copy_only=False)
    ok = present & _year_in_range(np.floor_divide(ms, _MS_PER_DAY))
    if invalid is not None:
        ok &= ~invalid
    return Parsed(pa.array(ms, UTC_MS, mask=~ok), _mask(present & ~ok))


# Numbers -------------------------------------------------------------------------------------------------

_THOUSANDS_CHOICES = (None, ",", ".", " ", "'", "\u00a0", "\u202f", "_")


def _number_regex(decimal: str, thousands: str | None) -> str:
    d = re.escape(decimal)
    if thousands is None:
        whole = r"\d+"
    else:
        # Grouped digits must come in threes so that '1,5' is never read as 15 by mistake.
        t = r"[ \u00a0\u202f]" if thousands in (" ", "\u00a0", "\u202f") else re.escape(thousands)
        whole = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)"
    return rf"^[+-]?(?:{whole}(?:{d}\d*)?|{d}\d+)$"


def check_number_format(decimal: str, thousands: str | None) -> None:
    """Raise FormatError unless the separators are a usable pair."""
    if decimal not in (".", ","):
        raise FormatError(f"decimal separator must be '.' or ',', not {decimal!r}")
    if thousands not in _THOUSANDS_CHOICES:
        raise FormatError(f"thousands separator {thousands!r} is not one of , . space ' _ or none")
    if thousands == decimal:
        raise FormatError("the decimal and thousands separators must differ")


_CURRENCY = r"[$€£¥₹₩₽¤]|(?:US\$|USD|EUR|GBP|CNY|RMB|JPY|CHF|CAD|AUD)"


def parse_numbers(
    array: pa.Array | pa.ChunkedArray, *, decimal: str = ".", thousands: str | None = None
) -> Parsed:
    """Parse numbers into canonical decimal text ('-1234.5'); separators are the user's choice."""
    check_number_format(decimal, thousands)
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, pa.string()), _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        values = pc.cast(array, pa.string())
        return Parsed(values, _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_floating(array.type):
        finite = pc.fill_null(pc.is_finite(array), True)
        return Parsed(format_floats(array), pc.invert(finite))
    if not is_text(array):
        return _unsupported(array, pa.string())
    text = clean_text(array)
    blank = _blank_mask(text)
    strict = pc.fill_null(pc.match_substring_regex(text, _number_regex(decimal, thousands)), True)
    if not pc.all(strict).as_py():
        text, strict = _normalise_loose_numbers(text, strict, decimal, thousands)
    canonical = text
    if thousands is not None:
        if thousands in (" ", "\u00a0", "\u202f"):
            canonical = pc.replace_substring_regex(canonical, r"[ \u00a0\u202f]", "")
        else:
            canonical = pc.replace_substring(canonical, thousands, "")
    if decimal == ",":
        canonical = pc.replace_substring(canonical, ",", ".")
    canonical = _tidy_numbers(canonical)
    canonical = pc.if_else(strict, canonical, None)
    return Parsed(canonical, pc.and_(pc.invert(strict), _mask(~blank)))


def _tidy_numbers(text: pa.Array) -> pa.Array:
    """Drop '+' signs, leading zeros and a bare trailing decimal point so numbers compare and count right."""
    needs = pc.or_(
        pc.or_(pc.starts_with(text, "+"), pc.starts_with(text, "0")),
        pc.or_(pc.starts_with(text, "-0"), pc.or_(pc.ends_with(text, "."), pc.starts_with(text, "."))),
    )
    needs = pc.or_(needs, pc.starts_with(text, "-."))
    if not pc.any(needs).as_py():
        return text
    tidy = pc.replace_substring_regex(text, r"^\+", "")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)0+(\d)", r"\1\2")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)\.", r"\g<1>0.")
    tidy = pc.replace_substring_regex(tidy, r"\.$", "")
    tidy = pc.replace_substring_regex(tidy, r"^-(0(?:\.0*)?)$", r"\1")
    return pc.if_else(needs, tidy, text)


def _normalise_loose_numbers(
    text: pa.Array, strict: pa.Array, decimal: str, thousands: str | None
) -> tuple[pa.Array, pa.Array]:
    """Second chance for rows that failed the strict shape: currency signs, (123) negatives, exponents."""
    loose = pc.replace_substring_regex(text, rf"^(?:{_CURRENCY})\s*|\s*(?:{_CURRENCY})$", "")
    loose = pc.replace_substring_regex(loose, rf"^([+-]?)\s*(?:{_CURRENCY})\s*", r"\1")
    parenthesised = pc.fill_null(pc.match_substring_regex(loose, r"^\(.*\)$"), False)
    loose = pc.if_else(
        parenthesised, pc.binary_join_element_wise("-", pc.utf8_slice_codeunits(loose, 1, -1), ""), loose
    )
    trailing_minus = pc.fill_null(pc.match_substring_regex(loose, r"^[^-+]*\d-$"), False)
    loose = pc.if_else(
        trailing_minus, pc.binary_join_element_wise("-", pc.utf8_slice_codeunits(loose, 0, -1), ""), loose
    )
    loose = pc.utf8_trim_whitespace(loose)
    pattern = _number_regex(decimal, thousands)
    loose_ok = pc.fill_null(pc.match_substring_regex(loose, pattern), True)
    exponent = pc.and_(
        pc.invert(loose_ok),
        pc.fill_null(
            pc.match_substring_regex(loose, r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)[eE][+-]?\d{1,3}$"), False
        ),
    )
    if pc.any(exponent).as_py():
        # Scientific notation is rare in exports (Excel writes it for long numbers): expand exactly.
        rows = pc.indices_nonzero(exponent).to_numpy()
        values = loose.to_pylist()
        ok = loose_ok.to_pylist()
        for row in rows:
            raw = values[row].replace(decimal, ".") if decimal == "," else values[row]
            try:
                plain = _plain_decimal(Decimal(raw))
            except InvalidOperation:
                continue
            values[row] = plain.replace(".", decimal) if decimal == "," else plain
            ok[row] = True
        loose = pa.array(values, pa.string())
        loose_ok = pa.array(ok, pa.bool_())
    chosen = pc.if_else(strict, text, loose)
    return chosen, pc.or_(strict, loose_ok)


# Booleans ------------------------------------------------------------------------------------------------


def parse_booleans(
    array: pa.Array | pa.ChunkedArray,
    *,
    true_values: Sequence[str] | None = None,
    false_values: Sequence[str] | None = None,
) -> Parsed:
    """Parse booleans (Y/N, yes/no, true/false, 1/0, 是/否 by default; case-insensitive)."""
    array = as_array(array)
    n = len(array)
    if pa.types.is_null(array.type):
        return Parsed(pa.nulls(n, pa.bool_()), _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_boolean(array.type):
        return Parsed(array, _mask(np.zeros(n, dtype=bool)))
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        one = pc.equal(array, 1)
        zero = pc.equal(array, 0)
        valid = pc.or_(one, zero)
        return Parsed(pc.if_else(valid, one, None), pc.fill_null(pc.invert(valid), False))
    if not is_text(array):
        return _unsupported(array, pa.bool_())
    trues = [t.strip().lower() for t in (true_values or TRUE_TOKENS)]
    falses = [f.strip().lower() for f in (false_values or FALSE_TOKENS)]
    clash = set(trues) & set(falses)
    if clash:
        raise FormatError(f"boolean tokens {sorted(clash)} are listed as both true and false")
    text = pc.utf8_lower(clean_text(array))
    is_true = pc.is_in(text, value_set=pa.array(trues, pa.string()))
    is_false = pc.is_in(text, value_set=pa.array(falses, pa.string()))
    known = pc.or_(is_true, is_false)
    values = pc.if_else(known, is_true, None)
    invalid = pc.and_(pc.invert(known), pc.is_valid(text))
    return Parsed(values, invalid)


def describe_booleans(true_values: Sequence[str] | None, false_values: Sequence[str] | None) -> str:
    """Say which tokens count as true/false (for error messages)."""
    trues = list(true_values or ("yes", "true", "y", "1", "是"))
    falses = list(false_values or ("no", "false", "n", "0", "否"))
    return ", ".join(f"{t}/{f}" for t, f in zip(trues, falses, strict=False))


# Output formats for Salesforce Bulk 2.0 ------------------------------------------------------------------


def format_dates(values: pa.Array) -> pa.Array:
    """date32 -> 'yyyy-MM-dd' text."""
    return pc.cast(values, pa.string())


def format_datetimes(values: pa.Array) -> pa.Array:
    """timestamp[ms, UTC] -> 'yyyy-MM-ddTHH:mm:ss.SSSZ' text (casting without a zone is ~20x faster)."""
    naive = values.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).cast(pa.timestamp("ms"))
    text = pc.cast(naive, pa.string())
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "")


def format_booleans(values: pa.Array) -> pa.Array:
    """bool -> 'true'/'false' text."""
    return pc.if_else(values, "true", "false")

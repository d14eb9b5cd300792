"""Vectorised parsers for values as legacy exports write them: dates, datetimes, numbers, booleans."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.errors import DMSError
from dms.pipeline.columns import as_array, is_text

logger = logging.getLogger(__name__)

# Salesforce stores dates from 1700-01-01 to 4000-12-31; anything outside is rejected by the org.
MIN_YEAR = 1700
MAX_YEAR = 4000
EXCEL_FORMAT = "excel"  # pseudo-format: Excel serial day numbers (1900 date system)

TRUE_TOKENS: tuple[str, ...] = ("true", "t", "yes", "y", "1", "1.0", "on", "是", "真", "对")
FALSE_TOKENS: tuple[str, ...] = ("false", "f", "no", "n", "0", "0.0", "off", "否", "假", "错")

_MONTH_NAMES = "january february march april may june july august september october november december".split()
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


def clean_text(array: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings into nulls (blank cells mean 'no value')."""
    if is_trimmed(array):
        return array
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(pc.binary_length(trimmed), 0)
    if not pc.any(blank).as_py():
        return trimmed
    return pc.if_else(blank, pa.scalar(None, trimmed.type), trimmed)


def is_trimmed(text: pa.Array | pa.ChunkedArray) -> bool:
    """Tell cheaply whether trimming would change no value of a text column and none is blank."""
    text = as_array(text)
    if not is_text(text) or len(text) == 0:
        return False
    # True only when every non-null value starts and ends with printable ASCII: any other first or last
    # byte (a space, a control, part of a multi-byte character) answers False, never a guess.
    offsets, data = _text_bytes(text)
    if len(data) == 0:
        return False
    starts, ends = offsets[:-1], offsets[1:]
    first, last = data.take(starts, mode="clip"), data.take(ends - 1, mode="clip")
    printable = ((first - np.uint8(0x21)) < 94) & ((last - np.uint8(0x21)) < 94)  # 0x21 '!' .. 0x7E '~'
    printable &= ends > starts  # an empty value is blank (and take() read a neighbour's byte for it)
    if printable.all():
        return True
    return bool(printable[pc.is_valid(text).to_numpy(zero_copy_only=False)].all())


def lower_text(text: pa.Array) -> pa.Array:
    """Lower-case a text column (Unicode rules; ASCII-only columns take Arrow's much faster ASCII kernel)."""
    text = as_array(text)
    if is_text(text):
        _, data = _text_bytes(text)
        if not (data >= 0x80).any():  # no multi-byte character: ASCII lower-casing is the Unicode one
            return pc.ascii_lower(text)
    return pc.utf8_lower(text)


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
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        # Nested values (lists, structs from JSON) have no Arrow text cast: render them one by one.
        return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


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


def _text_bytes(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row offsets, UTF-8 bytes) of a string array as numpy views: offsets[i]:offsets[i + 1] is row i."""
    n = len(text)
    wide = pa.types.is_large_string(text.type)
    width = 8 if wide else 4
    buffers = text.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if wide else np.int32, count=n + 1, offset=text.offset * width
    ).astype(np.int64)
    data = buffers[2]
    if data is None or data.size == 0:
        return offsets, np.zeros(0, dtype=np.uint8)
    return offsets, np.frombuffer(data, dtype=np.uint8, count=int(offsets[-1]))


def _rows_with(hits: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """How many flagged bytes each row holds, given one bool per byte of the data buffer."""
    # A running count read at the row bounds; int32 on a uint8 view is ~10x faster than bool -> int64.
    count_type = np.int32 if len(hits) < 2**31 - 1 else np.int64
    ends = np.zeros(len(hits) + 1, dtype=count_type)
    np.cumsum(hits.view(np.uint8), out=ends[1:], dtype=count_type)
    return (ends[offsets[1:]] - ends[offsets[:-1]]).astype(np.int64)


def printable_ascii_rows(text: pa.Array) -> np.ndarray:
    """Rows of a text array made only of printable ASCII without spaces ('!' to '~', or empty); False for nulls."""
    offsets, data = _text_bytes(text)
    outside = (data - np.uint8(0x21)) >= 94  # wraps below '!', so one comparison checks both ends
    printable = ~pc.is_null(text).to_numpy(zero_copy_only=False)
    if outside.any():
        printable &= _rows_with(outside, offsets) == 0
    return printable


def byte_at(text: pa.Array, position: np.ndarray | int) -> np.ndarray:
    """The byte at `position` (per row, or one for all) of every row of a text array; 0 past its end."""
    offsets, data = _text_bytes(text)
    if len(data) == 0:
        return np.zeros(len(text), dtype=np.uint8)
    index = offsets[:-1] + position
    return np.where(index < offsets[1:], data.take(index, mode="clip"), 0)


def _edge_bytes(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First, second and last byte of every row (0 where the row is too short to have one)."""
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    if len(data) == 0:
        zeros = np.zeros(len(starts), dtype=np.uint8)
        return zeros, zeros, zeros
    # take(mode="clip") keeps a too-short row's index in bounds; np.where then zeroes what it read.
    first = np.where(lengths >= 1, data.take(starts, mode="clip"), 0)
    second = np.where(lengths >= 2, data.take(starts + 1, mode="clip"), 0)
    last = np.where(lengths >= 1, data.take(ends - 1, mode="clip"), 0)
    return first, second, last


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
    fixed: str | None = None  # a strftime pattern for the fixed-width fast path, when one applies

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


class FormatError(DMSError):
    """A format setting (date format, separators, boolean tokens) that cannot be used."""

    code = "INVALID_FORMAT"


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
    return DateFormat(
        pattern=pattern, regex="".join(regex), groups=frozenset(groups), label="".join(label), fixed=pattern
    )


def _raw_format(regex: str, label: str, groups: Iterable[str], fixed: str | None = None) -> DateFormat:
    return DateFormat(pattern=label, regex=regex, groups=frozenset(groups), label=label, fixed=fixed)


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
        "%Y-%m-%d",
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


_FIXED_WIDTHS = {"Y": 4, "y": 2, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


@lru_cache(maxsize=256)
def _fixed_layout(pattern: str) -> tuple[int, tuple[tuple[str, int, int], ...], tuple[tuple[int, int], ...]]:
    """(width, digit fields, literal bytes) of a pattern whose every value has one width, else width 0."""
    fields: list[tuple[str, int, int]] = []
    literals: list[tuple[int, int]] = []
    position = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "%":
            directive = pattern[i + 1 : i + 2]
            if directive not in _FIXED_WIDTHS:
                return 0, (), ()
            fields.append((directive, position, _FIXED_WIDTHS[directive]))
            position += _FIXED_WIDTHS[directive]
            i += 2
            continue
        if not char.isascii() or char.isspace() or char == "Z":
            return 0, (), ()
        literals.append((position, ord(char)))
        position += 1
        i += 1
    return (position if fields else 0), tuple(fields), tuple(literals)


def _fixed_width_reader(text: pa.Array, fmt: DateFormat) -> tuple[np.ndarray, Any, frozenset[str]] | None:
    """Read digits straight from the bytes when every value has the format's one width (the common case)."""
    if fmt.fixed is None or len(text) == 0:
        return None
    width, fields, literals = _fixed_layout(fmt.fixed)
    if not width:
        return None
    lengths = pc.binary_length(text)
    if pc.min(lengths).as_py() != width or pc.max(lengths).as_py() != width:
        return None
    filled = as_array(pc.fill_null(text, "0" * width))
    n = len(filled)
    offsets = np.frombuffer(filled.buffers()[1], dtype=np.int32, count=n + 1, offset=filled.offset * 4)
    data = np.frombuffer(filled.buffers()[2], dtype=np.uint8, count=n * width, offset=int(offsets[0]))
    matrix = data.reshape(n, width)
    matched = pc.is_valid(text).to_numpy(zero_copy_only=False).copy()
    # Column by column: numpy is fast along rows and slow reducing many tiny rows.
    for position, byte in literals:
        matched &= matrix[:, position] == byte
    digit_values: dict[int, np.ndarray] = {}
    for _name, start, size in fields:
        for column in range(start, start + size):
            value = matrix[:, column] - np.uint8(48)  # wraps below '0', so one comparison checks both ends
            matched &= value < 10
            digit_values[column] = value
    spans = {name: (start, size) for name, start, size in fields}

    def ints(name: str, _width: int) -> np.ndarray:
        if name not in spans:
            return np.zeros(n, dtype=np.int64)
        start, size = spans[name]
        total = np.zeros(n, dtype=np.int64)
        for column in range(start, start + size):
            total = total * 10 + digit_values[column]
        return total

    return matched, ints, frozenset(spans)


def _extract_components(text: pa.Array, fmt: DateFormat) -> _Components:
    """Match `text` against `fmt` and turn the pieces into day numbers and times, checking the calendar."""
    n = len(text)
    groups = fmt.groups
    fast = _fixed_width_reader(text, fmt)
    if fast is not None:
        matched, ints, groups = fast  # only the fixed pattern's fields: no fractions, names or offsets
        struct = None
    else:
        struct = pc.extract_regex(text, fmt.regex)
        matched = pc.fill_null(struct.is_valid(), False).to_numpy(zero_copy_only=False) & pc.is_valid(
            text
        ).to_numpy(zero_copy_only=False)

        def ints(name: str, width: int) -> np.ndarray:
            return _digits_to_int(field(name), width)

    def field(name: str) -> pa.Array:
        return pc.fill_null(pc.struct_field(struct, name), "")

    if "Y" in groups:
        year = ints("Y", 4)
    else:
        two = ints("y", 2)
        # POSIX/Python pivot: 69-99 are 1900s, 00-68 are 2000s.
        year = np.where(two >= 69, 1900 + two, 2000 + two)
    if "m" in groups:
        month = ints("m", 2)
    else:
        names = pc.utf8_lower(field("b"))
        index = pc.fill_null(pc.index_in(names, value_set=_MONTH_TOKENS), -1).to_numpy(zero_copy_only=False)
        month = np.where(index >= 0, _MONTH_NUMBERS[np.clip(index, 0, None)], 0)
    day = ints("d", 2)
    ok = matched & (month >= 1) & (month <= 12) & (day >= 1) & (day <= _days_in_month(year, month))
    days = _days_from_civil(year, month, day)

    ms_of_day = np.zeros(n, dtype=np.int64)
    if "H" in groups or "I" in groups:
        if "H" in groups:
            hour = ints("H", 2)
            ok &= hour <= 23
        else:
            hour = ints("I", 2)
            ok &= (hour >= 1) & (hour <= 12)
            pm = pc.starts_with(pc.utf8_lower(field("p")), "p").to_numpy(zero_copy_only=False)
            hour = hour % 12 + np.where(pm, 12, 0)
        minute = ints("M", 2) if "M" in groups else np.zeros(n, dtype=np.int64)
        second = ints("S", 2) if "S" in groups else np.zeros(n, dtype=np.int64)
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


_FIRST_DAY = int(_days_from_civil(np.array([MIN_YEAR]), np.array([1]), np.array([1]))[0])
_LAST_DAY = int(_days_from_civil(np.array([MAX_YEAR]), np.array([12]), np.array([31]))[0])


def _year_in_range(days: np.ndarray) -> np.ndarray:
    return (days >= _FIRST_DAY) & (days <= _LAST_DAY)


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


def parse_dates(array: pa.Array | pa.ChunkedArray, fmt: str | None = None, *, clean: bool = True) -> Parsed:
    """Parse a column into date32; `fmt` is strftime-style, 'excel', or None for unambiguous forms only.

    clean=False skips trimming when the caller already trimmed and turned blanks into nulls.
    """
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
        text = clean_text(array) if clean else array
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
    array: pa.Array | pa.ChunkedArray, fmt: str | None = None, *, timezone: str = "UTC", clean: bool = True
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
        text = clean_text(array) if clean else array
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
    # Wall-clock times that fall into a DST overlap take the earlier instant; ones in a DST gap move to the end of the gap.
    zoned = pc.assume_timezone(local, timezone, ambiguous="earliest", nonexistent="latest")
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
        t = "[ \u00a0\u202f]" if thousands in (" ", "\u00a0", "\u202f") else re.escape(thousands)
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
    array: pa.Array | pa.ChunkedArray, *, decimal: str = ".", thousands: str | None = None, clean: bool = True
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
    text = clean_text(array) if clean else array
    blank = _blank_mask(text)
    strict, plain = _number_shape(text, decimal, thousands)
    if not strict.all():
        loose_rows = _mask(~strict)
        loose, loose_ok = _normalise_loose_numbers(text.filter(loose_rows), decimal, thousands)
        text = pc.replace_with_mask(text, loose_rows, loose)
        strict[~strict] = loose_ok.to_numpy(zero_copy_only=False)
    canonical = text
    if thousands is not None and not plain:
        if thousands in (" ", "\u00a0", "\u202f"):
            canonical = pc.replace_substring_regex(canonical, "[ \u00a0\u202f]", "")
        else:
            canonical = pc.replace_substring(canonical, thousands, "")
    if decimal == ",":
        canonical = _swap_ascii_byte(canonical, ",", ".")
    canonical = _tidy_numbers(canonical)
    accepted = _mask(strict)
    canonical = pc.if_else(accepted, canonical, None)
    return Parsed(canonical, _mask(~strict & ~blank))


def _number_shape(text: pa.Array, decimal: str, thousands: str | None) -> tuple[np.ndarray, bool]:
    """Rows that fit the strict number shape (nulls count as fitting), and whether every fit was plain.

    Plain rows (digits with at most one decimal separator) always fit, whatever the separators, so the
    regex runs only on the rest; a clean export never pays for it.
    """
    n = len(text)
    offsets, data = _text_bytes(text)
    not_digit = (data - np.uint8(48)) >= 10  # wraps below '0', so one comparison checks both ends
    separator = data == ord(decimal)
    other = not_digit & ~separator
    lengths = offsets[1:] - offsets[:-1]
    separators = _rows_with(separator, offsets) if separator.any() else np.zeros(n, dtype=np.int64)
    plain = (separators <= 1) & (lengths > separators)
    if other.any():
        plain &= _rows_with(other, offsets) == 0
    valid = pc.is_valid(text).to_numpy(zero_copy_only=False)
    plain &= valid
    fits = plain | ~valid
    if fits.all():
        return fits, True
    rest = ~fits
    shaped = pc.match_substring_regex(text.filter(_mask(rest)), _number_regex(decimal, thousands))
    fits[rest] = shaped.to_numpy(zero_copy_only=False)
    return fits, False


def _swap_ascii_byte(text: pa.Array, old: str, new: str) -> pa.Array:
    """Replace one ASCII character with another in every value, byte for byte."""
    # An ASCII byte is never part of a multi-byte character, so swapping bytes in one copy of the data
    # gives what pc.replace_substring gives, at a tenth of its cost (it rebuilds every value).
    _, data = _text_bytes(text)
    hits = data == ord(old)
    if not hits.any():
        return text
    swapped = data.copy()
    swapped[hits] = ord(new)
    validity, offsets = text.buffers()[:2]
    return pa.Array.from_buffers(
        text.type, len(text), [validity, offsets, pa.py_buffer(swapped)], text.null_count, text.offset
    )


def _tidy_numbers(text: pa.Array) -> pa.Array:
    """Drop '+' signs, leading zeros and a bare trailing decimal point so numbers compare and count right."""
    offsets, data = _text_bytes(text)
    first, second, last = _edge_bytes(offsets, data)
    plus, zero, minus, point = (np.uint8(ord(c)) for c in "+0-.")
    needs = (first == plus) | (first == zero) | (first == point) | (last == point)
    needs |= (first == minus) & ((second == zero) | (second == point))
    needs &= pc.is_valid(text).to_numpy(zero_copy_only=False)
    if not needs.any():
        return text
    # Only the rows that may change go through the regexes: a '0' or '0.50' here and there is common.
    rows = _mask(needs)
    before = text.filter(rows)
    after = _tidy_all(before)
    if after.equals(before):
        return text
    return pc.replace_with_mask(text, rows, after)


def _tidy_all(text: pa.Array) -> pa.Array:
    """The tidying of `_tidy_numbers` applied to every row (the definition its fast path must match)."""
    tidy = pc.replace_substring_regex(text, r"^\+", "")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)0+(\d)", r"\1\2")
    tidy = pc.replace_substring_regex(tidy, r"^(-?)\.", r"\10.")
    tidy = pc.replace_substring_regex(tidy, r"\.$", "")
    return pc.replace_substring_regex(tidy, r"^-(0(?:\.0*)?)$", r"\1")


def _normalise_loose_numbers(
    text: pa.Array, decimal: str, thousands: str | None
) -> tuple[pa.Array, pa.Array]:
    """Second chance for rows that failed the strict shape: currency signs, (123) negatives, exponents.

    Takes only the failed rows; returns them rewritten and whether each now fits the strict shape.
    """
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
        loose = pa.array(values, text.type)
        loose_ok = pa.array(ok, pa.bool_())
    return loose, loose_ok


# Booleans ------------------------------------------------------------------------------------------------


def parse_booleans(
    array: pa.Array | pa.ChunkedArray,
    *,
    true_values: Sequence[str] | None = None,
    false_values: Sequence[str] | None = None,
    clean: bool = True,
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
    text = lower_text(clean_text(array) if clean else array)
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


# ---------------------------------------------------------------------------------------------------------
# Inference (feeds the upload preview)
# ---------------------------------------------------------------------------------------------------------

KINDS = ("empty", "boolean", "integer", "number", "date", "datetime", "text")
# A kind is chosen when at least this share of the sampled non-blank values parse; the rest are reported.
MATCH_SHARE = 0.95


def _best_readings(readings: list[Any]) -> list[Any]:
    """The readings (share of values that parse first) with the best share, if it reaches MATCH_SHARE."""
    best = max((r[0] for r in readings), default=0.0)
    return [r for r in readings if r[0] == best] if readings and best >= MATCH_SHARE else []


_DATE_CANDIDATES = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%y",
    "%d-%m-%y",
    "%m-%d-%y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%b %d, %Y",
    "%b %d %Y",
)
_TIME_CANDIDATES = ("T%H:%M:%S", " %H:%M:%S", "T%H:%M", " %H:%M", " %I:%M:%S %p", " %I:%M %p")
_NUMBER_CANDIDATES: tuple[tuple[str, str | None], ...] = (
    (".", None),
    (".", ","),
    (",", None),
    (",", "."),
    (",", " "),
    (".", " "),
    (".", "'"),
)
_PROBE = 20


@dataclass
class ColumnProfile:
    """What a column seems to hold, for the preview: kind, format, and whether that reading is ambiguous."""

    name: str | None
    kind: str
    format: str | None = None  # strftime-style for date/datetime
    decimal: str | None = None  # for number/integer read from text
    thousands: str | None = None
    day_first: bool | None = None
    ambiguous: bool = False
    ambiguity: str | None = None  # a sentence for the preview when ambiguous
    alternatives: list[str] | None = None  # other readings that fit the sample equally well
    sampled: int = 0
    non_blank: int = 0
    invalid_count: int = 0  # non-blank values the chosen reading cannot parse
    invalid_examples: list[str] | None = None
    max_length: int = 0
    examples: list[str] | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able form."""
        return {key: value for key, value in self.__dict__.items()}


def infer_column(
    array: pa.Array | pa.ChunkedArray,
    *,
    name: str | None = None,
    sample_size: int = 5000,
    day_first: bool | None = None,
) -> ColumnProfile:
    """Infer kind and format of a column from a sample; flag readings that the data cannot decide."""
    array = as_array(array)
    if len(array) > sample_size:
        array = array.slice(0, sample_size)
    sampled = len(array)
    if pa.types.is_null(array.type):
        return ColumnProfile(name=name, kind="empty", sampled=sampled)
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if not is_text(array):
        return _infer_native(array, name, sampled)
    text = clean_text(array)
    values = text.drop_null()
    profile = ColumnProfile(name=name, kind="text", sampled=sampled, non_blank=len(values))
    if len(values) == 0:
        profile.kind = "empty"
        return profile
    profile.max_length = int(pc.max(pc.utf8_length(values)).as_py())
    profile.examples = pc.unique(values).slice(0, 5).to_pylist()
    for attempt in (_infer_boolean, _infer_number, _infer_date):
        if attempt(values, profile, day_first):
            return profile
    return profile


def _infer_native(array: pa.Array, name: str | None, sampled: int) -> ColumnProfile:
    values = array.drop_null()
    profile = ColumnProfile(name=name, kind="text", sampled=sampled, non_blank=len(values))
    if len(values) == 0:
        profile.kind = "empty"
        return profile
    profile.examples = to_text(pc.unique(values).slice(0, 5)).to_pylist()
    kind = array.type
    if pa.types.is_boolean(kind):
        profile.kind = "boolean"
    elif pa.types.is_integer(kind):
        profile.kind = "integer"
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        profile.kind = "number"
    elif pa.types.is_date(kind):
        profile.kind = "date"
    elif pa.types.is_timestamp(kind):
        # Excel stores plain dates as midnight timestamps; call them dates.
        local = pc.local_timestamp(values) if kind.tz is not None else values
        millis = pc.cast(local.cast(pa.timestamp("ms")), pa.int64()).to_numpy(zero_copy_only=False)
        profile.kind = "date" if not np.any(millis % _MS_PER_DAY) else "datetime"
    return profile


def _share(invalid: pa.Array) -> tuple[int, float]:
    bad = int(pc.sum(pc.cast(invalid, pa.int64())).as_py() or 0)
    return bad, 1.0 - bad / max(len(invalid), 1)


def _examples(values: pa.Array, invalid: pa.Array) -> list[str]:
    return values.filter(invalid).slice(0, 5).to_pylist()


def _infer_boolean(values: pa.Array, profile: ColumnProfile, day_first: bool | None) -> bool:
    if (pc.max(pc.binary_length(values)).as_py() or 0) > max(
        len(t.encode()) for t in TRUE_TOKENS + FALSE_TOKENS
    ):
        return False
    distinct = set(pc.unique(pc.utf8_lower(values)).to_pylist())
    tokens = set(TRUE_TOKENS) | set(FALSE_TOKENS)
    if not distinct <= tokens or distinct <= {"0", "1", "0.0", "1.0"}:
        return False  # 0/1 alone are more often counts or flags in a number column: leave them to numbers
    profile.kind = "boolean"
    return True


def _infer_number(values: pa.Array, profile: ColumnProfile, day_first: bool | None) -> bool:
    results = []
    probe = values.slice(0, _PROBE)
    for decimal, thousands in _NUMBER_CANDIDATES:
        if parse_numbers(probe, decimal=decimal, thousands=thousands).invalid.true_count == len(probe):
            continue  # cheap rejection on a few values before parsing the whole sample
        parsed = parse_numbers(values, decimal=decimal, thousands=thousands)
        bad, share = _share(parsed.invalid)
        results.append((share, decimal, thousands, parsed, bad))
    tied = _best_readings(results)
    if not tied:
        return False
    has_sep = {sep: bool(pc.any(pc.match_substring(values, sep)).as_py()) for sep in (".", ",", " ", "'")}
    # Among readings that fit equally, prefer one whose separators actually occur in the data.
    tied.sort(key=lambda r: (not (r[2] is None or has_sep.get(r[2], False)), r[2] is None and has_sep[","]))
    share, decimal, thousands, parsed, bad = tied[0]
    canonical = parsed.values.drop_null()
    leading_zero = pc.any(pc.match_substring_regex(values, r"^[+-]?0\d")).as_py()
    whole = not pc.any(pc.match_substring(canonical, ".")).as_py()
    if whole and leading_zero:
        return False  # codes such as '007' or zip '02134' are text: a number would lose the zeros
    if whole and _infer_yyyymmdd(values, profile):
        return True
    profile.kind = "integer" if whole else "number"
    profile.decimal = decimal
    profile.thousands = thousands
    profile.invalid_count = bad
    profile.invalid_examples = _examples(values, parsed.invalid) or None
    decimals_seen = {r[1] for r in tied}
    others = []
    if len(decimals_seen) > 1 and (has_sep["."] or has_sep[","]):
        seen = {None} | {sep for sep, present in has_sep.items() if present}
        others = [r for r in tied if r[1] != decimal and r[2] in seen]
    if len(decimals_seen) > 1 and others:
        profile.ambiguous = True
        profile.alternatives = [_number_label(r[1], r[2]) for r in others]
        profile.ambiguity = (
            f"numbers like {_first_with_separator(values)!r} read as {_number_label(decimal, thousands)} "
            f"or as {profile.alternatives[0]}: choose the separators"
        )
    return True


def _first_with_separator(values: pa.Array) -> str:
    hits = values.filter(pc.match_substring_regex(values, r"[.,]"))
    return str(hits[0].as_py()) if len(hits) else str(values[0].as_py())


def _number_label(decimal: str, thousands: str | None) -> str:
    names = {None: "no thousands separator", " ": "space thousands separator"}
    thousands_text = names.get(thousands, f"'{thousands}' thousands separator")
    return f"decimal '{decimal}', {thousands_text}"


def _infer_yyyymmdd(values: pa.Array, profile: ColumnProfile) -> bool:
    if not pc.all(pc.equal(pc.utf8_length(values), 8)).as_py():
        return False
    parsed = parse_dates(values, "%Y%m%d")
    years = pc.year(parsed.values.drop_null())
    if parsed.invalid.true_count or len(years) == 0:
        return False
    if pc.min(years).as_py() < 1900 or pc.max(years).as_py() > 2100:
        return False
    profile.kind = "date"
    profile.format = "%Y%m%d"
    return True


def _infer_date(values: pa.Array, profile: ColumnProfile, day_first: bool | None) -> bool:
    has_time = bool(pc.any(pc.match_substring_regex(values, r"\d:\d\d")).as_py())
    if has_time:
        with_zone = bool(pc.any(pc.match_substring_regex(values, r"(?:[Zz]|[+-]\d\d:?\d\d)$")).as_py())
        zones = ("%z",) if with_zone else ("",)
        candidates = [d + t + z for d in _DATE_CANDIDATES for t in _TIME_CANDIDATES for z in zones]
    else:
        candidates = list(_DATE_CANDIDATES)
    probe = values.slice(0, _PROBE)
    scored = []
    for pattern in candidates:
        fmt = compile_date_format(pattern)
        parse = parse_datetimes if has_time else parse_dates
        if not pc.any(pc.match_substring_regex(probe, fmt.regex)).as_py():
            continue  # cheap rejection on a few values before parsing the whole sample
        parsed = parse(values, pattern)
        bad, share = _share(parsed.invalid)
        scored.append((share, fmt, parsed, bad))
    tied = _best_readings(scored)
    if not tied:
        return False
    orders = {s[1].day_first for s in tied}
    preferred = True if day_first is None else day_first
    tied.sort(key=lambda s: s[1].day_first is not preferred)
    share, fmt, parsed, bad = tied[0]
    profile.kind = "datetime" if has_time else "date"
    profile.format = fmt.pattern
    profile.day_first = fmt.day_first
    profile.invalid_count = bad
    profile.invalid_examples = _examples(values, parsed.invalid) or None
    if len(orders - {None}) > 1:
        others = [s[1] for s in tied if s[1].day_first is not fmt.day_first]
        profile.ambiguous = True
        profile.alternatives = [o.pattern for o in others]
        profile.ambiguity = (
            f"every date fits both {fmt.label} and {others[0].label} (no day above 12): "
            f"read as {fmt.label} until you choose"
        )
    return True

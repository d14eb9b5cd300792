"""Column inference for the upload preview: what kind of values a column holds, in which format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.columns import as_array, is_text
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare.booleans import FALSE_TOKENS, TRUE_TOKENS
from dms.pipeline.prepare.date_formats import compile_date_format
from dms.pipeline.prepare.dates import MS_PER_DAY, parse_dates, parse_datetimes
from dms.pipeline.prepare.numbers import parse_numbers
from dms.pipeline.prepare.text import clean_text, to_text

KINDS = ("empty", "boolean", "integer", "number", "date", "datetime", "text")
# A kind is chosen when at least this share of the sampled non-blank values parse; the rest are reported.
MATCH_SHARE = 0.95
# The leading rows both the preview and a job's plan infer formats from: the same rows give the same answer,
# so what the preview says it reads is what the rehearsal reads.
PROFILE_ROWS = 2000


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
    number_readings: list[dict[str, str | None]] | None = None  # those readings as mapping settings
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


def profile_columns(table: pa.Table) -> dict[str, ColumnProfile]:
    """Profiles of every column of a sample (the __row__ column aside), by column name."""
    return {
        name: infer_column(table.column(name), name=name) for name in table.column_names if name != ROW_COLUMN
    }


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
        profile.kind = "date" if not np.any(millis % MS_PER_DAY) else "datetime"
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
        # As for dates the data cannot order: no reading is chosen, so the profile says what a job without
        # separators does with these values (decimal '.', no thousands separator), not what it might do.
        unread = parse_numbers(values, decimal=".", thousands=None).invalid
        example = _first_with_separator(values)
        profile.ambiguous = True
        profile.decimal = profile.thousands = None
        readings = [tied[0], *others]
        profile.alternatives = [_number_label(r[1], r[2]) for r in readings]
        profile.number_readings = [{"decimal": r[1], "thousands": r[2]} for r in readings]
        profile.invalid_count, _ = _share(unread)
        profile.invalid_examples = _examples(values, unread) or None
        profile.ambiguity = (
            f"numbers like {example!r} read as {profile.alternatives[0]} or as {profile.alternatives[1]}: "
            "choose the separators; until you do, values with a separator are not read and their rows are "
            "rejected"
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
    if len(orders - {None}) > 1 and day_first is None:
        # Nobody said which order the dates are in and the data cannot tell: no reading is chosen, so the
        # profile says what a job without a format does with these values (the plan applies only chosen ones).
        unread = (parse_datetimes if has_time else parse_dates)(values).invalid
        profile.ambiguous = True
        profile.alternatives = [s[1].pattern for s in tied if s[1].day_first is not None]
        profile.invalid_count, _ = _share(unread)
        profile.invalid_examples = _examples(values, unread) or None
        others = [s[1] for s in tied if s[1].day_first is not fmt.day_first]
        profile.ambiguity = (
            f"every date fits both {fmt.label} and {others[0].label} (no day above 12): choose the format; "
            "until you do, these dates are not read and their rows are rejected"
        )
        return True
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
            f"read as {fmt.label}, as asked"
        )
    return True

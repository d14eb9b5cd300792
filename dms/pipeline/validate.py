"""Apply a mapping to one chunk and check every row against the target object's describe.

`prepare` works column by column with pyarrow.compute: no Python loop runs per row except to word the
errors of rows that failed. Codes are Salesforce's where Salesforce has one for the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms.pipeline.describe import STANDARD_KEY_PREFIXES, TEXT_TYPES, FieldInfo, ObjectDescribe
from dms.pipeline.mapping import (
    ROW_COLUMN,
    CompiledMapping,
    FieldRule,
    MappingError,
    MappingProblem,
    compile_mapping,
)
from dms.pipeline.transforms import Flag, apply_transforms, quote
from dms.pipeline.values import (
    as_array,
    byte_at,
    describe_booleans,
    describe_format,
    format_booleans,
    format_dates,
    format_datetimes,
    is_text,
    is_trimmed,
    lower_text,
    parse_booleans,
    parse_dates,
    parse_datetimes,
    parse_numbers,
    printable_ascii_rows,
    to_text,
)

logger = logging.getLogger(__name__)

NULL_MARKER = "#N/A"  # Bulk API 2.0: sets a field to null on update (an empty cell leaves it unchanged)

LookupResolver = Callable[[str, str, set[str]], set[str]]


class ErrorCode(StrEnum):
    """Stable row error codes (Salesforce's own where it has one)."""

    REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"
    STRING_TOO_LONG = "STRING_TOO_LONG"
    INVALID_DATE = "INVALID_DATE"
    INVALID_DATETIME = "INVALID_DATETIME"
    INVALID_TIME = "INVALID_TIME"
    INVALID_NUMBER = "INVALID_NUMBER"
    NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"
    INVALID_BOOLEAN = "INVALID_BOOLEAN"
    INVALID_PICKLIST_VALUE = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    INVALID_EMAIL = "INVALID_EMAIL_ADDRESS"
    INVALID_URL = "INVALID_URL"
    INVALID_ID = "MALFORMED_ID"
    WRONG_ID_TYPE = "FIELD_INTEGRITY_EXCEPTION"
    LOOKUP_NOT_FOUND = "LOOKUP_NOT_FOUND"
    DUPLICATE_VALUE = "DUPLICATE_VALUE"
    UNMAPPED_VALUE = "UNMAPPED_VALUE"


@dataclass
class RowError:
    """Why one source row cannot be loaded: one entry per problem."""

    row: int
    column: str | None
    field: str | None
    value: str | None
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return dict(self.__dict__)


@dataclass
class Prepared:
    """A chunk after mapping and validation: loadable rows as Bulk 2.0 text, and the rejected rows' errors."""

    table: pa.Table
    errors: list[RowError]
    invalid_rows: int


@dataclass
class PrepareOptions:
    """Knobs of `prepare` that are not part of the mapping."""

    # Cell texts that mean "no value" in this export besides blanks (e.g. "NULL", "N/A"); case-insensitive.
    null_values: Sequence[str] = ()
    # Which of these parent keys exist? (object, field, values) -> existing values. None skips the check.
    resolve_lookups: LookupResolver | None = None
    # Salesforce itself accepts any text in URL fields; the shape check catches obvious column mix-ups.
    check_url_shape: bool = True
    key_prefixes: Mapping[str, str] = field(default_factory=dict)  # object -> 3-char Id prefix
    parent_describes: Mapping[str, Any] = field(default_factory=dict)  # object -> describe JSON


_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"
)
_URL = (
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+|(?:[^\s/?#:@]+\.)+[^\s/?#:@.]{2,}(?::\d{1,5})?)(?:[/?#]\S*)?$"
)
_ID_SHAPE = r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$"
_ID_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_TIME = r"^(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,3})\d*)?)?\s*(?P<p>[AaPp][Mm])?Z?$"
_ASTRAL = "[\U00010000-\U0010ffff]"
_INT32_MAX_DIGITS = 10
# Field types whose text goes to Salesforce as written (leading/trailing spaces included).
RAW_TEXT_TYPES = frozenset(
    {"string", "textarea", "encryptedstring", "combobox", "phone", "base64", "anytype"}
)


@dataclass
class _Column:
    """One target column while it is being built."""

    rule: FieldRule
    original: pa.Array  # the source cells as read (for the error report)
    output: pa.Array  # Bulk API text
    blank: np.ndarray  # no value after transforms and default
    flags: list[Flag]


def prepare(
    table: pa.Table,
    spec: Mapping[str, Any] | CompiledMapping,
    describe: ObjectDescribe | Mapping[str, Any],
    options: PrepareOptions | None = None,
) -> Prepared:
    """Map, transform and validate one chunk; invalid rows leave with their errors, valid rows go on."""
    options = options or PrepareOptions()
    if isinstance(spec, CompiledMapping):
        mapping = spec
    else:
        mapping = compile_mapping(
            spec, describe, table.column_names, parent_describes=options.parent_describes
        )
    missing = sorted(
        {name for rule in mapping.rules for name in (rule.source, *rule.concat) if name}
        - set(table.column_names)
    )
    if missing:
        raise MappingError(
            [
                MappingProblem(
                    "error", "UNKNOWN_COLUMN", f"source column {name!r} is not in this chunk", source=name
                )
                for name in missing
            ]
        )
    n = table.num_rows
    rows = _row_numbers(table)
    columns = [_build_column(table, rule, mapping, options) for rule in mapping.rules]
    _check_duplicates(columns, mapping)
    if options.resolve_lookups is not None:
        _check_lookups(columns, options.resolve_lookups)

    invalid = np.zeros(n, dtype=bool)
    for column in columns:
        for flag in column.flags:
            invalid |= flag.mask
    errors = _word_errors(columns, rows)
    valid = ~invalid
    out_columns: dict[str, pa.Array] = {ROW_COLUMN: pa.array(rows, pa.int64())}
    for column in columns:
        out_columns[column.rule.target.header] = _null_marker(column, mapping)
    result = pa.table(out_columns)
    if invalid.any():
        result = result.filter(pa.array(valid))
    logger.debug(
        "prepared object=%s operation=%s rows=%d invalid_rows=%d errors=%d",
        mapping.object,
        mapping.operation,
        n,
        int(invalid.sum()),
        len(errors),
    )
    return Prepared(table=result, errors=errors, invalid_rows=int(invalid.sum()))


def _row_numbers(table: pa.Table) -> np.ndarray:
    if ROW_COLUMN in table.column_names:
        rows = as_array(table[ROW_COLUMN]).cast(pa.int64())
        return pc.fill_null(rows, 0).to_numpy(zero_copy_only=False)
    # Readers always add __row__; a bare table (tests, small direct jobs) counts rows from 1 under the header.
    return np.arange(1, table.num_rows + 1, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------
# Building one target column
# ---------------------------------------------------------------------------------------------------------


def _source(table: pa.Table, rule: FieldRule) -> pa.Array:
    n = table.num_rows
    if rule.has_constant:
        if rule.constant is None:
            return pa.nulls(n, pa.string())
        return pa.repeat(pa.scalar(rule.constant, pa.string()), n)
    if rule.concat:
        parts = [_blank_to_null(to_text(as_array(table[name]))) for name in rule.concat]
        if len(parts) == 1:
            return parts[0]
        # Blank parts are skipped, so "Main St" + "" gives "Main St", not "Main St ".
        return pc.binary_join_element_wise(*parts, rule.separator, null_handling="skip")
    return as_array(table[rule.source])


def _blank_to_null(text: pa.Array) -> pa.Array:
    blank = pc.equal(pc.binary_length(pc.utf8_trim_whitespace(text)), 0)
    return pc.if_else(blank, pa.scalar(None, text.type), text)


def _build_column(
    table: pa.Table, rule: FieldRule, mapping: CompiledMapping, options: PrepareOptions
) -> _Column:
    original = _source(table, rule)
    if pa.types.is_dictionary(original.type):
        original = original.cast(original.type.value_type)
    values = original
    flags: list[Flag] = []
    timezone = rule.timezone or mapping.timezone
    transform_failed = None
    if rule.transforms:
        values, flags = apply_transforms(
            values, rule.transforms, target=rule.target.header, timezone=timezone
        )
        if flags:
            # A row a transform rejected is reported once, for that reason, not again by the type checks.
            transform_failed = np.logical_or.reduce([flag.mask for flag in flags])
            if transform_failed.any():
                values = pc.if_else(pa.array(transform_failed), pa.scalar(None, values.type), values)
    typed = rule.target.is_lookup or rule.target.field.type not in RAW_TEXT_TYPES
    if is_text(values) or pa.types.is_null(values.type):
        # Typed values are trimmed once here; free text keeps its spaces (only all-blank cells become null).
        text = to_text(values)
        if is_trimmed(text):
            values = text  # the usual export: nothing to trim and no blank cell, so skip both passes
        else:
            trimmed = pc.utf8_trim_whitespace(text)
            blank_cells = pc.equal(pc.binary_length(trimmed), 0)
            values = trimmed if typed else text
            if pc.any(blank_cells).as_py():
                values = pc.if_else(blank_cells, pa.scalar(None, pa.string()), values)
        if options.null_values:
            tokens = pa.array([t.strip().lower() for t in options.null_values], pa.string())
            is_token = pc.is_in(lower_text(pc.utf8_trim_whitespace(values)), value_set=tokens)
            values = pc.if_else(is_token, pa.scalar(None, pa.string()), values)
    if rule.default is not None:
        values = pc.fill_null(to_text(values), rule.default)
    blank = pc.is_null(values).to_numpy(zero_copy_only=False)
    if transform_failed is not None:
        blank &= ~transform_failed
    output, type_flags = _convert(values, rule, mapping, timezone, options)
    flags += type_flags
    flags += _required(blank, rule, mapping)
    return _Column(rule=rule, original=original, output=output, blank=blank, flags=flags)


def _required(blank: np.ndarray, rule: FieldRule, mapping: CompiledMapping) -> list[Flag]:
    info = rule.target.field
    operation = mapping.operation
    key_field = info.name == "Id" or (
        mapping.external_id is not None and info.name.lower() == mapping.external_id.lower()
    )
    if key_field and not rule.target.is_lookup and operation != "insert":
        why = f"{info.name} is needed to find the record to {operation.replace('_', ' ')}"
        if operation == "upsert" and info.name != "Id":
            why = f"the external id {info.name} is needed to match or create the record"
        return [_flag(blank, ErrorCode.REQUIRED_FIELD_MISSING, lambda v: why, None)]
    if operation in ("delete", "hard_delete") or info.type == "boolean":
        return []
    if operation == "insert":
        needed = info.required_on_create
    else:
        # On update/upsert a blank leaves the record's value alone, which Salesforce accepts; only an
        # explicit null (blank_means "null") on a non-nillable field is refused.
        needed = mapping.blank_means == "null" and not info.nillable
    if not needed or not blank.any():
        return []
    message = f"{info.label} ({info.name}) is required"
    if operation != "insert":
        message += " and cannot be set to blank"
    return [_flag(blank, ErrorCode.REQUIRED_FIELD_MISSING, lambda v: message, None)]


def _flag(mask: np.ndarray | pa.Array, code: str, message: Callable[[str | None], str], shown: Any) -> Flag:
    if isinstance(mask, pa.Array | pa.ChunkedArray):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    return Flag(mask=np.asarray(mask, dtype=bool), code=str(code), message=message, shown=shown)


def _null_marker(column: _Column, mapping: CompiledMapping) -> pa.Array:
    output = column.output
    info = column.rule.target.field
    if (
        mapping.blank_means == "null"
        and mapping.operation in ("update", "upsert")
        and info.type != "boolean"
        and info.nillable
        and column.blank.any()
    ):
        return pc.if_else(pa.array(column.blank), pa.scalar(NULL_MARKER, pa.string()), output)
    return output


# ---------------------------------------------------------------------------------------------------------
# Type conversion and checks per Salesforce field type
# ---------------------------------------------------------------------------------------------------------


def _convert(
    values: pa.Array, rule: FieldRule, mapping: CompiledMapping, timezone: str, options: PrepareOptions
) -> tuple[pa.Array, list[Flag]]:
    info = rule.target.field
    if rule.target.is_lookup:
        return _convert_lookup_key(values, rule)
    kind = info.type
    if kind == "boolean":
        parsed = parse_booleans(
            values, true_values=rule.true_values, false_values=rule.false_values, clean=False
        )
        expected = describe_booleans(rule.true_values, rule.false_values)
        flag = _flag(
            parsed.invalid,
            ErrorCode.INVALID_BOOLEAN,
            lambda v: f"{quote(v)} is not true or false (expected {expected})",
            values,
        )
        return format_booleans(parsed.values), [flag]
    if kind in ("int", "double", "currency", "percent"):
        return _convert_number(values, rule, info)
    if kind == "date":
        parsed = parse_dates(values, rule.format, clean=False)
        label = describe_format(rule.format)
        flag = _flag(
            parsed.invalid, ErrorCode.INVALID_DATE, _date_message("a date", rule.format, label), values
        )
        return format_dates(parsed.values), [flag]
    if kind == "datetime":
        parsed = parse_datetimes(values, rule.format, timezone=timezone, clean=False)
        label = describe_format(rule.format)
        flag = _flag(
            parsed.invalid,
            ErrorCode.INVALID_DATETIME,
            _date_message("a date and time", rule.format, label),
            values,
        )
        return format_datetimes(parsed.values), [flag]
    if kind == "time":
        return _convert_time(values)
    text = to_text(values)
    if kind in ("id", "reference"):
        return _convert_id(text, info, mapping, options)
    if kind == "picklist":
        return _convert_picklist(text, info)
    if kind == "multipicklist":
        return _convert_multipicklist(text, info)
    flags: list[Flag] = []
    if kind == "email":
        bad = pc.invert(pc.match_substring_regex(text, _EMAIL))
        flags.append(
            _flag(bad, ErrorCode.INVALID_EMAIL, lambda v: f"{quote(v)} is not a valid email address", text)
        )
    elif kind == "url" and options.check_url_shape:
        bad = pc.is_valid(text).to_numpy(zero_copy_only=False) & ~_web_address_shape(text)
        flags.append(
            _flag(bad, ErrorCode.INVALID_URL, lambda v: f"{quote(v)} does not look like a web address", text)
        )
    if kind in TEXT_TYPES or info.length:
        flags += _length(text, info)
    return text, flags


_HOST_STOPS = np.frombuffer(b"/?#\0", dtype=np.uint8)  # a host cannot start with these (0: the row ended)


def _web_address_shape(text: pa.Array) -> np.ndarray:
    """Rows matching _URL, with the regex run only on rows that are not plain http(s) addresses.

    A row of printable ASCII without spaces that starts with http:// or https:// and a host character
    always matches _URL (scheme, then [^\\s/?#]+, then [/?#]\\S*), so only the others need RE2.
    """
    fits = printable_ascii_rows(text)
    if fits.any():
        secure = pc.fill_null(pc.starts_with(text, "https://"), False).to_numpy(zero_copy_only=False)
        plain = pc.fill_null(pc.starts_with(text, "http://"), False).to_numpy(zero_copy_only=False)
        host_start = byte_at(text, np.where(secure, 8, 7))
        fits &= (secure | plain) & ~np.isin(host_start, _HOST_STOPS)
    rest = ~fits & pc.is_valid(text).to_numpy(zero_copy_only=False)
    if rest.any():
        matched = pc.match_substring_regex(text.filter(pa.array(rest)), _URL)
        fits[rest] = matched.to_numpy(zero_copy_only=False)
    return fits


def _date_message(what: str, fmt: str | None, label: str) -> Callable[[str | None], str]:
    if fmt is None:
        return lambda v: (
            f"{quote(v)} is not {what} in a recognised format ({label}); set the column's date format"
        )
    return lambda v: f"{quote(v)} is not {what} in format {label} (or is outside 1700-4000)"


def _length(text: pa.Array, info: FieldInfo) -> list[Flag]:
    limit = info.length
    if limit <= 0 or len(text) == 0:
        return []
    # Bytes bound characters from above, so most chunks are cleared by one cheap pass.
    byte_length = pc.binary_length(text)
    if (pc.max(byte_length).as_py() or 0) <= limit:
        return []
    # Salesforce counts UTF-16 units (Java strings): characters outside the BMP count twice.
    units = pc.add(pc.utf8_length(text), pc.count_substring_regex(text, _ASTRAL))
    too_long = pc.greater(units, limit)
    name = info.name

    def message(value: str | None) -> str:
        length = len(value.encode("utf-16-le")) // 2 if value else 0
        return f"{name} takes at most {limit} characters; this value has {length}"

    return [_flag(too_long, ErrorCode.STRING_TOO_LONG, message, text)]


def _convert_lookup_key(values: pa.Array, rule: FieldRule) -> tuple[pa.Array, list[Flag]]:
    text = to_text(values)
    parent = rule.target.parent_info
    if parent is not None and parent.length and parent.type in TEXT_TYPES:
        return text, _length(text, parent)
    return text, []


def _convert_number(values: pa.Array, rule: FieldRule, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    parsed = parse_numbers(values, decimal=rule.decimal, thousands=rule.thousands, clean=False)
    seps = f"decimal separator '{rule.decimal}'" + (
        f", thousands separator '{rule.thousands}'" if rule.thousands else ", no thousands separator"
    )
    flags = [
        _flag(
            parsed.invalid, ErrorCode.INVALID_NUMBER, lambda v: f"{quote(v)} is not a number ({seps})", values
        )
    ]
    text = parsed.values
    point = pc.find_substring(text, ".").to_numpy(zero_copy_only=False)
    length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    negative = pc.fill_null(pc.starts_with(text, "-"), False).to_numpy(zero_copy_only=False)
    point = np.nan_to_num(np.asarray(point, dtype=np.float64), nan=-1).astype(np.int64)
    whole_digits = np.where(point >= 0, point, length) - negative
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    if info.type == "int":
        # Canonical numbers hold at most one '.', so a column without any has no fraction to check or drop.
        has_point = bool((point >= 0).any())
        if has_point:
            fraction = pc.fill_null(pc.match_substring_regex(text, r"\.\d*[1-9]"), False).to_numpy(
                zero_copy_only=False
            )
        else:
            fraction = np.zeros(len(text), dtype=bool)
        flags.append(
            _flag(
                fraction,
                ErrorCode.INVALID_NUMBER,
                lambda v: f"{quote(v)} is not a whole number, which {info.name} needs",
                values,
            )
        )
        if has_point:
            text = pc.replace_substring_regex(text, r"\.0*$", "")
        allowed = min(info.digits or _INT32_MAX_DIGITS, _INT32_MAX_DIGITS)
        too_big = present & (whole_digits > allowed)
        if allowed == _INT32_MAX_DIGITS:
            # Rows with a fraction ('0.5') are already rejected above, and would make the int cast raise.
            whole = present & ~too_big & ~fraction
            number = pc.cast(pc.if_else(pa.array(whole), text, "0"), pa.int64())
            too_big |= np.abs(pc.fill_null(number, 0).to_numpy(zero_copy_only=False)) > 2_147_483_647
    else:
        allowed = info.precision - info.scale if info.precision else 0
        too_big = present & (whole_digits > allowed) if allowed > 0 else np.zeros(len(text), dtype=bool)
    if too_big.any():
        name = info.name
        flags.append(
            _flag(
                too_big,
                ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
                lambda v: (
                    f"{quote(v)} is too large for {name} (at most {allowed} digits before the decimal point)"
                ),
                values,
            )
        )
    return text, flags


def _convert_time(values: pa.Array) -> tuple[pa.Array, list[Flag]]:
    text = to_text(values)
    parts = pc.extract_regex(text, _TIME)
    matched = pc.fill_null(parts.is_valid(), False).to_numpy(zero_copy_only=False)

    def number(name: str) -> np.ndarray:
        piece = pc.fill_null(pc.struct_field(parts, name), "")
        piece = pc.if_else(pc.equal(piece, ""), "0", piece)
        return pc.cast(piece, pa.int64()).to_numpy(zero_copy_only=False)

    hour, minute, second = number("H"), number("M"), number("S")
    meridiem = pc.utf8_lower(pc.fill_null(pc.struct_field(parts, "p"), ""))
    pm = pc.equal(meridiem, "pm").to_numpy(zero_copy_only=False)
    twelve = pc.greater(pc.binary_length(meridiem), 0).to_numpy(zero_copy_only=False)
    ok = matched & (minute <= 59) & (second <= 59)
    ok &= np.where(twelve, (hour >= 1) & (hour <= 12), hour <= 23)
    hour = np.where(twelve, hour % 12 + np.where(pm, 12, 0), hour)
    millis = pc.utf8_rpad(pc.fill_null(pc.struct_field(parts, "f"), ""), width=3, padding="0")
    pieces = [
        pc.utf8_lpad(pc.cast(pa.array(hour), pa.string()), width=2, padding="0"),
        pc.utf8_lpad(pc.cast(pa.array(minute), pa.string()), width=2, padding="0"),
        pc.binary_join_element_wise(
            pc.utf8_lpad(pc.cast(pa.array(second), pa.string()), width=2, padding="0"), millis, "."
        ),
    ]
    formatted = pc.binary_join_element_wise(pc.binary_join_element_wise(*pieces, ":"), "Z", "")
    output = pc.if_else(pa.array(ok), formatted, pa.scalar(None, pa.string()))
    present = pc.is_valid(text).to_numpy(zero_copy_only=False)
    flag = _flag(
        present & ~ok, ErrorCode.INVALID_TIME, lambda v: f"{quote(v)} is not a time of day (HH:MM[:SS])", text
    )
    return output, [flag]


def _convert_picklist(text: pa.Array, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    if not info.restricted_picklist or not info.picklist_values:
        return text, _length(text, info) if info.length else []
    canonical, bad = _canonical_picklist(text, info)
    return canonical, [_flag(bad, ErrorCode.INVALID_PICKLIST_VALUE, _picklist_message(info), text)]


def _canonical_picklist(text: pa.Array, info: FieldInfo) -> tuple[pa.Array, pa.Array]:
    """Match values to the picklist, ignoring case, and spell them as the picklist does."""
    allowed = pa.array(list(info.picklist_values), pa.string())
    exact = pc.is_in(text, value_set=allowed)
    if pc.all(pc.or_(exact, pc.is_null(text))).as_py():
        return text, pc.and_(pc.invert(exact), pc.is_valid(text))
    lowered = pa.array([v.lower() for v in info.picklist_values], pa.string())
    index = pc.index_in(lower_text(text), value_set=lowered)
    canonical = pc.if_else(exact, text, pc.take(allowed, index))
    bad = pc.and_(pc.is_null(index), pc.is_valid(text))
    return canonical, bad


def _picklist_message(info: FieldInfo) -> Callable[[str | None], str]:
    shown = ", ".join(info.picklist_values[:10]) + (", ..." if len(info.picklist_values) > 10 else "")
    return lambda v: f"{quote(v)} is not an allowed value of {info.name} ({shown})"


def _convert_multipicklist(text: pa.Array, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    if not info.restricted_picklist or not info.picklist_values or len(text) == 0:
        return text, _length(text, info) if info.length else []
    lists = pc.split_pattern(text, ";")
    parts = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    parts = _blank_to_null(parts)
    canonical, bad_parts = _canonical_picklist(parts, info)
    bad = np.zeros(len(text), dtype=bool)
    bad_rows = parents[pc.fill_null(bad_parts, False).to_numpy(zero_copy_only=False)]
    bad[bad_rows] = True
    # Rebuild "a;b" from the cleaned parts; empty parts (a;;b) drop out.
    rebuilt = pa.ListArray.from_arrays(pa.array(_offsets(lists), pa.int32()), canonical)
    joined = pc.binary_join(rebuilt, ";")
    if pc.any(pc.is_null(parts)).as_py():
        kept = pc.list_flatten(rebuilt)
        counts = np.bincount(parents[pc.is_valid(kept).to_numpy(zero_copy_only=False)], minlength=len(text))
        compact_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(compact_offsets), kept.drop_null()), ";")
        joined = pc.if_else(pc.is_valid(text), joined, pa.scalar(None, pa.string()))
    message = _picklist_message(info)
    return joined, [_flag(bad, ErrorCode.INVALID_PICKLIST_VALUE, message, text)]


def _offsets(lists: pa.Array) -> np.ndarray:
    offsets = lists.offsets.to_numpy().astype(np.int64)
    return (offsets - offsets[0]).astype(np.int32)


def _key_prefixes(objects: Sequence[str], options: PrepareOptions) -> set[str] | None:
    prefixes = set()
    for name in objects:
        prefix = options.key_prefixes.get(name) or STANDARD_KEY_PREFIXES.get(name)
        parent = options.parent_describes.get(name)
        if prefix is None and isinstance(parent, ObjectDescribe):
            prefix = parent.key_prefix
        elif prefix is None and isinstance(parent, Mapping):
            prefix = parent.get("keyPrefix")
        if not prefix:
            return None  # one unknown target type: the prefix cannot be checked
        prefixes.add(prefix)
    return prefixes or None


def _convert_id(
    text: pa.Array, info: FieldInfo, mapping: CompiledMapping, options: PrepareOptions
) -> tuple[pa.Array, list[Flag]]:
    shape_ok = pc.fill_null(pc.match_substring_regex(text, _ID_SHAPE), True).to_numpy(zero_copy_only=False)
    malformed = ~shape_ok | _bad_checksums(text)
    flags = [
        _flag(
            malformed,
            ErrorCode.INVALID_ID,
            lambda v: f"{quote(v)} is not a Salesforce Id (15 or 18 letters and digits, valid checksum)",
            text,
        )
    ]
    if info.name == "Id":
        objects: Sequence[str] = (mapping.object,)
        own = mapping.describe.key_prefix
        prefixes = {own} if own else _key_prefixes(objects, options)
    else:
        objects = info.reference_to
        prefixes = _key_prefixes(objects, options) if objects else None
    if prefixes:
        prefix = pc.utf8_slice_codeunits(text, 0, 3)
        wrong = pc.and_(pc.invert(pc.is_in(prefix, value_set=pa.array(sorted(prefixes)))), pc.is_valid(text))
        wrong_mask = pc.fill_null(wrong, False).to_numpy(zero_copy_only=False) & ~malformed
        kinds = " or ".join(objects)
        code = ErrorCode.INVALID_ID if info.name == "Id" else ErrorCode.WRONG_ID_TYPE
        flags.append(
            _flag(wrong_mask, code, lambda v: f"{quote(v)} is not the Id of a record of type {kinds}", text)
        )
    return text, flags


def _bad_checksums(text: pa.Array) -> np.ndarray:
    """Rows holding an 18-character Id whose last 3 characters do not match its case checksum."""
    n = len(text)
    bad = np.zeros(n, dtype=bool)
    eighteen = pc.fill_null(pc.equal(pc.binary_length(text), 18), False)
    rows = pc.indices_nonzero(eighteen).to_numpy(zero_copy_only=False)
    if len(rows) == 0:
        return bad
    ids = pc.take(text, pa.array(rows))  # a fresh array: every value is exactly 18 bytes, back to back
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=len(ids) + 1, offset=ids.offset * 4)
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8, count=len(rows) * 18, offset=int(offsets[0]))
    matrix = data.reshape(len(rows), 18)
    upper = ((matrix[:, :15] >= 65) & (matrix[:, :15] <= 90)).reshape(len(rows), 3, 5)
    weights = np.array([1, 2, 4, 8, 16], dtype=np.int64)
    expected = _ID_SUFFIX[upper @ weights]
    suffix = matrix[:, 15:].copy()
    lower = (suffix >= 97) & (suffix <= 122)
    suffix[lower] -= 32  # the checksum letters are compared without case
    bad[rows] = (expected != suffix).any(axis=1)
    return bad


# ---------------------------------------------------------------------------------------------------------
# Checks across rows: duplicates and parent lookups
# ---------------------------------------------------------------------------------------------------------


def _check_duplicates(columns: list[_Column], mapping: CompiledMapping) -> None:
    for column in columns:
        info = column.rule.target.field
        if column.rule.target.is_lookup:
            continue
        if mapping.operation == "upsert":
            key = mapping.external_id is not None and info.name.lower() == mapping.external_id.lower()
        elif mapping.operation in ("update", "delete", "hard_delete"):
            key = info.name == "Id"
        else:
            key = info.unique and not column.rule.has_constant
        if not key:
            continue
        values = column.output
        if info.name == "Id":
            values = pc.utf8_slice_codeunits(values, 0, 15)  # an 18-char Id and its 15-char form are one
        elif not info.case_sensitive:
            values = lower_text(values)
        counts = pc.value_counts(values.drop_null())
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        if len(repeated) == 0:
            continue
        mask = pc.fill_null(pc.is_in(values, value_set=repeated), False).to_numpy(zero_copy_only=False)
        what = "Id" if info.name == "Id" else f"{info.name} value"
        column.flags.append(
            _flag(
                mask,
                ErrorCode.DUPLICATE_VALUE,
                _duplicate_message(what),
                column.output,
            )
        )


def _duplicate_message(what: str) -> Callable[[str | None], str]:
    return lambda value: f"{what} {quote(value)} appears on more than one row of this file"


def _missing_parent_message(parent_object: str, parent_field: str) -> Callable[[str | None], str]:
    return lambda value: f"no {parent_object} record has {parent_field} {quote(value)}"


def _check_lookups(columns: list[_Column], resolve: LookupResolver) -> None:
    for column in columns:
        target = column.rule.target
        if target.is_lookup:
            parent_object, parent_field = target.parent_object, target.parent_field
            case_sensitive = bool(target.parent_info and target.parent_info.case_sensitive)
        elif target.field.type == "reference" and len(target.field.reference_to) == 1:
            parent_object, parent_field, case_sensitive = target.field.reference_to[0], "Id", True
        else:
            continue
        assert parent_object is not None and parent_field is not None
        valid_so_far = np.ones(len(column.output), dtype=bool)
        for flag in column.flags:
            valid_so_far &= ~flag.mask
        candidates = column.output.filter(pa.array(valid_so_far)).drop_null()
        wanted = set(pc.unique(candidates).to_pylist())
        if not wanted:
            continue
        found = resolve(parent_object, parent_field, wanted)
        found_values = pa.array(sorted(found), pa.string())
        probe = column.output
        if not case_sensitive:
            probe, found_values = lower_text(probe), lower_text(found_values)
        missing = pc.and_(pc.invert(pc.is_in(probe, value_set=found_values)), pc.is_valid(probe))
        mask = pc.fill_null(missing, False).to_numpy(zero_copy_only=False) & valid_so_far
        column.flags.append(
            _flag(
                mask,
                ErrorCode.LOOKUP_NOT_FOUND,
                _missing_parent_message(parent_object, parent_field),
                column.output,
            )
        )


# ---------------------------------------------------------------------------------------------------------
# Wording the errors (the only per-row Python, and only for failed rows)
# ---------------------------------------------------------------------------------------------------------


def _word_errors(columns: list[_Column], rows: np.ndarray) -> list[RowError]:
    found: list[tuple[int, int, int, RowError]] = []
    for order, column in enumerate(columns):
        original_text: pa.Array | None = None
        for flag_order, flag in enumerate(column.flags):
            where = np.flatnonzero(flag.mask)
            if len(where) == 0:
                continue
            index = pa.array(where)
            if original_text is None:
                original_text = to_text(column.original)
            originals = original_text.take(index).to_pylist()
            shown = (
                to_text(as_array(flag.shown)).take(index).to_pylist() if flag.shown is not None else originals
            )
            rule = column.rule
            for position, row_index in enumerate(where):
                value = shown[position]
                found.append(
                    (
                        int(rows[row_index]),
                        order,
                        flag_order,
                        RowError(
                            row=int(rows[row_index]),
                            column=rule.column_label,
                            field=rule.target.header,
                            value=originals[position],
                            code=flag.code,
                            message=flag.message(value),
                        ),
                    )
                )
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found]

"""Each target column converted to Bulk API text and checked for its Salesforce type, then across rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dms import row_messages as said
from dms.pipeline.describe import TEXT_TYPES, FieldInfo
from dms.pipeline.model import Operation
from dms.pipeline.prepare.booleans import describe_booleans, format_booleans, parse_booleans
from dms.pipeline.prepare.date_formats import describe_format
from dms.pipeline.prepare.dates import format_dates, format_datetimes, parse_dates, parse_datetimes
from dms.pipeline.prepare.numbers import parse_numbers
from dms.pipeline.prepare.options import LookupResolver, PrepareOptions
from dms.pipeline.prepare.record_ids import convert_id
from dms.pipeline.prepare.rejections import ErrorCode, Flag, flag, quote
from dms.pipeline.prepare.spec import CompiledMapping, FieldRule
from dms.pipeline.prepare.text import blank_to_null, byte_at, lower_text, printable_ascii_rows, to_text

_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"
)
_URL = (
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+|(?:[^\s/?#:@]+\.)+[^\s/?#:@.]{2,}(?::\d{1,5})?)(?:[/?#]\S*)?$"
)
_TIME = r"^(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,3})\d*)?)?\s*(?P<p>[AaPp][Mm])?Z?$"
_ASTRAL = "[\U00010000-\U0010ffff]"
_INT32_MAX_DIGITS = 10

# Conversion and checks per Salesforce field type ---------------------------------------------------------


def convert_column(
    values: pa.Array, rule: FieldRule, mapping: CompiledMapping, timezone: str, options: PrepareOptions
) -> tuple[pa.Array, list[Flag]]:
    """One column as Bulk API text for its target's Salesforce type, and the rows that do not fit it."""
    info = rule.target.field
    if rule.target.is_lookup:
        return _convert_lookup_key(values, rule)
    kind = info.type
    if kind == "boolean":
        parsed = parse_booleans(
            values, true_values=rule.true_values, false_values=rule.false_values, clean=False
        )
        expected = describe_booleans(rule.true_values, rule.false_values)
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_BOOLEAN,
            lambda v: said.NOT_A_BOOLEAN(value=quote(v), expected=expected),
            values,
        )
        return format_booleans(parsed.values), [rejected]
    if kind in ("int", "double", "currency", "percent"):
        return _convert_number(values, rule, info)
    if kind == "date":
        parsed = parse_dates(values, rule.format, clean=False)
        label = describe_format(rule.format)
        rejected = flag(
            parsed.invalid, ErrorCode.INVALID_DATE, _date_message(False, rule.format, label), values
        )
        return format_dates(parsed.values), [rejected]
    if kind == "datetime":
        parsed = parse_datetimes(values, rule.format, timezone=timezone, clean=False)
        label = describe_format(rule.format)
        rejected = flag(
            parsed.invalid,
            ErrorCode.INVALID_DATETIME,
            _date_message(True, rule.format, label),
            values,
        )
        return format_datetimes(parsed.values), [rejected]
    if kind == "time":
        return _convert_time(values)
    text = to_text(values)
    if kind in ("id", "reference"):
        return convert_id(text, info, mapping, options)
    if kind == "picklist":
        return _convert_picklist(text, info)
    if kind == "multipicklist":
        return _convert_multipicklist(text, info)
    flags: list[Flag] = []
    if kind == "email":
        bad = pc.invert(pc.match_substring_regex(text, _EMAIL))
        flags.append(flag(bad, ErrorCode.INVALID_EMAIL, lambda v: said.NOT_AN_EMAIL(value=quote(v)), text))
    elif kind == "url" and options.check_url_shape:
        bad = pc.is_valid(text).to_numpy(zero_copy_only=False) & ~_web_address_shape(text)
        flags.append(flag(bad, ErrorCode.INVALID_URL, lambda v: said.NOT_A_WEB_ADDRESS(value=quote(v)), text))
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


def _date_message(with_time: bool, fmt: str | None, label: str) -> Callable[[str | None], str]:
    if fmt is None:
        recognised = said.NOT_A_DATETIME_RECOGNISED if with_time else said.NOT_A_DATE_RECOGNISED
        return lambda v: recognised(value=quote(v), format=label)
    in_range = said.NOT_A_DATETIME_IN_RANGE if with_time else said.NOT_A_DATE_IN_RANGE
    return lambda v: in_range(value=quote(v), format=label)


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
        return said.TOO_LONG(field=name, limit=limit, length=length)

    return [flag(too_long, ErrorCode.STRING_TOO_LONG, message, text)]


def _convert_lookup_key(values: pa.Array, rule: FieldRule) -> tuple[pa.Array, list[Flag]]:
    text = to_text(values)
    parent = rule.target.parent_info
    if parent is not None and parent.length and parent.type in TEXT_TYPES:
        return text, _length(text, parent)
    return text, []


def _convert_number(values: pa.Array, rule: FieldRule, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    parsed = parse_numbers(values, decimal=rule.decimal, thousands=rule.thousands, clean=False)
    seps = (
        said.SEPARATORS_CHECKED(decimal=f"'{rule.decimal}'", thousands=f"'{rule.thousands}'")
        if rule.thousands
        else said.SEPARATORS_NO_THOUSANDS(decimal=f"'{rule.decimal}'")
    )
    flags = [
        flag(
            parsed.invalid,
            ErrorCode.INVALID_NUMBER,
            lambda v: said.NOT_A_NUMBER(value=quote(v), separators=seps),
            values,
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
            flag(
                fraction,
                ErrorCode.INVALID_NUMBER,
                lambda v: said.NOT_A_WHOLE_NUMBER(value=quote(v), field=info.name),
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
            flag(
                too_big,
                ErrorCode.NUMBER_OUTSIDE_VALID_RANGE,
                lambda v: said.NUMBER_TOO_LARGE(value=quote(v), field=name, digits=allowed),
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
    rejected = flag(present & ~ok, ErrorCode.INVALID_TIME, lambda v: said.NOT_A_TIME(value=quote(v)), text)
    return output, [rejected]


def _convert_picklist(text: pa.Array, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    if not info.restricted_picklist or not info.picklist_values:
        return text, _length(text, info) if info.length else []
    canonical, bad = _canonical_picklist(text, info)
    return canonical, [flag(bad, ErrorCode.INVALID_PICKLIST_VALUE, _picklist_message(info), text)]


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
    return lambda v: said.NOT_IN_PICKLIST(value=quote(v), field=info.name, allowed=shown)


def _convert_multipicklist(text: pa.Array, info: FieldInfo) -> tuple[pa.Array, list[Flag]]:
    if not info.restricted_picklist or not info.picklist_values or len(text) == 0:
        return text, _length(text, info) if info.length else []
    lists = pc.split_pattern(text, ";")
    parts = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    parts = blank_to_null(parts)
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
    return joined, [flag(bad, ErrorCode.INVALID_PICKLIST_VALUE, message, text)]


def _offsets(lists: pa.Array) -> np.ndarray:
    offsets = lists.offsets.to_numpy().astype(np.int64)
    return (offsets - offsets[0]).astype(np.int32)


# Checks across rows: duplicates and parent lookups -------------------------------------------------------


def duplicate_flag(rule: FieldRule, output: pa.Array, mapping: CompiledMapping) -> Flag | None:
    """Rows whose key (the Id, the upsert's external id, or a unique field) repeats another row's, or None."""
    info = rule.target.field
    if rule.target.is_lookup:
        return None
    if mapping.operation == Operation.UPSERT:
        key = mapping.external_id is not None and info.name.lower() == mapping.external_id.lower()
    elif mapping.operation.needs_id:
        key = info.name == "Id"
    else:
        key = info.unique and not rule.has_constant
    if not key:
        return None
    values = output
    if info.name == "Id":
        values = pc.utf8_slice_codeunits(values, 0, 15)  # an 18-char Id and its 15-char form are one
    elif not info.case_sensitive:
        values = lower_text(values)
    counts = pc.value_counts(values.drop_null())
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    if len(repeated) == 0:
        return None
    mask = pc.fill_null(pc.is_in(values, value_set=repeated), False).to_numpy(zero_copy_only=False)
    return flag(mask, ErrorCode.DUPLICATE_VALUE, _duplicate_message(info.name), output)


def _duplicate_message(field: str) -> Callable[[str | None], str]:
    if field == "Id":
        return lambda value: said.DUPLICATE_ID(value=quote(value))
    return lambda value: said.DUPLICATE_VALUE(field=field, value=quote(value))


def _missing_parent_message(parent_object: str, parent_field: str) -> Callable[[str | None], str]:
    return lambda value: said.NO_PARENT(object=parent_object, field=parent_field, value=quote(value))


def lookup_flag(rule: FieldRule, output: pa.Array, flags: list[Flag], resolve: LookupResolver) -> Flag | None:
    """Rows not flagged yet whose parent record (by external id or Id) does not exist, or None."""
    target = rule.target
    if target.is_lookup:
        parent_object, parent_field = target.parent_object, target.parent_field
        case_sensitive = bool(target.parent_info and target.parent_info.case_sensitive)
    elif target.field.type == "reference" and len(target.field.reference_to) == 1:
        parent_object, parent_field, case_sensitive = target.field.reference_to[0], "Id", True
    else:
        return None
    assert parent_object is not None and parent_field is not None
    valid_so_far = np.ones(len(output), dtype=bool)
    for earlier in flags:
        valid_so_far &= ~earlier.mask
    candidates = output.filter(pa.array(valid_so_far)).drop_null()
    wanted = set(pc.unique(candidates).to_pylist())
    if not wanted:
        return None
    found = resolve(parent_object, parent_field, wanted)
    found_values = pa.array(sorted(found), pa.string())
    probe = output
    if not case_sensitive:
        probe, found_values = lower_text(probe), lower_text(found_values)
    missing = pc.and_(pc.invert(pc.is_in(probe, value_set=found_values)), pc.is_valid(probe))
    mask = pc.fill_null(missing, False).to_numpy(zero_copy_only=False) & valid_so_far
    return flag(
        mask, ErrorCode.LOOKUP_NOT_FOUND, _missing_parent_message(parent_object, parent_field), output
    )

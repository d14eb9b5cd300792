"""Field values: parse CSV text and JSON into stored form, validate them, and render them as JSON."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from localorg.errors import SalesforceError
from localorg.ids import to_18
from localorg.schema import INTEGER_TYPES, NUMBER_TYPES, Field

Converter = Callable[[Any], Any]

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?")
# Deliberately close to what Salesforce accepts: local@domain.tld, no spaces, one @.
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class JsonTypeError(SalesforceError):
    """A JSON value of the wrong type: Salesforce rejects the whole request body (JSON_PARSER_ERROR)."""


def _label(fld: Field) -> str:
    return fld.label or fld.name


def _wrong_type(fld: Field, value: Any, from_json: bool) -> SalesforceError:
    if from_json:
        kind = {"boolean": "boolean", "date": "date", "datetime": "datetime"}.get(fld.type, fld.type)
        return JsonTypeError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} "
            "or request may be missing a required field",
        )
    return SalesforceError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{_label(fld)}: value not of required type: {value}", [fld.name]
    )


def format_datetime(moment: datetime) -> str:
    """Salesforce's datetime output form: 2024-01-31T12:00:00.000+0000 (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime_text(text: str) -> datetime | None:
    """Parse yyyy-MM-ddTHH:mm:ss(.SSS)(Z|+HH:mm) into an aware UTC datetime, or None."""
    match = _DATETIME.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def parse_date_text(text: str) -> str | None:
    """Validate yyyy-MM-dd and return it, or None."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def make_converter(
    fld: Field, from_json: bool, reference_prefixes: dict[str, set[str]] | None = None
) -> Converter:
    """A function turning one non-empty input value into its stored form, raising SalesforceError."""
    label = _label(fld)
    type_ = fld.type

    if type_ in {
        "string",
        "textarea",
        "phone",
        "url",
        "combobox",
        "encryptedstring",
        "base64",
        "anyType",
        "picklist",
        "email",
        "multipicklist",
    }:
        length = fld.length
        allowed = fld.active_picklist_values if fld.restricted_picklist else None

        def convert_text(value: Any) -> Any:
            if from_json and not isinstance(value, str):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _wrong_type(fld, value, True)
                value = str(value)
            if length and len(value) > length:
                raise SalesforceError(
                    "STRING_TOO_LONG",
                    f"{label}: data value too large: {value} (max length={length})",
                    [fld.name],
                )
            if allowed is not None:
                parts = value.split(";") if type_ == "multipicklist" else [value]
                if any(part not in allowed for part in parts):
                    raise SalesforceError(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{label}: bad value for restricted picklist field: {value}",
                        [fld.name],
                    )
            if type_ == "email" and not _EMAIL.fullmatch(value):
                raise SalesforceError(
                    "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [fld.name]
                )
            return value

        return convert_text

    if type_ == "boolean":

        def convert_boolean(value: Any) -> int:
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in _TRUE:
                    return 1
                if lowered in _FALSE:
                    return 0
            raise _wrong_type(fld, value, from_json)

        return convert_boolean

    if type_ in INTEGER_TYPES or type_ in NUMBER_TYPES:
        integer = type_ in INTEGER_TYPES
        scale = 0 if integer else fld.scale
        max_integer_digits = (fld.digits or 18) if integer else max((fld.precision or 18) - fld.scale, 1)
        limit = 10**max_integer_digits

        def convert_number(value: Any) -> int | float:
            if isinstance(value, bool):
                raise _wrong_type(fld, value, from_json)
            if isinstance(value, str):
                try:
                    number = float(value)
                except ValueError:
                    raise _wrong_type(fld, value, from_json) from None
            elif isinstance(value, int | float):
                number = float(value)
            else:
                raise _wrong_type(fld, value, from_json)
            if math.isnan(number) or math.isinf(number):
                raise _wrong_type(fld, value, from_json)
            if integer and number != int(number):
                raise _wrong_type(fld, value, from_json)
            if abs(number) >= limit:
                raise SalesforceError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{label}: value outside of valid range on numeric field: {value}",
                    [fld.name],
                )
            return int(number) if integer else round(number, scale)

        return convert_number

    if type_ == "date":

        def convert_date(value: Any) -> str:
            parsed = parse_date_text(value) if isinstance(value, str) else None
            if parsed is None:
                raise _wrong_type(fld, value, from_json)
            return parsed

        return convert_date

    if type_ == "datetime":

        def convert_datetime(value: Any) -> str:
            parsed = parse_datetime_text(value) if isinstance(value, str) else None
            if parsed is None:
                # A bare date is accepted for a datetime field as midnight UTC.
                bare = parse_date_text(value) if isinstance(value, str) else None
                if bare is None:
                    raise _wrong_type(fld, value, from_json)
                return bare + "T00:00:00.000+0000"
            return format_datetime(parsed)

        return convert_datetime

    if type_ == "time":

        def convert_time(value: Any) -> str:
            match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
            if not match or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3] or 0) > 59:
                raise _wrong_type(fld, value, from_json)
            return f"{match[1]}:{match[2]}:{match[3] or '00'}.{(match[4] or '0').ljust(3, '0')}Z"

        return convert_time

    if type_ in {"reference", "id"}:
        prefixes = reference_prefixes or {}
        targets: set[str] = set()
        for target in fld.reference_to:
            targets |= prefixes.get(target, set())
        known_targets = all(t in prefixes for t in fld.reference_to)
        # An id of an object localorg models but the field does not list (a Contact in Task.WhatId) is the
        # wrong type even when some listed targets (Campaign, Asset) are not modelled.
        other_known = set().union(*prefixes.values()) - targets if fld.reference_to else set()

        def convert_reference(value: Any) -> str:
            if not isinstance(value, str):
                raise _wrong_type(fld, value, from_json)
            full = to_18(value.strip())
            if full is None:
                raise SalesforceError(
                    "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [fld.name]
                )
            if (known_targets and targets and full[:3] not in targets) or full[:3] in other_known:
                raise SalesforceError(
                    "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [fld.name]
                )
            return full

        return convert_reference

    raise SalesforceError("INVALID_FIELD", f"{fld.name}: field type {type_} cannot be written", [fld.name])


def to_json_value(fld: Field, stored: Any) -> Any:
    """The JSON form Salesforce returns for a stored value."""
    if stored is None:
        return None
    if fld.type == "boolean":
        return bool(stored)
    if fld.type in NUMBER_TYPES:
        return float(stored)
    if fld.type in INTEGER_TYPES:
        return int(stored)
    return stored

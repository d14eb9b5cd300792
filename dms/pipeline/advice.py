"""What a person can do about each row error code, in one short sentence: DMS's own codes and the Salesforce
codes loads meet most. Shown beside each group of a job's errors; a code not listed gets the general advice.

The sentences are marked for translation (lazy: made at import, read in each request's language; outside a
request, as a worker or the CLI reads them, they stay English)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

GENERAL_ADVICE = _l(
    "Read the message of an example row, fix the value in the file (or the mapping), and retry the rows."
)

ROW_ERROR_ADVICE: dict[str, LazyString] = {
    # Checked by DMS before any API call (dms/pipeline/prepare/rejections.py).
    "REQUIRED_FIELD_MISSING": _l(
        "Fill the field in these rows, or give the field a default value in the mapping."
    ),
    "STRING_TOO_LONG": _l("Shorten the values, or add a truncate transform to the field's rule."),
    "INVALID_DATE": _l("Set the column's date format in the mapping (e.g. dd.MM.yyyy), or fix the dates."),
    "INVALID_DATETIME": _l(
        "Set the column's date and time format (and timezone) in the mapping, or fix the values."
    ),
    "INVALID_TIME": _l("Write times as HH:mm or HH:mm:ss, or fix the values."),
    "INVALID_NUMBER": _l(
        "Set the decimal and thousands separators in the mapping (e.g. 1.234,50), or fix the values."
    ),
    "NUMBER_OUTSIDE_VALID_RANGE": _l(
        "The number has more digits than the field holds: check the values and the field."
    ),
    "INVALID_BOOLEAN": _l(
        "List the file's tokens for true and false (true_values / false_values, e.g. J and N)."
    ),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": _l(
        "Map the file's codes to the picklist's values with a value map (e.g. G -> Gold), or fix the values."
    ),
    "INVALID_EMAIL_ADDRESS": _l("Fix the addresses (name@example.com), or leave the cells blank."),
    "INVALID_URL": _l("Fix the values so they are web addresses, or map the column to another field."),
    "MALFORMED_ID": _l(
        "The column must hold 15- or 18-character Salesforce Ids: check that it is the right column."
    ),
    "FIELD_INTEGRITY_EXCEPTION": _l(
        "The Ids point to records of another object: check the column, or look the parents up by external id."
    ),
    "LOOKUP_NOT_FOUND": _l("Load the parent records first, or fix the keys so they name existing parents."),
    "DUPLICATE_VALUE": _l(
        "Several rows (or records in the org) share a value that must be unique: keep one of each."
    ),
    "UNMAPPED_VALUE": _l(
        "Add these codes to the field's value map, or set what the map does with other codes."
    ),
    # Reading the file (dms/pipeline/source).
    "RAGGED_ROW": _l("The row has more or fewer fields than the header: check its delimiters and quotes."),
    "UNCLOSED_QUOTE": _l("A quote opened in this row is never closed: fix the quoting in the file."),
    "UNDECODABLE_ROW": _l("The row is not text in the file's encoding: choose the encoding in the preview."),
    "ROW_TOO_LONG": _l("The row is larger than a row may be: check for a missing line break or quote."),
    "CELL_TOO_LARGE": _l("A cell is larger than a cell may be: check the file around this row."),
    "INVALID_JSON": _l("The record is not valid JSON: fix it in the file."),
    "UNEXPECTED_FIELD": _l("The record has a field the others do not: fix it in the file."),
    # Salesforce's answers.
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": _l(
        "A validation rule of the org refused the row: its message says which."
    ),
    "INVALID_CROSS_REFERENCE_KEY": _l("A reference names a record that does not exist or you cannot see."),
    "INVALID_FIELD_FOR_INSERT_UPDATE": _l(
        "The field cannot be written by this operation: remove it from the mapping."
    ),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": _l(
        "A trigger or flow of the org refused the row: its message says why."
    ),
    "ENTITY_IS_DELETED": _l(
        "The record was deleted in the org: restore it, or insert the row as a new record."
    ),
    "INSUFFICIENT_ACCESS_OR_READONLY": _l(
        "The org user DMS signs in as may not change these records: ask an admin."
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": _l(
        "The org user may not use the referenced record: ask an admin."
    ),
    "UNABLE_TO_LOCK_ROW": _l("Other work held the records: retry the rows when the org is quieter."),
    "REQUEST_LIMIT_EXCEEDED": _l("The org's API limit was reached: retry the rows later."),
    "NOT_PROCESSED": _l("Salesforce did not get to these rows: retry them."),
    "CANCELLED": _l("The job was cancelled before these rows loaded: retry them."),
    "RESULT_MISSING": _l(
        "Salesforce reported nothing for the row: look it up in the org before retrying it."
    ),
    "RESULT_UNREADABLE": _l("The row may have loaded: look it up in the org before retrying it."),
}


def advice_for(code: str) -> str:
    """What to do about rows with this error code, in the current request's language."""
    return str(ROW_ERROR_ADVICE.get(code, GENERAL_ADVICE))

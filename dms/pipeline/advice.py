"""What a person can do about each row error code, in one short sentence: DMS's own codes and the Salesforce
codes loads meet most. Shown beside each group of a job's errors; a code not listed gets the general advice."""

from __future__ import annotations

GENERAL_ADVICE = (
    "Read the message of an example row, fix the value in the file (or the mapping), and retry the rows."
)

ROW_ERROR_ADVICE: dict[str, str] = {
    # Checked by DMS before any API call (dms/pipeline/prepare/rejections.py).
    "REQUIRED_FIELD_MISSING": "Fill the field in these rows, or give the field a default value in the mapping.",
    "STRING_TOO_LONG": "Shorten the values, or add a truncate transform to the field's rule.",
    "INVALID_DATE": "Set the column's date format in the mapping (e.g. dd.MM.yyyy), or fix the dates.",
    "INVALID_DATETIME": "Set the column's date and time format (and timezone) in the mapping, or fix the values.",
    "INVALID_TIME": "Write times as HH:mm or HH:mm:ss, or fix the values.",
    "INVALID_NUMBER": "Set the decimal and thousands separators in the mapping (e.g. 1.234,50), or fix the values.",
    "NUMBER_OUTSIDE_VALID_RANGE": "The number has more digits than the field holds: check the values and the field.",
    "INVALID_BOOLEAN": "List the file's tokens for true and false (true_values / false_values, e.g. J and N).",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (
        "Map the file's codes to the picklist's values with a value map (e.g. G -> Gold), or fix the values."
    ),
    "INVALID_EMAIL_ADDRESS": "Fix the addresses (name@example.com), or leave the cells blank.",
    "INVALID_URL": "Fix the values so they are web addresses, or map the column to another field.",
    "MALFORMED_ID": "The column must hold 15- or 18-character Salesforce Ids: check that it is the right column.",
    "FIELD_INTEGRITY_EXCEPTION": (
        "The Ids point to records of another object: check the column, or look the parents up by external id."
    ),
    "LOOKUP_NOT_FOUND": "Load the parent records first, or fix the keys so they name existing parents.",
    "DUPLICATE_VALUE": "Several rows (or records in the org) share a value that must be unique: keep one of each.",
    "UNMAPPED_VALUE": "Add these codes to the field's value map, or set what the map does with other codes.",
    # Reading the file (dms/pipeline/source).
    "RAGGED_ROW": "The row has more or fewer fields than the header: check its delimiters and quotes.",
    "UNCLOSED_QUOTE": "A quote opened in this row is never closed: fix the quoting in the file.",
    "UNDECODABLE_ROW": "The row is not text in the file's encoding: choose the encoding in the preview.",
    "ROW_TOO_LONG": "The row is larger than a row may be: check for a missing line break or quote.",
    "CELL_TOO_LARGE": "A cell is larger than a cell may be: check the file around this row.",
    "INVALID_JSON": "The record is not valid JSON: fix it in the file.",
    "UNEXPECTED_FIELD": "The record has a field the others do not: fix it in the file.",
    # Salesforce's answers.
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "A validation rule of the org refused the row: its message says which.",
    "INVALID_CROSS_REFERENCE_KEY": "A reference names a record that does not exist or you cannot see.",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "The field cannot be written by this operation: remove it from the mapping.",
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": "A trigger or flow of the org refused the row: its message says why.",
    "ENTITY_IS_DELETED": "The record was deleted in the org: restore it, or insert the row as a new record.",
    "INSUFFICIENT_ACCESS_OR_READONLY": "The org user DMS signs in as may not change these records: ask an admin.",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "The org user may not use the referenced record: ask an admin.",
    "UNABLE_TO_LOCK_ROW": "Other work held the records: retry the rows when the org is quieter.",
    "REQUEST_LIMIT_EXCEEDED": "The org's API limit was reached: retry the rows later.",
    "NOT_PROCESSED": "Salesforce did not get to these rows: retry them.",
    "CANCELLED": "The job was cancelled before these rows loaded: retry them.",
    "RESULT_MISSING": "Salesforce reported nothing for the row: look it up in the org before retrying it.",
    "RESULT_UNREADABLE": "The row may have loaded: look it up in the org before retrying it.",
}


def advice_for(code: str) -> str:
    """What to do about rows with this error code."""
    return ROW_ERROR_ADVICE.get(code, GENERAL_ADVICE)

"""What a person can do about each row error code, in one short sentence: DMS's own codes and the Salesforce
codes loads meet most. Shown beside each group of a job's errors; a code not listed gets the general advice."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802  (the marker `make translations` extracts, as in static/js/i18n.js)
    """Mark a sentence for translation where it is defined; the API translates it where it is shown."""
    return message


GENERAL_ADVICE = N_(
    "Read the message of an example row, fix the value in the file (or the mapping), and retry the rows."
)

ROW_ERROR_ADVICE: dict[str, str] = {
    # Checked by DMS before any API call (dms/pipeline/prepare/rejections.py).
    "REQUIRED_FIELD_MISSING": N_(
        "Fill the field in these rows, or give the field a default value in the mapping."
    ),
    "STRING_TOO_LONG": N_("Shorten the values, or add a truncate transform to the field's rule."),
    "INVALID_DATE": N_("Set the column's date format in the mapping (e.g. dd.MM.yyyy), or fix the dates."),
    "INVALID_DATETIME": N_(
        "Set the column's date and time format (and timezone) in the mapping, or fix the values."
    ),
    "INVALID_TIME": N_("Write times as HH:mm or HH:mm:ss, or fix the values."),
    "INVALID_NUMBER": N_(
        "Set the decimal and thousands separators in the mapping (e.g. 1.234,50), or fix the values."
    ),
    "NUMBER_OUTSIDE_VALID_RANGE": N_(
        "The number has more digits than the field holds: check the values and the field."
    ),
    "INVALID_BOOLEAN": N_(
        "List the file's tokens for true and false (true_values / false_values, e.g. J and N)."
    ),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": N_(
        "Map the file's codes to the picklist's values with a value map (e.g. G -> Gold), or fix the values."
    ),
    "INVALID_EMAIL_ADDRESS": N_("Fix the addresses (name@example.com), or leave the cells blank."),
    "INVALID_URL": N_("Fix the values so they are web addresses, or map the column to another field."),
    "MALFORMED_ID": N_(
        "The column must hold 15- or 18-character Salesforce Ids: check that it is the right column."
    ),
    "FIELD_INTEGRITY_EXCEPTION": N_(
        "The Ids point to records of another object: check the column, or look the parents up by external id."
    ),
    "LOOKUP_NOT_FOUND": N_("Load the parent records first, or fix the keys so they name existing parents."),
    "DUPLICATE_VALUE": N_(
        "Several rows (or records in the org) share a value that must be unique: keep one of each."
    ),
    "UNMAPPED_VALUE": N_(
        "Add these codes to the field's value map, or set what the map does with other codes."
    ),
    # Reading the file (dms/pipeline/source).
    "RAGGED_ROW": N_("The row has more or fewer fields than the header: check its delimiters and quotes."),
    "UNCLOSED_QUOTE": N_("A quote opened in this row is never closed: fix the quoting in the file."),
    "UNDECODABLE_ROW": N_("The row is not text in the file's encoding: choose the encoding in the preview."),
    "ROW_TOO_LONG": N_("The row is larger than a row may be: check for a missing line break or quote."),
    "CELL_TOO_LARGE": N_("A cell is larger than a cell may be: check the file around this row."),
    "INVALID_JSON": N_("The record is not valid JSON: fix it in the file."),
    "UNEXPECTED_FIELD": N_("The record has a field the others do not: fix it in the file."),
    # Salesforce's answers.
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": N_(
        "A validation rule of the org refused the row: its message says which."
    ),
    "INVALID_CROSS_REFERENCE_KEY": N_("A reference names a record that does not exist or you cannot see."),
    "INVALID_FIELD_FOR_INSERT_UPDATE": N_(
        "The field cannot be written by this operation: remove it from the mapping."
    ),
    "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY": N_(
        "A trigger or flow of the org refused the row: its message says why."
    ),
    "ENTITY_IS_DELETED": N_(
        "The record was deleted in the org: restore it, or insert the row as a new record."
    ),
    "INSUFFICIENT_ACCESS_OR_READONLY": N_(
        "The org user DMS signs in as may not change these records: ask an admin."
    ),
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": N_(
        "The org user may not use the referenced record: ask an admin."
    ),
    "UNABLE_TO_LOCK_ROW": N_("Other work held the records: retry the rows when the org is quieter."),
    "REQUEST_LIMIT_EXCEEDED": N_("The org's API limit was reached: retry the rows later."),
    "NOT_PROCESSED": N_("Salesforce did not get to these rows: retry them."),
    "CANCELLED": N_("The job was cancelled before these rows loaded: retry them."),
    "RESULT_MISSING": N_(
        "Salesforce reported nothing for the row: look it up in the org before retrying it."
    ),
    "RESULT_UNREADABLE": N_("The row may have loaded: look it up in the org before retrying it."),
}


def advice_for(code: str) -> str:
    """What to do about rows with this error code."""
    return ROW_ERROR_ADVICE.get(code, GENERAL_ADVICE)

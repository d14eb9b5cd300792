"""The sentences of per-row errors, written in English while a job runs and said in a reader's language when a
page reads them back.

A worker has no reader: it stores each row's message in English (errors.csv, the result parts, the CLI and the
logs read exactly that). Every such sentence is a RowMessage made here from a `Text` msgid, so
`make translations` extracts it; `translate_row_message` finds which template a stored English message was made
from (each template compiled once to a regex with one named group per placeholder), and says it again in the
reader's language with the same values. A message no template made (Salesforce's own) is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

from dms.errors import Text, Translate

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


class RowMessage:
    """One template of a row's error sentence: call it with its values for the English stored."""

    __slots__ = ("msgid", "_literals", "_pattern")

    def __init__(self, text: Text) -> None:
        self.msgid = text.msgid
        self._pattern: re.Pattern[str] | None = None
        self._literals = [piece.replace("%%", "%") for piece in _PLACEHOLDER.split(text.msgid)[::2] if piece]
        _REGISTRY.append(self)

    def __call__(self, **params: Any) -> str:
        return str(Text(self.msgid, **params))

    def text(self, **params: Any) -> Text:
        """The sentence as a Text (rendered in a reader's language where one is known, e.g. a preview)."""
        return Text(self.msgid, **params)

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(_regex(self.msgid), re.DOTALL)
        return self._pattern

    def match(self, message: str) -> dict[str, str] | None:
        """The values `message` was made with, when this template made it."""
        if not all(literal in message for literal in self._literals):  # cheap: most templates fail here
            return None
        found = self.pattern.fullmatch(message)
        return found.groupdict() if found else None


def _regex(msgid: str) -> str:
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for placeholder in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[position : placeholder.start()]))
        name = placeholder.group(1)
        if name is None:
            parts.append("%")
        elif name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>.*?)")
        position = placeholder.end()
    parts.append(re.escape(msgid[position:]))
    return "".join(parts)


_REGISTRY: list[RowMessage] = []


_ORDERED: list[RowMessage] = []


def _by_specificity() -> list[RowMessage]:
    # The template with more fixed text first: "... in format %(format)s (or is outside 1700-4000)" before
    # "... in format %(format)s", whose placeholder would otherwise swallow the rest.
    if len(_ORDERED) != len(_REGISTRY):
        _ORDERED[:] = sorted(_REGISTRY, key=lambda t: -sum(len(piece) for piece in t._literals))
    return _ORDERED


def registered() -> tuple[RowMessage, ...]:
    """Every row message template (for tests and for translating stored messages)."""
    return tuple(_REGISTRY)


def translate_row_message(message: str, translate: Translate) -> str:
    """A stored English row message in `translate`'s language; as stored when no template made it.

    Values that are themselves template sentences or fragments (a parent row's reason, "(blank)") are said in
    the same language; the others (the cell's text, field names, formats) are kept as they were.
    """
    if not message:
        return message
    for template in _by_specificity():
        params = template.match(message)
        if params is None:
            continue
        said = {name: translate_row_message(value, translate) for name, value in params.items()}
        return Text(template.msgid, **said).render(translate)
    return message


# Fragments: words inside a sentence's values ----------------------------------------------------------------

BLANK = RowMessage(Text("(blank)"))
NO_REASON_RECORDED = RowMessage(Text("no reason recorded"))
EXCEL_SERIAL_DAY = RowMessage(Text("an Excel serial day number"))
RECOGNISED_DATE_FORMATS = RowMessage(
    Text("yyyy-mm-dd (ISO), yyyy/mm/dd, yyyy年m月d日, yyyymmdd or an Excel serial number")
)
SEPARATORS_NO_THOUSANDS = RowMessage(Text("decimal separator %(decimal)s, no thousands separator"))
SEPARATORS_SPACE = RowMessage(Text("decimal separator %(decimal)s, space as thousands separator"))
SEPARATORS = RowMessage(Text("decimal separator %(decimal)s, %(thousands)s as thousands separator"))
SEPARATORS_CHECKED = RowMessage(Text("decimal separator %(decimal)s, thousands separator %(thousands)s"))

# Checks of the target's type (dms/pipeline/prepare/checks.py, transforms.py, record_ids.py) -------------------

NOT_A_BOOLEAN = RowMessage(Text("%(value)s is not true or false (expected %(expected)s)"))
NOT_A_DATE_IN_FORMAT = RowMessage(Text("%(value)s is not a date in format %(format)s"))
NOT_A_DATE_IN_RANGE = RowMessage(
    Text("%(value)s is not a date in format %(format)s (or is outside 1700-4000)")
)
NOT_A_DATE_RECOGNISED = RowMessage(
    Text("%(value)s is not a date in a recognised format (%(format)s); set the column's date format")
)
NOT_A_DATETIME_IN_FORMAT = RowMessage(Text("%(value)s is not a date and time in format %(format)s"))
NOT_A_DATETIME_IN_RANGE = RowMessage(
    Text("%(value)s is not a date and time in format %(format)s (or is outside 1700-4000)")
)
NOT_A_DATETIME_RECOGNISED = RowMessage(
    Text("%(value)s is not a date and time in a recognised format (%(format)s); set the column's date format")
)
NOT_A_NUMBER = RowMessage(Text("%(value)s is not a number (%(separators)s)"))
NOT_A_WHOLE_NUMBER = RowMessage(Text("%(value)s is not a whole number, which %(field)s needs"))
NUMBER_TOO_LARGE = RowMessage(
    Text("%(value)s is too large for %(field)s (at most %(digits)s digits before the decimal point)")
)
NOT_A_TIME = RowMessage(Text("%(value)s is not a time of day (HH:MM[:SS])"))
NOT_AN_EMAIL = RowMessage(Text("%(value)s is not a valid email address"))
NOT_A_WEB_ADDRESS = RowMessage(Text("%(value)s does not look like a web address"))
TOO_LONG = RowMessage(Text("%(field)s takes at most %(limit)s characters; this value has %(length)s"))
NOT_IN_PICKLIST = RowMessage(Text("%(value)s is not an allowed value of %(field)s (%(allowed)s)"))
DUPLICATE_ID = RowMessage(Text("Id %(value)s appears on more than one row of this file"))
DUPLICATE_VALUE = RowMessage(Text("%(field)s value %(value)s appears on more than one row of this file"))
NO_PARENT = RowMessage(Text("no %(object)s record has %(field)s %(value)s"))
UNMAPPED = RowMessage(Text("%(value)s has no entry in the value map for %(field)s"))
NOT_AN_ID = RowMessage(Text("%(value)s is not a Salesforce Id (15 or 18 letters and digits, valid checksum)"))
WRONG_ID_TYPE = RowMessage(Text("%(value)s is not the Id of a record of type %(objects)s"))

# Required fields (dms/pipeline/prepare/chunk.py, dms/pipeline/chunks.py) -----------------------------------

KEY_NEEDED_UPDATE = RowMessage(Text("%(field)s is needed to find the record to update"))
KEY_NEEDED_UPSERT = RowMessage(Text("%(field)s is needed to find the record to upsert"))
KEY_NEEDED_DELETE = RowMessage(Text("%(field)s is needed to find the record to delete"))
KEY_NEEDED_HARD_DELETE = RowMessage(Text("%(field)s is needed to find the record to hard delete"))
KEY_NEEDED = RowMessage(Text("%(field)s is needed to find the record to %(operation)s"))
EXTERNAL_ID_NEEDED = RowMessage(Text("the external id %(field)s is needed to match or create the record"))
REQUIRED = RowMessage(Text("%(label)s (%(field)s) is required"))
REQUIRED_NOT_BLANK = RowMessage(Text("%(label)s (%(field)s) is required and cannot be set to blank"))
REQUIRED_ON_CREATE = RowMessage(
    Text("%(field)s is required: no %(object)s has %(external_id)s '%(key)s' yet, so this row creates one.")
)

# References of a plan's steps (dms/migration/references.py) ------------------------------------------------

REFERENCE_NOT_FOUND = RowMessage(Text("%(target)s: no row of step %(step)s has %(key)s %(value)s."))
PARENT_NOT_LOADED = RowMessage(
    Text(
        "%(target)s: its parent, row %(row)s of step %(step)s (%(key)s %(value)s), was not loaded: %(reason)s"
    )
)
NO_STEP_FOR_VALUE = RowMessage(Text("%(target)s: %(by)s %(value)s names no step (%(offered)s)."))

# Reading the file (dms/pipeline/source/) --------------------------------------------------------------------

RAGGED_ROW_ONE = RowMessage(
    Text(
        "Row %(row)s has %(actual)s field but the file has %(expected)s columns; it was not read. Check for a "
        "missing or extra delimiter, or an unclosed quote."
    )
)
RAGGED_ROW = RowMessage(
    Text(
        "Row %(row)s has %(actual)s fields but the file has %(expected)s columns; it was not read. Check for a "
        "missing or extra delimiter, or an unclosed quote."
    )
)
UNDECODABLE_ROW = RowMessage(
    Text(
        "Row %(row)s, column %(column)s holds bytes that are not valid %(encoding)s; the row was not read. The "
        "file may mix encodings: re-export it as UTF-8 or choose its encoding."
    )
)
BEYOND_HEADER = RowMessage(
    Text(
        "Row %(row)s (sheet row %(sheet_row)s) has a value in column %(last)s, beyond the %(width)s headed "
        "columns; it was not read. Give that column a header or clear the stray cell."
    )
)

# Warnings of reading a file (the upload preview, a job's plan; dms/pipeline/source/, dms/uploads.py) ---------

EMPTY_HEADER = RowMessage(Text("Column %(position)s has an empty header; it is named %(name)s."))
REPEATED_HEADER = RowMessage(
    Text("Column %(position)s repeats the header %(header)s; it is renamed %(name)s.")
)
ONE_COLUMN = RowMessage(Text("Only one column was found; if the file has several, choose the delimiter."))
ENCODING_GUESSED = RowMessage(
    Text(
        "The encoding was guessed as %(encoding)s with low confidence (%(confidence)s); check the preview and "
        "choose the encoding if the text looks wrong."
    )
)
UNDECODABLE_BYTE = RowMessage(
    Text(
        "Byte %(byte)s at offset %(offset)s is not valid %(encoding)s; rows holding such bytes are reported as "
        "problems. If many rows are affected, choose the file's real encoding."
    )
)
EMPTY_SHEET = RowMessage(Text("Sheet %(sheet)s is empty."))
NO_RECORDS = RowMessage(Text("The file holds no records."))
MISNAMED_FILE = RowMessage(
    Text("The file is named %(suffix)s but holds %(format)s data; it was read as %(format)s.")
)
DMS_EXPORT = RowMessage(
    Text(
        "This is a %(kind)s file DMS exported: its columns %(columns)s are DMS's and are not read as data "
        "(source_row is kept as %(original)s), and the ' DMS put before values that start like a formula is "
        "taken off."
    )
)
CELL_CUT_SHORT = RowMessage(
    Text(
        "%(count)s cell longer than %(limit)s characters is cut short in this preview (ending in …; see "
        "`truncated`); a job reads every cell whole."
    )
)
CELLS_CUT_SHORT = RowMessage(
    Text(
        "%(count)s cells longer than %(limit)s characters are cut short in this preview (ending in …; see "
        "`truncated`); a job reads every cell whole."
    )
)
THE_FIRST = RowMessage(Text("the first %(count)s"))
UNREADABLE_ROW = RowMessage(
    Text(
        "%(count)s of %(of)s rows could not be read (row %(listed)s) and are not shown; a job reports each in its "
        "error file. %(first)s"
    )
)
UNREADABLE_ROWS = RowMessage(
    Text(
        "%(count)s of %(of)s rows could not be read (rows %(listed)s) and are not shown; a job reports each in "
        "its error file. %(first)s"
    )
)
PREVIEW_HEAD = RowMessage(Text("The preview read the first %(head)s bytes of %(size)s."))
# A chosen encoding that garbles the text (dms/pipeline/source/detect.py): the problem is a fragment below.
GARBLED_READS_AS = RowMessage(
    Text(
        "The text read as %(encoding)s %(problem)s. It reads as %(detected)s (%(sure)s sure): choose "
        "%(detected)s, or leave the encoding to detection."
    )
)
GARBLED_READS_AS_EXAMPLE = RowMessage(
    Text(
        "The text read as %(encoding)s %(problem)s (%(example)s). It reads as %(detected)s (%(sure)s sure): "
        "choose %(detected)s, or leave the encoding to detection."
    )
)
GARBLED_CHECK = RowMessage(
    Text("The text read as %(encoding)s %(problem)s. Check the file's encoding with whoever exported it.")
)
GARBLED_CHECK_EXAMPLE = RowMessage(
    Text(
        "The text read as %(encoding)s %(problem)s (%(example)s). Check the file's encoding with whoever "
        "exported it."
    )
)
FOR_EXAMPLE = RowMessage(Text("e.g. %(text)s"))
FOR_EXAMPLE_AGAINST = RowMessage(Text("e.g. %(text)s where detection reads %(right)s"))
MOJIBAKE = RowMessage(Text("is UTF-8 read as a code page (mojibake)"))
LOOKS_GARBLED = RowMessage(Text("looks garbled"))
REPLACEMENT_CHARACTER = RowMessage(
    Text(
        "holds %(count)s replacement character (\ufffd) where bytes do not decode, or where an earlier "
        "conversion already lost them"
    )
)
REPLACEMENT_CHARACTERS = RowMessage(
    Text(
        "holds %(count)s replacement characters (\ufffd) where bytes do not decode, or where an earlier "
        "conversion already lost them"
    )
)

"""Date and datetime formats: strftime-style patterns compiled to RE2, the forms read when none is set."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from dms.errors import Text
from dms.pipeline.prepare.parsed import FormatError
from dms.row_messages import EXCEL_SERIAL_DAY, RECOGNISED_DATE_FORMATS

EXCEL_FORMAT = "excel"  # pseudo-format: Excel serial day numbers (1900 date system)


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


# Java SimpleDateFormat / Unicode pattern letters (what Data Loader users write) as strftime directives, by
# letter and the longest run each count stands for: yy is a two-digit year, y/yyy/yyyy the full year; M/MM a
# month number, MMM a month's short name, MMMM its full name.
_JAVA_LETTERS: dict[str, tuple[tuple[int, str], ...]] = {
    "y": ((1, "%Y"), (2, "%y"), (99, "%Y")),
    "u": ((1, "%Y"), (2, "%y"), (99, "%Y")),
    "M": ((2, "%m"), (3, "%b"), (99, "%B")),
    "d": ((2, "%d"),),
    "H": ((2, "%H"),),
    "h": ((2, "%I"),),
    "m": ((2, "%M"),),
    "s": ((2, "%S"),),
    "S": ((9, "%f"),),
    "a": ((2, "%p"),),
    "Z": ((3, "%z"), (4, ""), (5, "%z")),
    "X": ((3, "%z"),),
    "x": ((3, "%z"),),
}
_JAVA_HINTS = {
    "Y": "'Y' is the week-based year in Java patterns; use 'yyyy' for the year",
    "D": "'D' is the day of the year in Java patterns; use 'dd' for the day of the month",
    "E": "day names (E) are not read; drop them from the format",
    "z": "time zone names (z) are not read; use 'Z' or 'XXX' for an offset such as +01:00",
}


def strftime_pattern(pattern: str) -> str:
    """A date format in strftime style: as given when it has % directives, else translated from a Java
    SimpleDateFormat / Unicode pattern ('dd/MM/yyyy', "yyyy-MM-dd'T'HH:mm:ss.SSSZ"); FormatError names any
    letter that means nothing here."""
    if "%" in re.sub(r"'[^']*'", "", pattern) or pattern == EXCEL_FORMAT:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            if pattern[i + 1 : i + 2] == "'":  # '' is a quote itself
                out.append("'")
                i += 2
                continue
            literal, i = _quoted_literal(pattern, i)
            out.append(literal.replace("%", "%%"))
            continue
        if not ("a" <= char <= "z" or "A" <= char <= "Z"):
            out.append("%%" if char == "%" else char)
            i += 1
            continue
        run = len(pattern) - i - len(pattern[i:].lstrip(char))
        directive = next((d for most, d in _JAVA_LETTERS.get(char, ()) if run <= most), None)
        if not directive:
            what = _JAVA_HINTS.get(char) or (
                f"{char * run!r} is not a date pattern letter here"
                if char not in _JAVA_LETTERS
                else f"{char * run!r} has too many letters"
            )
            raise FormatError(
                Text(
                    "format %(pattern)s: %(what)s. Use Java-style letters y M d H h m s S a Z X with quoted "
                    "literals ('T'), e.g. dd/MM/yyyy, or strftime directives, e.g. %%d/%%m/%%Y",
                    pattern=f"{pattern!r}",
                    what=what,
                )
            )
        out.append(directive)
        i += run
    return "".join(out)


def _quoted_literal(pattern: str, start: int) -> tuple[str, int]:
    """The text of the quoted literal opening at `start` ('' inside it is a quote) and where it ends."""
    text: list[str] = []
    i = start + 1
    while i < len(pattern):
        if pattern[i] == "'":
            if pattern[i + 1 : i + 2] != "'":
                return "".join(text), i + 1
            i += 1
        text.append(pattern[i])
        i += 1
    raise FormatError(
        Text("format %(pattern)s opens a quote (') that is never closed", pattern=f"{pattern!r}")
    )


@lru_cache(maxsize=256)
def compile_date_format(pattern: str) -> DateFormat:
    """Compile a strftime-style format (%Y %y %m %d %b %B %H %I %M %S %f %p %z), or the same in Java style
    (yyyy yy MM dd MMM MMMM HH hh mm ss SSS a Z X, 'quoted' literals), into a DateFormat."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise FormatError(
            Text("a date format must be a non-empty string such as '%%d/%%m/%%Y' or 'dd/MM/yyyy'")
        )
    pattern = strftime_pattern(pattern)
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
                raise FormatError(Text("format %(pattern)s ends with a lone '%%'", pattern=f"{pattern!r}"))
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
                raise FormatError(
                    Text(
                        "format %(pattern)s uses %%%(directive)s, which is not supported",
                        pattern=f"{pattern!r}",
                        directive=directive,
                    )
                )
            group, piece, text = _DIRECTIVES[directive]
            if group in groups:
                raise FormatError(
                    Text(
                        "format %(pattern)s uses %%%(directive)s twice",
                        pattern=f"{pattern!r}",
                        directive=directive,
                    )
                )
            if group == "f" and "f" in groups:
                raise FormatError(
                    Text("format %(pattern)s gives fractions of a second twice", pattern=f"{pattern!r}")
                )
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
        raise FormatError(Text("format %(pattern)s gives the year twice", pattern=f"{pattern!r}"))
    if not ({"Y", "y"} & groups and {"m", "b"} & groups and "d" in groups):
        raise FormatError(
            Text(
                "format %(pattern)s needs a year, a month and a day (e.g. %%Y, %%m, %%d)",
                pattern=f"{pattern!r}",
            )
        )
    if ("I" in groups) != ("p" in groups):
        raise FormatError(
            Text(
                "format %(pattern)s: %%I (12-hour clock) and %%p (AM/PM) go together", pattern=f"{pattern!r}"
            )
        )
    if "H" in groups and "I" in groups:
        raise FormatError(Text("format %(pattern)s gives the hour twice", pattern=f"{pattern!r}"))
    if ({"M", "S"} & groups) and not ({"H", "I"} & groups):
        raise FormatError(
            Text("format %(pattern)s has minutes or seconds but no hour", pattern=f"{pattern!r}")
        )
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
AUTO_FORMATS: tuple[DateFormat, ...] = (
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
AUTO_LABEL = RECOGNISED_DATE_FORMATS()


def describe_format(fmt: str | None) -> str:
    """Say in words what a format expects (for error messages)."""
    if fmt is None:
        return AUTO_LABEL
    if fmt == EXCEL_FORMAT:
        return EXCEL_SERIAL_DAY()
    try:
        return compile_date_format(fmt).label
    except FormatError:
        return fmt


def check_date_format(fmt: str) -> str:
    """`fmt` as the parsers take it ('excel' or strftime style, Java-style patterns translated); FormatError
    unless it is usable."""
    if not isinstance(fmt, str):
        raise FormatError(Text("a date format must be a string such as '%%d/%%m/%%Y' or 'dd/MM/yyyy'"))
    if fmt == EXCEL_FORMAT:
        return fmt
    return compile_date_format(fmt).pattern

"""Mapping specs: the plain JSON that says which target field gets what, and what it compiles to.

A spec (stored in Cloudant as a named template per object, and inside each job) looks like:

    {"object": "Contact", "operation": "upsert", "external_id": "Legacy_Id__c", "blank_means": "ignore",
     "timezone": "Europe/Berlin",
     "fields": [
        {"target": "LastName", "source": "Surname", "transforms": [{"op": "trim"}]},
        {"target": "Level__c", "source": "lvl", "transforms": [{"op": "map", "values": {"G": "Gold"},
                                                                  "else": "keep"}]},
        {"target": "Birthdate", "source": "born", "format": "%d/%m/%Y"},
        {"target": "Description", "constant": "Migrated by DMS"},
        {"target": "Phone", "source": "phone", "default": "n/a"},
        {"target": "MailingStreet", "concat": ["street1", "street2"], "separator": "\\n"},
        {"target": "Account.Legacy_Id__c", "source": "acct_ref"}]}

Field keys: target; one of source / concat (+ separator) / constant; default (used when the value is blank);
transforms (applied in order); parse settings for the target's type: format (strftime-style or "excel"),
decimal and thousands (number separators), true_values / false_values (boolean tokens), timezone.
Transforms: trim, upper, lower, title, map, replace, regex_replace, split, truncate, and date / datetime /
number / boolean (parse with the given format and emit Salesforce's canonical text).
The operation is spelled as Salesforce spells it ("hardDelete"); older specs' "hard_delete" still reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dms.errors import DMSError, Text, Translate, render_text
from dms.pipeline.describe import FieldInfo, ObjectDescribe
from dms.pipeline.model import Operation

BLANK_MEANS = ("ignore", "null")
SPEC_KEYS = {"object", "operation", "external_id", "blank_means", "fields", "timezone", "name", "version"}
FIELD_KEYS = {
    "target",
    "source",
    "concat",
    "separator",
    "constant",
    "default",
    "transforms",
    "format",
    "decimal",
    "thousands",
    "true_values",
    "false_values",
    "timezone",
}


class MappingError(DMSError):
    """A mapping spec that cannot be applied; `problems` says every reason."""

    code = "INVALID_MAPPING"

    def __init__(self, problems: Sequence[MappingProblem]):
        errors = [p for p in problems if p.severity == "error"]
        first = (errors[0].text or errors[0].message) if errors else Text("invalid mapping")
        more = len(errors) - 1
        super().__init__(
            Text("%(first)s (and %(more)s more problems)", first=first, more=more) if more else first
        )
        self.problems = list(problems)

    def to_dict(self, translate: Translate = str) -> dict[str, Any]:
        """JSON error body with every problem listed (in `translate`'s language)."""
        body = super().to_dict(translate)
        body["problems"] = [p.to_dict(translate) for p in self.problems]
        return body


@dataclass(frozen=True)
class MappingProblem:
    """One thing wrong (severity 'error') or worth a look ('warning') in a mapping spec."""

    severity: str
    code: str
    message: str  # English, as stored with a job
    target: str | None = None
    source: str | None = None
    text: Text | None = field(default=None, compare=False, repr=False)  # the message, to translate

    @classmethod
    def of(
        cls, severity: str, code: str, message: Text, target: str | None, source: str | None
    ) -> MappingProblem:
        """A problem whose message is kept in English and as the Text to say it in a reader's language."""
        return cls(severity, code, str(message), target, source, message)

    def to_dict(self, translate: Translate = str) -> dict[str, Any]:
        """Plain JSON-able form, the message in `translate`'s language."""
        body = {k: v for k, v in self.__dict__.items() if v is not None and k != "text"}
        body["message"] = render_text(self.text, translate) if self.text else self.message
        return body


@dataclass(frozen=True)
class Target:
    """Where a mapped value goes: a field, or a parent lookup by external id (`Account.Legacy_Id__c`)."""

    header: str  # the Bulk API CSV header
    field: FieldInfo  # the field that gets filled (the reference field for a lookup)
    parent_object: str | None = None
    parent_field: str | None = None
    parent_info: FieldInfo | None = None  # the parent's field, when the parent's describe is known

    @property
    def is_lookup(self) -> bool:
        """Whether the value is a parent's external id rather than the field's own value."""
        return self.parent_object is not None


@dataclass(frozen=True)
class FieldRule:
    """One compiled entry of spec['fields']."""

    position: int
    target: Target
    source: str | None = None
    concat: tuple[str, ...] = ()
    separator: str = " "
    constant: str | None = None
    has_constant: bool = False
    default: str | None = None
    transforms: tuple[Mapping[str, Any], ...] = ()
    format: str | None = None
    decimal: str = "."
    thousands: str | None = None
    true_values: tuple[str, ...] | None = None
    false_values: tuple[str, ...] | None = None
    timezone: str | None = None

    @property
    def column_label(self) -> str | None:
        """The source column(s) in words, for error reports."""
        if self.source is not None:
            return self.source
        if self.concat:
            return "+".join(self.concat)
        return None


@dataclass
class CompiledMapping:
    """A checked spec bound to a describe, ready for `prepare`."""

    object: str
    operation: Operation
    external_id: str | None
    blank_means: str
    timezone: str
    rules: list[FieldRule]
    describe: ObjectDescribe
    problems: list[MappingProblem] = field(default_factory=list)

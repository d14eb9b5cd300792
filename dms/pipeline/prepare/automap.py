"""Auto-mapping: source columns matched to writable fields by name and label, and inferred formats filled in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from dms.pipeline.describe import FieldInfo, ObjectDescribe
from dms.pipeline.model import ROW_COLUMN, Operation
from dms.pipeline.prepare.synonyms import field_synonyms


def normalize_name(name: str) -> str:
    """Fold a column or field name for matching: case, accents, spaces, punctuation and `__c` ignored."""
    text = re.sub(r"__c$", "", name.strip(), flags=re.IGNORECASE)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _writable(info: FieldInfo, operation: Operation | None) -> bool:
    if operation == Operation.INSERT:
        return info.createable
    if operation == Operation.UPDATE:
        return info.updateable or info.name == "Id"
    if operation == Operation.UPSERT:
        return info.createable or info.updateable or info.name == "Id"
    return info.name == "Id"


def auto_map(
    source_columns: Iterable[str],
    describe: ObjectDescribe | Mapping[str, Any],
    operation: str = Operation.INSERT,
) -> list[dict[str, Any]]:
    """Suggest spec fields: each source column matched to a writable field by API name, then by label (in the
    org's language), then by the headers people write for standard fields in other languages."""
    view = ObjectDescribe.of(describe)
    known = Operation.parse(operation)
    by_exact: dict[str, str] = {}
    by_name: dict[str, str] = {}
    by_label: dict[str, str] = {}
    for info in view.fields.values():
        if not _writable(info, known):
            continue
        by_exact.setdefault(info.name.lower(), info.name)
        by_name.setdefault(normalize_name(info.name), info.name)
        by_label.setdefault(normalize_name(info.label), info.name)
    by_synonym: dict[str, str] = {}
    for name, words in field_synonyms(view.name).items():
        synonym_of = view.field(name)
        if synonym_of is not None and _writable(synonym_of, known):
            for word in words:
                by_synonym.setdefault(normalize_name(word), synonym_of.name)
    taken: set[str] = set()
    fields: list[dict[str, Any]] = []
    for column in source_columns:
        if column == ROW_COLUMN or not isinstance(column, str) or not column.strip():
            continue
        target = _relationship_header(column, view, known)
        if target is None:
            folded = normalize_name(column)
            target = (
                by_exact.get(column.strip().lower())
                or by_name.get(folded)
                or by_label.get(folded)
                or by_synonym.get(folded)
            )
        if target is None or target.lower() in taken:
            continue
        taken.add(target.lower())
        fields.append({"target": target, "source": column})
    return fields


def _relationship_header(column: str, view: ObjectDescribe, operation: Operation | None) -> str | None:
    """A column already named like `Account.Legacy_Id__c` maps to that lookup."""
    match = re.fullmatch(r"\s*(?:([A-Za-z]\w*):)?([A-Za-z]\w*)\.([A-Za-z]\w*)\s*", column)
    if not match:
        return None
    info = view.relationship(match.group(2))
    if info is None or not _writable(info, operation):
        return None
    return column.strip()


def new_mapping(
    object_name: str,
    operation: str,
    source_columns: Iterable[str],
    describe: ObjectDescribe | Mapping[str, Any],
    *,
    external_id: str | None = None,
    blank_means: str = "ignore",
) -> dict[str, Any]:
    """A complete auto-mapped spec, ready to edit."""
    spec: dict[str, Any] = {
        "object": object_name,
        "operation": operation,
        "blank_means": blank_means,
        "fields": auto_map(source_columns, describe, operation),
    }
    if external_id:
        spec["external_id"] = external_id
    return spec


def apply_profiles(spec: Mapping[str, Any], profiles: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of `spec` with inferred formats (ColumnProfile or dict, by source column) filled where unset.

    Ambiguous profiles (dd/mm vs mm/dd, 1,234 vs 1.234) are not applied: a person has to choose.
    """
    result = dict(spec)
    fields = []
    for entry in spec.get("fields") or []:
        entry = dict(entry) if isinstance(entry, Mapping) else entry
        source = entry.get("source") if isinstance(entry, dict) else None
        profile = profiles.get(source) if isinstance(source, str) else None
        if profile is not None:
            data = profile if isinstance(profile, Mapping) else profile.to_dict()
            if data.get("ambiguous"):
                fields.append(entry)
                continue  # a guess the data cannot back is left for the person to choose
            kind = data.get("kind")
            if kind in ("date", "datetime") and data.get("format") and "format" not in entry:
                entry["format"] = data["format"]
            if kind in ("integer", "number") and data.get("decimal") and "decimal" not in entry:
                entry["decimal"] = data["decimal"]
                if data.get("thousands") is not None and "thousands" not in entry:
                    entry["thousands"] = data["thousands"]
        fields.append(entry)
    result["fields"] = fields
    return result

"""Checking a mapping spec against a describe and the source columns, and compiling it into rules."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from dms.pipeline.describe import FieldInfo, ObjectDescribe
from dms.pipeline.model import ROW_COLUMN, Operation
from dms.pipeline.prepare.automap import normalize_name
from dms.pipeline.prepare.date_formats import check_date_format
from dms.pipeline.prepare.dates import is_known_timezone
from dms.pipeline.prepare.numbers import check_number_format
from dms.pipeline.prepare.parsed import FormatError
from dms.pipeline.prepare.spec import (
    BLANK_MEANS,
    FIELD_KEYS,
    SPEC_KEYS,
    CompiledMapping,
    FieldRule,
    MappingError,
    MappingProblem,
    Target,
)
from dms.pipeline.prepare.transforms import TRANSFORM_KEYS, is_word_list, transform_problem


def check_mapping(
    spec: Mapping[str, Any],
    describe: ObjectDescribe | Mapping[str, Any],
    source_columns: Iterable[str] | None,
    *,
    parent_describes: Mapping[str, ObjectDescribe | Mapping[str, Any]] | None = None,
) -> list[MappingProblem]:
    """Every problem with `spec` for this object and these source columns (errors block a load)."""
    return _Compiler(spec, describe, source_columns, parent_describes).run().problems


def compile_mapping(
    spec: Mapping[str, Any],
    describe: ObjectDescribe | Mapping[str, Any],
    source_columns: Iterable[str] | None = None,
    *,
    parent_describes: Mapping[str, ObjectDescribe | Mapping[str, Any]] | None = None,
) -> CompiledMapping:
    """Check and bind `spec` to the describe; raise MappingError when any problem is an error."""
    compiled = _Compiler(spec, describe, source_columns, parent_describes).run()
    if any(p.severity == "error" for p in compiled.problems):
        raise MappingError(compiled.problems)
    return compiled


def compile_for_sample(
    spec: Mapping[str, Any],
    describe: ObjectDescribe | Mapping[str, Any],
    source_columns: Iterable[str] | None = None,
    *,
    parent_describes: Mapping[str, ObjectDescribe | Mapping[str, Any]] | None = None,
) -> CompiledMapping:
    """Bind `spec` for a live sample of its fields, never raising: a field whose own entry has an error is
    left out of the rules (its problems say why), and what concerns the spec as a whole (a required field not
    mapped yet, a missing external id) is only reported, so one rule can be tried before the rest exists."""
    compiled = _Compiler(spec, describe, source_columns, parent_describes).run()
    broken = {p.target for p in compiled.problems if p.severity == "error" and p.target}
    compiled.rules = [rule for rule in compiled.rules if rule.target.header not in broken]
    return compiled


class _Compiler:
    """Walks a spec once, collecting problems and compiled rules."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        describe: ObjectDescribe | Mapping[str, Any],
        source_columns: Iterable[str] | None,
        parent_describes: Mapping[str, ObjectDescribe | Mapping[str, Any]] | None,
    ):
        self.spec = spec
        self.view = ObjectDescribe.of(describe)
        self.columns = None if source_columns is None else [c for c in source_columns if c != ROW_COLUMN]
        self.parents = {
            name.lower(): ObjectDescribe.of(raw) for name, raw in (parent_describes or {}).items()
        }
        self.problems: list[MappingProblem] = []

    def error(self, code: str, message: str, target: str | None = None, source: str | None = None) -> None:
        self.problems.append(MappingProblem("error", code, message, target, source))

    def warn(self, code: str, message: str, target: str | None = None, source: str | None = None) -> None:
        self.problems.append(MappingProblem("warning", code, message, target, source))

    def run(self) -> CompiledMapping:
        spec = self.spec
        compiled = CompiledMapping(
            object=self.view.name,
            operation=Operation.INSERT,
            external_id=None,
            blank_means="ignore",
            timezone="UTC",
            rules=[],
            describe=self.view,
            problems=self.problems,
        )
        if not isinstance(spec, Mapping):
            self.error("INVALID_SPEC", "a mapping must be a JSON object")
            return compiled
        for key in spec:
            if key not in SPEC_KEYS:
                self.warn("UNKNOWN_KEY", f"mapping key {key!r} is not used and was ignored")
        object_name = spec.get("object")
        if not isinstance(object_name, str) or not object_name:
            self.error("INVALID_SPEC", "the mapping needs 'object', the target sObject's API name")
        elif self.view.name and object_name.lower() != self.view.name.lower():
            self.error(
                "OBJECT_MISMATCH",
                f"the mapping is for {object_name} but the describe is of {self.view.name}",
            )
        compiled.object = object_name if isinstance(object_name, str) and object_name else self.view.name
        operation = Operation.parse(spec.get("operation", Operation.INSERT))
        if operation is None:
            self.error(
                "INVALID_OPERATION",
                f"operation {spec.get('operation')!r} is not one of {', '.join(Operation)}",
            )
            operation = Operation.INSERT
        compiled.operation = operation
        blank_means = spec.get("blank_means", "ignore")
        if blank_means not in BLANK_MEANS:
            self.error("INVALID_SPEC", f"blank_means must be 'ignore' or 'null', not {blank_means!r}")
            blank_means = "ignore"
        compiled.blank_means = blank_means
        timezone = spec.get("timezone", "UTC")
        compiled.timezone = self._timezone(timezone, None) or "UTC"
        fields = spec.get("fields")
        if not isinstance(fields, list):
            self.error("INVALID_SPEC", "the mapping needs 'fields', a list of field mappings")
            fields = []
        seen: dict[str, str] = {}
        for position, entry in enumerate(fields):
            rule = self._field(position, entry, operation)
            if rule is None:
                continue
            filled = rule.target.field.name.lower()
            if filled in seen:
                self.error(
                    "DUPLICATE_TARGET",
                    f"{rule.target.header} is mapped twice (it also fills {rule.target.field.name}, "
                    f"already mapped as {seen[filled]})"
                    if seen[filled] != rule.target.header
                    else f"{rule.target.header} is mapped twice",
                    target=rule.target.header,
                )
                continue
            seen[filled] = rule.target.header
            compiled.rules.append(rule)
        self._operation_checks(compiled, spec.get("external_id"))
        return compiled

    # -- one field ------------------------------------------------------------------------------------------

    def _field(self, position: int, entry: Any, operation: Operation) -> FieldRule | None:
        where = f"fields[{position}]"
        if not isinstance(entry, Mapping):
            self.error("INVALID_SPEC", f"{where} must be an object with at least 'target'")
            return None
        header = entry.get("target")
        if not isinstance(header, str) or not header.strip():
            self.error("INVALID_SPEC", f"{where} needs 'target', a field API name")
            return None
        header = header.strip()
        where = f"{where} ({header})"
        for key in entry:
            if key not in FIELD_KEYS:
                self.error("UNKNOWN_KEY", f"{where}: key {key!r} is not understood", target=header)
        target = self._target(header, operation)
        if target is None:
            return None
        sources = [k for k in ("source", "concat", "constant") if k in entry]
        if len(sources) != 1:
            self.error(
                "INVALID_SPEC",
                f"{where} needs exactly one of 'source', 'concat' or 'constant'"
                + (f", not {' and '.join(sources)}" if sources else ""),
                target=header,
            )
            return None
        source = entry.get("source")
        concat: tuple[str, ...] = ()
        if "source" in entry:
            if not isinstance(source, str) or not source:
                self.error("INVALID_SPEC", f"{where}: 'source' must be a column name", target=header)
                return None
            self._check_column(source, header)
        if "concat" in entry:
            raw = entry["concat"]
            if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and c for c in raw):
                self.error("INVALID_SPEC", f"{where}: 'concat' must be a list of column names", target=header)
                return None
            concat = tuple(raw)
            for column in concat:
                self._check_column(column, header)
        separator = entry.get("separator", " ")
        if not isinstance(separator, str):
            self.error("INVALID_SPEC", f"{where}: 'separator' must be text", target=header)
            separator = " "
        constant = None
        if "constant" in entry:
            constant = _scalar_text(entry["constant"])
            if constant is None and entry["constant"] is not None:
                self.error("INVALID_SPEC", f"{where}: 'constant' must be text, a number or true/false")
        default = None
        if entry.get("default") is not None:
            default = _scalar_text(entry["default"])
            if default is None:
                self.error("INVALID_SPEC", f"{where}: 'default' must be text, a number or true/false")
        transforms = self._transforms(entry.get("transforms", []), where, header)
        parse = self._parse_settings(entry, where, header, target.field)
        return FieldRule(
            position=position,
            target=target,
            source=source if isinstance(source, str) else None,
            concat=concat,
            separator=separator,
            constant=constant,
            has_constant="constant" in entry,
            default=default,
            transforms=transforms,
            **parse,
        )

    def _check_column(self, column: str, header: str) -> None:
        if self.columns is None or column in self.columns:
            return
        folded = {normalize_name(c): c for c in self.columns}
        hint = folded.get(normalize_name(column))
        hint = hint or next(iter(difflib.get_close_matches(column, self.columns, n=1)), None)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        self.error(
            "UNKNOWN_COLUMN",
            f"source column {column!r} (for {header}) is not in the file{suggestion}",
            target=header,
            source=column,
        )

    def _target(self, header: str, operation: Operation) -> Target | None:
        lookup = re.fullmatch(r"(?:([A-Za-z]\w*):)?([A-Za-z]\w*)\.([A-Za-z]\w*)", header)
        if lookup:
            return self._lookup_target(header, operation, lookup.group(1), lookup.group(2), lookup.group(3))
        info = self.view.field(header)
        if info is None:
            names = [f.name for f in self.view.fields.values()]
            folded = {normalize_name(f.name): f.name for f in self.view.fields.values()}
            folded.update({normalize_name(f.label): f.name for f in self.view.fields.values()})
            hint = folded.get(normalize_name(header)) or next(
                iter(difflib.get_close_matches(header, names, n=1)), None
            )
            suggestion = f"; did you mean {hint}?" if hint else ""
            self.error("UNKNOWN_FIELD", f"{self.view.name} has no field {header}{suggestion}", target=header)
            return None
        self._check_writable(info, operation, header)
        return Target(header=info.name, field=info)

    def _lookup_target(
        self, header: str, operation: Operation, type_name: str | None, relationship: str, parent_field: str
    ) -> Target | None:
        info = self.view.relationship(relationship)
        if info is None:
            self.error(
                "UNKNOWN_RELATIONSHIP",
                f"{self.view.name} has no relationship {relationship} (use the relationship name of a "
                "lookup field, e.g. Account for AccountId or Parent__r for Parent__c)",
                target=header,
            )
            return None
        parents = info.reference_to
        if len(parents) > 1 and type_name is None:
            self.error(
                "POLYMORPHIC_LOOKUP",
                f"{info.name} can point to {', '.join(parents)}: name the parent type, e.g. "
                f"{parents[0]}:{relationship}.{parent_field}",
                target=header,
            )
            return None
        parent_object = type_name or (parents[0] if parents else None)
        if type_name is not None and parents and type_name.lower() not in {p.lower() for p in parents}:
            self.error(
                "UNKNOWN_RELATIONSHIP",
                f"{info.name} cannot point to {type_name}; it points to {', '.join(parents)}",
                target=header,
            )
            return None
        if parent_object is None:
            self.error(
                "UNKNOWN_RELATIONSHIP", f"{info.name} has no referenceTo in the describe", target=header
            )
            return None
        self._check_writable(info, operation, header)
        parent_info = None
        parent_view = self.parents.get(parent_object.lower())
        if parent_view is not None:
            parent_info = parent_view.field(parent_field)
            if parent_info is None:
                self.error("UNKNOWN_FIELD", f"{parent_object} has no field {parent_field}", target=header)
                return None
            if not (parent_info.external_id or parent_info.id_lookup):
                self.error(
                    "NOT_AN_EXTERNAL_ID",
                    f"{parent_object}.{parent_info.name} is neither an external id nor an id lookup field, "
                    "so Salesforce cannot find parents by it",
                    target=header,
                )
                return None
            parent_field = parent_info.name
        return Target(
            header=header,
            field=info,
            parent_object=parent_object,
            parent_field=parent_field,
            parent_info=parent_info,
        )

    def _check_writable(self, info: FieldInfo, operation: Operation, header: str) -> None:
        if info.name == "Id" or operation.deletes:
            return
        if operation == Operation.INSERT and not info.createable:
            self.error(
                "FIELD_NOT_CREATEABLE", f"{info.name} cannot be set when records are created", target=header
            )
        elif operation == Operation.UPDATE and not info.updateable:
            self.error("FIELD_NOT_UPDATEABLE", f"{info.name} cannot be changed by an update", target=header)
        elif operation == Operation.UPSERT:
            if not info.createable and not info.updateable:
                self.error("FIELD_NOT_WRITABLE", f"{info.name} cannot be written", target=header)
            elif not info.updateable and not info.external_id:
                self.warn(
                    "FIELD_NOT_UPDATEABLE",
                    f"{info.name} can be set on new records only: rows that match an existing record fail",
                    target=header,
                )
            elif not info.createable:
                self.warn(
                    "FIELD_NOT_CREATEABLE",
                    f"{info.name} can be changed on existing records only: rows that create a record fail",
                    target=header,
                )

    def _transforms(self, raw: Any, where: str, header: str) -> tuple[Mapping[str, Any], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error("INVALID_TRANSFORM", f"{where}: 'transforms' must be a list", target=header)
            return ()
        result = []
        for index, step in enumerate(raw):
            label = f"{where} transform {index + 1}"
            if not isinstance(step, Mapping) or step.get("op") not in TRANSFORM_KEYS:
                op = step.get("op") if isinstance(step, Mapping) else step
                self.error(
                    "INVALID_TRANSFORM",
                    f"{label}: unknown op {op!r} (one of {', '.join(TRANSFORM_KEYS)})",
                    target=header,
                )
                continue
            op = step["op"]
            extra = set(step) - {"op"} - TRANSFORM_KEYS[op]
            if extra:
                self.error(
                    "INVALID_TRANSFORM", f"{label} ({op}): unknown keys {sorted(extra)}", target=header
                )
                continue
            problem = transform_problem(step)
            if problem:
                self.error("INVALID_TRANSFORM", f"{label} ({op}): {problem}", target=header)
                continue
            result.append(step)
        return tuple(result)

    def _parse_settings(self, entry: Mapping[str, Any], where: str, header: str, info: FieldInfo) -> dict:
        settings: dict[str, Any] = {}
        fmt = entry.get("format")
        if fmt is not None:
            try:
                fmt = check_date_format(fmt)  # Java-style patterns (dd/MM/yyyy) become strftime style here
            except FormatError as exc:
                self.error("INVALID_FORMAT", f"{where}: {exc.message}", target=header)
                fmt = None
            if info.type not in ("date", "datetime"):
                self.warn(
                    "FORMAT_IGNORED", f"{where}: 'format' is for date and datetime fields", target=header
                )
            settings["format"] = fmt
        decimal = entry.get("decimal", ".")
        thousands = entry.get("thousands")
        try:
            check_number_format(decimal, thousands)
            settings["decimal"] = decimal
            settings["thousands"] = thousands
        except FormatError as exc:
            self.error("INVALID_FORMAT", f"{where}: {exc.message}", target=header)
        for key in ("true_values", "false_values"):
            tokens = entry.get(key)
            if tokens is None:
                continue
            if not is_word_list(tokens):
                self.error("INVALID_FORMAT", f"{where}: '{key}' must be a list of words", target=header)
                continue
            settings[key] = tuple(tokens)
        if entry.get("timezone") is not None:
            settings["timezone"] = self._timezone(entry["timezone"], header)
        return settings

    def _timezone(self, name: Any, header: str | None) -> str | None:
        if not isinstance(name, str) or not name:
            self.error(
                "INVALID_TIMEZONE", f"timezone must be an IANA name such as 'Europe/Berlin', not {name!r}"
            )
            return None
        if name.upper() in ("UTC", "Z"):
            return "UTC"
        if not is_known_timezone(name):
            self.error("INVALID_TIMEZONE", f"unknown timezone {name!r}", target=header)
            return None
        return name

    # -- whole-spec checks ----------------------------------------------------------------------------------

    def _operation_checks(self, compiled: CompiledMapping, external_id: Any) -> None:
        operation = compiled.operation
        mapped = {rule.target.field.name.lower() for rule in compiled.rules}
        if operation == Operation.UPSERT:
            if not isinstance(external_id, str) or not external_id:
                self.error(
                    "MISSING_EXTERNAL_ID", "an upsert needs 'external_id', the field that matches records"
                )
            else:
                info = self.view.field(external_id)
                if info is None:
                    self.error(
                        "UNKNOWN_FIELD", f"external id field {external_id} is not a field of {self.view.name}"
                    )
                elif not (info.external_id or info.name == "Id"):
                    self.error(
                        "NOT_AN_EXTERNAL_ID",
                        f"{info.name} is not marked External ID in Salesforce, so upsert cannot match on it",
                        target=info.name,
                    )
                else:
                    compiled.external_id = info.name
                    if info.name.lower() not in mapped:
                        self.error(
                            "MISSING_EXTERNAL_ID",
                            f"the external id {info.name} must be mapped to a source column for upsert",
                            target=info.name,
                        )
        elif external_id not in (None, ""):
            self.warn("EXTERNAL_ID_IGNORED", f"'external_id' is only used by upsert, not {operation}")
        if operation.needs_id and "id" not in mapped:
            self.error(
                "MISSING_ID", f"{operation} needs the record Id mapped to a source column", target="Id"
            )
        if operation.deletes:
            for rule in compiled.rules:
                if rule.target.field.name != "Id":
                    self.warn(
                        "FIELD_IGNORED",
                        f"{rule.target.header} is ignored: {operation} only uses Id",
                        target=rule.target.header,
                    )
            compiled.rules = [rule for rule in compiled.rules if rule.target.field.name == "Id"]
        if operation in (Operation.INSERT, Operation.UPSERT):
            for info in self.view.required_on_create():
                if info.name.lower() in mapped:
                    continue
                message = f"{info.name} ({info.label}) is required to create {self.view.name} records"
                if operation == Operation.INSERT:
                    self.error("REQUIRED_FIELD_NOT_MAPPED", message + " and is not mapped", target=info.name)
                else:
                    self.warn(
                        "REQUIRED_FIELD_NOT_MAPPED",
                        message + ": rows that do not match an existing record will fail",
                        target=info.name,
                    )
        if operation == Operation.INSERT and "id" in mapped:
            self.error(
                "FIELD_NOT_CREATEABLE", "Id cannot be set on insert (Salesforce assigns it)", target="Id"
            )
        for rule in compiled.rules:
            self._value_checks(rule)

    def _value_checks(self, rule: FieldRule) -> None:
        """Catch map outputs and constants that a restricted picklist would reject, before any row runs."""
        info = rule.target.field
        if rule.target.is_lookup or not info.restricted_picklist or info.type != "picklist":
            return
        allowed = {v.lower() for v in info.picklist_values}
        offered: list[str] = []
        for step in rule.transforms:
            if step.get("op") == "map":
                offered += [v for v in step.get("values", {}).values() if isinstance(v, str)]
                if step.get("else") == "default" and isinstance(step.get("default"), str):
                    offered.append(step["default"])
        offered += [v for v in (rule.constant, rule.default) if v is not None]
        for value in offered:
            if value.lower() not in allowed:
                self.error(
                    "INVALID_PICKLIST_VALUE",
                    f"{value!r} is not an active value of the restricted picklist {info.name} "
                    f"({', '.join(info.picklist_values[:10])}{'...' if len(info.picklist_values) > 10 else ''})",
                    target=rule.target.header,
                )


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and value == value:
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return None

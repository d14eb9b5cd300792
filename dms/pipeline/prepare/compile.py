"""Checking a mapping spec against a describe and the source columns, and compiling it into rules."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from dms.errors import Text
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

    def error(self, code: str, message: Text, target: str | None = None, source: str | None = None) -> None:
        self.problems.append(MappingProblem.of("error", code, message, target, source))

    def warn(self, code: str, message: Text, target: str | None = None, source: str | None = None) -> None:
        self.problems.append(MappingProblem.of("warning", code, message, target, source))

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
            self.error("INVALID_SPEC", Text("a mapping must be a JSON object"))
            return compiled
        for key in spec:
            if key not in SPEC_KEYS:
                self.warn(
                    "UNKNOWN_KEY", Text("mapping key %(key)s is not used and was ignored", key=f"{key!r}")
                )
        object_name = spec.get("object")
        if not isinstance(object_name, str) or not object_name:
            self.error("INVALID_SPEC", Text("the mapping needs 'object', the target sObject's API name"))
        elif self.view.name and object_name.lower() != self.view.name.lower():
            self.error(
                "OBJECT_MISMATCH",
                Text(
                    "the mapping is for %(object_name)s but the describe is of %(name)s",
                    object_name=object_name,
                    name=self.view.name,
                ),
            )
        compiled.object = object_name if isinstance(object_name, str) and object_name else self.view.name
        operation = Operation.parse(spec.get("operation", Operation.INSERT))
        if operation is None:
            self.error(
                "INVALID_OPERATION",
                Text(
                    "operation %(spec)s is not one of %(operations)s",
                    spec=f"{spec.get('operation')!r}",
                    operations=", ".join(Operation),
                ),
            )
            operation = Operation.INSERT
        compiled.operation = operation
        blank_means = spec.get("blank_means", "ignore")
        if blank_means not in BLANK_MEANS:
            self.error(
                "INVALID_SPEC",
                Text(
                    "blank_means must be 'ignore' or 'null', not %(blank_means)s",
                    blank_means=f"{blank_means!r}",
                ),
            )
            blank_means = "ignore"
        compiled.blank_means = blank_means
        timezone = spec.get("timezone", "UTC")
        compiled.timezone = self._timezone(timezone, None) or "UTC"
        fields = spec.get("fields")
        if not isinstance(fields, list):
            self.error("INVALID_SPEC", Text("the mapping needs 'fields', a list of field mappings"))
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
                    Text(
                        "%(header)s is mapped twice (it also fills %(field)s, already mapped as %(other)s)",
                        header=rule.target.header,
                        field=rule.target.field.name,
                        other=seen[filled],
                    )
                    if seen[filled] != rule.target.header
                    else Text("%(header)s is mapped twice", header=rule.target.header),
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
            self.error(
                "INVALID_SPEC", Text("%(where)s must be an object with at least 'target'", where=where)
            )
            return None
        header = entry.get("target")
        if not isinstance(header, str) or not header.strip():
            self.error("INVALID_SPEC", Text("%(where)s needs 'target', a field API name", where=where))
            return None
        header = header.strip()
        where = f"{where} ({header})"
        for key in entry:
            if key not in FIELD_KEYS:
                self.error(
                    "UNKNOWN_KEY",
                    Text("%(where)s: key %(key)s is not understood", where=where, key=f"{key!r}"),
                    target=header,
                )
        target = self._target(header, operation)
        if target is None:
            return None
        sources = [k for k in ("source", "concat", "constant") if k in entry]
        if len(sources) != 1:
            self.error(
                "INVALID_SPEC",
                Text(
                    "%(where)s needs exactly one of 'source', 'concat' or 'constant', not %(given)s",
                    where=where,
                    given=" and ".join(sources),
                )
                if sources
                else Text("%(where)s needs exactly one of 'source', 'concat' or 'constant'", where=where),
                target=header,
            )
            return None
        source = entry.get("source")
        concat: tuple[str, ...] = ()
        if "source" in entry:
            if not isinstance(source, str) or not source:
                self.error(
                    "INVALID_SPEC",
                    Text("%(where)s: 'source' must be a column name", where=where),
                    target=header,
                )
                return None
            self._check_column(source, header)
        if "concat" in entry:
            raw = entry["concat"]
            if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and c for c in raw):
                self.error(
                    "INVALID_SPEC",
                    Text("%(where)s: 'concat' must be a list of column names", where=where),
                    target=header,
                )
                return None
            concat = tuple(raw)
            for column in concat:
                self._check_column(column, header)
        separator = entry.get("separator", " ")
        if not isinstance(separator, str):
            self.error(
                "INVALID_SPEC", Text("%(where)s: 'separator' must be text", where=where), target=header
            )
            separator = " "
        constant = None
        if "constant" in entry:
            constant = _scalar_text(entry["constant"])
            if constant is None and entry["constant"] is not None:
                self.error(
                    "INVALID_SPEC",
                    Text("%(where)s: 'constant' must be text, a number or true/false", where=where),
                )
        default = None
        if entry.get("default") is not None:
            default = _scalar_text(entry["default"])
            if default is None:
                self.error(
                    "INVALID_SPEC",
                    Text("%(where)s: 'default' must be text, a number or true/false", where=where),
                )
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
        suggestion = Text("; did you mean %(hint)s?", hint=repr(hint)) if hint else ""
        self.error(
            "UNKNOWN_COLUMN",
            Text(
                "source column %(column)s (for %(header)s) is not in the file%(suggestion)s",
                column=f"{column!r}",
                header=header,
                suggestion=suggestion,
            ),
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
            suggestion = Text("; did you mean %(hint)s?", hint=hint) if hint else ""
            self.error(
                "UNKNOWN_FIELD",
                Text(
                    "%(name)s has no field %(header)s%(suggestion)s",
                    name=self.view.name,
                    header=header,
                    suggestion=suggestion,
                ),
                target=header,
            )
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
                Text(
                    "%(name)s has no relationship %(relationship)s (use the relationship name of a lookup "
                    "field, e.g. Account for AccountId or Parent__r for Parent__c)",
                    name=self.view.name,
                    relationship=relationship,
                ),
                target=header,
            )
            return None
        parents = info.reference_to
        if len(parents) > 1 and type_name is None:
            self.error(
                "POLYMORPHIC_LOOKUP",
                Text(
                    "%(name)s can point to %(parents)s: name the parent type, e.g. "
                    "%(first_parent)s:%(relationship)s.%(parent_field)s",
                    name=info.name,
                    parents=", ".join(parents),
                    first_parent=parents[0],
                    relationship=relationship,
                    parent_field=parent_field,
                ),
                target=header,
            )
            return None
        parent_object = type_name or (parents[0] if parents else None)
        if type_name is not None and parents and type_name.lower() not in {p.lower() for p in parents}:
            self.error(
                "UNKNOWN_RELATIONSHIP",
                Text(
                    "%(name)s cannot point to %(type_name)s; it points to %(parents)s",
                    name=info.name,
                    type_name=type_name,
                    parents=", ".join(parents),
                ),
                target=header,
            )
            return None
        if parent_object is None:
            self.error(
                "UNKNOWN_RELATIONSHIP",
                Text("%(name)s has no referenceTo in the describe", name=info.name),
                target=header,
            )
            return None
        self._check_writable(info, operation, header)
        parent_info = None
        parent_view = self.parents.get(parent_object.lower())
        if parent_view is not None:
            parent_info = parent_view.field(parent_field)
            if parent_info is None:
                self.error(
                    "UNKNOWN_FIELD",
                    Text(
                        "%(parent_object)s has no field %(parent_field)s",
                        parent_object=parent_object,
                        parent_field=parent_field,
                    ),
                    target=header,
                )
                return None
            if not (parent_info.external_id or parent_info.id_lookup):
                self.error(
                    "NOT_AN_EXTERNAL_ID",
                    Text(
                        "%(parent_object)s.%(name)s is neither an external id nor an id lookup field, so "
                        "Salesforce cannot find parents by it",
                        parent_object=parent_object,
                        name=parent_info.name,
                    ),
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
                "FIELD_NOT_CREATEABLE",
                Text("%(name)s cannot be set when records are created", name=info.name),
                target=header,
            )
        elif operation == Operation.UPDATE and not info.updateable:
            self.error(
                "FIELD_NOT_UPDATEABLE",
                Text("%(name)s cannot be changed by an update", name=info.name),
                target=header,
            )
        elif operation == Operation.UPSERT:
            if not info.createable and not info.updateable:
                self.error(
                    "FIELD_NOT_WRITABLE", Text("%(name)s cannot be written", name=info.name), target=header
                )
            elif not info.updateable and not info.external_id:
                self.warn(
                    "FIELD_NOT_UPDATEABLE",
                    Text(
                        "%(name)s can be set on new records only: rows that match an existing record fail",
                        name=info.name,
                    ),
                    target=header,
                )
            elif not info.createable:
                self.warn(
                    "FIELD_NOT_CREATEABLE",
                    Text(
                        "%(name)s can be changed on existing records only: rows that create a record fail",
                        name=info.name,
                    ),
                    target=header,
                )

    def _transforms(self, raw: Any, where: str, header: str) -> tuple[Mapping[str, Any], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error(
                "INVALID_TRANSFORM",
                Text("%(where)s: 'transforms' must be a list", where=where),
                target=header,
            )
            return ()
        result = []
        for index, step in enumerate(raw):
            label = f"{where} transform {index + 1}"
            if not isinstance(step, Mapping) or step.get("op") not in TRANSFORM_KEYS:
                op = step.get("op") if isinstance(step, Mapping) else step
                self.error(
                    "INVALID_TRANSFORM",
                    Text(
                        "%(label)s: unknown op %(op)s (one of %(transform_keys)s)",
                        label=label,
                        op=f"{op!r}",
                        transform_keys=", ".join(TRANSFORM_KEYS),
                    ),
                    target=header,
                )
                continue
            op = step["op"]
            extra = set(step) - {"op"} - TRANSFORM_KEYS[op]
            if extra:
                self.error(
                    "INVALID_TRANSFORM",
                    Text(
                        "%(label)s (%(op)s): unknown keys %(extra)s", label=label, op=op, extra=sorted(extra)
                    ),
                    target=header,
                )
                continue
            problem = transform_problem(step)
            if problem:
                self.error(
                    "INVALID_TRANSFORM",
                    Text("%(label)s (%(op)s): %(problem)s", label=label, op=op, problem=problem),
                    target=header,
                )
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
                self.error(
                    "INVALID_FORMAT",
                    Text("%(where)s: %(message)s", where=where, message=exc.text),
                    target=header,
                )
                fmt = None
            if info.type not in ("date", "datetime"):
                self.warn(
                    "FORMAT_IGNORED",
                    Text("%(where)s: 'format' is for date and datetime fields", where=where),
                    target=header,
                )
            settings["format"] = fmt
        decimal = entry.get("decimal", ".")
        thousands = entry.get("thousands")
        try:
            check_number_format(decimal, thousands)
            settings["decimal"] = decimal
            settings["thousands"] = thousands
        except FormatError as exc:
            self.error(
                "INVALID_FORMAT", Text("%(where)s: %(message)s", where=where, message=exc.text), target=header
            )
        for key in ("true_values", "false_values"):
            tokens = entry.get(key)
            if tokens is None:
                continue
            if not is_word_list(tokens):
                self.error(
                    "INVALID_FORMAT",
                    Text("%(where)s: '%(key)s' must be a list of words", where=where, key=key),
                    target=header,
                )
                continue
            settings[key] = tuple(tokens)
        if entry.get("timezone") is not None:
            settings["timezone"] = self._timezone(entry["timezone"], header)
        return settings

    def _timezone(self, name: Any, header: str | None) -> str | None:
        if not isinstance(name, str) or not name:
            self.error(
                "INVALID_TIMEZONE",
                Text("timezone must be an IANA name such as 'Europe/Berlin', not %(name)s", name=f"{name!r}"),
            )
            return None
        if name.upper() in ("UTC", "Z"):
            return "UTC"
        if not is_known_timezone(name):
            self.error("INVALID_TIMEZONE", Text("unknown timezone %(name)s", name=f"{name!r}"), target=header)
            return None
        return name

    # -- whole-spec checks ----------------------------------------------------------------------------------

    def _operation_checks(self, compiled: CompiledMapping, external_id: Any) -> None:
        operation = compiled.operation
        mapped = {rule.target.field.name.lower() for rule in compiled.rules}
        if operation == Operation.UPSERT:
            if not isinstance(external_id, str) or not external_id:
                self.error(
                    "MISSING_EXTERNAL_ID",
                    Text("an upsert needs 'external_id', the field that matches records"),
                )
            else:
                info = self.view.field(external_id)
                if info is None:
                    self.error(
                        "UNKNOWN_FIELD",
                        Text(
                            "external id field %(external_id)s is not a field of %(name)s",
                            external_id=external_id,
                            name=self.view.name,
                        ),
                    )
                elif not (info.external_id or info.name == "Id"):
                    self.error(
                        "NOT_AN_EXTERNAL_ID",
                        Text(
                            "%(name)s is not marked External ID in Salesforce, so upsert cannot match on it",
                            name=info.name,
                        ),
                        target=info.name,
                    )
                else:
                    compiled.external_id = info.name
                    if info.name.lower() not in mapped:
                        self.error(
                            "MISSING_EXTERNAL_ID",
                            Text(
                                "the external id %(name)s must be mapped to a source column for upsert",
                                name=info.name,
                            ),
                            target=info.name,
                        )
        elif external_id not in (None, ""):
            self.warn(
                "EXTERNAL_ID_IGNORED",
                Text("'external_id' is only used by upsert, not %(operation)s", operation=operation),
            )
        if operation.needs_id and "id" not in mapped:
            self.error(
                "MISSING_ID",
                Text("%(operation)s needs the record Id mapped to a source column", operation=operation),
                target="Id",
            )
        if operation.deletes:
            for rule in compiled.rules:
                if rule.target.field.name != "Id":
                    self.warn(
                        "FIELD_IGNORED",
                        Text(
                            "%(header)s is ignored: %(operation)s only uses Id",
                            header=rule.target.header,
                            operation=operation,
                        ),
                        target=rule.target.header,
                    )
            compiled.rules = [rule for rule in compiled.rules if rule.target.field.name == "Id"]
        if operation in (Operation.INSERT, Operation.UPSERT):
            for info in self.view.required_on_create():
                if info.name.lower() in mapped:
                    continue
                named = {"name": info.name, "label": info.label, "object_name": self.view.name}
                if operation == Operation.INSERT:
                    self.error(
                        "REQUIRED_FIELD_NOT_MAPPED",
                        Text(
                            "%(name)s (%(label)s) is required to create %(object_name)s records and is not mapped",
                            **named,
                        ),
                        target=info.name,
                    )
                else:
                    self.warn(
                        "REQUIRED_FIELD_NOT_MAPPED",
                        Text(
                            "%(name)s (%(label)s) is required to create %(object_name)s records: rows that do not "
                            "match an existing record will fail",
                            **named,
                        ),
                        target=info.name,
                    )
        if operation == Operation.INSERT and "id" in mapped:
            self.error(
                "FIELD_NOT_CREATEABLE",
                Text("Id cannot be set on insert (Salesforce assigns it)"),
                target="Id",
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
                    Text(
                        "%(value)s is not an active value of the restricted picklist %(name)s "
                        "(%(picklist_values)s%(more)s)",
                        value=f"{value!r}",
                        name=info.name,
                        picklist_values=", ".join(info.picklist_values[:10]),
                        more="..." if len(info.picklist_values) > 10 else "",
                    ),
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

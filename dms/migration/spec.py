"""Migration plan specs: many related objects in one run, each step one source into one object.

A plan (JSON, or YAML with the same shape) looks like:

    {"name": "legacy-crm", "connection_id": "default",
     "steps": [
        {"name": "accounts", "source": {"upload_id": "up-...", "sheet": "Accounts"},
         "object": "Account", "operation": "insert", "key": "LegacyId",
         "mapping": {"fields": [{"target": "Name", "source": "Company"},
                                {"target": "ParentId", "source": "parent_ref",
                                 "ref": {"step": "accounts"}}]}},
        {"name": "tasks", "source": {"upload_id": "up-...", "member": "tasks.csv"},
         "object": "Task", "operation": "insert",
         "mapping": {"fields": [{"target": "WhatId", "source": "what_ref",
                                 "ref": {"by": "what_type", "steps": {"A": "accounts", "O": "deals"}}}]}}]}

A step's source is an upload (`upload_id`, with `sheet` or `member` to pick one part of a workbook or
archive) or, in a plan file given to the CLI, a `file` path relative to the plan file, which the CLI uploads
and replaces with its `upload_id`. Exactly one of the two.

A step's `key` is the source column holding its legacy key: other steps' `ref` fields resolve a value of that
column to the Salesforce Id of the record this step loaded from that row. `ref.key` names another column of
the referenced step when a reference uses a different legacy key. A polymorphic reference (WhoId, WhatId)
names per row which step it points at: `ref.by` is a source column whose value picks the step in
`ref.steps`. Everything else in a step's mapping is an ordinary mapping spec (dms.pipeline.prepare.spec).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from dms.errors import DMSError, Text
from dms.pipeline.model import Operation

STEP_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")  # it becomes part of ids and result file names
MAX_STEPS = 50
PLAN_KEYS = {"name", "connection_id", "steps", "options"}
STEP_KEYS = {"name", "source", "object", "operation", "external_id", "key", "mapping", "read_options"}
SOURCE_KEYS = {"upload_id", "file", "sheet", "member"}
# Where a step's rows come from: exactly one of these (the CLI uploads a `file` and gives its upload_id).
SOURCE_ORIGINS = ("upload_id", "file")
REF_KEYS = {"step", "steps", "by", "key"}
# Operations a step may run: ones that make or match records other steps can point at.
STEP_OPERATIONS = (Operation.INSERT, Operation.UPSERT, Operation.UPDATE)


class InvalidPlan(DMSError):
    """A plan spec that cannot run; `where` names the step and field to fix."""

    code = "INVALID_PLAN"


@dataclass(frozen=True)
class Reference:
    """A field of one step that holds another step's legacy key: the target gets that record's Id."""

    step: str  # the step whose field this is
    target: str  # the field that gets the Id, e.g. AccountId
    source: str  # the source column holding the legacy key
    steps: tuple[str, ...]  # the step(s) it may point at (several: polymorphic, chosen per row by `by`)
    key: str | None = None  # the referenced step's key column, when not its own `key`
    by: str | None = None  # polymorphic: the source column whose value picks the step
    choices: tuple[tuple[str, str], ...] = ()  # polymorphic: (value of `by`, step name)
    # polymorphic: (value of `by`, object) for records the plan does not load: the value is their Id as it is
    objects: tuple[tuple[str, str], ...] = ()

    def key_of(self, plan: MigrationPlan, step_name: str) -> str:
        """The column of `step_name` whose values this reference holds."""
        return self.key or plan.step(step_name).key or ""


@dataclass(frozen=True)
class Step:
    name: str
    object: str
    operation: Operation
    source: dict[str, str]
    mapping: dict[str, Any]  # the mapping spec without the reference fields
    references: tuple[Reference, ...] = ()
    key: str | None = None
    external_id: str | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    auto_mapped: bool = False  # no `fields` given: the source's columns are auto-mapped, as a job's are


@dataclass(frozen=True)
class MigrationPlan:
    name: str
    steps: tuple[Step, ...]
    connection_id: str = "default"

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(ref for step in self.steps for ref in step.references)


def load_plan_text(text: str, filename: str = "plan") -> Any:
    """A plan document from JSON or YAML text (JSON is YAML; YAML's safe loader builds no objects)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            Text(" at line %(line)s, column %(column)s", line=mark.line + 1, column=mark.column + 1)
            if mark is not None
            else ""
        )
        raise InvalidPlan(
            Text("%(filename)s is not valid YAML or JSON%(where)s.", filename=filename, where=where),
            file=filename,
        ) from None


def parse_plan(document: Any) -> MigrationPlan:
    """A checked plan from its JSON shape, or InvalidPlan naming the step and field at fault."""
    if not isinstance(document, Mapping):
        raise InvalidPlan(Text("A plan must be an object with `name` and `steps`."))
    _unknown(document, PLAN_KEYS, "plan")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidPlan(Text("A plan needs a `name`."), field="name")
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InvalidPlan(Text("A plan needs `steps`: a list of at least one step."), field="steps")
    if len(raw_steps) > MAX_STEPS:
        raise InvalidPlan(Text("A plan has at most %(max_steps)s steps.", max_steps=MAX_STEPS), field="steps")
    steps = [_step(raw, index) for index, raw in enumerate(raw_steps)]
    names = [s.name for s in steps]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidPlan(
            Text("Step names must be unique: %(duplicated)s.", duplicated=", ".join(duplicated)),
            field="steps",
        )
    plan = MigrationPlan(name.strip(), tuple(steps), str(document.get("connection_id") or "default"))
    for ref in plan.references:
        for target_step in ref.steps:
            if target_step not in names:
                raise InvalidPlan(
                    Text(
                        "Step %(step)s: field %(target)s refers to step %(target_step)s, which the plan does not "
                        "have (steps: %(names)s).",
                        step=ref.step,
                        target=ref.target,
                        target_step=f"{target_step!r}",
                        names=", ".join(names),
                    ),
                    step=ref.step,
                    field=ref.target,
                )
            if not ref.key_of(plan, target_step):
                raise InvalidPlan(
                    Text(
                        "Step %(step)s: field %(target)s refers to step %(target_step)s, which has no `key` (the "
                        "source column of its legacy key); give it one, or give the reference a `key`.",
                        step=ref.step,
                        target=ref.target,
                        target_step=target_step,
                    ),
                    step=ref.step,
                    field=ref.target,
                )
    return plan


def _unknown(given: Mapping[str, Any], allowed: set[str], what: str, **where: Any) -> None:
    extra = sorted(set(given) - allowed)
    if extra:
        raise InvalidPlan(
            Text(
                "Unknown key(s) in %(what)s: %(map)s (allowed: %(allowed)s).",
                what=what,
                map=", ".join(map(str, extra)),
                allowed=", ".join(sorted(allowed)),
            ),
            **where,
        )


def _text(value: Any, name: str, step: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidPlan(
            Text("Step %(step)s: `%(name)s` must be a non-empty string.", step=step, name=name),
            step=step,
            field=name,
        )
    return value.strip()


def _step(raw: Any, index: int) -> Step:
    if not isinstance(raw, Mapping):
        raise InvalidPlan(
            Text("Step %(number)s must be an object.", number=index + 1), field=f"steps[{index}]"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not STEP_NAME.fullmatch(name):
        raise InvalidPlan(
            Text(
                "Step %(number)s: `name` must be lower-case letters, digits and underscores (at most 40), "
                "starting with a letter, e.g. accounts.",
                number=index + 1,
            ),
            field=f"steps[{index}].name",
        )
    _unknown(raw, STEP_KEYS, f"step {name}", step=name)
    object_name = _text(raw.get("object"), "object", name)
    operation = Operation.parse(raw.get("operation") or "insert")
    if operation not in STEP_OPERATIONS:
        raise InvalidPlan(
            Text(
                "Step %(name)s: `operation` must be one of %(step_operations)s.",
                name=name,
                step_operations=", ".join(STEP_OPERATIONS),
            ),
            step=name,
            field="operation",
        )
    source = raw.get("source")
    if not isinstance(source, Mapping):
        raise InvalidPlan(
            Text("Step %(name)s: `source` must be an object with an `upload_id` or a `file`.", name=name),
            step=name,
            field="source",
        )
    _unknown(source, SOURCE_KEYS, f"step {name}'s source", step=name)
    origins = [k for k in SOURCE_ORIGINS if k in source]
    if len(origins) != 1:
        given = "both" if origins else "neither"
        raise InvalidPlan(
            Text(
                "Step %(name)s: `source` needs exactly one of `upload_id` (an uploaded file) or `file` (a "
                "path relative to the plan file, which the CLI uploads); it has %(given)s.",
                name=name,
                given=given,
            ),
            step=name,
            field="source",
        )
    checked_source = {
        k: str(_text(source[k], f"source.{k}", name)) for k in sorted(SOURCE_KEYS) if k in source
    }
    mapping = raw.get("mapping") or {}
    if not isinstance(mapping, Mapping) or not isinstance(mapping.get("fields", []), list):
        raise InvalidPlan(
            Text("Step %(name)s: `mapping` must be a mapping spec with `fields`.", name=name),
            step=name,
            field="mapping",
        )
    plain_fields, references = [], []
    for rule in mapping.get("fields", []):
        if isinstance(rule, Mapping) and "ref" in rule:
            references.append(_reference(name, rule))
        else:
            plain_fields.append(rule)
    external_id = _text(raw.get("external_id"), "external_id", name, required=False)
    if operation == Operation.UPSERT and not external_id:
        raise InvalidPlan(
            Text("Step %(name)s: an upsert needs `external_id`.", name=name), step=name, field="external_id"
        )
    read_options = raw.get("read_options") or {}
    if not isinstance(read_options, Mapping):
        raise InvalidPlan(
            Text("Step %(name)s: `read_options` must be an object.", name=name),
            step=name,
            field="read_options",
        )
    return Step(
        name=name,
        object=str(object_name),
        operation=operation,
        source=checked_source,
        mapping={**{k: v for k, v in mapping.items() if k != "fields"}, "fields": plain_fields},
        references=tuple(references),
        key=_text(raw.get("key"), "key", name, required=False),
        external_id=external_id,
        read_options=dict(read_options),
        auto_mapped="fields" not in mapping,
    )


def _choice(target: Any) -> bool:
    """A polymorphic choice: a step's name, or {"object": name} (the value is that object's record Id)."""
    if isinstance(target, Mapping):
        return (
            set(target) == {"object"} and isinstance(target["object"], str) and bool(target["object"].strip())
        )
    return isinstance(target, str)


def _reference(step: str, rule: Mapping[str, Any]) -> Reference:
    target = _text(rule.get("target"), "target", step)
    ref = rule["ref"]
    if not isinstance(ref, Mapping):
        raise InvalidPlan(
            Text("Step %(step)s: field %(target)s's `ref` must be an object.", step=step, target=target),
            step=step,
            field=target,
        )
    _unknown(ref, REF_KEYS, f"step {step}'s reference {target}", step=step, field=target)
    extra = sorted(set(rule) - {"target", "source", "ref"})
    if extra:
        raise InvalidPlan(
            Text(
                "Step %(step)s: field %(target)s is a reference; it takes only `source` and `ref` (not "
                "%(extra)s).",
                step=step,
                target=target,
                extra=", ".join(extra),
            ),
            step=step,
            field=target,
        )
    source = _text(rule.get("source"), "source", step)
    key = _text(ref.get("key"), "ref.key", step, required=False)
    if "by" in ref or "steps" in ref:
        by = _text(ref.get("by"), "ref.by", step)
        choices = ref.get("steps")
        if not isinstance(choices, Mapping) or not choices or not all(map(_choice, choices.values())):
            raise InvalidPlan(
                Text(
                    "Step %(step)s: field %(target)s's `ref.steps` must map each value of column %(by)s to a "
                    'step name, or to {"object": "User"} for Ids of records the plan does not load.',
                    step=step,
                    target=target,
                    by=by,
                ),
                step=step,
                field=target,
            )
        pairs = tuple((str(value), name) for value, name in choices.items() if isinstance(name, str))
        objects = tuple(
            (str(value), str(name["object"])) for value, name in choices.items() if isinstance(name, Mapping)
        )
        steps = tuple(dict.fromkeys(n for _, n in pairs))
        return Reference(step, str(target), str(source), steps, key, by, pairs, objects)
    return Reference(step, str(target), str(source), (str(_text(ref.get("step"), "ref.step", step)),), key)

"""A plan skeleton from a workbook with one sheet per object, or a zip of one CSV per object: a first draft to
edit, never a plan run as it is.

Each sheet or file becomes a step: its name is matched to an org object (API name, label or plural label:
`Accounts`, `contacts.csv`, `Opportunities`), its columns are auto-mapped as a single job's are, and columns
named after another step's object plus `Id`, `Ref`, `Key` or `No` (`AccountRef`, `account_id`) become
references to that step; `Parent...` and `ReportsTo...` columns refer to the step itself. A step's `key` is
its first column named like a legacy key. What could not be matched is said in `notes`, one per thing to fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dms.errors import DMSError
from dms.migration.sources import data_members
from dms.migration.spec import STEP_NAME
from dms.pipeline.describe import ObjectDescribe
from dms.pipeline.prepare import auto_map, normalize_name
from dms.pipeline.source import ReadOptions, sniff

KEY_SUFFIXES = ("id", "ref", "reference", "key", "no", "number", "code")
HEAD_BYTES = 1024 * 1024  # a zip member's header and first rows: all its columns are in them
SELF_PREFIXES = ("parent", "reportsto", "manager", "master")


@dataclass
class Part:
    """One sheet or file of the upload: its name as the upload has it, how a step reads it, its columns."""

    name: str
    source: dict[str, str]
    columns: list[str]


@dataclass
class Skeleton:
    plan: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def parts_of(path: str | os.PathLike[str]) -> list[Part]:
    """The sheets of a workbook or the data files of a zip, each with its columns as DMS reads them."""
    if zipfile.is_zipfile(path) and not _is_workbook(path):
        parts = []
        for member in data_members(path):
            with _member_head(path, member) as head:
                parts.append(Part(member, {"member": member}, sniff(head).columns))
        return parts
    info = sniff(path)
    if not info.sheet_names:
        raise DMSError(
            "A plan skeleton is made from a workbook (one sheet per object) or a zip (one file per object).",
            code="NOT_A_WORKBOOK_OR_ZIP",
            http_status=422,
        )
    return [
        Part(name, {"sheet": name}, sniff(path, ReadOptions(sheet=name)).columns) for name in info.sheet_names
    ]


def _is_workbook(path: str | os.PathLike[str]) -> bool:
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("workbook.xml") for name in archive.namelist()[:50])


@contextlib.contextmanager
def _member_head(path: str | os.PathLike[str], member: str) -> Iterator[Path]:
    """A temporary file with the first whole lines of a zip member (enough to read its columns)."""
    with zipfile.ZipFile(path) as archive, archive.open(member) as source:
        head = source.read(HEAD_BYTES)
    if len(head) == HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / (Path(member).name or "member")
        target.write_bytes(head)
        yield target


def step_name(part: str, taken: set[str]) -> str:
    """A step name from a sheet or file name: `Contact Roles.csv` -> contact_roles (unique in the plan)."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", part.rsplit("/", 1)[-1])
    base = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "step"
    base = base if base[0].isalpha() else f"s_{base}"
    base = base[:36]
    name, n = base, 2
    while name in taken or not STEP_NAME.fullmatch(name):
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def match_object(part: str, objects: Sequence[Mapping[str, Any]]) -> str | None:
    """The org object a sheet or file is named after (API name, label or plural label), or None."""
    stem = normalize_name(re.sub(r"\.[A-Za-z0-9]{1,5}$", "", part.rsplit("/", 1)[-1]))
    for obj in objects:
        names = {normalize_name(str(obj.get(k) or "")) for k in ("name", "label", "labelPlural")}
        if stem in names - {""}:
            return str(obj["name"])
    return None


def build_skeleton(
    parts: list[Part],
    objects: Sequence[Mapping[str, Any]],
    describe: Callable[[str], dict[str, Any]],
    upload_id: str,
) -> Skeleton:
    """The draft plan for these parts of one upload (see the module's docstring)."""
    notes: list[str] = []
    taken: set[str] = set()
    steps: list[dict[str, Any]] = []
    matched: list[tuple[Part, str, str]] = []  # (part, step name, object)
    for part in parts:
        name = step_name(part.name, taken)
        object_name = match_object(part.name, objects)
        if object_name is None:
            notes.append(f"{part.name}: no object of the org is named like it; set `object` of step {name}.")
        matched.append((part, name, object_name or ""))
    by_object = {normalize_name(obj): name for _, name, obj in matched if obj}
    for part, name, object_name in matched:
        step: dict[str, Any] = {"name": name, "object": object_name, "operation": "insert"}
        step["source"] = {"upload_id": upload_id, **part.source}
        key = next((c for c in part.columns if _looks_like_key(c)), None)
        view = ObjectDescribe.of(describe(object_name)) if object_name else None
        references, plain = [], []
        for column in part.columns:
            if column == key:
                continue
            ref = _reference(column, name, object_name, by_object, view) if view is not None else None
            if ref is not None:
                references.append(ref)
            else:
                plain.append(column)
        fields = auto_map(plain, describe(object_name)) if object_name else []
        mapped = {f["source"] for f in fields}
        unmapped = [c for c in plain if c not in mapped]
        if unmapped:
            notes.append(
                f"Step {name}: columns {', '.join(unmapped)} match no field of {object_name or 'its object'}."
            )
        if key is not None:
            step["key"] = key
        step["mapping"] = {"fields": [*fields, *references]}
        steps.append(step)
    referenced = {ref["ref"]["step"] for s in steps for ref in s["mapping"]["fields"] if "ref" in ref}
    for step in steps:
        if step["name"] in referenced and "key" not in step:
            notes.append(
                f"Step {step['name']}: other steps refer to it; give it a `key` (its legacy key column)."
            )
    return Skeleton({"name": "draft", "steps": steps}, notes)


def _looks_like_key(column: str) -> bool:
    folded = normalize_name(column)
    return folded.startswith("legacy") or folded in KEY_SUFFIXES or folded in {"externalid", "sourceid"}


def _reference(
    column: str, step: str, object_name: str, by_object: Mapping[str, str], view: ObjectDescribe
) -> dict[str, Any] | None:
    """A reference field for a column named like another step's object plus a key suffix, or like a parent."""
    folded = normalize_name(column)
    stem = next(
        (folded[: -len(s)] for s in KEY_SUFFIXES if folded.endswith(s) and len(folded) > len(s)), None
    )
    if stem is None:
        return None
    if any(stem.startswith(p) for p in SELF_PREFIXES):
        target_step, target_object = step, object_name
    elif stem in by_object:
        target_step = by_object[stem]
        target_object = next((o for o, s in by_object.items() if s == target_step), stem)
    else:
        return None
    candidates = [
        info
        for info in view.fields.values()
        if info.type == "reference"
        and info.createable
        and normalize_name(target_object) in {normalize_name(r) for r in info.reference_to}
    ]
    if not candidates:
        return None
    # Prefer the field named like the column (ParentId for ParentRef, AccountId for AccountRef).
    best = next((i for i in candidates if normalize_name(i.name).startswith(stem[:6])), candidates[0])
    return {"target": best.name, "source": column, "ref": {"step": target_step}}

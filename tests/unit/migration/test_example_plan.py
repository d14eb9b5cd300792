"""examples/legacy-crm: its plan parses and orders as its README says, and its data holds the bad rows the README
lists, with the outcomes and counts it gives, and no others.

The outcomes come from DMS's own code: the rows as the source reader numbers them, each step's mapping checked
by `prepare` against localorg's describe, and references resolved by `dms.migration.references.resolve` over
key maps built the way a plan run builds them (a loaded row has an Id, one that was not has its errors). Only
the run itself (jobs, Salesforce) is left out.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pyarrow as pa

from dms.migration.order import StepOrder, order_steps
from dms.migration.references import KEY_MAP_SCHEMA, resolve
from dms.migration.spec import MigrationPlan, Reference, Step, load_plan_text, parse_plan
from dms.pipeline.model import ROW_COLUMN
from dms.pipeline.prepare import RowError, prepare
from dms.pipeline.source import read_chunks
from localorg.builtin_schema import build_schema

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "legacy-crm"
INSERT, UPDATE = "insert", "update"
# (step, pass, row, field) -> (error code, parent "step row n" or None)
Outcomes = dict[tuple[str, str, int, str], tuple[str, str | None]]


@cache
def plan() -> MigrationPlan:
    return parse_plan(load_plan_text((EXAMPLE / "plan.yaml").read_text(encoding="utf-8"), "plan.yaml"))


@cache
def order() -> StepOrder:
    return order_steps(plan())


@cache
def rows_of(step_name: str) -> pa.Table:
    """The step's file as DMS reads it: text columns (blank is null) and the 1-based row number."""
    return pa.concat_tables(
        chunk.table for chunk in read_chunks(EXAMPLE / plan().step(step_name).source["file"])
    )


@cache
def keys_of(step_name: str, column: str) -> frozenset[str]:
    return frozenset(k for k in rows_of(step_name)[column].to_pylist() if k is not None)


def readme_tables(heading: str) -> list[list[dict[str, str]]]:
    """The tables of the README's `## heading` section, each a list of rows by column name."""
    lines = (EXAMPLE / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {heading}") + 1
    section = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        section.append(line)
    tables: list[list[str]] = [[]]
    for line in section:
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    found = []
    for table in filter(None, tables):
        header, _rule, *body = (
            [cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in table
        )
        found.append([dict(zip(header, cells, strict=True)) for cells in body])
    return found


def readme_outcomes() -> Outcomes:
    (bad,) = readme_tables("Deliberately bad rows")
    (held_back,) = readme_tables("Rows held back because their parent was not loaded")
    outcomes: Outcomes = {}
    for row in bad:
        outcomes[(row["Step"], INSERT, int(row["Row"]), row["Field"])] = (row["Error"], None)
    for row in held_back:
        parent = re.match(r"(\w+ row \d+)", row["Parent"])
        assert parent, row
        outcomes[(row["Step"], row["Pass"], int(row["Row"]), row["Field"])] = (row["Error"], parent[1])
    return outcomes


def columns_named(step: Step) -> set[str]:
    named = {step.key} if step.key else set()
    for rule in step.mapping["fields"]:
        named.update(c for c in (rule.get("source"), *rule.get("concat", ())) if c)
    for ref in step.references:
        named.update(c for c in (ref.source, ref.by) if c)
    for ref in plan().references:  # another step's ref.key names a column of the steps it points at
        if ref.key and step.name in ref.steps:
            named.add(ref.key)
    return named


def test_the_plan_loads_in_the_waves_the_readme_describes_with_self_references_deferred() -> None:
    assert [s.name for s in plan().steps] == ["accounts", "contacts", "deals", "contact_roles", "tasks"]
    assert order().waves == (("accounts",), ("contacts", "deals"), ("contact_roles", "tasks"))
    assert {(d.reference.step, d.reference.target) for d in order().deferred} == {
        ("accounts", "ParentId"),
        ("contacts", "ReportsToId"),
    }
    assert order().update_after == {"accounts": ("accounts",), "contacts": ("contacts",)}
    assert order().load_after["contact_roles"] == ("contacts", "deals")
    assert order().load_after["tasks"] == ("accounts", "deals")
    (what,) = plan().step("tasks").references
    assert (what.by, what.choices) == ("RelatedType", (("A", "accounts"), ("O", "deals")))
    for step in plan().steps:  # sources are files beside the plan, for the CLI to upload
        assert set(step.source) == {"file"} and (EXAMPLE / step.source["file"]).is_file(), step.name


def test_every_column_the_plan_names_is_in_its_file() -> None:
    for step in plan().steps:
        header = set(rows_of(step.name).column_names) - {ROW_COLUMN}
        assert columns_named(step) <= header, (step.name, sorted(columns_named(step) - header))


def test_every_field_the_plan_sets_is_createable_in_localorg_and_its_picklist_values_are_valid() -> None:
    schema = build_schema()
    for step in plan().steps:
        obj = schema.get(step.object)
        assert obj is not None, step.object
        targets = [rule["target"] for rule in step.mapping["fields"]] + [r.target for r in step.references]
        for target in targets:
            field = obj.fields.get(target)
            assert field is not None and field.createable, (step.name, target)
        for ref in step.references:
            pointed_at = {plan().step(name).object for name in ref.steps}
            assert pointed_at <= set(obj.fields[ref.target].reference_to), (step.name, ref.target)
        required = {
            f.name
            for f in obj.fields.values()
            if f.createable and not f.nillable and not f.defaulted_on_create and f.type != "boolean"
        }
        assert required <= set(targets), (step.name, sorted(required - set(targets)))
        table = rows_of(step.name)
        for rule in step.mapping["fields"]:
            field = obj.fields[rule["target"]]
            if field.type == "picklist":
                allowed = {value["value"] for value in field.picklist_values if value["active"]}
                given = {v for v in table[rule["source"]].to_pylist() if v is not None}
                assert given <= allowed, (step.name, field.name, sorted(given - allowed))


def test_every_reference_names_a_key_of_its_step_or_is_a_bad_row_the_readme_lists() -> None:
    listed = {(step, row) for step, _pass, row, _field in readme_outcomes()}
    for ref in plan().references:
        table = rows_of(ref.step)
        choices = dict(ref.choices)
        by = table[ref.by].to_pylist() if ref.by else [None] * table.num_rows
        for row, value, chosen in zip(
            table[ROW_COLUMN].to_pylist(), table[ref.source].to_pylist(), by, strict=True
        ):
            if value is None:
                continue
            target = choices.get(chosen or "") if ref.by else ref.steps[0]
            known = target is not None and value in keys_of(target, ref.key_of(plan(), target))
            assert known or (ref.step, row) in listed, (ref.step, row, ref.target, value)


def test_the_hierarchies_refer_forward_and_the_accounts_go_four_levels_deep_as_the_readme_says() -> None:
    for step_name, key, parent_column in (
        ("accounts", "LegacyId", "ParentRef"),
        ("contacts", "ContactRef", "ManagerRef"),
    ):
        table = rows_of(step_name)
        row_of = dict(zip(table[key].to_pylist(), table[ROW_COLUMN].to_pylist(), strict=True))
        parent_of = dict(zip(table[key].to_pylist(), table[parent_column].to_pylist(), strict=True))
        assert any(row_of.get(parent, 0) > row_of[k] for k, parent in parent_of.items()), step_name
    table = rows_of("accounts")
    parent_of = dict(zip(table["LegacyId"].to_pylist(), table["ParentRef"].to_pylist(), strict=True))
    depths = []
    for k in parent_of:
        chain = [k]
        while parent_of.get(chain[-1]) is not None:
            chain.append(parent_of[chain[-1]])
        depths.append(len(chain))
    assert max(depths) == 4


def fake_id(prefix: str, row: int) -> str:
    return f"{prefix}{row:012d}"  # 15 characters: an Id without the checksum DMS checks on 18


def run_plan() -> tuple[Outcomes, dict[tuple[str, str], tuple[int, int]]]:
    """Every step's passes over the files, without Salesforce: the outcomes, and per (step, pass) how many rows
    were loaded or updated and how many not (an update pass is "update <field>")."""
    schema = build_schema()
    deferred = {(d.reference.step, d.reference.target) for d in order().deferred}
    key_maps: dict[str, dict[str, tuple[int, str | None, str | None]]] = {}

    def lookup(step: str, column: str, keys: pa.Array) -> pa.Table:
        found = [(key, *key_maps[step][key]) for key in keys.to_pylist() if key in key_maps[step]]
        return pa.Table.from_pylist(
            [dict(zip(KEY_MAP_SCHEMA.names, f, strict=True)) for f in found], KEY_MAP_SCHEMA
        )

    outcomes: Outcomes = {}
    counts: dict[tuple[str, str], tuple[int, int]] = {}

    def note(step: str, pass_: str, errors: list[RowError]) -> set[int]:
        for e in errors:
            parent = re.search(r"row (\d+) of step (\w+)", e.message)  # PARENT_NOT_LOADED names it
            outcomes[(step, pass_, e.row, str(e.field))] = (
                e.code,
                f"{parent[2]} row {parent[1]}" if parent else None,
            )
        return {e.row for e in errors}

    for wave in order().waves:
        for name in wave:
            step, table = plan().step(name), rows_of(name)
            obj = schema.get(step.object)
            resolved: dict[str, pa.Array] = {}
            failed: set[int] = set()
            messages: dict[int, list[str]] = {}
            for ref in step.references:
                if (name, ref.target) not in deferred:
                    result = resolve(plan(), table, ref, lookup)
                    failed |= note(name, INSERT, result.errors)
                    resolved[ref.target] = result.ids
                    for e in result.errors:
                        messages.setdefault(e.row, []).append(e.message)
            rows = table[ROW_COLUMN].to_pylist()
            chunk = table
            for target, ids in resolved.items():
                chunk = chunk.append_column(f"resolved {target}", ids)
            # Rows whose references failed are held back before the mapping runs.
            chunk = chunk.filter(pa.array([row not in failed for row in rows]))
            spec = {"object": step.object, "operation": str(step.operation), **step.mapping}
            spec["fields"] = [*spec["fields"], *({"target": t, "source": f"resolved {t}"} for t in resolved)]
            prepared = prepare(chunk, spec, obj.describe("62.0"))
            failed |= note(name, INSERT, prepared.errors)
            for e in prepared.errors:
                messages.setdefault(e.row, []).append(e.message)
            counts[(name, INSERT)] = (len(rows) - len(failed), len(failed))
            if step.key:
                key_maps[name] = {
                    key: (row, None, "; ".join(messages[row]))
                    if row in failed
                    else (row, fake_id(obj.key_prefix, row), None)
                    for key, row in zip(table[step.key].to_pylist(), rows, strict=True)
                    if key is not None
                }
    for name in order().update_after:
        step, table = plan().step(name), rows_of(name)
        loaded = [key_maps[name][key][1] is not None for key in table[step.key].to_pylist()]
        table = table.filter(pa.array(loaded))
        for late in order().deferred_of(name):
            ref: Reference = late.reference
            with_value = table.filter(pa.array([v is not None for v in table[ref.source].to_pylist()]))
            held_back = note(name, UPDATE, resolve(plan(), with_value, ref, lookup).errors)
            counts[(name, f"{UPDATE} {ref.target}")] = (with_value.num_rows - len(held_back), len(held_back))
    return outcomes, counts


def test_the_plan_over_the_files_gives_exactly_the_outcomes_and_counts_of_the_readme() -> None:
    outcomes, counts = run_plan()
    assert outcomes == readme_outcomes()
    inserts, updates = readme_tables("Expected counts")
    expected = {(r["Step"], INSERT): (int(r["Loaded"]), int(r["Not loaded"])) for r in inserts}
    for r in inserts:
        assert int(r["Rows"]) == sum(expected[(r["Step"], INSERT)]) == rows_of(r["Step"]).num_rows, r
    for r in updates:
        assert (r["Step"], r["Field"]) in {
            (d.reference.step, d.reference.target) for d in order().deferred
        }, r
        expected[(r["Step"], f"{UPDATE} {r['Field']}")] = (int(r["Set"]), int(r["Held back"]))
        assert int(r["Rows"]) == int(r["Set"]) + int(r["Held back"]), r
    assert counts == expected
